/* Fuzz target: the interrupt controllers of an SMP guest, wired as the VM
 * does it (src/vmm/smp.c): one I/O APIC and two local APICs. I/O APIC
 * messages and IPIs (ICR writes) are routed to the local APICs whose
 * destination matches (fixed and lowest-priority set IRR bits, lowest
 * priority goes to the matching enabled APIC with the lowest APR, INIT
 * resets an APIC, NMI, STARTUP, SMI and ExtINT are only counted), and a
 * local APIC's EOI of a level-triggered vector goes back to the I/O APIC.
 * Virtual time advances before each operation and the timers catch up
 * after it, as the run loop does.
 *
 * Input:
 *   byte 0        board: bits 0-1 bus clock (1 GHz, 10 MHz, 3 Hz, the
 *                 maximum), bits 2-3 APIC IDs ({0, 1}, {1, 0}, {0xfe, 0xff},
 *                 {5, 9}); APIC 0 starts in virtual-wire mode; bit 4 set:
 *                 start as Linux leaves things (both APICs set up in flat
 *                 logical mode, ISA pins 0-15 routed edge to vectors
 *                 0x30-0x3f, logical destination 1, pins 9-11 level)
 *   7 * N bytes   operations: opcode, arg, time step, 32-bit value (LE)
 * The time step byte t advances the clock by (t & 31) << (5 * (t >> 5)) ns
 * (0 ns .. about 18 minutes) before the operation. Opcodes (op % 16):
 *   0, 1, 14  write value to local APIC arg & 1 at offset apic_off(arg)
 *             (14: with the mask bit cleared and the enable bit set, to
 *             get past software disable and masked LVT entries)
 *   2  read local APIC arg & 1 at apic_off(arg) (checked against the model)
 *   3  I/O APIC: arg bit 7 set: write value to offset arg & 0x1f; else
 *      select register arg and write value through the window
 *   4  I/O APIC: read through the window (register arg), or offset arg
 *   5  drive I/O APIC pin arg % 26 (24 and 25 do not exist) to value & 1
 *   6  INTA on APIC arg & 1 (only when something is pending, unless arg
 *      bit 1 asks for a spurious one), then EOI it if arg bit 2 is set
 *   7  EOI on APIC arg & 1
 *   8  clock jump by value << (arg % 24) ns, at most 2^40
 *   9  HLT: jump to the earliest timer deadline (if within a minute)
 *   10 save all three, load into fresh devices and into the live ones: must
 *      load and reproduce identical state bytes; the I/O APIC keeps its
 *      routing
 *   11 load a corrupted (byte flipped, byte set, version changed) or
 *      truncated state into one device (arg % 3): a truncated or
 *      other-version state must be refused, a refusal must name the device
 *      and leave it unchanged; a corrupted state that loads is kept if arg
 *      bit 7 says so, else the previous state is loaded back
 *   12 lapic_set_irr(APIC arg & 1, vector value, level arg bit 1)
 *   13 INIT IPI on APIC arg & 1 (arg bit 1: then virtual-wire mode, as the
 *      VM does for its BSP)
 *   15 IPI: ICR high then ICR low from value (high byte of value is the
 *      destination), sent by APIC arg & 1
 *
 * Checked after every operation:
 * - every state saves and loads back to identical bytes (after every
 *   eighth operation and every snapshot operation); reads change no state;
 * - local APICs: no vector below 16 in IRR, ISR or TMR; PPR and the pending
 *   vector agree with a reference computation (nothing pending while
 *   software disabled); INTA returns that vector and moves it to ISR, or
 *   the spurious vector; an EOI retires the highest ISR bit and reports a
 *   level EOI exactly when its TMR bit is set; every LVT entry but LINT0
 *   and LINT1 (virtual-wire mode) is masked while software disabled; the timer deadline is after now, none when
 *   TMICT is 0, none for the VM while the entry is masked, and at the
 *   deadline TMCCT is at the period boundary (0 one-shot; TMICT periodic,
 *   and 1 just before, when a tick is at least 1 ns); IPIs carry no
 *   reserved bits and their destination routing agrees with
 *   lapic_match_dest;
 * - I/O APIC: no remote IRR on an edge entry, no reserved bit, no pin level
 *   beyond 23, and no unmasked asserted level pin without remote IRR (it
 *   would have been sent); ID, version and arbitration read as specified.
 * Once a corrupted state that loads is kept, the last check is skipped
 * (such a state need not be reachable); the rest still hold. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/ioapic.h"
#include "devices/lapic.h"

#define MAX_OPS 1024
#define OP_SIZE 7
#define NCPU 2
#define NS_PER_S 1000000000ull
#define MASKED CC_LAPIC_LVT_MASKED

struct board {
    struct cc_ioapic io;
    struct cc_lapic cpu[NCPU];
    uint64_t now;
    bool tainted;
    uint64_t msgs, ipis, inits, others;
};

static const uint64_t apic_offs[40] = {
    LAPIC_ID, LAPIC_VERSION, LAPIC_TPR, LAPIC_APR, LAPIC_PPR, LAPIC_EOI, LAPIC_RRD, LAPIC_LDR,
    LAPIC_DFR, LAPIC_SVR, LAPIC_ISR + 0x10, LAPIC_ISR + 0x70, LAPIC_TMR + 0x40, LAPIC_IRR,
    LAPIC_IRR + 0x60, LAPIC_ESR, LAPIC_LVT_CMCI, LAPIC_ICR_LO, LAPIC_ICR_HI, LAPIC_LVT_TIMER,
    LAPIC_LVT_THERM, LAPIC_LVT_PERF, LAPIC_LVT_LINT0, LAPIC_LVT_LINT1, LAPIC_LVT_ERR,
    LAPIC_TMICT, LAPIC_TMCCT, LAPIC_TDCR, LAPIC_TPR, LAPIC_EOI, LAPIC_SVR, LAPIC_LVT_TIMER,
    LAPIC_TMICT, LAPIC_TDCR, LAPIC_ICR_LO, LAPIC_LVT_ERR,
    0x000, 0x3f0, LAPIC_SVR + 4, 0xff0,     /* reserved, a slot tail, the last slot */
};

static uint64_t apic_off(uint8_t arg)
{
    return apic_offs[(arg >> 1) % 40];
}

/* ---- routing ---- */

static bool ref_enabled(const struct cc_lapic *a)
{
    return a->svr & 0x100;
}

static void deliver(struct board *b, unsigned dm, uint8_t vector, bool level, uint8_t dest,
                    bool logical, unsigned shorthand, unsigned src)
{
    bool target[NCPU];
    unsigned n = 0;
    for (unsigned i = 0; i < NCPU; i++) {
        switch (shorthand) {
        case 1: target[i] = i == src; break;
        case 2: target[i] = true; break;
        case 3: target[i] = i != src; break;
        default: {
            const struct cc_lapic *a = &b->cpu[i];
            target[i] = lapic_match_dest(a, dest, logical);
            /* an independent reading of the destination rules */
            bool ref;
            uint8_t ldr = (uint8_t)(a->ldr >> 24);
            if (dest == 0xff)
                ref = true;
            else if (!logical)
                ref = dest == a->id;
            else if (a->dfr >> 28 == 0xf)
                ref = ldr & dest;
            else if (a->dfr >> 28 == 0)
                ref = (dest >> 4 == 0xf || dest >> 4 == ldr >> 4) && (ldr & dest & 0xf);
            else
                ref = false;
            if (ref != target[i])
                abort();
            break;
        }
        }
        n += target[i];
    }
    if (dm == CC_DM_LOWEST && n > 1) {
        int best = -1;
        for (unsigned i = 0; i < NCPU; i++)
            if (target[i] && ref_enabled(&b->cpu[i]) &&
                (best < 0 || lapic_apr(&b->cpu[i]) < lapic_apr(&b->cpu[best])))
                best = (int)i;
        for (unsigned i = 0; i < NCPU; i++)
            target[i] = (int)i == best;
    }
    for (unsigned i = 0; i < NCPU; i++) {
        if (!target[i])
            continue;
        switch (dm) {
        case CC_DM_FIXED:
        case CC_DM_LOWEST:
            lapic_set_irr(&b->cpu[i], vector, level);
            break;
        case CC_DM_INIT:
            lapic_init_ipi(&b->cpu[i]);
            b->inits++;
            break;
        default:
            b->others++;
            break;
        }
    }
}

static void ioapic_msg(void *opaque, const struct cc_ioapic_msg *m)
{
    struct board *b = opaque;
    if (m->delivery > 7)
        abort();
    b->msgs++;
    deliver(b, m->delivery, m->vector, m->level, m->dest, m->logical, 0, 0);
}

/* ---- local APIC checks ---- */

static int ref_highest(const uint32_t r[8])
{
    for (int i = 255; i >= 0; i--)
        if ((r[i >> 5] >> (i & 31)) & 1)
            return i;
    return -1;
}

static unsigned ref_ppr(const struct cc_lapic *a)
{
    int isrv = ref_highest(a->isr);
    if (isrv >= 0 && (isrv & 0xf0) > (int)(a->tpr & 0xf0))
        return (unsigned)isrv & 0xf0;
    return a->tpr & 0xff;
}

static int ref_pending(const struct cc_lapic *a)
{
    int v = ref_highest(a->irr);
    if (!ref_enabled(a) || v < 0 || (v & 0xf0) <= (int)(ref_ppr(a) & 0xf0))
        return -1;
    return v;
}

static bool state_bytes(const void *dev, bool is_io, struct cc_buf *out)
{
    buf_init(out);
    if (is_io)
        ioapic_save(dev, out);
    else
        lapic_save(dev, out);
    return buf_ok(out);
}

static bool same_bytes(const struct cc_buf *a, const struct cc_buf *b)
{
    return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

/* An EOI write, checked: the highest ISR bit goes, a level EOI exactly when
 * its TMR bit was set. */
static void do_eoi(struct board *b, unsigned c)
{
    struct cc_lapic *a = &b->cpu[c];
    int v = ref_highest(a->isr);
    bool level = v >= 0 && ((a->tmr[v >> 5] >> (v & 31)) & 1);
    struct cc_lapic_out out;
    lapic_write(a, b->now, LAPIC_EOI, 0, &out);
    if (out.ipi || out.eoi_level != level || (level && out.eoi_vector != v))
        abort();
    if (v >= 0 && ((a->isr[v >> 5] >> (v & 31)) & 1))
        abort();
    if (out.eoi_level)
        ioapic_eoi(&b->io, out.eoi_vector);
}

static void apic_write(struct board *b, unsigned c, uint64_t off, uint32_t val)
{
    struct cc_lapic_out out;
    memset(&out, 0xa5, sizeof(out));
    if (off == LAPIC_EOI) {
        do_eoi(b, c);
        return;
    }
    lapic_write(&b->cpu[c], b->now, off, val, &out);
    if (out.eoi_level)
        abort();            /* only EOI writes retire vectors */
    if (!out.ipi)
        return;
    if (off != LAPIC_ICR_LO || (out.icr_lo & ~0x000ccfffu) || (out.icr_hi & 0x00ffffffu))
        abort();
    unsigned dm = (out.icr_lo >> 8) & 7;
    if ((dm == CC_DM_FIXED || dm == CC_DM_LOWEST) && (out.icr_lo & 0xff) < 16)
        abort();            /* illegal vectors are not sent */
    b->ipis++;
    bool assert_ = (out.icr_lo >> 14) & 1, trig = (out.icr_lo >> 15) & 1;
    if (dm == CC_DM_INIT && !assert_ && trig)
        return;             /* INIT de-assert */
    deliver(b, dm, (uint8_t)out.icr_lo, trig, (uint8_t)(out.icr_hi >> 24),
            (out.icr_lo >> 11) & 1, (out.icr_lo >> 18) & 3, c);
}

static void check_lapic(const struct board *b, unsigned c)
{
    const struct cc_lapic *a = &b->cpu[c];
    if ((a->irr[0] | a->isr[0] | a->tmr[0]) & 0xffff)
        abort();
    if (lapic_ppr(a) != ref_ppr(a) || lapic_pending(a) != ref_pending(a))
        abort();
    if (!ref_enabled(a))
        for (int i = 0; i < CC_LAPIC_LVT_N; i++)
            if (!(a->lvt[i] & MASKED) && i != CC_LVT_LINT0 && i != CC_LVT_LINT1)
                abort();    /* only lapic_virtual_wire unmasks a disabled APIC's LINTs */
    if (a->timer_deadline <= b->now)
        abort();            /* a due expiry was not delivered */
    if (!a->tmict && a->timer_deadline != UINT64_MAX)
        abort();
    if ((a->lvt[CC_LVT_TIMER] & MASKED) && lapic_next_deadline(a) != UINT64_MAX)
        abort();
    uint64_t d = a->timer_deadline;
    if (d != UINT64_MAX) {
        struct cc_lapic cp = *a;
        bool periodic = a->lvt[CC_LVT_TIMER] & CC_LAPIC_LVT_PERIODIC;
        /* A tick of at least 1 ns (bus_hz <= 1e9): exact boundaries. A
         * faster clock has several ticks per ns, so at the deadline a
         * periodic count may already be a few ticks into the next period. */
        bool slow = a->bus_hz <= NS_PER_S;
        uint32_t at = lapic_read(&cp, d, LAPIC_TMCCT);
        if (periodic ? slow && at != a->tmict : at != 0)
            abort();
        if (slow && d - 1 >= a->timer_start && a->tmict > 1 &&
            lapic_read(&cp, d - 1, LAPIC_TMCCT) != 1)
            abort();
    }
    /* the register view */
    struct cc_lapic cp = *a;
    if (lapic_read(&cp, b->now, LAPIC_ID) != a->id << 24 ||
        lapic_read(&cp, b->now, LAPIC_VERSION) != 0x00050014 ||
        lapic_read(&cp, b->now, LAPIC_PPR) != ref_ppr(a) ||
        (lapic_read(&cp, b->now, LAPIC_DFR) & 0x0fffffff) != 0x0fffffff ||
        lapic_read(&cp, b->now, LAPIC_TMCCT) > a->tmict)
        abort();
}

/* INTA as the run loop does it, checked. */
static void do_inta(struct board *b, unsigned c, bool spurious_ok)
{
    struct cc_lapic *a = &b->cpu[c];
    int p = ref_pending(a);
    if (p < 0 && !spurious_ok)
        return;
    uint8_t v = lapic_ack(a);
    if (p < 0) {
        if (v != (a->svr & 0xff))
            abort();
        return;
    }
    if (v != p || ((a->irr[v >> 5] >> (v & 31)) & 1) || !((a->isr[v >> 5] >> (v & 31)) & 1))
        abort();
}

/* ---- I/O APIC checks ---- */

static void check_ioapic(const struct board *b)
{
    const struct cc_ioapic *io = &b->io;
    if (io->level >> CC_IOAPIC_PINS || io->id > 0xf)
        abort();
    for (unsigned p = 0; p < CC_IOAPIC_PINS; p++) {
        uint64_t e = io->redir[p];
        if ((e & 0x00fffffffffe1000ull) || ((e & (1u << 14)) && !(e & (1u << 15))))
            abort();
        if (!b->tainted && (e & (1u << 15)) && !(e & ((1u << 16) | (1u << 14))) &&
            ((io->level >> p) & 1))
            abort();        /* a deliverable level pin was not sent */
    }
    struct cc_ioapic cp = *io;
    cp.deliver = NULL;
    ioapic_write(&cp, 0, 1);
    if (ioapic_read(&cp, 0x10) != 0x00170011)
        abort();
    ioapic_write(&cp, 0, 0);
    uint32_t id = ioapic_read(&cp, 0x10);
    ioapic_write(&cp, 0, 2);
    if (id != (uint32_t)io->id << 24 || ioapic_read(&cp, 0x10) != id)
        abort();
}

/* ---- snapshots ---- */

static void *dev_ptr(struct board *b, unsigned i)
{
    return i == 0 ? (void *)&b->io : (void *)&b->cpu[i - 1];
}

static int load_dev(void *dev, bool is_io, struct cc_rd *rd, struct cc_err *err)
{
    return is_io ? ioapic_load(dev, rd, err) : lapic_load(dev, rd, err);
}

/* Load a saved state; it must load, consume the record and save back to
 * the same bytes. */
static void load_exact(void *dev, bool is_io, const struct cc_buf *state)
{
    struct cc_rd rd;
    struct cc_err err = {0};
    rd_init(&rd, state->data, state->len);
    if (load_dev(dev, is_io, &rd, &err) < 0) {
        fprintf(stderr, "fuzz_apic: a saved state does not load: %s\n", err.msg);
        abort();
    }
    if (rd_left(&rd) != 0)
        abort();
    struct cc_buf again;
    if (!state_bytes(dev, is_io, &again) || !same_bytes(state, &again))
        abort();
    buf_free(&again);
}

static void check_roundtrip(struct board *b)
{
    for (unsigned i = 0; i < 1 + NCPU; i++) {
        struct cc_buf s;
        if (!state_bytes(dev_ptr(b, i), i == 0, &s))
            abort();
        struct cc_ioapic io;
        struct cc_lapic a;
        ioapic_init(&io, 0);
        lapic_init(&a, 0, false, 1);
        load_exact(i == 0 ? (void *)&io : (void *)&a, i == 0, &s);
        buf_free(&s);
    }
}

static void op_saveload(struct board *b)
{
    for (unsigned i = 0; i < 1 + NCPU; i++) {
        struct cc_buf s;
        if (!state_bytes(dev_ptr(b, i), i == 0, &s))
            abort();
        load_exact(dev_ptr(b, i), i == 0, &s);
        buf_free(&s);
    }
    if (b->io.deliver != ioapic_msg || b->io.opaque != b)
        abort();            /* routing survives a load */
}

static void op_loadbad(struct board *b, uint8_t arg, uint32_t val)
{
    unsigned i = arg % 3;
    bool is_io = i == 0;
    void *dev = dev_ptr(b, i);
    struct cc_buf s, before, after;
    if (!state_bytes(dev, is_io, &s) || !state_bytes(dev, is_io, &before))
        abort();
    size_t len = s.len;
    bool truncated = false, version = false;
    uint8_t pat = (uint8_t)(val >> 24);
    switch ((arg >> 2) & 3) {
    case 0:
        s.data[val % s.len] ^= (uint8_t)(1u << (pat & 7));
        break;
    case 1:
        s.data[val % s.len] = pat;
        break;
    case 2:
        s.data[0] = (uint8_t)(s.data[0] + 1 + (pat & 7));
        version = true;
        break;
    default:
        len = val % s.len;
        truncated = true;
        break;
    }
    struct cc_rd rd;
    struct cc_err err = {0};
    rd_init(&rd, s.data, len);
    int rc = load_dev(dev, is_io, &rd, &err);
    if (!state_bytes(dev, is_io, &after))
        abort();
    if (rc < 0) {
        if (strncmp(err.msg, is_io ? "ioapic: " : "lapic: ", is_io ? 8 : 7))
            abort();        /* refusals name the device */
        if (!same_bytes(&before, &after))
            abort();        /* and change nothing */
    } else {
        if (truncated || version || rd_left(&rd) != 0)
            abort();        /* fixed-size records */
        if (!same_bytes(&before, &after)) {
            if (arg & 0x80) {
                b->tainted = true;
                /* bring a loaded timer up to date, as the run loop would */
                for (unsigned c = 0; c < NCPU; c++)
                    lapic_advance(&b->cpu[c], b->now);
            } else {
                load_exact(dev, is_io, &before);
            }
        }
    }
    if (b->io.deliver != ioapic_msg || b->io.opaque != b)
        abort();
    buf_free(&s);
    buf_free(&before);
    buf_free(&after);
}

/* ---- the run ---- */

static void linux_setup(struct board *b, unsigned c)
{
    apic_write(b, c, LAPIC_TPR, 0x10);
    apic_write(b, c, LAPIC_DFR, 0xffffffff);
    apic_write(b, c, LAPIC_LDR, (1u << c) << 24);
    apic_write(b, c, LAPIC_SVR, 0x1ff);
    apic_write(b, c, LAPIC_LVT_LINT0, c == 0 ? 0x700 : 0x10700);
    apic_write(b, c, LAPIC_LVT_LINT1, c == 0 ? 0x400 : 0x10400);
    apic_write(b, c, LAPIC_LVT_ERR, 0xfe);
    apic_write(b, c, LAPIC_ESR, 0);
    apic_write(b, c, LAPIC_LVT_TIMER, 0x200ec);
    apic_write(b, c, LAPIC_TDCR, 0x3);
    apic_write(b, c, LAPIC_TMICT, 62500);
}

static void board_init(struct board *b, uint8_t cfg)
{
    static const uint64_t hz[4] = {NS_PER_S, 10000000, 3, CC_LAPIC_MAX_BUS_HZ};
    static const uint8_t ids[4][2] = {{0, 1}, {1, 0}, {0xfe, 0xff}, {5, 9}};
    memset(b, 0, sizeof(*b));
    ioapic_init(&b->io, 2);
    b->io.deliver = ioapic_msg;
    b->io.opaque = b;
    for (unsigned c = 0; c < NCPU; c++)
        lapic_init(&b->cpu[c], ids[(cfg >> 2) & 3][c], c == 0, hz[cfg & 3]);
    lapic_virtual_wire(&b->cpu[0]);     /* as the VM sets up its BSP */
    if (cfg & 0x10) {
        for (unsigned c = 0; c < NCPU; c++)
            linux_setup(b, c);
        for (unsigned p = 0; p < 16; p++) {
            bool level = p >= 9 && p <= 11;
            ioapic_write(&b->io, 0, 0x11 + 2 * p);
            ioapic_write(&b->io, 0x10, 0x01000000);
            ioapic_write(&b->io, 0, 0x10 + 2 * p);
            ioapic_write(&b->io, 0x10, (level ? 0x8000u : 0) | 0x800 | (0x30 + p));
        }
    }
}

static void step_to(struct board *b, uint64_t t)
{
    b->now = t;
    for (unsigned c = 0; c < NCPU; c++) {
        uint32_t lvt = b->cpu[c].lvt[CC_LVT_TIMER];
        bool due = b->cpu[c].timer_deadline <= t;
        bool fired = lapic_advance(&b->cpu[c], t);
        if (fired != (due && !(lvt & MASKED)))
            abort();
    }
}

static uint64_t next_deadline(const struct board *b)
{
    uint64_t d = UINT64_MAX;
    for (unsigned c = 0; c < NCPU; c++) {
        uint64_t t = lapic_next_deadline(&b->cpu[c]);
        if (t < d)
            d = t;
    }
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 1)
        return 0;
    static struct board b;
    board_init(&b, data[0]);
    size_t nops = (len - 1) / OP_SIZE;
    if (nops > MAX_OPS)
        nops = MAX_OPS;
    const uint8_t *p = data + 1;
    for (size_t i = 0; i < nops; i++, p += OP_SIZE) {
        uint8_t op = p[0] % 16, arg = p[1], dt = p[2];
        uint32_t val = (uint32_t)p[3] | (uint32_t)p[4] << 8 | (uint32_t)p[5] << 16 |
                       (uint32_t)p[6] << 24;
        unsigned c = arg & 1;
        step_to(&b, b.now + ((uint64_t)(dt & 31) << (5 * (dt >> 5))));
        switch (op) {
        case 0:
        case 1:
            apic_write(&b, c, apic_off(arg), val);
            break;
        case 14: {
            uint64_t off = apic_off(arg);
            if (off == LAPIC_SVR)
                val |= 0x100;
            else
                val &= ~MASKED;
            if (off == LAPIC_TMICT)
                val &= 0xfffff;
            apic_write(&b, c, off, val);
            break;
        }
        case 2: {
            struct cc_buf before, after;
            if (!state_bytes(&b.cpu[c], false, &before))
                abort();
            uint64_t off = apic_off(arg);
            uint32_t v = lapic_read(&b.cpu[c], b.now, off);
            if (!state_bytes(&b.cpu[c], false, &after) || !same_bytes(&before, &after))
                abort();    /* reads have no side effects */
            if ((off == LAPIC_EOI || off == LAPIC_RRD || off == 0x3f0 || off == 0x000 ||
                 off == LAPIC_SVR + 4 || off == 0xff0) && v != 0)
                abort();
            if (off == LAPIC_ICR_LO && (v & 0x1000))
                abort();    /* delivery status reads 0 */
            buf_free(&before);
            buf_free(&after);
            break;
        }
        case 3:
            if (arg & 0x80) {
                ioapic_write(&b.io, arg & 0x1f, val);
            } else {
                ioapic_write(&b.io, 0, arg);
                ioapic_write(&b.io, 0x10, val);
            }
            break;
        case 4: {
            uint32_t v;
            if (arg & 0x80) {
                v = ioapic_read(&b.io, arg & 0x1f);
                if ((arg & 0x1f) != 0 && (arg & 0x1f) != 0x10 && v != 0)
                    abort();
            } else {
                ioapic_write(&b.io, 0, arg);
                v = ioapic_read(&b.io, 0x10);
                if (arg >= 0x10 && arg < 0x40 && (arg & 1) == 0 && (v & 0x1000))
                    abort();    /* delivery status reads 0 */
            }
            break;
        }
        case 5:
            ioapic_set_irq(&b.io, arg % 26, (int)(val & 1));
            break;
        case 6:
            do_inta(&b, c, arg & 2);
            if (arg & 4)
                do_eoi(&b, c);
            break;
        case 7:
            do_eoi(&b, c);
            break;
        case 8: {
            uint64_t jump = (uint64_t)val << (arg % 24);
            if (jump > (1ull << 40))
                jump = 1ull << 40;
            step_to(&b, b.now + jump);
            break;
        }
        case 9: {
            uint64_t d = next_deadline(&b);
            if (d != UINT64_MAX && d > b.now && d - b.now <= 60 * NS_PER_S)
                step_to(&b, d);
            break;
        }
        case 10:
            op_saveload(&b);
            break;
        case 11:
            op_loadbad(&b, arg, val);
            break;
        case 12:
            lapic_set_irr(&b.cpu[c], (uint8_t)val, arg & 2);
            break;
        case 13:
            lapic_init_ipi(&b.cpu[c]);
            if (arg & 2)
                lapic_virtual_wire(&b.cpu[c]);
            break;
        default:            /* 15 */
            apic_write(&b, c, LAPIC_ICR_HI, val & 0xff000000u);
            apic_write(&b, c, LAPIC_ICR_LO, val & 0x00ffffffu);
            break;
        }
        step_to(&b, b.now);
        if ((i & 7) == 0 || op == 10 || op == 11)
            check_roundtrip(&b);        /* every op would halve the speed */
        for (unsigned k = 0; k < NCPU; k++)
            check_lapic(&b, k);
        check_ioapic(&b);
    }
#ifdef FUZZ_VERBOSE
    fprintf(stderr, "ops %zu, now %llu ns, tainted %d, %llu I/O APIC messages, %llu IPIs, "
            "%llu INITs, %llu other\n", nops, (unsigned long long)b.now, b.tainted,
            (unsigned long long)b.msgs, (unsigned long long)b.ipis,
            (unsigned long long)b.inits, (unsigned long long)b.others);
    for (unsigned k = 0; k < NCPU; k++)
        fprintf(stderr, "cpu %u: svr %03x tpr %02x ppr %02x pending %d timer %05x tmict %u "
                "deadline %llu\n", k, b.cpu[k].svr, b.cpu[k].tpr, lapic_ppr(&b.cpu[k]),
                lapic_pending(&b.cpu[k]), b.cpu[k].lvt[CC_LVT_TIMER], b.cpu[k].tmict,
                (unsigned long long)b.cpu[k].timer_deadline);
#endif
    return 0;
}
