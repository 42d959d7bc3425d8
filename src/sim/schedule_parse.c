/* Fault schedules from JSON text or files: every error names the file, the
 * fault's index and field, and what is wrong ("f.json: faults[3].vm: 5 is
 * not a VM index (3 VMs)"). The schema is in chaoscontrol/schedule.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chaoscontrol/file.h"
#include "sim/schedule_internal.h"
#include "util/cjson.h"

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

static int get_time(const struct ctx *c, const json_t *v, const char *field, bool allow_neg,
                    int64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0 && !allow_neg)
            return perr(c, field, "%lld is negative", (long long)x);
        if ((uint64_t)(x < 0 ? -x : x) >= TIMEFMT_MAX)
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
        if (!timefmt_parse(json_string_value(v), allow_neg, out, &why))
            return perr(c, field, "\"%s\" %s", json_string_value(v), why);
        return 0;
    }
    return perr(c, field, "is %s, not a time (nanoseconds, or a string such as \"2s\")",
                cj_kind(v));
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
        return perr(c, field, "is %s, not an integer", cj_kind(v));
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
                    cj_kind(v));
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
        return perr(c, field, "is %s, not a VM index", cj_kind(v));
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
        return perr(c, field, "is %s, not a VM index or an array of them", cj_kind(v));
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
        return perr(c, field, "is %s, not a rate (a number in [0, 1])", cj_kind(v));
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
                    cj_kind(v));
    int rc = get_uint(c, v, field, UINT64_MAX >> 1, out);
    if (rc == 0 && *out == 0)
        return perr(c, field, "must be at least 1 (or \"unlimited\")");
    return rc;
}

/* A seed: 0 to 2^64-1, a JSON integer or (the form written above 2^53,
 * util/cjson.h) a string of decimal digits. */
static int get_seed(const struct ctx *c, const json_t *v, const char *field, uint64_t *out)
{
    if (cj_get_u64(v, out) == 0)
        return 0;
    if (json_is_integer(v))
        return perr(c, field, "%lld is negative (a seed is 0 to 18446744073709551615)",
                    (long long)json_integer_value(v));
    if (json_is_string(v))
        return perr(c, field, "\"%s\" is not a seed (decimal digits, 0 to "
                    "18446744073709551615)", json_string_value(v));
    return perr(c, field, "is %s, not a seed (an integer, or a string of decimal digits "
                "above 2^53)", cj_kind(v));
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
#define K_BRIDGE    (1u << 21)
#define K_SEED      (1u << 22)

static const char *const key_names[] = {
    "vm", "from", "to", "sides", "latency", "jitter", "bps", "rate", "delay", "offset",
    "length", "count", "torn_bytes", "torn_error", "bits", "capacity", "ppm", "delta", "size",
    "line", "duration", "bridge", "seed",
};

#define K_LINK (K_FROM | K_TO | K_DURATION)
#define K_DISK (K_VM | K_OFFSET | K_LENGTH | K_COUNT | K_DURATION)

static unsigned type_keys(enum cc_fault_type t)
{
    switch (t) {
    case CC_FAULT_PARTITION: return K_SIDES | K_BRIDGE | K_DURATION;
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
    case CC_FAULT_VCPU_SCHEDULE: return K_VM | K_SEED;
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

/* "type" and "at", read first so that the messages about the other keys
 * can name the type; f is initialised with the type's defaults. */
static int parse_type_and_time(const struct ctx *c, const json_t *o, struct cc_fault *f)
{
    if (!json_is_object(o))
        return perr(c, NULL, "is %s, not an object", cj_kind(o));
    json_t *tv = json_object_get(o, "type");
    if (!tv)
        return perr(c, NULL, "has no \"type\"");
    if (!json_is_string(tv))
        return perr(c, "type", "is %s, not a string", cj_kind(tv));
    enum cc_fault_type t = cc_fault_type_from_name(json_string_value(tv));
    if (!t)
        return perr(c, "type", "unknown fault type '%s' (known: partition, heal, latency, "
                    "jitter, bandwidth, loss, corrupt, reorder, duplicate, disk_read_error, "
                    "disk_write_error, disk_torn_write, disk_corrupt_read, disk_corrupt_write, "
                    "disk_full, kill, pause, restart, clock_skew, clock_jump, memory_pressure, "
                    "irq, nmi, vcpu_schedule)", json_string_value(tv));
    json_t *at = json_object_get(o, "at");
    if (!at)
        return perr(c, NULL, "has no \"at\" (when the fault happens)");
    uint64_t at_ns = 0;
    int rc = get_utime(c, at, "at", &at_ns);
    if (rc < 0)
        return rc;
    cc_fault_init(f, t, at_ns);
    return 0;
}

/* A key that a fault of type t does not take (bit: the key's K_ bit, 0 if
 * no fault takes it). The message lists the keys it does take. */
static int bad_key(const struct ctx *c, const char *key, unsigned bit, enum cc_fault_type t)
{
    const char *tn = cc_fault_type_name(t);
    if (bit == K_DURATION)
        return perr(c, "duration", "a %s fault is an instant and takes no duration", tn);
    unsigned allowed = type_keys(t);
    char list[256] = "";
    size_t at = 0;
    for (unsigned i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++)
        if (allowed & (1u << i))
            at += (size_t)snprintf(list + at, sizeof(list) - at, "%s%s", at ? ", " : "",
                                   key_names[i]);
    return perr(c, NULL, "unknown key \"%s\" for a %s fault (it takes at, type%s%s)", key, tn,
                at ? ", " : "", list);
}

/* "sides": [[vm, ...], ...], no VM on two sides. */
static int get_sides(const struct ctx *c, const json_t *v, struct cc_fault *f)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return perr(c, "sides", "must be a non-empty array of arrays of VM indices, "
                    "e.g. [[0], [1, 2]]");
    if (json_array_size(v) > CC_SCHEDULE_MAX_SIDES)
        return perr(c, "sides", "has %zu sides (at most %u)", json_array_size(v),
                    CC_SCHEDULE_MAX_SIDES);
    size_t i;
    json_t *e;
    uint64_t seen = 0;
    json_array_foreach(v, i, e) {
        char sub[32];
        snprintf(sub, sizeof(sub), "sides[%zu]", i);
        if (!json_is_array(e))
            return perr(c, sub, "is %s, not an array of VM indices", cj_kind(e));
        int rc = get_vm_set(c, e, sub, false, &f->sides[i]);
        if (rc < 0)
            return rc;
        if (seen & f->sides[i])
            return perr(c, sub, "VM %d is already on another side",
                        __builtin_ctzll(seen & f->sides[i]));
        seen |= f->sides[i];
        f->n_sides++;
    }
    return 0;
}

/* "torn_bytes": a byte count, or "random". */
static int get_torn_bytes(const struct ctx *c, const json_t *v, uint32_t *out)
{
    if (json_is_string(v) && !strcmp(json_string_value(v), "random")) {
        *out = CC_FAULT_TORN_RANDOM;
        return 0;
    }
    uint64_t b = 0;
    int rc = get_uint(c, v, "torn_bytes", UINT32_MAX - 1, &b);
    *out = (uint32_t)b;
    return rc;
}

/* The value of one key (its K_ bit) into f. */
static int parse_key(const struct ctx *c, unsigned bit, const json_t *v, struct cc_fault *f)
{
    switch (bit) {
    case K_VM: return get_vm_index(c, v, "vm", &f->vm);
    case K_FROM: return get_vm_set(c, v, "from", false, &f->from);
    case K_TO: return get_vm_set(c, v, "to", false, &f->to);
    case K_SIDES: return get_sides(c, v, f);
    case K_BRIDGE: return get_vm_set(c, v, "bridge", false, &f->bridge);
    case K_LATENCY: return get_utime(c, v, "latency", &f->ns);
    case K_JITTER: return get_utime(c, v, "jitter", &f->ns);
    case K_DELAY: return get_utime(c, v, "delay", &f->ns);
    case K_DURATION: return get_utime(c, v, "duration", &f->duration_ns);
    case K_BPS: return get_uint(c, v, "bps", UINT64_MAX >> 1, &f->bps);
    case K_RATE: return get_rate(c, v, "rate", &f->ppm);
    case K_OFFSET: return get_size(c, v, "offset", &f->offset);
    case K_LENGTH: return get_size(c, v, "length", &f->length);
    case K_COUNT: return get_count(c, v, "count", &f->count);
    case K_CAPACITY: return get_size(c, v, "capacity", &f->bytes);
    case K_SIZE: return get_size(c, v, "size", &f->bytes);
    case K_BITS: {
        uint64_t b = 0;
        int rc = get_uint(c, v, "bits", MAX_FLIPS, &b);
        f->bits = (uint32_t)b;
        return rc;
    }
    case K_LINE: {
        uint64_t l = 0;
        int rc = get_uint(c, v, "line", 15, &l);
        f->line = (unsigned)l;
        return rc;
    }
    case K_TORN: return get_torn_bytes(c, v, &f->torn_bytes);
    case K_TORN_ERR:
        if (!json_is_boolean(v))
            return perr(c, "torn_error", "is %s, not true or false", cj_kind(v));
        f->torn_error = json_is_true(v);
        return 0;
    case K_PPM:
        if (!json_is_integer(v))
            return perr(c, "ppm", "is %s, not an integer", cj_kind(v));
        f->skew_ppm = json_integer_value(v);
        return 0;
    case K_DELTA: return get_time(c, v, "delta", true, &f->delta_ns);
    case K_SEED: return get_seed(c, v, "seed", &f->seed);
    }
    return 0;
}

/* The key a fault of type t cannot do without (besides "vm"), or NULL. */
static const char *required_key(enum cc_fault_type t)
{
    switch (t) {
    case CC_FAULT_PARTITION: return "sides";
    case CC_FAULT_LATENCY: return "latency";
    case CC_FAULT_JITTER: return "jitter";
    case CC_FAULT_BANDWIDTH: return "bps";
    case CC_FAULT_LOSS: case CC_FAULT_CORRUPT: case CC_FAULT_REORDER: case CC_FAULT_DUPLICATE:
        return "rate";
    case CC_FAULT_DISK_FULL: return "capacity";
    case CC_FAULT_PAUSE: return "duration";
    case CC_FAULT_CLOCK_SKEW: return "ppm";
    case CC_FAULT_CLOCK_JUMP: return "delta";
    case CC_FAULT_MEMORY_PRESSURE: return "size";
    case CC_FAULT_IRQ: return "line";
    case CC_FAULT_VCPU_SCHEDULE: return "seed";
    default: return NULL;
    }
}

static int parse_fault(const struct ctx *c, const json_t *o, struct cc_fault *f)
{
    int rc = parse_type_and_time(c, o, f);
    if (rc < 0)
        return rc;
    enum cc_fault_type t = f->type;
    unsigned allowed = type_keys(t);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        if (!strcmp(key, "at") || !strcmp(key, "type"))
            continue;
        unsigned bit = key_bit(key);
        if (!bit || !(allowed & bit))
            return bad_key(c, key, bit, t);
        rc = parse_key(c, bit, v, f);
        if (rc < 0)
            return rc;
    }

    const char *tn = cc_fault_type_name(t), *req = required_key(t);
    json_t *dummy;
    if (req)
        rc = need(c, o, req, tn, &dummy);
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
        return cc_err_set(err, EINVAL, "%s: line %d, column %d: invalid JSON: %s%s", name, je.line,
                          je.column, je.text, strstr(je.text, "too big integer") ?
                          " (a seed above 2^63 - 1 is written as a string of its digits, e.g. "
                          "\"18446744073709551615\")" : "");
    int rc = 0;
    struct cc_schedule *s = NULL;
    if (!json_is_object(root)) {
        rc = cc_err_set(err, EINVAL, "%s: the top level is %s; a schedule is an object "
                        "{\"version\": 1, \"faults\": [...]}", name, cj_kind(root));
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
        rc = cc_err_set(err, EINVAL, "%s: faults: is %s, not an array", name, cj_kind(faults));
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
        if (schedule_insert(s, &f) < 0) {
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
    char *buf;
    size_t len;
    int rc = cc_file_read(path, "schedule", 64u << 20, &buf, &len, err);
    if (rc < 0)
        return rc;
    if (memchr(buf, 0, len))
        rc = cc_err_set(err, EINVAL, "%s: contains a NUL byte: not a JSON schedule", path);
    if (rc == 0)
        rc = cc_schedule_parse(buf, path, n_vms, out, err);
    free(buf);
    return rc;
}
