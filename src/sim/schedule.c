/* Fault schedules: the model (fault types, defaults, validation, text
 * descriptions), the schedule container and the JSON writer (see
 * chaoscontrol/schedule.h for the schema). The JSON reader is in
 * schedule_parse.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sim/schedule_internal.h"
#include "util/afile.h"
#include "util/cjson.h"

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
    [CC_FAULT_VCPU_SCHEDULE] = "vcpu_schedule",
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
           t == CC_FAULT_CLOCK_JUMP || t == CC_FAULT_IRQ || t == CC_FAULT_NMI ||
           t == CC_FAULT_VCPU_SCHEDULE;
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
        if (f->bridge) {
            int rc = mask_range(f->bridge, n_vms, "bridge", err);
            if (rc < 0)
                return rc;
            if (seen & f->bridge)
                return cc_err_set(err, EINVAL, "bridge: VM %d is also on a side",
                                  __builtin_ctzll(seen & f->bridge));
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
        if (f->bridge) {
            mask_format(f->bridge, a, sizeof(a));
            sbf(&s, ", bridge [%s]", a);
        }
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
    case CC_FAULT_VCPU_SCHEDULE:
        sbf(&s, " seed %" PRIu64, f->seed);
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
int schedule_insert(struct cc_schedule *s, const struct cc_fault *f)
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
    rc = schedule_insert(s, f);
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

/* ---- JSON writing ---- */

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
    json_object_set_new(o, "at", cj_time((int64_t)f->at_ns));
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
        if (f->bridge) {
            json_t *br = json_array();
            for (unsigned b = 0; b < 64; b++)
                if ((f->bridge >> b) & 1)
                    json_array_append_new(br, json_integer(b));
            json_object_set_new(o, "bridge", br);
        }
        break;
    }
    case CC_FAULT_LATENCY: json_object_set_new(o, "latency", cj_time((int64_t)f->ns)); break;
    case CC_FAULT_JITTER: json_object_set_new(o, "jitter", cj_time((int64_t)f->ns)); break;
    case CC_FAULT_BANDWIDTH: json_object_set_new(o, "bps", json_integer((json_int_t)f->bps)); break;
    case CC_FAULT_REORDER:
        json_object_set_new(o, "rate", json_real(f->ppm / 1e6));
        json_object_set_new(o, "delay", cj_time((int64_t)f->ns));
        break;
    case CC_FAULT_LOSS:
    case CC_FAULT_CORRUPT:
    case CC_FAULT_DUPLICATE:
        json_object_set_new(o, "rate", json_real(f->ppm / 1e6));
        break;
    case CC_FAULT_CLOCK_SKEW: json_object_set_new(o, "ppm", json_integer(f->skew_ppm)); break;
    case CC_FAULT_CLOCK_JUMP: json_object_set_new(o, "delta", cj_time(f->delta_ns)); break;
    case CC_FAULT_MEMORY_PRESSURE: json_object_set_new(o, "size", size_json(f->bytes)); break;
    case CC_FAULT_IRQ:
        json_object_set_new(o, "line", json_integer(f->line));
        json_object_set_new(o, "count", json_integer((json_int_t)f->count));
        break;
    case CC_FAULT_VCPU_SCHEDULE: json_object_set_new(o, "seed", cj_u64(f->seed)); break;
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
        json_object_set_new(o, "duration", cj_time((int64_t)f->duration_ns));
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
    int rc = cc_file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}
