/* libchaoscontrol: deterministic multi-VM simulations.
 *
 * A simulation runs N VMs in one process on one global virtual timeline,
 * connects their virtio-net cards through a simulated switch (per-link
 * latency, jitter, bandwidth, loss, corruption, reordering, duplication,
 * partitions) and applies a fault schedule (schedule.h). The same seed,
 * VMs and schedule give a bit-identical simulation; a simulation can be
 * snapshotted, restored and forked as a whole.
 *
 *   struct cc_sim_config cfg;
 *   cc_sim_config_default(&cfg);
 *   cfg.n_vms = 3;
 *   cfg.seed = 7;
 *   cfg.kernel = "bzImage";
 *   cfg.initrd = "net-demo.initrd";
 *   cfg.disk_size = 1 << 20;
 *   struct cc_sim *sim;
 *   cc_sim_create(&cfg, &sim, &err);                   // 3 Linux VMs
 *   struct cc_sim_limits lim = {.until_setup = true, .until_ns = 60 * CC_SEC};
 *   cc_sim_run(sim, &lim, &res, &err);                 // boot to setup_complete
 *   struct cc_sim_snapshot *snap;
 *   cc_sim_snapshot(sim, &snap, &err);
 *   cc_sim_set_schedule(sim, schedule, &err);          // faults from now on
 *   lim = (struct cc_sim_limits){.until_ns = cc_sim_now(sim) + 10 * CC_SEC};
 *   cc_sim_run(sim, &lim, &res, &err);
 *   cc_sim_restore(sim, snap, &err);                   // back to setup, try again
 *
 * Scheduling: conservative lockstep. Global time T advances in quanta: each
 * running VM runs (in index order; the order is irrelevant, VMs only
 * interact at boundaries) until its own clock reaches the boundary B, where
 * B = min(T + quantum, the next fault, the next frame arrival, the next
 * pause end, the run's limit). A VM that halts with nothing to do before B
 * stops at B without spending exits (vm.h, cc_vm_halted). At B, due faults
 * are applied in schedule order, then frames whose arrival time is <= B are
 * delivered in (arrival, sender, sender's sequence) order. A frame sent at
 * global time t on a link with latency L arrives at t + L (+ jitter, +
 * serialization); with L >= quantum it can never arrive inside the quantum
 * it was sent in; with L < quantum it is delivered at the next boundary.
 * The default quantum is the default latency, 100 us.
 *
 * Time: each VM has its own clock (its vtime) mapped to the global one:
 * local = anchor_local + (global - anchor_global) * (1 + skew_ppm / 1e6).
 * Clock skew changes the rate, clock jumps and pauses move the VM's clock
 * forward (vm.h, cc_vm_clock_jump: Linux sees the jump through reinjected
 * timer ticks), a restart puts the VM back on its post-setup snapshot's
 * clock. A frame's send time is the VM's clock mapped to global time.
 *
 * Randomness: every stream is seeded from the simulation seed: VM i gets
 * seed splitmix64(seed + i) (guest entropy, SDK randomness), each ordered
 * link (i, j) its own stream (seed, "net-link-i-j") for jitter, loss,
 * corruption, reordering and duplication, so traffic on one link never
 * changes the draws of another.
 *
 * Setup: a VM has completed setup when its guest calls cc_setup_complete
 * (SDK) or prints cfg.setup_marker on its console. At that moment the
 * simulation snapshots the VM (its restart point: a restart fault restores
 * it, keeping the disk as it is now) and logs it.
 *
 * Nothing here is thread-safe; one thread drives a simulation. Many
 * simulations may live in one process. */
#ifndef CHAOSCONTROL_SIM_H
#define CHAOSCONTROL_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"
#include "chaoscontrol/schedule.h"
#include "chaoscontrol/vm.h"

struct cc_sim;
struct cc_sim_snapshot;
struct cc_sdk_event;
struct cc_dlog;

/* ---- network ---- */

/* Settings of one direction of one link (from VM i to VM j). */
struct cc_link_params {
    uint64_t latency_ns;        /* one-way propagation delay (default 100 us) */
    uint64_t jitter_ns;         /* + a uniform draw in [0, jitter] per frame */
    uint64_t bandwidth_bps;     /* 0 = unlimited; else frames are serialized
                                   (8 * bytes / bandwidth) one after another */
    uint64_t queue_ns;          /* bandwidth queue: a frame that would wait
                                   longer than this is dropped (default 100 ms) */
    uint32_t loss_ppm;          /* drop probability, parts per million */
    uint32_t corrupt_ppm;       /* probability of one flipped bit (after the
                                   14-byte Ethernet header) */
    uint32_t duplicate_ppm;     /* probability of a second copy */
    uint32_t reorder_ppm;       /* probability of holding a frame back ... */
    uint64_t reorder_ns;        /* ... by this much (default 1 ms), so frames
                                   sent after it overtake it. Other frames
                                   keep FIFO order even with jitter. */
};
void cc_link_params_default(struct cc_link_params *p);

/* Counters of one direction of one link. A frame offered to the link
 * (sent) ends up delivered, dropped for one reason, or still in flight;
 * duplicates add to what can be delivered. */
struct cc_link_stats {
    uint64_t sent, sent_bytes;
    uint64_t delivered, delivered_bytes;
    uint64_t dropped_partition;     /* the link was cut at send or arrival */
    uint64_t dropped_loss;          /* the loss draw */
    uint64_t dropped_queue;         /* bandwidth queue full */
    uint64_t dropped_down;          /* receiver killed or exited */
    uint64_t dropped_rx;            /* receiver's NIC refused it (RX queue full) */
    uint64_t duplicated, corrupted, reordered;
    uint64_t in_flight;
};

/* ---- configuration ---- */

struct cc_sim_config {
    unsigned n_vms;             /* 1..CC_SIM_MAX_VMS (cc_sim_create) */
    uint64_t seed;
    uint64_t quantum_ns;        /* default 100 us */
    struct cc_link_params link; /* every link at start (cc_link_params_default) */
    bool stop_on_failure;       /* default true: a failed SDK assertion stops
                                   cc_sim_run (CC_SIM_STOP_FAILURE) */
    const char *setup_marker;   /* console text that also means "setup
                                   complete" (NULL: only the SDK call) */
    uint64_t setup_after_ns;    /* a VM that has not completed setup by this
                                   global time counts as set up at the first
                                   quantum boundary at or after it (for
                                   programs without the SDK or a marker;
                                   0: never) */

    /* Linux VMs for cc_sim_create. VM i gets MAC 52:54:00:00:00:(i+1),
     * devices in this order: virtio-net (eth0), virtio-blk (/dev/vda, when
     * disk_size or disk_image), virtio-rng (rng), virtio-balloon (balloon),
     * and "cc_vm_id=i cc_vms=N" on its kernel command line (the init of
     * images made by chaoscontrol pack names the VMs and their addresses
     * from them). */
    const char *kernel, *initrd;
    const char *cmdline;        /* replaces the default command line (NULL: default) */
    const char *append;         /* appended; every "{id}" becomes the VM's index */
    uint64_t mem_size;          /* default 256 MiB */
    /* vCPUs per VM (vm.h: 0 or 1 = one), their scheduler and quantum. */
    unsigned vcpus;
    enum cc_vcpu_sched vcpu_sched;
    uint32_t vcpu_quantum;
    /* The processor every VM presents (vm.h; cc_sim_config_default: the
     * default model). */
    struct cc_cpu_model cpu;
    uint64_t disk_size;         /* each VM's disk: copy-on-write over zeros or ... */
    const char *disk_image;     /* ... over this read-only image (each VM its own
                                   overlay) */
    bool rng;                   /* default true */
    bool balloon;               /* default true (memory_pressure faults need it) */
    int serial_fd[CC_SIM_MAX_VMS];  /* console copies, -1 = capture only (default) */
    bool trace_keep;            /* keep exit records in memory (cc_vm_trace) */
    unsigned watchdog_s;        /* per-VM host watchdog (vm.h), 0 = off */
    void (*log)(void *opaque, const char *msg);     /* NULL = stderr */
    void *log_opaque;
    /* Every SDK event of every VM, as it happens (optional). */
    void (*sdk_hook)(void *opaque, struct cc_sim *sim, unsigned vm,
                     const struct cc_sdk_event *ev);
    void *sdk_hook_opaque;
    /* Determinism log (dlog.h) of every VM (VM i as index i) and of the run
     * log, in the simulation's order; NULL = none. Not carried into forks. */
    struct cc_dlog *dlog;
};
void cc_sim_config_default(struct cc_sim_config *cfg);

/* Create the simulation and its n_vms Linux VMs (loaded, not yet run). */
int cc_sim_create(const struct cc_sim_config *cfg, struct cc_sim **out, struct cc_err *err);

/* Or an empty simulation (cfg->n_vms and the Linux fields are ignored) to
 * which VMs made elsewhere are added: cc_sim_add_vm takes ownership of vm
 * and plugs its first virtio-net into the switch (a VM without one has no
 * network), uses its first virtio-blk for disk faults and its first
 * virtio-balloon for memory pressure. All VMs must be added before the
 * first run. Returns the VM's index. */
int cc_sim_new(const struct cc_sim_config *cfg, struct cc_sim **out, struct cc_err *err);
int cc_sim_add_vm(struct cc_sim *sim, struct cc_vm *vm, struct cc_err *err);

void cc_sim_destroy(struct cc_sim *sim);

/* End the running cc_sim_run at once, from a hook (a VM's debug hook, or
 * on_boundary): the VMs stop where they are, in the middle of a quantum,
 * and the run returns CC_SIM_STOP_ABORTED. The simulation is then only
 * good for cc_sim_restore (the time-travel debugger restores a checkpoint
 * after every abort). */
void cc_sim_abort(struct cc_sim *sim);

/* ---- running ---- */

enum cc_sim_stop {
    CC_SIM_STOP_NONE = 0,
    CC_SIM_STOP_VTIME,          /* reached until_ns */
    CC_SIM_STOP_SETUP,          /* every VM has completed setup (until_setup) */
    CC_SIM_STOP_FAILURE,        /* an SDK assertion failed (stop_on_failure) */
    CC_SIM_STOP_ALL_DOWN,       /* no VM is running or paused any more */
    CC_SIM_STOP_REQUESTED,      /* cc_sim_request_stop */
    CC_SIM_STOP_EXIT,           /* stop_exit reached (cc_sim_limits) */
    CC_SIM_STOP_ABORTED,        /* cc_sim_abort: the state is only good for a restore */
};
const char *cc_sim_stop_name(enum cc_sim_stop s);

struct cc_sim_limits {
    uint64_t until_ns;          /* absolute global time; 0 = no limit */
    /* Stop once every live VM has completed setup. When the last one
     * completes it by the SDK's setup_complete, the run stops at that exit
     * (not one instruction later) and the VMs after it in the quantum do
     * not run it, so a snapshot taken after the run holds the last VM
     * before any of its post-setup work: every choice and assertion after
     * setup belongs to what runs next. VMs that set up earlier (by the SDK,
     * setup_marker or setup_after_ns) run on meanwhile, since a cluster may
     * need them to set the others up; what they do then is part of setup. */
    bool until_setup;
    /* Called at every quantum boundary of the run, before the faults due
     * then are applied: an observer (it must not change the simulation
     * except through cc_sim_inject_fault). NULL: none. */
    void (*on_boundary)(void *opaque, struct cc_sim *sim);
    void *opaque;
    /* Stop right after VM stop_vm's exit number stop_exit (its
     * cc_vm_exit_count; 0 = no such stop): that VM is not re-entered, the
     * VMs after it in the quantum do not run it, and the run returns
     * CC_SIM_STOP_EXIT (sim time stays at the quantum's start). Everything
     * up to that exit happens exactly as without the stop (the VM's run is
     * cut by an exit budget, which changes nothing it sees). The first time
     * the VM's count reaches stop_exit counts (a restart rewinds it). */
    unsigned stop_vm;
    uint64_t stop_exit;
    /* Stop at the first quantum boundary at or after this global time
     * without making it a boundary (until_ns would: an extra boundary can
     * change when frames and faults land), as CC_SIM_STOP_VTIME. 0: none. */
    uint64_t stop_after_ns;
};

struct cc_sim_result {
    enum cc_sim_stop stop;
    int vm;                     /* FAILURE: the first VM that failed; else -1 */
    uint64_t vtime;             /* global time at the stop */
    uint64_t quanta;            /* quanta run in this call */
};

/* Run until a limit or a stop. Faults due at the current time are applied
 * at the start of the call; a run that stops at time T has not yet applied
 * T's faults nor delivered T's frames (a snapshot taken then holds them, and
 * a schedule set then may still add faults at T). Returns 0, or -errno for
 * host failures (err filled). A guest that crashes is not a host failure:
 * its VM shows as exited. */
int cc_sim_run(struct cc_sim *sim, const struct cc_sim_limits *lim, struct cc_sim_result *res,
               struct cc_err *err);
/* Stop cc_sim_run at the end of the current quantum (from hooks). */
void cc_sim_request_stop(struct cc_sim *sim);
/* Attach a determinism log (dlog.h) to a simulation that exists: every VM
 * (VM i as index i) and the run log write to d from now on, as with
 * cc_sim_config.dlog; NULL detaches them all. The caller creates and
 * closes d (and adds the end marks, cc_vm_dlog_end, before detaching). */
void cc_sim_set_dlog(struct cc_sim *sim, struct cc_dlog *d);

/* The fault schedule. The simulation keeps its own copy; faults before the
 * current time are skipped (they are the past), the rest are applied at
 * their times. Checked against the number of VMs. */
int cc_sim_set_schedule(struct cc_sim *sim, const struct cc_schedule *s, struct cc_err *err);
const struct cc_schedule *cc_sim_schedule(const struct cc_sim *sim);
/* Apply one fault now, outside the schedule (logged like scheduled ones,
 * with schedule index -1). */
int cc_sim_apply_fault(struct cc_sim *sim, const struct cc_fault *f, struct cc_err *err);
/* Add f to the simulation's schedule while it runs (from an on_boundary
 * hook), at the current time or later. The run is the same as if the
 * schedule had held f from the start (f goes after faults of equal time,
 * like cc_schedule_add), so a recipe that records f replays it exactly.
 * -EINVAL for a bad fault or one in the past, -EAGAIN when faults of
 * f's time were already applied. */
int cc_sim_inject_fault(struct cc_sim *sim, const struct cc_fault *f, struct cc_err *err);

/* ---- observations ---- */

uint64_t cc_sim_now(const struct cc_sim *sim);
unsigned cc_sim_vm_count(const struct cc_sim *sim);
uint64_t cc_sim_seed(const struct cc_sim *sim);
/* The VM itself, e.g. for its SDK state (sdk_host.h) or console. */
struct cc_vm *cc_sim_vm(struct cc_sim *sim, unsigned i);

enum cc_sim_vm_state {
    CC_SIM_VM_RUNNING = 0,
    CC_SIM_VM_PAUSED,
    CC_SIM_VM_KILLED,
    CC_SIM_VM_EXITED,           /* the guest stopped by itself (power-off, crash) */
};
const char *cc_sim_vm_state_name(enum cc_sim_vm_state s);

struct cc_sim_vm_status {
    enum cc_sim_vm_state state;
    enum cc_stop exit_reason;   /* EXITED: why (poweroff, triple-fault, ...) */
    uint64_t vtime;             /* the VM's own clock */
    uint64_t exits;
    uint64_t trace_hash, serial_hash;
    bool setup_done;
    uint64_t setup_at;          /* global time of setup completion */
    uint64_t paused_until;      /* PAUSED: global time it resumes */
    int64_t skew_ppm;
    int64_t clock_offset_ns;    /* its clock minus the global clock, now */
    uint64_t restarts;
    uint64_t missed_ticks;      /* timer ticks still owed after a jump */
    bool failed;                /* an SDK assertion failed in it */
    uint64_t net_unroutable;    /* frames it sent to no known MAC */
    bool has_exit_status;       /* its init reported an exit status (cc-init) */
    int exit_status;            /* ... which is this */
    uint64_t clock_reads;       /* exits that read the clock page (cc_vm_clock_reads) */
};
int cc_sim_vm_status(const struct cc_sim *sim, unsigned i, struct cc_sim_vm_status *st);

/* Link (from -> to) settings and counters; -EINVAL for bad indices. */
int cc_sim_link_params(const struct cc_sim *sim, unsigned from, unsigned to,
                       struct cc_link_params *p);
int cc_sim_link_stats(const struct cc_sim *sim, unsigned from, unsigned to,
                      struct cc_link_stats *s);
/* Can from's frames reach to now (no partition between them)? */
bool cc_sim_connected(const struct cc_sim *sim, unsigned from, unsigned to);

/* The run log: every applied fault (and its end), plus VM lifecycle
 * (setup complete, exits, assertion failures), with global virtual time. */
enum cc_sim_log_kind {
    CC_SIM_LOG_FAULT = 1,       /* a fault applied (fault = its schedule index, -1 if none) */
    CC_SIM_LOG_FAULT_END,       /* a fault with a duration undone (pause: resumed) */
    CC_SIM_LOG_SKIPPED,         /* a fault that could not apply (why in text) */
    CC_SIM_LOG_SETUP,           /* a VM completed setup */
    CC_SIM_LOG_EXIT,            /* a VM stopped by itself */
    CC_SIM_LOG_FAILURE,         /* an SDK assertion failed in a VM */
};
const char *cc_sim_log_kind_name(uint32_t kind);

struct cc_sim_log_entry {
    uint64_t vtime;             /* global virtual ns */
    uint32_t kind;              /* enum cc_sim_log_kind */
    int vm;                     /* -1 when network-wide */
    int64_t fault;              /* schedule index, -1 if none */
    enum cc_fault_type type;    /* 0 for non-fault entries */
    char text[200];
};
const struct cc_sim_log_entry *cc_sim_log(const struct cc_sim *sim, size_t *n);
/* "  12.000500000 s  fault #3  partition [0] | rest for 2s" */
void cc_sim_log_format(const struct cc_sim_log_entry *e, char *buf, size_t len);

/* A hash of everything deterministic about the simulation: global time,
 * each VM's state, clock, exit count, trace hash and console hash, and the
 * link counters. Equal seeds and schedules give equal hashes. */
uint64_t cc_sim_hash(const struct cc_sim *sim);

/* The whole report as a JSON object text (malloc'd): seed, time, hash,
 * per-VM status, per-link settings and counters, the run log, and the
 * merged assertion table (every VM's SDK catalog, plus VM lifetimes before
 * restarts, summed by assertion id, with verdicts). */
char *cc_sim_json(struct cc_sim *sim);

/* The merged assertion table as an oracle (sdk_host.h: struct cc_oracle;
 * one "run" per VM lifetime). The caller frees it with cc_oracle_free. */
struct cc_oracle;
struct cc_oracle *cc_sim_oracle(struct cc_sim *sim, struct cc_err *err);

/* ---- snapshots ---- */

/* Everything: every VM (memory copy-on-write, devices, disks as O(1)
 * clones, SDK state), global time, the network (settings, counters, RNG
 * positions, partition, frames in flight), the schedule and its position,
 * pending fault ends and pause ends, per-VM process and clock state, each
 * VM's restart point, and the run log. Immutable and reference-counted. */
int cc_sim_snapshot(struct cc_sim *sim, struct cc_sim_snapshot **out, struct cc_err *err);
/* Put sim back to s (taken from sim or from a simulation of the same shape:
 * VM count, memory sizes, devices). Cheap: each VM drops only the pages it
 * dirtied since. */
int cc_sim_restore(struct cc_sim *sim, const struct cc_sim_snapshot *s, struct cc_err *err);

struct cc_sim_fork_opts {
    bool reseed;                /* new randomness: VM streams and link streams */
    uint64_t seed;
    const struct cc_schedule *schedule;     /* replaces the pending schedule (NULL: keep) */
    int serial_fd[CC_SIM_MAX_VMS];          /* -1 = capture only */
    bool trace_keep;
    void (*log)(void *opaque, const char *msg);
    void *log_opaque;
    void (*sdk_hook)(void *opaque, struct cc_sim *sim, unsigned vm,
                     const struct cc_sdk_event *ev);
    void *sdk_hook_opaque;
};
void cc_sim_fork_opts_default(struct cc_sim_fork_opts *o);
/* A new simulation continuing exactly where s was taken. */
int cc_sim_fork(const struct cc_sim_snapshot *s, const struct cc_sim_fork_opts *o,
                struct cc_sim **out, struct cc_err *err);

void cc_sim_snapshot_get(struct cc_sim_snapshot *s);
void cc_sim_snapshot_put(struct cc_sim_snapshot *s);
/* The memory s holds, about: every VM's stored (non-zero) pages and
 * device state. */
uint64_t cc_sim_snapshot_bytes(const struct cc_sim_snapshot *s);

/* Reseed every stream (VMs, SDK, links), e.g. after a restore, so that runs
 * from one snapshot diverge. */
void cc_sim_reseed(struct cc_sim *sim, uint64_t seed);

/* ---- operation histories (docs/history.md) ----
 *
 * Guests send operations as SDK events named chaoscontrol.history (details:
 * one JSON object; the image helper chaoscontrol-history sends them). The
 * simulation keeps them, stamped with "time" (global virtual ns, unless the
 * guest gave one) and "vm", as JSON lines in arrival order; snapshots and
 * restores carry them, so a branch's history starts with its point's.
 * Returns the text (not NUL-terminated; *len bytes, valid until the next
 * run or restore); *dropped counts lines past the 64 MiB cap. */
const char *cc_sim_history(const struct cc_sim *sim, size_t *len, uint64_t *dropped);
/* A guest sent chaoscontrol.quiesce: the network was healed, paused VMs
 * resumed, and no later fault (scheduled or injected) applies. */
bool cc_sim_quiesced(const struct cc_sim *sim);

#endif
