/* Insides of a simulation (chaoscontrol/sim.h), shared by sim.c (VMs, the
 * run loop), sim_report.c (observations and the JSON report), sim_fault.c
 * (applying faults) and sim_snap.c (snapshots). Not part of the public
 * API. */
#ifndef CC_SIM_SIM_INTERNAL_H
#define CC_SIM_SIM_INTERNAL_H

#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol/sim.h"
#include "chaoscontrol/snapshot.h"
#include "chaoscontrol/virtio.h"
#include "sim/net.h"
#include "util/buf.h"

#define SIM_MAX_DISK_FAULTS 64
#define CC_BALLOON_PAGE_SIZE 4096u

/* A disk fault the engine put on a VM's disk (kept so that a restart can
 * put it back and a duration can remove it). */
struct sim_disk_fault {
    uint64_t sim_id;            /* the engine's id (stable across restarts) */
    int dev_id;                 /* the device's id now */
    struct cc_blk_fault f;
};

/* Per-VM engine state: plain data, copied as is into snapshots. */
struct sim_vm_state {
    enum cc_sim_vm_state state;
    enum cc_stop exit_reason;
    uint64_t paused_until;
    /* local = anchor_l + (global - anchor_g) * (1e6 + skew_ppm) / 1e6 */
    uint64_t anchor_g, anchor_l;
    int64_t skew_ppm;
    bool setup_done;
    uint64_t setup_at;
    uint64_t marker_pos;        /* console bytes already searched for the marker */
    uint64_t restarts;
    bool failed;
    uint64_t balloon_pages;     /* memory pressure in place */
    unsigned n_disk_faults;
    struct sim_disk_fault disk_faults[SIM_MAX_DISK_FAULTS];
};

/* Where a restart goes back to: the VM's snapshot at setup completion
 * (its SDK state included, as an extension section). Shared (refcounted) by
 * simulations and snapshots. */
struct sim_restart_point {
    int refs;
    struct cc_snapshot *snap;
};

struct sim_vm {
    struct cc_sim *sim;
    unsigned index;
    struct cc_vm *vm;
    struct cc_virtio_net *net;
    struct cc_virtio_blk *blk;
    struct cc_virtio_balloon *balloon;
    struct sim_vm_state st;
    struct sim_restart_point *rp;   /* NULL until setup completes */
    bool parked;                /* the last VM to set up, stopped at its
                                 * setup_complete exit (until_setup); not saved */
};

/* Engine events that are not in the schedule: ends of faults with a
 * duration, pause ends, further IRQ edges. */
enum sim_ev_kind {
    EV_HEAL = 1,
    EV_LINK_RESTORE,            /* type = which setting, from/to masks */
    EV_DISK_REMOVE,             /* arg = sim_id */
    EV_SKEW_RESET,
    EV_BALLOON_RESET,
    EV_IRQ,                     /* arg = line, arg2 = edges left */
    EV_RESUME,
};

struct sim_event {
    uint64_t at;
    uint64_t seq;               /* order among equal times */
    uint32_t kind;
    int vm;
    int64_t fault;              /* the schedule index that caused it, -1 if none */
    enum cc_fault_type type;
    uint64_t from, to;
    uint64_t arg, arg2;
};

/* Per-VM log prefix ("vm 2: ..."), set before the VM exists. */
struct sim_logctx {
    struct cc_sim *sim;
    unsigned index;
};

struct cc_sim {
    struct cc_sim_config cfg;   /* strings: only setup_marker is kept (owned) */
    struct sim_logctx logctx[CC_SIM_MAX_VMS];
    unsigned n;
    struct sim_vm *v[CC_SIM_MAX_VMS];
    struct cc_fabric *net;      /* made when the simulation starts */
    bool started;
    uint64_t seed;
    uint64_t now;
    uint64_t q_start;           /* start of the quantum being run */

    struct cc_schedule *sched;
    size_t pos;                 /* next fault to apply */
    struct sim_event *ev;
    size_t nev, capev;
    uint64_t ev_seq;
    uint64_t disk_seq;          /* sim_id source for disk faults */

    struct cc_sim_log_entry *log;
    size_t nlog, caplog;

    struct cc_oracle *retired;  /* assertions of VM lifetimes ended by restarts */
    /* The operation history: the details of every SDK event named
     * chaoscontrol.history as one JSON line each, stamped with the global
     * virtual time and the VM (docs/history.md). Saved in snapshots. */
    struct cc_buf hist;
    uint64_t hist_ops, hist_dropped;
    bool quiesced;              /* a guest asked for no more faults */
    bool stop_requested;
    bool aborting;              /* cc_sim_abort */
    bool park_setup;            /* this cc_sim_run has until_setup: stop at the last setup */
    int failed_vm;              /* first failure in this cc_sim_run, -1 */
    /* cc_sim_limits.stop_vm/stop_exit of this cc_sim_run (0: none), and
     * whether it was reached */
    unsigned stop_vm;
    uint64_t stop_exit;
    bool exit_reached;
};

/* sim.c */
int sim_start(struct cc_sim *sim, struct cc_err *err);
uint64_t sim_to_local(const struct sim_vm *v, uint64_t g);
uint64_t sim_to_global(const struct sim_vm *v, uint64_t l);
void sim_reanchor(struct sim_vm *v, uint64_t g);
void sim_log(struct cc_sim *sim, uint32_t kind, int vm, int64_t fault, enum cc_fault_type type,
             const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void sim_set_sdk_options(struct sim_vm *v);
void sim_vm_log(void *opaque, const char *msg);      /* opaque: &sim->logctx[i] */
uint64_t sim_vm_seed(uint64_t seed, unsigned i);
void sim_rp_put(struct sim_restart_point *rp);
void sim_rp_get(struct sim_restart_point *rp);
int sim_push_event(struct cc_sim *sim, const struct sim_event *e);

/* sim_fault.c */
/* Apply fault f (schedule index idx, -1 if none) at sim->now. Faults that
 * cannot apply are logged as skipped, not errors; < 0 only for host
 * failures (err filled). */
int sim_apply_fault(struct cc_sim *sim, const struct cc_fault *f, int64_t idx, struct cc_err *err);
int sim_apply_event(struct cc_sim *sim, const struct sim_event *e, struct cc_err *err);
/* chaoscontrol.quiesce from vm: heal the network, resume paused VMs, and
 * skip every later fault of the schedule. */
void sim_quiesce(struct cc_sim *sim, unsigned vm);

#endif
