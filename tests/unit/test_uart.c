/* Unit tests for the 16550A UART (src/devices/uart.h): Linux 8250
 * autoconfig probes (scratch, IER, loopback MSR, FIFO/IIR, EFR, 16750, UUE),
 * serial8250_startup's THRE re-assert and TX-enable tests, DLAB, THRE and
 * RX interrupts with FIFO trigger levels, loopback and overrun, modem
 * status, the IRQ line through a fake sink (OUT2 gating), tx ordering,
 * snapshots and load errors, and a seeded random-access robustness run. */
#include <errno.h>

#include "../tap.h"
#include "devices/uart.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3,
       MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

struct sink {
    int level, calls, raises;
    unsigned line;
};

static void fake_set_irq(void *opaque, unsigned line, int level)
{
    struct sink *s = opaque;
    s->calls++;
    if (level && !s->level)
        s->raises++;
    s->level = level;
    s->line = line;
}

struct txlog {
    uint8_t bytes[4096];
    size_t n;
    struct cc_uart *echo_to;    /* when set, echo every byte back as RX */
};

static void tx_cb(void *opaque, uint8_t byte)
{
    struct txlog *t = opaque;
    if (t->n < sizeof(t->bytes))
        t->bytes[t->n++] = byte;
    if (t->echo_to)
        uart_rx_push(t->echo_to, &byte, 1);
}

static void setup(struct cc_uart *u, struct sink *s, struct txlog *t)
{
    memset(s, 0, sizeof(*s));
    memset(t, 0, sizeof(*t));
    uart_init(u, (struct cc_irq_sink){fake_set_irq, s}, 4, tx_cb, t);
}

static void test_power_on_and_probe(void)
{
    struct cc_uart u;
    struct sink s;
    struct txlog t;
    setup(&u, &s, &t);
    is_int(uart_read(&u, LSR), 0x60, "power-on LSR: THRE | TEMT");
    is_int(uart_read(&u, IIR), 0x01, "power-on IIR: no interrupt, no FIFO");
    is_int(uart_read(&u, IER), 0x00, "power-on IER 0");
    is_int(uart_read(&u, MSR), 0xb0, "MSR: CTS, DSR, DCD from a connected terminal");
    is_int(uart_read(&u, 8), 0xff, "offset 8 reads 0xff");
    is_int(s.calls, 0, "no sink calls at power-on");

    /* scratch register */
    uart_write(&u, SCR, 0x55);
    is_int(uart_read(&u, SCR), 0x55, "scratch 0x55");
    uart_write(&u, SCR, 0xaa);
    is_int(uart_read(&u, SCR), 0xaa, "scratch 0xaa");

    /* autoconfig IER test */
    uint8_t scratch = uart_read(&u, IER);
    uart_write(&u, IER, 0);
    is_int(uart_read(&u, IER) & 0x0f, 0x00, "IER test: 0");
    uart_write(&u, IER, 0x0f);
    is_int(uart_read(&u, IER) & 0x0f, 0x0f, "IER test: 0x0f");
    uart_write(&u, IER, scratch);
    /* loopback test (skipped by UPF_SKIP_TEST on x86, but it must pass) */
    uint8_t save_mcr = uart_read(&u, MCR);
    uart_write(&u, MCR, 0x10 | 0x0a);
    is_int(uart_read(&u, MSR) & 0xf0, 0x90, "LOOP test: DCD | CTS");
    uart_write(&u, MCR, save_mcr);

    /* FIFO detection */
    uart_write(&u, LCR, 0xbf);
    uart_write(&u, FCR, 0);                  /* "EFR" = 0: a 16550A has no EFR */
    uart_write(&u, LCR, 0);
    uart_write(&u, FCR, 0x01);
    is_int(uart_read(&u, IIR) >> 6, 3, "IIR bits 7-6 = 3: 16550A");
    /* autoconfig_16550a variants probing */
    uart_write(&u, LCR, 0x80);
    ok(uart_read(&u, IIR) != 0, "no EFR with LCR=0x80");
    uart_write(&u, LCR, 0xbf);
    ok(uart_read(&u, IIR) != 0, "no EFR with LCR=0xbf");
    uart_write(&u, LCR, 0);
    uart_write(&u, FCR, 0x21);
    is_int(uart_read(&u, IIR) >> 5, 6, "64-byte FIFO bit ignored (not a 16750)");
    uart_write(&u, FCR, 0x01);
    uart_write(&u, LCR, 0x80);
    uart_write(&u, FCR, 0x21);
    is_int(uart_read(&u, IIR) >> 5, 6, "also with DLAB set");
    uart_write(&u, FCR, 0x01);
    uart_write(&u, LCR, 0);
    uart_write(&u, IER, 0x40);
    is_int(uart_read(&u, IER) & 0x40, 0, "IER UUE bit not writable (not an XScale)");
    uart_write(&u, IER, 0);

    /* NS16550 EXCR1 test: IIR (LCR=0xe0) bit 4 must not follow MCR.LOOP */
    uart_write(&u, LCR, 0xe0);
    uint8_t a = uart_read(&u, 2);
    uart_write(&u, LCR, 0);
    uart_write(&u, MCR, 0x10);
    uart_write(&u, LCR, 0xe0);
    uint8_t b = uart_read(&u, 2);
    uart_write(&u, LCR, 0);
    uart_write(&u, MCR, 0);
    ok(!((a ^ b) & 0x10), "not mistaken for an NS16550A");
    is_int(s.calls, 0, "probing never raised the line (OUT2 off)");
}

static void test_dlab(void)
{
    struct cc_uart u;
    struct sink s;
    struct txlog t;
    setup(&u, &s, &t);
    uart_write(&u, IER, 0x05);
    uart_write(&u, LCR, 0x83);
    uart_write(&u, DLL, 0x01);
    uart_write(&u, DLM, 0x00);
    is_int(uart_read(&u, DLL), 0x01, "DLL reads back under DLAB");
    is_int(uart_read(&u, DLM), 0x00, "DLM reads back under DLAB");
    is_int(t.n, 0, "DLL write is not a transmit");
    uart_write(&u, LCR, 0x03);
    is_int(uart_read(&u, LCR), 0x03, "LCR reads back");
    is_int(uart_read(&u, IER), 0x05, "IER untouched by the DLM write");
    is_int(u.dll, 1, "divisor 1 (115200 baud)");
}

static void test_thre(void)
{
    struct cc_uart u;
    struct sink s;
    struct txlog t;
    setup(&u, &s, &t);

    /* serial8250_do_startup: UART_BUG_THRE probe (before OUT2) */
    uart_write(&u, IER, 0x02);
    uint8_t iir1 = uart_read(&u, IIR);
    uart_write(&u, IER, 0);
    uart_write(&u, IER, 0x02);
    uint8_t iir = uart_read(&u, IIR);
    uart_write(&u, IER, 0);
    is_int(iir1, 0x02, "THRE reported when IER.THRI is enabled");
    is_int(iir, 0x02, "and re-asserted after disable/enable (no UART_BUG_THRE)");
    is_int(s.calls, 0, "no line activity without OUT2");

    uart_write(&u, LCR, 0x03);
    uart_write(&u, MCR, 0x08 | 0x03);        /* OUT2 | RTS | DTR */
    /* UART_BUG_TXEN test */
    uart_write(&u, IER, 0x02);
    ok(s.level == 1 && s.line == 4, "line 4 raised with OUT2 and a THRE interrupt");
    uint8_t lsr = uart_read(&u, LSR);
    iir = uart_read(&u, IIR);
    uart_write(&u, IER, 0);
    ok(!((lsr & 0x40) && (iir & 0x01)), "TX-enable interrupt seen (no UART_BUG_TXEN)");
    is_int(s.level, 0, "line low once the THRE identification was read");

    /* THRE after a TX write */
    uart_write(&u, IER, 0x02);
    (void)uart_read(&u, IIR);
    is_int(s.level, 0, "IIR read clears THRE");
    is_int(uart_read(&u, IIR), 0x01, "nothing pending");
    uart_write(&u, THR, 'A');
    is_int(t.n, 1, "tx callback called");
    is_int(t.bytes[0], 'A', "with the byte");
    is_int(s.level, 1, "THRE interrupt after the TX write");
    is_int(uart_read(&u, LSR) & 0x60, 0x60, "transmitter empty at once");
    is_int(uart_read(&u, IIR), 0x02, "IIR: THRE");
    is_int(s.level, 0, "line low after the IIR read");
    /* writing IER.THRI when it is already set does not re-raise */
    uart_write(&u, IER, 0x03);
    is_int(uart_read(&u, IIR), 0x01, "no re-raise without a 0->1 transition");

    /* OUT2 gates the line; pending state is unaffected */
    uart_write(&u, THR, 'B');
    is_int(s.level, 1, "raised");
    uart_write(&u, MCR, 0x03);
    is_int(s.level, 0, "OUT2 off lowers the line");
    is_int(uart_read(&u, IIR), 0x02, "interrupt still identified in IIR");
    uart_write(&u, THR, 'C');
    uart_write(&u, MCR, 0x0b);
    is_int(s.level, 1, "OUT2 on again raises it");
    int calls = s.calls;
    uart_write(&u, SCR, 1);
    uart_write(&u, IER, 0x03);
    is_int(s.calls, calls, "sink called only on level changes");

    /* tx order */
    const char *msg = "Linux version 6.1\r\n";
    t.n = 0;
    for (const char *p = msg; *p; p++)
        uart_write(&u, THR, (uint8_t)*p);
    ok(t.n == strlen(msg) && !memcmp(t.bytes, msg, t.n), "tx callback gets the bytes in order");
}

static void test_rx_and_fifo(void)
{
    struct cc_uart u;
    struct sink s;
    struct txlog t;
    setup(&u, &s, &t);
    uart_write(&u, MCR, 0x0b);
    uart_write(&u, IER, 0x05);               /* RDI | RLSI, like Linux's startup */

    is_int(uart_rx_push(&u, (const uint8_t *)"hi", 2), 1, "FIFO off: one byte fits");
    is_int(uart_read(&u, LSR) & 0x01, 0x01, "LSR.DR");
    is_int(uart_read(&u, IIR), 0x04, "IIR: received data");
    is_int(s.level, 1, "RX interrupt raises the line");
    is_int(uart_read(&u, RBR), 'h', "RBR");
    is_int(uart_read(&u, LSR) & 0x01, 0x00, "DR clear");
    is_int(s.level, 0, "line low when drained");
    is_int(uart_read(&u, RBR), 0, "empty RBR reads 0");
    is_int(uart_rx_push(&u, (const uint8_t *)"i", 1), 1, "next byte");
    is_int(uart_read(&u, RBR), 'i', "second byte");

    /* FIFO trigger levels */
    static const struct { uint8_t fcr; unsigned trig; } lv[] = {
        {0x01, 1}, {0x41, 4}, {0x81, 8}, {0xc1, 14},
    };
    for (size_t i = 0; i < 4; i++) {
        uart_write(&u, FCR, lv[i].fcr | 0x06);
        unsigned below = 0, at = 0;
        for (unsigned k = 1; k <= 16; k++) {
            uint8_t c = (uint8_t)('a' + k);
            uart_rx_push(&u, &c, 1);
            uint8_t id = uart_read(&u, IIR);
            if (k < lv[i].trig && id == 0xcc)
                below++;
            if (k >= lv[i].trig && id == 0xc4)
                at++;
        }
        ok(below == lv[i].trig - 1 && at == 17 - lv[i].trig,
           "trigger %u: timeout id below, data-available id at/above", lv[i].trig);
    }
    uint8_t big[20];
    for (int i = 0; i < 20; i++)
        big[i] = (uint8_t)i;
    is_int(uart_rx_push(&u, big, 20), 0, "FIFO full: nothing fits");
    uart_write(&u, FCR, 0xc3);               /* clear RX */
    is_int(uart_read(&u, LSR) & 0x01, 0, "FCR clear RX empties the FIFO");
    is_int(uart_rx_push(&u, big, 20), 16, "16 of 20 fit");
    is_int(uart_read(&u, IIR), 0xc4, "above trigger 14");
    int order = 1;
    for (int i = 0; i < 16; i++)
        if (uart_read(&u, RBR) != i)
            order = 0;
    ok(order, "FIFO preserves order");
    is_int(uart_read(&u, IIR), 0xc1, "drained");
    /* ring wrap-around: many partial fill/drain rounds without a clear */
    int wrap_ok = 1;
    uint8_t next_in = 0, next_out = 0;
    for (int round = 0; round < 40; round++) {
        uint8_t d[16];
        size_t n = (size_t)(round % 13) + 1;
        for (size_t i = 0; i < n; i++)
            d[i] = next_in++;
        if (uart_rx_push(&u, d, n) != n)
            wrap_ok = 0;
        for (size_t i = 0; i < n; i++)
            if (uart_read(&u, RBR) != next_out++)
                wrap_ok = 0;
    }
    ok(wrap_ok && u.rx_head < CC_UART_FIFO, "FIFO order kept across ring wrap-around");
    uart_rx_push(&u, big, 3);
    uart_write(&u, FCR, 0x00);
    is_int(uart_read(&u, LSR) & 0x01, 0, "disabling the FIFO empties it");
    is_int(uart_read(&u, IIR), 0x01, "IIR bits 7-6 clear with FIFO off");
    uart_write(&u, IER, 0x00);
    uart_rx_push(&u, big, 1);
    is_int(s.level, 0, "RX interrupt needs IER.RDI");
    ok(uart_read(&u, LSR) & 0x01, "but DR is set");
}

static void test_loopback_and_modem(void)
{
    struct cc_uart u;
    struct sink s;
    struct txlog t;
    setup(&u, &s, &t);
    uart_write(&u, FCR, 0x01);
    uart_write(&u, IER, 0x0f);
    uart_write(&u, MCR, 0x18);               /* LOOP | OUT2 */
    is_int(s.level, 0, "loopback forces the PC interrupt line off");
    (void)uart_read(&u, MSR);                /* clear deltas from the MCR change */
    (void)uart_read(&u, IIR);                /* clear THRE */
    uart_write(&u, THR, 0x5a);
    is_int(t.n, 0, "loopback: nothing transmitted");
    is_int(uart_read(&u, IIR), 0xc4, "received in loopback (trigger level 1)");
    is_int(uart_read(&u, RBR), 0x5a, "the byte comes back");
    is_int(s.level, 0, "still no line activity in loopback");
    is_int(uart_rx_push(&u, (const uint8_t *)"x", 1), 0, "host RX disconnected in loopback");

    for (int i = 0; i < 17; i++)
        uart_write(&u, THR, (uint8_t)i);
    is_int(uart_read(&u, IIR), 0xc6, "overrun: line-status interrupt first");
    uint8_t lsr = uart_read(&u, LSR);
    is_int(lsr & 0x03, 0x03, "LSR: OE and DR");
    is_int(uart_read(&u, LSR) & 0x02, 0, "LSR read clears OE");
    is_int(uart_read(&u, IIR), 0xc4, "then data available");
    is_int(uart_read(&u, RBR), 0, "first byte kept, 17th dropped");

    /* modem status in loopback: DTR -> DSR, RTS -> CTS, OUT1 -> RI, OUT2 -> DCD */
    uart_write(&u, FCR, 0x07);
    uart_write(&u, IER, 0x08);
    uart_write(&u, MCR, 0x10);
    (void)uart_read(&u, MSR);
    uart_write(&u, MCR, 0x11);
    uint8_t msr = uart_read(&u, MSR);
    is_int(msr, 0x22, "DTR shows as DSR with a DDSR delta");
    is_int(uart_read(&u, MSR), 0x20, "MSR read clears the deltas");
    uart_write(&u, MCR, 0x14);
    is_int(uart_read(&u, IIR), 0xc0, "modem status interrupt id");
    is_int(uart_read(&u, MSR), 0x42, "OUT1 -> RI, DDSR for DTR dropping");
    uart_write(&u, MCR, 0x10);
    is_int(uart_read(&u, MSR), 0x04, "RI trailing edge sets TERI");
    uart_write(&u, MCR, 0x00);
    is_int(uart_read(&u, MSR) & 0xf0, 0xb0, "loop off: terminal lines again");
}

static void test_echo_reentry(void)
{
    struct cc_uart u;
    struct sink s;
    struct txlog t;
    setup(&u, &s, &t);
    t.echo_to = &u;
    uart_write(&u, FCR, 0x01);
    uart_write(&u, MCR, 0x08);
    uart_write(&u, IER, 0x01);
    uart_write(&u, THR, 'e');
    is_int(uart_read(&u, RBR), 'e', "tx callback may push RX on the same UART");
    is_int(s.level, 0, "line consistent after re-entry");
}

/* Drive two UARTs with one script; compare every read and the sinks. */
static int same_behaviour(struct cc_uart *a, struct cc_uart *b, struct sink *sa, struct sink *sb,
                          struct txlog *ta, struct txlog *tb)
{
    uint64_t x = 7777;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint16_t off = (uint16_t)(x % 8);
        uint8_t v = (uint8_t)(x >> 8);
        switch ((x >> 20) % 4) {
        case 0:
            if (uart_read(a, off) != uart_read(b, off))
                return 0;
            break;
        case 1:
            uart_write(a, off, v);
            uart_write(b, off, v);
            break;
        case 2: {
            uint8_t d[3] = {v, (uint8_t)(v + 1), (uint8_t)(v + 2)};
            if (uart_rx_push(a, d, 3) != uart_rx_push(b, d, 3))
                return 0;
            break;
        }
        default:
            if (uart_read(a, IIR) != uart_read(b, IIR))
                return 0;
            break;
        }
        if (sa->level != sb->level || a->irq_level != b->irq_level)
            return 0;
    }
    return ta->n == tb->n && !memcmp(ta->bytes, tb->bytes, ta->n);
}

static void test_snapshot(void)
{
    struct cc_uart a, b;
    struct sink sa, sb;
    struct txlog ta, tb;
    setup(&a, &sa, &ta);
    setup(&b, &sb, &tb);
    uart_write(&a, FCR, 0x81);
    uart_write(&a, MCR, 0x0b);
    uart_write(&a, IER, 0x07);
    uart_rx_push(&a, (const uint8_t *)"snapshot", 8);
    (void)uart_read(&a, RBR);
    uart_write(&a, SCR, 0x42);
    uart_write(&a, LCR, 0x83);
    uart_write(&a, DLL, 3);
    uart_write(&a, LCR, 0x03);
    /* b's sink must see the level b is loaded with */
    struct cc_buf buf;
    buf_init(&buf);
    uart_save(&a, &buf);
    struct cc_rd rd;
    struct cc_err err = {0};
    rd_init(&rd, buf.data, buf.len);
    is_int(uart_load(&b, &rd, &err), 0, "load succeeds");
    is_int(rd_left(&rd), 0, "whole section consumed");
    ok(b.irq.opaque == &sb && b.tx_opaque == &tb && b.irq_line == 4, "unsaved wiring kept");
    is_int(b.rx_count, 7, "rx FIFO restored");
    sb.level = b.irq_level;                     /* the owner restores the PIC alongside */
    ta.n = 0;
    ok(same_behaviour(&a, &b, &sa, &sb, &ta, &tb), "identical behaviour after load");

    struct cc_uart before = b;
    int trunc = 1;
    for (size_t n = 0; n < buf.len; n++) {
        rd_init(&rd, buf.data, n);
        memset(&err, 0, sizeof(err));
        if (uart_load(&b, &rd, &err) != -EINVAL || !strstr(err.msg, "uart: ") ||
            !strstr(err.msg, "truncated") || memcmp(&b, &before, sizeof(b)))
            trunc = 0;
    }
    ok(trunc, "every truncation refused, state untouched");

    uint8_t *bad = malloc(buf.len);
    memcpy(bad, buf.data, buf.len);
    bad[0] = 0;
    rd_init(&rd, bad, buf.len);
    is_int(uart_load(&b, &rd, &err), -EINVAL, "version 0 refused");
    ok(strstr(err.msg, "uart") && strstr(err.msg, "version 0"), "message: %s", err.msg);

    /* layout: ver ier iir lcr mcr lsr msr scr fcr dll dlm thr rx[16] head count level */
    enum { O_IER = 1, O_IIR = 2, O_MCR = 4, O_LSR = 5, O_FCR = 8, O_THR = 11,
           O_HEAD = 28, O_COUNT = 29, O_LEVEL = 30 };
    static const struct { int off; uint8_t val; const char *what; } cases[] = {
        {O_COUNT, 17, "rx_count 17"}, {O_COUNT, 255, "rx_count 255"}, {O_HEAD, 16, "rx_head 16"},
        {O_IER, 0x1f, "IER bit 4"}, {O_MCR, 0x20, "MCR bit 5"}, {O_FCR, 0x21, "FCR bit 5"},
        {O_LSR, 0x00, "LSR without THRE/TEMT"}, {O_IIR, 0x08, "IIR id 0x08"},
        {O_THR, 2, "bool 2"}, {O_LEVEL, 0, "irq level not matching the registers"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, buf.data, buf.len);
        bad[cases[i].off] = cases[i].val;
        rd_init(&rd, bad, buf.len);
        memset(&err, 0, sizeof(err));
        ok(uart_load(&b, &rd, &err) == -EINVAL && strstr(err.msg, "uart: ") &&
           !memcmp(&b, &before, sizeof(b)), "%s refused, state untouched", cases[i].what);
    }
    memcpy(bad, buf.data, buf.len);
    bad[O_FCR] = 0;                             /* FIFO off with 7 bytes queued */
    bad[O_IIR] = 0x04;
    rd_init(&rd, bad, buf.len);
    ok(uart_load(&b, &rd, &err) == -EINVAL, "FIFO off with rx_count 7 refused");
    free(bad);
    buf_free(&buf);
}

static void test_fuzz(void)
{
    struct cc_uart u, v;
    struct sink s, sv;
    struct txlog t, tv;
    setup(&u, &s, &t);
    setup(&v, &sv, &tv);
    uint64_t x = 0x0123456789abcdefull;
    int good = 1;
    size_t pushed = 0, full = 0;
    for (int i = 0; i < 100000 && good; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint16_t off = (uint16_t)((x >> 3) % 10);
        uint8_t val = (uint8_t)(x >> 16);
        /* Mostly the data path; FIFO resets and DLAB are kept rare so the
         * FIFO fills, drains and wraps between them. */
        switch ((x >> 32) % 20) {
        case 0: case 1: case 2: case 3: case 4:
            if (off == FCR && (x >> 56) % 8)
                val = (uint8_t)((val | 0x01) & ~0x02);  /* FIFO mostly on, kept */
            if (off == LCR && (x >> 59) % 8)
                val &= 0x7f;                            /* DLAB rarely */
            if (off == MCR && (x >> 53) % 8)
                val &= 0xef;                            /* loopback rarely */
            uart_write(&u, off, val);
            break;
        case 5: case 6:
            (void)uart_read(&u, off);
            break;
        case 7: case 8: case 9: case 10: case 11: case 12:
            (void)uart_read(&u, RBR);
            break;
        case 13: case 14:
            (void)uart_read(&u, (x >> 40) & 1 ? IIR : LSR);
            break;
        default: {
            uint8_t d[24];
            size_t n = (x >> 40) % 25;
            memset(d, val, sizeof(d));
            size_t got = uart_rx_push(&u, d, n);
            if (got > n)
                good = 0;
            pushed += got;
            if (u.rx_count == CC_UART_FIFO)
                full++;
            break;
        }
        }
        t.n = 0;    /* keep the log from filling */
        if (u.rx_count > CC_UART_FIFO || u.rx_head >= CC_UART_FIFO ||
            (!(u.fcr & 1) && u.rx_count > 1) || (u.lsr & 0x60) != 0x60 ||
            !!(u.lsr & 1) != (u.rx_count > 0) || (u.ier & 0xf0) || (u.mcr & 0xe0) ||
            s.level != u.irq_level || s.line != (s.calls ? 4u : 0u))
            good = 0;
        if (i % 1009 == 0) {
            struct cc_buf b;
            struct cc_rd rd;
            struct cc_err err = {0};
            buf_init(&b);
            uart_save(&u, &b);
            rd_init(&rd, b.data, b.len);
            if (uart_load(&v, &rd, &err) != 0) {
                tap_diag("reload failed: %s", err.msg);
                good = 0;
            }
            buf_free(&b);
        }
    }
    ok(good, "100k random accesses: rx_count <= 16, LSR/IRQ consistent, snapshots reload (%zu bytes in)",
       pushed);
    ok(pushed > 20000 && full > 1000, "the run exercised the receive path (FIFO full %zu times)", full);
}

int main(void)
{
    tap_plan(0);
    test_power_on_and_probe();
    test_dlab();
    test_thre();
    test_rx_and_fifo();
    test_loopback_and_modem();
    test_echo_reentry();
    test_snapshot();
    test_fuzz();
    return tap_exit();
}
