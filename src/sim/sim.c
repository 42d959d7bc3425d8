/* Multi-VM simulations: configuration, clocks, the run log, VMs, setup
 * points and the lockstep run loop (see chaoscontrol/sim.h). Faults are
 * applied in sim_fault.c, snapshots live in sim_snap.c, observations and
 * the JSON report in sim_report.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chaoscontrol/dlog.h"
#include "sim/sim_internal.h"
#include "util/cjson.h"

/* ---- configuration ---- */

void cc_sim_config_default(struct cc_sim_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->n_vms = 3;
    cfg->quantum_ns = 100000;
    cc_link_params_default(&cfg->link);
    cfg->stop_on_failure = true;
    cfg->mem_size = 256ull << 20;
    cfg->rng = true;
    cfg->balloon = true;
    cc_cpu_model_default(&cfg->cpu);
    for (unsigned i = 0; i < CC_SIM_MAX_VMS; i++)
        cfg->serial_fd[i] = -1;
}

const char *cc_sim_stop_name(enum cc_sim_stop s)
{
    switch (s) {
    case CC_SIM_STOP_NONE: return "none";
    case CC_SIM_STOP_VTIME: return "vtime-limit";
    case CC_SIM_STOP_SETUP: return "setup-complete";
    case CC_SIM_STOP_FAILURE: return "assertion-failed";
    case CC_SIM_STOP_ALL_DOWN: return "all-down";
    case CC_SIM_STOP_REQUESTED: return "requested";
    case CC_SIM_STOP_EXIT: return "exit-reached";
    case CC_SIM_STOP_ABORTED: return "aborted";
    }
    return "?";
}

const char *cc_sim_vm_state_name(enum cc_sim_vm_state s)
{
    switch (s) {
    case CC_SIM_VM_RUNNING: return "running";
    case CC_SIM_VM_PAUSED: return "paused";
    case CC_SIM_VM_KILLED: return "killed";
    case CC_SIM_VM_EXITED: return "exited";
    }
    return "?";
}

const char *cc_sim_log_kind_name(uint32_t kind)
{
    switch (kind) {
    case CC_SIM_LOG_FAULT: return "fault";
    case CC_SIM_LOG_FAULT_END: return "fault-end";
    case CC_SIM_LOG_SKIPPED: return "skipped";
    case CC_SIM_LOG_SETUP: return "setup";
    case CC_SIM_LOG_EXIT: return "exit";
    case CC_SIM_LOG_FAILURE: return "failure";
    }
    return "?";
}

/* splitmix64 of (seed, i): VM i's seed. */
uint64_t sim_vm_seed(uint64_t seed, unsigned i)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ull * (i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- clocks ---- */

uint64_t sim_to_local(const struct sim_vm *v, uint64_t g)
{
    if (g <= v->st.anchor_g)
        return v->st.anchor_l;
    unsigned __int128 d = (unsigned __int128)(g - v->st.anchor_g) *
                          (uint64_t)(1000000 + v->st.skew_ppm) / 1000000u;
    return v->st.anchor_l + (uint64_t)d;
}

uint64_t sim_to_global(const struct sim_vm *v, uint64_t l)
{
    if (l <= v->st.anchor_l)
        return v->st.anchor_g;
    unsigned __int128 d = (unsigned __int128)(l - v->st.anchor_l) * 1000000u /
                          (uint64_t)(1000000 + v->st.skew_ppm);
    return v->st.anchor_g + (uint64_t)d;
}

void sim_reanchor(struct sim_vm *v, uint64_t g)
{
    v->st.anchor_l = sim_to_local(v, g);
    v->st.anchor_g = g;
}

/* ---- the run log ---- */

void sim_log(struct cc_sim *sim, uint32_t kind, int vm, int64_t fault, enum cc_fault_type type,
             const char *fmt, ...)
{
    if (sim->nlog == sim->caplog) {
        size_t cap = sim->caplog ? sim->caplog * 2 : 64;
        struct cc_sim_log_entry *n = realloc(sim->log, cap * sizeof(*n));
        if (!n)
            return;
        sim->log = n;
        sim->caplog = cap;
    }
    struct cc_sim_log_entry *e = &sim->log[sim->nlog++];
    memset(e, 0, sizeof(*e));
    e->vtime = sim->now;
    e->kind = kind;
    e->vm = vm;
    e->fault = fault;
    e->type = type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof(e->text), fmt, ap);
    va_end(ap);
    if (sim->cfg.dlog) {
        struct cc_dlog_rec r = {
            .type = CC_DLOG_SIM, .vm = vm < 0 ? CC_DLOG_NO_VM : (uint32_t)vm, .vtime = e->vtime,
            .kind = kind, .value = fault, .size = (uint32_t)type,
        };
        memcpy(r.text, e->text, sizeof(r.text));
        cc_dlog_add(sim->cfg.dlog, &r);
    }
}

const struct cc_sim_log_entry *cc_sim_log(const struct cc_sim *sim, size_t *n)
{
    *n = sim->nlog;
    return sim->log;
}

void cc_sim_log_format(const struct cc_sim_log_entry *e, char *buf, size_t len)
{
    char what[32];
    if (e->fault >= 0)
        snprintf(what, sizeof(what), "fault #%" PRId64, e->fault);
    else
        snprintf(what, sizeof(what), "%s", cc_sim_log_kind_name(e->kind));
    snprintf(buf, len, "%5" PRIu64 ".%09" PRIu64 " s  %-10s %s%s", e->vtime / 1000000000u,
             e->vtime % 1000000000u, what,
             e->kind == CC_SIM_LOG_FAULT_END ? "end: " :
             e->kind == CC_SIM_LOG_SKIPPED ? "skipped: " : "", e->text);
}

/* ---- events ---- */

int sim_push_event(struct cc_sim *sim, const struct sim_event *e)
{
    if (sim->nev == sim->capev) {
        size_t cap = sim->capev ? sim->capev * 2 : 16;
        struct sim_event *n = realloc(sim->ev, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        sim->ev = n;
        sim->capev = cap;
    }
    sim->ev[sim->nev] = *e;
    sim->ev[sim->nev].seq = sim->ev_seq++;
    sim->nev++;
    return 0;
}

/* Index of the earliest event, or -1. */
static long next_event(const struct cc_sim *sim)
{
    long best = -1;
    for (size_t i = 0; i < sim->nev; i++) {
        const struct sim_event *e = &sim->ev[i];
        if (best < 0 || e->at < sim->ev[best].at ||
            (e->at == sim->ev[best].at && e->seq < sim->ev[best].seq))
            best = (long)i;
    }
    return best;
}

/* ---- VMs ---- */

void sim_rp_get(struct sim_restart_point *rp)
{
    if (rp)
        rp->refs++;
}

void sim_rp_put(struct sim_restart_point *rp)
{
    if (!rp || --rp->refs > 0)
        return;
    cc_snapshot_put(rp->snap);
    free(rp);
}

#define SIM_HISTORY_MAX (64u << 20)

/* One operation of the history (an SDK event chaoscontrol.history): its
 * details object, with "time" (global virtual ns, when the guest gave
 * none) and "vm" added, as one JSON line. Lines that are not a JSON object
 * are kept as {"vm":..,"time":..,"error":"..."} so the checker can name
 * them. */
static void add_history(struct sim_vm *v, const struct cc_sdk_event *ev)
{
    struct cc_sim *sim = v->sim;
    json_error_t je;
    json_t *o = json_loads(ev->details ? ev->details : "", JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
        json_object_set_new(o, "error", json_string("the event's details are not a JSON object"));
    }
    /* not clamped to the quantum's start: a VM that is behind (stopped at
     * its setup exit) must keep its own operations' order and gaps */
    uint64_t g = sim_to_global(v, ev->vtime);
    if (!json_object_get(o, "time"))
        json_object_set_new(o, "time", cj_u64(g));
    json_object_set_new(o, "vm", json_integer(v->index));
    /* processes of different VMs are different clients: the VM's index
     * times 10,000,000 plus the guest's number (its pid when it gave none) */
    json_t *pj = json_object_get(o, "process");
    uint64_t proc = ev->pid;
    if (pj && cj_get_u64(pj, &proc) < 0)
        proc = ev->pid;
    json_object_set_new(o, "process", cj_u64((uint64_t)v->index * 10000000u + proc % 10000000u));
    char *line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!line || sim->hist.len + strlen(line) + 1 > SIM_HISTORY_MAX) {
        sim->hist_dropped++;
    } else {
        buf_put(&sim->hist, line, strlen(line));
        buf_put_u8(&sim->hist, '\n');
        sim->hist_ops++;
    }
    free(line);
}

static void sdk_hook(void *opaque, struct cc_vm *vm, const struct cc_sdk_event *ev)
{
    struct sim_vm *v = opaque;
    struct cc_sim *sim = v->sim;
    (void)vm;
    if (ev->kind == CC_SDK_EV_EVENT && ev->name && !strcmp(ev->name, "chaoscontrol.history"))
        add_history(v, ev);
    if (ev->kind == CC_SDK_EV_EVENT && ev->name && !strcmp(ev->name, "chaoscontrol.quiesce")) {
        uint64_t save = sim->now;
        sim->now = sim_to_global(v, ev->vtime);
        if (sim->now < sim->q_start)
            sim->now = sim->q_start;
        sim_quiesce(sim, v->index);
        sim->now = save;
    }
    if (ev->kind == CC_SDK_EV_FAILURE) {
        if (!v->st.failed)
            v->st.failed = true;
        if (sim->failed_vm < 0)
            sim->failed_vm = (int)v->index;
        uint64_t save = sim->now;
        sim->now = sim_to_global(v, ev->vtime);
        sim_log(sim, CC_SIM_LOG_FAILURE, (int)v->index, -1, 0, "vm %u: assertion failed: %s",
                v->index, ev->name);
        sim->now = save;
    }
    if (sim->cfg.sdk_hook)
        sim->cfg.sdk_hook(sim->cfg.sdk_hook_opaque, sim, v->index, ev);
}

void sim_set_sdk_options(struct sim_vm *v)
{
    struct cc_sdk_options o;
    cc_vm_sdk_get_options(v->vm, &o);
    o.stop_on_failure = v->sim->cfg.stop_on_failure;
    o.stop_on_setup = !v->st.setup_done;
    o.hook = sdk_hook;
    o.hook_opaque = v;
    cc_vm_sdk_set_options(v->vm, &o);
}

/* A frame the VM's NIC transmitted: into the network at the global time
 * that corresponds to the VM's clock. */
static void on_tx(void *opaque, const uint8_t *frame, size_t len)
{
    struct sim_vm *v = opaque;
    struct cc_sim *sim = v->sim;
    if (!sim->net)
        return;
    uint64_t g = sim_to_global(v, cc_vm_vtime_ns(v->vm));
    if (g < sim->q_start)
        g = sim->q_start;
    fabric_send(sim->net, v->index, g, frame, len);
}

static int on_rx(void *opaque, unsigned dst, const uint8_t *frame, size_t len)
{
    struct cc_sim *sim = opaque;
    struct sim_vm *v = sim->v[dst];
    if (!v->net)
        return -ENODEV;
    return cc_virtio_net_inject(v->net, frame, len);
}

void sim_vm_log(void *opaque, const char *msg)
{
    struct sim_logctx *c = opaque;
    char line[1200];
    snprintf(line, sizeof(line), "vm %u: %s", c->index, msg);
    if (c->sim->cfg.log)
        c->sim->cfg.log(c->sim->cfg.log_opaque, line);
    else
        fprintf(stderr, "chaoscontrol: %s\n", line);
}

static int sim_alloc(const struct cc_sim_config *cfg, struct cc_sim **out, struct cc_err *err)
{
    struct cc_sim *sim = calloc(1, sizeof(*sim));
    if (!sim)
        return cc_err_set(err, ENOMEM, "out of memory");
    sim->cfg = *cfg;
    sim->cfg.kernel = sim->cfg.initrd = sim->cfg.cmdline = sim->cfg.append = NULL;
    sim->cfg.disk_image = NULL;
    sim->cfg.setup_marker = NULL;
    if (!sim->cfg.quantum_ns)
        sim->cfg.quantum_ns = 100000;
    if (cfg->setup_marker && *cfg->setup_marker &&
        !(sim->cfg.setup_marker = strdup(cfg->setup_marker))) {
        free(sim);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    sim->seed = cfg->seed;
    sim->failed_vm = -1;
    sim->sched = cc_schedule_new();
    sim->retired = cc_oracle_new();
    if (!sim->sched || !sim->retired) {
        cc_sim_destroy(sim);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    *out = sim;
    return 0;
}

int cc_sim_new(const struct cc_sim_config *cfg, struct cc_sim **out, struct cc_err *err)
{
    *out = NULL;
    return sim_alloc(cfg, out, err);
}

int cc_sim_add_vm(struct cc_sim *sim, struct cc_vm *vm, struct cc_err *err)
{
    if (sim->started)
        return cc_err_set(err, EBUSY, "VMs must be added before the simulation first runs");
    if (sim->n == CC_SIM_MAX_VMS)
        return cc_err_set(err, ENOSPC, "a simulation has at most %u VMs", CC_SIM_MAX_VMS);
    struct sim_vm *v = calloc(1, sizeof(*v));
    if (!v)
        return cc_err_set(err, ENOMEM, "out of memory");
    v->sim = sim;
    v->index = sim->n;
    v->vm = vm;
    v->net = cc_vm_virtio_net(vm, 0);
    v->blk = cc_vm_virtio_blk(vm, 0);
    v->balloon = cc_vm_virtio_balloon(vm, 0);
    v->st.anchor_g = sim->now;
    v->st.anchor_l = cc_vm_vtime_ns(vm);
    if (v->net)
        cc_virtio_net_set_endpoint(v->net, on_tx, v);
    sim->v[sim->n++] = v;
    if (sim->cfg.dlog)
        cc_vm_set_dlog(vm, sim->cfg.dlog, v->index);
    sim_set_sdk_options(v);
    return (int)v->index;
}

/* The per-VM kernel command-line addition: "cc_vm_id=i cc_vms=N" and cfg->append
 * with every "{id}" replaced. */
static int vm_append(const struct cc_sim_config *cfg, unsigned i, char *out, size_t len,
                     struct cc_err *err)
{
    size_t at = (size_t)snprintf(out, len, "cc_vm_id=%u cc_vms=%u", i, cfg->n_vms);
    const char *p = cfg->append;
    if (p && *p) {
        out[at++] = ' ';
        while (*p && at + 8 < len) {
            if (!strncmp(p, "{id}", 4)) {
                at += (size_t)snprintf(out + at, len - at, "%u", i);
                p += 4;
            } else {
                out[at++] = *p++;
            }
        }
        if (*p)
            return cc_err_set(err, E2BIG, "the kernel command line addition is too long");
        out[at] = 0;
    }
    return 0;
}

static int make_linux_vm(struct cc_sim *sim, const struct cc_sim_config *cfg, unsigned i,
                         struct cc_err *err)
{
    char extra[2048];
    int rc = vm_append(cfg, i, extra, sizeof(extra), err);
    if (rc < 0)
        return rc;
    struct cc_vm_config vc;
    cc_vm_config_default(&vc);
    if (cfg->mem_size)
        vc.mem_size = cfg->mem_size;
    vc.vcpus = cfg->vcpus;
    vc.vcpu_sched = cfg->vcpu_sched;
    vc.vcpu_quantum = cfg->vcpu_quantum;
    cc_cpu_model_apply(&vc, &cfg->cpu);
    vc.seed = sim_vm_seed(cfg->seed, i);
    vc.cmdline_extra = extra;
    vc.serial_fd = cfg->serial_fd[i];
    vc.trace_keep = cfg->trace_keep;
    vc.watchdog_s = cfg->watchdog_s;
    sim->logctx[i] = (struct sim_logctx){sim, i};
    vc.log = sim_vm_log;
    vc.log_opaque = &sim->logctx[i];
    struct cc_vm *vm;
    rc = cc_vm_create(&vc, &vm, err);
    if (rc < 0)
        return cc_err_prefix(err, "vm %u", i);
    uint8_t mac[6] = {0x52, 0x54, 0x00, 0x00, 0x00, (uint8_t)(i + 1)};
    rc = cc_vm_add_virtio_net(vm, mac, NULL, err);
    if (rc == 0 && (cfg->disk_size || cfg->disk_image)) {
        struct cc_blk_config bc = {.size = cfg->disk_size, .image_path = cfg->disk_image};
        rc = cc_vm_add_virtio_blk(vm, &bc, NULL, err);
    }
    if (rc == 0 && cfg->rng)
        rc = cc_vm_add_virtio_rng(vm, NULL, err);
    if (rc == 0 && cfg->balloon)
        rc = cc_vm_add_virtio_balloon(vm, NULL, err);
    if (rc == 0)
        rc = cc_vm_load_linux(vm, cfg->kernel, cfg->initrd, cfg->cmdline, err);
    if (rc == 0)
        rc = cc_sim_add_vm(sim, vm, err);
    if (rc < 0) {
        cc_vm_destroy(vm);
        return cc_err_prefix(err, "vm %u", i);
    }
    return 0;
}

int cc_sim_create(const struct cc_sim_config *cfg, struct cc_sim **out, struct cc_err *err)
{
    *out = NULL;
    if (cfg->n_vms < 1 || cfg->n_vms > CC_SIM_MAX_VMS)
        return cc_err_set(err, EINVAL, "a simulation needs 1 to %u VMs, not %u", CC_SIM_MAX_VMS,
                          cfg->n_vms);
    if (!cfg->kernel)
        return cc_err_set(err, EINVAL, "no kernel given");
    struct cc_sim *sim;
    int rc = sim_alloc(cfg, &sim, err);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < cfg->n_vms && rc == 0; i++)
        rc = make_linux_vm(sim, cfg, i, err);
    if (rc == 0)
        rc = sim_start(sim, err);
    if (rc < 0) {
        cc_sim_destroy(sim);
        return rc;
    }
    *out = sim;
    return 0;
}

void cc_sim_destroy(struct cc_sim *sim)
{
    if (!sim)
        return;
    for (unsigned i = 0; i < sim->n; i++) {
        struct sim_vm *v = sim->v[i];
        if (v->net)
            cc_virtio_net_set_endpoint(v->net, NULL, NULL);
        cc_vm_destroy(v->vm);
        sim_rp_put(v->rp);
        free(v);
    }
    fabric_free(sim->net);
    cc_schedule_free(sim->sched);
    cc_oracle_free(sim->retired);
    buf_free(&sim->hist);
    free(sim->ev);
    free(sim->log);
    free((char *)sim->cfg.setup_marker);
    free(sim);
}

/* The network exists once the set of VMs is known. */
int sim_start(struct cc_sim *sim, struct cc_err *err)
{
    if (sim->started)
        return 0;
    if (!sim->n)
        return cc_err_set(err, EINVAL, "the simulation has no VMs");
    int rc = fabric_new(sim->n, sim->seed, &sim->cfg.link, &sim->net, err);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < sim->n; i++) {
        struct sim_vm *v = sim->v[i];
        if (v->net) {
            uint8_t mac[6];
            cc_virtio_net_mac(v->net, mac);
            fabric_set_mac(sim->net, i, mac);
        }
    }
    sim->started = true;
    return 0;
}

/* ---- setup ---- */

static int take_setup(struct sim_vm *v, struct cc_err *err)
{
    struct cc_sim *sim = v->sim;
    struct sim_restart_point *rp = calloc(1, sizeof(*rp));
    if (!rp)
        return cc_err_set(err, ENOMEM, "out of memory");
    rp->refs = 1;
    int rc = cc_vm_snapshot(v->vm, &rp->snap, err);
    if (rc < 0) {
        sim_rp_put(rp);
        return cc_err_prefix(err, "vm %u: snapshot at setup", v->index);
    }
    sim_rp_put(v->rp);
    v->rp = rp;
    v->st.setup_done = true;
    v->st.setup_at = sim_to_global(v, cc_vm_vtime_ns(v->vm));
    if (v->st.setup_at < sim->q_start)
        v->st.setup_at = sim->q_start;
    sim_set_sdk_options(v);
    uint64_t save = sim->now;
    sim->now = v->st.setup_at;
    sim_log(sim, CC_SIM_LOG_SETUP, (int)v->index, -1, 0, "vm %u completed setup", v->index);
    sim->now = save;
    return 0;
}

static bool marker_seen(struct sim_vm *v)
{
    const char *m = v->sim->cfg.setup_marker;
    if (!m)
        return false;
    size_t len, ml = strlen(m);
    const uint8_t *s = cc_vm_serial(v->vm, &len);
    size_t from = v->st.marker_pos > ml ? (size_t)v->st.marker_pos - ml + 1 : 0;
    v->st.marker_pos = len;
    if (!s || len < ml)
        return false;
    for (size_t i = from; i + ml <= len; i++)
        if (s[i] == (uint8_t)m[0] && !memcmp(s + i, m, ml))
            return true;
    return false;
}

/* ---- the run loop ---- */

static void vm_exited(struct sim_vm *v, enum cc_stop why)
{
    struct cc_sim *sim = v->sim;
    v->st.state = CC_SIM_VM_EXITED;
    v->st.exit_reason = why;
    fabric_set_port_up(sim->net, v->index, false);
    uint64_t save = sim->now;
    sim->now = sim_to_global(v, cc_vm_vtime_ns(v->vm));
    if (sim->now < sim->q_start)
        sim->now = sim->q_start;
    sim_log(sim, CC_SIM_LOG_EXIT, (int)v->index, -1, 0, "vm %u stopped: %s", v->index,
            cc_stop_name(why));
    sim->now = save;
}

/* Run one VM up to global time `next`. */
static bool all_setup(const struct cc_sim *sim);

/* The exit budget of v's next cc_vm_run under a stop_exit limit (0: none);
 * true when v is at the stop exit now (then it is parked). */
static bool exit_stop(struct sim_vm *v, uint64_t *budget)
{
    struct cc_sim *sim = v->sim;
    *budget = 0;
    if (!sim->stop_exit || v->index != sim->stop_vm)
        return false;
    uint64_t n = cc_vm_exit_count(v->vm);
    if (n == sim->stop_exit) {
        sim->exit_reached = true;
        v->parked = true;
        return true;
    }
    if (n < sim->stop_exit)
        *budget = sim->stop_exit - n;
    return false;
}

static int run_vm(struct sim_vm *v, uint64_t next, struct cc_err *err)
{
    uint64_t lim = sim_to_local(v, next);
    if (v->parked)
        return 0;
    while (v->st.state == CC_SIM_VM_RUNNING && cc_vm_vtime_ns(v->vm) < lim) {
        struct cc_run_limits rl = {.until_vtime_ns = lim};
        if (exit_stop(v, &rl.max_exits))
            return 0;
        struct cc_run_result rr;
        int rc = cc_vm_run(v->vm, &rl, &rr, err);
        if (rc < 0)
            return cc_err_prefix(err, "vm %u", v->index);
        if (rr.stop == CC_STOP_DEBUG || v->sim->aborting) {
            v->sim->aborting = true;
            return 0;
        }
        switch (rr.stop) {
        case CC_STOP_SETUP_COMPLETE:
            if (!v->st.setup_done) {
                rc = take_setup(v, err);
                if (rc < 0)
                    return rc;
                if (v->sim->park_setup && all_setup(v->sim)) {
                    /* the last VM to set up: not one instruction past its
                     * exit, and the run stops in this quantum */
                    v->parked = true;
                    return 0;
                }
            }
            continue;
        case CC_STOP_ASSERTION:
            if (v->sim->cfg.stop_on_failure)
                return 0;       /* this VM waits; the simulation stops at the boundary */
            continue;
        case CC_STOP_POWEROFF:
        case CC_STOP_HALTED:
        case CC_STOP_RESET:
        case CC_STOP_TRIPLE_FAULT:
        case CC_STOP_ERROR:
            vm_exited(v, rr.stop);
            return 0;
        case CC_STOP_IDLE:
            return 0;           /* not with a limit; do not spin */
        default:
            continue;           /* VTIME ends the loop; requested stops and
                                   exit budgets (exit_stop) go on */
        }
    }
    uint64_t budget;
    if (v->st.state == CC_SIM_VM_RUNNING && exit_stop(v, &budget))
        return 0;
    if (v->st.state == CC_SIM_VM_RUNNING && !v->st.setup_done &&
        (marker_seen(v) || (v->sim->cfg.setup_after_ns && next >= v->sim->cfg.setup_after_ns)))
        return take_setup(v, err);
    return 0;
}

static bool all_setup(const struct cc_sim *sim)
{
    for (unsigned i = 0; i < sim->n; i++) {
        const struct sim_vm *v = sim->v[i];
        if (!v->st.setup_done && (v->st.state == CC_SIM_VM_RUNNING ||
                                  v->st.state == CC_SIM_VM_PAUSED))
            return false;
    }
    return true;
}

static bool any_alive(const struct cc_sim *sim)
{
    for (unsigned i = 0; i < sim->n; i++)
        if (sim->v[i]->st.state == CC_SIM_VM_RUNNING || sim->v[i]->st.state == CC_SIM_VM_PAUSED)
            return true;
    return false;
}

/* Apply every fault and engine event due at sim->now, in time order;
 * at equal times the engine's events (ends of earlier faults) first. */
static int apply_due(struct cc_sim *sim, struct cc_err *err)
{
    for (;;) {
        const struct cc_fault *f = cc_schedule_get(sim->sched, sim->pos);
        long e = next_event(sim);
        uint64_t tf = f ? f->at_ns : UINT64_MAX;
        uint64_t te = e >= 0 ? sim->ev[e].at : UINT64_MAX;
        if (tf > sim->now && te > sim->now)
            return 0;
        int rc;
        if (te <= tf) {
            struct sim_event ev = sim->ev[e];
            sim->ev[e] = sim->ev[--sim->nev];
            rc = sim_apply_event(sim, &ev, err);
        } else {
            sim->pos++;
            rc = sim_apply_fault(sim, f, (int64_t)sim->pos - 1, err);
        }
        if (rc < 0)
            return rc;
    }
}

/* The end of the next quantum before faults, frames and limits: one
 * quantum ahead, or further when every running VM is halted with nothing
 * to do before a later timer deadline (nothing can happen in between: a VM
 * only wakes by its timer or by an interrupt, and interrupts only come from
 * the engine at boundaries). A pure function of the state, so runs stay
 * deterministic. */
static uint64_t next_boundary(struct cc_sim *sim)
{
    uint64_t q = sim->now + sim->cfg.quantum_ns, wake = UINT64_MAX;
    for (unsigned i = 0; i < sim->n; i++) {
        struct sim_vm *v = sim->v[i];
        if (v->st.state != CC_SIM_VM_RUNNING || v->parked)
            continue;
        uint64_t w = cc_vm_wake_time(v->vm);
        if (w <= cc_vm_vtime_ns(v->vm))
            return q;               /* busy: one quantum */
        uint64_t g = w == UINT64_MAX ? UINT64_MAX : sim_to_global(v, w);
        if (g < wake)
            wake = g;
    }
    if (wake == UINT64_MAX)
        return UINT64_MAX;          /* all idle for good: the next fault, frame or limit */
    return wake > q ? wake : q;
}

/* The end of a run with until_setup: the VM parked at its setup exit, and
 * the VMs after it that did not run the last quantum, go on in the next
 * run (behind the global clock by at most a quantum; they catch up in
 * their next one). */
static void unpark(struct cc_sim *sim)
{
    sim->park_setup = false;
    for (unsigned i = 0; i < sim->n; i++)
        sim->v[i]->parked = false;
}

void cc_sim_abort(struct cc_sim *sim)
{
    sim->aborting = true;
}

void cc_sim_set_dlog(struct cc_sim *sim, struct cc_dlog *d)
{
    sim->cfg.dlog = d;
    for (unsigned i = 0; i < sim->n; i++)
        cc_vm_set_dlog(sim->v[i]->vm, d, sim->v[i]->index);
}

void cc_sim_request_stop(struct cc_sim *sim)
{
    sim->stop_requested = true;
}

static int run_loop(struct cc_sim *sim, const struct cc_sim_limits *lim,
                    struct cc_sim_result *res, struct cc_err *err)
{
    int rc;
    for (;;) {
        if (sim->failed_vm >= 0 && sim->cfg.stop_on_failure) {
            res->stop = CC_SIM_STOP_FAILURE;
            res->vm = sim->failed_vm;
            break;
        }
        if (sim->stop_requested) {
            res->stop = CC_SIM_STOP_REQUESTED;
            break;
        }
        if (sim->exit_reached) {
            res->stop = CC_SIM_STOP_EXIT;
            sim->now = sim->q_start;    /* the VMs after the stopped one did not run */
            break;
        }
        if ((lim->until_ns && sim->now >= lim->until_ns) ||
            (lim->stop_after_ns && sim->now >= lim->stop_after_ns)) {
            res->stop = CC_SIM_STOP_VTIME;
            break;
        }
        if (lim->until_setup && all_setup(sim)) {
            res->stop = CC_SIM_STOP_SETUP;
            break;
        }
        if (lim->on_boundary)
            lim->on_boundary(lim->opaque, sim);
        if (sim->aborting) {
            res->stop = CC_SIM_STOP_ABORTED;
            break;
        }
        rc = apply_due(sim, err);
        if (rc < 0)
            return rc;
        fabric_deliver(sim->net, sim->now, on_rx, sim);
        if (!any_alive(sim)) {
            res->stop = CC_SIM_STOP_ALL_DOWN;
            break;
        }

        uint64_t next = next_boundary(sim);
        const struct cc_fault *f = cc_schedule_get(sim->sched, sim->pos);
        if (f && f->at_ns < next)
            next = f->at_ns;
        long e = next_event(sim);
        if (e >= 0 && sim->ev[e].at < next)
            next = sim->ev[e].at;
        uint64_t arr = fabric_next_arrival(sim->net);
        if (arr < next)
            next = arr;
        uint64_t sa = sim->cfg.setup_after_ns;
        if (sa > sim->now && sa < next && !all_setup(sim))
            next = sa;
        if (lim->until_ns && lim->until_ns < next)
            next = lim->until_ns;
        if (next == UINT64_MAX)
            next = sim->now + sim->cfg.quantum_ns;  /* idle without a limit: go on slowly */
        if (next <= sim->now)
            next = sim->now + 1;    /* cannot happen: everything due was handled */

        sim->q_start = sim->now;
        for (unsigned i = 0; i < sim->n; i++) {
            rc = run_vm(sim->v[i], next, err);
            if (rc < 0)
                return rc;
            if (sim->aborting)
                break;
            if (sim->v[i]->parked)
                break;      /* setup complete or stop exit reached: the VMs after
                               it stay at q_start */
        }
        if (sim->aborting) {
            res->stop = CC_SIM_STOP_ABORTED;
            break;
        }
        sim->now = next;
        res->quanta++;
    }
    res->vtime = sim->now;
    return 0;
}

int cc_sim_run(struct cc_sim *sim, const struct cc_sim_limits *lim, struct cc_sim_result *res,
               struct cc_err *err)
{
    struct cc_sim_limits none = {0};
    if (!lim)
        lim = &none;
    memset(res, 0, sizeof(*res));
    res->vm = -1;
    int rc = sim_start(sim, err);
    if (rc < 0)
        return rc;
    sim->stop_requested = false;
    sim->aborting = false;
    sim->failed_vm = -1;
    /* A run to setup stops at the last VM's setup_complete exit (sim.h). */
    sim->park_setup = lim->until_setup;
    sim->stop_vm = lim->stop_vm;
    sim->stop_exit = lim->stop_exit;
    sim->exit_reached = false;
    rc = run_loop(sim, lim, res, err);
    sim->stop_exit = 0;
    unpark(sim);
    return rc;
}

/* ---- history ---- */

const char *cc_sim_history(const struct cc_sim *sim, size_t *len, uint64_t *dropped)
{
    *len = sim->hist.len;
    if (dropped)
        *dropped = sim->hist_dropped;
    return sim->hist.len ? (const char *)sim->hist.data : "";
}

bool cc_sim_quiesced(const struct cc_sim *sim)
{
    return sim->quiesced;
}

/* ---- schedule ---- */

int cc_sim_set_schedule(struct cc_sim *sim, const struct cc_schedule *s, struct cc_err *err)
{
    int rc = cc_schedule_validate(s, sim->n, err);
    if (rc < 0)
        return rc;
    struct cc_schedule *c = cc_schedule_clone(s);
    if (!c)
        return cc_err_set(err, ENOMEM, "out of memory");
    cc_schedule_free(sim->sched);
    sim->sched = c;
    sim->pos = cc_schedule_first_at(c, sim->now);
    return 0;
}

const struct cc_schedule *cc_sim_schedule(const struct cc_sim *sim)
{
    return sim->sched;
}

int cc_sim_apply_fault(struct cc_sim *sim, const struct cc_fault *f, struct cc_err *err)
{
    int rc = sim_start(sim, err);
    if (rc < 0)
        return rc;
    struct cc_err e = {0};
    if (cc_fault_validate(f, sim->n, &e) < 0)
        return cc_err_set(err, EINVAL, "fault: %s", e.msg);
    return sim_apply_fault(sim, f, -1, err);
}

int cc_sim_inject_fault(struct cc_sim *sim, const struct cc_fault *f, struct cc_err *err)
{
    struct cc_err e = {0};
    if (cc_fault_validate(f, sim->n, &e) < 0)
        return cc_err_set(err, EINVAL, "fault: %s", e.msg);
    if (f->at_ns < sim->now)
        return cc_err_set(err, EINVAL, "fault at %" PRIu64 " ns is before now (%" PRIu64 " ns)",
                          f->at_ns, sim->now);
    /* faults before pos were applied: f must land at or after it */
    if (cc_schedule_first_at(sim->sched, f->at_ns + 1) < sim->pos)
        return cc_err_set(err, EAGAIN, "faults at %" PRIu64 " ns were already applied", f->at_ns);
    int rc = cc_schedule_add(sim->sched, f, err);
    return rc < 0 ? rc : 0;
}
