/* Unit tests for the local APIC (src/devices/lapic.h): power-on state and
 * the register map, Linux's setup_local_APIC sequence, priorities, INTA and
 * EOI order, TMR and level EOIs, ESR, software disable, the timer (one-shot,
 * periodic, every divide configuration, TMCCT at given times, coalescing,
 * masking, mode and divider changes), ICR writes and the IPIs they return,
 * physical/flat/cluster destination matching, INIT, snapshot round trip and
 * every load error, and a seeded random-operations robustness run. */
#include <errno.h>

#include "../tap.h"
#include "devices/lapic.h"

#define GHZ 1000000000ull

static struct cc_lapic_out W(struct cc_lapic *a, uint64_t now, uint64_t off, uint32_t val)
{
    struct cc_lapic_out out;
    memset(&out, 0xa5, sizeof(out));        /* lapic_write must fill it in */
    lapic_write(a, now, off, val, &out);
    return out;
}

static uint32_t R(struct cc_lapic *a, uint64_t now, uint64_t off)
{
    return lapic_read(a, now, off);
}

/* ESR as Linux reads it: write, then read. */
static uint32_t esr(struct cc_lapic *a)
{
    W(a, 0, LAPIC_ESR, 0);
    return R(a, 0, LAPIC_ESR);
}

static void enable(struct cc_lapic *a)
{
    W(a, 0, LAPIC_SVR, 0x1ff);
}

static bool irr_has(const struct cc_lapic *a, unsigned v)
{
    return (a->irr[v >> 5] >> (v & 31)) & 1;
}

static bool isr_has(const struct cc_lapic *a, unsigned v)
{
    return (a->isr[v >> 5] >> (v & 31)) & 1;
}

static bool tmr_has(const struct cc_lapic *a, unsigned v)
{
    return (a->tmr[v >> 5] >> (v & 31)) & 1;
}

/* No vector in service. */
static bool isr_empty(const struct cc_lapic *a)
{
    for (int i = 0; i < 8; i++)
        if (a->isr[i])
            return false;
    return true;
}

static void save(const struct cc_lapic *a, struct cc_buf *b)
{
    buf_init(b);
    lapic_save(a, b);
}

static bool same_state(const struct cc_lapic *a, const struct cc_lapic *b)
{
    struct cc_buf x, y;
    save(a, &x);
    save(b, &y);
    bool same = buf_ok(&x) && buf_ok(&y) && x.len == y.len && !memcmp(x.data, y.data, x.len);
    buf_free(&x);
    buf_free(&y);
    return same;
}

static void test_power_on(void)
{
    struct cc_lapic a;
    lapic_init(&a, 3, true, GHZ);
    is_u64(R(&a, 0, LAPIC_ID), 3u << 24, "ID register is id << 24");
    is_u64(R(&a, 0, LAPIC_VERSION), 0x00050014, "version 0x14, max LVT 5");
    is_u64(R(&a, 0, LAPIC_SVR), 0xff, "SVR 0xff: software disabled");
    ok(!lapic_enabled(&a), "disabled at power-on");
    is_u64(R(&a, 0, LAPIC_DFR), 0xffffffff, "DFR flat");
    is_u64(R(&a, 0, LAPIC_LDR), 0, "LDR 0");
    is_u64(R(&a, 0, LAPIC_TPR), 0, "TPR 0");
    static const uint64_t lvts[] = {LAPIC_LVT_CMCI, LAPIC_LVT_TIMER, LAPIC_LVT_THERM,
                                    LAPIC_LVT_PERF, LAPIC_LVT_LINT0, LAPIC_LVT_LINT1,
                                    LAPIC_LVT_ERR};
    int masked = 1;
    for (size_t i = 0; i < sizeof(lvts) / sizeof(lvts[0]); i++)
        if (R(&a, 0, lvts[i]) != 0x10000)
            masked = 0;
    ok(masked, "every LVT entry reads masked (0x10000)");
    is_u64(a.timer_deadline, UINT64_MAX, "timer stopped");
    is_u64(lapic_next_deadline(&a), UINT64_MAX, "no deadline");
    is_int(lapic_pending(&a), -1, "nothing pending");
    is_int(lapic_ack(&a), 0xff, "INTA with nothing pending gives the spurious vector");
    is_u64(R(&a, 0, LAPIC_TMCCT), 0, "TMCCT 0");
    is_u64(R(&a, 0, LAPIC_TDCR), 0, "TDCR 0 (divide by 2)");

    /* reserved slots, the rest of a slot, beyond the page */
    ok(R(&a, 0, 0x000) == 0 && R(&a, 0, 0x010) == 0 && R(&a, 0, 0x3f0) == 0 &&
       R(&a, 0, 0x2a0) == 0 && R(&a, 0, LAPIC_ID + 4) == 0 && R(&a, 0, LAPIC_SVR + 8) == 0 &&
       R(&a, 0, 0x1000) == 0 && R(&a, 0, LAPIC_RRD) == 0 && R(&a, 0, LAPIC_EOI) == 0,
       "reserved registers, slot tails, remote read and EOI read 0");

    /* read-only registers ignore writes (and log no error) */
    W(&a, 0, LAPIC_ID, 0x05000000);
    W(&a, 0, LAPIC_VERSION, 0);
    W(&a, 0, LAPIC_PPR, 0xff);
    W(&a, 0, LAPIC_APR, 0xff);
    W(&a, 0, LAPIC_ISR + 0x70, 0xffffffff);
    W(&a, 0, LAPIC_TMR + 0x10, 0xffffffff);
    W(&a, 0, LAPIC_IRR + 0x30, 0xffffffff);
    W(&a, 0, LAPIC_TMCCT, 1234);
    W(&a, 0, LAPIC_SVR + 4, 0x1ff);     /* slot tail: ignored */
    ok(R(&a, 0, LAPIC_ID) == 3u << 24 && R(&a, 0, LAPIC_VERSION) == 0x00050014 &&
       R(&a, 0, LAPIC_PPR) == 0 && a.isr[7] == 0 && a.tmr[1] == 0 && a.irr[3] == 0 &&
       R(&a, 0, LAPIC_TMCCT) == 0 && a.svr == 0xff,
       "writes to read-only registers and slot tails are ignored");
    is_u64(esr(&a), 0, "no ESR bit for them");
    W(&a, 0, 0x3f0, 1);
    is_u64(esr(&a), 0x80, "a write to a reserved register sets ESR bit 7");
    is_u64(esr(&a), 0, "and the next write-read clears it");

    struct cc_lapic b;
    lapic_init(&b, 0x1ff, false, 0);
    ok(b.id == 0xff && b.bus_hz == 1, "id taken modulo 256, bus_hz 0 taken as 1");
    lapic_init(&b, 1, false, UINT64_MAX);
    is_u64(b.bus_hz, CC_LAPIC_MAX_BUS_HZ, "bus_hz clamped");
}

/* setup_local_APIC (arch/x86/kernel/apic/apic.c, Linux 6.1) on cpu, with
 * flat logical mode and the BSP in virtual-wire mode. */
static void linux_setup(struct cc_lapic *a, unsigned cpu)
{
    uint32_t v = R(a, 0, LAPIC_TPR);
    W(a, 0, LAPIC_TPR, (v & ~0xffu) | 0x10);
    /* apic_pending_intr_clear: reads IRR and ISR, EOIs anything in service */
    for (int i = 7; i >= 0; i--)
        if (R(a, 0, LAPIC_ISR + 0x10 * (unsigned)i))
            W(a, 0, LAPIC_EOI, 0);
    /* init_apic_ldr (flat) */
    W(a, 0, LAPIC_DFR, 0xffffffff);
    v = R(a, 0, LAPIC_LDR) & ~0xff000000u;
    W(a, 0, LAPIC_LDR, v | (1u << cpu) << 24);
    /* spurious vector 0xff, enable */
    v = R(a, 0, LAPIC_SVR);
    v &= ~0xffu;
    v |= 0x100 | 0xff;
    W(a, 0, LAPIC_SVR, v);
    /* LINT0 ExtINT on the BSP (masked on APs), LINT1 NMI (masked on APs) */
    W(a, 0, LAPIC_LVT_LINT0, cpu == 0 ? 0x700 : 0x10700);
    W(a, 0, LAPIC_LVT_LINT1, cpu == 0 ? 0x400 : 0x10400);
    /* lapic_setup_esr */
    W(a, 0, LAPIC_ESR, 0);
    (void)R(a, 0, LAPIC_ESR);
    W(a, 0, LAPIC_LVT_ERR, 0xfe);
    W(a, 0, LAPIC_ESR, 0);
}

static void test_virtual_wire(void)
{
    struct cc_lapic a, b;
    lapic_init(&a, 0, true, GHZ);
    lapic_virtual_wire(&a);
    ok(!lapic_enabled(&a), "virtual wire: still software disabled");
    ok(lapic_lvt_lint(&a, 0) == 0x700 && lapic_lvt_lint(&a, 1) == 0x400,
       "LINT0 ExtINT and LINT1 NMI, unmasked");
    ok(a.lvt[CC_LVT_TIMER] == 0x10000 && a.lvt[CC_LVT_ERROR] == 0x10000,
       "the other entries stay masked");
    struct cc_buf buf;
    save(&a, &buf);
    struct cc_rd rd;
    struct cc_err err = {0};
    rd_init(&rd, buf.data, buf.len);
    lapic_init(&b, 0, true, GHZ);
    ok(lapic_load(&b, &rd, &err) == 0 && same_state(&a, &b), "the reset state of a BSP loads");
    buf_free(&buf);
    W(&a, 0, LAPIC_LVT_LINT0, 0x700);
    is_u64(lapic_lvt_lint(&a, 0), 0x10700, "a guest write while disabled masks it");
    lapic_virtual_wire(&a);
    linux_setup(&a, 0);
    ok(lapic_enabled(&a) && lapic_lvt_lint(&a, 0) == 0x700, "Linux keeps it after enabling");
    W(&a, 0, LAPIC_SVR, 0xff);
    is_u64(lapic_lvt_lint(&a, 0), 0x10700, "disabling masks it");
}

static void test_linux_setup(void)
{
    struct cc_lapic a, ap;
    lapic_init(&a, 0, true, GHZ);
    lapic_init(&ap, 1, false, GHZ);

    /* before enabling: registers work, interrupts do not */
    lapic_set_irr(&a, 0x30, false);
    ok(!irr_has(&a, 0x30), "disabled: a fixed interrupt is dropped");
    W(&a, 0, LAPIC_LVT_LINT0, 0x700);
    is_u64(R(&a, 0, LAPIC_LVT_LINT0), 0x10700, "disabled: an LVT write stays masked");

    linux_setup(&a, 0);
    linux_setup(&ap, 1);
    ok(lapic_enabled(&a) && lapic_enabled(&ap), "both enabled");
    is_u64(R(&a, 0, LAPIC_TPR), 0x10, "TPR 0x10");
    is_u64(R(&a, 0, LAPIC_PPR), 0x10, "PPR follows TPR");
    is_u64(R(&a, 0, LAPIC_LDR), 0x01000000, "BSP LDR bit 0");
    is_u64(R(&ap, 0, LAPIC_LDR), 0x02000000, "AP LDR bit 1");
    is_u64(R(&a, 0, LAPIC_SVR), 0x1ff, "SVR enabled, vector 0xff");
    is_u64(lapic_lvt_lint(&a, 0), 0x700, "BSP LINT0 ExtINT, unmasked");
    is_u64(lapic_lvt_lint(&a, 1), 0x400, "BSP LINT1 NMI, unmasked");
    is_u64(lapic_lvt_lint(&ap, 0), 0x10700, "AP LINT0 masked");
    is_u64(lapic_lvt_lint(&ap, 1), 0x10400, "AP LINT1 masked");
    is_u64(lapic_lvt_lint(&a, 2), 0x10000, "another LINT reads masked");
    is_u64(lapic_lvt_lint(&a, 0xffffffffu), 0x10000, "so does a huge one");
    is_u64(R(&a, 0, LAPIC_ESR), 0, "ESR clean after setup");
    is_u64(R(&a, 0, LAPIC_LVT_ERR), 0xfe, "LVT error 0xfe");
    ok(lapic_match_dest(&a, 0x01, true) && !lapic_match_dest(&a, 0x02, true) &&
       lapic_match_dest(&ap, 0x02, true) && lapic_match_dest(&ap, 0x03, true),
       "flat logical destinations after init_apic_ldr");

    /* vectors below the TPR class 1 are held back */
    lapic_set_irr(&a, 0x1f, false);
    is_int(lapic_pending(&a), -1, "vector 0x1f below TPR 0x10 is not delivered");
    lapic_set_irr(&a, 0x20, false);
    is_int(lapic_pending(&a), 0x20, "vector 0x20 is");

    /* __setup_APIC_LVTT periodic + TMICT, as with lapic_timer_frequency =
     * 10,000,000 ticks per jiffy (bus 1 GHz, HZ = 100) */
    W(&a, 0, LAPIC_LVT_TIMER, 0xec | 0x20000);
    uint32_t t = R(&a, 0, LAPIC_TDCR);
    W(&a, 0, LAPIC_TDCR, (t & ~(0xbu | 0x4u)) | 0x3);
    W(&a, 0, LAPIC_TMICT, 10000000 / 16);
    is_u64(R(&a, 0, LAPIC_TDCR), 3, "TDCR divide by 16");
    is_u64(lapic_next_deadline(&a), 10000000, "the tick is 10 ms away");
    is_u64(R(&a, 5000000, LAPIC_TMCCT), 625000 / 2, "half way at 5 ms");
    ok(!lapic_advance(&a, 9999999) && lapic_advance(&a, 10000000), "fires at 10 ms");
    ok(irr_has(&a, 0xec), "local timer vector 0xec requested");
    is_u64(lapic_next_deadline(&a), 20000000, "next tick at 20 ms");
}

static void test_priority(void)
{
    struct cc_lapic a;
    struct cc_lapic_out o;
    lapic_init(&a, 0, true, GHZ);
    enable(&a);

    lapic_set_irr(&a, 0x31, false);
    lapic_set_irr(&a, 0x45, false);
    lapic_set_irr(&a, 0x41, false);
    is_int(lapic_pending(&a), 0x45, "highest IRR vector first");
    is_int(lapic_ack(&a), 0x45, "INTA returns it");
    ok(isr_has(&a, 0x45) && !irr_has(&a, 0x45), "IRR -> ISR");
    is_u64(R(&a, 0, LAPIC_PPR), 0x40, "PPR is the in-service class");
    is_int(lapic_pending(&a), -1, "0x41 waits: same class as in service");
    lapic_set_irr(&a, 0x51, false);
    is_int(lapic_pending(&a), 0x51, "a higher class nests");
    is_int(lapic_ack(&a), 0x51, "nested INTA");
    is_u64(R(&a, 0, LAPIC_PPR), 0x50, "PPR 0x50");
    is_u64(R(&a, 0, LAPIC_ISR + 0x20), (1u << (0x51 - 64)) | (1u << (0x45 - 64)),
           "ISR register 2 shows both");
    o = W(&a, 0, LAPIC_EOI, 0);
    ok(!o.eoi_level && !o.ipi, "edge EOI reports nothing");
    ok(!isr_has(&a, 0x51) && isr_has(&a, 0x45), "EOI retires the highest in service");
    is_int(lapic_pending(&a), -1, "0x41 still waits for 0x45");
    W(&a, 0, LAPIC_EOI, 0);
    is_int(lapic_pending(&a), 0x41, "then 0x41");
    is_int(lapic_ack(&a), 0x41, "acked");
    W(&a, 0, LAPIC_EOI, 0);
    is_int(lapic_pending(&a), 0x31, "then 0x31");

    W(&a, 0, LAPIC_TPR, 0x30);
    is_int(lapic_pending(&a), -1, "TPR class 3 blocks class 3");
    is_u64(R(&a, 0, LAPIC_PPR), 0x30, "PPR = TPR");
    is_int(lapic_ack(&a), 0xff, "INTA gives the spurious vector");
    ok(irr_has(&a, 0x31) && !isr_has(&a, 0x31), "and leaves IRR alone");
    W(&a, 0, LAPIC_TPR, 0x2f);
    is_int(lapic_pending(&a), 0x31, "TPR 0x2f lets class 3 through");
    is_u64(R(&a, 0, LAPIC_PPR), 0x2f, "PPR keeps TPR's low bits");
    is_u64(R(&a, 0, LAPIC_APR), 0x30, "APR: the IRR class is above TPR's");
    W(&a, 0, LAPIC_TPR, 0x45);
    is_u64(R(&a, 0, LAPIC_APR), 0x45, "APR = TPR when TPR is above IRR and ISR");
    W(&a, 0, LAPIC_TPR, 0x1ff);
    is_u64(R(&a, 0, LAPIC_TPR), 0xff, "TPR keeps 8 bits");
    W(&a, 0, LAPIC_TPR, 0);
    lapic_ack(&a);
    W(&a, 0, LAPIC_EOI, 0);
    o = W(&a, 0, LAPIC_EOI, 0);
    ok(!o.eoi_level && isr_empty(&a), "EOI with nothing in service does nothing");

    /* level-triggered: TMR and the EOI report */
    lapic_set_irr(&a, 0x60, true);
    ok(tmr_has(&a, 0x60), "level sets TMR");
    is_u64(R(&a, 0, LAPIC_TMR + 0x30), 1u, "TMR register 3 bit 0");
    lapic_ack(&a);
    o = W(&a, 0, LAPIC_EOI, 0);
    ok(o.eoi_level && o.eoi_vector == 0x60, "EOI of a level vector reports it");
    lapic_set_irr(&a, 0x60, false);
    ok(!tmr_has(&a, 0x60), "edge acceptance clears TMR");
    lapic_ack(&a);
    o = W(&a, 0, LAPIC_EOI, 0);
    ok(!o.eoi_level, "then its EOI is an edge EOI");

    /* EOI order with a level vector under an edge one */
    lapic_set_irr(&a, 0x70, true);
    lapic_ack(&a);
    lapic_set_irr(&a, 0x90, false);
    lapic_ack(&a);
    o = W(&a, 0, LAPIC_EOI, 0);
    ok(!o.eoi_level, "first EOI retires edge 0x90");
    o = W(&a, 0, LAPIC_EOI, 0);
    ok(o.eoi_level && o.eoi_vector == 0x70, "second retires level 0x70");

    /* illegal vectors and the error LVT */
    lapic_set_irr(&a, 5, false);
    ok(!a.irr[0], "vector 5 is dropped");
    is_u64(esr(&a), 0x40, "ESR receive illegal vector");
    W(&a, 0, LAPIC_LVT_ERR, 0xfe);
    lapic_set_irr(&a, 15, false);
    ok(irr_has(&a, 0xfe), "a new error raises the LVT error vector");
    is_u64(esr(&a), 0x40, "ESR latched");
}

static void test_disable(void)
{
    struct cc_lapic a;
    lapic_init(&a, 0, true, GHZ);
    enable(&a);
    W(&a, 0, LAPIC_LVT_TIMER, 0x40);
    W(&a, 0, LAPIC_LVT_LINT0, 0x700);
    W(&a, 0, LAPIC_LVT_ERR, 0xfe);
    lapic_set_irr(&a, 0x80, false);
    W(&a, 0, LAPIC_SVR, 0xff);
    ok(!lapic_enabled(&a), "software disabled");
    ok(a.lvt[CC_LVT_TIMER] == 0x10040 && a.lvt[CC_LVT_LINT0] == 0x10700 &&
       a.lvt[CC_LVT_ERROR] == 0x100fe, "disabling masks every LVT entry");
    ok(irr_has(&a, 0x80), "IRR is held");
    is_int(lapic_pending(&a), -1, "but nothing is pending");
    lapic_set_irr(&a, 0x90, false);
    ok(!irr_has(&a, 0x90), "fixed interrupts are dropped");
    lapic_set_irr(&a, 3, false);
    is_u64(esr(&a), 0, "not even an illegal-vector error");
    W(&a, 0, LAPIC_LVT_TIMER, 0x40);
    is_u64(R(&a, 0, LAPIC_LVT_TIMER), 0x10040, "unmasking is ignored");
    struct cc_lapic_out o = W(&a, 0, LAPIC_ICR_LO, 0x4030);
    ok(o.ipi, "IPIs can still be sent");
    enable(&a);
    is_int(lapic_pending(&a), 0x80, "enabled again: the held vector is pending");
    is_u64(R(&a, 0, LAPIC_LVT_TIMER), 0x10040, "LVT entries stay masked");
}

static void test_timer_oneshot(void)
{
    struct cc_lapic a;
    lapic_init(&a, 0, true, GHZ);
    enable(&a);
    W(&a, 0, LAPIC_TDCR, 0xb);                  /* divide by 1 */
    W(&a, 0, LAPIC_LVT_TIMER, 0x40);
    W(&a, 500, LAPIC_TMICT, 1000);
    is_u64(R(&a, 500, LAPIC_TMICT), 1000, "TMICT reads back");
    is_u64(R(&a, 500, LAPIC_TMCCT), 1000, "TMCCT = TMICT at load");
    is_u64(R(&a, 999, LAPIC_TMCCT), 501, "counts one per ns");
    is_u64(R(&a, 1499, LAPIC_TMCCT), 1, "1 just before expiry");
    is_u64(R(&a, 1500, LAPIC_TMCCT), 0, "0 at expiry");
    is_u64(R(&a, 100, LAPIC_TMCCT), 1000, "a read before the load time shows the initial count");
    is_u64(lapic_next_deadline(&a), 1500, "deadline at load + count");
    ok(!lapic_advance(&a, 1499), "not due at 1499");
    ok(!irr_has(&a, 0x40), "no IRR yet");
    ok(lapic_advance(&a, 1500), "due at 1500");
    ok(irr_has(&a, 0x40), "timer vector requested");
    is_u64(lapic_next_deadline(&a), UINT64_MAX, "one-shot stops");
    ok(!lapic_advance(&a, 100000), "fires once");
    is_u64(R(&a, 100000, LAPIC_TMCCT), 0, "stays 0");

    /* writing TMICT reloads at now; 0 stops */
    W(&a, 2000, LAPIC_TMICT, 300);
    is_u64(lapic_next_deadline(&a), 2300, "reload at now");
    W(&a, 2100, LAPIC_TMICT, 300);
    is_u64(lapic_next_deadline(&a), 2400, "a rewrite restarts the count");
    W(&a, 2200, LAPIC_TMICT, 0);
    ok(lapic_next_deadline(&a) == UINT64_MAX && a.timer_deadline == UINT64_MAX,
       "TMICT 0 stops the timer");
    is_u64(R(&a, 2300, LAPIC_TMCCT), 0, "and TMCCT reads 0");

    /* an expiry due before a write is delivered first, under the old entry */
    a.irr[2] = 0;
    W(&a, 3000, LAPIC_TMICT, 100);
    W(&a, 3500, LAPIC_LVT_TIMER, 0x10040);
    ok(irr_has(&a, 0x40), "expiry at 3100 delivered by the mask write at 3500");

    /* every divide configuration (Intel SDM: bits 0, 1, 3) */
    static const struct { uint32_t tdcr; unsigned div; } divs[] = {
        {0x0, 2}, {0x1, 4}, {0x2, 8}, {0x3, 16}, {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1},
    };
    int good = 1;
    for (size_t i = 0; i < 8; i++) {
        struct cc_lapic b;
        lapic_init(&b, 0, true, GHZ);
        enable(&b);
        W(&b, 0, LAPIC_LVT_TIMER, 0x40);
        W(&b, 0, LAPIC_TDCR, divs[i].tdcr | 0x4);   /* bit 2 is reserved */
        W(&b, 10, LAPIC_TMICT, 1000);
        unsigned d = divs[i].div;
        if (R(&b, 0, LAPIC_TDCR) != divs[i].tdcr ||
            R(&b, 10 + 7 * d, LAPIC_TMCCT) != 993 ||
            R(&b, 10 + 7 * d - 1, LAPIC_TMCCT) != 994 ||
            lapic_next_deadline(&b) != 10 + 1000ull * d) {
            good = 0;
            tap_diag("TDCR 0x%x: count %u, deadline %llu", divs[i].tdcr,
                     R(&b, 10 + 7 * d, LAPIC_TMCCT),
                     (unsigned long long)lapic_next_deadline(&b));
        }
    }
    ok(good, "divide by 2, 4, 8, 16, 32, 64, 128, 1");

    /* a bus clock that is not a whole number of ns per tick: deadlines round up */
    struct cc_lapic c;
    lapic_init(&c, 0, true, 3000000000ull);     /* 3 ticks per ns before the divider */
    enable(&c);
    W(&c, 0, LAPIC_LVT_TIMER, 0x40);
    W(&c, 0, LAPIC_TDCR, 0x1);                  /* divide by 4: 0.75 ticks/ns */
    W(&c, 0, LAPIC_TMICT, 10);
    is_u64(lapic_next_deadline(&c), 14, "10 ticks at 0.75/ns: due at ceil(13.33) = 14");
    is_u64(R(&c, 13, LAPIC_TMCCT), 1, "9 ticks at 13 ns");
    is_u64(R(&c, 14, LAPIC_TMCCT), 0, "10 at 14 ns");
}

static void test_timer_periodic(void)
{
    struct cc_lapic a;
    lapic_init(&a, 0, true, GHZ);
    enable(&a);
    W(&a, 0, LAPIC_TDCR, 0x3);                  /* 16 ns per tick */
    W(&a, 0, LAPIC_LVT_TIMER, 0x20040);
    W(&a, 1000, LAPIC_TMICT, 100);              /* period 1600 ns */
    is_u64(lapic_next_deadline(&a), 2600, "first period");
    is_u64(R(&a, 2599, LAPIC_TMCCT), 1, "count 1 at 2599");
    is_u64(R(&a, 2600, LAPIC_TMCCT), 100, "reloaded at 2600");
    is_u64(R(&a, 2600 + 160, LAPIC_TMCCT), 90, "counting in the second period");
    ok(lapic_advance(&a, 2600), "fires at 2600");
    is_u64(lapic_next_deadline(&a), 4200, "re-armed one period later");
    a.irr[2] = 0;
    ok(lapic_advance(&a, 10000), "late: fires");
    ok(irr_has(&a, 0x40), "once");
    is_u64(lapic_next_deadline(&a), 10600, "missed periods coalesce; the grid stays");
    ok(!lapic_advance(&a, 10599), "nothing more before 10600");
    ok(lapic_advance(&a, 10600), "on the grid at 10600");

    /* masked: counts, re-arms, no IRR, no deadline for the VM */
    a.irr[2] = 0;
    W(&a, 10700, LAPIC_LVT_TIMER, 0x30040);
    is_u64(lapic_next_deadline(&a), UINT64_MAX, "masked: no deadline to wake for");
    is_u64(a.timer_deadline, 12200, "but the timer keeps its grid");
    ok(!lapic_advance(&a, 12200), "masked expiry raises nothing");
    ok(!irr_has(&a, 0x40), "no IRR");
    is_u64(a.timer_deadline, 13800, "and re-arms");
    is_u64(R(&a, 12200 + 320, LAPIC_TMCCT), 80, "TMCCT still counts");
    W(&a, 14000, LAPIC_LVT_TIMER, 0x20040);
    ok(!irr_has(&a, 0x40), "the masked expiry at 13800 is not delivered by unmasking");
    is_u64(lapic_next_deadline(&a), 15400, "unmasked: on the grid again");

    /* periodic -> one-shot after the first period: the count is over */
    W(&a, 14100, LAPIC_LVT_TIMER, 0x40);
    is_u64(lapic_next_deadline(&a), UINT64_MAX, "one-shot past its count: stopped");
    is_u64(R(&a, 14100, LAPIC_TMCCT), 0, "TMCCT 0");
    W(&a, 14200, LAPIC_LVT_TIMER, 0x20040);
    is_u64(lapic_next_deadline(&a), 15400, "back to periodic: resumes on the grid");

    /* a divider change keeps the count and continues at the new rate */
    W(&a, 20000, LAPIC_TMICT, 100);             /* 16 ns per tick from 20000 */
    is_u64(R(&a, 20800, LAPIC_TMCCT), 50, "half way");
    W(&a, 20800, LAPIC_TDCR, 0xb);              /* divide by 1 */
    is_u64(R(&a, 20800, LAPIC_TMCCT), 50, "count kept across the TDCR write");
    is_u64(lapic_next_deadline(&a), 20850, "the rest at 1 ns per tick");
    is_u64(R(&a, 20850 + 100, LAPIC_TMCCT), 100, "then 100-tick periods");
    W(&a, 20820, LAPIC_TDCR, 0xb);
    is_u64(lapic_next_deadline(&a), 20850, "rewriting the same divider changes nothing");

    /* one-shot -> periodic after expiry resumes the grid */
    struct cc_lapic b;
    lapic_init(&b, 0, true, GHZ);
    enable(&b);
    W(&b, 0, LAPIC_TDCR, 0xb);
    W(&b, 0, LAPIC_LVT_TIMER, 0x40);
    W(&b, 0, LAPIC_TMICT, 100);
    lapic_advance(&b, 150);
    is_u64(lapic_next_deadline(&b), UINT64_MAX, "one-shot expired");
    W(&b, 150, LAPIC_LVT_TIMER, 0x20040);
    is_u64(lapic_next_deadline(&b), 200, "periodic: next grid point");
    is_u64(R(&b, 150, LAPIC_TMCCT), 50, "TMCCT on the grid");
}

static void test_icr(void)
{
    struct cc_lapic a;
    struct cc_lapic_out o;
    lapic_init(&a, 0, true, GHZ);
    enable(&a);

    o = W(&a, 0, LAPIC_ICR_HI, 0x02ffffff);
    ok(!o.ipi, "ICR high alone sends nothing");
    is_u64(R(&a, 0, LAPIC_ICR_HI), 0x02000000, "ICR high keeps the destination field");
    o = W(&a, 0, LAPIC_ICR_LO, 0x0000c500);     /* INIT, level assert */
    ok(o.ipi && o.icr_lo == 0xc500 && o.icr_hi == 0x02000000, "INIT to APIC 2");
    is_u64(R(&a, 0, LAPIC_ICR_LO) & 0x1000, 0, "delivery status reads 0");
    o = W(&a, 0, LAPIC_ICR_LO, 0x00008500);
    ok(o.ipi && ((o.icr_lo >> 8) & 7) == CC_DM_INIT && !(o.icr_lo & 0x4000) &&
       (o.icr_lo & 0x8000), "INIT de-assert: level trigger, deassert");
    o = W(&a, 0, LAPIC_ICR_LO, 0x0000069a);
    ok(o.ipi && ((o.icr_lo >> 8) & 7) == CC_DM_STARTUP && (o.icr_lo & 0xff) == 0x9a,
       "STARTUP vector 0x9a");
    o = W(&a, 0, LAPIC_ICR_LO, 0xfffff0fb);     /* reserved and read-only bits set */
    is_u64(o.icr_lo, 0x000cc0fb, "reserved bits and delivery status dropped");
    is_int((o.icr_lo >> 18) & 3, 3, "shorthand all-excluding-self kept");
    o = W(&a, 0, LAPIC_ICR_LO, 0x00040030);
    ok(o.ipi && ((o.icr_lo >> 18) & 3) == 1 && (o.icr_lo & 0xff) == 0x30, "self IPI");
    o = W(&a, 0, LAPIC_ICR_LO, 0x00080400);
    ok(o.ipi && ((o.icr_lo >> 18) & 3) == 2 && ((o.icr_lo >> 8) & 7) == CC_DM_NMI,
       "NMI to all including self");
    W(&a, 0, LAPIC_ICR_HI, 0x0f000000);
    o = W(&a, 0, LAPIC_ICR_LO, 0x00000931);
    ok(o.ipi && ((o.icr_lo >> 8) & 7) == CC_DM_LOWEST && (o.icr_lo & 0x800) &&
       o.icr_hi == 0x0f000000, "lowest priority, logical destination 0x0f");
    o = W(&a, 0, LAPIC_ICR_LO, 0x00000005);
    ok(!o.ipi, "a fixed IPI with vector 5 is not sent");
    is_u64(esr(&a), 0x20, "ESR send illegal vector");
    o = W(&a, 0, LAPIC_ICR_LO, 0x00000405);
    ok(o.ipi, "an NMI's vector field does not matter");
    lapic_write(&a, 0, LAPIC_ICR_LO, 0x30, NULL);
    ok(1, "out may be NULL");
}

static void test_dest(void)
{
    struct cc_lapic a;
    lapic_init(&a, 3, false, GHZ);
    ok(lapic_match_dest(&a, 3, false) && !lapic_match_dest(&a, 4, false) &&
       lapic_match_dest(&a, 0xff, false), "physical: own ID and broadcast");
    ok(!lapic_match_dest(&a, 3, true), "logical: LDR 0 matches nothing");
    ok(lapic_match_dest(&a, 0xff, true), "logical broadcast 0xff matches anyway");
    W(&a, 0, LAPIC_LDR, 0x04ffffff);
    is_u64(R(&a, 0, LAPIC_LDR), 0x04000000, "LDR keeps bits 24-31");
    ok(lapic_match_dest(&a, 0x04, true) && lapic_match_dest(&a, 0x0c, true) &&
       !lapic_match_dest(&a, 0x08, true) && !lapic_match_dest(&a, 0x04, false),
       "flat: bitmap match");
    W(&a, 0, LAPIC_DFR, 0x0);
    is_u64(R(&a, 0, LAPIC_DFR), 0x0fffffff, "DFR cluster; bits 0-27 read 1");
    W(&a, 0, LAPIC_LDR, 0x21000000);            /* cluster 2, member bit 0 */
    ok(lapic_match_dest(&a, 0x21, true) && lapic_match_dest(&a, 0x23, true) &&
       !lapic_match_dest(&a, 0x22, true) && !lapic_match_dest(&a, 0x31, true) &&
       !lapic_match_dest(&a, 0x01, true), "cluster: cluster id and member bitmap");
    ok(lapic_match_dest(&a, 0xf1, true) && !lapic_match_dest(&a, 0xf2, true) &&
       lapic_match_dest(&a, 0xff, true), "cluster 0xf addresses every cluster");
    W(&a, 0, LAPIC_DFR, 0x50000000);
    ok(!lapic_match_dest(&a, 0x21, true) && lapic_match_dest(&a, 0xff, true) &&
       lapic_match_dest(&a, 3, false), "an undefined model matches only broadcasts");
}

static void test_init_ipi(void)
{
    struct cc_lapic a, fresh;
    lapic_init(&a, 7, false, 12345);
    linux_setup(&a, 7);
    W(&a, 0, LAPIC_LVT_TIMER, 0x20040);
    W(&a, 0, LAPIC_TMICT, 1000);
    lapic_set_irr(&a, 0x50, true);
    lapic_ack(&a);
    lapic_set_irr(&a, 0x60, false);
    lapic_init_ipi(&a);
    is_u64(R(&a, 0, LAPIC_ID), 7u << 24, "INIT keeps the ID");
    lapic_init(&fresh, 7, false, 12345);
    ok(same_state(&a, &fresh), "and resets everything else");
}

/* Drive two APICs with the same script; compare everything observable. */
static int same_behaviour(struct cc_lapic *a, struct cc_lapic *b, uint64_t seed)
{
    static const uint64_t offs[] = {LAPIC_TPR, LAPIC_EOI, LAPIC_SVR, LAPIC_ESR, LAPIC_ICR_LO,
                                    LAPIC_LVT_TIMER, LAPIC_TMICT, LAPIC_TDCR, LAPIC_TMCCT,
                                    LAPIC_PPR, LAPIC_IRR + 0x70, LAPIC_ISR + 0x40};
    uint64_t x = seed, now = 0;
    for (int i = 0; i < 5000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint64_t off = offs[(x >> 8) % 12];
        uint32_t v = (uint32_t)(x >> 20);
        now += (x >> 40) % 500;
        switch (x % 5) {
        case 0:
            if (R(a, now, off) != R(b, now, off))
                return 0;
            break;
        case 1: {
            if (off == LAPIC_SVR)
                v |= 0x100;
            if (off == LAPIC_TMICT)
                v &= 0xfff;
            struct cc_lapic_out oa = W(a, now, off, v), ob = W(b, now, off, v);
            if (oa.ipi != ob.ipi || oa.icr_lo != ob.icr_lo || oa.icr_hi != ob.icr_hi ||
                oa.eoi_level != ob.eoi_level || oa.eoi_vector != ob.eoi_vector)
                return 0;
            break;
        }
        case 2:
            lapic_set_irr(a, (uint8_t)(x >> 32), (x >> 50) & 1);
            lapic_set_irr(b, (uint8_t)(x >> 32), (x >> 50) & 1);
            break;
        case 3:
            if (lapic_advance(a, now) != lapic_advance(b, now))
                return 0;
            break;
        default:
            if (lapic_pending(a) != lapic_pending(b) || lapic_ack(a) != lapic_ack(b))
                return 0;
            break;
        }
    }
    return same_state(a, b);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Byte offsets of the fields in a saved state (lapic_save). */
enum {
    O_ID = 1, O_BSP = 5, O_BUS = 6, O_TPR = 14, O_LDR = 18, O_DFR = 22, O_SVR = 26,
    O_ESR = 30, O_ESRP = 34, O_ICRLO = 38, O_ICRHI = 42, O_LVT = 46, O_ISR = 74,
    O_TMR = 106, O_IRR = 138, O_TDCR = 170, O_TMICT = 174, O_START = 178, O_DEADLINE = 186,
    O_END = 194,
};

static void test_snapshot(void)
{
    struct cc_lapic a, b;
    lapic_init(&a, 2, false, GHZ);
    linux_setup(&a, 2);
    W(&a, 100, LAPIC_TDCR, 0x3);
    W(&a, 100, LAPIC_LVT_TIMER, 0x200ec);
    W(&a, 100, LAPIC_TMICT, 12345);
    lapic_set_irr(&a, 0x41, true);
    lapic_set_irr(&a, 0x99, false);
    lapic_ack(&a);
    lapic_set_irr(&a, 3, false);
    W(&a, 100, LAPIC_ICR_HI, 0x01000000);
    W(&a, 100, LAPIC_ICR_LO, 0x4031);

    struct cc_buf buf, buf2;
    save(&a, &buf);
    ok(buf_ok(&buf) && buf.len == O_END, "save produced %zu bytes", buf.len);

    struct cc_err err = {0};
    struct cc_rd rd;
    lapic_init(&b, 0, true, 1);
    rd_init(&rd, buf.data, buf.len);
    is_int(lapic_load(&b, &rd, &err), 0, "load succeeds");
    is_int(rd_left(&rd), 0, "load consumed the whole section");
    ok(same_state(&a, &b) && b.id == 2 && b.bus_hz == GHZ && b.tmict == 12345,
       "loaded state equals saved state");
    struct cc_lapic a2 = a, b2 = b;
    ok(same_behaviour(&a2, &b2, 0x1234567), "identical behaviour after load");
    save(&b, &buf2);
    buf_free(&buf);
    save(&a, &buf);
    ok(buf.len == buf2.len && !memcmp(buf.data, buf2.data, buf.len), "re-save is identical");
    buf_free(&buf2);

    /* truncated at every length */
    struct cc_lapic before = b;
    int all_truncated = 1;
    for (size_t n = 0; n < buf.len; n++) {
        rd_init(&rd, buf.data, n);
        memset(&err, 0, sizeof(err));
        if (lapic_load(&b, &rd, &err) != -EINVAL || !strstr(err.msg, "lapic: ") ||
            !strstr(err.msg, "truncated") || memcmp(&b, &before, sizeof(b)))
            all_truncated = 0;
    }
    ok(all_truncated, "every truncation is refused, state untouched");

    uint8_t *bad = malloc(buf.len);
    memcpy(bad, buf.data, buf.len);
    bad[0] = 2;
    rd_init(&rd, bad, buf.len);
    is_int(lapic_load(&b, &rd, &err), -EINVAL, "newer version refused");
    ok(strstr(err.msg, "lapic") && strstr(err.msg, "version 2"), "message names it: %s",
       err.msg);
    bad[0] = 0;
    rd_init(&rd, bad, buf.len);
    is_int(lapic_load(&b, &rd, &err), -EINVAL, "version 0 refused");
    ok(!memcmp(&b, &before, sizeof(b)), "state untouched after bad versions");

    static const struct {
        size_t off;
        int width;
        uint64_t val;
        const char *what;
    } cases[] = {
        {O_ID, 4, 0x100, "id"},
        {O_BSP, 1, 2, "bsp"},
        {O_BUS, 8, 0, "bus_hz"},
        {O_BUS, 8, CC_LAPIC_MAX_BUS_HZ + 1, "bus_hz"},
        {O_TPR, 4, 0x100, "TPR"},
        {O_LDR, 4, 0x04000001, "LDR"},
        {O_DFR, 4, 0xf0000000, "DFR"},
        {O_SVR, 4, 0x11ff, "SVR"},
        {O_SVR, 4, 0xff, "software disabled"},   /* the LVT timer is unmasked */
        {O_ESR, 4, 0x100, "ESR"},
        {O_ESRP, 4, 0x200, "pending ESR"},
        {O_ICRLO, 4, 0x1031, "ICR low"},
        {O_ICRHI, 4, 0x01000001, "ICR high"},
        {O_LVT + 4 * CC_LVT_CMCI, 4, 0x1000, "LVT CMCI"},
        {O_LVT + 4 * CC_LVT_TIMER, 4, 0x400ec, "LVT timer"},
        {O_LVT + 4 * CC_LVT_THERM, 4, 0x20000, "LVT thermal"},
        {O_LVT + 4 * CC_LVT_PERF, 4, 0x4000, "LVT perf"},
        {O_LVT + 4 * CC_LVT_LINT0, 4, 0x4700, "LVT LINT0"},
        {O_LVT + 4 * CC_LVT_LINT1, 4, 0x1400, "LVT LINT1"},
        {O_LVT + 4 * CC_LVT_ERROR, 4, 0x2fe, "LVT error"},
        {O_ISR, 4, 0x8, "ISR has vector 3"},
        {O_TMR, 4, 0x8000, "TMR has vector 15"},
        {O_IRR, 4, 0x1, "IRR has vector 0"},
        {O_TDCR, 4, 0x4, "TDCR"},
        {O_DEADLINE, 8, 0, "timer deadline"},
        {O_DEADLINE, 8, 100 + 12345 * 16 + 1, "timer deadline"},
        {O_TMICT, 4, 0, "timer deadline"},      /* stopped, but a deadline */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, buf.data, buf.len);
        if (cases[i].width == 1)
            bad[cases[i].off] = (uint8_t)cases[i].val;
        else if (cases[i].width == 4)
            put32(bad + cases[i].off, (uint32_t)cases[i].val);
        else
            put64(bad + cases[i].off, cases[i].val);
        rd_init(&rd, bad, buf.len);
        memset(&err, 0, sizeof(err));
        int r = lapic_load(&b, &rd, &err);
        ok(r == -EINVAL && strstr(err.msg, "lapic: ") && strstr(err.msg, cases[i].what) &&
           !memcmp(&b, &before, sizeof(b)), "%s (byte %zu) refused: %s", cases[i].what,
           cases[i].off, err.msg);
    }

    /* valid variants load: a later grid point of the periodic timer, none */
    memcpy(bad, buf.data, buf.len);
    put64(bad + O_DEADLINE, 100 + 3 * 12345 * 16);
    rd_init(&rd, bad, buf.len);
    is_int(lapic_load(&b, &rd, &err), 0, "a later periodic grid point loads");
    put64(bad + O_DEADLINE, UINT64_MAX);
    rd_init(&rd, bad, buf.len);
    is_int(lapic_load(&b, &rd, &err), 0, "no deadline loads");
    free(bad);
    buf_free(&buf);
}

/* Invariants after every step of the random run. */
static const char *broken(const struct cc_lapic *a, uint64_t now)
{
    if ((a->irr[0] | a->isr[0] | a->tmr[0]) & 0xffff)
        return "vector below 16 in IRR/ISR/TMR";
    int p = lapic_pending(a);
    if (p >= 0 && (p < 16 || !irr_has(a, (unsigned)p) || !lapic_enabled(a)))
        return "pending vector not in IRR";
    if (a->timer_deadline <= now)
        return "timer deadline not after now";
    if (!a->tmict && a->timer_deadline != UINT64_MAX)
        return "stopped timer with a deadline";
    if (!lapic_enabled(a))
        for (int i = 0; i < CC_LAPIC_LVT_N; i++)
            if (!(a->lvt[i] & CC_LAPIC_LVT_MASKED) && i != CC_LVT_LINT0 && i != CC_LVT_LINT1)
                return "unmasked LVT while disabled";
    uint64_t d = a->timer_deadline;
    if (d != UINT64_MAX && d > 0) {
        struct cc_lapic c = *a;
        uint32_t at = R(&c, d, LAPIC_TMCCT), pre = R(&c, d - 1, LAPIC_TMCCT);
        bool per = a->lvt[CC_LVT_TIMER] & CC_LAPIC_LVT_PERIODIC;
        if (at != (per ? a->tmict : 0) || (d - 1 >= a->timer_start && pre != 1 &&
                                           !(per && a->tmict == 1)))
            return "TMCCT at the deadline is not at the period boundary";
    }
    return NULL;
}

static void test_random(void)
{
    static const uint64_t offs[] = {
        LAPIC_ID, LAPIC_VERSION, LAPIC_TPR, LAPIC_APR, LAPIC_PPR, LAPIC_EOI, LAPIC_RRD,
        LAPIC_LDR, LAPIC_DFR, LAPIC_SVR, LAPIC_ISR, LAPIC_TMR + 0x70, LAPIC_IRR + 0x20,
        LAPIC_ESR, LAPIC_LVT_CMCI, LAPIC_ICR_LO, LAPIC_ICR_HI, LAPIC_LVT_TIMER,
        LAPIC_LVT_THERM, LAPIC_LVT_PERF, LAPIC_LVT_LINT0, LAPIC_LVT_LINT1, LAPIC_LVT_ERR,
        LAPIC_TMICT, LAPIC_TMCCT, LAPIC_TDCR, LAPIC_LVT_TIMER, LAPIC_TMICT, LAPIC_SVR,
        LAPIC_EOI, 0x3f0, 0x024,
    };
    struct cc_lapic a, q;
    lapic_init(&a, 1, false, GHZ);
    uint64_t x = 0x9e3779b97f4a7c15ull, now = 0;
    const char *why = NULL;
    int acks = 0, fires = 0, ipis = 0, eois = 0;
    for (int i = 0; i < 100000 && !why; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint64_t off = (x & 0x100) ? offs[(x >> 9) % 32] : (x >> 40) & 0xfff;
        uint32_t v = (uint32_t)(x >> 20);
        if (x & 0x200000000000ull)
            v &= 0x300ff;                   /* LVT-ish values: often unmasked */
        switch ((x >> 4) % 8) {
        case 0: case 1: {
            if (off == LAPIC_SVR && (x & 0x400))
                v |= 0x100;
            if (off == LAPIC_TMICT)
                v &= 0xffff;
            struct cc_lapic_out o = W(&a, now, off, v);
            ipis += o.ipi;
            eois += o.eoi_level;
            if (o.ipi && (o.icr_lo & ~0x000ccfffu))
                why = "IPI with reserved bits";
            break;
        }
        case 2:
            (void)R(&a, now, off);
            break;
        case 3:
            lapic_set_irr(&a, (uint8_t)(x >> 28), (x >> 50) & 1);
            break;
        case 4: {
            int p = lapic_pending(&a);
            uint8_t vec = lapic_ack(&a);
            if (p >= 0 ? vec != p || !isr_has(&a, vec) : vec != (a.svr & 0xff))
                why = "INTA vector";
            acks += p >= 0;
            break;
        }
        case 5:
            now += (x >> 30) % 5000;
            fires += lapic_advance(&a, now);
            break;
        case 6:
            if ((x >> 12) % 500 == 0)
                lapic_init_ipi(&a);
            else if ((x >> 12) % 500 == 1)
                lapic_virtual_wire(&a);
            else
                W(&a, now, LAPIC_EOI, 0);
            break;
        default:
            now += (x >> 30) % 100;
            lapic_advance(&a, now);
            break;
        }
        lapic_advance(&a, now);
        if (!why)
            why = broken(&a, now);
        if (i % 997 == 0 && !why) {
            struct cc_buf b;
            struct cc_rd rd;
            struct cc_err err = {0};
            save(&a, &b);
            rd_init(&rd, b.data, b.len);
            lapic_init(&q, 0, true, 1);
            if (lapic_load(&q, &rd, &err) != 0 || !same_state(&a, &q)) {
                why = "snapshot does not reload";
                tap_diag("%s", err.msg);
            }
            buf_free(&b);
        }
    }
    if (why)
        tap_diag("broken: %s", why);
    ok(!why, "100k random operations: invariants hold, snapshots reload (%d acks, %d timer "
       "interrupts, %d IPIs, %d level EOIs)", acks, fires, ipis, eois);
}

int main(void)
{
    tap_plan(0);
    test_power_on();
    test_virtual_wire();
    test_linux_setup();
    test_priority();
    test_disable();
    test_timer_oneshot();
    test_timer_periodic();
    test_icr();
    test_dest();
    test_init_ipi();
    test_snapshot();
    test_random();
    return tap_exit();
}
