/* libchaoscontrol: coverage-guided exploration of multi-VM simulations,
 * and the minimizer and reproducer of the bugs it finds.
 *
 * The explorer boots a simulation once (sim.h), runs it to setup_complete
 * and snapshots it: the root of a tree of frontier points. Each round forks
 * B branches from frontier points, each with a mutated fault schedule
 * (fault mode), different values at cc_random_choice points (input-tree
 * mode) or both (hybrid), runs each for a slice of virtual time, and keeps
 * the branches that reached new coverage (guest edges plus assertion
 * states) as new frontier points. A branch that fails an assertion is a
 * bug, written at once as bug_N.json.
 *
 *   struct cc_xtarget t;           // what to run: kernel, initrd, VMs, seed
 *   cc_xtarget_init(&t);
 *   t.kernel = "bzImage"; t.initrd = "raft.initrd"; t.n_vms = 3;
 *   t.append = "raft_id={id} raft_bug=double_vote"; t.disk_size = 1 << 20;
 *   struct cc_explore_opts o;
 *   cc_explore_opts_default(&o);
 *   o.output = "out"; o.rounds = 20; o.branches = 16;
 *   struct cc_explorer *x;
 *   cc_explorer_new(&t, &o, &x, &err);       // or cc_explorer_resume("out", ...)
 *   cc_explorer_run(x, &err);
 *   cc_explorer_free(x);
 *
 * ---- recipes and determinism ----
 *
 * Everything a branch did is its recipe: the fault schedule with absolute
 * virtual times (the faults of every ancestor branch plus its own), the
 * choice overrides, and the stop times at which the simulation was paused
 * (the ends of its ancestors' branches). Branches never reseed anything:
 * (target with its seed, recipe) reproduces a branch exactly from boot.
 *
 * Replaying a recipe (cc_xrun_replay) follows one rule, which the explorer
 * follows too: after setup the whole schedule is set; the run is split into
 * segments that end at every stop time and at every restart fault's time
 * (segment boundaries are quantum boundaries, so both sides must use the
 * same ones); before each segment every VM's choice script is set to the
 * recipe's overrides for that VM and its current life (its restart count).
 * An override is (vm, life, index, value): the index-th random value of that
 * VM in that life returns value (modulo n for cc_random_choice). A restart
 * puts a VM back at its setup point, which clears its script and rewinds
 * its choice index, hence the life.
 *
 * The SDK doorbell is forced to the port (CC_SDK_TRIGGER_PORT) so that exit
 * traces, and so bug files, do not depend on the host's hypercall support.
 *
 * Nothing here is thread-safe. */
#ifndef CHAOSCONTROL_EXPLORE_H
#define CHAOSCONTROL_EXPLORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"
#include "chaoscontrol/schedule.h"
#include "chaoscontrol/sdk_host.h"

struct cc_sim;
struct cc_sim_snapshot;

/* ---- the target: what runs ---- */

struct cc_xtarget {
    const char *kernel, *initrd;    /* paths */
    unsigned n_vms;
    uint64_t mem_size;              /* 0: the simulation's default */
    const char *cmdline, *append;   /* as in struct cc_sim_config */
    uint64_t disk_size;
    const char *disk_image;
    uint64_t seed;
    uint64_t quantum_ns, latency_ns;    /* 0: defaults */
    uint64_t setup_timeout_ns;      /* virtual time allowed to reach setup (default 120 s) */
    /* SHA-256 (hex) of kernel, initrd and disk image; filled by
     * cc_xtarget_hash, checked by cc_xtarget_check. "" when absent. */
    char kernel_sha256[65], initrd_sha256[65], disk_image_sha256[65];
};
void cc_xtarget_init(struct cc_xtarget *t);
/* SHA-256 of a file as 64 hex digits. */
int cc_sha256_file(const char *path, char out[65], struct cc_err *err);
/* Hash the target's files into its *_sha256 fields. */
int cc_xtarget_hash(struct cc_xtarget *t, struct cc_err *err);
/* Check that the files now at the target's paths have the recorded hashes;
 * the message names the file, both hashes and what to do. */
int cc_xtarget_check(const struct cc_xtarget *t, struct cc_err *err);
/* cc_xtarget_check, then the files as booting them would check them
 * (cc_linux_check, cc_blk_config_check), without /dev/kvm. */
int cc_xtarget_check_boot(const struct cc_xtarget *t, struct cc_err *err);

/* ---- recipes ---- */

struct cc_xoverride {
    unsigned vm;
    uint64_t life;                  /* the VM's restart count */
    uint64_t index;                 /* choice index within that life */
    uint64_t value;
};

struct cc_recipe {
    struct cc_schedule *sched;      /* absolute times, all after setup */
    struct cc_xoverride *ov;        /* sorted by (vm, life, index), unique */
    size_t n_ov, cap_ov;
    uint64_t *stops;                /* ascending, unique; the last is end_ns */
    size_t n_stops, cap_stops;
    uint64_t end_ns;                /* where the run ends (a bug: its stop time) */
};

/* An empty recipe (NULL when out of memory). */
struct cc_recipe *cc_recipe_new(void);
void cc_recipe_free(struct cc_recipe *r);
struct cc_recipe *cc_recipe_clone(const struct cc_recipe *r);
/* Add (or replace) an override; keeps the order. */
int cc_recipe_add_override(struct cc_recipe *r, const struct cc_xoverride *o);
int cc_recipe_add_stop(struct cc_recipe *r, uint64_t t);
/* Faults plus overrides: what the minimizer makes smaller. */
size_t cc_recipe_size(const struct cc_recipe *r);
/* Segment ends of a replay starting at from_ns: the stops and the restart
 * faults' times in (from_ns, end_ns], ascending, end_ns last. Returns the
 * count (malloc'd array in *out), or -ENOMEM. */
long cc_recipe_segments(const struct cc_recipe *r, uint64_t from_ns, uint64_t **out);

/* JSON: {"schedule": {...schedule.h form...}, "overrides": [{"vm": 0,
 * "life": 0, "index": 12, "value": 5}, ...], "stops": ["1.5s", ...],
 * "end": "3s"}. Errors name src and the JSON path ("recipe.overrides[2].vm:
 * 7 is out of range (3 VMs)"). */
char *cc_recipe_to_json(const struct cc_recipe *r);
struct json_t;
struct json_t *cc_recipe_to_jsonv(const struct cc_recipe *r);
int cc_recipe_from_jsonv(const struct json_t *j, const char *src, const char *path,
                         unsigned n_vms, struct cc_recipe **out, struct cc_err *err);

/* ---- running targets and recipes ---- */

/* A booted simulation of a target, with its snapshot at setup. */
struct cc_xrun;

struct cc_xrun_opts {
    int serial_fd[CC_SIM_MAX_VMS];  /* console copies, -1 = none */
    void (*log)(void *opaque, const char *msg);
    void *log_opaque;
    unsigned watchdog_s;
};
void cc_xrun_opts_default(struct cc_xrun_opts *o);

/* Create the simulation, force the port doorbell, run to setup_complete of
 * every VM and snapshot. Fails (naming the VM) when a VM exits or the setup
 * timeout passes first. */
int cc_xrun_boot(const struct cc_xtarget *t, const struct cc_xrun_opts *o, struct cc_xrun **out,
                 struct cc_err *err);
void cc_xrun_free(struct cc_xrun *x);
struct cc_sim *cc_xrun_sim(struct cc_xrun *x);
struct cc_sim_snapshot *cc_xrun_root(struct cc_xrun *x);
uint64_t cc_xrun_setup_ns(const struct cc_xrun *x);

/* The first failed assertion of a run. */
struct cc_xfailure {
    bool failed;
    unsigned vm;
    uint64_t id;
    uint32_t kind, line;
    char message[256], file[256], function[128];
    char details[1024];
    uint64_t sim_ns;                /* global time the simulation stopped at */
    uint64_t vm_ns;                 /* the VM's clock at the failure */
    uint64_t exit;                  /* the VM's exit number at the failure */
};

/* Called around each segment of cc_xrun_play: before (after the scripts
 * are set), and after (before the next segment's restarts apply). */
struct cc_xrun_hooks {
    void (*before)(void *opaque, struct cc_sim *sim, uint64_t seg_end);
    void (*after)(void *opaque, struct cc_sim *sim);
    /* at every quantum boundary (cc_sim_limits.on_boundary) */
    void (*boundary)(void *opaque, struct cc_sim *sim);
    void *opaque;
};

struct cc_xrun_result {
    struct cc_xfailure fail;
    bool all_down;                  /* every VM killed or exited */
    uint64_t end_ns;                /* where the run stopped */
    uint64_t sim_hash;              /* cc_sim_hash at the stop */
    uint64_t choices[CC_SIM_MAX_VMS];   /* random values each VM drew (this life) */
};

/* Play recipe r on x's simulation from its current time: set the schedule,
 * run the segments (see above), stop at the first failure or at end_ns. */
int cc_xrun_play(struct cc_xrun *x, const struct cc_recipe *r, const struct cc_xrun_hooks *h,
                 struct cc_xrun_result *res, struct cc_err *err);
/* Restore the setup snapshot and play r: a replay from boot without the
 * boot. */
int cc_xrun_replay(struct cc_xrun *x, const struct cc_recipe *r, struct cc_xrun_result *res,
                   struct cc_err *err);
/* Set every VM's choice script from r for its current life. */
int cc_xrun_set_scripts(struct cc_sim *sim, const struct cc_recipe *r, struct cc_err *err);

/* ---- coverage ---- */

#define CC_XCOV_ASSERT_SIZE 4096u

/* One branch's coverage: the bucketed union of every VM's edge bitmap and
 * the assertion-state bits it reached. */
struct cc_xcov {
    uint8_t edges[CC_COVERAGE_SIZE];
    uint8_t asserts[CC_XCOV_ASSERT_SIZE];
};
void cc_xcov_clear(struct cc_xcov *c);
/* Fold one VM's raw hit-count bitmap in (bucketed). */
void cc_xcov_add_edges(struct cc_xcov *c, const uint8_t *raw);
/* Assertion-state bits: per (assertion, VM): reached, passed (condition
 * held), failed; per assertion over all VMs: the AFL bucket of how many
 * times a SOMETIMES/REACHABLE passed (the count delta). */
#define CC_XCOV_HIT 1u
#define CC_XCOV_PASS 2u
#define CC_XCOV_FAIL 4u
void cc_xcov_add_assert(struct cc_xcov *c, uint64_t id, unsigned vm, unsigned bits);
void cc_xcov_add_assert_count(struct cc_xcov *c, uint64_t id, uint64_t passes);
size_t cc_xcov_assert_slot(uint64_t id, unsigned vm);

/* The global "virgin" map: everything any branch reached. */
struct cc_covmap {
    uint8_t edges[CC_COVERAGE_SIZE];
    uint8_t asserts[CC_XCOV_ASSERT_SIZE];
    uint32_t assert_hits[CC_XCOV_ASSERT_SIZE];  /* branches that set each slot */
    size_t n_edges, n_assert_bits;
};
struct cc_xnovelty {
    size_t new_edges;               /* edges never seen */
    size_t new_buckets;             /* known edges, new hit-count bucket */
    size_t new_assert_bits;
    size_t assert_slots[16];        /* slots with new bits (first 16) */
    size_t n_assert_slots;
};
void cc_covmap_init(struct cc_covmap *m);
/* Merge a branch in; fills what was new. Returns true if anything was. */
bool cc_covmap_merge(struct cc_covmap *m, const struct cc_xcov *c, struct cc_xnovelty *nv);
/* Would merging c add anything? (no change) */
bool cc_covmap_is_new(const struct cc_covmap *m, const struct cc_xcov *c);
size_t cc_covmap_edges(const struct cc_covmap *m);
size_t cc_covmap_assert_bits(const struct cc_covmap *m);

/* ---- mutators ---- */

enum cc_xmode {
    CC_XMODE_FAULT = 1,
    CC_XMODE_INPUT,                 /* input-tree: choice overrides */
    CC_XMODE_HYBRID,
};
const char *cc_xmode_name(enum cc_xmode m);
int cc_xmode_parse(const char *s, enum cc_xmode *out);

/* Relative weights of the fault kinds a mutation adds (0 = never). */
struct cc_xweights {
    unsigned partition, heal, kill, restart, pause, loss, latency, duplicate, reorder,
        clock, disk;
};
void cc_xweights_default(struct cc_xweights *w);

/* What the mutator needs to know about the point a branch starts from. */
struct cc_xpoint_info {
    unsigned n_vms;
    uint64_t t0;                    /* the branch starts here ... */
    uint64_t t1;                    /* ... and ends here */
    uint64_t life[CC_SIM_MAX_VMS];
    uint64_t next_choice[CC_SIM_MAX_VMS];
    bool alive[CC_SIM_MAX_VMS];     /* running or paused at t0 */
};

/* The mutator's random stream (deterministic per seed). */
struct cc_xmut;
struct cc_xmut *cc_xmut_new(uint64_t seed, const struct cc_xweights *w);
void cc_xmut_free(struct cc_xmut *m);
uint64_t cc_xmut_below(struct cc_xmut *m, uint64_t n);
double cc_xmut_unit(struct cc_xmut *m);

/* Add 1..max_faults new faults in (t0, t1] to r's schedule. */
int cc_xmut_faults_fresh(struct cc_xmut *m, struct cc_recipe *r, const struct cc_xpoint_info *p,
                         unsigned max_faults, struct cc_err *err);
/* Mutate the faults of r in (t0, t1]: add, remove, shift in time, or
 * retarget (another VM, side, rate or duration); 1..max_ops operations. */
int cc_xmut_faults_mutate(struct cc_xmut *m, struct cc_recipe *r, const struct cc_xpoint_info *p,
                          unsigned max_ops, struct cc_err *err);
/* Override up to k of the next choices of one or more live VMs (values
 * uniform, or 0, or copied between VMs so that their draws coincide). */
int cc_xmut_inputs(struct cc_xmut *m, struct cc_recipe *r, const struct cc_xpoint_info *p,
                   unsigned k, struct cc_err *err);
/* One random fault of the weighted kinds at time at (used by the above). */
void cc_xmut_random_fault(struct cc_xmut *m, const struct cc_xpoint_info *p, uint64_t at,
                          struct cc_fault *f);

/* ---- reactive faults ----
 *
 * A fault-mode branch may carry a reactive rule besides its scheduled
 * faults: the explorer watches the traffic at quantum boundaries and, when
 * a VM becomes a hub (within the last 60 ms it sent frames to every other
 * VM, as a leader's heartbeats or a candidate's vote requests do), cuts it
 * off from the rest or pauses it after a delay; then waits for the next new
 * hub, up to CC_XREACT_MAX times. This is the "isolate the leader"
 * nemesis without asking the system who leads: a protocol-agnostic guess
 * from who talks to everyone. A firing becomes an ordinary fault at the
 * boundary's time (cc_sim_inject_fault) and is added to the branch's
 * recipe, so replays, bug files and minimization need no rule. */
#define CC_XREACT_MAX 4
#define CC_XREACT_CHECK_NS (10 * CC_MSEC)   /* traffic is looked at every 10 ms */
#define CC_XREACT_WINDOW 6                  /* ... over the last 6 looks (60 ms) */

struct cc_xreact_step {
    uint64_t delay_ns;              /* after the hub appears */
    uint64_t pause_ns;              /* > 0: pause it this long; 0: cut it off */
    uint64_t cut_ns;                /* cut off this long; 0: until another partition */
    uint32_t pick;                  /* which of several new hubs */
};

struct cc_xreact {
    unsigned n_vms, n_steps, fired;
    struct cc_xreact_step step[CC_XREACT_MAX];
    uint64_t next_check;
    unsigned looks;                 /* samples taken */
    uint64_t *ring;                 /* (CC_XREACT_WINDOW + 1) samples of n x n sent counts */
    uint64_t hubs;                  /* hub mask at the last look */
    int target;                     /* pending firing: VM, -1 none */
    uint64_t fire_at;
};

/* Draw a rule (1..3 steps) from m. n_vms < 3: no rule (n_steps 0). */
void cc_xreact_plan(struct cc_xmut *m, unsigned n_vms, struct cc_xreact *r);
/* Ready r (after cc_xreact_plan or with steps filled in) for a run. */
int cc_xreact_start(struct cc_xreact *r, unsigned n_vms);
void cc_xreact_free(struct cc_xreact *r);
/* Does r want to look at time now? (cheap; every boundary) */
bool cc_xreact_due(const struct cc_xreact *r, uint64_t now);
/* Look at the cumulative frames sent, sent[from * n + to], at time now;
 * VMs in mask `skip` (already cut off from everyone) are no targets.
 * Returns 1 and fills f (a fault at now) when a firing is due, else 0. */
int cc_xreact_look(struct cc_xreact *r, uint64_t now, const uint64_t *sent, uint64_t skip,
                   struct cc_fault *f);
/* The hubs (mask) at the last look. */
uint64_t cc_xreact_hubs(const struct cc_xreact *r);

/* ---- delta debugging ---- */

/* ddmin (Zeller): the smallest subset of items [0, n) that still "fails"
 * (test returns 1; 0 = passes, < 0 = error, which stops). keep[] is in/out:
 * on entry the items to start from (all true usually), on exit the
 * 1-minimal subset found. Tests are cached by subset, so the same
 * candidate is never run twice. Returns the number of tests run or < 0. */
typedef int (*cc_ddmin_test)(void *opaque, const bool *keep, size_t n);
long cc_ddmin(size_t n, bool *keep, cc_ddmin_test test, void *opaque);

/* ---- bug files ---- */

struct cc_bug {
    unsigned number;
    struct cc_xtarget target;       /* strings owned by the bug */
    char *kernel, *initrd, *cmdline, *append, *disk_image;
    struct cc_recipe *recipe;
    struct cc_xfailure fail;
    /* where it was found */
    uint64_t round, branch;         /* branch: global count, 1-based */
    double wall_s;
    enum cc_xmode mode;
    uint64_t choices[CC_SIM_MAX_VMS];   /* random values each VM drew (last life) */
    char *minimized_from;           /* minimize: the original file */
    size_t original_size;
};
void cc_bug_free(struct cc_bug *b);
/* The JSON text of a bug file (malloc'd). */
char *cc_bug_to_json(const struct cc_bug *b);
/* Write atomically. */
int cc_bug_save(const struct cc_bug *b, const char *path, struct cc_err *err);
/* Read and check a bug file: JSON, required fields and their types, the
 * schedule, overrides against the VM count. Every message starts with the
 * file name and names the field. Does not check the files' hashes. */
int cc_bug_load(const char *path, struct cc_bug **out, struct cc_err *err);
/* Parse from text (name is used in messages). */
int cc_bug_parse(const char *text, const char *name, struct cc_bug **out, struct cc_err *err);

/* Reproduce: boot the bug's target, replay its recipe, and compare the
 * failure with the recorded one (same VM, assertion id, message, file:line,
 * simulation time, VM time, exit). */
struct cc_repro {
    struct cc_xrun_result res;
    bool same;                      /* everything matched */
    char diff[512];                 /* what did not, when !same */
};
int cc_bug_reproduce(const struct cc_bug *b, const struct cc_xrun_opts *o, struct cc_repro *out,
                     struct cc_err *err);
/* The same, handing the run (stopped at its end, e.g. for its consoles) to
 * the caller in *keep (cc_xrun_free); NULL on errors. */
int cc_bug_reproduce_keep(const struct cc_bug *b, const struct cc_xrun_opts *o,
                          struct cc_repro *out, struct cc_xrun **keep, struct cc_err *err);
/* Compare a run's failure with a bug's: fills r->same and r->diff. */
void cc_bug_compare(const struct cc_bug *b, const struct cc_xrun_result *res, struct cc_repro *r);

/* Minimize: ddmin over the faults, then over the overrides, each candidate
 * replayed from the setup snapshot (one boot) and kept when it fails the
 * same assertion (any VM); the result is replayed once more from a fresh
 * boot and must fail the same way as recorded in it. */
struct cc_minimize_stats {
    size_t faults_before, faults_after, overrides_before, overrides_after;
    unsigned long tests;
    double wall_s;
};
int cc_bug_minimize(const struct cc_bug *b, const struct cc_xrun_opts *o,
                    void (*progress)(void *opaque, const char *msg), void *opaque,
                    struct cc_bug **out, struct cc_minimize_stats *st, struct cc_err *err);

/* ---- the explorer ---- */

struct cc_explore_opts {
    const char *output;             /* directory (created if missing) */
    unsigned rounds;                /* rounds to run (resume: more rounds) */
    unsigned branches;              /* per round */
    enum cc_xmode mode;
    uint64_t seed;                  /* the explorer's own stream (mutations, picks) */
    uint64_t branch_ns;             /* virtual time per branch (default 1 s) */
    unsigned frontier_max;          /* points kept (default 48) */
    unsigned hot_max;               /* points with a live snapshot (default 10) */
    unsigned max_faults;            /* per fresh window (default 4) */
    unsigned choice_k;              /* overrides per input mutation (default 4) */
    unsigned stop_after_bugs;       /* stop once this many distinct bugs (0 = never) */
    unsigned plateau_rounds;        /* rounds without novelty that make a plateau (3) */
    unsigned react_percent;         /* fault branches with a reactive rule (default 40) */
    struct cc_xweights weights;
    /* A status line (round, branches/s, edges, bugs) before each branch,
     * and "" when it should be cleared (before log lines, at the end); the
     * caller decides where it goes (the CLI: stderr, on terminals only).
     * NULL: none. */
    void (*progress)(void *opaque, const char *line);
    void (*log)(void *opaque, const char *msg);
    void *log_opaque;
};
void cc_explore_opts_default(struct cc_explore_opts *o);

struct cc_explorer;

/* Start in o->output (which must not hold a checkpoint yet). Boots. */
int cc_explorer_new(const struct cc_xtarget *t, const struct cc_explore_opts *o,
                    struct cc_explorer **out, struct cc_err *err);
/* Continue from dir/checkpoint.json: the target, options, round count,
 * coverage, frontier and bugs come from there (plus bug files written after
 * it); o gives the number of rounds to add and the run-time knobs
 * (progress, log). */
int cc_explorer_resume(const char *dir, const struct cc_explore_opts *o,
                       struct cc_explorer **out, struct cc_err *err);
int cc_explorer_run(struct cc_explorer *x, struct cc_err *err);
void cc_explorer_free(struct cc_explorer *x);

struct cc_explore_summary {
    unsigned rounds_done;
    uint64_t branches;
    unsigned bugs;
    size_t edges, assert_bits, frontier;
    double wall_s;
    uint64_t first_bug_branch;      /* 0: none */
    double first_bug_wall_s;
};
void cc_explorer_summary(const struct cc_explorer *x, struct cc_explore_summary *s);

/* Checkpoint and report files of a directory, for tests and tools: the
 * checkpoint's JSON validated and summarized. */
int cc_checkpoint_peek(const char *dir, unsigned *rounds, unsigned *bugs, struct cc_err *err);
/* The checkpoint's target checked as resuming would boot it
 * (cc_xtarget_check_boot), without /dev/kvm. */
int cc_checkpoint_check_target(const char *dir, struct cc_err *err);

#endif
