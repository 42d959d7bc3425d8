/* Fuzz target: the legacy PC devices a guest drives with port I/O, wired
 * as on the VM's board: PIC pair (0x20/0x21, 0xa0/0xa1, ELCR 0x4d0/0x4d1),
 * PIT (0x40-0x43, 0x61) on IRQ0, UART 16550 (0x3f8-0x3ff) on IRQ4 with host
 * input queued and fed to it after every UART access (as vm.c's
 * serial_feed), and CMOS/RTC (0x70/0x71). Virtual time advances before each
 * operation, and the PIT is advanced after every clock step as the run loop
 * does.
 *
 * Input:
 *   byte 0        board: bits 0-1 RTC epoch (default, 0, year 9999, 2^64-1),
 *                 bits 2-3 RAM size reported in CMOS (64 MiB, 0, 3 GiB, 1 TiB)
 *   4 * N bytes   operations: opcode, arg, value, time step
 * The time step byte t advances the clock by (t & 31) << (5 * (t >> 5)) ns
 * (0 ns .. about 18 minutes) before the operation. Opcodes (op % 16):
 *   0, 11-15  write `value` to port[arg]      1  read port[arg]
 *   2  queue (value % 24) bytes of host input (arg, arg + 1, ...)
 *   3  INTA as the run loop does it (only when INTR is asserted, unless
 *      arg bit 0 asks for a spurious one)
 *   4  drive ISA line (one that no board device drives) to value & 1
 *   5  HLT: jump to the PIT's next IRQ0 deadline
 *   6  clock jump (cc_vm_clock_jump): every deadline up to a target, at most
 *      64 edges, the rest coalesced
 *   7  save all four devices, load into fresh devices and into the live
 *      ones: must load and reproduce identical state bytes
 *   8  load a corrupted (byte flipped, byte set, version changed) or
 *      truncated state into one device: a truncated or other-version state
 *      must be refused, a refusal must say why and leave the device
 *      unchanged; a corrupted state that loads is kept if arg bit 7 says
 *      so, else the previous state is loaded back
 *   9  cmos_shift by a signed amount (clock fault)
 *   10 the UART's host end echoes what the guest sends (on/off)
 *
 * Checked after every operation:
 * - every state saves and loads back to identical bytes;
 * - PIC: INTR agrees with a reference model of the 8259 priority logic;
 *   the slave's request shows in the master's IRR2; level lines' IRR
 *   follows the input; an INTA (tried on a copy) returns the vector of the
 *   line the model picks and sets its ISR bit (or none for a spurious one);
 * - PIT: the next IRQ0 deadline is in the future, and at that deadline
 *   channel 0's count is where the edge belongs (0 in one-shot modes, the
 *   reload value in periodic ones; one tick earlier it is not); a delivered
 *   tick latched IRR0; port 0x61 shows the gate and speaker bits;
 * - UART: the line level the PIC sees equals the UART's own and follows
 *   IIR, OUT2 and loopback; the sink is only told about changes; LSR.DR
 *   follows the FIFO; a THR write reaches the host exactly once (or the
 *   receiver in loopback);
 * - CMOS: while the clock runs its registers hold a valid date and time in
 *   the format register B asks for, the day of the week matches the date,
 *   the clock moves exactly with virtual time (unless clamped), UIP is set
 *   exactly in the last 244 us of a second, and a valid time field written
 *   reads back unchanged;
 * - unmapped ports read 0xff.
 * Once a corrupted state that loads is kept, only the save/load round trip
 * and crash freedom are checked, since such a state need not be one the
 * devices could reach. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/cmos.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/uart.h"
#include "fuzz_legacy.h"

#define MAX_OPS 1024
#define NS_PER_S 1000000000ull
#define MAX_WALL 253402300799ll     /* 9999-12-31T23:59:59Z, cmos.h */

struct board {
    struct cc_pic pic;
    struct cc_pit pit;
    struct cc_uart uart;
    struct cc_cmos cmos;
    uint64_t now;
    /* the UART's interrupt line as the sink saw it */
    int uart_line;
    /* host end of the serial line */
    uint8_t in[512];
    size_t in_len;
    bool echo;
    uint64_t tx_count;
    uint8_t tx_last;
    bool tainted;
};

/* ---- wiring ---- */

static void pit_irq(void *opaque, unsigned line, int level)
{
    struct board *b = opaque;
    if (line != 0)
        abort();
    pic_set_irq(&b->pic, line, level);
}

static void uart_irq(void *opaque, unsigned line, int level)
{
    struct board *b = opaque;
    if (line != 4 || level == b->uart_line)
        abort();        /* the UART only reports changes, on its own line */
    b->uart_line = level;
    pic_set_irq(&b->pic, line, level);
}

static void uart_tx(void *opaque, uint8_t byte)
{
    struct board *b = opaque;
    b->tx_count++;
    b->tx_last = byte;
    if (b->echo)
        uart_rx_push(&b->uart, &byte, 1);
}

static void serial_feed(struct board *b)
{
    size_t n = uart_rx_push(&b->uart, b->in, b->in_len);
    if (n > b->in_len)
        abort();
    memmove(b->in, b->in + n, b->in_len - n);
    b->in_len -= n;
}

static void board_init(struct board *b, uint8_t cfg)
{
    static const uint64_t epochs[4] = {CC_CMOS_DEFAULT_EPOCH, 0, 253402300000ull, UINT64_MAX};
    static const uint64_t mems[4] = {64ull << 20, 0, 3ull << 30, 1ull << 40};
    memset(b, 0, sizeof(*b));
    pic_init(&b->pic);
    pit_init(&b->pit, (struct cc_irq_sink){pit_irq, b}, 0);
    uart_init(&b->uart, (struct cc_irq_sink){uart_irq, b}, 4, uart_tx, b);
    cmos_init(&b->cmos, epochs[cfg & 3], mems[(cfg >> 2) & 3]);
}

/* ---- state bytes ---- */

typedef void (*save_fn)(const void *dev, struct cc_buf *out);
typedef int (*load_fn)(void *dev, struct cc_rd *in, struct cc_err *err);

static void save_pic(const void *d, struct cc_buf *o) { pic_save(d, o); }
static void save_pit(const void *d, struct cc_buf *o) { pit_save(d, o); }
static void save_uart(const void *d, struct cc_buf *o) { uart_save(d, o); }
static void save_cmos(const void *d, struct cc_buf *o) { cmos_save(d, o); }
static int load_pic(void *d, struct cc_rd *i, struct cc_err *e) { return pic_load(d, i, e); }
static int load_pit(void *d, struct cc_rd *i, struct cc_err *e) { return pit_load(d, i, e); }
static int load_uart(void *d, struct cc_rd *i, struct cc_err *e) { return uart_load(d, i, e); }
static int load_cmos(void *d, struct cc_rd *i, struct cc_err *e) { return cmos_load(d, i, e); }

static const struct {
    save_fn save;
    load_fn load;
    size_t size;
} devs[4] = {
    {save_pic, load_pic, sizeof(struct cc_pic)},
    {save_pit, load_pit, sizeof(struct cc_pit)},
    {save_uart, load_uart, sizeof(struct cc_uart)},
    {save_cmos, load_cmos, sizeof(struct cc_cmos)},
};

static void *dev_ptr(struct board *b, unsigned i)
{
    switch (i) {
    case 0: return &b->pic;
    case 1: return &b->pit;
    case 2: return &b->uart;
    default: return &b->cmos;
    }
}

static bool same_bytes(const struct cc_buf *a, const struct cc_buf *b)
{
    return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

static void save_or_die(unsigned i, const void *dev, struct cc_buf *out)
{
    buf_init(out);
    devs[i].save(dev, out);
    if (!buf_ok(out))
        abort();
}

/* Load `state` into dev; a saved state must load, and save again to the same
 * bytes. */
static void load_exact(unsigned i, void *dev, const struct cc_buf *state)
{
    struct cc_rd rd;
    struct cc_err err = {0};
    rd_init(&rd, state->data, state->len);
    if (devs[i].load(dev, &rd, &err) < 0) {
        fprintf(stderr, "fuzz_legacy: a saved state does not load: %s\n", err.msg);
        abort();
    }
    if (rd_left(&rd) != 0)
        abort();        /* the loader read the whole record */
    struct cc_buf again;
    save_or_die(i, dev, &again);
    if (!same_bytes(state, &again))
        abort();
    buf_free(&again);
}

/* Every device's state round-trips through a scratch device. */
static void check_roundtrip(struct board *b)
{
    for (unsigned i = 0; i < 4; i++) {
        struct cc_buf s;
        save_or_die(i, dev_ptr(b, i), &s);
        struct board scratch;
        board_init(&scratch, 0);
        load_exact(i, dev_ptr(&scratch, i), &s);
        buf_free(&s);
    }
}

static void op_saveload(struct board *b)
{
    for (unsigned i = 0; i < 4; i++) {
        struct cc_buf s;
        save_or_die(i, dev_ptr(b, i), &s);
        load_exact(i, dev_ptr(b, i), &s);
        buf_free(&s);
    }
    /* The owner's wiring survives a load. */
    if (b->pit.irq.set_irq != pit_irq || b->pit.irq.opaque != b ||
        b->uart.irq.set_irq != uart_irq || b->uart.irq.opaque != b ||
        b->uart.tx != uart_tx || b->uart.tx_opaque != b || b->uart.irq_line != 4)
        abort();
}

/* arg bits 0-1: device; 2-3: flip a byte, set a byte, change the version,
 * truncate; 4-6: the pattern; 7: keep a corrupted state that loads (else
 * the previous state is loaded back). val: where. */
static void op_loadbad(struct board *b, uint8_t arg, uint8_t val)
{
    unsigned i = arg % 4;
    void *dev = dev_ptr(b, i);
    struct cc_buf s;
    save_or_die(i, dev, &s);
    size_t len = s.len;
    bool truncated = false, version = false;
    uint8_t pat = (arg >> 4) & 7;
    switch ((arg >> 2) & 3) {
    case 0:
        s.data[val % s.len] ^= (uint8_t)(1u << pat);
        break;
    case 1:
        s.data[val % s.len] = (uint8_t)(pat * 37);
        break;
    case 2:
        s.data[0] = (uint8_t)(s.data[0] + 1 + pat);
        version = true;
        break;
    default:
        len = val % s.len;
        truncated = true;
        break;
    }
    struct cc_buf before;
    save_or_die(i, dev, &before);
    struct cc_rd rd;
    struct cc_err err = {0};
    rd_init(&rd, s.data, len);
    int rc = devs[i].load(dev, &rd, &err);
    struct cc_buf after;
    save_or_die(i, dev, &after);
    if (rc < 0) {
        if (!err.msg[0])
            abort();    /* refusals say why */
        if (!same_bytes(&before, &after))
            abort();    /* and change nothing */
    } else {
        if (truncated || version)
            abort();    /* fixed-size records: a prefix is never a state */
        if (!same_bytes(&before, &after)) {
            if (arg & 0x80)
                b->tainted = true;
            else
                load_exact(i, dev, &before);
        }
    }
    buf_free(&s);
    buf_free(&before);
    buf_free(&after);
    /* The UART's line level may have been restored to another value without
     * the sink being told (the PIC is restored separately): resync. */
    b->uart_line = b->uart.irq_level;
}

/* ---- PIC reference model ---- */

/* Line the chip delivers: scan from the highest priority; a line in service
 * (unless masked in special mask mode) blocks itself (a level line still
 * requesting) and everything below, except that in special fully nested
 * mode the master takes a new request on IR2 (the slave) while IR2 is in
 * service. */
static int ref_pending(const struct cc_pic_chip *c, bool master)
{
    uint8_t req = c->irr & (uint8_t)~c->imr;
    uint8_t busy = c->isr;
    if (c->special_mask)
        busy &= (uint8_t)~c->imr;
    for (int p = 0; p < 8; p++) {
        int irq = (p + c->priority_add) & 7;
        bool in_service = busy & (1u << irq);
        if ((req & (1u << irq)) &&
            (!in_service || (master && c->special_fully_nested && irq == 2)))
            return irq;
        if (in_service)
            return -1;
    }
    return -1;
}

static void check_pic(const struct cc_pic *pic)
{
    for (int i = 0; i < 2; i++) {
        const struct cc_pic_chip *c = &pic->chip[i];
        if ((c->vector_base & 7) || c->init_step > 3 || c->priority_add > 7 ||
            (c->elcr & ~c->elcr_mask) || ((c->irr ^ c->line_level) & c->elcr))
            abort();
    }
    const struct cc_pic_chip *m = &pic->chip[0], *s = &pic->chip[1];
    if (ref_pending(s, false) >= 0 && !(m->irr & 4))
        abort();        /* the slave's INT is wired to the master's IR2 */
    int irq = ref_pending(m, true);
    if (pic_intr(pic) != (irq >= 0))
        abort();

    /* INTA on a copy. */
    struct cc_pic cp = *pic;
    uint8_t v = pic_ack(&cp);
    const struct cc_pic_chip *m2 = &cp.chip[0], *s2 = &cp.chip[1];
    if (irq < 0) {
        if (v != (m->vector_base | 7) || m2->isr != m->isr || s2->isr != s->isr)
            abort();    /* spurious IRQ7: no ISR bit */
        return;
    }
    uint8_t bit = (uint8_t)(1u << irq);
    if (!m->auto_eoi && !(m2->isr & bit))
        abort();
    if ((m2->isr & ~m->isr & ~bit) || (m->auto_eoi && m2->isr != m->isr))
        abort();
    if (irq != 2 || m->single_mode) {
        if (v != (m->vector_base | irq) || s2->isr != s->isr)
            abort();
        if (!(m->elcr & bit) && (m2->irr & bit) && irq != 2)
            abort();    /* an edge request is consumed (IR2 follows the slave) */
        return;
    }
    int sirq = ref_pending(s, false);
    if (sirq < 0) {
        if (v != (s->vector_base | 7) || s2->isr != s->isr)
            abort();    /* spurious IRQ15 */
        return;
    }
    uint8_t sbit = (uint8_t)(1u << sirq);
    if (v != (s->vector_base | sirq) || (s2->isr & ~s->isr & ~sbit) ||
        (!s->auto_eoi && !(s2->isr & sbit)) || (s->auto_eoi && s2->isr != s->isr))
        abort();
}

/* ---- PIT ---- */

/* Channel ch's count at time t, read through the ports on a copy (counter
 * latch, then the bytes the access mode gives). *mask: the bits read. */
static uint16_t pit_count(const struct cc_pit *pit, int ch, uint64_t t, uint16_t *mask)
{
    struct cc_pit cp = *pit;
    cp.irq = (struct cc_irq_sink){0};
    cp.ch[ch].latched = false;
    cp.ch[ch].status_latched = false;
    pit_write(&cp, t, 0x43, (uint8_t)(ch << 6));
    uint16_t lo = 0, hi = 0;
    switch (cp.ch[ch].access) {
    case 1:
        lo = pit_read(&cp, t, (uint16_t)(0x40 + ch));
        *mask = 0x00ff;
        break;
    case 2:
        hi = pit_read(&cp, t, (uint16_t)(0x40 + ch));
        *mask = 0xff00;
        break;
    default:
        lo = pit_read(&cp, t, (uint16_t)(0x40 + ch));
        hi = pit_read(&cp, t, (uint16_t)(0x40 + ch));
        *mask = 0xffff;
        break;
    }
    return (uint16_t)(hi << 8 | lo);
}

static void check_pit(const struct board *b)
{
    const struct cc_pit *pit = &b->pit;
    uint64_t dl = pit_next_deadline(pit);
    if (dl != UINT64_MAX && dl <= b->now)
        abort();        /* a due edge was not delivered */
    const struct cc_pit_channel *ch = &pit->ch[0];
    if (dl != UINT64_MAX && ch->counting) {
        uint16_t mask, c = pit_count(pit, 0, dl, &mask);
        uint16_t before = pit_count(pit, 0, dl - 1, &mask);
        switch (ch->mode) {
        case 0:
        case 4:
            if ((c & mask) != 0 || (before & mask) != (1 & mask))
                abort();
            break;
        case 2:
            if ((c & mask) != ((uint16_t)ch->reload & mask) ||
                (ch->reload > 1 && (before & mask) != (1 & mask)))
                abort();
            break;
        case 3:
            if ((c & mask) != ((uint16_t)ch->reload & mask))
                abort();
            break;
        default:
            abort();    /* modes 1 and 5 never run on channel 0 (gate tied high) */
        }
    }
    struct cc_pit cp = *pit;
    cp.irq = (struct cc_irq_sink){0};
    uint8_t p61 = pit_read(&cp, b->now, 0x61);
    if (!!(p61 & 1) != pit->ch[2].gate || !!(p61 & 2) != pit->speaker_data)
        abort();
}

/* Clock step, then the PIT catches up as the run loop does. */
static void step_to(struct board *b, uint64_t t)
{
    b->now = t;
    if (pit_advance(&b->pit, t) && !b->tainted && !(b->pic.chip[0].irr & 1))
        abort();        /* the tick's edge latched IRR0 */
}

/* ---- UART ---- */

static void check_uart(const struct board *b)
{
    const struct cc_uart *u = &b->uart;
    if (u->irq_level != b->uart_line)
        abort();
    bool on = u->iir_pending != 0x01 && (u->mcr & 0x08) && !(u->mcr & 0x10);
    if (u->irq_level != on)
        abort();
    unsigned cap = (u->fcr & 1) ? CC_UART_FIFO : 1;
    if (u->rx_count > cap || !!(u->lsr & 1) != (u->rx_count != 0) ||
        (u->lsr & 0x60) != 0x60 || u->rx_head >= CC_UART_FIFO)
        abort();
    /* IIR read on a copy (disconnected) shows the pending identification. */
    struct cc_uart cp = *u;
    cp.irq = (struct cc_irq_sink){0};
    cp.tx = NULL;
    uint8_t iir = uart_read(&cp, 2);
    if ((iir & 0x0f) != u->iir_pending || (iir & 0xc0) != ((u->fcr & 1) ? 0xc0 : 0))
        abort();
}

/* ---- CMOS ---- */

static uint8_t cmos_peek(const struct cc_cmos *c, uint64_t now, uint8_t reg)
{
    struct cc_cmos cp = *c;
    cmos_write(&cp, now, 0x70, reg);
    return cmos_read(&cp, now, 0x71);
}

/* Decode a field; -1 if it is not a valid encoding. */
static int field(const struct cc_cmos *c, uint8_t raw)
{
    if (c->ram[0x0b] & 0x04)
        return raw;
    if ((raw & 0x0f) > 9 || (raw >> 4) > 9)
        return -1;
    return (raw >> 4) * 10 + (raw & 0x0f);
}

/* Days from 1970-01-01 to y-m-d (a valid date), counted with leap years
 * before y (independent of cmos.c's era arithmetic). */
static int64_t days_civil(int64_t y, int m, int d)
{
    int64_t leaps = ((y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400) - (1969 / 4 - 1969 / 100 + 1969 / 400);
    int64_t days = 365 * (y - 1970) + leaps;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    for (int mm = 1; mm < m; mm++)
        days += mdays[mm - 1] + (mm == 2 && leap);
    return days + d - 1;
}

/* The wall clock the registers show at `now`, or -1 while SET freezes it.
 * Aborts on an invalid date or time. */
static int64_t cmos_wall(const struct cc_cmos *c, uint64_t now)
{
    uint8_t b = c->ram[0x0b];
    if (b & 0x80)
        return -1;
    int sec = field(c, cmos_peek(c, now, 0x00));
    int min = field(c, cmos_peek(c, now, 0x02));
    uint8_t hraw = cmos_peek(c, now, 0x04);
    int hour;
    if (b & 0x02) {
        hour = field(c, hraw);
        if (hour < 0 || hour > 23)
            abort();
    } else {
        int h12 = field(c, hraw & 0x7f);
        if (h12 < 1 || h12 > 12)
            abort();
        hour = h12 % 12 + ((hraw & 0x80) ? 12 : 0);
    }
    int wday = field(c, cmos_peek(c, now, 0x06));
    int mday = field(c, cmos_peek(c, now, 0x07));
    int mon = field(c, cmos_peek(c, now, 0x08));
    int year = field(c, cmos_peek(c, now, 0x09));
    int cent = field(c, cmos_peek(c, now, 0x32));
    if (sec < 0 || sec > 59 || min < 0 || min > 59 || mon < 1 || mon > 12 || year < 0 ||
        year > 99 || cent < 19 || cent > 99 || wday < 1 || wday > 7 || mday < 1)
        abort();
    int64_t y = (int64_t)cent * 100 + year;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    if (y < 1970 || mday > mdays[mon - 1] + (mon == 2 && leap))
        abort();
    int64_t days = days_civil(y, mon, mday);
    if ((days + 4) % 7 + 1 != wday)
        abort();        /* 1970-01-01 was a Thursday; Sunday is 1 */
    uint8_t a = cmos_peek(c, now, 0x0a);
    if (!!(a & 0x80) != (now % NS_PER_S >= NS_PER_S - 244000))
        abort();
    return days * 86400 + hour * 3600 + min * 60 + sec;
}

/* Is val a valid encoding of time register reg in the current format (only
 * fields that read back unchanged whatever the rest of the date is)? */
static bool valid_field(const struct cc_cmos *c, uint8_t reg, uint8_t val)
{
    switch (reg) {
    case 0x00:
    case 0x02: {
        int v = field(c, val);
        return v >= 0 && v <= 59;
    }
    case 0x04:
        if (c->ram[0x0b] & 0x02) {
            int v = field(c, val);
            return v >= 0 && v <= 23;
        } else {
            int v = field(c, val & 0x7f);
            return v >= 1 && v <= 12;
        }
    case 0x07: {
        int v = field(c, val);
        return v >= 1 && v <= 28;
    }
    default:
        return false;
    }
}

/* What register reg reads right after the guest wrote val to it. */
static void check_cmos_write(const struct cc_cmos *c, uint64_t now, uint8_t reg, uint8_t val)
{
    uint8_t got = cmos_peek(c, now, reg), want;
    bool frozen = c->ram[0x0b] & 0x80;
    switch (reg) {
    case 0x00: case 0x02: case 0x04: case 0x06: case 0x07: case 0x08: case 0x09: case 0x32:
        if (!frozen && !valid_field(c, reg, val))
            return;     /* carries into other fields, or the weekday */
        want = val;     /* frozen: plain bytes */
        break;
    case 0x0a:
        want = (uint8_t)((val & 0x7f) | (got & 0x80));
        if ((got & 0x80) && (frozen || now % NS_PER_S < NS_PER_S - 244000))
            abort();    /* UIP only while the clock runs, near a second */
        break;
    case 0x0b:
        want = (val & 0x80) ? (uint8_t)(val & ~0x10) : val;     /* SET clears UIE */
        break;
    case 0x0c:
        want = 0;
        break;
    case 0x0d:
        want = 0x80;
        break;
    default:
        want = val;     /* NVRAM */
        break;
    }
    if (got != want)
        abort();
}

/* ---- the run ---- */

static uint8_t port_read(struct board *b, uint16_t port)
{
    uint8_t v;
    switch (port) {
    case 0x20: case 0x21: case 0xa0: case 0xa1: case 0x4d0: case 0x4d1: case 0x22:
        v = pic_read(&b->pic, port);
        if (port == 0x22 && v != 0xff)
            abort();
        return v;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x61: case 0x44:
        v = pit_read(&b->pit, b->now, port);
        if ((port == 0x43 || port == 0x44) && v != 0xff)
            abort();
        return v;
    case 0x70: case 0x71: case 0x72:
        v = cmos_read(&b->cmos, b->now, port);
        if (port != 0x71 && v != 0xff)
            abort();
        return v;
    default:
        v = uart_read(&b->uart, (uint16_t)(port - 0x3f8));
        serial_feed(b);
        if (port >= 0x400 && v != 0xff)
            abort();
        return v;
    }
}

static void port_write(struct board *b, uint16_t port, uint8_t val)
{
    switch (port) {
    case 0x20: case 0x21: case 0xa0: case 0xa1: case 0x4d0: case 0x4d1: case 0x22:
        pic_write(&b->pic, port, val);
        break;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x61: case 0x44:
        pit_write(&b->pit, b->now, port, val);
        break;
    case 0x70: case 0x71: case 0x72: {
        uint8_t reg = b->cmos.index;
        cmos_write(&b->cmos, b->now, port, val);
        if (port == 0x71 && !b->tainted)
            check_cmos_write(&b->cmos, b->now, reg, val);
        break;
    }
    default: {
        struct cc_uart *u = &b->uart;
        bool thr = port == 0x3f8 && !(u->lcr & 0x80);
        bool loop = u->mcr & 0x10;
        uint64_t sent = b->tx_count;
        uint8_t rx = u->rx_count;
        uart_write(u, (uint16_t)(port - 0x3f8), val);
        if (!b->tainted && thr) {
            if (loop ? b->tx_count != sent : b->tx_count != sent + 1 || b->tx_last != val)
                abort();
            unsigned cap = (u->fcr & 1) ? CC_UART_FIFO : 1;
            if (loop && (rx < cap ? u->rx_count != rx + 1 : !(u->lsr & 0x02)))
                abort();    /* loopback: received, or an overrun */
        }
        serial_feed(b);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 1)
        return 0;
    static struct board b;
    board_init(&b, data[0]);
    size_t nops = (len - 1) / 4;
    if (nops > MAX_OPS)
        nops = MAX_OPS;
    const uint8_t *p = data + 1;
    int64_t wall = cmos_wall(&b.cmos, 0);
    for (size_t i = 0; i < nops; i++, p += 4) {
        uint8_t op = p[0] % 16, arg = p[1], val = p[2], dt = p[3];
        uint64_t prev = b.now;
        step_to(&b, b.now + ((uint64_t)(dt & 31) << (5 * (dt >> 5))));
        bool rtc_touched = false;
        switch (op) {
        case LEG_READ:
            port_read(&b, leg_ports[arg % 32]);
            break;
        case LEG_HOST_RX: {
            size_t n = val % 24;
            if (n > sizeof(b.in) - b.in_len)
                n = sizeof(b.in) - b.in_len;
            for (size_t k = 0; k < n; k++)
                b.in[b.in_len + k] = (uint8_t)(arg + k);
            b.in_len += n;
            serial_feed(&b);
            break;
        }
        case LEG_INTA:
            if (pic_intr(&b.pic) || (arg & 1))
                pic_ack(&b.pic);
            break;
        case LEG_IRQ: {
            static const uint8_t lines[14] = {1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
            pic_set_irq(&b.pic, lines[arg % 14], val & 1);
            break;
        }
        case LEG_HLT: {
            uint64_t dl = pit_next_deadline(&b.pit);
            if (dl != UINT64_MAX && dl > b.now && dl - b.now <= 60 * NS_PER_S)
                step_to(&b, dl);
            break;
        }
        case LEG_JUMP: {
            uint64_t target = b.now + ((uint64_t)val << (5 * (arg & 7)));
            for (int edges = 0; edges < 64; edges++) {
                uint64_t dl = pit_next_deadline(&b.pit);
                if (dl > target)
                    break;
                step_to(&b, dl);
            }
            step_to(&b, target);
            break;
        }
        case LEG_SAVELOAD:
            op_saveload(&b);
            rtc_touched = true;
            break;
        case LEG_LOADBAD:
            op_loadbad(&b, arg, val);
            rtc_touched = true;
            break;
        case LEG_RTC_SHIFT:
            cmos_shift(&b.cmos, (int64_t)(int8_t)val * ((int64_t)1 << (arg % 56)));
            rtc_touched = true;
            break;
        case LEG_ECHO:
            b.echo = arg & 1;
            break;
        default: {
            uint16_t port = leg_ports[arg % 32];
            port_write(&b, port, val);
            if (port == 0x71 || port == 0x72)
                rtc_touched = true;
            break;
        }
        }

        check_roundtrip(&b);
        if (b.tainted)
            continue;
        check_pic(&b.pic);
        check_pit(&b);
        check_uart(&b);
        int64_t w = cmos_wall(&b.cmos, b.now);
        if (!rtc_touched && w >= 0 && wall >= 0 && w > 0 && w < MAX_WALL && wall > 0 &&
            wall < MAX_WALL &&
            w - wall != (int64_t)(b.now / NS_PER_S) - (int64_t)(prev / NS_PER_S))
            abort();    /* the clock moves exactly with virtual time */
        wall = w;
    }
#ifdef FUZZ_VERBOSE
    fprintf(stderr, "ops %zu, now %llu ns, tainted %d, tx %llu, host input left %zu\n", nops,
            (unsigned long long)b.now, b.tainted, (unsigned long long)b.tx_count, b.in_len);
    fprintf(stderr, "pic irr %02x/%02x isr %02x/%02x imr %02x/%02x base %02x/%02x, pit ch0 "
            "mode %u reload %u counting %d next %llu, uart ier %02x iir %02x rx %u, "
            "cmos wall %lld\n", b.pic.chip[0].irr, b.pic.chip[1].irr, b.pic.chip[0].isr,
            b.pic.chip[1].isr, b.pic.chip[0].imr, b.pic.chip[1].imr, b.pic.chip[0].vector_base,
            b.pic.chip[1].vector_base, b.pit.ch[0].mode, b.pit.ch[0].reload,
            b.pit.ch[0].counting, (unsigned long long)b.pit.next_irq_ns, b.uart.ier,
            b.uart.iir_pending, b.uart.rx_count, (long long)wall);
#endif
    return 0;
}
