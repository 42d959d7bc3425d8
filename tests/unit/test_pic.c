/* Unit tests for the 8259A pair (src/devices/pic.h): Linux's init and probe
 * sequences, delivery order and priority, masking, specific and
 * non-specific EOI, cascade, level vs edge (ELCR), spurious IRQ7/IRQ15,
 * OCW3 reads and poll, auto-EOI, rotation, special mask mode, snapshot
 * round trip and load errors, and a seeded random-access robustness run. */
#include <errno.h>

#include "../tap.h"
#include "devices/irq.h"
#include "devices/pic.h"

/* Linux's init_8259A (arch/x86/kernel/i8259.c), with the given bases. */
static void linux_init(struct cc_pic *p, uint8_t mbase, uint8_t sbase)
{
    pic_write(p, 0x21, 0xff);
    pic_write(p, 0xa1, 0xff);
    pic_write(p, 0x20, 0x11);    /* ICW1: edge, cascade, ICW4 */
    pic_write(p, 0x21, mbase);   /* ICW2 */
    pic_write(p, 0x21, 0x04);    /* ICW3: slave on IR2 */
    pic_write(p, 0x21, 0x01);    /* ICW4: 8086 mode, normal EOI */
    pic_write(p, 0xa0, 0x11);
    pic_write(p, 0xa1, sbase);
    pic_write(p, 0xa1, 0x02);    /* ICW3: cascade identity 2 */
    pic_write(p, 0xa1, 0x01);
    pic_write(p, 0x21, 0x00);    /* unmask everything */
    pic_write(p, 0xa1, 0x00);
}

static void pulse(struct cc_pic *p, unsigned irq)
{
    pic_set_irq(p, irq, 1);
    pic_set_irq(p, irq, 0);
}

static uint8_t read_isr(struct cc_pic *p, uint16_t cmd)
{
    pic_write(p, cmd, 0x0b);
    uint8_t v = pic_read(p, cmd);
    pic_write(p, cmd, 0x0a);
    return v;
}

static uint8_t read_irr(struct cc_pic *p, uint16_t cmd)
{
    pic_write(p, cmd, 0x0a);
    return pic_read(p, cmd);
}

/* Linux's mask_and_ack_8259A EOI part for irq. */
static void linux_eoi(struct cc_pic *p, unsigned irq)
{
    if (irq & 8) {
        pic_write(p, 0xa0, (uint8_t)(0x60 + (irq & 7)));
        pic_write(p, 0x20, 0x62);
    } else {
        pic_write(p, 0x20, (uint8_t)(0x60 + irq));
    }
}

static void test_probe_and_init(void)
{
    struct cc_pic p;
    pic_init(&p);
    is_int(pic_read(&p, 0x21), 0x00, "power-on: IMR is 0 (not masked)");
    ok(!pic_intr(&p), "power-on: no INTR");
    /* probe_8259A: mask all but the cascade and read it back */
    pic_write(&p, 0xa1, 0xff);
    pic_write(&p, 0x21, 0xfb);
    is_int(pic_read(&p, 0x21), 0xfb, "probe: IMR reads back");
    is_int(pic_read(&p, 0xa1), 0xff, "probe: slave IMR reads back");
    is_int(pic_read(&p, 0x22), 0xff, "unrelated port reads 0xff");

    linux_init(&p, 0x30, 0x38);
    is_int(p.chip[0].vector_base, 0x30, "ICW2 sets master base");
    is_int(p.chip[1].vector_base, 0x38, "ICW2 sets slave base");
    is_int(p.chip[0].init_step, 0, "master operational after ICW4");
    is_int(p.chip[1].init_step, 0, "slave operational after ICW4");
    ok(!pic_intr(&p), "no INTR after init");

    /* ICW2 low bits are ignored */
    pic_write(&p, 0x20, 0x11);
    pic_write(&p, 0x21, 0x27);
    pic_write(&p, 0x21, 0x04);
    pic_write(&p, 0x21, 0x01);
    is_int(p.chip[0].vector_base, 0x20, "ICW2 & 0xf8");
    is_int(pic_read(&p, 0x21), 0x00, "ICW1 clears IMR");
}

static void test_priority_and_eoi(void)
{
    struct cc_pic p;
    pic_init(&p);
    linux_init(&p, 0x20, 0x28);

    pulse(&p, 0);
    ok(pic_intr(&p), "IRQ0 edge asserts INTR");
    is_int(read_irr(&p, 0x20), 0x01, "IRR shows IRQ0");
    is_int(pic_ack(&p), 0x20, "ack IRQ0 -> vector 0x20");
    is_int(read_isr(&p, 0x20), 0x01, "ISR bit 0 after INTA");
    is_int(read_irr(&p, 0x20), 0x00, "edge IRR cleared by INTA");
    ok(!pic_intr(&p), "nothing else pending");
    pic_write(&p, 0x20, 0x20);           /* non-specific EOI */
    is_int(read_isr(&p, 0x20), 0x00, "non-specific EOI clears ISR");

    pulse(&p, 3);
    pulse(&p, 1);
    is_int(pic_ack(&p), 0x21, "IRQ1 before IRQ3 (priority)");
    ok(!pic_intr(&p), "IRQ3 blocked while IRQ1 in service");
    pulse(&p, 0);
    ok(pic_intr(&p), "IRQ0 nests over IRQ1");
    is_int(pic_ack(&p), 0x20, "nested IRQ0 vector");
    is_int(read_isr(&p, 0x20), 0x03, "ISR has IRQ0 and IRQ1");
    pic_write(&p, 0x20, 0x20);
    is_int(read_isr(&p, 0x20), 0x02, "non-specific EOI clears highest (IRQ0)");
    ok(!pic_intr(&p), "IRQ3 still blocked by IRQ1");
    pic_write(&p, 0x20, 0x61);           /* specific EOI IRQ1 */
    is_int(read_isr(&p, 0x20), 0x00, "specific EOI clears IRQ1");
    ok(pic_intr(&p), "IRQ3 now deliverable");
    is_int(pic_ack(&p), 0x23, "IRQ3 vector");
    linux_eoi(&p, 3);
    is_int(read_isr(&p, 0x20), 0x00, "ISR clear at end");

    /* Edge: holding the line high does not re-request after EOI */
    pic_set_irq(&p, 4, 1);
    is_int(pic_ack(&p), 0x24, "IRQ4 edge");
    linux_eoi(&p, 4);
    ok(!pic_intr(&p), "edge line held high does not re-request");
    pic_set_irq(&p, 4, 1);
    ok(!pic_intr(&p), "repeated level 1 is no new edge");
    pic_set_irq(&p, 4, 0);
    pic_set_irq(&p, 4, 1);
    ok(pic_intr(&p), "a new rising edge requests again");
    is_int(pic_ack(&p), 0x24, "second IRQ4");
    linux_eoi(&p, 4);
    pic_set_irq(&p, 4, 0);
}

static void test_masking(void)
{
    struct cc_pic p;
    pic_init(&p);
    linux_init(&p, 0x20, 0x28);
    pic_write(&p, 0x21, 0x02);
    pulse(&p, 1);
    ok(!pic_intr(&p), "masked IRQ1 does not assert INTR");
    is_int(read_irr(&p, 0x20), 0x02, "but it is latched in IRR");
    pic_write(&p, 0x21, 0x00);
    ok(pic_intr(&p), "unmasking delivers it");
    is_int(pic_ack(&p), 0x21, "IRQ1 after unmask");
    linux_eoi(&p, 1);

    /* masking the cascade hides every slave line */
    pic_write(&p, 0x21, 0x04);
    pulse(&p, 14);
    ok(!pic_intr(&p), "IRQ14 hidden behind masked IRQ2");
    pic_write(&p, 0x21, 0x00);
    is_int(pic_ack(&p), 0x2e, "IRQ14 after unmasking the cascade");
    linux_eoi(&p, 14);
    /* slave IMR */
    pic_write(&p, 0xa1, 0x40);
    pulse(&p, 14);
    ok(!pic_intr(&p), "slave-masked IRQ14 hidden");
    is_int(read_irr(&p, 0xa0), 0x40, "slave IRR bit 6");
    pic_write(&p, 0xa1, 0x00);
    ok(pic_intr(&p), "slave unmask propagates through cascade");
    is_int(pic_ack(&p), 0x2e, "IRQ14");
    linux_eoi(&p, 14);
}

static void test_cascade(void)
{
    struct cc_pic p;
    pic_init(&p);
    linux_init(&p, 0x20, 0x28);

    pulse(&p, 12);
    ok(pic_intr(&p), "slave IRQ12 asserts master INTR");
    is_int(read_irr(&p, 0x20), 0x04, "master IRR bit 2");
    is_int(pic_ack(&p), 0x2c, "IRQ12 vector from slave");
    is_int(read_isr(&p, 0x20), 0x04, "master ISR bit 2");
    is_int(read_isr(&p, 0xa0), 0x10, "slave ISR bit 4");
    linux_eoi(&p, 12);
    is_int(read_isr(&p, 0x20), 0x00, "master ISR clear after EOI");
    is_int(read_isr(&p, 0xa0), 0x00, "slave ISR clear after EOI");

    /* priority: IRQ1 > IRQ8..15 (on IR2) > IRQ3 */
    pulse(&p, 3);
    pulse(&p, 9);
    pulse(&p, 1);
    is_int(pic_ack(&p), 0x21, "IRQ1 first");
    linux_eoi(&p, 1);
    is_int(pic_ack(&p), 0x29, "then IRQ9 through the cascade");
    ok(!pic_intr(&p), "IRQ3 waits while IR2 in service");
    linux_eoi(&p, 9);
    is_int(pic_ack(&p), 0x23, "then IRQ3");
    linux_eoi(&p, 3);

    /* two slave lines: slave priority orders them */
    pulse(&p, 15);
    pulse(&p, 8);
    is_int(pic_ack(&p), 0x28, "IRQ8 before IRQ15");
    linux_eoi(&p, 8);
    is_int(pic_ack(&p), 0x2f, "IRQ15 after EOI");
    is_int(read_isr(&p, 0xa0), 0x80, "IRQ15 really in service");
    linux_eoi(&p, 15);
    ok(!pic_intr(&p), "all done");

    /* the struct cc_irq_sink adapter, as devices use it */
    struct cc_irq_sink sink = {pic_sink_set_irq, &p};
    irq_set(&sink, 0, 1);
    irq_set(&sink, 0, 0);
    irq_set(&sink, 99, 1);               /* out of range: ignored */
    is_int(pic_ack(&p), 0x20, "edge through the sink adapter");
    linux_eoi(&p, 0);
    ok(!pic_intr(&p), "line 99 ignored");

    /* ISA IRQ2 pin is IRQ9 */
    pulse(&p, 2);
    is_int(pic_ack(&p), 0x29, "set_irq(2) arrives as IRQ9");
    linux_eoi(&p, 9);
}

static void test_level_and_spurious(void)
{
    struct cc_pic p;
    pic_init(&p);
    linux_init(&p, 0x20, 0x28);

    pic_write(&p, 0x4d0, 0xff);
    pic_write(&p, 0x4d1, 0xff);
    is_int(pic_read(&p, 0x4d0), 0xf8, "ELCR1: IRQ0-2 are not level capable");
    is_int(pic_read(&p, 0x4d1), 0xde, "ELCR2: IRQ8/13 are not level capable");
    pic_write(&p, 0x4d0, 0x20);
    pic_write(&p, 0x4d1, 0x04);
    is_int(pic_read(&p, 0x4d0), 0x20, "ELCR1 reads back");

    pic_set_irq(&p, 10, 1);
    is_int(pic_ack(&p), 0x2a, "level IRQ10 delivered");
    linux_eoi(&p, 10);
    ok(pic_intr(&p), "level line still high: requests again after EOI");
    is_int(pic_ack(&p), 0x2a, "IRQ10 again");
    pic_set_irq(&p, 10, 0);              /* the handler quiets the device */
    linux_eoi(&p, 10);
    ok(!pic_intr(&p), "lowered level line: nothing pending after EOI");

    /* spurious IRQ15: the slave drops its level request before INTA */
    pic_set_irq(&p, 10, 1);
    ok(pic_intr(&p), "IRQ10 requested");
    pic_set_irq(&p, 10, 0);
    ok(pic_intr(&p), "master IR2 edge stays latched");
    is_int(pic_ack(&p), 0x2f, "slave lost it: spurious IRQ15 vector");
    is_int(read_isr(&p, 0xa0), 0x00, "spurious IRQ15 sets no slave ISR bit");
    is_int(read_isr(&p, 0x20), 0x04, "master IR2 is in service");
    linux_eoi(&p, 15);
    is_int(read_isr(&p, 0x20), 0x00, "Linux's EOI clears it");

    /* spurious IRQ7 on the master */
    pic_set_irq(&p, 5, 1);
    ok(pic_intr(&p), "level IRQ5 requested");
    pic_set_irq(&p, 5, 0);
    ok(!pic_intr(&p), "gone before INTA");
    is_int(pic_ack(&p), 0x27, "INTA with nothing pending: IRQ7 vector");
    is_int(read_isr(&p, 0x20), 0x00, "spurious IRQ7 sets no ISR bit");

    /* a real IRQ7 does set ISR (Linux's i8259A_irq_real check) */
    pulse(&p, 7);
    is_int(pic_ack(&p), 0x27, "real IRQ7");
    is_int(read_isr(&p, 0x20) & 0x80, 0x80, "real IRQ7 in service");
    linux_eoi(&p, 7);

    /* switching a line to edge keeps its latched IRR only for edges */
    pic_set_irq(&p, 11, 1);
    pic_write(&p, 0x4d1, 0x08);  /* IRQ11 level */
    is_int(read_irr(&p, 0xa0) & 0x08, 0x08, "level IRQ11 follows its high input");
    pic_set_irq(&p, 11, 0);
    is_int(read_irr(&p, 0xa0) & 0x08, 0x00, "and its low input");
}

static void test_poll_aeoi_rotate_smm(void)
{
    struct cc_pic p;
    pic_init(&p);
    linux_init(&p, 0x20, 0x28);

    pulse(&p, 5);
    pic_write(&p, 0x20, 0x0c);           /* OCW3 poll */
    is_int(pic_read(&p, 0x20), 0x85, "poll returns 0x80 | 5");
    is_int(read_isr(&p, 0x20), 0x20, "poll acts as INTA");
    pic_write(&p, 0x20, 0x0c);
    is_int(pic_read(&p, 0x21), 0x00, "poll with nothing pending (data port too)");
    is_int(pic_read(&p, 0x21), 0x00, "poll is one-shot: IMR read again");
    linux_eoi(&p, 5);

    /* auto-EOI master */
    pic_write(&p, 0x20, 0x11);
    pic_write(&p, 0x21, 0x20);
    pic_write(&p, 0x21, 0x04);
    pic_write(&p, 0x21, 0x03);           /* ICW4: AEOI */
    pulse(&p, 6);
    is_int(pic_ack(&p), 0x26, "AEOI delivery");
    is_int(read_isr(&p, 0x20), 0x00, "AEOI leaves ISR clear");
    pulse(&p, 6);
    ok(pic_intr(&p), "next IRQ6 deliverable at once");
    is_int(pic_ack(&p), 0x26, "IRQ6 again");

    /* back to normal EOI; set priority: IRQ3 lowest -> IRQ4 highest */
    linux_init(&p, 0x20, 0x28);
    pic_write(&p, 0x20, 0xc3);
    pulse(&p, 0);
    pulse(&p, 4);
    is_int(pic_ack(&p), 0x24, "after set-priority IRQ4 outranks IRQ0");
    pic_write(&p, 0x20, 0xe4);           /* rotate on specific EOI 4 */
    is_int(p.chip[0].priority_add, 5, "IRQ4 now lowest");
    is_int(pic_ack(&p), 0x20, "IRQ0 next");
    pic_write(&p, 0x20, 0xa0);           /* rotate on non-specific EOI */
    is_int(p.chip[0].priority_add, 1, "IRQ0 now lowest");
    pulse(&p, 0);
    pulse(&p, 7);
    is_int(pic_ack(&p), 0x27, "IRQ7 outranks IRQ0 after rotation");
    linux_eoi(&p, 7);
    is_int(pic_ack(&p), 0x20, "then IRQ0");
    linux_eoi(&p, 0);

    /* special fully nested mode (ICW4 bit 4): a higher slave line nests
     * inside a slave line already in service */
    linux_init(&p, 0x20, 0x28);
    pulse(&p, 12);
    is_int(pic_ack(&p), 0x2c, "IRQ12 in service");
    pulse(&p, 9);
    ok(!pic_intr(&p), "fully nested off: IR2 in service blocks IRQ9");
    pic_write(&p, 0xa0, 0x20);
    pic_write(&p, 0x20, 0x20);
    is_int(pic_ack(&p), 0x29, "IRQ9 after the EOIs");
    pic_write(&p, 0xa0, 0x20);
    pic_write(&p, 0x20, 0x20);

    pic_write(&p, 0x20, 0x11);
    pic_write(&p, 0x21, 0x20);
    pic_write(&p, 0x21, 0x04);
    pic_write(&p, 0x21, 0x11);           /* ICW4: SFNM, normal EOI */
    pulse(&p, 12);
    is_int(pic_ack(&p), 0x2c, "SFNM: IRQ12 in service");
    pulse(&p, 9);
    ok(pic_intr(&p), "SFNM: IRQ9 nests although IR2 is in service");
    is_int(pic_ack(&p), 0x29, "IRQ9 delivered");
    is_int(read_isr(&p, 0xa0), 0x12, "slave: IRQ9 and IRQ12 in service");
    pulse(&p, 3);
    ok(!pic_intr(&p), "IRQ3 (lower than IR2) still waits");
    pic_write(&p, 0xa0, 0x20);
    pic_write(&p, 0xa0, 0x20);
    pic_write(&p, 0x20, 0x20);
    is_int(pic_ack(&p), 0x23, "IRQ3 after the EOIs");

    /* special mask mode lets lower priorities through a masked in-service line */
    linux_init(&p, 0x20, 0x28);
    pulse(&p, 1);
    is_int(pic_ack(&p), 0x21, "IRQ1 in service");
    pulse(&p, 3);
    ok(!pic_intr(&p), "IRQ3 blocked");
    pic_write(&p, 0x20, 0x68);           /* OCW3: set SMM */
    pic_write(&p, 0x21, 0x02);           /* mask IRQ1 */
    ok(pic_intr(&p), "SMM: IRQ3 passes masked in-service IRQ1");
    is_int(pic_ack(&p), 0x23, "IRQ3 under SMM");
    pic_write(&p, 0x20, 0x48);           /* reset SMM */
    ok(!p.chip[0].special_mask, "SMM off");
}

/* Drive two PICs with the same script and compare everything observable. */
static int same_behaviour(struct cc_pic *a, struct cc_pic *b, uint64_t seed)
{
    static const uint16_t ports[] = {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1};
    uint64_t x = seed;
    for (int i = 0; i < 5000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        unsigned op = x % 5;
        uint16_t port = ports[(x >> 8) % 6];
        uint8_t v = (uint8_t)(x >> 16);
        switch (op) {
        case 0:
            if (pic_read(a, port) != pic_read(b, port))
                return 0;
            break;
        case 1:
            if ((port & 1) && port < 0x100)
                v = 0;  /* keep lines mostly unmasked */
            pic_write(a, port, v);
            pic_write(b, port, v);
            break;
        case 2:
        case 3:
            pic_set_irq(a, (x >> 24) % 16, (int)((x >> 30) & 1));
            pic_set_irq(b, (x >> 24) % 16, (int)((x >> 30) & 1));
            break;
        default:
            if (pic_intr(a) != pic_intr(b))
                return 0;
            if (pic_intr(a) && pic_ack(a) != pic_ack(b))
                return 0;
            break;
        }
    }
    return memcmp(a, b, sizeof(*a)) == 0;
}

static void test_snapshot(void)
{
    struct cc_pic a, b;
    pic_init(&a);
    linux_init(&a, 0x30, 0x38);
    pic_write(&a, 0x4d1, 0x0c);
    pic_set_irq(&a, 11, 1);
    pulse(&a, 1);
    pulse(&a, 14);
    pic_ack(&a);
    pic_write(&a, 0x21, 0x10);
    pic_write(&a, 0xa0, 0x0b);           /* slave reads ISR */
    pic_write(&a, 0x20, 0xc5);

    struct cc_buf buf;
    buf_init(&buf);
    pic_save(&a, &buf);
    ok(buf_ok(&buf) && buf.len > 1, "save produced %zu bytes", buf.len);

    struct cc_err err = {0};
    struct cc_rd rd;
    pic_init(&b);
    rd_init(&rd, buf.data, buf.len);
    is_int(pic_load(&b, &rd, &err), 0, "load succeeds");
    is_int(rd_left(&rd), 0, "load consumed the whole section");
    ok(memcmp(&a, &b, sizeof(a)) == 0, "loaded state equals saved state");
    ok(same_behaviour(&a, &b, 0x1234567), "identical behaviour after load");

    /* save of the restored copy is byte-identical */
    struct cc_buf buf2;
    buf_init(&buf2);
    pic_save(&b, &buf2);
    buf_free(&buf);
    pic_save(&a, &buf);
    ok(buf.len == buf2.len && !memcmp(buf.data, buf2.data, buf.len), "re-save is identical");

    /* truncated at every length */
    struct cc_pic before = b;
    int all_truncated = 1;
    for (size_t n = 0; n < buf.len; n++) {
        rd_init(&rd, buf.data, n);
        memset(&err, 0, sizeof(err));
        if (pic_load(&b, &rd, &err) != -EINVAL || !strstr(err.msg, "pic: ") ||
            !strstr(err.msg, "truncated") || memcmp(&b, &before, sizeof(b)))
            all_truncated = 0;
    }
    ok(all_truncated, "every truncation is refused, state untouched");

    uint8_t *bad = malloc(buf.len);
    memcpy(bad, buf.data, buf.len);
    bad[0] = 2;
    rd_init(&rd, bad, buf.len);
    is_int(pic_load(&b, &rd, &err), -EINVAL, "unknown version refused");
    ok(strstr(err.msg, "pic") && strstr(err.msg, "version 2"), "message names device and version: %s", err.msg);
    ok(!memcmp(&b, &before, sizeof(b)), "state untouched after bad version");

    /* byte layout per chip: 8 u8 then 8 bools; offset 1 = master */
    static const struct { size_t off; uint8_t val; const char *what; } cases[] = {
        {1 + 7, 4, "init_step 4"},
        {1 + 6, 8, "priority_add 8"},
        {1 + 5, 0x21, "vector base with low bits"},
        {1 + 4, 0x01, "ELCR bit 0"},
        {1 + 16 + 4, 0x01, "slave ELCR bit 0 (IRQ8)"},
        {1 + 8, 2, "bool byte 2"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, buf.data, buf.len);
        bad[cases[i].off] = cases[i].val;
        rd_init(&rd, bad, buf.len);
        memset(&err, 0, sizeof(err));
        int r = pic_load(&b, &rd, &err);
        ok(r == -EINVAL && strstr(err.msg, "pic: ") && !memcmp(&b, &before, sizeof(b)),
           "out-of-range %s refused, state untouched", cases[i].what);
    }
    free(bad);
    buf_free(&buf);
    buf_free(&buf2);
}

static int check_invariants(const struct cc_pic *p)
{
    for (int i = 0; i < 2; i++) {
        const struct cc_pic_chip *c = &p->chip[i];
        if ((c->vector_base & 7) || c->priority_add > 7 || c->init_step > 3 ||
            (c->elcr & ~c->elcr_mask))
            return 0;
    }
    return 1;
}

static void test_fuzz(void)
{
    struct cc_pic p, q;
    pic_init(&p);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int good = 1, acks = 0;
    for (int i = 0; i < 100000 && good; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint16_t port = (uint16_t)(x >> 40);
        static const uint16_t ports[] = {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x22, 0x4d2};
        if (x & 0x100)
            port = ports[(x >> 9) % 8];
        uint8_t v = (uint8_t)(x >> 20);
        switch ((x >> 4) % 6) {
        case 0: case 1:
            pic_write(&p, port, v);
            break;
        case 2:
            (void)pic_read(&p, port);
            break;
        case 3:
            pic_set_irq(&p, (unsigned)(x >> 28) % 20, (int)((x >> 50) & 1));
            break;
        case 4:
            if (pic_intr(&p)) {
                uint8_t vec = pic_ack(&p);
                uint8_t m = p.chip[0].vector_base, s = p.chip[1].vector_base;
                if ((vec & 0xf8) != m && (vec & 0xf8) != s)
                    good = 0;
                acks++;
            }
            break;
        default:
            (void)pic_ack(&p);
            break;
        }
        if (!check_invariants(&p))
            good = 0;
        if (i % 997 == 0) {
            struct cc_buf b;
            struct cc_rd rd;
            struct cc_err err = {0};
            buf_init(&b);
            pic_save(&p, &b);
            rd_init(&rd, b.data, b.len);
            pic_init(&q);
            if (pic_load(&q, &rd, &err) != 0 || memcmp(&p, &q, sizeof(p)))
                good = 0;
            buf_free(&b);
        }
    }
    ok(good, "100k random accesses: invariants hold, vectors sane, snapshots reload (%d acks)", acks);
}

int main(void)
{
    tap_plan(0);
    test_probe_and_init();
    test_priority_and_eoi();
    test_masking();
    test_cascade();
    test_level_and_spurious();
    test_poll_aeoi_rotate_smm();
    test_snapshot();
    test_fuzz();
    return tap_exit();
}
