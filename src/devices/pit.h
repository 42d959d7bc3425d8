/* Intel 8254 programmable interval timer at ports 0x40-0x43, plus the PC
 * system control port B at 0x61 (channel 2 gate and output, speaker data,
 * and the refresh-request toggle).
 *
 * The PIT runs on the VM's virtual clock, never on host time: every access
 * passes now_ns, and counter values are derived from it with integer math
 * (1,193,182 Hz input clock). Channel 0 drives ISA IRQ0 through the sink.
 * The run loop asks pit_next_deadline() where the next IRQ0 edge is (so
 * a halted vCPU can fast-forward to it) and calls pit_advance() after
 * every clock step to deliver due edges. When the clock has passed several
 * periods at once the edges are coalesced into one (as a real PC losing
 * ticks would); the next deadline stays on the period grid.
 *
 * Supported: modes 0-5, access modes latch / LSB / MSB / LSB-then-MSB,
 * counter latch and read-back commands (count and status), binary counting
 * (BCD mode is accepted and counted in binary). Channel 1 exists but drives
 * nothing. Mode values 6 and 7 alias to 2 and 3; a count of 0 means 65536.
 *
 * Timing model (exact, integer only). Let d be the number of input clock
 * ticks since the counter was loaded at load_ns:
 *
 *   d(now)           = floor((now - load_ns) * 1193182 / 1e9)
 *   deadline(tick k) = load_ns + ceil(k * 1e9 / 1193182)
 *
 * so tick k has happened at time t exactly when t >= deadline(k): the count
 * a guest reads and the IRQ0 deadline always agree. The load clock of the
 * real chip is not modelled: a count N written at time T counts N, N-1, ...
 * from T. OUT's rising edge is the IRQ0 edge, at these ticks:
 *   modes 0, 1, 4, 5 (one-shot): tick N, when the count reaches 0 (OUT of
 *     mode 4/5 strobes low while the count is 1, one tick earlier than the
 *     data sheet, so that every mode's edge is at count 0);
 *   modes 2, 3 (periodic): ticks k*N, k >= 1, when the count wraps to N.
 * A periodic grid never drifts: each deadline is computed from load_ns and
 * the tick number, not from the previous deadline.
 * Writing a new count restarts the counter at once in every mode except
 * 1 and 5 (where it takes effect at the next gate trigger). Modes 1 and 5
 * start only on a gate rising edge, so they never run on channels 0 and 1,
 * whose gates are tied high. A gate going low stops modes 0, 2, 3, 4 (the
 * count holds); going high resumes modes 0 and 4 and restarts 1, 2, 3, 5. */
#ifndef CC_DEVICES_PIT_H
#define CC_DEVICES_PIT_H

#include <stdbool.h>
#include <stdint.h>

#include "chaoscontrol/err.h"
#include "devices/irq.h"
#include "util/buf.h"

#define CC_PIT_HZ 1193182u

struct cc_pit_channel {
    uint8_t mode;           /* 0..5 */
    uint8_t access;         /* 1 LSB, 2 MSB, 3 LSB then MSB */
    bool bcd;
    bool gate;
    uint32_t reload;        /* 1..65536 (0 programmed means 65536) */
    uint32_t start;         /* 1..65536: count at load_ns while counting;
                               the held count (65536 reads 0) otherwise */
    uint64_t load_ns;       /* virtual time the count was (re)loaded */
    bool armed;             /* a count has been written since the mode */
    bool counting;          /* the counter runs from load_ns (implies armed) */
    bool done;              /* one-shot modes: terminal count already passed
                               before the count was last held by the gate */
    bool write_hi_next;     /* LSB-then-MSB: next write is the MSB */
    uint8_t write_lsb;
    bool read_hi_next;
    bool latched;           /* counter latch holds latched_count */
    uint16_t latched_count;
    bool latch_read_hi;
    bool status_latched;
    uint8_t status;
    bool null_count;
};

struct cc_pit {
    struct cc_pit_channel ch[3];
    bool speaker_data;          /* port 0x61 bit 1 */
    uint64_t next_irq_ns;       /* channel 0: absolute ns of next IRQ0 edge,
                                   UINT64_MAX when none */
    struct cc_irq_sink irq;     /* not saved; wired up by the owner */
};

void pit_init(struct cc_pit *pit, struct cc_irq_sink irq, uint64_t now_ns);

/* Ports 0x40-0x43 and 0x61. Other ports read 0xff, 0x43 reads 0xff.
 * Port 0x61 reads: bit 0 channel 2 gate, bit 1 speaker data, bit 4 refresh
 * toggle (flips every 15085 ns of virtual time), bit 5 channel 2 OUT. */
uint8_t pit_read(struct cc_pit *pit, uint64_t now_ns, uint16_t port);
void pit_write(struct cc_pit *pit, uint64_t now_ns, uint16_t port, uint8_t val);

/* Absolute virtual time of the next IRQ0 edge, UINT64_MAX if none. */
uint64_t pit_next_deadline(const struct cc_pit *pit);

/* Deliver IRQ0 if its deadline is <= now_ns (one edge, coalesced), re-arm.
 * Returns true when an edge was delivered. The edge is a pulse on the sink
 * (level 1 then 0). After an edge the next deadline is the first grid point
 * later than now_ns (periodic modes) or none (one-shot modes). Writes that
 * reprogram channel 0 first deliver an edge that is already due. */
bool pit_advance(struct cc_pit *pit, uint64_t now_ns);

void pit_save(const struct cc_pit *pit, struct cc_buf *out);
int pit_load(struct cc_pit *pit, struct cc_rd *in, struct cc_err *err);

#endif
