/* Unit tests for the MC146818 RTC/CMOS (src/devices/cmos.h): time
 * registers from virtual time in BCD and binary, 12 and 24 hour; the UIP
 * window and Linux's mc146818_avoid_UIP read; month, year, leap-year and
 * century rollover; the NMI bit of port 0x70; guest writes of the time
 * (single field, and the SET-bit sequence) read back; cmos_shift;
 * NVRAM presets; snapshots and load errors; a seeded robustness run. */
#include <errno.h>

#include "../tap.h"
#include "devices/cmos.h"

#define SEC 1000000000ull

enum { R_SEC = 0, R_MIN = 2, R_HOUR = 4, R_WDAY = 6, R_MDAY = 7, R_MON = 8, R_YEAR = 9,
       R_A = 0x0a, R_B = 0x0b, R_C = 0x0c, R_D = 0x0d, R_CENT = 0x32 };

static uint8_t rd(struct cc_cmos *c, uint64_t t, uint8_t reg)
{
    cmos_write(c, t, 0x70, reg);
    return cmos_read(c, t, 0x71);
}

static void wr(struct cc_cmos *c, uint64_t t, uint8_t reg, uint8_t v)
{
    cmos_write(c, t, 0x70, reg);
    cmos_write(c, t, 0x71, v);
}

/* "YYYY-MM-DD hh:mm:ss w" from the registers, decoding BCD or binary. */
static const char *show(struct cc_cmos *c, uint64_t t)
{
    static char s[64];
    int bin = rd(c, t, R_B) & 0x04;
#define D(r) (bin ? (r) : ((r) >> 4) * 10 + ((r) & 15))
    uint8_t h = rd(c, t, R_HOUR);
    snprintf(s, sizeof(s), "%02d%02d-%02d-%02d %02d:%02d:%02d %d",
             D(rd(c, t, R_CENT)), D(rd(c, t, R_YEAR)), D(rd(c, t, R_MON)), D(rd(c, t, R_MDAY)),
             D(h & 0x7f), D(rd(c, t, R_MIN)), D(rd(c, t, R_SEC)), D(rd(c, t, R_WDAY)));
#undef D
    if (h & 0x80)
        strcat(s, " pm");
    return s;
}

static void test_defaults_and_formats(void)
{
    struct cc_cmos c;
    cmos_init(&c, CC_CMOS_DEFAULT_EPOCH, 512ull << 20);
    is_str(show(&c, 0), "2026-01-01 00:00:00 5", "t=0: default epoch, Thursday");
    is_int(rd(&c, 0, R_A), 0x26, "register A: 32 kHz base, 1024 Hz");
    is_int(rd(&c, 0, R_B), 0x02, "register B: 24 hour, BCD");
    is_int(rd(&c, 0, R_C), 0x00, "register C reads 0");
    is_int(rd(&c, 0, R_D), 0x80, "register D: valid RAM and time (bit 6 clear)");

    uint64_t t = (86400ull + 13 * 3600 + 45 * 60 + 59) * SEC + SEC / 2;
    is_str(show(&c, t), "2026-01-02 13:45:59 6", "a day later, BCD 24h");
    is_int(rd(&c, t, R_SEC), 0x59, "seconds register is BCD 0x59");
    is_int(rd(&c, t, R_HOUR), 0x13, "hour 0x13");

    wr(&c, t, R_B, 0x06);                   /* binary, 24h */
    is_int(rd(&c, t, R_SEC), 59, "binary seconds 59");
    is_int(rd(&c, t, R_HOUR), 13, "binary hour 13");
    is_int(rd(&c, t, R_YEAR), 26, "binary year 26");
    wr(&c, t, R_B, 0x04);                   /* binary, 12h */
    is_int(rd(&c, t, R_HOUR), 0x81, "12h binary: 1 pm = 0x81");
    wr(&c, t, R_B, 0x00);                   /* BCD, 12h */
    is_int(rd(&c, t, R_HOUR), 0x81, "12h BCD: 1 pm = 0x81");
    is_int(rd(&c, 0, R_HOUR), 0x12, "12h: midnight is 12 am");
    is_int(rd(&c, 12 * 3600 * SEC, R_HOUR), 0x92, "12h: noon is 12 pm");
    is_int(rd(&c, 23 * 3600 * SEC, R_HOUR), 0x91, "12h BCD: 11 pm");
    wr(&c, t, R_B, 0x04);
    is_int(rd(&c, 23 * 3600 * SEC, R_HOUR), 0x8b, "12h binary: 11 pm = 0x8b");
    wr(&c, t, R_B, 0x02);
    is_int(rd(&c, t, R_CENT), 0x20, "century register 0x32 = 20");
}

static void test_uip(void)
{
    struct cc_cmos c;
    cmos_init(&c, CC_CMOS_DEFAULT_EPOCH, 0);
    uint64_t edge = 5 * SEC;
    ok(!(rd(&c, edge - 244001, R_A) & 0x80), "UIP clear 244.001 us before the second");
    ok(rd(&c, edge - 244000, R_A) & 0x80, "UIP set 244 us before the second");
    ok(rd(&c, edge - 1, R_A) & 0x80, "UIP set 1 ns before");
    is_int(rd(&c, edge - 1, R_SEC), 0x04, "seconds still 4 during UIP");
    ok(!(rd(&c, edge, R_A) & 0x80), "UIP clear at the boundary");
    is_int(rd(&c, edge, R_SEC), 0x05, "seconds 5 after the update");

    /* mc146818_avoid_UIP as Linux does it, starting inside the window */
    uint64_t t = edge + SEC - 200000;
    int tries = 0, done = 0;
    uint8_t secs = 0;
    while (!done && tries < 100) {
        tries++;
        secs = rd(&c, t, R_SEC);
        t += 3400;
        if (rd(&c, t, R_A) & 0x80) {
            t += 100000;                    /* udelay(100) */
            continue;
        }
        t += 3400;
        if (secs != rd(&c, t, R_SEC))
            continue;
        done = 1;
    }
    ok(done && tries > 1, "avoid_UIP retries then succeeds (%d tries)", tries);
    is_int(secs, 0x06, "and reads the new second");

    wr(&c, 0, R_B, 0x82);
    ok(!(rd(&c, edge - 1, R_A) & 0x80), "no UIP while SET halts updates");
    wr(&c, 0, R_A, 0xa6);
    is_int(rd(&c, 0, R_A), 0x26, "UIP is read-only");
}

static void test_rollover(void)
{
    static const struct { uint64_t epoch; const char *before, *after; } cases[] = {
        {1709164799, "2024-02-28 23:59:59 4", "2024-02-29 00:00:00 5"},
        {1677628799, "2023-02-28 23:59:59 3", "2023-03-01 00:00:00 4"},
        {1767225599, "2025-12-31 23:59:59 4", "2026-01-01 00:00:00 5"},
        {4107542399, "2100-02-28 23:59:59 1", "2100-03-01 00:00:00 2"},
        {951782399, "2000-02-28 23:59:59 2", "2000-02-29 00:00:00 3"},
        {946684799, "1999-12-31 23:59:59 6", "2000-01-01 00:00:00 7"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cc_cmos c;
        cmos_init(&c, cases[i].epoch, 0);
        is_str(show(&c, SEC - 1), cases[i].before, "before %s", cases[i].before);
        is_str(show(&c, SEC), cases[i].after, "rolls to %s", cases[i].after);
    }
    struct cc_cmos c;
    cmos_init(&c, 1709164799, 0);
    is_str(show(&c, SEC + 86400 * SEC), "2024-03-01 00:00:00 6", "leap day then March 1st");
    cmos_init(&c, 1767225600, 0);
    is_str(show(&c, 31ull * 86400 * SEC), "2026-02-01 00:00:00 1", "January has 31 days");
    is_str(show(&c, 365ull * 86400 * SEC), "2027-01-01 00:00:00 6", "2026 has 365 days");
}

static void test_index_port(void)
{
    struct cc_cmos c;
    cmos_init(&c, CC_CMOS_DEFAULT_EPOCH, 0);
    cmos_write(&c, 0, 0x70, 0x8a);
    ok(c.nmi_disabled, "bit 7 of the index disables NMI");
    is_int(c.index, 0x0a, "index is bits 0-6");
    is_int(cmos_read(&c, 0, 0x71), 0x26, "data port reads register A");
    cmos_write(&c, 0, 0x70, 0x0a);
    ok(!c.nmi_disabled, "NMI enabled again");
    is_int(cmos_read(&c, 0, 0x70), 0xff, "index port is write-only");
    is_int(cmos_read(&c, 0, 0x72), 0xff, "other ports read 0xff");
    cmos_write(&c, 0, 0x72, 0x12);       /* ignored */
    cmos_write(&c, 0, 0x70, 0xc0);
    cmos_write(&c, 0, 0x71, 0x77);
    is_int(c.ram[0x40], 0x77, "0xc0 selects 0x40 with NMI off");
    is_int(cmos_read(&c, 0, 0x71), 0x77, "NVRAM reads back");
    wr(&c, 0, R_C, 0xff);
    wr(&c, 0, R_D, 0x00);
    is_int(rd(&c, 0, R_C), 0x00, "register C is read-only");
    is_int(rd(&c, 0, R_D), 0x80, "register D is read-only");
}

static void test_guest_writes(void)
{
    struct cc_cmos c;
    cmos_init(&c, CC_CMOS_DEFAULT_EPOCH, 0);
    uint64_t t = 10 * SEC + 123;
    wr(&c, t, R_MIN, 0x30);
    is_str(show(&c, t), "2026-01-01 00:30:10 5", "writing minutes moves the clock");
    is_str(show(&c, t + 5 * SEC), "2026-01-01 00:30:15 5", "and it keeps running");
    wr(&c, t, R_WDAY, 0x03);
    is_int(rd(&c, t, R_WDAY), 5, "day of week is derived from the date");

    /* mc146818_set_time-style: SET, write all fields, clear SET */
    t = 100 * SEC;
    wr(&c, t, R_B, 0x82);
    is_str(show(&c, t + 3 * SEC), "2026-01-01 00:31:40 5", "SET freezes the clock");
    wr(&c, t, R_YEAR, 0x30);
    wr(&c, t, R_MON, 0x06);
    wr(&c, t, R_MDAY, 0x15);
    wr(&c, t, R_HOUR, 0x12);
    wr(&c, t, R_MIN, 0x34);
    wr(&c, t, R_SEC, 0x56);
    is_int(rd(&c, t, R_MON), 0x06, "raw registers read back while SET");
    wr(&c, t + SEC, R_B, 0x02);
    is_str(show(&c, t + SEC), "2030-06-15 12:34:56 7", "clearing SET starts the new time");
    is_str(show(&c, t + 2 * SEC), "2030-06-15 12:34:57 7", "running");

    /* month and day written in an order that is invalid in between */
    t += 2 * SEC;
    wr(&c, t, R_B, 0x82);
    wr(&c, t, R_MDAY, 0x31);                /* June 31st does not exist ... */
    wr(&c, t, R_MON, 0x07);                 /* ... but July 31st does */
    wr(&c, t, R_B, 0x02);
    is_str(show(&c, t), "2030-07-31 12:34:57 4", "fields are taken together at SET release");

    /* binary 12h write */
    wr(&c, t, R_B, 0x84 | 0x02);
    wr(&c, t, R_B, 0x80 | 0x04);            /* 12h binary while SET */
    wr(&c, t, R_HOUR, 0x83);                /* 3 pm */
    wr(&c, t, R_MIN, 0);
    wr(&c, t, R_SEC, 0);
    wr(&c, t, R_B, 0x04);
    wr(&c, t, R_B, 0x02);
    is_str(show(&c, t), "2030-07-31 15:00:00 4", "12h binary write: 3 pm");

    /* other centuries: 2100 is not a leap year, 2400 is */
    wr(&c, t, R_B, 0x82);
    wr(&c, t, R_CENT, 0x21);
    wr(&c, t, R_YEAR, 0x00);
    wr(&c, t, R_MON, 0x02);
    wr(&c, t, R_MDAY, 0x29);
    wr(&c, t, R_B, 0x02);
    is_str(show(&c, t), "2100-03-01 15:00:00 2", "Feb 29th 2100 carries into March");
    wr(&c, t, R_CENT, 0x24);
    wr(&c, t, R_MON, 0x02);
    wr(&c, t, R_MDAY, 0x29);
    is_str(show(&c, t), "2400-02-29 15:00:00 3", "2400 is a leap year (written with SET off)");

    /* out-of-range months carry into the year */
    wr(&c, t, R_CENT, 0x20);
    wr(&c, t, R_B, 0x82);
    wr(&c, t, R_YEAR, 0x30);
    wr(&c, t, R_MON, 0x13);
    wr(&c, t, R_MDAY, 0x05);
    wr(&c, t, R_B, 0x02);
    is_str(show(&c, t), "2031-01-05 15:00:00 1", "month 13 is January of the next year");
    wr(&c, t, R_MON, 0x00);
    is_str(show(&c, t), "2030-12-05 15:00:00 5", "month 0 is December of the year before");

    /* garbage: out-of-range BCD digits and zero fields never crash */
    wr(&c, t, R_B, 0x82);
    wr(&c, t, R_MON, 0x00);
    wr(&c, t, R_MDAY, 0x00);
    wr(&c, t, R_HOUR, 0xff);
    wr(&c, t, R_CENT, 0xff);
    wr(&c, t, R_B, 0x02);
    is_str(show(&c, t), "9999-12-31 23:59:59 6", "absurd dates clamp to 9999-12-31");
    wr(&c, t, R_CENT, 0x00);
    wr(&c, t, R_YEAR, 0x00);
    is_str(show(&c, t), "1970-01-01 00:00:00 5", "and to 1970 at the other end");
}

static void test_shift_and_nvram(void)
{
    struct cc_cmos c;
    cmos_init(&c, CC_CMOS_DEFAULT_EPOCH, 8ull << 30);
    cmos_shift(&c, 3600);
    is_str(show(&c, 0), "2026-01-01 01:00:00 5", "shift +1 h");
    cmos_shift(&c, -2 * 86400);
    is_str(show(&c, 0), "2025-12-30 01:00:00 3", "shift -2 days");
    cmos_shift(&c, INT64_MAX);
    cmos_shift(&c, INT64_MAX);
    is_int(c.offset_s, INT64_MAX, "shift saturates");
    is_str(show(&c, 0), "9999-12-31 23:59:59 6", "clock clamps");
    cmos_shift(&c, INT64_MIN);
    cmos_shift(&c, INT64_MIN);
    is_int(c.offset_s, INT64_MIN, "and saturates low");

    /* 8 GiB: 3 GiB below 4 GiB, 5 GiB above */
    is_int(c.ram[0x15] | c.ram[0x16] << 8, 640, "base memory 640 KiB");
    is_int(c.ram[0x17] | c.ram[0x18] << 8, 0xffff, "extended memory KiB, capped");
    is_int(c.ram[0x30] | c.ram[0x31] << 8, 0xffff, "0x30/0x31 mirror");
    is_int(c.ram[0x34] | c.ram[0x35] << 8, (3072 - 16) * 16, "16 MiB..3 GiB in 64 KiB units");
    is_int(c.ram[0x5b] | c.ram[0x5c] << 8 | c.ram[0x5d] << 16, 5 * 16384, "above 4 GiB in 64 KiB units");
    cmos_init(&c, CC_CMOS_DEFAULT_EPOCH, 32ull << 20);
    is_int(c.ram[0x17] | c.ram[0x18] << 8, 31 * 1024, "32 MiB: 31 MiB extended");
    is_int(c.ram[0x34] | c.ram[0x35] << 8, 16 * 16, "32 MiB: 16 MiB over 16 MiB");
    is_int(c.ram[0x5b], 0, "nothing above 4 GiB");
}

static int same_behaviour(struct cc_cmos *a, struct cc_cmos *b, uint64_t t)
{
    uint64_t x = 99;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        t += x % (3 * SEC);
        uint8_t reg = (uint8_t)(x >> 8) & 0x7f, v = (uint8_t)(x >> 16);
        if ((x >> 30) % 4 == 0) {
            wr(a, t, reg, v);
            wr(b, t, reg, v);
        } else if (rd(a, t, reg) != rd(b, t, reg)) {
            return 0;
        }
    }
    return !memcmp(a, b, sizeof(*a));
}

static void test_snapshot(void)
{
    struct cc_cmos a, b;
    cmos_init(&a, CC_CMOS_DEFAULT_EPOCH, 1ull << 30);
    uint64_t t = 77 * SEC;
    wr(&a, t, R_MIN, 0x42);
    cmos_shift(&a, -12345);
    wr(&a, t, 0x50, 0xab);
    wr(&a, t, R_B, 0x06);
    cmos_write(&a, t, 0x70, 0x80 | R_SEC);

    struct cc_buf buf;
    buf_init(&buf);
    cmos_save(&a, &buf);
    struct cc_rd r;
    struct cc_err err = {0};
    memset(&b, 0, sizeof(b));
    rd_init(&r, buf.data, buf.len);
    is_int(cmos_load(&b, &r, &err), 0, "load succeeds");
    is_int(rd_left(&r), 0, "whole section consumed");
    ok(!memcmp(&a, &b, sizeof(a)), "identical state");
    is_int(cmos_read(&b, t, 0x71), cmos_read(&a, t, 0x71), "selected register survives");
    ok(same_behaviour(&a, &b, t), "identical behaviour after load");

    struct cc_cmos before = b;
    int trunc = 1;
    for (size_t n = 0; n < buf.len; n++) {
        rd_init(&r, buf.data, n);
        memset(&err, 0, sizeof(err));
        if (cmos_load(&b, &r, &err) != -EINVAL || !strstr(err.msg, "cmos: ") ||
            !strstr(err.msg, "truncated") || memcmp(&b, &before, sizeof(b)))
            trunc = 0;
    }
    ok(trunc, "every truncation refused, state untouched");

    uint8_t *bad = malloc(buf.len);
    memcpy(bad, buf.data, buf.len);
    bad[0] = 0x7f;
    rd_init(&r, bad, buf.len);
    is_int(cmos_load(&b, &r, &err), -EINVAL, "bad version refused");
    ok(strstr(err.msg, "cmos") && strstr(err.msg, "version 127"), "message: %s", err.msg);
    /* layout: ver, index, nmi, ram[128], offset, epoch */
    static const struct { size_t off; uint8_t val; const char *what; } cases[] = {
        {1, 0x80, "index 0x80"}, {2, 2, "nmi byte 2"}, {3 + R_A, 0xa6, "UIP stored in A"},
        {3 + R_C, 0x10, "register C non-zero"}, {3 + R_D, 0x00, "register D invalid"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, buf.data, buf.len);
        bad[cases[i].off] = cases[i].val;
        rd_init(&r, bad, buf.len);
        memset(&err, 0, sizeof(err));
        ok(cmos_load(&b, &r, &err) == -EINVAL && strstr(err.msg, "cmos: ") &&
           !memcmp(&b, &before, sizeof(b)), "%s refused, state untouched", cases[i].what);
    }
    free(bad);
    buf_free(&buf);
}

static void test_fuzz(void)
{
    struct cc_cmos c, d;
    cmos_init(&c, CC_CMOS_DEFAULT_EPOCH, 2ull << 30);
    uint64_t x = 0xfeedfacecafebeefull, t = 0;
    int good = 1;
    for (int i = 0; i < 100000 && good; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        t += (x >> 50) % 4 == 0 ? x % (1000 * SEC) : x % 100000;
        uint16_t port = (uint16_t)(0x70 + (x >> 8) % 3);
        uint8_t v = (uint8_t)(x >> 16);
        if ((x >> 24) % 7 == 0)
            cmos_shift(&c, (int64_t)(x >> 1) >> ((x >> 30) % 64));
        if ((x >> 40) & 1)
            cmos_write(&c, t, port, v);
        else
            (void)cmos_read(&c, t, port);
        if (c.index > 0x7f || (c.ram[R_A] & 0x80) || c.ram[R_C] || c.ram[R_D] != 0x80)
            good = 0;
        if (i % 1013 == 0) {
            struct cc_buf b;
            struct cc_rd r;
            struct cc_err err = {0};
            buf_init(&b);
            cmos_save(&c, &b);
            rd_init(&r, b.data, b.len);
            if (cmos_load(&d, &r, &err) != 0 || memcmp(&c, &d, sizeof(c)))
                good = 0;
            buf_free(&b);
        }
    }
    ok(good, "100k random accesses and shifts: invariants hold, snapshots reload");
    /* every rendered time is a valid date in range */
    int valid = 1;
    for (int i = 0; i < 2000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        cmos_init(&c, x >> (x % 64), 0);
        cmos_shift(&c, (int64_t)x >> ((x >> 8) % 64));
        wr(&c, 0, R_B, 0x06);
        uint64_t tt = x * 7919;
        int mon = rd(&c, tt, R_MON), mday = rd(&c, tt, R_MDAY), h = rd(&c, tt, R_HOUR);
        int mi = rd(&c, tt, R_MIN), s = rd(&c, tt, R_SEC), w = rd(&c, tt, R_WDAY);
        if (mon < 1 || mon > 12 || mday < 1 || mday > 31 || h > 23 || mi > 59 || s > 59 ||
            w < 1 || w > 7 || rd(&c, tt, R_YEAR) > 99 || rd(&c, tt, R_CENT) < 19 || rd(&c, tt, R_CENT) > 99)
            valid = 0;
    }
    ok(valid, "random epochs, shifts and times always render a valid date");

    /* SET on and off without writes must not move the clock: render and
     * parse are inverse over the whole range, in every format */
    int same = 1;
    for (int i = 0; i < 5000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        cmos_init(&c, x % 253402300800ull, 0);
        uint8_t fmt = (uint8_t)((x >> 40) & 0x06);
        wr(&c, 0, R_B, fmt);
        char before[64];
        snprintf(before, sizeof(before), "%s", show(&c, 0));
        wr(&c, 0, R_B, fmt | 0x80);
        wr(&c, 0, R_B, fmt);
        if (strcmp(before, show(&c, 0)) || c.offset_s != 0) {
            tap_diag("epoch %" PRIu64 " fmt %x: %s -> %s", c.epoch_s, fmt, before, show(&c, 0));
            same = 0;
            break;
        }
    }
    ok(same, "5000 random times: SET capture and release is exact");
}

/* An epoch past the year 9999 (fuzz_legacy found one above INT64_MAX
 * seconds that made written times read back wrong): init clamps it to
 * 9999-12-31T23:59:59, a snapshot section holding one is refused. */
static void test_epoch_limit(void)
{
    struct cc_cmos c;
    cmos_init(&c, UINT64_MAX, 64 << 20);
    ok(c.epoch_s == CC_CMOS_MAX_EPOCH, "an epoch of 2^64-1 s is clamped to 9999-12-31T23:59:59");
    wr(&c, 0, R_B, 0x86);           /* SET, binary, 24 h */
    wr(&c, 0, 0x00, 26);
    wr(&c, 0, R_B, 0x06);
    is_int(rd(&c, 0, 0x00), 26, "a guest writing 26 to the seconds reads back 26 there");
    struct cc_buf b;
    buf_init(&b);
    cmos_save(&c, &b);
    for (size_t i = 0; i < 8; i++)      /* the epoch is the record's last u64 */
        b.data[b.len - 8 + i] = 0xff;
    struct cc_rd r;
    rd_init(&r, b.data, b.len);
    struct cc_err err = {0};
    ok(cmos_load(&c, &r, &err) == -EINVAL && strstr(err.msg, "past the year 9999"),
       "a snapshot with such an epoch is refused: %s", err.msg);
    buf_free(&b);
}

int main(void)
{
    tap_plan(0);
    test_epoch_limit();
    test_defaults_and_formats();
    test_uip();
    test_rollover();
    test_index_port();
    test_guest_writes();
    test_shift_and_nvram();
    test_snapshot();
    test_fuzz();
    return tap_exit();
}
