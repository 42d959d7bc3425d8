/* Exploration targets: the simulation's configuration (a kernel and its
 * files, or the name of a factory that makes the simulation in code), the
 * SHA-256 of its files, and its JSON form in bug files and checkpoints. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "chaoscontrol/explore.h"
#include "chaoscontrol/virtio.h"
#include "chaoscontrol/vm.h"
#include "explore/explore_internal.h"

double explore_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void cc_xtarget_init(struct cc_xtarget *t)
{
    memset(t, 0, sizeof(*t));
    t->n_vms = 3;
    t->setup_timeout_ns = 120 * CC_SEC;
    cc_cpu_model_default(&t->cpu);
}

static int sha256_file(const char *path, char out[65], struct cc_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cc_err_set(err, errno, "%s: %s", path, strerror(errno));
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    uint8_t buf[1 << 16];
    for (;;) {
        ssize_t k = read(fd, buf, sizeof(buf));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            close(fd);
            return cc_err_set(err, e, "%s: read: %s", path, strerror(e));
        }
        if (!k)
            break;
        crypto_hash_sha256_update(&st, buf, (unsigned long long)k);
    }
    close(fd);
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, h);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
    return 0;
}

int cc_xtarget_hash(struct cc_xtarget *t, struct cc_err *err)
{
    t->kernel_sha256[0] = t->initrd_sha256[0] = t->disk_image_sha256[0] = 0;
    int rc = 0;
    if (!t->kernel && !t->factory)
        return cc_err_set(err, EINVAL, "no kernel given");
    if (t->kernel)
        rc = sha256_file(t->kernel, t->kernel_sha256, err);
    if (rc == 0 && t->initrd)
        rc = sha256_file(t->initrd, t->initrd_sha256, err);
    if (rc == 0 && t->disk_image)
        rc = sha256_file(t->disk_image, t->disk_image_sha256, err);
    return rc;
}

static int check_one(const char *what, const char *path, const char *want, struct cc_err *err)
{
    if (!path || !*want)
        return 0;
    char got[65];
    int rc = sha256_file(path, got, err);
    if (rc < 0)
        return cc_err_prefix(err, "%s", what);
    if (strcmp(got, want))
        return cc_err_set(err, EINVAL,
                          "%s '%s' has SHA-256 %.16s..., but the recording was made with "
                          "%.16s...: a different %s (put back the one it was made with; a "
                          "rebuilt guest needs a new exploration)", what, path, got, want, what);
    return 0;
}

int cc_xtarget_check(const struct cc_xtarget *t, struct cc_err *err)
{
    int rc = check_one("kernel", t->kernel, t->kernel_sha256, err);
    if (rc == 0)
        rc = check_one("initrd", t->initrd, t->initrd_sha256, err);
    if (rc == 0)
        rc = check_one("disk image", t->disk_image, t->disk_image_sha256, err);
    return rc;
}

int cc_xtarget_check_boot(const struct cc_xtarget *t, struct cc_err *err)
{
    if (t->factory)
        return cc_err_set(err, EINVAL, "the target is made by code (factory '%s'), not by "
                          "booting a kernel: only a program that has that factory can run it "
                          "(cc_xrun_opts.factory, cc_explore_opts.factory), not the command "
                          "line", t->factory);
    int rc = cc_xtarget_check(t, err);
    /* and what booting would find wrong with them, before any /dev/kvm */
    if (rc == 0)
        rc = cc_linux_check(t->kernel, t->initrd, t->mem_size ? t->mem_size : CC_VM_DEFAULT_MEM,
                            err);
    if (rc == 0 && (t->disk_image || t->disk_size)) {
        struct cc_blk_config bc = {.size = t->disk_size, .image_path = t->disk_image};
        rc = cc_blk_config_check(&bc, err);
    }
    return rc;
}

/* ---- JSON ---- */

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *cpu_to_json(const struct cc_cpu_model *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "vendor", json_string(m->id.vendor));
    json_object_set_new(o, "family", json_integer(m->id.family));
    json_object_set_new(o, "model", json_integer(m->id.model));
    json_object_set_new(o, "stepping", json_integer(m->id.stepping));
    json_object_set_new(o, "brand", json_string(m->id.brand));
    json_object_set_new(o, "tsc_khz", json_integer(m->tsc_khz));
    json_object_set_new(o, "avx2", json_boolean(m->avx2));
    json_object_set_new(o, "avx512", json_boolean(m->avx512));
    return o;
}

json_t *xtarget_to_json(const struct cc_xtarget *t)
{
    json_t *o = json_object();
    if (t->factory)
        json_object_set_new(o, "factory", json_string(t->factory));
    json_object_set_new(o, "kernel", str_or_null(t->kernel));
    json_object_set_new(o, "kernel_sha256", t->kernel ? json_string(t->kernel_sha256) :
                                                        json_null());
    json_object_set_new(o, "initrd", str_or_null(t->initrd));
    json_object_set_new(o, "initrd_sha256", t->initrd ? json_string(t->initrd_sha256) :
                                                        json_null());
    json_object_set_new(o, "vms", json_integer(t->n_vms));
    json_object_set_new(o, "mem", xj_u64(t->mem_size));
    if (t->vcpus > 1) {     /* one-vCPU targets keep their old form */
        json_object_set_new(o, "vcpus", json_integer(t->vcpus));
        json_object_set_new(o, "vcpu_schedule", json_string(cc_vcpu_sched_name(t->vcpu_sched)));
        json_object_set_new(o, "vcpu_quantum", json_integer(t->vcpu_quantum));
    }
    if (!cc_cpu_model_is_default(&t->cpu))  /* default-CPU targets keep their old form */
        json_object_set_new(o, "cpu", cpu_to_json(&t->cpu));
    json_object_set_new(o, "cmdline", str_or_null(t->cmdline));
    json_object_set_new(o, "append", str_or_null(t->append));
    json_object_set_new(o, "disk_size", xj_u64(t->disk_size));
    json_object_set_new(o, "disk_image", str_or_null(t->disk_image));
    json_object_set_new(o, "disk_image_sha256", t->disk_image ?
                        json_string(t->disk_image_sha256) : json_null());
    char seed[24];
    snprintf(seed, sizeof(seed), "%" PRIu64, t->seed);
    json_object_set_new(o, "seed", json_string(seed));
    json_object_set_new(o, "quantum_ns", xj_u64(t->quantum_ns));
    json_object_set_new(o, "latency_ns", xj_u64(t->latency_ns));
    json_object_set_new(o, "setup_timeout_ns", xj_u64(t->setup_timeout_ns));
    /* written only when used, so older files read back byte for byte */
    if (t->setup_marker)
        json_object_set_new(o, "setup_marker", json_string(t->setup_marker));
    if (t->setup_after_ns)
        json_object_set_new(o, "setup_after_ns", xj_u64(t->setup_after_ns));
    if (t->checker)
        json_object_set_new(o, "checker", json_string(cc_xchecker_name(t->checker)));
    json_object_set_new(o, "sdk_trigger", json_string("port"));
    return o;
}

const char *cc_xchecker_name(enum cc_xchecker c)
{
    switch (c) {
    case CC_XCHECK_NONE: return "none";
    case CC_XCHECK_LINEARIZABLE: return "linearizable";
    case CC_XCHECK_SET: return "set";
    }
    return "?";
}

int cc_xchecker_parse(const char *s, enum cc_xchecker *out)
{
    for (enum cc_xchecker c = CC_XCHECK_NONE; c <= CC_XCHECK_SET; c++)
        if (!strcmp(s, cc_xchecker_name(c))) {
            *out = c;
            return 0;
        }
    return -EINVAL;
}

const char *cc_xchecker_message(enum cc_xchecker c)
{
    switch (c) {
    case CC_XCHECK_LINEARIZABLE: return "the operation history is linearizable";
    case CC_XCHECK_SET: return "no acknowledged add is lost";
    default: return "";
    }
}

void xtarget_strings_free(struct xtarget_strings *s)
{
    free(s->factory);
    free(s->kernel);
    free(s->initrd);
    free(s->cmdline);
    free(s->append);
    free(s->disk_image);
    free(s->setup_marker);
    memset(s, 0, sizeof(*s));
}

/* A string or null field; required ones must be strings. */
static int get_str(const json_t *j, const char *key, bool required, char **out, const char *src,
                   const char *path, struct cc_err *err)
{
    json_t *v = json_object_get(j, key);
    *out = NULL;
    if (!v) {
        if (required)
            return cc_err_set(err, EINVAL, "%s: %s.%s: missing", src, path, key);
        return 0;
    }
    if (json_is_null(v) && !required)
        return 0;
    if (!json_is_string(v))
        return cc_err_set(err, EINVAL, "%s: %s.%s: not a string", src, path, key);
    *out = strdup(json_string_value(v));
    if (!*out)
        return cc_err_set(err, ENOMEM, "out of memory");
    return 0;
}

static int get_hash(const json_t *j, const char *key, bool required, char out[65],
                    const char *src, const char *path, struct cc_err *err)
{
    json_t *v = json_object_get(j, key);
    out[0] = 0;
    if (!v || json_is_null(v)) {
        if (required)
            return cc_err_set(err, EINVAL, "%s: %s.%s: missing", src, path, key);
        return 0;
    }
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    bool ok = s && strlen(s) == 64;
    for (size_t i = 0; ok && i < 64; i++)
        ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
    if (!ok)
        return cc_err_set(err, EINVAL, "%s: %s.%s: not a SHA-256 (64 lowercase hex digits)", src,
                          path, key);
    memcpy(out, s, 65);
    return 0;
}

static int get_num(const json_t *j, const char *key, bool required, uint64_t *out,
                   const char *src, const char *path, struct cc_err *err)
{
    json_t *v = json_object_get(j, key);
    if (!v) {
        if (required)
            return cc_err_set(err, EINVAL, "%s: %s.%s: missing", src, path, key);
        return 0;
    }
    if (xj_get_u64(v, out) < 0)
        return cc_err_set(err, EINVAL, "%s: %s.%s: not a non-negative integer", src, path, key);
    return 0;
}

/* A string that fits in out[size] (at most size - 1 characters). */
static int get_fixed_str(const json_t *j, const char *key, char *out, size_t size,
                         const char *src, const char *path, struct cc_err *err)
{
    json_t *v = json_object_get(j, key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return cc_err_set(err, EINVAL, "%s: %s.%s: not a string", src, path, key);
    if (json_string_length(v) >= size || strlen(json_string_value(v)) != json_string_length(v))
        return cc_err_set(err, EINVAL, "%s: %s.%s: longer than %zu characters", src, path, key,
                          size - 1);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int get_u32(const json_t *j, const char *key, uint32_t *out, const char *src,
                   const char *path, struct cc_err *err)
{
    uint64_t v = *out;
    int rc = get_num(j, key, false, &v, src, path, err);
    if (rc == 0 && v > UINT32_MAX)
        rc = cc_err_set(err, EINVAL, "%s: %s.%s: %" PRIu64 " is too large", src, path, key, v);
    if (rc == 0)
        *out = (uint32_t)v;
    return rc;
}

static int get_bool(const json_t *j, const char *key, bool *out, const char *src,
                    const char *path, struct cc_err *err)
{
    json_t *v = json_object_get(j, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return cc_err_set(err, EINVAL, "%s: %s.%s: not true or false", src, path, key);
    *out = json_is_true(v);
    return 0;
}

/* "cpu": absent means the default model; a field left out keeps its
 * default. */
static int cpu_from_json(const json_t *j, const char *src, const char *path,
                         struct cc_cpu_model *m, struct cc_err *err)
{
    cc_cpu_model_default(m);
    json_t *c = json_object_get(j, "cpu");
    if (!c)
        return 0;
    char p[128];
    snprintf(p, sizeof(p), "%s.cpu", path);
    if (!json_is_object(c))
        return cc_err_set(err, EINVAL, "%s: %s: not an object", src, p);
    int rc = get_fixed_str(c, "vendor", m->id.vendor, sizeof(m->id.vendor), src, p, err);
    if (rc == 0)
        rc = get_u32(c, "family", &m->id.family, src, p, err);
    if (rc == 0)
        rc = get_u32(c, "model", &m->id.model, src, p, err);
    if (rc == 0)
        rc = get_u32(c, "stepping", &m->id.stepping, src, p, err);
    if (rc == 0)
        rc = get_fixed_str(c, "brand", m->id.brand, sizeof(m->id.brand), src, p, err);
    if (rc == 0)
        rc = get_u32(c, "tsc_khz", &m->tsc_khz, src, p, err);
    if (rc == 0)
        rc = get_bool(c, "avx2", &m->avx2, src, p, err);
    if (rc == 0)
        rc = get_bool(c, "avx512", &m->avx512, src, p, err);
    if (rc == 0 && cc_cpu_model_check(m, err) < 0)
        rc = cc_err_prefix(err, "%s: %s", src, p);
    return rc;
}

int xtarget_from_json(const json_t *j, const char *src, const char *path, struct cc_xtarget *t,
                      struct xtarget_strings *s, struct cc_err *err)
{
    memset(s, 0, sizeof(*s));
    cc_xtarget_init(t);
    if (!json_is_object(j))
        return cc_err_set(err, EINVAL, "%s: %s: missing or not an object", src, path);
    uint64_t vms = 0, mem = 0, disk = 0, seed = 0, q = 0, lat = 0, st = t->setup_timeout_ns;
    uint64_t sa = 0;
    /* a target made by code names its factory and has no kernel */
    int rc = get_str(j, "factory", false, &s->factory, src, path, err);
    if (rc == 0)
        rc = get_str(j, "kernel", !s->factory, &s->kernel, src, path, err);
    if (rc == 0)
        rc = get_hash(j, "kernel_sha256", s->kernel != NULL, t->kernel_sha256, src, path, err);
    if (rc == 0)
        rc = get_str(j, "initrd", false, &s->initrd, src, path, err);
    if (rc == 0)
        rc = get_hash(j, "initrd_sha256", s->initrd != NULL, t->initrd_sha256, src, path, err);
    if (rc == 0)
        rc = get_num(j, "vms", true, &vms, src, path, err);
    if (rc == 0 && (vms < 1 || vms > CC_SIM_MAX_VMS))
        rc = cc_err_set(err, EINVAL, "%s: %s.vms: %" PRIu64 " is not in 1..%u", src, path, vms,
                        CC_SIM_MAX_VMS);
    if (rc == 0)
        rc = get_num(j, "mem", false, &mem, src, path, err);
    uint64_t vcpus = 1, vq = 0;
    enum cc_vcpu_sched vs = CC_VSCHED_RR;
    if (rc == 0)
        rc = get_num(j, "vcpus", false, &vcpus, src, path, err);
    if (rc == 0 && (vcpus < 1 || vcpus > CC_VM_MAX_VCPUS))
        rc = cc_err_set(err, EINVAL, "%s: %s.vcpus: %" PRIu64 " is not in 1..%d", src, path,
                        vcpus, CC_VM_MAX_VCPUS);
    if (rc == 0)
        rc = get_num(j, "vcpu_quantum", false, &vq, src, path, err);
    if (rc == 0 && vq > UINT32_MAX)
        rc = cc_err_set(err, EINVAL, "%s: %s.vcpu_quantum: %" PRIu64 " is too large", src, path,
                        vq);
    if (rc == 0) {
        json_t *vsj = json_object_get(j, "vcpu_schedule");
        if (vsj && (!json_is_string(vsj) || cc_vcpu_sched_parse(json_string_value(vsj), &vs) < 0))
            rc = cc_err_set(err, EINVAL, "%s: %s.vcpu_schedule: not \"rr\" or \"random\"", src,
                            path);
    }
    struct cc_cpu_model cpu;
    if (rc == 0)
        rc = cpu_from_json(j, src, path, &cpu, err);
    if (rc == 0)
        rc = get_str(j, "cmdline", false, &s->cmdline, src, path, err);
    if (rc == 0)
        rc = get_str(j, "append", false, &s->append, src, path, err);
    if (rc == 0)
        rc = get_num(j, "disk_size", false, &disk, src, path, err);
    if (rc == 0)
        rc = get_str(j, "disk_image", false, &s->disk_image, src, path, err);
    if (rc == 0)
        rc = get_hash(j, "disk_image_sha256", s->disk_image != NULL, t->disk_image_sha256, src,
                      path, err);
    if (rc == 0)
        rc = get_num(j, "seed", true, &seed, src, path, err);
    if (rc == 0)
        rc = get_num(j, "quantum_ns", false, &q, src, path, err);
    if (rc == 0)
        rc = get_num(j, "latency_ns", false, &lat, src, path, err);
    if (rc == 0)
        rc = get_num(j, "setup_timeout_ns", false, &st, src, path, err);
    if (rc == 0)
        rc = get_str(j, "setup_marker", false, &s->setup_marker, src, path, err);
    if (rc == 0)
        rc = get_num(j, "setup_after_ns", false, &sa, src, path, err);
    if (rc == 0) {
        json_t *ck = json_object_get(j, "checker");
        if (ck && (!json_is_string(ck) || cc_xchecker_parse(json_string_value(ck),
                                                            &t->checker) < 0))
            rc = cc_err_set(err, EINVAL, "%s: %s.checker: not \"linearizable\", \"set\" or "
                            "\"none\"", src, path);
    }
    if (rc == 0) {
        json_t *tr = json_object_get(j, "sdk_trigger");
        if (tr && (!json_is_string(tr) || strcmp(json_string_value(tr), "port")))
            rc = cc_err_set(err, EINVAL, "%s: %s.sdk_trigger: only \"port\" is supported", src,
                            path);
    }
    if (rc < 0) {
        xtarget_strings_free(s);
        return rc;
    }
    t->factory = s->factory;
    t->kernel = s->kernel;
    t->initrd = s->initrd;
    t->cmdline = s->cmdline;
    t->append = s->append;
    t->disk_image = s->disk_image;
    t->n_vms = (unsigned)vms;
    t->mem_size = mem;
    t->vcpus = (unsigned)vcpus;
    t->vcpu_sched = vs;
    t->vcpu_quantum = (uint32_t)vq;
    t->cpu = cpu;
    t->disk_size = disk;
    t->seed = seed;
    t->quantum_ns = q;
    t->latency_ns = lat;
    t->setup_timeout_ns = st;
    t->setup_marker = s->setup_marker;
    t->setup_after_ns = sa;
    return 0;
}

static int dup_into(const char **field, char **owned)
{
    *owned = NULL;
    if (!*field)
        return 0;
    *owned = strdup(*field);
    *field = *owned;
    return *owned ? 0 : -ENOMEM;
}

int xtarget_own(struct cc_xtarget *t, struct xtarget_strings *s)
{
    memset(s, 0, sizeof(*s));
    if (dup_into(&t->kernel, &s->kernel) < 0 || dup_into(&t->initrd, &s->initrd) < 0 ||
        dup_into(&t->cmdline, &s->cmdline) < 0 || dup_into(&t->append, &s->append) < 0 ||
        dup_into(&t->disk_image, &s->disk_image) < 0 || dup_into(&t->factory, &s->factory) < 0 ||
        dup_into(&t->setup_marker, &s->setup_marker) < 0) {
        xtarget_strings_free(s);
        return -ENOMEM;
    }
    return 0;
}
