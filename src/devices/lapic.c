/* Local APIC, xAPIC mode (see lapic.h).
 *
 * Model notes:
 * - Priorities (Intel SDM vol. 3, 10.8.3): PPR = TPR when TPR[7:4] >=
 *   ISRV[7:4], else ISRV[7:4] << 4, where ISRV is the highest vector in
 *   service. An IRR vector is deliverable when its class (vector >> 4) is
 *   above PPR[7:4]. Vectors 0-15 never reach IRR, ISR or TMR.
 * - EOI retires the highest ISR bit; if that vector's TMR bit is set (it was
 *   accepted level-triggered) the write reports it so the VM can EOI the
 *   I/O APIC. The TMR bit is set or cleared when a vector is accepted.
 * - Errors (ESR): bit 5 send illegal vector (a fixed or lowest-priority
 *   IPI with a vector below 16 is not sent), bit 6 receive illegal vector,
 *   bit 7 illegal register address (a write to a reserved slot). A new
 *   error raises the LVT error vector if that entry is unmasked. ESR reads
 *   the errors latched by the last ESR write.
 * - Timer. Let D be the divisor (TDCR), start the time TMICT was written:
 *
 *     ticks(now)  = floor((now - start) * bus_hz / (D * 1e9))
 *     at(m)       = start + ceil(m * D * 1e9 / bus_hz)   (first ns with
 *                   ticks >= m)
 *
 *   One-shot: TMCCT = TMICT - ticks until it reaches 0 and stays there; the
 *   expiry is at(TMICT). Periodic: TMCCT = TMICT - ticks % TMICT; the
 *   expiries are at(k * TMICT), k >= 1, a grid fixed by start that never
 *   drifts; after an expiry the next deadline is the first grid point after
 *   now, so missed periods coalesce. TMICT 0 stops the timer. A mode switch
 *   keeps the grid (a one-shot switched to periodic after its expiry
 *   resumes on the grid; a periodic switched to one-shot after its first
 *   period has expired). A divisor change while counting keeps the current
 *   count and continues at the new rate (start moves; if that would be
 *   before time 0 it is clamped to 0). A masked timer counts and re-arms
 *   but sets no IRR bit.
 * - Software disable masks every LVT entry and keeps them masked against
 *   writes; only lapic_virtual_wire unmasks LINT0/LINT1 of a disabled APIC
 *   (the reset state of a PC's BSP), so a state with an unmasked timer,
 *   thermal, perf, CMCI or error entry while disabled is refused on load.
 * - The ID register is read-only (so is the version, APR, PPR, ISR, TMR,
 *   IRR and TMCCT). Delivery status bits read 0: delivery is immediate.
 * - CMCI: the version register announces 6 LVT entries (max LVT 5), so a
 *   guest does not use LVT CMCI; the register still stores its writable
 *   bits and never raises anything. Thermal and performance counter entries
 *   are storage only as well (no source drives them).
 */
#include <errno.h>
#include <string.h>

#include "devices/lapic.h"

#define LAPIC_SAVE_VERSION 1
#define LAPIC_VERSION_VALUE 0x00050014u     /* max LVT 5, version 0x14 */
#define NS_PER_S 1000000000ull

#define SVR_ENABLE (1u << 8)
#define SVR_WRITABLE 0x3ffu                 /* vector, enable, focus check */
#define ICR_LO_WRITABLE 0x000ccfffu         /* all but delivery status, bits 13, 16-17, 20+ */
#define ICR_HI_WRITABLE 0xff000000u
#define LDR_WRITABLE 0xff000000u
#define DFR_FIXED 0x0fffffffu               /* bits 0-27 read as 1 */
#define TDCR_WRITABLE 0x0bu
#define ESR_BITS 0xffu
#define ESR_SEND_ILLEGAL 0x20u
#define ESR_RECV_ILLEGAL 0x40u
#define ESR_ILLEGAL_REG 0x80u

typedef unsigned __int128 u128;

/* Writable bits per LVT entry (lvt[] order): delivery status (bit 12) and
 * remote IRR (bit 14) are read-only; TSC-deadline mode (bit 18) is not
 * offered. */
static const uint32_t lvt_writable[CC_LAPIC_LVT_N] = {
    0x107ff,    /* CMCI: vector, delivery mode, mask */
    0x300ff,    /* timer: vector, mask, periodic */
    0x107ff,    /* thermal */
    0x107ff,    /* performance counter */
    0x1a7ff,    /* LINT0: vector, mode, polarity, trigger, mask */
    0x1a7ff,    /* LINT1 */
    0x100ff,    /* error: vector, mask */
};

static const char *const lvt_name[CC_LAPIC_LVT_N] = {
    "LVT CMCI", "LVT timer", "LVT thermal", "LVT perf", "LVT LINT0", "LVT LINT1", "LVT error",
};

/* ---- 256-bit vector registers ---- */

static int highest(const uint32_t r[8])
{
    for (int i = 7; i >= 0; i--)
        if (r[i])
            return i * 32 + 31 - __builtin_clz(r[i]);
    return -1;
}

static bool test_vec(const uint32_t r[8], unsigned v)
{
    return (r[v >> 5] >> (v & 31)) & 1;
}

static void set_vec(uint32_t r[8], unsigned v)
{
    r[v >> 5] |= 1u << (v & 31);
}

static void clear_vec(uint32_t r[8], unsigned v)
{
    r[v >> 5] &= ~(1u << (v & 31));
}

/* ---- power-on ---- */

void lapic_init(struct cc_lapic *a, uint32_t id, bool bsp, uint64_t bus_hz)
{
    memset(a, 0, sizeof(*a));
    a->id = id & 0xff;
    a->bsp = bsp;
    a->bus_hz = bus_hz == 0 ? 1 : bus_hz > CC_LAPIC_MAX_BUS_HZ ? CC_LAPIC_MAX_BUS_HZ : bus_hz;
    a->dfr = 0xffffffffu;
    a->svr = 0xff;
    for (int i = 0; i < CC_LAPIC_LVT_N; i++)
        a->lvt[i] = CC_LAPIC_LVT_MASKED;
    a->timer_deadline = UINT64_MAX;
}

void lapic_init_ipi(struct cc_lapic *a)
{
    lapic_init(a, a->id, a->bsp, a->bus_hz);
}

void lapic_virtual_wire(struct cc_lapic *a)
{
    a->lvt[CC_LVT_LINT0] = CC_DM_EXTINT << 8;
    a->lvt[CC_LVT_LINT1] = CC_DM_NMI << 8;
}

bool lapic_enabled(const struct cc_lapic *a)
{
    return a->svr & SVR_ENABLE;
}

/* ---- priorities and acceptance ---- */

uint8_t lapic_ppr(const struct cc_lapic *a)
{
    int isrv = highest(a->isr);
    uint32_t tpr = a->tpr & 0xff;
    if (isrv < 0 || (tpr >> 4) >= ((unsigned)isrv >> 4))
        return (uint8_t)tpr;
    return (uint8_t)(isrv & 0xf0);
}

uint8_t lapic_apr(const struct cc_lapic *a)
{
    int isrv = highest(a->isr), irrv = highest(a->irr);
    unsigned tpc = (a->tpr & 0xff) >> 4;
    unsigned isc = isrv < 0 ? 0 : (unsigned)isrv >> 4;
    unsigned irc = irrv < 0 ? 0 : (unsigned)irrv >> 4;
    if (tpc >= irc && tpc > isc)
        return (uint8_t)(a->tpr & 0xff);
    unsigned m = tpc > isc ? tpc : isc;
    if (irc > m)
        m = irc;
    return (uint8_t)(m << 4);
}

/* Set an IRR bit, without the error path (callers checked the vector). */
static void accept(struct cc_lapic *a, unsigned vector, bool level)
{
    set_vec(a->irr, vector);
    if (level)
        set_vec(a->tmr, vector);
    else
        clear_vec(a->tmr, vector);
}

/* Log errors; newly set ones raise the LVT error interrupt if unmasked. */
static void set_error(struct cc_lapic *a, uint32_t bits)
{
    uint32_t fresh = bits & ~a->esr_pending;
    a->esr_pending |= bits;
    uint32_t lvt = a->lvt[CC_LVT_ERROR];
    if (fresh && lapic_enabled(a) && !(lvt & CC_LAPIC_LVT_MASKED) && (lvt & 0xff) >= 16)
        accept(a, lvt & 0xff, false);
}

void lapic_set_irr(struct cc_lapic *a, uint8_t vector, bool level)
{
    if (!lapic_enabled(a))
        return;
    if (vector < 16) {
        set_error(a, ESR_RECV_ILLEGAL);
        return;
    }
    accept(a, vector, level);
}

int lapic_pending(const struct cc_lapic *a)
{
    if (!lapic_enabled(a))
        return -1;
    int v = highest(a->irr);
    if (v < 0 || ((unsigned)v >> 4) <= (unsigned)(lapic_ppr(a) >> 4))
        return -1;
    return v;
}

uint8_t lapic_ack(struct cc_lapic *a)
{
    int v = lapic_pending(a);
    if (v < 0)
        return (uint8_t)(a->svr & 0xff);
    clear_vec(a->irr, (unsigned)v);
    set_vec(a->isr, (unsigned)v);
    return (uint8_t)v;
}

static void do_eoi(struct cc_lapic *a, struct cc_lapic_out *out)
{
    int v = highest(a->isr);
    if (v < 0)
        return;
    clear_vec(a->isr, (unsigned)v);
    if (test_vec(a->tmr, (unsigned)v)) {
        out->eoi_level = true;
        out->eoi_vector = (uint8_t)v;
    }
}

/* ---- timer ---- */

static unsigned divisor(uint32_t tdcr)
{
    unsigned v = ((tdcr >> 1) & 4) | (tdcr & 3);
    return 1u << ((v + 1) & 7);     /* 2, 4, 8, 16, 32, 64, 128, 1 */
}

static bool periodic(const struct cc_lapic *a)
{
    return a->lvt[CC_LVT_TIMER] & CC_LAPIC_LVT_PERIODIC;
}

/* Timer ticks (after the divider) since start. */
static u128 ticks_at(const struct cc_lapic *a, uint64_t now)
{
    if (now <= a->timer_start)
        return 0;
    return (u128)(now - a->timer_start) * a->bus_hz / ((u128)divisor(a->tdcr) * NS_PER_S);
}

/* Nanoseconds for m ticks, rounded up, saturated at UINT64_MAX. */
static uint64_t ticks_ns(const struct cc_lapic *a, u128 m)
{
    u128 x = (m * divisor(a->tdcr) * NS_PER_S + a->bus_hz - 1) / a->bus_hz;
    return x >= UINT64_MAX ? UINT64_MAX : (uint64_t)x;
}

/* The first time at which tick m has happened; UINT64_MAX if beyond. */
static uint64_t tick_time(const struct cc_lapic *a, u128 m)
{
    uint64_t ns = ticks_ns(a, m);
    return ns >= UINT64_MAX - a->timer_start ? UINT64_MAX : a->timer_start + ns;
}

static uint32_t count_at(const struct cc_lapic *a, uint64_t now)
{
    if (!a->tmict)
        return 0;
    u128 t = ticks_at(a, now);
    if (periodic(a))
        return a->tmict - (uint32_t)(t % a->tmict);
    return t >= a->tmict ? 0 : a->tmict - (uint32_t)t;
}

/* The next expiry after now for the current mode and grid. */
static void timer_rearm(struct cc_lapic *a, uint64_t now)
{
    if (!a->tmict) {
        a->timer_deadline = UINT64_MAX;
        return;
    }
    u128 t = ticks_at(a, now);
    if (periodic(a))
        a->timer_deadline = tick_time(a, (t / a->tmict + 1) * a->tmict);
    else
        a->timer_deadline = t < a->tmict ? tick_time(a, a->tmict) : UINT64_MAX;
}

bool lapic_advance(struct cc_lapic *a, uint64_t now)
{
    if (a->timer_deadline > now)
        return false;
    uint32_t lvt = a->lvt[CC_LVT_TIMER];
    bool raised = !(lvt & CC_LAPIC_LVT_MASKED);
    if (raised)
        lapic_set_irr(a, (uint8_t)lvt, false);
    if (periodic(a))
        timer_rearm(a, now);
    else
        a->timer_deadline = UINT64_MAX;
    return raised;
}

uint64_t lapic_next_deadline(const struct cc_lapic *a)
{
    if (a->lvt[CC_LVT_TIMER] & CC_LAPIC_LVT_MASKED)
        return UINT64_MAX;
    return a->timer_deadline;
}

static void write_tdcr(struct cc_lapic *a, uint64_t now, uint32_t val)
{
    uint32_t old_div = divisor(a->tdcr);
    uint32_t cur = count_at(a, now);
    bool counting = a->tmict && (periodic(a) || cur != 0);
    a->tdcr = val & TDCR_WRITABLE;
    if (!counting || divisor(a->tdcr) == old_div)
        return;
    /* Keep the count: the ticks already counted in this period happened at
     * the new rate. */
    uint64_t ns = ticks_ns(a, a->tmict - cur);
    a->timer_start = ns > now ? 0 : now - ns;
    timer_rearm(a, now);
}

/* ---- registers ---- */

uint32_t lapic_lvt_lint(const struct cc_lapic *a, unsigned n)
{
    if (n > 1)
        return CC_LAPIC_LVT_MASKED;
    return a->lvt[CC_LVT_LINT0 + n];
}

/* lvt[] index of an LVT register offset, or -1. */
static int lvt_index(uint64_t off)
{
    if (off == LAPIC_LVT_CMCI)
        return CC_LVT_CMCI;
    if (off >= LAPIC_LVT_TIMER && off <= LAPIC_LVT_ERR)
        return (int)((off - LAPIC_LVT_TIMER) >> 4) + CC_LVT_TIMER;
    return -1;
}

uint32_t lapic_read(struct cc_lapic *a, uint64_t now, uint64_t off)
{
    if ((off & 0xf) || off > 0xff0)
        return 0;
    if (off >= LAPIC_ISR && off < LAPIC_ISR + 0x80)
        return a->isr[(off - LAPIC_ISR) >> 4];
    if (off >= LAPIC_TMR && off < LAPIC_TMR + 0x80)
        return a->tmr[(off - LAPIC_TMR) >> 4];
    if (off >= LAPIC_IRR && off < LAPIC_IRR + 0x80)
        return a->irr[(off - LAPIC_IRR) >> 4];
    int lvt = lvt_index(off);
    if (lvt >= 0)
        return a->lvt[lvt];
    switch (off) {
    case LAPIC_ID: return a->id << 24;
    case LAPIC_VERSION: return LAPIC_VERSION_VALUE;
    case LAPIC_TPR: return a->tpr;
    case LAPIC_APR: return lapic_apr(a);
    case LAPIC_PPR: return lapic_ppr(a);
    case LAPIC_LDR: return a->ldr;
    case LAPIC_DFR: return a->dfr;
    case LAPIC_SVR: return a->svr;
    case LAPIC_ESR: return a->esr;
    case LAPIC_ICR_LO: return a->icr_lo;
    case LAPIC_ICR_HI: return a->icr_hi;
    case LAPIC_TMICT: return a->tmict;
    case LAPIC_TMCCT: return count_at(a, now);
    case LAPIC_TDCR: return a->tdcr;
    default: return 0;      /* EOI (write-only), remote read, reserved */
    }
}

static bool read_only(uint64_t off)
{
    switch (off) {
    case LAPIC_ID: case LAPIC_VERSION: case LAPIC_APR: case LAPIC_PPR: case LAPIC_RRD:
    case LAPIC_TMCCT:
        return true;
    default:
        return off >= LAPIC_ISR && off < LAPIC_ESR;     /* ISR, TMR, IRR */
    }
}

static void write_icr_lo(struct cc_lapic *a, uint32_t val, struct cc_lapic_out *out)
{
    a->icr_lo = val & ICR_LO_WRITABLE;
    unsigned dm = (a->icr_lo >> 8) & 7;
    if ((dm == CC_DM_FIXED || dm == CC_DM_LOWEST) && (a->icr_lo & 0xff) < 16) {
        set_error(a, ESR_SEND_ILLEGAL);
        return;
    }
    out->ipi = true;
    out->icr_lo = a->icr_lo;
    out->icr_hi = a->icr_hi;
}

void lapic_write(struct cc_lapic *a, uint64_t now, uint64_t off, uint32_t val,
                 struct cc_lapic_out *out)
{
    struct cc_lapic_out scratch;
    if (!out)
        out = &scratch;
    memset(out, 0, sizeof(*out));
    if ((off & 0xf) || off > 0xff0 || read_only(off))
        return;
    int lvt = lvt_index(off);
    if (lvt >= 0) {
        uint32_t v = val & lvt_writable[lvt];
        if (!lapic_enabled(a))
            v |= CC_LAPIC_LVT_MASKED;
        if (lvt == CC_LVT_TIMER) {
            lapic_advance(a, now);      /* what was due, under the old entry */
            bool was_periodic = periodic(a);
            a->lvt[lvt] = v;
            if (periodic(a) != was_periodic)
                timer_rearm(a, now);
        } else {
            a->lvt[lvt] = v;
        }
        return;
    }
    switch (off) {
    case LAPIC_TPR:
        a->tpr = val & 0xff;
        break;
    case LAPIC_EOI:
        do_eoi(a, out);
        break;
    case LAPIC_LDR:
        a->ldr = val & LDR_WRITABLE;
        break;
    case LAPIC_DFR:
        a->dfr = val | DFR_FIXED;
        break;
    case LAPIC_SVR:
        lapic_advance(a, now);
        if (lapic_enabled(a) && !(val & SVR_ENABLE))
            for (int i = 0; i < CC_LAPIC_LVT_N; i++)
                a->lvt[i] |= CC_LAPIC_LVT_MASKED;
        a->svr = val & SVR_WRITABLE;
        break;
    case LAPIC_ESR:
        a->esr = a->esr_pending;
        a->esr_pending = 0;
        break;
    case LAPIC_ICR_LO:
        write_icr_lo(a, val, out);
        break;
    case LAPIC_ICR_HI:
        a->icr_hi = val & ICR_HI_WRITABLE;
        break;
    case LAPIC_TMICT:
        lapic_advance(a, now);
        a->tmict = val;
        a->timer_start = now;
        timer_rearm(a, now);
        break;
    case LAPIC_TDCR:
        lapic_advance(a, now);
        write_tdcr(a, now, val);
        break;
    default:
        set_error(a, ESR_ILLEGAL_REG);  /* a reserved slot */
        break;
    }
}

bool lapic_match_dest(const struct cc_lapic *a, uint8_t dest, bool logical)
{
    if (dest == 0xff)
        return true;
    if (!logical)
        return dest == (a->id & 0xff);
    uint8_t ldr = (uint8_t)(a->ldr >> 24);
    switch (a->dfr >> 28) {
    case 0xf:                                   /* flat: a bitmap */
        return (ldr & dest) != 0;
    case 0x0:                                   /* cluster: id, bitmap */
        return ((dest >> 4) == 0xf || (dest >> 4) == (ldr >> 4)) && (ldr & dest & 0xf);
    default:
        return false;
    }
}

/* ---- snapshots ---- */

void lapic_save(const struct cc_lapic *a, struct cc_buf *out)
{
    buf_put_u8(out, LAPIC_SAVE_VERSION);
    buf_put_u32(out, a->id);
    buf_put_bool(out, a->bsp);
    buf_put_u64(out, a->bus_hz);
    buf_put_u32(out, a->tpr);
    buf_put_u32(out, a->ldr);
    buf_put_u32(out, a->dfr);
    buf_put_u32(out, a->svr);
    buf_put_u32(out, a->esr);
    buf_put_u32(out, a->esr_pending);
    buf_put_u32(out, a->icr_lo);
    buf_put_u32(out, a->icr_hi);
    for (int i = 0; i < CC_LAPIC_LVT_N; i++)
        buf_put_u32(out, a->lvt[i]);
    for (int i = 0; i < 8; i++)
        buf_put_u32(out, a->isr[i]);
    for (int i = 0; i < 8; i++)
        buf_put_u32(out, a->tmr[i]);
    for (int i = 0; i < 8; i++)
        buf_put_u32(out, a->irr[i]);
    buf_put_u32(out, a->tdcr);
    buf_put_u32(out, a->tmict);
    buf_put_u64(out, a->timer_start);
    buf_put_u64(out, a->timer_deadline);
}

#define BAD(...) cc_err_set(err, EINVAL, "lapic: " __VA_ARGS__)

/* A timer deadline the model could have computed: none, or for a running
 * timer its one-shot expiry or a point of its periodic grid. */
static bool deadline_valid(const struct cc_lapic *a)
{
    if (a->timer_deadline == UINT64_MAX)
        return true;
    if (!a->tmict)
        return false;
    if (!periodic(a))
        return a->timer_deadline == tick_time(a, a->tmict);
    u128 k = ticks_at(a, a->timer_deadline) / a->tmict;
    return k >= 1 && tick_time(a, k * a->tmict) == a->timer_deadline;
}

static int check_vectors(const uint32_t r[8], const char *what, struct cc_err *err)
{
    if (r[0] & 0xffff)
        return BAD("%s has vector %d set (vectors 0-15 are never accepted; corrupt snapshot?)",
                   what, __builtin_ctz(r[0] & 0xffff));
    return 0;
}

static int check(const struct cc_lapic *t, uint8_t bsp, struct cc_err *err)
{
    if (t->id > 0xff)
        return BAD("id %u out of range (0-255)", t->id);
    if (bsp > 1)
        return BAD("bsp flag is %u, not a bool", bsp);
    if (t->bus_hz == 0 || t->bus_hz > CC_LAPIC_MAX_BUS_HZ)
        return BAD("bus_hz %llu out of range (1-%llu)", (unsigned long long)t->bus_hz,
                   (unsigned long long)CC_LAPIC_MAX_BUS_HZ);
    if (t->tpr & ~0xffu)
        return BAD("TPR 0x%x has reserved bits set", t->tpr);
    if (t->ldr & ~LDR_WRITABLE)
        return BAD("LDR 0x%x has reserved bits set", t->ldr);
    if ((t->dfr & DFR_FIXED) != DFR_FIXED)
        return BAD("DFR 0x%x: bits 0-27 must be 1", t->dfr);
    if (t->svr & ~SVR_WRITABLE)
        return BAD("SVR 0x%x has reserved bits set", t->svr);
    if (t->esr & ~ESR_BITS)
        return BAD("ESR 0x%x has reserved bits set", t->esr);
    if (t->esr_pending & ~ESR_BITS)
        return BAD("pending ESR 0x%x has reserved bits set", t->esr_pending);
    if (t->icr_lo & ~ICR_LO_WRITABLE)
        return BAD("ICR low 0x%x has reserved or read-only bits set", t->icr_lo);
    if (t->icr_hi & ~ICR_HI_WRITABLE)
        return BAD("ICR high 0x%x has reserved bits set", t->icr_hi);
    for (int i = 0; i < CC_LAPIC_LVT_N; i++) {
        if (t->lvt[i] & ~lvt_writable[i])
            return BAD("%s 0x%x has reserved or read-only bits set", lvt_name[i], t->lvt[i]);
        if (!(t->svr & SVR_ENABLE) && !(t->lvt[i] & CC_LAPIC_LVT_MASKED) &&
            i != CC_LVT_LINT0 && i != CC_LVT_LINT1)     /* lapic_virtual_wire */
            return BAD("%s 0x%x is unmasked while the APIC is software disabled", lvt_name[i],
                       t->lvt[i]);
    }
    int rc;
    if ((rc = check_vectors(t->isr, "ISR", err)) < 0 ||
        (rc = check_vectors(t->tmr, "TMR", err)) < 0 ||
        (rc = check_vectors(t->irr, "IRR", err)) < 0)
        return rc;
    if (t->tdcr & ~TDCR_WRITABLE)
        return BAD("TDCR 0x%x has reserved bits set", t->tdcr);
    if (!deadline_valid(t))
        return BAD("timer deadline %llu does not fit TMICT %u, TDCR 0x%x and start %llu "
                   "(corrupt snapshot?)", (unsigned long long)t->timer_deadline, t->tmict,
                   t->tdcr, (unsigned long long)t->timer_start);
    return 0;
}

int lapic_load(struct cc_lapic *a, struct cc_rd *in, struct cc_err *err)
{
    int version = rd_version(in, LAPIC_SAVE_VERSION, "lapic", err);
    if (version < 0)
        return version;

    struct cc_lapic t;
    memset(&t, 0, sizeof(t));
    t.id = rd_u32(in);
    uint8_t bsp = rd_u8(in);
    t.bsp = bsp == 1;
    t.bus_hz = rd_u64(in);
    t.tpr = rd_u32(in);
    t.ldr = rd_u32(in);
    t.dfr = rd_u32(in);
    t.svr = rd_u32(in);
    t.esr = rd_u32(in);
    t.esr_pending = rd_u32(in);
    t.icr_lo = rd_u32(in);
    t.icr_hi = rd_u32(in);
    for (int i = 0; i < CC_LAPIC_LVT_N; i++)
        t.lvt[i] = rd_u32(in);
    for (int i = 0; i < 8; i++)
        t.isr[i] = rd_u32(in);
    for (int i = 0; i < 8; i++)
        t.tmr[i] = rd_u32(in);
    for (int i = 0; i < 8; i++)
        t.irr[i] = rd_u32(in);
    t.tdcr = rd_u32(in);
    t.tmict = rd_u32(in);
    t.timer_start = rd_u64(in);
    t.timer_deadline = rd_u64(in);
    if (!rd_ok(in))
        return BAD("snapshot section truncated");
    int rc = check(&t, bsp, err);
    if (rc < 0)
        return rc;
    *a = t;
    return 0;
}
