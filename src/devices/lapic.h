/* Local APIC (xAPIC, MMIO at 0xFEE00000), one per vCPU, emulated in user
 * space so that every interrupt it raises reaches the guest only when the
 * run loop injects it at an exit (DESIGN.md section 3.1), and its timer
 * counts virtual time.
 *
 * The model is pure state: no KVM, no callbacks. What a register write asks
 * of the rest of the machine (an IPI, an EOI of a level-triggered vector) is
 * returned in a struct cc_lapic_out for the VM to route.
 *
 * Supported: ID, version (0x14, 6 LVT entries), TPR/PPR/APR, EOI (with the
 * TMR so that level-triggered EOIs go back to the I/O APIC), LDR/DFR (flat
 * and cluster logical destinations), spurious vector register (software
 * enable), ISR/TMR/IRR (256 bits each), ESR (write-then-read latch), ICR
 * (fixed, lowest-priority, SMI ignored, NMI, INIT, INIT de-assert, STARTUP;
 * destination shorthands; a fixed or lowest-priority IPI with a vector
 * below 16 is not sent and sets ESR "send illegal vector"), the LVT (timer, thermal, perf counter, LINT0,
 * LINT1, error), the timer (one-shot and periodic, divide configuration;
 * TSC-deadline mode is not offered: CPUID hides it) and the remote read
 * register (reads 0). No x2APIC (CPUID hides it).
 *
 * Timer clock: bus_hz ticks per second of virtual time before the divider.
 * The current count is computed from virtual time, never stored as a
 * ticking value, so a read at time t gives the same answer in every run
 * (the timing model is in lapic.c).
 *
 * Software disable (SVR bit 8 clear, as after reset): every LVT entry is
 * masked and guest writes cannot unmask it (lapic_virtual_wire can unmask
 * LINT0/LINT1, see there), fixed and lowest-priority interrupts are
 * dropped (lapic_set_irr), nothing is pending (lapic_pending), but the
 * registers stay readable and writable (Linux reads IRR/ISR and programs
 * TPR, LDR and DFR before enabling), IPIs can still be sent, and NMI, INIT
 * and STARTUP messages are accepted: those never touch this model, the VM
 * handles them (lapic_init_ipi for INIT). */
#ifndef CC_DEVICES_LAPIC_H
#define CC_DEVICES_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "chaoscontrol/err.h"
#include "util/buf.h"

#define CC_LAPIC_GPA   0xfee00000ull
#define CC_LAPIC_SIZE  0x1000ull

/* Register offsets (Intel SDM vol. 3, table 11-1). */
#define LAPIC_ID        0x020
#define LAPIC_VERSION   0x030
#define LAPIC_TPR       0x080
#define LAPIC_APR       0x090
#define LAPIC_PPR       0x0a0
#define LAPIC_EOI       0x0b0
#define LAPIC_RRD       0x0c0
#define LAPIC_LDR       0x0d0
#define LAPIC_DFR       0x0e0
#define LAPIC_SVR       0x0f0
#define LAPIC_ISR       0x100   /* 8 registers, 0x10 apart */
#define LAPIC_TMR       0x180
#define LAPIC_IRR       0x200
#define LAPIC_ESR       0x280
#define LAPIC_LVT_CMCI  0x2f0
#define LAPIC_ICR_LO    0x300
#define LAPIC_ICR_HI    0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_THERM 0x330
#define LAPIC_LVT_PERF  0x340
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERR   0x370
#define LAPIC_TMICT     0x380
#define LAPIC_TMCCT     0x390
#define LAPIC_TDCR      0x3e0

/* Delivery modes (ICR bits 8-10, LVT bits 8-10, I/O APIC bits 8-10). */
enum cc_apic_dm {
    CC_DM_FIXED = 0, CC_DM_LOWEST = 1, CC_DM_SMI = 2, CC_DM_NMI = 4,
    CC_DM_INIT = 5, CC_DM_STARTUP = 6, CC_DM_EXTINT = 7,
};

#define CC_LAPIC_LVT_N 7    /* CMCI, timer, thermal, perf, LINT0, LINT1, error */
/* Indices into struct cc_lapic's lvt[] (register order). */
enum {
    CC_LVT_CMCI, CC_LVT_TIMER, CC_LVT_THERM, CC_LVT_PERF, CC_LVT_LINT0, CC_LVT_LINT1,
    CC_LVT_ERROR,
};
#define CC_LAPIC_LVT_MASKED (1u << 16)
#define CC_LAPIC_LVT_PERIODIC (1u << 17)       /* LVT timer mode */
/* bus_hz is clamped to 1..CC_LAPIC_MAX_BUS_HZ (a snapshot outside is refused),
 * which keeps the timer arithmetic within 128 bits. */
#define CC_LAPIC_MAX_BUS_HZ (1ull << 40)

struct cc_lapic {
    uint32_t id;            /* APIC ID, 0-255 (bits 24-31 of the ID register) */
    bool bsp;               /* kept and saved for the VM; the model ignores it */
    uint64_t bus_hz;        /* timer input clock before the divider */

    /* Registers as they read (apr is not stored: always 0, see lapic_apr;
     * esr is what ESR reads, esr_pending the errors since the last ESR
     * write). */
    uint32_t tpr, apr, ldr, dfr, svr, esr, esr_pending;
    uint32_t icr_lo, icr_hi;
    uint32_t lvt[CC_LAPIC_LVT_N];   /* in register order, see lapic.c */
    uint32_t isr[8], tmr[8], irr[8];
    uint32_t tdcr;
    uint32_t tmict;         /* initial count as written */
    uint64_t timer_start;   /* virtual ns when the count was (re)loaded */
    uint64_t timer_deadline;/* virtual ns of the next expiry, UINT64_MAX none;
                               kept also while the timer is masked */
};

/* What a register write asks of the machine (lapic_write fills it in
 * completely, both flags false when nothing is asked). */
struct cc_lapic_out {
    bool ipi;               /* ICR low was written: send icr_lo/icr_hi */
    uint32_t icr_lo, icr_hi;
    bool eoi_level;         /* an EOI retired a level-triggered vector */
    uint8_t eoi_vector;
};

/* Power-on/reset state (INIT keeps the ID; this sets everything): every
 * LVT masked, SVR 0xff (software disabled), DFR 0xffffffff, timer stopped.
 * id is taken modulo 256; bus_hz is clamped as above. */
void lapic_init(struct cc_lapic *a, uint32_t id, bool bsp, uint64_t bus_hz);
/* An INIT IPI: the registers go back to their power-on values except the ID
 * (and the bsp flag and bus_hz, which are not registers). */
void lapic_init_ipi(struct cc_lapic *a);
/* Virtual-wire mode as firmware (or KVM's reset of the BSP) leaves it:
 * LINT0 ExtINT and LINT1 NMI, unmasked, while the APIC is still software
 * disabled. A register write cannot do this (writes to a disabled APIC's
 * LVT stay masked), so the VM calls this after lapic_init of the BSP.
 * Only LINT0/LINT1 may be unmasked in a disabled APIC (lapic_load checks). */
void lapic_virtual_wire(struct cc_lapic *a);

/* A 32-bit access at offset off (0..0xfff) at virtual time now. The caller
 * handles other sizes and unaligned accesses (reads 0, writes ignored: real
 * hardware's behaviour is undefined). Registers are 16 bytes apart; the
 * other 12 bytes of each slot and offsets past 0xff0 read 0 and ignore
 * writes. Reserved slots read 0; a write there sets ESR bit 7 (illegal
 * register address). Writes to read-only registers are ignored. Reads have
 * no side effects. out may be NULL. */
uint32_t lapic_read(struct cc_lapic *a, uint64_t now, uint64_t off);
void lapic_write(struct cc_lapic *a, uint64_t now, uint64_t off, uint32_t val,
                 struct cc_lapic_out *out);

/* Software enabled (SVR bit 8)? See "Software disable" above. */
bool lapic_enabled(const struct cc_lapic *a);

/* Accept a fixed or lowest-priority interrupt (IPI, I/O APIC message or a
 * local LVT source): set its IRR bit, and its TMR bit for level (clear it
 * for edge). Vectors below 16 set ESR "received illegal vector" and are
 * dropped; a software-disabled APIC drops everything, as hardware does. */
void lapic_set_irr(struct cc_lapic *a, uint8_t vector, bool level);

/* The vector the run loop should inject now, or -1: the highest IRR vector
 * whose priority class is above the PPR's; -1 while software disabled (the
 * IRR is kept). */
int lapic_pending(const struct cc_lapic *a);
/* Processor priority (PPR) and arbitration priority (APR) as they read.
 * For lowest-priority delivery the VM may pick the matching enabled APIC
 * with the lowest APR (Intel SDM vol. 3, 10.6.2.4). */
uint8_t lapic_ppr(const struct cc_lapic *a);
uint8_t lapic_apr(const struct cc_lapic *a);
/* The INTA cycle: move that vector from IRR to ISR; returns it (or the
 * spurious vector SVR[7:0] when nothing is pending). */
uint8_t lapic_ack(struct cc_lapic *a);

/* Timer: the absolute virtual time at which it next raises an interrupt
 * (UINT64_MAX: stopped, expired one-shot, or the LVT timer entry masked: a
 * masked timer keeps counting, but nothing happens at its expiry that the
 * VM must wake up for), and delivery of an expiry due by now (sets the LVT
 * timer vector's IRR bit unless masked; periodic re-arms on its grid,
 * several missed periods coalesce into one; a one-shot stops). True when
 * an expiry was due and the entry was unmasked. Afterwards timer_deadline
 * is after now. Register writes that change the timer (LVT timer, TMICT,
 * TDCR, SVR) first deliver what is due at their now. */
uint64_t lapic_next_deadline(const struct cc_lapic *a);
bool lapic_advance(struct cc_lapic *a, uint64_t now);

/* LVT entries of LINT0 (n = 0) and LINT1 (n = 1) as the VM needs them to
 * route the PIC's INTR (ExtINT on LINT0 of the BSP) and NMIs; another n
 * reads as a masked entry. */
uint32_t lapic_lvt_lint(const struct cc_lapic *a, unsigned n);

/* Does this APIC match a destination (ICR high bits 24-31 or an I/O APIC
 * redirection entry's destination field) in physical (logical = false) or
 * logical mode (flat or cluster per DFR)? 0xff is a broadcast in both modes
 * (as KVM does it); in cluster mode, cluster 0xf addresses every cluster.
 * A DFR model other than flat (0xf) or cluster (0x0) matches nothing. The
 * software-enable bit is not looked at. */
bool lapic_match_dest(const struct cc_lapic *a, uint8_t dest, bool logical);

/* Snapshot support: a versioned, explicit field encoding; load checks
 * every field (bad vectors, reserved bits, timer state, unknown version),
 * names the problem and leaves *a untouched on failure. */
void lapic_save(const struct cc_lapic *a, struct cc_buf *out);
int lapic_load(struct cc_lapic *a, struct cc_rd *in, struct cc_err *err);

#endif
