/* Fault schedules: the builder, validation, and the JSON form (see
 * chaoscontrol/schedule.h for the schema). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chaoscontrol/schedule.h"
#include "util/afile.h"

struct cc_schedule {
    struct cc_fault *f;
    size_t n, cap;
};

/* ---- types ---- */

static const char *const type_names[CC_FAULT_TYPE_END] = {
    [CC_FAULT_PARTITION] = "partition",
    [CC_FAULT_HEAL] = "heal",
    [CC_FAULT_LATENCY] = "latency",
    [CC_FAULT_JITTER] = "jitter",
    [CC_FAULT_BANDWIDTH] = "bandwidth",
    [CC_FAULT_LOSS] = "loss",
    [CC_FAULT_CORRUPT] = "corrupt",
    [CC_FAULT_REORDER] = "reorder",
    [CC_FAULT_DUPLICATE] = "duplicate",
    [CC_FAULT_DISK_READ_ERROR] = "disk_read_error",
    [CC_FAULT_DISK_WRITE_ERROR] = "disk_write_error",
    [CC_FAULT_DISK_TORN_WRITE] = "disk_torn_write",
    [CC_FAULT_DISK_CORRUPT_READ] = "disk_corrupt_read",
    [CC_FAULT_DISK_CORRUPT_WRITE] = "disk_corrupt_write",
    [CC_FAULT_DISK_FULL] = "disk_full",
    [CC_FAULT_KILL] = "kill",
    [CC_FAULT_PAUSE] = "pause",
    [CC_FAULT_RESTART] = "restart",
    [CC_FAULT_CLOCK_SKEW] = "clock_skew",
    [CC_FAULT_CLOCK_JUMP] = "clock_jump",
    [CC_FAULT_MEMORY_PRESSURE] = "memory_pressure",
    [CC_FAULT_IRQ] = "irq",
    [CC_FAULT_NMI] = "nmi",
};

const char *cc_fault_type_name(enum cc_fault_type t)
{
    if (t <= 0 || t >= CC_FAULT_TYPE_END)
        return "?";
    return type_names[t];
}

enum cc_fault_type cc_fault_type_from_name(const char *name)
{
    for (int t = 1; t < CC_FAULT_TYPE_END; t++)
        if (!strcmp(type_names[t], name))
            return (enum cc_fault_type)t;
    return 0;
}

bool cc_fault_is_network(enum cc_fault_type t)
{
    return t >= CC_FAULT_PARTITION && t <= CC_FAULT_DUPLICATE;
}

bool cc_fault_is_link(enum cc_fault_type t)
{
    return t >= CC_FAULT_LATENCY && t <= CC_FAULT_DUPLICATE;
}

bool cc_fault_is_disk(enum cc_fault_type t)
{
    return t >= CC_FAULT_DISK_READ_ERROR && t <= CC_FAULT_DISK_FULL;
}

bool cc_fault_has_vm(enum cc_fault_type t)
{
    return t >= CC_FAULT_DISK_READ_ERROR && t < CC_FAULT_TYPE_END;
}

bool cc_fault_is_instant(enum cc_fault_type t)
{
    return t == CC_FAULT_HEAL || t == CC_FAULT_KILL || t == CC_FAULT_RESTART ||
           t == CC_FAULT_CLOCK_JUMP || t == CC_FAULT_IRQ || t == CC_FAULT_NMI;
}

void cc_fault_init(struct cc_fault *f, enum cc_fault_type type, uint64_t at_ns)
{
    memset(f, 0, sizeof(*f));
    f->type = type;
    f->at_ns = at_ns;
    if (cc_fault_is_disk(type))
        f->count = CC_FAULT_UNLIMITED;
    if (type == CC_FAULT_IRQ)
        f->count = 1;
    if (type == CC_FAULT_DISK_TORN_WRITE)
        f->torn_bytes = CC_FAULT_TORN_RANDOM;
    if (type == CC_FAULT_DISK_CORRUPT_READ || type == CC_FAULT_DISK_CORRUPT_WRITE)
        f->bits = 1;
    if (type == CC_FAULT_REORDER)
        f->ns = CC_MSEC;
}

/* ---- validation ---- */

#define MAX_TIME (UINT64_C(1) << 62)    /* about 146 years: no overflow in at + duration */
#define MAX_SKEW_PPM 10000000           /* 11x faster */
#define MAX_IRQ_COUNT 1000
#define MAX_FLIPS 1024

static int vm_range(unsigned vm, unsigned n_vms, const char *field, struct cc_err *err)
{
    unsigned lim = n_vms ? n_vms : CC_SIM_MAX_VMS;
    if (vm >= lim)
        return n_vms ? cc_err_set(err, EINVAL, "%s: %u is out of range (%u VM%s)", field, vm,
                                  n_vms, n_vms == 1 ? "" : "s")
                     : cc_err_set(err, EINVAL, "%s: %u is out of range (at most %u VMs)", field,
                                  vm, CC_SIM_MAX_VMS);
    return 0;
}

static int mask_range(uint64_t mask, unsigned n_vms, const char *field, struct cc_err *err)
{
    for (unsigned b = 0; b < 64; b++)
        if ((mask >> b) & 1) {
            int rc = vm_range(b, n_vms, field, err);
            if (rc < 0)
                return rc;
        }
    return 0;
}

int cc_fault_validate(const struct cc_fault *f, unsigned n_vms, struct cc_err *err)
{
    enum cc_fault_type t = f->type;
    if (t <= 0 || t >= CC_FAULT_TYPE_END)
        return cc_err_set(err, EINVAL, "type: %d is not a fault type", (int)t);
    if (f->at_ns >= MAX_TIME)
        return cc_err_set(err, EINVAL, "at: %" PRIu64 " ns is too far in the future", f->at_ns);
    if (f->duration_ns >= MAX_TIME)
        return cc_err_set(err, EINVAL, "duration: %" PRIu64 " ns is too long", f->duration_ns);
    if (cc_fault_is_instant(t) && f->duration_ns)
        return cc_err_set(err, EINVAL, "duration: a %s fault is an instant and takes no "
                          "duration", type_names[t]);
    if (t == CC_FAULT_PAUSE && !f->duration_ns)
        return cc_err_set(err, EINVAL, "duration: a pause needs a duration > 0");
    if (cc_fault_has_vm(t)) {
        int rc = vm_range(f->vm, n_vms, "vm", err);
        if (rc < 0)
            return rc;
    }
    if (cc_fault_is_link(t)) {
        int rc = mask_range(f->from, n_vms, "from", err);
        if (rc == 0)
            rc = mask_range(f->to, n_vms, "to", err);
        if (rc < 0)
            return rc;
    }
    switch (t) {
    case CC_FAULT_PARTITION: {
        if (f->n_sides < 1 || f->n_sides > CC_SCHEDULE_MAX_SIDES)
            return cc_err_set(err, EINVAL, "sides: a partition needs 1 to %u sides, not %u",
                              CC_SCHEDULE_MAX_SIDES, f->n_sides);
        uint64_t seen = 0;
        for (unsigned i = 0; i < f->n_sides; i++) {
            char field[32];
            snprintf(field, sizeof(field), "sides[%u]", i);
            if (!f->sides[i])
                return cc_err_set(err, EINVAL, "%s: a side must list at least one VM", field);
            int rc = mask_range(f->sides[i], n_vms, field, err);
            if (rc < 0)
                return rc;
            if (seen & f->sides[i])
                return cc_err_set(err, EINVAL, "%s: VM %d is already on another side", field,
                                  __builtin_ctzll(seen & f->sides[i]));
            seen |= f->sides[i];
        }
        break;
    }
    case CC_FAULT_LATENCY:
    case CC_FAULT_JITTER:
        if (f->ns >= MAX_TIME)
            return cc_err_set(err, EINVAL, "%s: too long", type_names[t]);
        break;
    case CC_FAULT_REORDER:
        if (!f->ns || f->ns >= MAX_TIME)
            return cc_err_set(err, EINVAL, "delay: a reorder needs a hold-back delay > 0");
        /* fall through */
    case CC_FAULT_LOSS:
    case CC_FAULT_CORRUPT:
    case CC_FAULT_DUPLICATE:
        if (f->ppm > 1000000)
            return cc_err_set(err, EINVAL, "rate: %g is not in [0, 1]", f->ppm / 1e6);
        break;
    case CC_FAULT_DISK_READ_ERROR:
    case CC_FAULT_DISK_WRITE_ERROR:
    case CC_FAULT_DISK_TORN_WRITE:
    case CC_FAULT_DISK_CORRUPT_READ:
    case CC_FAULT_DISK_CORRUPT_WRITE:
    case CC_FAULT_DISK_FULL:
        if (!f->count)
            return cc_err_set(err, EINVAL, "count: must be at least 1 (or \"unlimited\")");
        if (f->offset + f->length < f->offset)
            return cc_err_set(err, EINVAL, "length: offset + length overflows");
        if ((t == CC_FAULT_DISK_CORRUPT_READ || t == CC_FAULT_DISK_CORRUPT_WRITE) &&
            (f->bits < 1 || f->bits > MAX_FLIPS))
            return cc_err_set(err, EINVAL, "bits: %u is not in 1..%u", f->bits, MAX_FLIPS);
        break;
    case CC_FAULT_CLOCK_SKEW:
        if (f->skew_ppm <= -1000000 || f->skew_ppm > MAX_SKEW_PPM)
            return cc_err_set(err, EINVAL, "ppm: %" PRId64 " is not in -999999..%d (a clock "
                              "cannot stop or run backwards)", f->skew_ppm, MAX_SKEW_PPM);
        break;
    case CC_FAULT_CLOCK_JUMP:
        if (!f->delta_ns)
            return cc_err_set(err, EINVAL, "delta: a clock jump of 0 does nothing");
        if (f->delta_ns >= (int64_t)MAX_TIME || f->delta_ns <= -(int64_t)MAX_TIME)
            return cc_err_set(err, EINVAL, "delta: too large");
        break;
    case CC_FAULT_IRQ:
        if (f->line > 15 || f->line == 2)
            return cc_err_set(err, EINVAL, "line: %u is not an ISA interrupt line (0-15 but "
                              "not 2, the cascade: use 9)", f->line);
        if (f->count < 1 || f->count > MAX_IRQ_COUNT)
            return cc_err_set(err, EINVAL, "count: %" PRIu64 " is not in 1..%d", f->count,
                              MAX_IRQ_COUNT);
        break;
    default:
        break;
    }
    return 0;
}

/* ---- formatting ---- */

void cc_time_format(int64_t ns, char *buf, size_t len)
{
    static const struct { const char *unit; uint64_t ns; } units[] = {
        {"s", CC_SEC}, {"ms", CC_MSEC}, {"us", CC_USEC}, {"ns", 1},
    };
    uint64_t a = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (a % units[i].ns == 0 && (a || units[i].ns == 1)) {
            snprintf(buf, len, "%s%" PRIu64 "%s", ns < 0 ? "-" : "", a / units[i].ns,
                     units[i].unit);
            return;
        }
    }
}

static void size_format(uint64_t b, char *buf, size_t len)
{
    if (b && b % (1ull << 30) == 0)
        snprintf(buf, len, "%" PRIu64 "G", b >> 30);
    else if (b && b % (1ull << 20) == 0)
        snprintf(buf, len, "%" PRIu64 "M", b >> 20);
    else if (b && b % (1ull << 10) == 0)
        snprintf(buf, len, "%" PRIu64 "K", b >> 10);
    else
        snprintf(buf, len, "%" PRIu64, b);
}

/* "0,2" for a mask, "*" for all. */
static void mask_format(uint64_t m, char *buf, size_t len)
{
    if (!m) {
        snprintf(buf, len, "*");
        return;
    }
    size_t at = 0;
    buf[0] = 0;
    for (unsigned b = 0; b < 64 && at + 4 < len; b++)
        if ((m >> b) & 1)
            at += (size_t)snprintf(buf + at, len - at, "%s%u", at ? "," : "", b);
}

struct sb {
    char *buf;
    size_t len, at;
};

static void sbf(struct sb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sbf(struct sb *s, const char *fmt, ...)
{
    if (s->at >= s->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(s->buf + s->at, s->len - s->at, fmt, ap);
    va_end(ap);
    if (k > 0)
        s->at += (size_t)k;
}

void cc_fault_describe(const struct cc_fault *f, char *buf, size_t len)
{
    struct sb s = {buf, len, 0};
    char a[64], b[64];
    if (len)
        buf[0] = 0;
    sbf(&s, "%s", cc_fault_type_name(f->type));
    if (cc_fault_has_vm(f->type))
        sbf(&s, " vm %u", f->vm);
    switch (f->type) {
    case CC_FAULT_PARTITION:
        for (unsigned i = 0; i < f->n_sides; i++) {
            mask_format(f->sides[i], a, sizeof(a));
            sbf(&s, "%s[%s]", i ? " | " : " ", a);
        }
        sbf(&s, " | rest");
        break;
    case CC_FAULT_LATENCY:
    case CC_FAULT_JITTER:
        cc_time_format((int64_t)f->ns, a, sizeof(a));
        sbf(&s, " %s", a);
        break;
    case CC_FAULT_BANDWIDTH:
        if (f->bps)
            sbf(&s, " %" PRIu64 " bit/s", f->bps);
        else
            sbf(&s, " unlimited");
        break;
    case CC_FAULT_REORDER:
        cc_time_format((int64_t)f->ns, a, sizeof(a));
        sbf(&s, " %g%% by %s", f->ppm / 1e4, a);
        break;
    case CC_FAULT_LOSS:
    case CC_FAULT_CORRUPT:
    case CC_FAULT_DUPLICATE:
        sbf(&s, " %g%%", f->ppm / 1e4);
        break;
    case CC_FAULT_DISK_READ_ERROR:
    case CC_FAULT_DISK_WRITE_ERROR:
    case CC_FAULT_DISK_TORN_WRITE:
    case CC_FAULT_DISK_CORRUPT_READ:
    case CC_FAULT_DISK_CORRUPT_WRITE:
        if (f->length)
            sbf(&s, " bytes %" PRIu64 "+%" PRIu64, f->offset, f->length);
        else
            sbf(&s, " bytes %" PRIu64 "-end", f->offset);
        if (f->count != CC_FAULT_UNLIMITED)
            sbf(&s, " x%" PRIu64, f->count);
        break;
    case CC_FAULT_DISK_FULL:
        size_format(f->bytes, a, sizeof(a));
        sbf(&s, " at %s", a);
        break;
    case CC_FAULT_CLOCK_SKEW:
        sbf(&s, " %+" PRId64 " ppm", f->skew_ppm);
        break;
    case CC_FAULT_CLOCK_JUMP:
        cc_time_format(f->delta_ns, a, sizeof(a));
        sbf(&s, " %s%s", f->delta_ns > 0 ? "+" : "", a);
        break;
    case CC_FAULT_MEMORY_PRESSURE:
        size_format(f->bytes, a, sizeof(a));
        sbf(&s, " %s", a);
        break;
    case CC_FAULT_IRQ:
        sbf(&s, " line %u", f->line);
        if (f->count > 1)
            sbf(&s, " x%" PRIu64, f->count);
        break;
    default:
        break;
    }
    if (cc_fault_is_link(f->type)) {
        mask_format(f->from, a, sizeof(a));
        mask_format(f->to, b, sizeof(b));
        sbf(&s, " %s->%s", a, b);
    }
    if (f->duration_ns) {
        cc_time_format((int64_t)f->duration_ns, a, sizeof(a));
        sbf(&s, " for %s", a);
    }
}

/* ---- the schedule ---- */

struct cc_schedule *cc_schedule_new(void)
{
    return calloc(1, sizeof(struct cc_schedule));
}

void cc_schedule_free(struct cc_schedule *s)
{
    if (!s)
        return;
    free(s->f);
    free(s);
}

struct cc_schedule *cc_schedule_clone(const struct cc_schedule *s)
{
    struct cc_schedule *c = cc_schedule_new();
    if (!c || !s || !s->n)
        return c;
    c->f = malloc(s->n * sizeof(*c->f));
    if (!c->f) {
        free(c);
        return NULL;
    }
    memcpy(c->f, s->f, s->n * sizeof(*c->f));
    c->n = c->cap = s->n;
    return c;
}

size_t cc_schedule_count(const struct cc_schedule *s)
{
    return s ? s->n : 0;
}

const struct cc_fault *cc_schedule_get(const struct cc_schedule *s, size_t i)
{
    return s && i < s->n ? &s->f[i] : NULL;
}

size_t cc_schedule_first_at(const struct cc_schedule *s, uint64_t t)
{
    size_t lo = 0, hi = cc_schedule_count(s);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->f[mid].at_ns < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Insert without checks; returns the index or -ENOMEM. */
static int insert(struct cc_schedule *s, const struct cc_fault *f)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct cc_fault *n = realloc(s->f, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        s->f = n;
        s->cap = cap;
    }
    size_t i = cc_schedule_first_at(s, f->at_ns + 1);     /* after equal times */
    if (f->at_ns == UINT64_MAX)
        i = s->n;
    memmove(&s->f[i + 1], &s->f[i], (s->n - i) * sizeof(*s->f));
    s->f[i] = *f;
    s->n++;
    return (int)i;
}

int cc_schedule_add(struct cc_schedule *s, const struct cc_fault *f, struct cc_err *err)
{
    int rc = cc_fault_validate(f, 0, err);
    if (rc < 0)
        return rc;
    rc = insert(s, f);
    if (rc < 0)
        return cc_err_set(err, ENOMEM, "out of memory");
    return rc;
}

int cc_schedule_remove(struct cc_schedule *s, size_t i)
{
    if (!s || i >= s->n)
        return -ENOENT;
    memmove(&s->f[i], &s->f[i + 1], (s->n - i - 1) * sizeof(*s->f));
    s->n--;
    return 0;
}

int cc_schedule_validate(const struct cc_schedule *s, unsigned n_vms, struct cc_err *err)
{
    for (size_t i = 0; i < cc_schedule_count(s); i++) {
        struct cc_err e = {0};
        if (cc_fault_validate(&s->f[i], n_vms, &e) < 0)
            return cc_err_set(err, e.code, "faults[%zu].%s", i, e.msg);
    }
    return 0;
}

/* ---- JSON parsing ---- */

/* Where we are, for messages: "name: faults[3].vm: ..." */
struct ctx {
    const char *name;
    size_t index;
    unsigned n_vms;
    struct cc_err *err;
};

static int perr(const struct ctx *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr(const struct ctx *c, const char *field, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (field)
        return cc_err_set(c->err, EINVAL, "%s: faults[%zu].%s: %s", c->name, c->index, field, msg);
    return cc_err_set(c->err, EINVAL, "%s: faults[%zu]: %s", c->name, c->index, msg);
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* A decimal number with a unit: exact nanoseconds. */
static bool parse_time_str(const char *s, bool allow_neg, int64_t *out, const char **why)
{
    const char *p = s;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    unsigned __int128 ip = 0, fp = 0, fscale = 1;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        ip = ip * 10 + (unsigned)(*p++ - '0');
        if (ip > ((unsigned __int128)1 << 80)) {
            *why = "is too large";
            return false;
        }
        digits++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (fscale < ((unsigned __int128)1 << 70)) {
                fp = fp * 10 + (unsigned)(*p - '0');
                fscale *= 10;
            } else if (*p != '0') {
                *why = "has more decimals than nanoseconds can hold";
                return false;
            }
            p++;
            digits++;
        }
    }
    uint64_t unit;
    if (!strcmp(p, "s"))
        unit = CC_SEC;
    else if (!strcmp(p, "ms"))
        unit = CC_MSEC;
    else if (!strcmp(p, "us"))
        unit = CC_USEC;
    else if (!strcmp(p, "ns"))
        unit = 1;
    else {
        *why = "is not a time (a number and a unit: ns, us, ms or s, e.g. \"1.5s\")";
        return false;
    }
    if (!digits) {
        *why = "is not a time (a number and a unit: ns, us, ms or s, e.g. \"1.5s\")";
        return false;
    }
    unsigned __int128 num = fp * unit;
    if (num % fscale) {
        *why = "is not a whole number of nanoseconds";
        return false;
    }
    unsigned __int128 v = ip * unit + num / fscale;
    if (v >= MAX_TIME) {
        *why = "is too large";
        return false;
    }
    if (neg && !allow_neg) {
        *why = "is negative";
        return false;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

bool cc_time_parse(const char *s, uint64_t *ns)
{
    if (!s || !*s)
        return false;
    bool digits = true;
    for (const char *p = s; *p; p++)
        digits &= *p >= '0' && *p <= '9';
    int64_t v;
    const char *why;
    if (digits) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.60sns", s);
        if (!parse_time_str(buf, false, &v, &why))
            return false;
    } else if (!parse_time_str(s, false, &v, &why)) {
        return false;
    }
    *ns = (uint64_t)v;
    return true;
}

static int get_time(const struct ctx *c, const json_t *v, const char *field, bool allow_neg,
                    int64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0 && !allow_neg)
            return perr(c, field, "%lld is negative", (long long)x);
        if ((uint64_t)(x < 0 ? -x : x) >= MAX_TIME)
            return perr(c, field, "%lld is too large", (long long)x);
        *out = (int64_t)x;
        return 0;
    }
    if (json_is_real(v))
        return perr(c, field, "%g is not a whole number of nanoseconds (integers are "
                    "nanoseconds; write a string with a unit for others, e.g. \"1.5s\")",
                    json_real_value(v));
    if (json_is_string(v)) {
        const char *why = NULL;
        if (!parse_time_str(json_string_value(v), allow_neg, out, &why))
            return perr(c, field, "\"%s\" %s", json_string_value(v), why);
        return 0;
    }
    return perr(c, field, "is %s, not a time (nanoseconds, or a string such as \"2s\")",
                json_kind(v));
}

static int get_utime(const struct ctx *c, const json_t *v, const char *field, uint64_t *out)
{
    int64_t x = 0;
    int rc = get_time(c, v, field, false, &x);
    if (rc == 0)
        *out = (uint64_t)x;
    return rc;
}

static int get_uint(const struct ctx *c, const json_t *v, const char *field, uint64_t max,
                    uint64_t *out)
{
    if (!json_is_integer(v))
        return perr(c, field, "is %s, not an integer", json_kind(v));
    json_int_t x = json_integer_value(v);
    if (x < 0)
        return perr(c, field, "%lld is negative", (long long)x);
    if ((uint64_t)x > max)
        return perr(c, field, "%lld is too large (at most %" PRIu64 ")", (long long)x, max);
    *out = (uint64_t)x;
    return 0;
}

static int get_size(const struct ctx *c, const json_t *v, const char *field, uint64_t *out)
{
    if (json_is_integer(v))
        return get_uint(c, v, field, UINT64_MAX >> 1, out);
    if (!json_is_string(v))
        return perr(c, field, "is %s, not a size (bytes, or a string such as \"64M\")",
                    json_kind(v));
    const char *s = json_string_value(v);
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        return perr(c, field, "\"%s\" is not a size (bytes, or a number with K, M or G)", s);
    unsigned long long n = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift)
        end++;
    if (errno || *end || (n << shift) >> shift != n || (n << shift) > (UINT64_MAX >> 1))
        return perr(c, field, "\"%s\" is not a size (bytes, or a number with K, M or G)", s);
    *out = (uint64_t)n << shift;
    return 0;
}

static int get_vm_index(const struct ctx *c, const json_t *v, const char *field, unsigned *out)
{
    if (!json_is_integer(v))
        return perr(c, field, "is %s, not a VM index", json_kind(v));
    json_int_t x = json_integer_value(v);
    if (x < 0)
        return perr(c, field, "%lld is negative (VMs are numbered from 0)", (long long)x);
    unsigned lim = c->n_vms ? c->n_vms : CC_SIM_MAX_VMS;
    if (x >= (json_int_t)lim) {
        if (c->n_vms)
            return perr(c, field, "%lld is out of range (%u VM%s)", (long long)x, c->n_vms,
                        c->n_vms == 1 ? "" : "s");
        return perr(c, field, "%lld is out of range (at most %u VMs)", (long long)x,
                    CC_SIM_MAX_VMS);
    }
    *out = (unsigned)x;
    return 0;
}

/* An index or an array of indices, as a mask. */
static int get_vm_set(const struct ctx *c, const json_t *v, const char *field, bool allow_empty,
                      uint64_t *out)
{
    *out = 0;
    if (json_is_integer(v)) {
        unsigned vm;
        int rc = get_vm_index(c, v, field, &vm);
        if (rc == 0)
            *out = 1ull << vm;
        return rc;
    }
    if (!json_is_array(v))
        return perr(c, field, "is %s, not a VM index or an array of them", json_kind(v));
    if (!allow_empty && json_array_size(v) == 0)
        return perr(c, field, "is empty");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        char sub[64];
        snprintf(sub, sizeof(sub), "%s[%zu]", field, i);
        unsigned vm;
        int rc = get_vm_index(c, e, sub, &vm);
        if (rc < 0)
            return rc;
        if (*out & (1ull << vm))
            return perr(c, sub, "VM %u is listed twice", vm);
        *out |= 1ull << vm;
    }
    return 0;
}

static int get_rate(const struct ctx *c, const json_t *v, const char *field, uint32_t *ppm)
{
    if (!json_is_number(v))
        return perr(c, field, "is %s, not a rate (a number in [0, 1])", json_kind(v));
    double x = json_number_value(v);
    if (!(x >= 0 && x <= 1))
        return perr(c, field, "%g is not in [0, 1]", x);
    *ppm = (uint32_t)(x * 1e6 + 0.5);
    return 0;
}

static int get_count(const struct ctx *c, const json_t *v, const char *field, uint64_t *out)
{
    if (json_is_string(v) && !strcmp(json_string_value(v), "unlimited")) {
        *out = CC_FAULT_UNLIMITED;
        return 0;
    }
    if (!json_is_integer(v))
        return perr(c, field, "is %s, not a count (an integer >= 1 or \"unlimited\")",
                    json_kind(v));
    int rc = get_uint(c, v, field, UINT64_MAX >> 1, out);
    if (rc == 0 && *out == 0)
        return perr(c, field, "must be at least 1 (or \"unlimited\")");
    return rc;
}

/* Keys each type takes besides at, type and duration. */
#define K_VM        (1u << 0)
#define K_FROM      (1u << 1)
#define K_TO        (1u << 2)
#define K_SIDES     (1u << 3)
#define K_LATENCY   (1u << 4)
#define K_JITTER    (1u << 5)
#define K_BPS       (1u << 6)
#define K_RATE      (1u << 7)
#define K_DELAY     (1u << 8)
#define K_OFFSET    (1u << 9)
#define K_LENGTH    (1u << 10)
#define K_COUNT     (1u << 11)
#define K_TORN      (1u << 12)
#define K_TORN_ERR  (1u << 13)
#define K_BITS      (1u << 14)
#define K_CAPACITY  (1u << 15)
#define K_PPM       (1u << 16)
#define K_DELTA     (1u << 17)
#define K_SIZE      (1u << 18)
#define K_LINE      (1u << 19)
#define K_DURATION  (1u << 20)

static const char *const key_names[] = {
    "vm", "from", "to", "sides", "latency", "jitter", "bps", "rate", "delay", "offset",
    "length", "count", "torn_bytes", "torn_error", "bits", "capacity", "ppm", "delta", "size",
    "line", "duration",
};

#define K_LINK (K_FROM | K_TO | K_DURATION)
#define K_DISK (K_VM | K_OFFSET | K_LENGTH | K_COUNT | K_DURATION)

static unsigned type_keys(enum cc_fault_type t)
{
    switch (t) {
    case CC_FAULT_PARTITION: return K_SIDES | K_DURATION;
    case CC_FAULT_HEAL: return 0;
    case CC_FAULT_LATENCY: return K_LINK | K_LATENCY;
    case CC_FAULT_JITTER: return K_LINK | K_JITTER;
    case CC_FAULT_BANDWIDTH: return K_LINK | K_BPS;
    case CC_FAULT_LOSS: case CC_FAULT_CORRUPT: case CC_FAULT_DUPLICATE: return K_LINK | K_RATE;
    case CC_FAULT_REORDER: return K_LINK | K_RATE | K_DELAY;
    case CC_FAULT_DISK_READ_ERROR: case CC_FAULT_DISK_WRITE_ERROR: return K_DISK;
    case CC_FAULT_DISK_TORN_WRITE: return K_DISK | K_TORN | K_TORN_ERR;
    case CC_FAULT_DISK_CORRUPT_READ: case CC_FAULT_DISK_CORRUPT_WRITE: return K_DISK | K_BITS;
    case CC_FAULT_DISK_FULL: return K_DISK | K_CAPACITY;
    case CC_FAULT_KILL: case CC_FAULT_RESTART: case CC_FAULT_NMI: return K_VM;
    case CC_FAULT_PAUSE: return K_VM | K_DURATION;
    case CC_FAULT_CLOCK_SKEW: return K_VM | K_PPM | K_DURATION;
    case CC_FAULT_CLOCK_JUMP: return K_VM | K_DELTA;
    case CC_FAULT_MEMORY_PRESSURE: return K_VM | K_SIZE | K_DURATION;
    case CC_FAULT_IRQ: return K_VM | K_LINE | K_COUNT;
    default: return 0;
    }
}

static unsigned key_bit(const char *k)
{
    for (unsigned i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++)
        if (!strcmp(key_names[i], k))
            return 1u << i;
    return 0;
}

static int need(const struct ctx *c, const json_t *o, const char *key, const char *type,
                json_t **out)
{
    *out = json_object_get(o, key);
    if (!*out)
        return perr(c, NULL, "a %s fault needs \"%s\"", type, key);
    return 0;
}

static int parse_fault(const struct ctx *c, const json_t *o, struct cc_fault *f)
{
    if (!json_is_object(o))
        return perr(c, NULL, "is %s, not an object", json_kind(o));
    json_t *tv = json_object_get(o, "type");
    if (!tv)
        return perr(c, NULL, "has no \"type\"");
    if (!json_is_string(tv))
        return perr(c, "type", "is %s, not a string", json_kind(tv));
    enum cc_fault_type t = cc_fault_type_from_name(json_string_value(tv));
    if (!t)
        return perr(c, "type", "unknown fault type '%s' (known: partition, heal, latency, "
                    "jitter, bandwidth, loss, corrupt, reorder, duplicate, disk_read_error, "
                    "disk_write_error, disk_torn_write, disk_corrupt_read, disk_corrupt_write, "
                    "disk_full, kill, pause, restart, clock_skew, clock_jump, memory_pressure, "
                    "irq, nmi)", json_string_value(tv));
    const char *tn = type_names[t];
    json_t *at = json_object_get(o, "at");
    if (!at)
        return perr(c, NULL, "has no \"at\" (when the fault happens)");
    uint64_t at_ns = 0;
    int rc = get_utime(c, at, "at", &at_ns);
    if (rc < 0)
        return rc;
    cc_fault_init(f, t, at_ns);

    unsigned allowed = type_keys(t);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        if (!strcmp(key, "at") || !strcmp(key, "type"))
            continue;
        unsigned bit = key_bit(key);
        if (!bit || !(allowed & bit)) {
            char list[256] = "";
            size_t at2 = 0;
            for (unsigned i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++)
                if (allowed & (1u << i))
                    at2 += (size_t)snprintf(list + at2, sizeof(list) - at2, "%s%s",
                                            at2 ? ", " : "", key_names[i]);
            if (bit == K_DURATION)
                return perr(c, "duration", "a %s fault is an instant and takes no duration", tn);
            return perr(c, NULL, "unknown key \"%s\" for a %s fault (it takes at, type%s%s)",
                        key, tn, at2 ? ", " : "", list);
        }
        switch (bit) {
        case K_VM: rc = get_vm_index(c, v, "vm", &f->vm); break;
        case K_FROM: rc = get_vm_set(c, v, "from", false, &f->from); break;
        case K_TO: rc = get_vm_set(c, v, "to", false, &f->to); break;
        case K_LATENCY: rc = get_utime(c, v, "latency", &f->ns); break;
        case K_JITTER: rc = get_utime(c, v, "jitter", &f->ns); break;
        case K_DELAY: rc = get_utime(c, v, "delay", &f->ns); break;
        case K_DURATION: rc = get_utime(c, v, "duration", &f->duration_ns); break;
        case K_BPS: rc = get_uint(c, v, "bps", UINT64_MAX >> 1, &f->bps); break;
        case K_RATE: rc = get_rate(c, v, "rate", &f->ppm); break;
        case K_OFFSET: rc = get_size(c, v, "offset", &f->offset); break;
        case K_LENGTH: rc = get_size(c, v, "length", &f->length); break;
        case K_COUNT: rc = get_count(c, v, "count", &f->count); break;
        case K_CAPACITY: rc = get_size(c, v, "capacity", &f->bytes); break;
        case K_SIZE: rc = get_size(c, v, "size", &f->bytes); break;
        case K_BITS: {
            uint64_t b = 0;
            rc = get_uint(c, v, "bits", MAX_FLIPS, &b);
            f->bits = (uint32_t)b;
            break;
        }
        case K_LINE: {
            uint64_t l = 0;
            rc = get_uint(c, v, "line", 15, &l);
            f->line = (unsigned)l;
            break;
        }
        case K_TORN:
            if (json_is_string(v) && !strcmp(json_string_value(v), "random")) {
                f->torn_bytes = CC_FAULT_TORN_RANDOM;
            } else {
                uint64_t b = 0;
                rc = get_uint(c, v, "torn_bytes", UINT32_MAX - 1, &b);
                f->torn_bytes = (uint32_t)b;
            }
            break;
        case K_TORN_ERR:
            if (!json_is_boolean(v))
                rc = perr(c, "torn_error", "is %s, not true or false", json_kind(v));
            else
                f->torn_error = json_is_true(v);
            break;
        case K_PPM:
            if (!json_is_integer(v))
                rc = perr(c, "ppm", "is %s, not an integer", json_kind(v));
            else
                f->skew_ppm = json_integer_value(v);
            break;
        case K_DELTA: rc = get_time(c, v, "delta", true, &f->delta_ns); break;
        case K_SIDES: {
            if (!json_is_array(v) || json_array_size(v) == 0) {
                rc = perr(c, "sides", "must be a non-empty array of arrays of VM indices, "
                          "e.g. [[0], [1, 2]]");
                break;
            }
            if (json_array_size(v) > CC_SCHEDULE_MAX_SIDES) {
                rc = perr(c, "sides", "has %zu sides (at most %u)", json_array_size(v),
                          CC_SCHEDULE_MAX_SIDES);
                break;
            }
            size_t i;
            json_t *e;
            uint64_t seen = 0;
            json_array_foreach(v, i, e) {
                char sub[32];
                snprintf(sub, sizeof(sub), "sides[%zu]", i);
                if (!json_is_array(e)) {
                    rc = perr(c, sub, "is %s, not an array of VM indices", json_kind(e));
                    break;
                }
                rc = get_vm_set(c, e, sub, false, &f->sides[i]);
                if (rc < 0)
                    break;
                if (seen & f->sides[i]) {
                    rc = perr(c, sub, "VM %d is already on another side",
                              __builtin_ctzll(seen & f->sides[i]));
                    break;
                }
                seen |= f->sides[i];
                f->n_sides++;
            }
            break;
        }
        }
        if (rc < 0)
            return rc;
    }

    /* Required keys. */
    json_t *dummy;
    switch (t) {
    case CC_FAULT_PARTITION: rc = need(c, o, "sides", tn, &dummy); break;
    case CC_FAULT_LATENCY: rc = need(c, o, "latency", tn, &dummy); break;
    case CC_FAULT_JITTER: rc = need(c, o, "jitter", tn, &dummy); break;
    case CC_FAULT_BANDWIDTH: rc = need(c, o, "bps", tn, &dummy); break;
    case CC_FAULT_LOSS: case CC_FAULT_CORRUPT: case CC_FAULT_REORDER: case CC_FAULT_DUPLICATE:
        rc = need(c, o, "rate", tn, &dummy);
        break;
    case CC_FAULT_DISK_FULL: rc = need(c, o, "capacity", tn, &dummy); break;
    case CC_FAULT_PAUSE: rc = need(c, o, "duration", tn, &dummy); break;
    case CC_FAULT_CLOCK_SKEW: rc = need(c, o, "ppm", tn, &dummy); break;
    case CC_FAULT_CLOCK_JUMP: rc = need(c, o, "delta", tn, &dummy); break;
    case CC_FAULT_MEMORY_PRESSURE: rc = need(c, o, "size", tn, &dummy); break;
    case CC_FAULT_IRQ: rc = need(c, o, "line", tn, &dummy); break;
    default: rc = 0; break;
    }
    if (rc == 0 && cc_fault_has_vm(t))
        rc = need(c, o, "vm", tn, &dummy);
    if (rc < 0)
        return rc;

    struct cc_err e = {0};
    if (cc_fault_validate(f, c->n_vms, &e) < 0)
        return cc_err_set(c->err, EINVAL, "%s: faults[%zu].%s", c->name, c->index, e.msg);
    return 0;
}

int cc_schedule_parse(const char *text, const char *name, unsigned n_vms,
                      struct cc_schedule **out, struct cc_err *err)
{
    *out = NULL;
    if (!name)
        name = "schedule";
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return cc_err_set(err, EINVAL, "%s: line %d, column %d: invalid JSON: %s", name, je.line,
                          je.column, je.text);
    int rc = 0;
    struct cc_schedule *s = NULL;
    if (!json_is_object(root)) {
        rc = cc_err_set(err, EINVAL, "%s: the top level is %s; a schedule is an object "
                        "{\"version\": 1, \"faults\": [...]}", name, json_kind(root));
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "version") && strcmp(key, "faults")) {
            rc = cc_err_set(err, EINVAL, "%s: unknown top-level key \"%s\" (a schedule has "
                            "\"version\" and \"faults\")", name, key);
            goto out;
        }
    }
    json_t *ver = json_object_get(root, "version");
    if (ver && (!json_is_integer(ver) || json_integer_value(ver) < 1)) {
        rc = cc_err_set(err, EINVAL, "%s: version: must be a positive integer", name);
        goto out;
    }
    if (ver && json_integer_value(ver) > CC_SCHEDULE_VERSION) {
        rc = cc_err_set(err, EINVAL, "%s: version: %lld is newer than this build reads (%d); "
                        "use a newer chaoscontrol", name, (long long)json_integer_value(ver),
                        CC_SCHEDULE_VERSION);
        goto out;
    }
    json_t *faults = json_object_get(root, "faults");
    if (!faults) {
        rc = cc_err_set(err, EINVAL, "%s: no \"faults\" array", name);
        goto out;
    }
    if (!json_is_array(faults)) {
        rc = cc_err_set(err, EINVAL, "%s: faults: is %s, not an array", name, json_kind(faults));
        goto out;
    }
    s = cc_schedule_new();
    if (!s) {
        rc = cc_err_set(err, ENOMEM, "out of memory");
        goto out;
    }
    struct ctx c = {name, 0, n_vms, err};
    size_t i;
    json_t *e;
    json_array_foreach(faults, i, e) {
        c.index = i;
        struct cc_fault f;
        rc = parse_fault(&c, e, &f);
        if (rc < 0)
            goto out;
        if (insert(s, &f) < 0) {
            rc = cc_err_set(err, ENOMEM, "out of memory");
            goto out;
        }
    }
    *out = s;
    s = NULL;
out:
    cc_schedule_free(s);
    json_decref(root);
    return rc;
}

int cc_schedule_load(const char *path, unsigned n_vms, struct cc_schedule **out,
                     struct cc_err *err)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return cc_err_set(err, errno, "%s: cannot read the schedule: %s", path, strerror(errno));
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    int rc = 0;
    while (buf) {
        size_t k = fread(buf + len, 1, cap - len - 1, fp);
        len += k;
        if (k == 0)
            break;
        if (len + 1 == cap) {
            if (cap >= (64u << 20)) {
                rc = cc_err_set(err, EFBIG, "%s: larger than 64 MiB: not a schedule", path);
                break;
            }
            char *n = realloc(buf, cap * 2);
            if (!n) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = n;
            cap *= 2;
        }
    }
    bool ioerr = ferror(fp);
    fclose(fp);
    if (!buf)
        return cc_err_set(err, ENOMEM, "out of memory");
    if (rc == 0 && ioerr)
        rc = cc_err_set(err, EIO, "%s: read error", path);
    if (rc == 0 && memchr(buf, 0, len))
        rc = cc_err_set(err, EINVAL, "%s: contains a NUL byte: not a JSON schedule", path);
    if (rc == 0) {
        buf[len] = 0;
        rc = cc_schedule_parse(buf, path, n_vms, out, err);
    }
    free(buf);
    return rc;
}

/* ---- JSON writing ---- */

static json_t *time_json(int64_t ns)
{
    char b[48];
    cc_time_format(ns, b, sizeof(b));
    return json_string(b);
}

static json_t *size_json(uint64_t n)
{
    char b[48];
    size_format(n, b, sizeof(b));
    if (b[strlen(b) - 1] >= '0' && b[strlen(b) - 1] <= '9')
        return json_integer((json_int_t)n);
    return json_string(b);
}

static json_t *set_json(uint64_t m)
{
    if (m && !(m & (m - 1)))
        return json_integer(__builtin_ctzll(m));
    json_t *a = json_array();
    for (unsigned b = 0; b < 64; b++)
        if ((m >> b) & 1)
            json_array_append_new(a, json_integer(b));
    return a;
}

static json_t *fault_json(const struct cc_fault *f)
{
    json_t *o = json_object();
    enum cc_fault_type t = f->type;
    json_object_set_new(o, "at", time_json((int64_t)f->at_ns));
    json_object_set_new(o, "type", json_string(cc_fault_type_name(t)));
    if (cc_fault_has_vm(t))
        json_object_set_new(o, "vm", json_integer(f->vm));
    switch (t) {
    case CC_FAULT_PARTITION: {
        json_t *sides = json_array();
        for (unsigned i = 0; i < f->n_sides; i++) {
            json_t *side = json_array();
            for (unsigned b = 0; b < 64; b++)
                if ((f->sides[i] >> b) & 1)
                    json_array_append_new(side, json_integer(b));
            json_array_append_new(sides, side);
        }
        json_object_set_new(o, "sides", sides);
        break;
    }
    case CC_FAULT_LATENCY: json_object_set_new(o, "latency", time_json((int64_t)f->ns)); break;
    case CC_FAULT_JITTER: json_object_set_new(o, "jitter", time_json((int64_t)f->ns)); break;
    case CC_FAULT_BANDWIDTH: json_object_set_new(o, "bps", json_integer((json_int_t)f->bps)); break;
    case CC_FAULT_REORDER:
        json_object_set_new(o, "rate", json_real(f->ppm / 1e6));
        json_object_set_new(o, "delay", time_json((int64_t)f->ns));
        break;
    case CC_FAULT_LOSS:
    case CC_FAULT_CORRUPT:
    case CC_FAULT_DUPLICATE:
        json_object_set_new(o, "rate", json_real(f->ppm / 1e6));
        break;
    case CC_FAULT_CLOCK_SKEW: json_object_set_new(o, "ppm", json_integer(f->skew_ppm)); break;
    case CC_FAULT_CLOCK_JUMP: json_object_set_new(o, "delta", time_json(f->delta_ns)); break;
    case CC_FAULT_MEMORY_PRESSURE: json_object_set_new(o, "size", size_json(f->bytes)); break;
    case CC_FAULT_IRQ:
        json_object_set_new(o, "line", json_integer(f->line));
        json_object_set_new(o, "count", json_integer((json_int_t)f->count));
        break;
    default:
        break;
    }
    if (cc_fault_is_disk(t)) {
        json_object_set_new(o, "offset", size_json(f->offset));
        json_object_set_new(o, "length", size_json(f->length));
        json_object_set_new(o, "count", f->count == CC_FAULT_UNLIMITED ? json_string("unlimited") :
                                        json_integer((json_int_t)f->count));
        if (t == CC_FAULT_DISK_TORN_WRITE) {
            json_object_set_new(o, "torn_bytes", f->torn_bytes == CC_FAULT_TORN_RANDOM ?
                                json_string("random") : json_integer(f->torn_bytes));
            json_object_set_new(o, "torn_error", json_boolean(f->torn_error));
        }
        if (t == CC_FAULT_DISK_CORRUPT_READ || t == CC_FAULT_DISK_CORRUPT_WRITE)
            json_object_set_new(o, "bits", json_integer(f->bits));
        if (t == CC_FAULT_DISK_FULL)
            json_object_set_new(o, "capacity", size_json(f->bytes));
    }
    if (cc_fault_is_link(t)) {
        if (f->from)
            json_object_set_new(o, "from", set_json(f->from));
        if (f->to)
            json_object_set_new(o, "to", set_json(f->to));
    }
    if (f->duration_ns)
        json_object_set_new(o, "duration", time_json((int64_t)f->duration_ns));
    return o;
}

#define DUMP_FLAGS (JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

char *cc_fault_to_json(const struct cc_fault *f)
{
    json_t *o = fault_json(f);
    char *text = o ? json_dumps(o, DUMP_FLAGS) : NULL;
    json_decref(o);
    return text;
}

char *cc_schedule_to_json(const struct cc_schedule *s)
{
    size_t cap = 256, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    len = (size_t)snprintf(out, cap, "{\"version\": %d, \"faults\": [", CC_SCHEDULE_VERSION);
    for (size_t i = 0; i < cc_schedule_count(s); i++) {
        char *f = cc_fault_to_json(&s->f[i]);
        if (!f) {
            free(out);
            return NULL;
        }
        size_t need = len + strlen(f) + 8;
        if (need > cap) {
            while (cap < need)
                cap *= 2;
            char *n = realloc(out, cap);
            if (!n) {
                free(f);
                free(out);
                return NULL;
            }
            out = n;
        }
        len += (size_t)snprintf(out + len, cap - len, "%s\n  %s", i ? "," : "", f);
        free(f);
    }
    if (len + 8 > cap) {
        char *n = realloc(out, len + 8);
        if (!n) {
            free(out);
            return NULL;
        }
        out = n;
    }
    snprintf(out + len, 8, "%s]}\n", cc_schedule_count(s) ? "\n" : "");
    return out;
}

int cc_schedule_save(const struct cc_schedule *s, const char *path, struct cc_err *err)
{
    char *text = cc_schedule_to_json(s);
    if (!text)
        return cc_err_set(err, ENOMEM, "out of memory");
    int rc = cc_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}
