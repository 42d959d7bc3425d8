/* Unit tests for the 8254 PIT and port 0x61 (src/devices/pit.h): the
 * tick/ns conversion and deadline grid, periodic modes 2/3 with coalescing,
 * one-shot modes 0/4 as Linux's clockevent uses them, the clocksource's
 * latch-and-read, read-back, access sequences, channel 2 through port 0x61
 * as Linux's TSC calibration polls it, gates, mode aliases, snapshots and
 * load errors, and a seeded random-access robustness run. */
#include <errno.h>

#include "../tap.h"
#include "devices/pit.h"

struct edges {
    int rises, falls, level;
    unsigned bad_line;
};

static void fake_set_irq(void *opaque, unsigned line, int level)
{
    struct edges *e = opaque;
    if (line != 0)
        e->bad_line++;
    if (level && !e->level)
        e->rises++;
    if (!level && e->level)
        e->falls++;
    e->level = level;
}

/* Independent reference: deadline of tick k = ceil(k * 1e9 / 1193182). */
static uint64_t ref_ns(uint64_t k)
{
    return (uint64_t)(((unsigned __int128)k * 1000000000u + CC_PIT_HZ - 1) / CC_PIT_HZ);
}

static void program(struct cc_pit *p, uint64_t t, uint8_t chan, uint8_t mode, uint32_t count)
{
    pit_write(p, t, 0x43, (uint8_t)(chan << 6 | 0x30 | mode << 1));
    pit_write(p, t, (uint16_t)(0x40 + chan), (uint8_t)count);
    pit_write(p, t, (uint16_t)(0x40 + chan), (uint8_t)(count >> 8));
}

/* Linux's i8253 clocksource read: latch channel 0, LSB, MSB. */
static unsigned latched_count(struct cc_pit *p, uint64_t t)
{
    pit_write(p, t, 0x43, 0x00);
    unsigned lo = pit_read(p, t, 0x40);
    unsigned hi = pit_read(p, t, 0x40);
    return lo | hi << 8;
}

/* Unlatched LSB-then-MSB read of a channel (two sequenced reads). */
static unsigned read16(struct cc_pit *p, uint64_t t, uint16_t port)
{
    unsigned lo = pit_read(p, t, port);
    unsigned hi = pit_read(p, t, port);
    return lo | hi << 8;
}

static uint8_t status_of(struct cc_pit *p, uint64_t t, int chan)
{
    pit_write(p, t, 0x43, (uint8_t)(0xe0 | 2 << chan));  /* read-back status only */
    return pit_read(p, t, (uint16_t)(0x40 + chan));
}

static void test_conversion_anchor(void)
{
    is_u64(ref_ns(11932), 10000151, "reference: 11932 ticks = 10000151 ns (rounded up)");
    is_u64(ref_ns(1), 839, "reference: 1 tick = 839 ns (rounded up)");
}

static void test_mode2_periodic(void)
{
    struct edges e = {0};
    struct cc_pit p;
    const uint64_t t0 = 5000;
    const uint32_t n = 11932;               /* Linux PIT_LATCH at HZ=100 */
    pit_init(&p, (struct cc_irq_sink){fake_set_irq, &e}, 0);
    is_u64(pit_next_deadline(&p), UINT64_MAX, "power-on: no deadline");
    ok(!pit_advance(&p, 1000000000), "power-on: no IRQ0");

    /* pit_set_periodic: 0x34, LSB, MSB */
    program(&p, t0, 0, 2, n);
    is_u64(pit_next_deadline(&p), t0 + 10000151, "first deadline = load + ceil(N*1e9/HZ)");
    is_int(latched_count(&p, t0), n, "count reads N right after the load");
    is_int(latched_count(&p, t0 + ref_ns(1) - 1), n, "still N just before tick 1");
    is_int(latched_count(&p, t0 + ref_ns(1)), n - 1, "N-1 at tick 1");
    uint64_t d1 = pit_next_deadline(&p);
    is_int(latched_count(&p, d1 - 1), 1, "count is 1 just before the deadline");
    is_int(latched_count(&p, d1), n, "count wraps to N at the deadline");
    ok(!pit_advance(&p, d1 - 1), "no edge before the deadline");
    is_int(e.rises, 0, "sink untouched");
    ok(pit_advance(&p, d1), "edge at the deadline");
    is_int(e.rises, 1, "one rising edge");
    is_int(e.level, 0, "edge is a pulse (line back low)");
    is_u64(pit_next_deadline(&p), t0 + 20000302, "second deadline on the grid");
    ok(!pit_advance(&p, d1), "same time again: no second edge");

    /* clock jumps over several periods: one edge, grid kept */
    ok(pit_advance(&p, t0 + ref_ns(5 * (uint64_t)n) + 7), "late advance delivers");
    is_int(e.rises, 2, "missed periods coalesced into one edge");
    is_u64(pit_next_deadline(&p), t0 + ref_ns(6 * (uint64_t)n), "next deadline = next grid point");

    /* advance half a period late: the next deadline is still on the grid */
    ok(pit_advance(&p, t0 + ref_ns(6 * (uint64_t)n + n / 2)), "half a period late");
    is_u64(pit_next_deadline(&p), t0 + ref_ns(7 * (uint64_t)n), "next deadline back on the grid");
    ok(!pit_advance(&p, t0 + ref_ns(7 * (uint64_t)n) - 1), "not early");

    /* no drift over many periods, each deadline exactly load + ceil(k*N*1e9/HZ) */
    int exact = 1;
    for (uint64_t k = 7; k <= 1001; k++) {
        uint64_t d = pit_next_deadline(&p);
        if (d != t0 + ref_ns(k * n) || latched_count(&p, d - 1) != 1 || latched_count(&p, d) != n)
            exact = 0;
        if (!pit_advance(&p, d))
            exact = 0;
    }
    ok(exact, "1000 periods: every deadline on the exact grid, count 1 -> N at each");
    is_u64(pit_next_deadline(&p), t0 + 10020151159ull, "deadline 1002 = t0 + 10020151159 (no drift)");
    is_int(e.rises, 3 + 995, "one edge per period");
    is_int(e.bad_line, 0, "only line 0 used");

    /* status: mode 2, LSB/MSB, OUT high except while count is 1 */
    uint64_t d = pit_next_deadline(&p);
    is_int(status_of(&p, d - 1, 0), 0x34, "status at count 1: OUT low, mode 2, access 3");
    is_int(status_of(&p, d, 0), 0xb4, "status after reload: OUT high");

    /* reprogramming the count restarts the period */
    uint64_t tw = d + 1234567;
    pit_advance(&p, tw);
    pit_write(&p, tw, 0x40, 0x00);
    pit_write(&p, tw, 0x40, 0x10);       /* 4096 */
    is_u64(pit_next_deadline(&p), tw + ref_ns(4096), "new count: grid restarts at the write");
}

static void test_mode2_random_consistency(void)
{
    struct cc_pit p;
    pit_init(&p, (struct cc_irq_sink){0}, 0);
    uint64_t x = 88172645463325252ull, t = 0;
    int good = 1;
    for (int i = 0; i < 300; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint32_t n = (uint32_t)(x % 65536) + 2;
        if (n > 65536)
            n = 65536;
        t += x % 100000000;
        program(&p, t, 0, 2, n == 65536 ? 0 : n);
        for (int j = 0; j < 3; j++) {
            uint64_t d = pit_next_deadline(&p);
            unsigned nr = n & 0xffff;   /* 65536 reads 0 */
            if (latched_count(&p, d - 1) != 1 || latched_count(&p, d) != nr)
                good = 0;
            if (!pit_advance(&p, d + (x >> 40) % 3))
                good = 0;
        }
    }
    ok(good, "300 random mode-2 reloads: count is 1 before and N at every deadline");
}

static void test_mode3(void)
{
    struct edges e = {0};
    struct cc_pit p;
    pit_init(&p, (struct cc_irq_sink){fake_set_irq, &e}, 0);
    program(&p, 100, 0, 3, 0);              /* 0 = 65536, the BIOS 18.2 Hz tick */
    is_u64(pit_next_deadline(&p), 100 + 54925402, "mode 3, count 0: period of 65536 ticks");
    is_int(latched_count(&p, 100 + ref_ns(1)), 65534, "square wave counts down by 2");
    is_int(status_of(&p, 100 + ref_ns(32767), 0) & 0x80, 0x80, "OUT high in the first half");
    is_int(status_of(&p, 100 + ref_ns(32768), 0) & 0x80, 0x00, "OUT low in the second half");
    ok(pit_advance(&p, 100 + 54925402), "edge at the end of the period");
    is_u64(pit_next_deadline(&p), 100 + ref_ns(2 * 65536), "periodic");

    /* mode 7 aliases mode 3, mode 6 aliases mode 2 */
    pit_write(&p, 200, 0x43, 0x3e);
    is_int(p.ch[0].mode, 3, "mode 7 -> 3");
    pit_write(&p, 200, 0x43, 0x3c);
    is_int(p.ch[0].mode, 2, "mode 6 -> 2");
    is_u64(pit_next_deadline(&p), UINT64_MAX, "control word alone stops IRQ0");
    pit_write(&p, 300, 0x40, 100);
    pit_write(&p, 300, 0x40, 0);
    is_u64(pit_next_deadline(&p), 300 + ref_ns(100), "aliased mode runs periodic");
    is_int(status_of(&p, 300, 0) & 0x0e, 0x04, "status reports mode 2");
}

static void test_oneshot(void)
{
    struct edges e = {0};
    struct cc_pit p;
    pit_init(&p, (struct cc_irq_sink){fake_set_irq, &e}, 0);

    /* mode 0 */
    program(&p, 1000, 0, 0, 1000);
    uint64_t d = pit_next_deadline(&p);
    is_u64(d, 1000 + 838096, "mode 0: deadline at terminal count");
    is_int(status_of(&p, d - 1, 0) & 0x80, 0x00, "OUT low before terminal count");
    is_int(latched_count(&p, d - 1), 1, "count 1 just before");
    is_int(latched_count(&p, d), 0, "count 0 at the deadline");
    is_int(status_of(&p, d, 0) & 0x80, 0x80, "OUT high at terminal count");
    ok(pit_advance(&p, d + 5000000), "late advance still delivers once");
    is_u64(pit_next_deadline(&p), UINT64_MAX, "one-shot: no further deadline");
    ok(!pit_advance(&p, UINT64_MAX - 1), "never fires again");
    is_int(e.rises, 1, "exactly one edge");
    is_int(latched_count(&p, d + ref_ns(1)), 0xffff, "count keeps going and wraps");
    is_int(status_of(&p, d + 10 * ref_ns(65536), 0) & 0x80, 0x80, "OUT stays high");

    /* mode 4: Linux oneshot clockevent (0x38, then LSB/MSB per event) */
    pit_write(&p, 2000000000, 0x43, 0x38);
    is_u64(pit_next_deadline(&p), UINT64_MAX, "set_oneshot: nothing until an event");
    pit_write(&p, 2000000000, 0x40, 0x50);
    pit_write(&p, 2000000000, 0x40, 0x00);
    d = pit_next_deadline(&p);
    is_u64(d, 2000000000 + ref_ns(0x50), "next_event(0x50): deadline at count 0");
    is_int(status_of(&p, d - 1, 0) & 0x80, 0x00, "mode 4 strobe: OUT low while count is 1");
    is_int(status_of(&p, d, 0) & 0x80, 0x80, "OUT high again at count 0 (the edge)");
    ok(pit_advance(&p, d), "mode 4 fires");
    is_int(e.rises, 2, "second edge");
    is_u64(pit_next_deadline(&p), UINT64_MAX, "mode 4 is one-shot");
    pit_write(&p, d + 10, 0x40, 0x20);
    pit_write(&p, d + 10, 0x40, 0x00);
    is_u64(pit_next_deadline(&p), d + 10 + ref_ns(0x20), "next event re-arms");

    /* clockevent_i8253_disable: 0x30, 0, 0, 0x30 stops everything */
    pit_write(&p, d + 20, 0x43, 0x30);
    pit_write(&p, d + 20, 0x40, 0);
    pit_write(&p, d + 20, 0x40, 0);
    is_u64(pit_next_deadline(&p), d + 20 + ref_ns(65536), "mode 0 count 0 = 65536 ticks");
    pit_write(&p, d + 21, 0x43, 0x30);
    is_u64(pit_next_deadline(&p), UINT64_MAX, "mode word stops the counter");
    ok(!pit_advance(&p, UINT64_MAX - 1), "no IRQ after shutdown");
    is_int(e.rises, 2, "no extra edges");

    /* reprogramming with an edge already due delivers it first */
    program(&p, 0, 0, 2, 100);
    e.rises = 0;
    program(&p, ref_ns(250), 0, 2, 100);
    is_int(e.rises, 1, "overdue edge delivered before the reprogram");
}

static void test_access_and_latch(void)
{
    struct cc_pit p;
    pit_init(&p, (struct cc_irq_sink){0}, 0);

    /* LSB only */
    pit_write(&p, 0, 0x43, 0x54);        /* ch1, LSB, mode 2 */
    pit_write(&p, 0, 0x41, 0x80);
    is_int(p.ch[1].reload, 0x80, "LSB-only write loads 0x0080");
    is_int(pit_read(&p, ref_ns(0x10), 0x41), 0x70, "LSB-only read");
    is_int(pit_read(&p, ref_ns(0x10), 0x41), 0x70, "LSB-only read again (no flip-flop)");
    /* MSB only */
    pit_write(&p, 0, 0x43, 0x64);        /* ch1, MSB, mode 2 */
    pit_write(&p, 0, 0x41, 0x12);
    is_int(p.ch[1].reload, 0x1200, "MSB-only write loads 0x1200");
    is_int(pit_read(&p, ref_ns(0x100), 0x41), 0x11, "MSB-only read");
    /* LSB then MSB, unlatched reads alternate */
    pit_write(&p, 0, 0x43, 0x74);
    pit_write(&p, 0, 0x41, 0x34);
    is_int(p.ch[1].reload, 0x1200, "after one byte the old count still runs");
    pit_write(&p, 0, 0x41, 0x12);
    is_int(p.ch[1].reload, 0x1234, "LSB then MSB");
    is_int(pit_read(&p, 0, 0x41), 0x34, "unlatched LSB");
    is_int(pit_read(&p, 0, 0x41), 0x12, "unlatched MSB");

    /* latch holds the value; a second latch before reading is ignored */
    pit_write(&p, ref_ns(4), 0x43, 0x40);
    pit_write(&p, ref_ns(100), 0x43, 0x40);
    is_int(pit_read(&p, ref_ns(200), 0x41), 0x30, "latched LSB (from the first latch)");
    is_int(pit_read(&p, ref_ns(300), 0x41), 0x12, "latched MSB");
    is_int(pit_read(&p, ref_ns(300), 0x41), (0x1234 - 300) & 0xff, "latch released after both bytes");
    (void)pit_read(&p, 0, 0x41);

    /* read-back: count of ch0 and ch2 plus status of ch2 */
    pit_write(&p, 0, 0x43, 0xb0);
    pit_write(&p, 0, 0x42, 0x00);
    pit_write(&p, 0, 0x42, 0x01);        /* ch2 mode 0, 256, gate low: held */
    program(&p, 0, 0, 2, 500);
    pit_write(&p, ref_ns(7), 0x43, 0xc8 | 0x02);   /* 11 0 0 1 0 1 0: count+status ch0, ch2 */
    is_int(pit_read(&p, ref_ns(50), 0x40), 0xb4, "read-back: status first (OUT high, mode 2)");
    is_int(pit_read(&p, ref_ns(50), 0x40), (500 - 7) & 0xff, "then the latched LSB");
    is_int(pit_read(&p, ref_ns(50), 0x40), (500 - 7) >> 8, "then the latched MSB");
    is_int(pit_read(&p, ref_ns(50), 0x42), 0x30, "ch2 status: OUT low, access 3, mode 0");
    is_int(pit_read(&p, ref_ns(50), 0x42), 0x00, "ch2 held count LSB (gate low)");
    is_int(pit_read(&p, ref_ns(50), 0x42), 0x01, "ch2 held count MSB");
    /* status only, count only */
    pit_write(&p, ref_ns(60), 0x43, 0xe2);
    is_int(pit_read(&p, ref_ns(60), 0x40), 0xb4, "read-back status only");
    is_int(pit_read(&p, ref_ns(60), 0x40), (500 - 60) & 0xff, "then live LSB");
    (void)pit_read(&p, ref_ns(60), 0x40);
    pit_write(&p, ref_ns(61), 0x43, 0xd2);
    is_int(pit_read(&p, ref_ns(70), 0x40), (500 - 61) & 0xff, "read-back count only: LSB");
    is_int(pit_read(&p, ref_ns(70), 0x40), 0x01, "MSB");
    /* hostile: read-back with no channel selected, reserved bit 0 set */
    pit_write(&p, ref_ns(80), 0x43, 0xc1);
    is_int(pit_read(&p, ref_ns(80), 0x40), (500 - 80) & 0xff, "empty read-back selects nothing");
    (void)pit_read(&p, ref_ns(80), 0x40);
    is_int(pit_read(&p, 0, 0x43), 0xff, "port 0x43 reads 0xff");
    is_int(pit_read(&p, 0, 0x44), 0xff, "other ports read 0xff");
    /* a control word drops pending latches */
    pit_write(&p, ref_ns(90), 0x43, 0x00);
    pit_write(&p, ref_ns(90), 0x43, 0x34);
    ok(!p.ch[0].latched, "control word clears the latch");
    is_int(status_of(&p, ref_ns(90), 0) & 0x40, 0x40, "null count after the control word");
    pit_write(&p, ref_ns(90), 0x40, 0x10);
    pit_write(&p, ref_ns(90), 0x40, 0x00);
    is_int(status_of(&p, ref_ns(90), 0) & 0x40, 0x00, "count loaded: null count clear");
}

static void test_channel2_port61(void)
{
    struct cc_pit p;
    pit_init(&p, (struct cc_irq_sink){0}, 0);
    uint64_t t = 1000000;

    is_int(pit_read(&p, t, 0x61) & 0x23, 0x00, "power-on: gate low, speaker off, OUT low");

    /* pit_calibrate_tsc: gate high, speaker off, mode 0, 50 ms latch, poll bit 5 */
    uint8_t v = pit_read(&p, t, 0x61);
    pit_write(&p, t, 0x61, (uint8_t)((v & ~0x02) | 0x01));
    is_int(pit_read(&p, t, 0x61) & 0x03, 0x01, "gate high, speaker data off");
    uint32_t latch = CC_PIT_HZ / 20;
    pit_write(&p, t, 0x43, 0xb0);
    pit_write(&p, t, 0x42, (uint8_t)latch);
    pit_write(&p, t, 0x42, (uint8_t)(latch >> 8));
    uint64_t t_load = t;
    int polls = 0;
    while (!(pit_read(&p, t, 0x61) & 0x20) && polls < 1000000) {
        t += 3400;                          /* one port exit of virtual time */
        polls++;
    }
    ok(pit_read(&p, t, 0x61) & 0x20, "bit 5 rises after %d polls", polls);
    ok(t >= t_load + ref_ns(latch) && t - 3400 < t_load + ref_ns(latch),
       "exactly at terminal count (%" PRIu64 " ns)", t - t_load);
    is_u64(pit_next_deadline(&p), UINT64_MAX, "channel 2 never touches IRQ0");

    /* quick_pit_calibrate: mode 0 from 0xffff, unlatched LSB/MSB reads */
    pit_write(&p, t, 0x43, 0xb0);
    pit_write(&p, t, 0x42, 0xff);
    pit_write(&p, t, 0x42, 0xff);
    int msb_ok = 1;
    for (int i = 0; i < 20; i++) {
        uint64_t ti = t + ref_ns(256u * (unsigned)i + 128);
        (void)pit_read(&p, ti, 0x42);
        if (pit_read(&p, ti, 0x42) != 0xff - i)
            msb_ok = 0;
    }
    ok(msb_ok, "MSB steps down once every 256 ticks");

    /* gate low holds the mode 0 count; high resumes it */
    t += ref_ns(1000);
    pit_write(&p, t, 0x61, 0x00);
    unsigned held = read16(&p, t, 0x42);
    is_int(held, 0xffff - 1000, "count at gate low");
    unsigned later = read16(&p, t + 1000000, 0x42);
    is_int(later, held, "count held while the gate is low");
    pit_write(&p, t + 1000000, 0x61, 0x01);
    unsigned resumed = read16(&p, t + 1000000 + ref_ns(10), 0x42);
    is_int(resumed, held - 10, "resumes from the held count");

    /* after terminal count, holding and resuming keeps OUT high */
    t += 5000000;
    pit_write(&p, t, 0x43, 0xb0);
    pit_write(&p, t, 0x42, 20);
    pit_write(&p, t, 0x42, 0);
    pit_write(&p, t + ref_ns(30), 0x61, 0x00);
    pit_write(&p, t + ref_ns(40), 0x61, 0x01);
    is_int(pit_read(&p, t + ref_ns(40), 0x61) & 0x20, 0x20, "held after TC: OUT stays high");
    is_int(pit_read(&p, t + ref_ns(40) + ref_ns(65536 - 10), 0x61) & 0x20, 0x20,
           "and the wrapped count does not fire again");
    pit_write(&p, t, 0x43, 0xb0);        /* reset the flip-flop state */

    /* mode 3 with an odd count: high for (N+1)/2 ticks, low for (N-1)/2 */
    t += 5000000;
    pit_write(&p, t, 0x43, 0xb6);
    pit_write(&p, t, 0x42, 5);
    pit_write(&p, t, 0x42, 0);
    char wave[11];
    for (int i = 0; i < 10; i++)
        wave[i] = pit_read(&p, t + ref_ns((uint64_t)i), 0x61) & 0x20 ? 'H' : 'L';
    wave[10] = 0;
    is_str(wave, "HHHLLHHHLL", "mode 3, N=5 square wave");

    /* mode 2 on channel 2: gate low forces OUT high, rising edge reloads */
    t += 10000000;
    pit_write(&p, t, 0x43, 0xb4);
    pit_write(&p, t, 0x42, 10);
    pit_write(&p, t, 0x42, 0);
    is_int(pit_read(&p, t + ref_ns(9), 0x61) & 0x20, 0x00, "mode 2: OUT low at count 1");
    pit_write(&p, t + ref_ns(9), 0x61, 0x00);
    is_int(pit_read(&p, t + ref_ns(9), 0x61) & 0x20, 0x20, "gate low forces OUT high");
    pit_write(&p, t + ref_ns(20), 0x61, 0x01);
    is_int(pit_read(&p, t + ref_ns(20), 0x42), 10, "gate rising edge reloads");
    (void)pit_read(&p, t, 0x42);

    /* mode 1: hardware one-shot started by the gate */
    pit_write(&p, t, 0x61, 0x00);
    pit_write(&p, t, 0x43, 0xb2);
    pit_write(&p, t, 0x42, 50);
    pit_write(&p, t, 0x42, 0);
    is_int(pit_read(&p, t + ref_ns(100), 0x61) & 0x20, 0x20, "mode 1: OUT high until triggered");
    uint64_t trig = t + ref_ns(100);
    pit_write(&p, trig, 0x61, 0x01);
    is_int(pit_read(&p, trig + ref_ns(49), 0x61) & 0x20, 0x00, "OUT low during the one-shot");
    is_int(pit_read(&p, trig + ref_ns(50), 0x61) & 0x20, 0x20, "OUT high at terminal count");
    pit_write(&p, trig + ref_ns(100), 0x61, 0x00);
    pit_write(&p, trig + ref_ns(101), 0x61, 0x01);
    is_int(pit_read(&p, trig + ref_ns(102), 0x61) & 0x20, 0x00, "retriggered");

    /* speaker data and refresh toggle */
    pit_write(&p, t, 0x61, 0x03);
    is_int(pit_read(&p, 0, 0x61) & 0x12, 0x02, "speaker data bit reads back, refresh 0 at t=0");
    is_int(pit_read(&p, 15085, 0x61) & 0x10, 0x10, "refresh bit toggles after 15085 ns");
    is_int(pit_read(&p, 30170, 0x61) & 0x10, 0x00, "and back");
}

static void test_snapshot(void)
{
    struct edges ea = {0}, eb = {0};
    struct cc_pit a, b;
    pit_init(&a, (struct cc_irq_sink){fake_set_irq, &ea}, 0);
    program(&a, 100, 0, 2, 11932);
    pit_write(&a, 200, 0x61, 0x03);
    program(&a, 300, 2, 0, 40000);
    pit_write(&a, 400, 0x43, 0x40);      /* ch1 latched, unread */
    pit_write(&a, 500, 0x42, 0x12);      /* half-written count: mode 0 stops */
    pit_advance(&a, 30000000);

    struct cc_buf buf;
    buf_init(&buf);
    pit_save(&a, &buf);
    struct cc_rd rd;
    struct cc_err err = {0};
    pit_init(&b, (struct cc_irq_sink){fake_set_irq, &eb}, 777);
    rd_init(&rd, buf.data, buf.len);
    is_int(pit_load(&b, &rd, &err), 0, "load succeeds");
    is_int(rd_left(&rd), 0, "whole section consumed");
    ok(b.irq.opaque == &eb, "load keeps the owner's sink");
    is_u64(pit_next_deadline(&b), pit_next_deadline(&a), "same next deadline");

    /* same script on both: identical reads and edges */
    int ra0 = ea.rises;
    uint64_t x = 42, t = 30000000;
    int same = 1;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        t += x % 200000;
        uint16_t port = (uint16_t)(0x40 + (x >> 20) % 4);
        if ((x >> 30) % 7 == 0)
            port = 0x61;
        uint8_t v = (uint8_t)(x >> 40);
        if ((x >> 50) & 1) {
            if ((port == 0x43 && (v >> 6) == 0 && (v & 0x30)) || port == 0x40)
                continue;   /* keep channel 0 ticking */
            pit_write(&a, t, port, v);
            pit_write(&b, t, port, v);
        } else if (pit_read(&a, t, port) != pit_read(&b, t, port)) {
            same = 0;
        }
        if (pit_advance(&a, t) != pit_advance(&b, t))
            same = 0;
    }
    ok(same && eb.rises > 0 && ea.rises - ra0 == eb.rises,
       "identical behaviour after load (%d edges each)", eb.rises);
    struct cc_pit a2 = a, b2 = b;
    a2.irq = b2.irq = (struct cc_irq_sink){0};
    ok(!memcmp(&a2, &b2, sizeof(a2)), "identical state after 20k steps");

    /* errors */
    struct cc_pit before = b;
    int trunc = 1;
    for (size_t n = 0; n < buf.len; n++) {
        rd_init(&rd, buf.data, n);
        memset(&err, 0, sizeof(err));
        if (pit_load(&b, &rd, &err) != -EINVAL || !strstr(err.msg, "pit: ") ||
            !strstr(err.msg, "truncated") || memcmp(&b, &before, sizeof(b)))
            trunc = 0;
    }
    ok(trunc, "every truncation refused, state untouched");

    uint8_t *bad = malloc(buf.len);
    memcpy(bad, buf.data, buf.len);
    bad[0] = 9;
    rd_init(&rd, bad, buf.len);
    is_int(pit_load(&b, &rd, &err), -EINVAL, "bad version refused");
    ok(strstr(err.msg, "pit") && strstr(err.msg, "version 9"), "message: %s", err.msg);

    /* channel 0 layout: mode@1 access@2 bcd@3 gate@4 reload@5..8 start@9..12 */
    static const struct { size_t off; uint8_t val; const char *what; } cases[] = {
        {1, 6, "mode 6"}, {1, 0xff, "mode 255"}, {2, 0, "access 0"}, {2, 4, "access 4"},
        {3, 2, "bool 2"}, {5, 0, "reload 0 (low byte of 11932 -> 0x2e00)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, buf.data, buf.len);
        bad[cases[i].off] = cases[i].val;
        if (i == 5) {
            memset(bad + 5, 0, 4);          /* reload 0 */
        }
        rd_init(&rd, bad, buf.len);
        memset(&err, 0, sizeof(err));
        ok(pit_load(&b, &rd, &err) == -EINVAL && strstr(err.msg, "pit: ") &&
           !memcmp(&b, &before, sizeof(b)), "out-of-range %s refused, state untouched", cases[i].what);
    }
    memcpy(bad, buf.data, buf.len);
    bad[7] = 1;                             /* reload 0x1xxxx > 65536 */
    bad[8] = 0;
    rd_init(&rd, bad, buf.len);
    ok(pit_load(&b, &rd, &err) == -EINVAL, "reload > 65536 refused");
    free(bad);
    buf_free(&buf);
}

static int ch_ok(const struct cc_pit_channel *ch)
{
    return ch->mode <= 5 && ch->access >= 1 && ch->access <= 3 && ch->reload >= 1 &&
           ch->reload <= 65536 && ch->start >= 1 && ch->start <= 65536 &&
           (!ch->counting || ch->armed);
}

static void test_fuzz(void)
{
    struct edges e = {0};
    struct cc_pit p;
    pit_init(&p, (struct cc_irq_sink){fake_set_irq, &e}, 0);
    static const uint16_t ports[] = {0x40, 0x41, 0x42, 0x43, 0x43, 0x43, 0x61, 0x44, 0x60};
    uint64_t x = 0xdeadbeefcafef00dull, t = 0;
    int good = 1, advances = 0, delivered = 0;
    for (int i = 0; i < 100000 && good; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        switch ((x >> 60) & 3) {
        case 0: break;
        case 1: t += x % 1000; break;
        case 2: t += x % 100000000; break;
        default: t += (x >> 20) % 3; break;
        }
        uint16_t port = ports[(x >> 8) % 9];
        uint8_t v = (uint8_t)(x >> 24);
        if ((x >> 40) & 1)
            pit_write(&p, t, port, v);
        else
            (void)pit_read(&p, t, port);
        if ((x >> 41) & 1) {
            advances++;
            if (pit_advance(&p, t))
                delivered++;
            if (pit_next_deadline(&p) <= t)
                good = 0;   /* after advance the deadline is in the future */
        }
        for (int c = 0; c < 3; c++)
            if (!ch_ok(&p.ch[c]))
                good = 0;
        if (e.level)
            good = 0;
    }
    ok(good, "100k random accesses: invariants hold, deadlines stay ahead of now");
    /* writes that reprogram channel 0 also deliver overdue edges */
    ok(e.rises >= delivered && e.falls == e.rises && e.bad_line == 0,
       "every edge is one pulse on line 0 (%d from advance, %d in all)", delivered, e.rises);

    /* extreme times: no overflow near UINT64_MAX */
    program(&p, UINT64_MAX - 1000, 0, 2, 0);
    is_u64(pit_next_deadline(&p), UINT64_MAX, "deadline past the end of time saturates");
    ok(!pit_advance(&p, UINT64_MAX), "and never fires");
    (void)latched_count(&p, UINT64_MAX);
    program(&p, 0, 0, 2, 1);
    ok(pit_advance(&p, UINT64_MAX - 1), "count 1 at the end of time");
    ok(pit_next_deadline(&p) == UINT64_MAX || pit_next_deadline(&p) > UINT64_MAX - 1,
       "next deadline stays ahead");
}

int main(void)
{
    tap_plan(0);
    test_conversion_anchor();
    test_mode2_periodic();
    test_mode2_random_consistency();
    test_mode3();
    test_oneshot();
    test_access_and_latch();
    test_channel2_port61();
    test_snapshot();
    test_fuzz();
    return tap_exit();
}
