/* The fault engine: applying scheduled faults and their ends to a running
 * simulation (see chaoscontrol/schedule.h for what each fault means). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sim/sim_internal.h"

#define IRQ_SPACING_NS 1000000ull       /* repeated IRQ edges: 1 ms apart */

static uint64_t all_vms(const struct cc_sim *sim)
{
    return sim->n >= 64 ? UINT64_MAX : (1ull << sim->n) - 1;
}

static void skipped(struct cc_sim *sim, const struct cc_fault *f, int64_t idx, const char *why)
{
    char d[160];
    cc_fault_describe(f, d, sizeof(d));
    sim_log(sim, CC_SIM_LOG_SKIPPED, cc_fault_has_vm(f->type) ? (int)f->vm : -1, idx, f->type,
            "%s: %s", d, why);
}

static int push(struct cc_sim *sim, struct sim_event e, struct cc_err *err)
{
    if (sim_push_event(sim, &e) < 0)
        return cc_err_set(err, ENOMEM, "out of memory");
    return 0;
}

/* Log fault f as applied, on VM vm (-1: the network), described. */
static void applied(struct cc_sim *sim, const struct cc_fault *f, int64_t idx, int vm)
{
    char d[160];
    cc_fault_describe(f, d, sizeof(d));
    sim_log(sim, CC_SIM_LOG_FAULT, vm, idx, f->type, "%s", d);
}

/* For a fault with a duration: the event e (kind, vm, arg) that undoes it,
 * at the end of the duration. Nothing for a fault without one. */
static int end_later(struct cc_sim *sim, const struct cc_fault *f, int64_t idx,
                     struct sim_event e, struct cc_err *err)
{
    if (!f->duration_ns)
        return 0;
    e.at = sim->now + f->duration_ns;
    e.fault = idx;
    e.type = f->type;
    return push(sim, e, err);
}

/* ---- network ---- */

static void set_links(struct cc_sim *sim, enum cc_fault_type t, uint64_t from, uint64_t to,
                      const struct cc_link_params *src)
{
    if (!from)
        from = all_vms(sim);
    if (!to)
        to = all_vms(sim);
    for (unsigned i = 0; i < sim->n; i++) {
        if (!((from >> i) & 1))
            continue;
        for (unsigned j = 0; j < sim->n; j++) {
            if (i == j || !((to >> j) & 1))
                continue;
            struct cc_link_params *p = fabric_link(sim->net, i, j);
            switch (t) {
            case CC_FAULT_LATENCY: p->latency_ns = src->latency_ns; break;
            case CC_FAULT_JITTER: p->jitter_ns = src->jitter_ns; break;
            case CC_FAULT_BANDWIDTH: p->bandwidth_bps = src->bandwidth_bps; break;
            case CC_FAULT_LOSS: p->loss_ppm = src->loss_ppm; break;
            case CC_FAULT_CORRUPT: p->corrupt_ppm = src->corrupt_ppm; break;
            case CC_FAULT_DUPLICATE: p->duplicate_ppm = src->duplicate_ppm; break;
            case CC_FAULT_REORDER:
                p->reorder_ppm = src->reorder_ppm;
                p->reorder_ns = src->reorder_ns;
                break;
            default: break;
            }
        }
    }
}

static void link_fault_params(const struct cc_fault *f, struct cc_link_params *p)
{
    memset(p, 0, sizeof(*p));
    p->latency_ns = f->ns;
    p->jitter_ns = f->ns;
    p->bandwidth_bps = f->bps;
    p->loss_ppm = p->corrupt_ppm = p->duplicate_ppm = p->reorder_ppm = f->ppm;
    p->reorder_ns = f->ns;
}

/* Every VM on a side can talk only to VMs on the same side; VMs on no side
 * form one more side, except bridge VMs, which talk to every side. */
static int partition(struct cc_sim *sim, const struct cc_fault *f, int64_t idx,
                     struct cc_err *err)
{
    uint8_t group[CC_SIM_MAX_VMS] = {0};
    for (unsigned s = 0; s < f->n_sides; s++)
        for (unsigned i = 0; i < sim->n; i++)
            if ((f->sides[s] >> i) & 1)
                group[i] = (uint8_t)(s + 1);
    for (unsigned i = 0; i < sim->n; i++)
        if ((f->bridge >> i) & 1)
            group[i] = CC_FABRIC_BRIDGE;
    fabric_partition(sim->net, group);
    applied(sim, f, idx, -1);
    return end_later(sim, f, idx, (struct sim_event){.kind = EV_HEAL, .vm = -1}, err);
}

/* latency, jitter, bandwidth, loss, corrupt, reorder, duplicate: one
 * setting of the selected links. */
static int link_fault(struct cc_sim *sim, const struct cc_fault *f, int64_t idx,
                      struct cc_err *err)
{
    struct cc_link_params lp;
    link_fault_params(f, &lp);
    set_links(sim, f->type, f->from, f->to, &lp);
    applied(sim, f, idx, -1);
    return end_later(sim, f, idx, (struct sim_event){.kind = EV_LINK_RESTORE, .vm = -1,
                                                     .from = f->from, .to = f->to}, err);
}

/* ---- disks ---- */

static enum cc_blk_fault_kind blk_kind(enum cc_fault_type t)
{
    switch (t) {
    case CC_FAULT_DISK_READ_ERROR: return CC_BLK_FAULT_READ_ERROR;
    case CC_FAULT_DISK_WRITE_ERROR: return CC_BLK_FAULT_WRITE_ERROR;
    case CC_FAULT_DISK_TORN_WRITE: return CC_BLK_FAULT_TORN_WRITE;
    case CC_FAULT_DISK_CORRUPT_READ: return CC_BLK_FAULT_CORRUPT_READ;
    case CC_FAULT_DISK_CORRUPT_WRITE: return CC_BLK_FAULT_CORRUPT_WRITE;
    default: return CC_BLK_FAULT_DISK_FULL;
    }
}

static int disk_fault(struct cc_sim *sim, struct sim_vm *v, const struct cc_fault *f, int64_t idx,
                      struct cc_err *err)
{
    if (!v->blk) {
        skipped(sim, f, idx, "the VM has no disk");
        return 0;
    }
    if (v->st.n_disk_faults == SIM_MAX_DISK_FAULTS) {
        skipped(sim, f, idx, "too many disk faults on this VM");
        return 0;
    }
    struct cc_blk_fault bf = {
        .kind = blk_kind(f->type),
        .offset = f->offset,
        .length = f->length,
        .count = f->count == CC_FAULT_UNLIMITED ? CC_BLK_FAULT_UNLIMITED : f->count,
        .torn_bytes = f->torn_bytes == CC_FAULT_TORN_RANDOM ? CC_BLK_TORN_RANDOM : f->torn_bytes,
        .torn_error = f->torn_error,
        .flip_bits = f->bits,
        .full_bytes = f->bytes,
    };
    struct cc_err e = {0};
    int id = cc_virtio_blk_fault_add(v->blk, &bf, &e);
    if (id < 0) {
        skipped(sim, f, idx, e.msg);
        return 0;
    }
    struct sim_disk_fault *d = &v->st.disk_faults[v->st.n_disk_faults++];
    d->sim_id = ++sim->disk_seq;
    d->dev_id = id;
    d->f = bf;
    applied(sim, f, idx, (int)v->index);
    return end_later(sim, f, idx, (struct sim_event){.kind = EV_DISK_REMOVE, .vm = (int)v->index,
                                                     .arg = d->sim_id}, err);
}

static void disk_fault_remove(struct sim_vm *v, uint64_t sim_id)
{
    for (unsigned i = 0; i < v->st.n_disk_faults; i++) {
        if (v->st.disk_faults[i].sim_id != sim_id)
            continue;
        if (v->blk)
            cc_virtio_blk_fault_remove(v->blk, v->st.disk_faults[i].dev_id);
        memmove(&v->st.disk_faults[i], &v->st.disk_faults[i + 1],
                (v->st.n_disk_faults - i - 1) * sizeof(v->st.disk_faults[0]));
        v->st.n_disk_faults--;
        return;
    }
}

/* ---- processes ---- */

/* How often each of v's disk faults has fired (0 without a disk). */
static void disk_fault_hits(const struct sim_vm *v, uint64_t hits[SIM_MAX_DISK_FAULTS])
{
    for (unsigned i = 0; i < v->st.n_disk_faults; i++) {
        int64_t h = v->blk ? cc_virtio_blk_fault_hits(v->blk, v->st.disk_faults[i].dev_id) : 0;
        hits[i] = h > 0 ? (uint64_t)h : 0;
    }
}

/* After a restore the disk has the faults of setup time: put the engine's
 * back, each with the count it had left (used-up ones are dropped). */
static void disk_faults_put_back(struct sim_vm *v, const uint64_t hits[SIM_MAX_DISK_FAULTS])
{
    cc_virtio_blk_fault_clear(v->blk);
    unsigned k = 0;
    for (unsigned i = 0; i < v->st.n_disk_faults; i++) {
        struct sim_disk_fault d = v->st.disk_faults[i];
        if (d.f.count != CC_BLK_FAULT_UNLIMITED) {
            if (hits[i] >= d.f.count)
                continue;
            d.f.count -= hits[i];
        }
        int id = cc_virtio_blk_fault_add(v->blk, &d.f, NULL);
        if (id < 0)
            continue;
        d.dev_id = id;
        v->st.disk_faults[k++] = d;
    }
    v->st.n_disk_faults = k;
}

/* Back to the post-setup snapshot, keeping the disk (and its faults, the
 * memory pressure and the clock rate: they belong to the machine). */
static int restart(struct cc_sim *sim, struct sim_vm *v, const struct cc_fault *f, int64_t idx,
                   struct cc_err *err)
{
    if (!v->rp) {
        skipped(sim, f, idx, "the VM has not completed setup: no restart point");
        return 0;
    }
    /* The assertions of the life that ends count in the merged table. */
    int rc = cc_oracle_add_vm(sim->retired, v->vm, err);
    if (rc < 0)
        return rc;
    uint64_t hits[SIM_MAX_DISK_FAULTS];
    disk_fault_hits(v, hits);
    struct cc_blk_overlay *disk = v->blk ? cc_virtio_blk_snapshot(v->blk) : NULL;
    if (v->blk && !disk)
        return cc_err_set(err, ENOMEM, "out of memory");
    rc = cc_vm_restore(v->vm, v->rp->snap, err);
    if (rc == 0 && disk)
        rc = cc_virtio_blk_restore(v->blk, disk, err);
    cc_blk_overlay_free(disk);
    if (rc < 0)
        return cc_err_prefix(err, "restarting vm %u", v->index);
    if (v->blk)
        disk_faults_put_back(v, hits);
    if (v->balloon && v->st.balloon_pages)
        cc_virtio_balloon_set_target(v->balloon, v->st.balloon_pages);
    /* Its clock starts again from the snapshot's time, at the same rate. */
    v->st.anchor_g = sim->now;
    v->st.anchor_l = cc_vm_vtime_ns(v->vm);
    v->st.state = CC_SIM_VM_RUNNING;
    v->st.exit_reason = CC_STOP_NONE;
    v->st.paused_until = 0;
    v->st.restarts++;
    v->st.setup_done = true;
    sim_set_sdk_options(v);
    fabric_set_port_up(sim->net, v->index, true);
    char d[160];
    cc_fault_describe(f, d, sizeof(d));
    sim_log(sim, CC_SIM_LOG_FAULT, (int)v->index, idx, f->type, "%s (restart #%" PRIu64
            ", back to its setup point, disk kept)", d, v->st.restarts);
    return 0;
}

static bool alive(const struct sim_vm *v)
{
    return v->st.state == CC_SIM_VM_RUNNING || v->st.state == CC_SIM_VM_PAUSED;
}

static void resume(struct cc_sim *sim, struct sim_vm *v, int64_t idx)
{
    uint64_t target = sim_to_local(v, sim->now), vt = cc_vm_vtime_ns(v->vm);
    uint64_t owed = 0;
    if (target > vt)
        owed = cc_vm_clock_jump(v->vm, target - vt);
    v->st.state = CC_SIM_VM_RUNNING;
    v->st.paused_until = 0;
    sim_log(sim, CC_SIM_LOG_FAULT_END, (int)v->index, idx, CC_FAULT_PAUSE,
            "pause vm %u: resumed, its clock jumped %" PRIu64 " ns (%" PRIu64 " timer ticks owed)",
            v->index, target > vt ? target - vt : 0, owed);
}

static void kill_vm(struct cc_sim *sim, struct sim_vm *v, const struct cc_fault *f, int64_t idx)
{
    v->st.state = CC_SIM_VM_KILLED;
    v->st.paused_until = 0;
    fabric_set_port_up(sim->net, v->index, false);
    applied(sim, f, idx, (int)v->index);
}

static int pause_vm(struct cc_sim *sim, struct sim_vm *v, const struct cc_fault *f, int64_t idx,
                    struct cc_err *err)
{
    uint64_t until = sim->now + f->duration_ns;
    if (v->st.state == CC_SIM_VM_PAUSED && v->st.paused_until >= until) {
        skipped(sim, f, idx, "already paused for longer");
        return 0;
    }
    v->st.state = CC_SIM_VM_PAUSED;
    v->st.paused_until = until;
    applied(sim, f, idx, (int)v->index);
    return push(sim, (struct sim_event){.at = until, .kind = EV_RESUME, .vm = (int)v->index,
                                        .fault = idx, .type = f->type}, err);
}

/* ---- clocks, memory and interrupts ---- */

static int clock_skew(struct cc_sim *sim, struct sim_vm *v, const struct cc_fault *f,
                      int64_t idx, struct cc_err *err)
{
    sim_reanchor(v, sim->now);
    v->st.skew_ppm = f->skew_ppm;
    applied(sim, f, idx, (int)v->index);
    return end_later(sim, f, idx, (struct sim_event){.kind = EV_SKEW_RESET, .vm = (int)v->index},
                     err);
}

static void clock_jump(struct cc_sim *sim, struct sim_vm *v, const struct cc_fault *f,
                       int64_t idx)
{
    char d[160];
    cc_fault_describe(f, d, sizeof(d));
    if (f->delta_ns > 0) {
        sim_reanchor(v, sim->now);
        v->st.anchor_l += (uint64_t)f->delta_ns;
        uint64_t owed = cc_vm_clock_jump(v->vm, (uint64_t)f->delta_ns);
        sim_log(sim, CC_SIM_LOG_FAULT, (int)v->index, idx, f->type,
                "%s (%" PRIu64 " timer ticks owed)", d, owed);
    } else {
        /* Virtual time cannot run backwards (PIT, TSC and everything
         * derived from them are monotonic): only the RTC moves. */
        cc_vm_rtc_shift(v->vm, f->delta_ns / (int64_t)CC_SEC);
        sim_log(sim, CC_SIM_LOG_FAULT, (int)v->index, idx, f->type,
                "%s (backward: the RTC only; the running clock cannot go back)", d);
    }
}

static int memory_pressure(struct cc_sim *sim, struct sim_vm *v, const struct cc_fault *f,
                           int64_t idx, struct cc_err *err)
{
    if (!v->balloon) {
        skipped(sim, f, idx, "the VM has no balloon device");
        return 0;
    }
    v->st.balloon_pages = f->bytes / CC_BALLOON_PAGE_SIZE;
    cc_virtio_balloon_set_target(v->balloon, v->st.balloon_pages);
    char d[160];
    cc_fault_describe(f, d, sizeof(d));
    sim_log(sim, CC_SIM_LOG_FAULT, (int)v->index, idx, f->type, "%s (%" PRIu64 " pages)", d,
            v->st.balloon_pages);
    return end_later(sim, f, idx,
                     (struct sim_event){.kind = EV_BALLOON_RESET, .vm = (int)v->index}, err);
}

/* The first edge now, the others IRQ_SPACING_NS apart (EV_IRQ). */
static int irq(struct cc_sim *sim, struct sim_vm *v, const struct cc_fault *f, int64_t idx,
               struct cc_err *err)
{
    int rc = cc_vm_irq_pulse(v->vm, f->line, err);
    if (rc < 0)
        return rc;
    applied(sim, f, idx, (int)v->index);
    if (f->count > 1)
        return push(sim, (struct sim_event){.at = sim->now + IRQ_SPACING_NS, .kind = EV_IRQ,
                                            .vm = (int)v->index, .fault = idx, .type = f->type,
                                            .arg = f->line, .arg2 = f->count - 1}, err);
    return 0;
}

static void nmi(struct cc_sim *sim, struct sim_vm *v, const struct cc_fault *f, int64_t idx)
{
    struct cc_err e = {0};
    if (cc_vm_nmi(v->vm, &e) < 0) {
        skipped(sim, f, idx, e.msg);
        return;
    }
    applied(sim, f, idx, (int)v->index);
}

/* From now on the VM's vCPU scheduler draws from a stream seeded with
 * f->seed (a restart later restores the restart point's scheduler). */
static void vcpu_schedule(struct cc_sim *sim, struct sim_vm *v, const struct cc_fault *f,
                          int64_t idx)
{
    if (cc_vm_vcpus(v->vm) < 2) {
        skipped(sim, f, idx, "the VM has one vCPU: nothing to schedule");
        return;
    }
    cc_vm_sched_reseed(v->vm, f->seed);
    if (sim->cfg.vcpus > 1 && sim->cfg.vcpu_sched == CC_VSCHED_RR) {
        char d[160];
        cc_fault_describe(f, d, sizeof(d));
        sim_log(sim, CC_SIM_LOG_FAULT, (int)v->index, idx, f->type, "%s (the round-robin "
                "scheduler draws nothing from it: use the random one)", d);
        return;
    }
    applied(sim, f, idx, (int)v->index);
}

/* ---- applying ---- */

/* Faults that apply to a VM that is neither running nor paused: a restart
 * brings it back, and disk, memory and clock-rate faults act on the
 * machine, not on the running guest. */
static bool applies_when_down(enum cc_fault_type t)
{
    return t == CC_FAULT_RESTART || cc_fault_is_disk(t) || t == CC_FAULT_MEMORY_PRESSURE ||
           t == CC_FAULT_CLOCK_SKEW;
}

void sim_quiesce(struct cc_sim *sim, unsigned vm)
{
    if (sim->quiesced)
        return;
    sim->quiesced = true;
    fabric_heal(sim->net);
    unsigned resumed = 0;
    for (unsigned i = 0; i < sim->n; i++) {
        struct sim_vm *v = sim->v[i];
        if (v->st.state == CC_SIM_VM_PAUSED) {
            resume(sim, v, -1);
            resumed++;
        }
    }
    sim_log(sim, CC_SIM_LOG_FAULT_END, (int)vm, -1, CC_FAULT_HEAL,
            "vm %u asked for quiet (chaoscontrol.quiesce): network healed, %u paused VM(s) "
            "resumed, no later fault applies", vm, resumed);
}

int sim_apply_fault(struct cc_sim *sim, const struct cc_fault *f, int64_t idx, struct cc_err *err)
{
    if (sim->quiesced) {
        skipped(sim, f, idx, "quiesced (a guest sent chaoscontrol.quiesce)");
        return 0;
    }
    struct sim_vm *v = cc_fault_has_vm(f->type) && f->vm < sim->n ? sim->v[f->vm] : NULL;
    if (cc_fault_has_vm(f->type) && !v) {
        skipped(sim, f, idx, "no such VM");
        return 0;
    }
    if (v && !alive(v) && !applies_when_down(f->type)) {
        char why[64];
        snprintf(why, sizeof(why), "vm %u is %s", v->index, cc_sim_vm_state_name(v->st.state));
        skipped(sim, f, idx, why);
        return 0;
    }
    switch (f->type) {
    case CC_FAULT_PARTITION:
        return partition(sim, f, idx, err);
    case CC_FAULT_HEAL:
        fabric_heal(sim->net);
        applied(sim, f, idx, -1);
        return 0;
    case CC_FAULT_LATENCY:
    case CC_FAULT_JITTER:
    case CC_FAULT_BANDWIDTH:
    case CC_FAULT_LOSS:
    case CC_FAULT_CORRUPT:
    case CC_FAULT_REORDER:
    case CC_FAULT_DUPLICATE:
        return link_fault(sim, f, idx, err);
    case CC_FAULT_DISK_READ_ERROR:
    case CC_FAULT_DISK_WRITE_ERROR:
    case CC_FAULT_DISK_TORN_WRITE:
    case CC_FAULT_DISK_CORRUPT_READ:
    case CC_FAULT_DISK_CORRUPT_WRITE:
    case CC_FAULT_DISK_FULL:
        return disk_fault(sim, v, f, idx, err);
    case CC_FAULT_KILL:
        kill_vm(sim, v, f, idx);
        return 0;
    case CC_FAULT_PAUSE:
        return pause_vm(sim, v, f, idx, err);
    case CC_FAULT_RESTART:
        return restart(sim, v, f, idx, err);
    case CC_FAULT_CLOCK_SKEW:
        return clock_skew(sim, v, f, idx, err);
    case CC_FAULT_CLOCK_JUMP:
        clock_jump(sim, v, f, idx);
        return 0;
    case CC_FAULT_MEMORY_PRESSURE:
        return memory_pressure(sim, v, f, idx, err);
    case CC_FAULT_IRQ:
        return irq(sim, v, f, idx, err);
    case CC_FAULT_NMI:
        nmi(sim, v, f, idx);
        return 0;
    case CC_FAULT_VCPU_SCHEDULE:
        vcpu_schedule(sim, v, f, idx);
        return 0;
    default:
        skipped(sim, f, idx, "unknown fault type");
        return 0;
    }
}

int sim_apply_event(struct cc_sim *sim, const struct sim_event *e, struct cc_err *err)
{
    struct sim_vm *v = e->vm >= 0 && (unsigned)e->vm < sim->n ? sim->v[e->vm] : NULL;
    struct cc_link_params def = sim->cfg.link;
    int rc;
    switch (e->kind) {
    case EV_HEAL:
        fabric_heal(sim->net);
        sim_log(sim, CC_SIM_LOG_FAULT_END, -1, e->fault, e->type, "partition: healed");
        return 0;
    case EV_LINK_RESTORE:
        set_links(sim, e->type, e->from, e->to, &def);
        sim_log(sim, CC_SIM_LOG_FAULT_END, -1, e->fault, e->type,
                "%s: back to the default setting", cc_fault_type_name(e->type));
        return 0;
    case EV_DISK_REMOVE:
        if (v)
            disk_fault_remove(v, e->arg);
        sim_log(sim, CC_SIM_LOG_FAULT_END, e->vm, e->fault, e->type, "%s vm %d: removed",
                cc_fault_type_name(e->type), e->vm);
        return 0;
    case EV_SKEW_RESET:
        if (v) {
            sim_reanchor(v, sim->now);
            v->st.skew_ppm = 0;
        }
        sim_log(sim, CC_SIM_LOG_FAULT_END, e->vm, e->fault, e->type, "clock_skew vm %d: back to 0",
                e->vm);
        return 0;
    case EV_BALLOON_RESET:
        if (v) {
            v->st.balloon_pages = 0;
            if (v->balloon)
                cc_virtio_balloon_set_target(v->balloon, 0);
        }
        sim_log(sim, CC_SIM_LOG_FAULT_END, e->vm, e->fault, e->type,
                "memory_pressure vm %d: balloon emptied", e->vm);
        return 0;
    case EV_IRQ:
        if (!v || !alive(v))
            return 0;
        rc = cc_vm_irq_pulse(v->vm, (unsigned)e->arg, err);
        if (rc < 0)
            return rc;
        if (e->arg2 > 1) {
            struct sim_event n = *e;
            n.at = sim->now + IRQ_SPACING_NS;
            n.arg2--;
            return push(sim, n, err);
        }
        return 0;
    case EV_RESUME:
        if (v && v->st.state == CC_SIM_VM_PAUSED && v->st.paused_until <= sim->now)
            resume(sim, v, e->fault);
        return 0;
    }
    return 0;
}
