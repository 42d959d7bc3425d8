/* MC146818 RTC and CMOS NVRAM on the virtual clock (see cmos.h).
 *
 * The time registers are not stored while the clock runs: every read
 * renders wall = epoch_s + offset_s + now_ns / 1e9 (clamped to
 * 1970-01-01 .. 9999-12-31T23:59:59) in the format register B asks for.
 * A guest write to a time register renders the current time, replaces that
 * one field, converts back and moves offset_s so the clock now shows it.
 * While register B's SET bit is on the clock is frozen: the rendered time is
 * captured into ram[] at the 0 -> 1 edge, reads and writes use those raw
 * bytes, and clearing SET converts them back into offset_s (fields out of
 * range carry over, e.g. day 32 of January is February 1st). The day of the
 * week is always derived from the date; writes to it are ignored.
 */
#include <errno.h>
#include <string.h>

#include "devices/cmos.h"

#define CMOS_SAVE_VERSION 1
#define NS_PER_S 1000000000ull
#define UIP_NS 244000ull                /* UIP is set this long before a second */
#define MAX_WALL 253402300799ll         /* 9999-12-31T23:59:59Z */
#define LOW_MEM_LIMIT 0xc0000000ull     /* RAM above 3 GiB is reported above 4 GiB */

enum {
    REG_SEC = 0x00, REG_MIN = 0x02, REG_HOUR = 0x04, REG_WDAY = 0x06,
    REG_MDAY = 0x07, REG_MON = 0x08, REG_YEAR = 0x09,
    REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d, REG_CENTURY = 0x32,
};

#define A_UIP     0x80
#define B_SET     0x80
#define B_UIE     0x10
#define B_BINARY  0x04
#define B_24H     0x02
#define D_VRT     0x80

/* The time registers in the order render/parse use. */
static const uint8_t time_regs[8] = {
    REG_SEC, REG_MIN, REG_HOUR, REG_WDAY, REG_MDAY, REG_MON, REG_YEAR, REG_CENTURY,
};
enum { T_SEC, T_MIN, T_HOUR, T_WDAY, T_MDAY, T_MON, T_YEAR, T_CENTURY, T_N };

static int time_slot(uint8_t reg)
{
    for (int i = 0; i < T_N; i++)
        if (time_regs[i] == reg)
            return i;
    return -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1-12, d from 1,
 * larger d carries into later months). Uses 400-year eras of 146097 days. */
static int64_t days_from_civil(int64_t y, int m, int64_t d)
{
    if (m <= 2)
        y--;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                            /* 0..399 */
    int64_t mp = m > 2 ? m - 3 : m + 9;                     /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;                     /* 0000-03-01 .. 1970-01-01 */
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                         /* 0..146096 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);  /* from March 1st */
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t clamp_wall(__int128 w)
{
    if (w < 0)
        return 0;
    if (w > MAX_WALL)
        return MAX_WALL;
    return (int64_t)w;
}

static int64_t wall_now(const struct cc_cmos *c, uint64_t now_ns)
{
    return clamp_wall((__int128)c->epoch_s + c->offset_s + (__int128)(now_ns / NS_PER_S));
}

/* Make the clock show wall at now_ns. */
static void set_wall(struct cc_cmos *c, uint64_t now_ns, int64_t wall)
{
    __int128 off = (__int128)wall - c->epoch_s - (__int128)(now_ns / NS_PER_S);
    if (off > INT64_MAX)
        off = INT64_MAX;
    if (off < INT64_MIN)
        off = INT64_MIN;
    c->offset_s = (int64_t)off;
}

static bool binary_mode(const struct cc_cmos *c)
{
    return c->ram[REG_B] & B_BINARY;
}

static uint8_t encode(const struct cc_cmos *c, int v)
{
    return binary_mode(c) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | v % 10);
}

static int decode(const struct cc_cmos *c, uint8_t raw)
{
    return binary_mode(c) ? raw : (raw >> 4) * 10 + (raw & 0x0f);
}

static void render(const struct cc_cmos *c, int64_t wall, uint8_t out[T_N])
{
    int64_t days = wall / 86400, secs = wall % 86400, year;
    int mon, mday;
    civil_from_days(days, &year, &mon, &mday);
    int hour = (int)(secs / 3600);

    out[T_SEC] = encode(c, (int)(secs % 60));
    out[T_MIN] = encode(c, (int)(secs / 60 % 60));
    if (c->ram[REG_B] & B_24H) {
        out[T_HOUR] = encode(c, hour);
    } else {
        int h12 = hour % 12 ? hour % 12 : 12;
        out[T_HOUR] = (uint8_t)(encode(c, h12) | (hour >= 12 ? 0x80 : 0));
    }
    out[T_WDAY] = encode(c, (int)((days + 4) % 7) + 1);     /* 1970-01-01: Thursday; Sunday = 1 */
    out[T_MDAY] = encode(c, mday);
    out[T_MON] = encode(c, mon);
    out[T_YEAR] = encode(c, (int)(year % 100));
    out[T_CENTURY] = encode(c, (int)(year / 100));
}

/* Inverse of render, for any byte values a guest may have written. */
static int64_t parse(const struct cc_cmos *c, const uint8_t in[T_N])
{
    int hour;
    if (c->ram[REG_B] & B_24H) {
        hour = decode(c, in[T_HOUR]);
    } else {
        hour = decode(c, in[T_HOUR] & 0x7f) % 12;
        if (in[T_HOUR] & 0x80)
            hour += 12;
    }
    int64_t year = (int64_t)decode(c, in[T_CENTURY]) * 100 + decode(c, in[T_YEAR]);
    int64_t mon0 = decode(c, in[T_MON]) - 1;                /* may be -1 or > 11 */
    year += mon0 >= 0 ? mon0 / 12 : -1;
    int mon = (int)((mon0 % 12 + 12) % 12) + 1;
    int64_t days = days_from_civil(year, mon, decode(c, in[T_MDAY]));
    __int128 wall = (__int128)days * 86400 + (int64_t)hour * 3600 +
                    decode(c, in[T_MIN]) * 60 + decode(c, in[T_SEC]);
    return clamp_wall(wall);
}

static bool update_in_progress(const struct cc_cmos *c, uint64_t now_ns)
{
    if (c->ram[REG_B] & B_SET)
        return false;           /* updates are halted */
    return now_ns % NS_PER_S >= NS_PER_S - UIP_NS;
}

static void put_mem16(struct cc_cmos *c, uint8_t reg, uint64_t v)
{
    if (v > 0xffff)
        v = 0xffff;
    c->ram[reg] = (uint8_t)v;
    c->ram[reg + 1] = (uint8_t)(v >> 8);
}

void cmos_init(struct cc_cmos *c, uint64_t epoch_s, uint64_t mem_bytes)
{
    memset(c, 0, sizeof(*c));
    c->epoch_s = epoch_s > CC_CMOS_MAX_EPOCH ? CC_CMOS_MAX_EPOCH : epoch_s;
    c->ram[REG_A] = 0x26;                   /* 32.768 kHz time base, 1024 Hz rate */
    c->ram[REG_B] = B_24H;                  /* BCD, 24 hour, as a PC BIOS leaves it */
    c->ram[REG_D] = D_VRT;

    uint64_t low = mem_bytes < LOW_MEM_LIMIT ? mem_bytes : LOW_MEM_LIMIT;
    uint64_t high = mem_bytes - low;
    uint64_t ext_kb = low > (1u << 20) ? (low - (1u << 20)) / 1024 : 0;
    uint64_t over_16m = low > (16u << 20) ? (low - (16u << 20)) / 65536 : 0;
    put_mem16(c, 0x15, 640);                /* base memory, KiB */
    put_mem16(c, 0x17, ext_kb);             /* memory above 1 MiB, KiB */
    put_mem16(c, 0x30, ext_kb);
    put_mem16(c, 0x34, over_16m);           /* 16 MiB .. 4 GiB, 64 KiB units */
    uint64_t over_4g = high / 65536;        /* above 4 GiB, 64 KiB units, 24 bits */
    if (over_4g > 0xffffff)
        over_4g = 0xffffff;
    c->ram[0x5b] = (uint8_t)over_4g;
    c->ram[0x5c] = (uint8_t)(over_4g >> 8);
    c->ram[0x5d] = (uint8_t)(over_4g >> 16);
}

static uint8_t read_data(struct cc_cmos *c, uint64_t now_ns)
{
    uint8_t idx = c->index;
    int slot = time_slot(idx);
    if (slot >= 0) {
        if (c->ram[REG_B] & B_SET)
            return c->ram[idx];
        uint8_t t[T_N];
        render(c, wall_now(c, now_ns), t);
        return t[slot];
    }
    switch (idx) {
    case REG_A:
        return (uint8_t)(c->ram[REG_A] | (update_in_progress(c, now_ns) ? A_UIP : 0));
    case REG_C:
        return 0;               /* no interrupt sources are modelled */
    case REG_D:
        return D_VRT;
    default:
        return c->ram[idx];
    }
}

static void write_b(struct cc_cmos *c, uint64_t now_ns, uint8_t val)
{
    uint8_t old = c->ram[REG_B];
    if (val & B_SET)
        val &= (uint8_t)~B_UIE;
    c->ram[REG_B] = val;
    if (!(old & B_SET) && (val & B_SET)) {
        /* Freeze in the format being set, like every other read of the
         * running clock. Format changes while SET is on leave the raw bytes
         * alone, as on the chip. */
        uint8_t t[T_N];
        render(c, wall_now(c, now_ns), t);
        for (int i = 0; i < T_N; i++)
            c->ram[time_regs[i]] = t[i];
    }
    if ((old & B_SET) && !(val & B_SET)) {
        uint8_t t[T_N];
        for (int i = 0; i < T_N; i++)
            t[i] = c->ram[time_regs[i]];
        set_wall(c, now_ns, parse(c, t));
    }
}

static void write_data(struct cc_cmos *c, uint64_t now_ns, uint8_t val)
{
    uint8_t idx = c->index;
    int slot = time_slot(idx);
    if (slot >= 0) {
        if (c->ram[REG_B] & B_SET) {
            c->ram[idx] = val;
        } else if (slot != T_WDAY) {
            uint8_t t[T_N];
            render(c, wall_now(c, now_ns), t);
            t[slot] = val;
            set_wall(c, now_ns, parse(c, t));
        }
        return;
    }
    switch (idx) {
    case REG_A:
        c->ram[REG_A] = val & (uint8_t)~A_UIP;
        break;
    case REG_B:
        write_b(c, now_ns, val);
        break;
    case REG_C:
    case REG_D:
        break;                  /* read-only */
    default:
        c->ram[idx] = val;
        break;
    }
}

uint8_t cmos_read(struct cc_cmos *c, uint64_t now_ns, uint16_t port)
{
    if (port == 0x71)
        return read_data(c, now_ns);
    return 0xff;                /* 0x70 is write-only */
}

void cmos_write(struct cc_cmos *c, uint64_t now_ns, uint16_t port, uint8_t val)
{
    if (port == 0x70) {
        c->index = val & 0x7f;
        c->nmi_disabled = val & 0x80;
    } else if (port == 0x71) {
        write_data(c, now_ns, val);
    }
}

void cmos_shift(struct cc_cmos *c, int64_t delta_s)
{
    int64_t r;
    if (__builtin_add_overflow(c->offset_s, delta_s, &r))
        r = delta_s > 0 ? INT64_MAX : INT64_MIN;
    c->offset_s = r;
}

void cmos_save(const struct cc_cmos *c, struct cc_buf *out)
{
    buf_put_u8(out, CMOS_SAVE_VERSION);
    buf_put_u8(out, c->index);
    buf_put_bool(out, c->nmi_disabled);
    buf_put(out, c->ram, sizeof(c->ram));
    buf_put_u64(out, (uint64_t)c->offset_s);
    buf_put_u64(out, c->epoch_s);
}

int cmos_load(struct cc_cmos *c, struct cc_rd *in, struct cc_err *err)
{
    int version = rd_version(in, CMOS_SAVE_VERSION, "cmos", err);
    if (version < 0)
        return version;

    struct cc_cmos tmp;
    memset(&tmp, 0, sizeof(tmp));       /* padding too: states compare with memcmp */
    tmp.index = rd_u8(in);
    uint8_t nmi = rd_u8(in);
    rd_get(in, tmp.ram, sizeof(tmp.ram));
    tmp.offset_s = (int64_t)rd_u64(in);
    tmp.epoch_s = rd_u64(in);
    if (!rd_ok(in))
        return cc_err_set(err, EINVAL, "cmos: snapshot section truncated");
    tmp.nmi_disabled = nmi == 1;
    if (tmp.epoch_s > CC_CMOS_MAX_EPOCH)
        return cc_err_set(err, EINVAL, "cmos: snapshot section has an RTC epoch of %llu s, past "
                          "the year 9999 (corrupt snapshot?)", (unsigned long long)tmp.epoch_s);
    if (tmp.index > 0x7f || nmi > 1 || (tmp.ram[REG_A] & A_UIP) ||
        tmp.ram[REG_C] != 0 || tmp.ram[REG_D] != D_VRT)
        return cc_err_set(err, EINVAL,
                          "cmos: snapshot section has out-of-range values "
                          "(index 0x%x; corrupt snapshot?)", tmp.index);
    *c = tmp;
    return 0;
}
