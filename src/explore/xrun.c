/* Running targets and recipes: boot (or have a factory make) the
 * simulation, run to setup and snapshot, then play a
 * recipe segment by segment with the choice scripts set (the rule in
 * chaoscontrol/explore.h that the explorer and every replay share). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/dlog.h"
#include "chaoscontrol/explore.h"
#include "chaoscontrol/sim.h"
#include "explore/explore_internal.h"

struct cc_xrun {
    struct cc_sim *sim;
    struct cc_sim_snapshot *root;
    uint64_t setup_ns;
    enum cc_xchecker checker;
    struct cc_xcheck_out chk;           /* the last run's history check */
};

void cc_xrun_opts_default(struct cc_xrun_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (unsigned i = 0; i < CC_SIM_MAX_VMS; i++)
        o->serial_fd[i] = -1;
    o->watchdog_s = 30;
}

static void tail_of_console(struct cc_sim *sim, unsigned i, char *out, size_t cap)
{
    size_t len;
    const uint8_t *s = cc_vm_serial(cc_sim_vm(sim, i), &len);
    size_t from = len > 300 ? len - 300 : 0;
    size_t k = 0;
    for (size_t j = from; s && j < len && k + 1 < cap; j++)
        out[k++] = s[j] == '\n' ? '|' : (s[j] >= 32 && s[j] < 127 ? (char)s[j] : '.');
    out[k] = 0;
}

/* The simulation of t, not yet run: a factory's, or Linux VMs booting
 * the target's kernel. */
static int create_sim(const struct cc_xtarget *t, const struct cc_xrun_opts *o,
                      struct cc_sim **out, struct cc_err *err)
{
    const struct cc_xfactory *fa = o->factory;
    if (t->factory && (!fa || !fa->name || strcmp(fa->name, t->factory)))
        return cc_err_set(err, EINVAL, "the target is made by code (factory '%s') and %s",
                          t->factory, fa && fa->name ? "another factory was given" :
                          "no factory was given (cc_xrun_opts.factory)");
    if (!t->factory && fa)
        return cc_err_set(err, EINVAL, "factory '%s' given for a target that boots a kernel",
                          fa->name ? fa->name : "?");
    struct cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_vms = t->n_vms;
    cfg.seed = t->seed;
    if (t->quantum_ns)
        cfg.quantum_ns = t->quantum_ns;
    if (t->latency_ns)
        cfg.link.latency_ns = t->latency_ns;
    cfg.setup_marker = t->setup_marker;
    cfg.setup_after_ns = t->setup_after_ns;
    cfg.watchdog_s = o->watchdog_s;
    cfg.log = o->log;
    cfg.log_opaque = o->log_opaque;
    cfg.dlog = o->dlog;
    cfg.cpu = t->cpu;       /* a factory's VMs should present it too */
    for (unsigned i = 0; i < CC_SIM_MAX_VMS; i++)
        cfg.serial_fd[i] = o->serial_fd[i];
    if (fa) {
        int rc = fa->create(fa->opaque, t, &cfg, out, err);
        if (rc < 0)
            return cc_err_prefix(err, "factory '%s'", fa->name);
        if (!*out || cc_sim_vm_count(*out) != t->n_vms) {
            unsigned n = *out ? cc_sim_vm_count(*out) : 0;
            cc_sim_destroy(*out);
            *out = NULL;
            return cc_err_set(err, EINVAL, "factory '%s' made %u VMs, the target has %u",
                              fa->name, n, t->n_vms);
        }
        return 0;
    }
    cfg.kernel = t->kernel;
    cfg.initrd = t->initrd;
    cfg.cmdline = t->cmdline;
    cfg.append = t->append;
    if (t->mem_size)
        cfg.mem_size = t->mem_size;
    cfg.vcpus = t->vcpus;
    cfg.vcpu_sched = t->vcpu_sched;
    cfg.vcpu_quantum = t->vcpu_quantum;
    cfg.disk_size = t->disk_size;
    cfg.disk_image = t->disk_image;
    return cc_sim_create(&cfg, out, err);
}

int cc_xrun_boot(const struct cc_xtarget *t, const struct cc_xrun_opts *o, struct cc_xrun **out,
                 struct cc_err *err)
{
    *out = NULL;
    struct cc_xrun_opts def;
    if (!o) {
        cc_xrun_opts_default(&def);
        o = &def;
    }
    struct cc_xrun *x = calloc(1, sizeof(*x));
    if (!x)
        return cc_err_set(err, ENOMEM, "out of memory");
    x->checker = t->checker;
    int rc = create_sim(t, o, &x->sim, err);
    if (rc < 0) {
        free(x);
        return rc;
    }
    /* One doorbell everywhere, so exit traces (and so the times in bug
     * files) do not depend on whether the host has KVM_CAP_EXIT_HYPERCALL.
     * (Needs restores that keep user-space port I/O working: 64265c4.) */
    for (unsigned i = 0; i < t->n_vms; i++) {
        struct cc_sdk_options so;
        struct cc_vm *vm = cc_sim_vm(x->sim, i);
        cc_vm_sdk_get_options(vm, &so);
        so.trigger = CC_SDK_TRIGGER_PORT;
        cc_vm_sdk_set_options(vm, &so);
    }
    struct cc_sim_limits lim = {.until_setup = true, .until_ns = t->setup_timeout_ns};
    struct cc_sim_result res;
    rc = cc_sim_run(x->sim, &lim, &res, err);
    /* The run also stops at setup when the VMs that did not set up are all
     * down. A VM that powered off is the target's business; one that
     * crashed (triple fault, a KVM error, halted for good) before setup
     * would sit dead in every branch: an error, with its console. The VM
     * named is the first crashed one, else the first not set up. */
    int culprit = -1;
    bool crashed = false;
    struct cc_sim_vm_status cst;
    for (unsigned i = 0; rc == 0 && i < t->n_vms && !crashed; i++) {
        struct cc_sim_vm_status st;
        cc_sim_vm_status(x->sim, i, &st);
        if (st.setup_done)
            continue;
        crashed = st.state == CC_SIM_VM_EXITED && st.exit_reason != CC_STOP_POWEROFF;
        if (culprit < 0 || crashed) {
            culprit = (int)i;
            cst = st;
        }
    }
    if (rc == 0 && (res.stop != CC_SIM_STOP_SETUP || crashed)) {
        char why[400] = "";
        if (culprit >= 0) {
            char tail[320];
            tail_of_console(x->sim, (unsigned)culprit, tail, sizeof(tail));
            snprintf(why, sizeof(why), "vm %d is %s%s%s without completing setup; its "
                     "console ends: %s", culprit, cc_sim_vm_state_name(cst.state),
                     cst.state == CC_SIM_VM_EXITED ? ": " : "",
                     cst.state == CC_SIM_VM_EXITED ? cc_stop_name(cst.exit_reason) : "", tail);
        }
        rc = cc_err_set(err, EIO, "the guests did not all reach setup_complete (stop: %s at "
                        "%.3f s virtual): %s", cc_sim_stop_name(res.stop), res.vtime / 1e9, why);
    }
    if (rc == 0) {
        x->setup_ns = cc_sim_now(x->sim);
        rc = cc_sim_snapshot(x->sim, &x->root, err);
    }
    if (rc < 0) {
        cc_xrun_free(x);
        return rc;
    }
    *out = x;
    return 0;
}

void cc_xrun_free(struct cc_xrun *x)
{
    if (!x)
        return;
    cc_sim_snapshot_put(x->root);
    cc_sim_destroy(x->sim);
    xcheck_clear(&x->chk);
    free(x);
}

struct cc_sim *cc_xrun_sim(struct cc_xrun *x) { return x->sim; }
struct cc_sim_snapshot *xrun_root(struct cc_xrun *x) { return x->root; }
uint64_t xrun_setup_ns(const struct cc_xrun *x) { return x->setup_ns; }
const struct cc_xcheck_out *xrun_check_out(const struct cc_xrun *x) { return &x->chk; }
const char *cc_xrun_check_explain(const struct cc_xrun *x) { return x->chk.explain; }
const char *cc_xrun_check_witness(const struct cc_xrun *x) { return x->chk.witness; }

int xrun_set_scripts(struct cc_sim *sim, const struct cc_recipe *r, struct cc_err *err)
{
    unsigned n = cc_sim_vm_count(sim);
    struct cc_choice_override *buf = r->n_ov ? malloc(r->n_ov * sizeof(*buf)) : NULL;
    if (r->n_ov && !buf)
        return cc_err_set(err, ENOMEM, "out of memory");
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        struct cc_sim_vm_status st;
        cc_sim_vm_status(sim, i, &st);
        size_t k = 0;
        for (size_t j = 0; j < r->n_ov; j++)
            if (r->ov[j].vm == i && r->ov[j].life == st.restarts)
                buf[k++] = (struct cc_choice_override){r->ov[j].index, r->ov[j].value};
        struct cc_choice_script s = {.overrides = buf, .n_overrides = k};
        rc = cc_vm_sdk_set_script(cc_sim_vm(sim, i), k ? &s : NULL, err);
    }
    free(buf);
    return rc;
}

static void copy_str(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

void xrun_read_failure(struct cc_sim *sim, int vm, uint64_t sim_ns, struct cc_xfailure *f)
{
    memset(f, 0, sizeof(*f));
    if (vm < 0)
        return;
    const struct cc_sdk_failure *sf = cc_vm_sdk_failure(cc_sim_vm(sim, (unsigned)vm));
    if (!sf)
        return;
    f->failed = true;
    f->vm = (unsigned)vm;
    f->id = sf->a.id;
    f->kind = sf->a.kind;
    f->line = sf->a.line;
    copy_str(f->message, sizeof(f->message), sf->a.message);
    copy_str(f->file, sizeof(f->file), sf->a.file);
    copy_str(f->function, sizeof(f->function), sf->a.function);
    copy_str(f->details, sizeof(f->details), sf->details);
    f->sim_ns = sim_ns;
    f->vm_ns = sf->vtime;
    f->exit = sf->exit;
}

int xrun_play(struct cc_xrun *x, const struct cc_recipe *r, const struct xrun_hooks *h,
              struct cc_xrun_result *res, struct cc_err *err)
{
    memset(res, 0, sizeof(*res));
    struct cc_sim *sim = x->sim;
    int rc = cc_sim_set_schedule(sim, r->sched, err);
    if (rc < 0)
        return rc;
    uint64_t *segs;
    long n = cc_recipe_segments(r, cc_sim_now(sim), &segs);
    if (n < 0)
        return cc_err_set(err, ENOMEM, "out of memory");
    for (long i = 0; i < n; i++) {
        rc = xrun_set_scripts(sim, r, err);
        if (rc < 0)
            break;
        if (h && h->before)
            h->before(h->opaque, sim, segs[i]);
        struct cc_sim_limits lim = {.until_ns = segs[i]};
        if (h && h->boundary) {
            lim.on_boundary = h->boundary;
            lim.opaque = h->opaque;
        }
        if (h && h->stop) {
            lim.stop_vm = h->stop->vm;
            lim.stop_exit = h->stop->exit;
            lim.stop_after_ns = h->stop->at_ns;
        }
        struct cc_sim_result sr;
        rc = cc_sim_run(sim, &lim, &sr, err);
        if (rc < 0)
            break;
        if (h && h->after)
            h->after(h->opaque, sim);
        if (sr.stop == CC_SIM_STOP_ABORTED) {
            res->aborted = true;
            break;
        }
        if (sr.stop == CC_SIM_STOP_FAILURE) {
            xrun_read_failure(sim, sr.vm, sr.vtime, &res->fail);
            break;
        }
        if (sr.stop == CC_SIM_STOP_ALL_DOWN) {
            res->all_down = true;
            break;
        }
        if (sr.stop == CC_SIM_STOP_EXIT ||
            (h && h->stop && h->stop->at_ns && sr.vtime >= h->stop->at_ns)) {
            res->stopped = true;
            break;
        }
    }
    free(segs);
    res->end_ns = cc_sim_now(sim);
    res->sim_hash = cc_sim_hash(sim);
    for (unsigned i = 0; i < cc_sim_vm_count(sim); i++) {
        size_t nc;
        const struct cc_choice *c = cc_vm_choices(cc_sim_vm(sim, i), &nc);
        res->choices[i] = nc ? c[nc - 1].index + 1 : 0;
    }
    if (rc == 0 && !res->stopped && !res->aborted)
        xcheck_run(x->checker, sim, res, &x->chk);
    return rc;
}

int xrun_play_dlog(struct cc_xrun *x, const struct cc_recipe *r, struct cc_dlog *d,
                   struct cc_xrun_result *res, struct cc_err *err)
{
    struct cc_sim *sim = x->sim;
    cc_sim_set_dlog(sim, d);
    int rc = xrun_play(x, r, NULL, res, err);
    for (unsigned i = 0; i < cc_sim_vm_count(sim); i++)
        cc_vm_dlog_end(cc_sim_vm(sim, i));
    cc_sim_set_dlog(sim, NULL);
    return rc;
}

int cc_xrun_replay(struct cc_xrun *x, const struct cc_recipe *r, struct cc_xrun_result *res,
                   struct cc_err *err)
{
    int rc = cc_sim_restore(x->sim, x->root, err);
    if (rc < 0)
        return rc;
    return xrun_play(x, r, NULL, res, err);
}

int cc_xrun_play(struct cc_xrun *x, const struct cc_recipe *r,
                 void (*on_boundary)(void *opaque, struct cc_sim *sim), void *opaque,
                 struct cc_xrun_result *res, struct cc_err *err)
{
    struct xrun_hooks h = {.boundary = on_boundary, .opaque = opaque};
    return xrun_play(x, r, &h, res, err);
}

struct cc_sim_snapshot *cc_xrun_root(struct cc_xrun *x) { return x->root; }

int cc_xrun_replay_to(struct cc_xrun *x, const struct cc_recipe *r, const struct cc_xstop *stop,
                      struct cc_xrun_result *res, struct cc_err *err)
{
    unsigned n = cc_sim_vm_count(x->sim);
    if (stop->exit && stop->vm >= n)
        return cc_err_set(err, EINVAL, "vm %u does not exist (the simulation has %u VMs)",
                          stop->vm, n);
    int rc = cc_sim_restore(x->sim, x->root, err);
    if (rc < 0)
        return rc;
    if (stop->exit) {
        uint64_t at = cc_vm_exit_count(cc_sim_vm(x->sim, stop->vm));
        if (at >= stop->exit)
            return cc_err_set(err, ERANGE, "vm %u made exit %" PRIu64 " before setup completed "
                              "(at setup it was at exit %" PRIu64 "): a replay can stop only "
                              "after setup", stop->vm, stop->exit, at);
    }
    if (stop->at_ns && stop->at_ns <= cc_sim_now(x->sim))
        return cc_err_set(err, ERANGE, "time %.9f s is before setup completed (%.9f s): a "
                          "replay can stop only after setup", stop->at_ns / 1e9,
                          cc_sim_now(x->sim) / 1e9);
    struct xrun_hooks h = {.stop = stop};
    return xrun_play(x, r, &h, res, err);
}

/* ---- failures as JSON ---- */

json_t *xfailure_to_json(const struct cc_xfailure *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "vm", json_integer(f->vm));
    json_object_set_new(o, "assertion_id", xj_hex(f->id));
    json_object_set_new(o, "kind", json_string(cc_kind_name(f->kind)));
    json_object_set_new(o, "message", json_string(f->message));
    json_object_set_new(o, "file", json_string(f->file));
    json_object_set_new(o, "line", json_integer(f->line));
    json_object_set_new(o, "function", json_string(f->function));
    json_object_set_new(o, "details", json_string(f->details));
    json_object_set_new(o, "sim_vtime_ns", xj_u64(f->sim_ns));
    json_object_set_new(o, "vm_vtime_ns", xj_u64(f->vm_ns));
    json_object_set_new(o, "vm_exit", xj_u64(f->exit));
    return o;
}

static uint32_t kind_from_name(const char *s)
{
    for (uint32_t k = CC_ASSERT_ALWAYS; k <= CC_ASSERT_UNREACHABLE; k++)
        if (!strcmp(cc_kind_name(k), s))
            return k;
    return 0;
}

int xfailure_from_json(const json_t *j, const char *src, const char *path, struct cc_xfailure *f,
                       struct cc_err *err)
{
    memset(f, 0, sizeof(*f));
    if (!json_is_object(j))
        return cc_err_set(err, EINVAL, "%s: %s: missing or not an object", src, path);
    uint64_t vm, line;
    struct {
        const char *key;
        char *dst;
        size_t cap;
        bool required;
    } strs[] = {
        {"message", f->message, sizeof(f->message), true},
        {"file", f->file, sizeof(f->file), true},
        {"function", f->function, sizeof(f->function), false},
        {"details", f->details, sizeof(f->details), false},
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        json_t *v = json_object_get(j, strs[i].key);
        if (!v && !strs[i].required)
            continue;
        if (!json_is_string(v))
            return cc_err_set(err, EINVAL, "%s: %s.%s: %s", src, path, strs[i].key,
                              v ? "not a string" : "missing");
        copy_str(strs[i].dst, strs[i].cap, json_string_value(v));
    }
    json_t *k = json_object_get(j, "kind");
    if (!json_is_string(k) || !(f->kind = kind_from_name(json_string_value(k))))
        return cc_err_set(err, EINVAL, "%s: %s.kind: %s", src, path,
                          k ? "not an assertion kind (ALWAYS, SOMETIMES, ...)" : "missing");
    struct {
        const char *key;
        uint64_t *dst;
    } nums[] = {
        {"vm", &vm}, {"line", &line}, {"sim_vtime_ns", &f->sim_ns},
        {"vm_vtime_ns", &f->vm_ns}, {"vm_exit", &f->exit},
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        json_t *v = json_object_get(j, nums[i].key);
        if (xj_get_u64(v, nums[i].dst) < 0)
            return cc_err_set(err, EINVAL, "%s: %s.%s: %s", src, path, nums[i].key,
                              v ? "not a non-negative integer" : "missing");
    }
    if (vm >= CC_SIM_MAX_VMS)
        return cc_err_set(err, EINVAL, "%s: %s.vm: %" PRIu64 " is out of range", src, path, vm);
    f->vm = (unsigned)vm;
    f->line = (uint32_t)line;
    json_t *id = json_object_get(j, "assertion_id");
    if (xj_get_hex(id, &f->id) < 0)
        return cc_err_set(err, EINVAL, "%s: %s.assertion_id: %s", src, path,
                          id ? "not a hex string" : "missing");
    f->failed = true;
    return 0;
}
