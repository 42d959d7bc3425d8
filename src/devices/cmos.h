/* MC146818 CMOS RTC and NVRAM at ports 0x70 (index, bit 7 = NMI disable)
 * and 0x71 (data). The clock is derived from the VM's virtual time plus a
 * fixed epoch, never from host time: reading the seconds register at virtual
 * time t gives epoch + t/1e9 (plus whatever offset the guest set by writing
 * the time registers, or a clock fault applied with cmos_shift()).
 *
 * Register A's update-in-progress bit is set for the last 244 us before each
 * virtual second boundary, so guests that wait for UIP to clear behave as on
 * hardware. Register B's 24h/binary bits are honoured (BCD by default, as a
 * PC BIOS leaves it). Register D reports a valid battery. Periodic, alarm
 * and update-ended interrupts are not generated (no IRQ8); register C reads
 * 0. NVRAM bytes 0x0E-0x7F are plain storage, preset with the memory size
 * fields a PC BIOS writes (0x15-0x18, 0x30-0x31, 0x34-0x35, 0x5B-0x5D;
 * RAM above 3 GiB is counted as above 4 GiB). Register 0x32 is the century.
 *
 * Port 0x70 is write-only (reads 0xff). Guest writes to a time register move
 * offset_s so the clock shows the written field from then on; while
 * register B's SET bit is on the clock is frozen, the time registers are
 * plain bytes, and clearing SET starts the clock from them (out-of-range
 * fields carry over: day 32 of January is February 1st). The day of week is
 * always derived from the date. The clock is clamped to 1970-01-01 ..
 * 9999-12-31T23:59:59, whatever the guest writes or cmos_shift() adds
 * (offset_s saturates). */
#ifndef CC_DEVICES_CMOS_H
#define CC_DEVICES_CMOS_H

#include <stdbool.h>
#include <stdint.h>

#include "chaoscontrol/err.h"
#include "util/buf.h"

/* Default epoch: 2026-01-01T00:00:00Z. */
#define CC_CMOS_DEFAULT_EPOCH 1767225600ull
/* The latest epoch the RTC can show: 9999-12-31T23:59:59 UTC. */
#define CC_CMOS_MAX_EPOCH 253402300799ull

struct cc_cmos {
    uint8_t index;
    bool nmi_disabled;
    uint8_t ram[128];           /* NVRAM and the control registers A-D */
    int64_t offset_s;           /* guest-set or fault-applied offset, seconds */
    uint64_t epoch_s;           /* Unix seconds at virtual time 0 */
};

void cmos_init(struct cc_cmos *c, uint64_t epoch_s, uint64_t mem_bytes);
uint8_t cmos_read(struct cc_cmos *c, uint64_t now_ns, uint16_t port);
void cmos_write(struct cc_cmos *c, uint64_t now_ns, uint16_t port, uint8_t val);
/* Shift the wall-clock time the guest reads by delta_s seconds. */
void cmos_shift(struct cc_cmos *c, int64_t delta_s);

void cmos_save(const struct cc_cmos *c, struct cc_buf *out);
int cmos_load(struct cc_cmos *c, struct cc_rd *in, struct cc_err *err);

#endif
