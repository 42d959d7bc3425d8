/* Unit tests for the I/O APIC (src/devices/ioapic.h): the register window,
 * edge and level pins, remote IRR and EOI, masking and unmasking while a
 * level pin is asserted, trigger-mode changes, message fields, no routing,
 * the irq sink adapter, snapshot round trip (routing untouched) and every
 * load error, and a seeded random-operations robustness run. */
#include <errno.h>

#include "../tap.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"

struct log {
    struct cc_ioapic_msg m[64];
    int n;
};

static void record(void *opaque, const struct cc_ioapic_msg *m)
{
    struct log *l = opaque;
    if (l->n < 64)
        l->m[l->n] = *m;
    l->n++;
}

static void setup(struct cc_ioapic *io, struct log *l)
{
    memset(l, 0, sizeof(*l));
    ioapic_init(io, 2);
    io->deliver = record;
    io->opaque = l;
}

static uint32_t rd(struct cc_ioapic *io, uint8_t idx)
{
    ioapic_write(io, 0x00, idx);
    return ioapic_read(io, 0x10);
}

static void wr(struct cc_ioapic *io, uint8_t idx, uint32_t val)
{
    ioapic_write(io, 0x00, idx);
    ioapic_write(io, 0x10, val);
}

/* Program pin's entry: low word, then destination. Linux writes the high
 * word first and the low word last (ioapic_write_entry); so do we. */
static void program(struct cc_ioapic *io, unsigned pin, uint32_t lo, uint8_t dest)
{
    wr(io, (uint8_t)(0x11 + 2 * pin), (uint32_t)dest << 24);
    wr(io, (uint8_t)(0x10 + 2 * pin), lo);
}

#define LEVEL (1u << 15)
#define MASKED (1u << 16)
#define REMOTE_IRR (1u << 14)

static void test_registers(void)
{
    struct cc_ioapic io;
    struct log l;
    setup(&io, &l);
    is_u64(rd(&io, 0x00), 2u << 24, "ID register");
    is_u64(rd(&io, 0x01), 0x00170011, "version: 24 entries, 0x11");
    is_u64(rd(&io, 0x02), 2u << 24, "arbitration ID");
    ioapic_write(&io, 0x00, 0x12);
    is_u64(ioapic_read(&io, 0x00), 0x12, "IOREGSEL reads back");
    ioapic_write(&io, 0x00, 0x1234);
    is_u64(ioapic_read(&io, 0x00), 0x34, "IOREGSEL is 8 bits");
    int all = 1;
    for (unsigned p = 0; p < CC_IOAPIC_PINS; p++)
        if (rd(&io, (uint8_t)(0x10 + 2 * p)) != MASKED || rd(&io, (uint8_t)(0x11 + 2 * p)) != 0)
            all = 0;
    ok(all, "every entry masked at power-on");
    ok(rd(&io, 0x03) == 0 && rd(&io, 0x0f) == 0 && rd(&io, 0x40) == 0 && rd(&io, 0xff) == 0,
       "unused indices read 0");
    ok(ioapic_read(&io, 0x04) == 0 && ioapic_read(&io, 0x20) == 0 &&
       ioapic_read(&io, 0x40) == 0, "other offsets read 0");

    wr(&io, 0x00, 0xfaffffff);
    is_u64(rd(&io, 0x00), 0x0a000000, "ID bits 24-27 writable");
    wr(&io, 0x01, 0);
    wr(&io, 0x02, 0);
    ok(rd(&io, 0x01) == 0x00170011 && rd(&io, 0x02) == 0x0a000000,
       "version and arbitration are read-only");
    wr(&io, 0x40, 0xffffffff);
    wr(&io, 0x12, 0xffffffff);
    is_u64(rd(&io, 0x12), 0x1afff, "low word: read-only (delivery status, remote IRR) and "
           "reserved bits not writable");
    wr(&io, 0x13, 0xffffffff);
    is_u64(rd(&io, 0x13), 0xff000000, "high word: only the destination");
    ioapic_write(&io, 0x00, 0x12);
    ioapic_write(&io, 0x14, 0);
    ioapic_write(&io, 0x20, 0);
    is_u64(rd(&io, 0x12), 0x1afff, "writes at other offsets are ignored");
    is_int(l.n, 0, "no messages from register writes of masked entries");

    struct cc_ioapic b;
    ioapic_init(&b, 0x1f);
    is_int(b.id, 0xf, "ID taken modulo 16");
}

static void test_edge(void)
{
    struct cc_ioapic io;
    struct log l;
    setup(&io, &l);
    program(&io, 1, 0x31, 0x01);
    ioapic_set_irq(&io, 1, 1);
    is_int(l.n, 1, "rising edge sends");
    ok(l.m[0].vector == 0x31 && l.m[0].delivery == CC_DM_FIXED && !l.m[0].logical &&
       !l.m[0].level && l.m[0].dest == 1, "message fields");
    ioapic_set_irq(&io, 1, 1);
    is_int(l.n, 1, "staying high sends nothing");
    is_u64(rd(&io, 0x12) & (REMOTE_IRR | (1u << 12)), 0, "no remote IRR, delivery status 0");
    ioapic_set_irq(&io, 1, 0);
    ioapic_set_irq(&io, 1, 1);
    is_int(l.n, 2, "next edge sends again");
    ioapic_eoi(&io, 0x31);
    is_int(l.n, 2, "an EOI does not resend an edge pin");

    wr(&io, 0x12, MASKED | 0x31);
    ioapic_set_irq(&io, 1, 0);
    ioapic_set_irq(&io, 1, 1);
    is_int(l.n, 2, "masked edge is lost");
    wr(&io, 0x12, 0x31);
    is_int(l.n, 2, "unmasking an edge pin that is high sends nothing");

    program(&io, 4, 0x0900 | 0x0800 | 0x2000 | 0x44, 0x0f);   /* lowest prio, logical, active low */
    ioapic_sink_set_irq(&io, 4, 1);
    ok(l.n == 3 && l.m[2].vector == 0x44 && l.m[2].delivery == CC_DM_LOWEST &&
       l.m[2].logical && l.m[2].dest == 0x0f, "lowest priority, logical (through the sink)");
    ioapic_set_irq(&io, 24, 1);
    ioapic_set_irq(&io, 1000, 1);
    is_int(l.n, 3, "pins >= 24 are ignored");
    ok(!(io.level & ~0xffffffu), "and leave no level bit");
}

static void test_level(void)
{
    struct cc_ioapic io;
    struct log l;
    setup(&io, &l);
    program(&io, 9, LEVEL | 0x39, 0);
    ioapic_set_irq(&io, 9, 1);
    ok(l.n == 1 && l.m[0].level && l.m[0].vector == 0x39, "level pin sends, level trigger");
    ok(rd(&io, 0x22) & REMOTE_IRR, "remote IRR set");
    ioapic_set_irq(&io, 9, 1);
    is_int(l.n, 1, "no resend while remote IRR is set");
    ioapic_eoi(&io, 0x38);
    ok(l.n == 1 && (rd(&io, 0x22) & REMOTE_IRR), "EOI of another vector: nothing");
    ioapic_eoi(&io, 0x39);
    is_int(l.n, 2, "EOI with the pin still high resends");
    ok(rd(&io, 0x22) & REMOTE_IRR, "remote IRR set again");
    ioapic_set_irq(&io, 9, 0);
    ok(rd(&io, 0x22) & REMOTE_IRR, "lowering the pin keeps remote IRR");
    ioapic_eoi(&io, 0x39);
    ok(l.n == 2 && !(rd(&io, 0x22) & REMOTE_IRR), "EOI with the pin low: cleared, no send");
    ioapic_set_irq(&io, 9, 1);
    is_int(l.n, 3, "raised again: sends");

    /* writes cannot touch remote IRR */
    wr(&io, 0x22, LEVEL | 0x39);
    ok(l.n == 3 && (rd(&io, 0x22) & REMOTE_IRR), "rewriting the entry keeps remote IRR");
    /* masked while high, EOI, unmask: sends */
    wr(&io, 0x22, LEVEL | MASKED | 0x39);
    ioapic_eoi(&io, 0x39);
    ok(l.n == 3 && !(rd(&io, 0x22) & REMOTE_IRR), "masked: EOI clears, nothing sent");
    wr(&io, 0x22, LEVEL | 0x39);
    is_int(l.n, 4, "unmasking a high level pin with remote IRR clear sends");
    /* unmasking while remote IRR is set does not */
    wr(&io, 0x22, LEVEL | MASKED | 0x39);
    wr(&io, 0x22, LEVEL | 0x39);
    is_int(l.n, 4, "unmasking with remote IRR set: nothing");
    /* masked level pin raised: nothing until unmasked */
    program(&io, 10, LEVEL | MASKED | 0x3a, 0);
    ioapic_set_irq(&io, 10, 1);
    is_int(l.n, 4, "masked level pin: nothing");
    ioapic_set_irq(&io, 10, 0);
    wr(&io, 0x24, LEVEL | 0x3a);
    is_int(l.n, 4, "unmasked after it went low: nothing");

    /* switching to edge clears remote IRR; back to level while high sends */
    wr(&io, 0x22, 0x39);
    ok(!(rd(&io, 0x22) & REMOTE_IRR), "edge entry: remote IRR cleared");
    is_int(l.n, 4, "no send on the switch to edge");
    wr(&io, 0x22, LEVEL | 0x39);
    ok(l.n == 5 && (rd(&io, 0x22) & REMOTE_IRR), "switch to level while high: sends");

    /* two entries sharing a vector: one EOI serves both */
    program(&io, 11, LEVEL | 0x50, 0);
    program(&io, 12, LEVEL | 0x50, 1);
    ioapic_set_irq(&io, 11, 1);
    ioapic_set_irq(&io, 12, 1);
    is_int(l.n, 7, "both shared pins send");
    ioapic_set_irq(&io, 11, 0);
    ioapic_eoi(&io, 0x50);
    ok(l.n == 8 && l.m[7].dest == 1 && !(rd(&io, 0x26) & REMOTE_IRR) &&
       (rd(&io, 0x28) & REMOTE_IRR), "EOI: the low one clears, the high one resends");

    /* no routing: the state machine runs, nothing is called */
    io.deliver = NULL;
    ioapic_set_irq(&io, 12, 0);
    ioapic_eoi(&io, 0x50);
    ioapic_set_irq(&io, 12, 1);
    ok(l.n == 8 && (rd(&io, 0x28) & REMOTE_IRR), "deliver NULL: remote IRR set, no call");
}

static void save(const struct cc_ioapic *io, struct cc_buf *b)
{
    buf_init(b);
    ioapic_save(io, b);
}

static bool same_state(const struct cc_ioapic *a, const struct cc_ioapic *b)
{
    struct cc_buf x, y;
    save(a, &x);
    save(b, &y);
    bool same = buf_ok(&x) && buf_ok(&y) && x.len == y.len && !memcmp(x.data, y.data, x.len);
    buf_free(&x);
    buf_free(&y);
    return same;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void test_snapshot(void)
{
    struct cc_ioapic a, b;
    struct log la, lb;
    setup(&a, &la);
    setup(&b, &lb);
    b.id = 7;
    program(&a, 2, 0x30, 0);
    program(&a, 9, LEVEL | 0x39, 3);
    program(&a, 14, MASKED | LEVEL | 0x3e, 0);
    ioapic_set_irq(&a, 9, 1);
    ioapic_set_irq(&a, 14, 1);
    ioapic_write(&a, 0x00, 0x21);

    struct cc_buf buf;
    save(&a, &buf);
    ok(buf_ok(&buf) && buf.len == 8 + 8 * CC_IOAPIC_PINS, "save produced %zu bytes", buf.len);
    struct cc_rd rd;
    struct cc_err err = {0};
    rd_init(&rd, buf.data, buf.len);
    is_int(ioapic_load(&b, &rd, &err), 0, "load succeeds");
    is_int(rd_left(&rd), 0, "whole section consumed");
    ok(same_state(&a, &b) && b.id == 2 && b.sel == 0x21, "loaded state equals saved state");
    ok(b.deliver == record && b.opaque == &lb, "routing untouched by the load");
    ioapic_eoi(&a, 0x39);
    ioapic_eoi(&b, 0x39);
    wr(&a, 0x2c, LEVEL | 0x3e);
    wr(&b, 0x2c, LEVEL | 0x3e);
    ok(la.n == 3 && lb.n == 2 && !memcmp(&la.m[1], &lb.m[0], 2 * sizeof(la.m[0])),
       "identical behaviour after load");

    struct cc_ioapic before = b;
    int all = 1;
    for (size_t n = 0; n < buf.len; n++) {
        rd_init(&rd, buf.data, n);
        memset(&err, 0, sizeof(err));
        if (ioapic_load(&b, &rd, &err) != -EINVAL || !strstr(err.msg, "ioapic: ") ||
            !strstr(err.msg, "truncated") || memcmp(&b, &before, sizeof(b)))
            all = 0;
    }
    ok(all, "every truncation is refused, state untouched");

    uint8_t *bad = malloc(buf.len);
    memcpy(bad, buf.data, buf.len);
    bad[0] = 9;
    rd_init(&rd, bad, buf.len);
    is_int(ioapic_load(&b, &rd, &err), -EINVAL, "newer version refused");
    ok(strstr(err.msg, "ioapic") && strstr(err.msg, "version 9"), "message: %s", err.msg);

    static const struct {
        size_t off;
        int width;
        uint64_t val;
        const char *what;
    } cases[] = {
        {1, 1, 0x10, "ID 16"},
        {3, 1, 23, "23 pins"},
        {3, 1, 255, "255 pins"},
        {4, 4, 1u << 24, "pin levels"},
        {8 + 8 * 3, 8, 0x1000 | MASKED, "redirection entry 3"},         /* delivery status */
        {8 + 8 * 3, 8, 0x20000 | MASKED, "redirection entry 3"},        /* bit 17 */
        {8 + 8 * 5, 8, 1ull << 40 | MASKED, "redirection entry 5"},     /* bits 32-55 */
        {8 + 8 * 23, 8, REMOTE_IRR | 0x30, "remote IRR"},               /* on an edge entry */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, buf.data, buf.len);
        if (cases[i].width == 1)
            bad[cases[i].off] = (uint8_t)cases[i].val;
        else if (cases[i].width == 4)
            for (int k = 0; k < 4; k++)
                bad[cases[i].off + k] = (uint8_t)(cases[i].val >> (8 * k));
        else
            put64(bad + cases[i].off, cases[i].val);
        rd_init(&rd, bad, buf.len);
        memset(&err, 0, sizeof(err));
        int r = ioapic_load(&b, &rd, &err);
        ok(r == -EINVAL && strstr(err.msg, "ioapic: ") && strstr(err.msg, cases[i].what) &&
           !memcmp(&b, &before, sizeof(b)), "%s refused: %s", cases[i].what, err.msg);
    }
    memcpy(bad, buf.data, buf.len);
    put64(bad + 8 + 8 * 7, REMOTE_IRR | LEVEL | MASKED | 0xff000000ull << 32 | 0x2fff);
    rd_init(&rd, bad, buf.len);
    is_int(ioapic_load(&b, &rd, &err), 0, "every writable bit plus remote IRR on a level entry loads");
    free(bad);
    buf_free(&buf);
}

/* A random run with a model of when messages must go out. */
static void test_random(void)
{
    struct cc_ioapic io, q;
    struct log l;
    setup(&io, &l);
    uint64_t x = 0x243f6a8885a308d3ull;
    const char *why = NULL;
    long sent = 0;
    for (int i = 0; i < 100000 && !why; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        unsigned pin = (unsigned)(x >> 10) % 26;
        l.n = 0;
        uint64_t e = pin < CC_IOAPIC_PINS ? io.redir[pin] : 0;
        bool was_high = pin < CC_IOAPIC_PINS && ((io.level >> pin) & 1);
        switch ((x >> 4) % 6) {
        case 0: {
            uint32_t v = (uint32_t)(x >> 32);
            if (x & 0x100)
                v &= ~MASKED;
            uint8_t idx = (x & 0x200) ? (uint8_t)(0x10 + (x >> 40) % 52) : (uint8_t)(x >> 40);
            wr(&io, idx, v);
            break;
        }
        case 1:
            (void)rd(&io, (uint8_t)(x >> 40));
            break;
        case 2:
        case 3: {
            int level = (x >> 50) & 1;
            ioapic_set_irq(&io, pin, level);
            if (pin >= CC_IOAPIC_PINS) {
                if (l.n)
                    why = "a pin >= 24 sent";
                break;
            }
            bool want = !(e & MASKED) && level &&
                        ((e & LEVEL) ? !(e & REMOTE_IRR) : !was_high);
            if (l.n != (int)want)
                why = "set_irq sent the wrong number of messages";
            else if (want && (l.m[0].vector != (uint8_t)e || l.m[0].level != !!(e & LEVEL)))
                why = "message fields";
            break;
        }
        case 4: {
            uint8_t vec = (x & 0x400) && pin < CC_IOAPIC_PINS ? (uint8_t)e : (uint8_t)(x >> 24);
            int want = 0;
            for (unsigned p = 0; p < CC_IOAPIC_PINS; p++) {
                uint64_t f = io.redir[p];
                want += (uint8_t)f == vec && (f & LEVEL) && !(f & MASKED) &&
                        ((io.level >> p) & 1);
            }
            ioapic_eoi(&io, vec);
            if (l.n != want)
                why = "EOI resent the wrong number of messages";
            break;
        }
        default:
            (void)ioapic_read(&io, (x >> 30) & 0xff);
            ioapic_write(&io, (x >> 30) & 0x1f, (uint32_t)(x >> 8));
            break;
        }
        sent += l.n;
        for (unsigned p = 0; p < CC_IOAPIC_PINS && !why; p++) {
            uint64_t f = io.redir[p];
            if ((f & REMOTE_IRR) && !(f & LEVEL))
                why = "remote IRR on an edge entry";
            else if ((f & LEVEL) && !(f & (MASKED | REMOTE_IRR)) && ((io.level >> p) & 1))
                why = "a deliverable level pin was not sent";
            else if (f & 0x00fffffffffe1000ull)
                why = "reserved bits set";
        }
        if (i % 991 == 0 && !why) {
            struct cc_buf b;
            struct cc_rd r;
            struct cc_err err = {0};
            save(&io, &b);
            rd_init(&r, b.data, b.len);
            ioapic_init(&q, 0);
            if (ioapic_load(&q, &r, &err) != 0 || !same_state(&io, &q)) {
                why = "snapshot does not reload";
                tap_diag("%s", err.msg);
            }
            buf_free(&b);
        }
    }
    if (why)
        tap_diag("broken: %s", why);
    ok(!why, "100k random operations agree with the model, snapshots reload (%ld messages)",
       sent);
}

int main(void)
{
    tap_plan(0);
    test_registers();
    test_edge();
    test_level();
    test_snapshot();
    test_random();
    return tap_exit();
}
