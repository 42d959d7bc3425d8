/* What a simulation looks like from outside: per-VM status, links, the
 * state hash, the merged assertion oracle, and the whole report as JSON
 * (see chaoscontrol/sim.h). Read-only views of the state in sim.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <xxhash.h>

#include "sdk_host/oracle.h"
#include "sim/sim_internal.h"
#include "util/cjson.h"

/* ---- observations ---- */

uint64_t cc_sim_now(const struct cc_sim *sim) { return sim->now; }
unsigned cc_sim_vm_count(const struct cc_sim *sim) { return sim->n; }
uint64_t cc_sim_seed(const struct cc_sim *sim) { return sim->seed; }

struct cc_vm *cc_sim_vm(struct cc_sim *sim, unsigned i)
{
    return i < sim->n ? sim->v[i]->vm : NULL;
}

int cc_sim_vm_status(const struct cc_sim *sim, unsigned i, struct cc_sim_vm_status *st)
{
    if (i >= sim->n)
        return -EINVAL;
    const struct sim_vm *v = sim->v[i];
    memset(st, 0, sizeof(*st));
    st->state = v->st.state;
    st->exit_reason = v->st.state == CC_SIM_VM_EXITED ? v->st.exit_reason : CC_STOP_NONE;
    st->vtime = cc_vm_vtime_ns(v->vm);
    st->exits = cc_vm_exit_count(v->vm);
    st->trace_hash = cc_vm_trace_hash(v->vm);
    st->serial_hash = cc_vm_serial_hash(v->vm);
    st->setup_done = v->st.setup_done;
    st->setup_at = v->st.setup_at;
    st->paused_until = v->st.state == CC_SIM_VM_PAUSED ? v->st.paused_until : 0;
    st->skew_ppm = v->st.skew_ppm;
    st->clock_offset_ns = (int64_t)(sim_to_local(v, sim->now) - sim->now);
    st->restarts = v->st.restarts;
    st->missed_ticks = cc_vm_missed_ticks(v->vm);
    st->failed = v->st.failed;
    st->net_unroutable = sim->net ? fabric_unroutable(sim->net, i) : 0;
    st->has_exit_status = cc_vm_exit_status(v->vm, &st->exit_status);
    st->clock_reads = cc_vm_clock_reads(v->vm);
    return 0;
}

int cc_sim_link_params(const struct cc_sim *sim, unsigned from, unsigned to,
                       struct cc_link_params *p)
{
    if (from >= sim->n || to >= sim->n)
        return -EINVAL;
    *p = sim->net ? *fabric_link_c(sim->net, from, to) : sim->cfg.link;
    return 0;
}

int cc_sim_link_stats(const struct cc_sim *sim, unsigned from, unsigned to,
                      struct cc_link_stats *s)
{
    if (from >= sim->n || to >= sim->n)
        return -EINVAL;
    if (sim->net)
        *s = *fabric_stats(sim->net, from, to);
    else
        memset(s, 0, sizeof(*s));
    return 0;
}

bool cc_sim_connected(const struct cc_sim *sim, unsigned from, unsigned to)
{
    if (from >= sim->n || to >= sim->n)
        return false;
    return !sim->net || fabric_connected(sim->net, from, to);
}

uint64_t cc_sim_hash(const struct cc_sim *sim)
{
    XXH3_state_t *h = XXH3_createState();
    if (!h)
        return 0;
    XXH3_64bits_reset(h);
    XXH3_64bits_update(h, &sim->now, sizeof(sim->now));
    for (unsigned i = 0; i < sim->n; i++) {
        const struct sim_vm *v = sim->v[i];
        uint64_t x[6] = {v->st.state, cc_vm_vtime_ns(v->vm), cc_vm_exit_count(v->vm),
                         cc_vm_trace_hash(v->vm), cc_vm_serial_hash(v->vm), v->st.restarts};
        XXH3_64bits_update(h, x, sizeof(x));
    }
    for (unsigned i = 0; sim->net && i < sim->n; i++)
        for (unsigned j = 0; j < sim->n; j++)
            XXH3_64bits_update(h, fabric_stats(sim->net, i, j), sizeof(struct cc_link_stats));
    uint64_t r = XXH3_64bits_digest(h);
    XXH3_freeState(h);
    return r;
}

struct cc_oracle *cc_sim_oracle(struct cc_sim *sim, struct cc_err *err)
{
    struct cc_oracle *o = cc_oracle_new();
    if (!o) {
        cc_err_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    struct cc_buf b;
    buf_init(&b);
    oracle_save(sim->retired, &b);
    struct cc_rd rd;
    rd_init(&rd, b.data, b.len);
    int rc = buf_ok(&b) ? oracle_load(o, &rd, err) : cc_err_set(err, ENOMEM, "out of memory");
    buf_free(&b);
    for (unsigned i = 0; rc == 0 && i < sim->n; i++)
        rc = cc_oracle_add_vm(o, sim->v[i]->vm, err);
    if (rc < 0) {
        cc_oracle_free(o);
        return NULL;
    }
    return o;
}

/* ---- the JSON report ---- */

static json_t *vm_json(const struct cc_sim *sim, unsigned i)
{
    struct cc_sim_vm_status st;
    cc_sim_vm_status(sim, i, &st);
    json_t *o = json_object();
    json_object_set_new(o, "vm", json_integer(i));
    json_object_set_new(o, "state", json_string(cc_sim_vm_state_name(st.state)));
    json_object_set_new(o, "exit_reason", st.state == CC_SIM_VM_EXITED ?
                        json_string(cc_stop_name(st.exit_reason)) : json_null());
    json_object_set_new(o, "vtime_ns", cj_u64(st.vtime));
    json_object_set_new(o, "exits", cj_u64(st.exits));
    json_object_set_new(o, "clock_reads", cj_u64(st.clock_reads));
    json_object_set_new(o, "trace_hash", cj_hex64(st.trace_hash));
    json_object_set_new(o, "serial_hash", cj_hex64(st.serial_hash));
    json_object_set_new(o, "ram_hash", cj_hex64(cc_vm_ram_hash(sim->v[i]->vm)));
    json_object_set_new(o, "exit_status", st.has_exit_status ? json_integer(st.exit_status) :
                        json_null());
    json_object_set_new(o, "setup_done", json_boolean(st.setup_done));
    json_object_set_new(o, "setup_at_ns", st.setup_done ? cj_u64(st.setup_at) : json_null());
    json_object_set_new(o, "paused_until_ns", st.state == CC_SIM_VM_PAUSED ?
                        cj_u64(st.paused_until) : json_null());
    json_object_set_new(o, "skew_ppm", json_integer(st.skew_ppm));
    json_object_set_new(o, "clock_offset_ns", json_integer(st.clock_offset_ns));
    json_object_set_new(o, "restarts", cj_u64(st.restarts));
    json_object_set_new(o, "missed_ticks", cj_u64(st.missed_ticks));
    json_object_set_new(o, "failed", json_boolean(st.failed));
    json_object_set_new(o, "net_unroutable", cj_u64(st.net_unroutable));
    return o;
}

/* The link from VM i to VM j: its settings and its statistics. */
static json_t *link_json(const struct cc_sim *sim, unsigned i, unsigned j)
{
    struct cc_link_params p;
    struct cc_link_stats s;
    cc_sim_link_params(sim, i, j, &p);
    cc_sim_link_stats(sim, i, j, &s);
    json_t *o = json_object();
    json_object_set_new(o, "from", json_integer(i));
    json_object_set_new(o, "to", json_integer(j));
    json_object_set_new(o, "connected", json_boolean(cc_sim_connected(sim, i, j)));
    json_object_set_new(o, "latency_ns", cj_u64(p.latency_ns));
    json_object_set_new(o, "jitter_ns", cj_u64(p.jitter_ns));
    json_object_set_new(o, "bandwidth_bps", cj_u64(p.bandwidth_bps));
    json_object_set_new(o, "loss", json_real(p.loss_ppm / 1e6));
    json_object_set_new(o, "corrupt", json_real(p.corrupt_ppm / 1e6));
    json_object_set_new(o, "duplicate", json_real(p.duplicate_ppm / 1e6));
    json_object_set_new(o, "reorder", json_real(p.reorder_ppm / 1e6));
    json_object_set_new(o, "sent", cj_u64(s.sent));
    json_object_set_new(o, "sent_bytes", cj_u64(s.sent_bytes));
    json_object_set_new(o, "delivered", cj_u64(s.delivered));
    json_object_set_new(o, "delivered_bytes", cj_u64(s.delivered_bytes));
    json_t *d = json_object();
    json_object_set_new(d, "partition", cj_u64(s.dropped_partition));
    json_object_set_new(d, "loss", cj_u64(s.dropped_loss));
    json_object_set_new(d, "queue", cj_u64(s.dropped_queue));
    json_object_set_new(d, "down", cj_u64(s.dropped_down));
    json_object_set_new(d, "rx", cj_u64(s.dropped_rx));
    json_object_set_new(o, "dropped", d);
    json_object_set_new(o, "duplicated", cj_u64(s.duplicated));
    json_object_set_new(o, "corrupted", cj_u64(s.corrupted));
    json_object_set_new(o, "reordered", cj_u64(s.reordered));
    json_object_set_new(o, "in_flight", cj_u64(s.in_flight));
    return o;
}

static json_t *links_json(const struct cc_sim *sim)
{
    json_t *links = json_array();
    for (unsigned i = 0; i < sim->n; i++)
        for (unsigned j = 0; j < sim->n; j++)
            if (i != j)
                json_array_append_new(links, link_json(sim, i, j));
    return links;
}

static json_t *log_json(const struct cc_sim *sim)
{
    json_t *log = json_array();
    for (size_t i = 0; i < sim->nlog; i++) {
        const struct cc_sim_log_entry *e = &sim->log[i];
        json_t *o = json_object();
        json_object_set_new(o, "vtime_ns", cj_u64(e->vtime));
        json_object_set_new(o, "kind", json_string(cc_sim_log_kind_name(e->kind)));
        json_object_set_new(o, "vm", e->vm >= 0 ? json_integer(e->vm) : json_null());
        json_object_set_new(o, "fault", e->fault >= 0 ? json_integer(e->fault) : json_null());
        json_object_set_new(o, "type", e->type ? json_string(cc_fault_type_name(e->type)) :
                                                 json_null());
        json_object_set_new(o, "text", json_string(e->text));
        json_array_append_new(log, o);
    }
    return log;
}

/* The schedule as its own JSON form (schedule.h), or null. */
static json_t *schedule_json(const struct cc_sim *sim)
{
    char *st = cc_schedule_to_json(sim->sched);
    json_t *sj = st ? json_loads(st, 0, NULL) : NULL;
    free(st);
    return sj ? sj : json_null();
}

/* The merged assertion table of every VM and every ended VM lifetime. */
static json_t *assertions_json(struct cc_sim *sim)
{
    json_t *asserts = json_array();
    struct cc_oracle *o = cc_sim_oracle(sim, NULL);
    size_t n = 0;
    const struct cc_oracle_entry *oe = o ? cc_oracle_entries(o, &n) : NULL;
    for (size_t i = 0; oe && i < n; i++) {
        const struct cc_assertion *a = &oe[i].a;
        json_t *x = json_object();
        json_object_set_new(x, "id", cj_hex64(a->id));
        json_object_set_new(x, "kind", json_string(cc_kind_name(a->kind)));
        json_object_set_new(x, "verdict", json_string(cc_verdict_name(cc_oracle_verdict(&oe[i]))));
        json_object_set_new(x, "message", json_string(a->message ? a->message : ""));
        json_object_set_new(x, "file", json_string(a->file ? a->file : ""));
        json_object_set_new(x, "line", json_integer(a->line));
        json_object_set_new(x, "function", json_string(a->function ? a->function : ""));
        json_object_set_new(x, "hits", cj_u64(a->hits));
        json_object_set_new(x, "passes", cj_u64(a->passes));
        json_object_set_new(x, "fails", cj_u64(a->fails));
        json_object_set_new(x, "vms_hit", cj_u64(oe[i].runs_hit));
        json_object_set_new(x, "vms_failed", cj_u64(oe[i].runs_failed));
        json_array_append_new(asserts, x);
    }
    cc_oracle_free(o);
    return asserts;
}

/* The first failed assertion of each VM that has one. */
static json_t *failures_json(const struct cc_sim *sim)
{
    json_t *fails = json_array();
    for (unsigned i = 0; i < sim->n; i++) {
        const struct cc_sdk_failure *fl = cc_vm_sdk_failure(sim->v[i]->vm);
        if (!fl)
            continue;
        json_t *x = json_object();
        json_object_set_new(x, "vm", json_integer(i));
        json_object_set_new(x, "kind", json_string(cc_kind_name(fl->a.kind)));
        json_object_set_new(x, "message", json_string(fl->a.message ? fl->a.message : ""));
        json_object_set_new(x, "file", json_string(fl->a.file ? fl->a.file : ""));
        json_object_set_new(x, "line", json_integer(fl->a.line));
        json_object_set_new(x, "details", json_string(fl->details ? fl->details : ""));
        json_object_set_new(x, "vm_vtime_ns", cj_u64(fl->vtime));
        json_object_set_new(x, "exit", cj_u64(fl->exit));
        json_array_append_new(fails, x);
    }
    return fails;
}

char *cc_sim_json(struct cc_sim *sim)
{
    json_t *root = json_object();
    char seed[24];
    snprintf(seed, sizeof(seed), "%" PRIu64, sim->seed);
    json_object_set_new(root, "seed", json_string(seed));
    json_object_set_new(root, "vtime_ns", cj_u64(sim->now));
    json_object_set_new(root, "quantum_ns", cj_u64(sim->cfg.quantum_ns));
    json_object_set_new(root, "hash", cj_hex64(cc_sim_hash(sim)));
    json_t *vms = json_array();
    for (unsigned i = 0; i < sim->n; i++)
        json_array_append_new(vms, vm_json(sim, i));
    json_object_set_new(root, "vms", vms);
    json_object_set_new(root, "links", links_json(sim));
    json_object_set_new(root, "log", log_json(sim));
    json_object_set_new(root, "schedule", schedule_json(sim));
    json_object_set_new(root, "assertions", assertions_json(sim));
    json_object_set_new(root, "failures", failures_json(sim));
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(root);
    return text;
}
