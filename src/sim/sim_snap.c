/* Whole-simulation snapshots: every VM through the per-VM snapshot API
 * (copy-on-write memory, O(1) disk clones) plus the SDK state of each VM,
 * and the engine's own state, which is plain data copied as is. In memory
 * only (see chaoscontrol/sim.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sdk_host/oracle.h"
#include "sim/sim_internal.h"

struct snap_vm {
    struct cc_snapshot *snap;
    struct sim_vm_state st;
    struct sim_restart_point *rp;
};

struct cc_sim_snapshot {
    int refs;
    struct cc_sim_config cfg;   /* setup_marker owned */
    uint64_t seed, now;
    unsigned n;
    struct snap_vm *vm;
    struct cc_buf net;
    struct cc_schedule *sched;
    size_t pos;
    struct sim_event *ev;
    size_t nev;
    uint64_t ev_seq, disk_seq;
    struct cc_sim_log_entry *log;
    size_t nlog;
    struct cc_buf retired;
    struct cc_buf hist;
    uint64_t hist_ops, hist_dropped;
    bool quiesced;
};

void cc_sim_snapshot_get(struct cc_sim_snapshot *s)
{
    if (s)
        s->refs++;
}

uint64_t cc_sim_snapshot_bytes(const struct cc_sim_snapshot *s)
{
    uint64_t b = s->net.len + s->hist.len + s->retired.len;
    for (unsigned i = 0; s->vm && i < s->n; i++)
        if (s->vm[i].snap)
            b += cc_snapshot_bytes(s->vm[i].snap);
    return b;
}

void cc_sim_snapshot_put(struct cc_sim_snapshot *s)
{
    if (!s || --s->refs > 0)
        return;
    for (unsigned i = 0; s->vm && i < s->n; i++) {
        cc_snapshot_put(s->vm[i].snap);
        sim_rp_put(s->vm[i].rp);
    }
    free(s->vm);
    buf_free(&s->net);
    buf_free(&s->retired);
    buf_free(&s->hist);
    cc_schedule_free(s->sched);
    free(s->ev);
    free(s->log);
    free((char *)s->cfg.setup_marker);
    free(s);
}

int cc_sim_snapshot(struct cc_sim *sim, struct cc_sim_snapshot **out, struct cc_err *err)
{
    *out = NULL;
    int rc = sim_start(sim, err);
    if (rc < 0)
        return rc;
    struct cc_sim_snapshot *s = calloc(1, sizeof(*s));
    if (!s)
        return cc_err_set(err, ENOMEM, "out of memory");
    s->refs = 1;
    s->cfg = sim->cfg;
    s->cfg.setup_marker = NULL;
    s->cfg.dlog = NULL;
    s->seed = sim->seed;
    s->now = sim->now;
    s->n = sim->n;
    buf_init(&s->net);
    buf_init(&s->retired);
    buf_init(&s->hist);
    buf_put(&s->hist, sim->hist.data, sim->hist.len);
    s->hist_ops = sim->hist_ops;
    s->hist_dropped = sim->hist_dropped;
    s->quiesced = sim->quiesced;
    s->vm = calloc(sim->n, sizeof(*s->vm));
    if (!s->vm || (sim->cfg.setup_marker && !(s->cfg.setup_marker = strdup(sim->cfg.setup_marker))))
        goto oom;
    for (unsigned i = 0; i < sim->n; i++) {
        struct sim_vm *v = sim->v[i];
        struct snap_vm *sv = &s->vm[i];
        rc = cc_vm_snapshot(v->vm, &sv->snap, err);
        if (rc < 0) {
            cc_err_prefix(err, "vm %u", i);
            goto fail;
        }
        sv->st = v->st;
        sv->rp = v->rp;
        sim_rp_get(sv->rp);
    }
    fabric_save(sim->net, &s->net);
    oracle_save(sim->retired, &s->retired);
    s->sched = cc_schedule_clone(sim->sched);
    s->pos = sim->pos;
    if (!buf_ok(&s->net) || !buf_ok(&s->retired) || !buf_ok(&s->hist) || !s->sched)
        goto oom;
    if (sim->nev) {
        s->ev = malloc(sim->nev * sizeof(*s->ev));
        if (!s->ev)
            goto oom;
        memcpy(s->ev, sim->ev, sim->nev * sizeof(*s->ev));
    }
    s->nev = sim->nev;
    s->ev_seq = sim->ev_seq;
    s->disk_seq = sim->disk_seq;
    if (sim->nlog) {
        s->log = malloc(sim->nlog * sizeof(*s->log));
        if (!s->log)
            goto oom;
        memcpy(s->log, sim->log, sim->nlog * sizeof(*s->log));
    }
    s->nlog = sim->nlog;
    *out = s;
    return 0;
oom:
    rc = cc_err_set(err, ENOMEM, "out of memory taking a simulation snapshot");
fail:
    cc_sim_snapshot_put(s);
    return rc;
}

/* Everything but the VMs' own state (already in place, SDK state
 * included): engine state, network, schedule, events, log. */
static int load_engine(struct cc_sim *sim, const struct cc_sim_snapshot *s, struct cc_err *err)
{
    struct cc_rd rd;
    rd_init(&rd, s->net.data, s->net.len);
    int rc = fabric_load(sim->net, &rd, err);
    if (rc < 0)
        return rc;
    struct cc_oracle *o = cc_oracle_new();
    if (!o)
        return cc_err_set(err, ENOMEM, "out of memory");
    rd_init(&rd, s->retired.data, s->retired.len);
    rc = oracle_load(o, &rd, err);
    if (rc < 0) {
        cc_oracle_free(o);
        return rc;
    }
    struct cc_schedule *sched = cc_schedule_clone(s->sched);
    struct sim_event *ev = s->nev ? malloc(s->nev * sizeof(*ev)) : NULL;
    struct cc_sim_log_entry *log = s->nlog ? malloc(s->nlog * sizeof(*log)) : NULL;
    if (!sched || (s->nev && !ev) || (s->nlog && !log)) {
        cc_oracle_free(o);
        cc_schedule_free(sched);
        free(ev);
        free(log);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    if (s->nev)
        memcpy(ev, s->ev, s->nev * sizeof(*ev));
    if (s->nlog)
        memcpy(log, s->log, s->nlog * sizeof(*log));
    struct cc_buf hist;
    buf_init(&hist);
    buf_put(&hist, s->hist.data, s->hist.len);
    if (!buf_ok(&hist)) {
        cc_oracle_free(o);
        cc_schedule_free(sched);
        free(ev);
        free(log);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    buf_free(&sim->hist);
    sim->hist = hist;
    sim->hist_ops = s->hist_ops;
    sim->hist_dropped = s->hist_dropped;
    sim->quiesced = s->quiesced;
    cc_oracle_free(sim->retired);
    sim->retired = o;
    cc_schedule_free(sim->sched);
    sim->sched = sched;
    sim->pos = s->pos;
    free(sim->ev);
    sim->ev = ev;
    sim->nev = sim->capev = s->nev;
    sim->ev_seq = s->ev_seq;
    sim->disk_seq = s->disk_seq;
    free(sim->log);
    sim->log = log;
    sim->nlog = sim->caplog = s->nlog;
    sim->now = sim->q_start = s->now;
    sim->seed = s->seed;
    for (unsigned i = 0; i < s->n; i++) {
        struct sim_vm *v = sim->v[i];
        v->st = s->vm[i].st;
        sim_rp_get(s->vm[i].rp);
        sim_rp_put(v->rp);
        v->rp = s->vm[i].rp;
        sim_set_sdk_options(v);
    }
    return 0;
}

int cc_sim_restore(struct cc_sim *sim, const struct cc_sim_snapshot *s, struct cc_err *err)
{
    if (s->n != sim->n)
        return cc_err_set(err, EINVAL, "the snapshot has %u VMs, this simulation %u", s->n,
                          sim->n);
    int rc = sim_start(sim, err);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < s->n; i++) {
        rc = cc_vm_restore(sim->v[i]->vm, s->vm[i].snap, err);
        if (rc < 0)
            return cc_err_prefix(err, "vm %u", i);
    }
    return load_engine(sim, s, err);
}

void cc_sim_fork_opts_default(struct cc_sim_fork_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (unsigned i = 0; i < CC_SIM_MAX_VMS; i++)
        o->serial_fd[i] = -1;
}

int cc_sim_fork(const struct cc_sim_snapshot *s, const struct cc_sim_fork_opts *o,
                struct cc_sim **out, struct cc_err *err)
{
    *out = NULL;
    struct cc_sim_fork_opts def;
    if (!o) {
        cc_sim_fork_opts_default(&def);
        o = &def;
    }
    struct cc_sim_config cfg = s->cfg;
    for (unsigned i = 0; i < CC_SIM_MAX_VMS; i++)
        cfg.serial_fd[i] = o->serial_fd[i];
    cfg.trace_keep = o->trace_keep;
    cfg.log = o->log;
    cfg.log_opaque = o->log_opaque;
    cfg.sdk_hook = o->sdk_hook;
    cfg.sdk_hook_opaque = o->sdk_hook_opaque;
    cfg.seed = s->seed;
    cfg.dlog = NULL;
    struct cc_sim *sim;
    int rc = cc_sim_new(&cfg, &sim, err);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < s->n && rc >= 0; i++) {
        struct cc_fork_opts fo;
        cc_fork_opts_default(&fo);
        fo.serial_fd = o->serial_fd[i];
        fo.trace_keep = o->trace_keep;
        sim->logctx[i] = (struct sim_logctx){sim, i};
        fo.log = sim_vm_log;
        fo.log_opaque = &sim->logctx[i];
        struct cc_vm *vm;
        rc = cc_vm_fork(s->vm[i].snap, &fo, &vm, err);
        if (rc < 0) {
            cc_err_prefix(err, "vm %u", i);
            break;
        }
        rc = cc_sim_add_vm(sim, vm, err);
        if (rc < 0)
            cc_vm_destroy(vm);
    }
    if (rc >= 0)
        rc = sim_start(sim, err);
    if (rc >= 0)
        rc = load_engine(sim, s, err);
    if (rc >= 0 && o->reseed)
        cc_sim_reseed(sim, o->seed);
    if (rc >= 0 && o->schedule)
        rc = cc_sim_set_schedule(sim, o->schedule, err);
    if (rc < 0) {
        cc_sim_destroy(sim);
        return rc;
    }
    *out = sim;
    return 0;
}

void cc_sim_reseed(struct cc_sim *sim, uint64_t seed)
{
    sim->seed = seed;
    for (unsigned i = 0; i < sim->n; i++) {
        uint64_t vs = sim_vm_seed(seed, i);
        cc_vm_reseed(sim->v[i]->vm, vs);
        cc_vm_sdk_reseed(sim->v[i]->vm, vs);
    }
    if (sim->net)
        fabric_reseed(sim->net, seed);
}
