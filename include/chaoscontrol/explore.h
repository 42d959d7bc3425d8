/* libchaoscontrol: coverage-guided exploration of multi-VM simulations,
 * and the minimizer and reproducer of the bugs it finds.
 *
 * The explorer boots a simulation once (sim.h), runs it to setup_complete
 * and snapshots it: the root of a tree of frontier points. Each round forks
 * B branches from frontier points, each with a mutated fault schedule
 * (fault mode), different values at cc_random_choice points (input-tree
 * mode) or both (hybrid), runs each for a slice of virtual time, and keeps
 * the branches that reached new coverage (guest edges, assertion states and
 * new maxima of cc_guidance_maximize values) as new frontier points. A
 * branch that fails an assertion is a bug, written at once as bug_N.json
 * (with dlog_bugs, also bug_N.dlog: a determinism log of its replay).
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
 * Targets made by code: a struct cc_xfactory (below) creates the simulation
 * instead of booting a kernel, e.g. tiny guests that are C functions of the
 * test program. Such a target is recorded by the factory's name; whatever
 * runs it later (resume, reproduce, minimize) must be given the factory
 * again (cc_explore_opts.factory, cc_xrun_opts.factory), so the CLI cannot.
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
 * ---- the exploration's state ----
 *
 * What an exploration knows (target, settings, counters, coverage, frontier
 * points with their recipes, the merged assertion table, round history,
 * bugs, guidance maxima) is one plain object, struct cc_xstate, separate
 * from the running explorer (simulation, snapshots, timers). Its JSON form
 * is checkpoint.json; report.txt, assertions.json and coverage.svg are
 * rendered from it alone. Tools read it with cc_xstate_load/parse.
 *
 * Nothing here is thread-safe. */
#ifndef CHAOSCONTROL_EXPLORE_H
#define CHAOSCONTROL_EXPLORE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "chaoscontrol/err.h"
#include "chaoscontrol/schedule.h"
#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol/vm.h"

struct cc_sim;
struct cc_sim_config;
struct cc_dlog;

/* ---- the target: what runs ---- */

enum cc_xchecker {
    CC_XCHECK_NONE = 0,
    CC_XCHECK_LINEARIZABLE,         /* a map of read/write/cas registers */
    CC_XCHECK_SET,                  /* no acknowledged add lost from the final read */
};
const char *cc_xchecker_name(enum cc_xchecker c);      /* "linearizable", "set", "none" */
int cc_xchecker_parse(const char *s, enum cc_xchecker *out);
const char *cc_xchecker_message(enum cc_xchecker c);   /* the property's message */

struct cc_xtarget {
    const char *kernel, *initrd;    /* paths (kernel NULL: made by a factory) */
    const char *factory;            /* the factory's name, or NULL */
    unsigned n_vms;
    uint64_t mem_size;              /* 0: the simulation's default */
    unsigned vcpus;                 /* 0 or 1: one vCPU per VM (sim.h) */
    enum cc_vcpu_sched vcpu_sched;
    uint32_t vcpu_quantum;          /* 0: the default */
    /* The processor the VMs present (vm.h; cc_xtarget_init: the default).
     * Recorded as "cpu" in bug files and checkpoints when not the default;
     * files without it load with the default. */
    struct cc_cpu_model cpu;
    const char *cmdline, *append;   /* as in struct cc_sim_config */
    uint64_t disk_size;
    const char *disk_image;
    uint64_t seed;
    uint64_t quantum_ns, latency_ns;    /* 0: defaults */
    uint64_t setup_timeout_ns;      /* virtual time allowed to reach setup (default 120 s) */
    /* Setup for programs without the SDK's cc_setup_complete (sim.h): a
     * console text, and/or a virtual time after which a VM counts as set
     * up. NULL / 0: the SDK call only. */
    const char *setup_marker;
    uint64_t setup_after_ns;
    /* The checker that judges each run's operation history (cc_sim_history,
     * docs/history.md) when the run itself did not fail: a violation is a
     * failure of the property cc_xchecker_message(checker). */
    enum cc_xchecker checker;
    /* SHA-256 (hex) of kernel, initrd and disk image; filled by
     * cc_xtarget_hash, checked by cc_xtarget_check. "" when absent. */
    char kernel_sha256[65], initrd_sha256[65], disk_image_sha256[65];
};
void cc_xtarget_init(struct cc_xtarget *t);
/* Hash the target's files into its *_sha256 fields. */
int cc_xtarget_hash(struct cc_xtarget *t, struct cc_err *err);
/* Check that the files now at the target's paths have the recorded hashes;
 * the message names the file, both hashes and what to do. */
int cc_xtarget_check(const struct cc_xtarget *t, struct cc_err *err);
/* cc_xtarget_check, then the files as booting them would check them
 * (cc_linux_check, cc_blk_config_check), without /dev/kvm. A target made
 * by a factory is refused (only a program with the factory can run it). */
int cc_xtarget_check_boot(const struct cc_xtarget *t, struct cc_err *err);

/* A target made by code. create makes a simulation of t->n_vms VMs, not yet
 * run: cc_sim_new(cfg) (the configuration holds the target's seed, quantum,
 * latency and the run options; copy it to change e.g. setup_marker) plus
 * cc_sim_add_vm for each VM. Every VM must reach setup (SDK
 * cc_setup_complete or the setup marker). The same target must give the
 * same simulation every time: replays depend on it. */
struct cc_xfactory {
    const char *name;               /* recorded in checkpoints and bug files */
    int (*create)(void *opaque, const struct cc_xtarget *t, const struct cc_sim_config *cfg,
                  struct cc_sim **out, struct cc_err *err);
    void *opaque;
};

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

/* JSON text (malloc'd): {"schedule": {...schedule.h form...}, "overrides":
 * [{"vm": 0, "life": 0, "index": 12, "value": 5}, ...], "stops": ["1.5s",
 * ...], "end": "3s"}. cc_recipe_parse reads it back, checked against n_vms
 * (0: unchecked); errors name src and the field ("x.json: recipe.overrides[2]
 * .vm: 7 is out of range (3 VMs)"). */
char *cc_recipe_to_json(const struct cc_recipe *r);
int cc_recipe_parse(const char *text, const char *src, unsigned n_vms, struct cc_recipe **out,
                    struct cc_err *err);

/* ---- running targets and recipes ---- */

/* A booted simulation of a target, with its snapshot at setup. */
struct cc_xrun;

struct cc_xrun_opts {
    int serial_fd[CC_SIM_MAX_VMS];  /* console copies, -1 = none */
    void (*log)(void *opaque, const char *msg);
    void *log_opaque;
    unsigned watchdog_s;
    /* Required for (and only for) targets made by a factory of this name. */
    const struct cc_xfactory *factory;
    /* A determinism log of the whole run, boot included (dlog.h; the
     * caller creates and closes it), or NULL. */
    struct cc_dlog *dlog;
    /* A determinism log of the recipe's play only (dlog.h; the caller
     * creates and closes it), or NULL. cc_bug_reproduce attaches it once
     * the fresh boot has reached setup, so it starts with the first record
     * after setup and ends with every VM's end mark (cc_vm_dlog_end); the
     * explorer's bug logs (cc_explore_opts.dlog_bugs) are made the same way
     * after restoring the setup snapshot, so the two logs of one bug are
     * the same record for record (docs/dlog.md). */
    struct cc_dlog *play_dlog;
};
void cc_xrun_opts_default(struct cc_xrun_opts *o);

/* Create the simulation (boot the kernel, or call the factory), force the
 * port doorbell, run to setup_complete of every VM and snapshot. Fails
 * (naming the VM) when a VM exits or the setup timeout passes first. */
int cc_xrun_boot(const struct cc_xtarget *t, const struct cc_xrun_opts *o, struct cc_xrun **out,
                 struct cc_err *err);
void cc_xrun_free(struct cc_xrun *x);
struct cc_sim *cc_xrun_sim(struct cc_xrun *x);

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

struct cc_xrun_result {
    struct cc_xfailure fail;
    bool all_down;                  /* every VM killed or exited */
    uint64_t end_ns;                /* where the run stopped */
    uint64_t sim_hash;              /* cc_sim_hash at the stop */
    uint64_t choices[CC_SIM_MAX_VMS];   /* random values each VM drew (this life) */
    /* The target's history checker (when the run did not fail otherwise):
     * checked = a verdict was reached (a violation is in fail);
     * check_unknown = its search budget ran out. */
    bool checked, check_unknown;
    size_t hist_ops;                /* operations in the run's history */
    /* outcome features of the history (coverage ids) */
#define CC_XRUN_MAX_OUTCOMES 32
    uint64_t outcomes[CC_XRUN_MAX_OUTCOMES];
    unsigned n_outcomes;
    /* cc_xrun_replay_to: its stop was reached (the run did not end first) */
    bool stopped;
    /* a hook called cc_sim_abort (cc_xrun_play) */
    bool aborted;
};

/* Restore the setup snapshot and play r (the segment rule above) until
 * the first failure or r's end: a replay from boot without the boot. */
int cc_xrun_replay(struct cc_xrun *x, const struct cc_recipe *r, struct cc_xrun_result *res,
                   struct cc_err *err);
/* Where cc_xrun_replay_to stops: right after exit number `exit` (> 0;
 * cc_vm_exit_count) of VM `vm`, or at the first quantum boundary at or
 * after global time at_ns (> 0), whichever comes first. Neither changes
 * what happens before the stop (sim.h, cc_sim_limits.stop_exit). */
struct cc_xstop {
    unsigned vm;
    uint64_t exit;
    uint64_t at_ns;
};
/* cc_xrun_replay, stopping at *stop unless the run fails or ends first
 * (res->stopped tells which). A stopped run is not history-checked. An
 * exit the VM had already made by setup cannot be stopped at: -ERANGE
 * with a message saying where setup was. */
int cc_xrun_replay_to(struct cc_xrun *x, const struct cc_recipe *r, const struct cc_xstop *stop,
                      struct cc_xrun_result *res, struct cc_err *err);
/* Play r on from the simulation's present state: the root (the setup
 * snapshot, cc_xrun_root) or a snapshot taken at a quantum boundary of a
 * replay of r, restored by the caller. on_boundary (may be NULL) is called
 * at every quantum boundary, as cc_sim_limits.on_boundary. A run a hook
 * ended with cc_sim_abort returns with res->aborted (not checked). The
 * time-travel debugger's forward runs. */
int cc_xrun_play(struct cc_xrun *x, const struct cc_recipe *r,
                 void (*on_boundary)(void *opaque, struct cc_sim *sim), void *opaque,
                 struct cc_xrun_result *res, struct cc_err *err);
struct cc_sim_snapshot *cc_xrun_root(struct cc_xrun *x);
/* The last run's history check (target.checker): the checker's explanation
 * and the smallest failing sub-history (JSON lines); NULL when it passed
 * or there was none. */
const char *cc_xrun_check_explain(const struct cc_xrun *x);
const char *cc_xrun_check_witness(const struct cc_xrun *x);

/* ---- modes and fault weights ---- */

enum cc_xmode {
    CC_XMODE_FAULT = 1,
    CC_XMODE_INPUT,                 /* input-tree: choice overrides */
    CC_XMODE_HYBRID,
};
const char *cc_xmode_name(enum cc_xmode m);
int cc_xmode_parse(const char *s, enum cc_xmode *out);

/* Relative weights of the fault kinds a mutation adds (0 = never).
 * vcpu: vcpu_schedule faults (schedule.h), a new seed for one VM's vCPU
 * scheduler, i.e. other thread interleavings; they matter only for
 * targets with several vCPUs and the random scheduler, so the default
 * weight is 0 (`explore run` gives them CC_XWEIGHT_VCPU for such targets
 * unless --faults says otherwise). */
struct cc_xweights {
    unsigned partition, heal, kill, restart, pause, loss, latency, duplicate, reorder,
        clock, disk, vcpu;
};
#define CC_XWEIGHT_VCPU 10
void cc_xweights_default(struct cc_xweights *w);
/* Keep only the kinds named in list ("partition,pause,kill": the field
 * names above, comma-separated), zero the others; a named kind whose
 * weight in w is 0 gets its usual weight (vcpu: CC_XWEIGHT_VCPU, others
 * 1). -EINVAL (w unchanged) for an unknown name or an empty list. */
int cc_xweights_only(struct cc_xweights *w, const char *list);

/* ---- bug files ---- */

struct cc_bug {
    unsigned number;
    struct cc_xtarget target;       /* strings owned by the bug */
    char *kernel, *initrd, *cmdline, *append, *disk_image, *factory;
    struct cc_recipe *recipe;
    struct cc_xfailure fail;
    /* where it was found */
    uint64_t round, branch;         /* branch: global count, 1-based */
    double wall_s;
    enum cc_xmode mode;
    uint64_t choices[CC_SIM_MAX_VMS];   /* random values each VM drew (last life) */
    char *minimized_from;           /* minimize: the original file */
    size_t original_size;
    /* The run's operation history (when it had one): how many operations,
     * the file beside the bug that holds it (JSON lines), and for a checker
     * failure its explanation and smallest failing sub-history (JSON
     * lines). NULL / 0 when none. */
    size_t history_ops;
    char *history_file, *history_explain, *history_witness;
    /* The history itself (not in the JSON): cc_bug_save writes it to
     * history_file beside the bug file, named after it. */
    char *history_text;
    size_t history_len;
    /* The determinism log written beside the bug file (bug_3.dlog, by the
     * explorer's dlog_bugs), named in the report; not in the JSON. NULL:
     * none. */
    char *dlog_file;
};
void cc_bug_free(struct cc_bug *b);
/* The JSON text of a bug file (malloc'd). */
char *cc_bug_to_json(const struct cc_bug *b);
/* Write atomically, with the history (bug_3.history.jsonl) and the report
 * (bug_3.txt, cc_bug_report) beside it. */
int cc_bug_save(const struct cc_bug *b, const char *path, struct cc_err *err);
/* The bug in words (malloc'd): the failure, the checker's verdict and
 * failing sub-history, the schedule, the target and the commands that
 * reproduce and minimize it (path: the bug file's). NULL: out of memory. */
char *cc_bug_report(const struct cc_bug *b, const char *path);
/* Its parts, one or a few lines each. */
void cc_bug_print_failure(FILE *f, const char *label, const struct cc_xfailure *x);
void cc_bug_print_recipe(FILE *f, const struct cc_recipe *r);
void cc_bug_print_witness(FILE *f, const char *explain, const char *witness);
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

/* Record: run recipe r on target t as the explorer does (boot to setup,
 * snapshot, then r: cc_xrun_boot, cc_xrun_replay) and, when an assertion
 * fails, make the bug (*out, number 1, found in round 0 branch 0): the
 * target with its files' hashes, r up to the failure, the failure, the
 * run's history. *out NULL when the run did not fail (res says how it
 * ended). -ERANGE when a fault comes before setup (the message says where
 * setup was). t's setup_marker is borrowed by *out (t's strings are
 * copied, that one is not). For hand-written schedules (`chaoscontrol sim
 * --bug`). */
int cc_bug_record(const struct cc_xtarget *t, const struct cc_recipe *r,
                  const struct cc_xrun_opts *o, struct cc_bug **out, struct cc_xrun_result *res,
                  struct cc_err *err);

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
    /* Client VMs (a mask): outside the fault domain, as Jepsen's control
     * node is. No fault targets them, no partition separates them from
     * anyone (they bridge every partition), reactions never pick them. */
    uint64_t clients;
    struct cc_xweights weights;
    /* Run-time only (never saved): */
    /* The memory live snapshots of frontier points may hold together
     * (bytes; 0: half the memory available at the start). Past it the
     * least recently used are dropped and re-made by replay when needed:
     * slower, same results. */
    uint64_t snapshot_mem;
    /* For every new bug, also write bug_N.dlog beside bug_N.json: a
     * determinism log (dlog.h) of the bug's recipe replayed from the setup
     * snapshot once the branch that found it has ended (so other branches
     * pay nothing), with a register dump every dlog_regs exits (0: none).
     * The records are those `chaoscontrol reproduce --bug bug_N.json
     * --dlog F` writes (cc_xrun_opts.play_dlog). */
    bool dlog_bugs;
    uint64_t dlog_regs;             /* default CC_DLOG_DEFAULT_REGS_EVERY */
    /* The target's factory (NULL: boot the target's kernel); must outlive
     * the explorer. Resuming an exploration of a factory target needs it. */
    const struct cc_xfactory *factory;
    /* Stop after the branch that is running once this many wall-clock
     * seconds have passed since the explorer started (0: no limit), or once
     * *interrupt is non-zero (a signal handler's flag; NULL: none). What is
     * done by then is saved as after a round; each branch is the same as
     * without the limit, only how many run depends on the wall clock. */
    double time_limit_s;
    const volatile sig_atomic_t *interrupt;
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
struct cc_xstate;

/* Start in o->output (which must not hold a checkpoint yet). Boots. */
int cc_explorer_new(const struct cc_xtarget *t, const struct cc_explore_opts *o,
                    struct cc_explorer **out, struct cc_err *err);
/* Continue from dir/checkpoint.json: the target, options, round count,
 * coverage, frontier and bugs come from there (plus bug files written after
 * it); o gives the number of rounds to add and the run-time knobs
 * (factory, progress, log, stop_after_bugs when non-zero). */
int cc_explorer_resume(const char *dir, const struct cc_explore_opts *o,
                       struct cc_explorer **out, struct cc_err *err);
int cc_explorer_run(struct cc_explorer *x, struct cc_err *err);
void cc_explorer_free(struct cc_explorer *x);
/* The exploration's state (valid until the explorer runs again or is
 * freed); its wall time is as of the last round. */
const struct cc_xstate *cc_explorer_state(const struct cc_explorer *x);

struct cc_explore_summary {
    unsigned rounds_done;
    uint64_t branches;
    unsigned bugs;
    size_t edges, assert_bits, frontier;
    double wall_s;
    uint64_t first_bug_branch;      /* 0: none */
    double first_bug_wall_s;
    unsigned plateau_since;         /* first round of the current run of rounds
                                       without novelty, 0: none */
};
void cc_explorer_summary(const struct cc_explorer *x, struct cc_explore_summary *s);

/* ---- the state object (checkpoint.json), for tools ---- */

/* Read dir/checkpoint.json (messages name the file and the field; a
 * missing file: ENOENT), or a checkpoint's text (len bytes, need not end in
 * NUL; name is used in messages). Checkpoints written by every earlier
 * version of format 1 load. */
int cc_xstate_load(const char *dir, struct cc_xstate **out, struct cc_err *err);
int cc_xstate_parse(const char *text, size_t len, const char *name, struct cc_xstate **out,
                    struct cc_err *err);
/* Its JSON text, checkpoint.json's form (malloc'd; NULL: out of memory). */
char *cc_xstate_to_json(const struct cc_xstate *st);
void cc_xstate_summary(const struct cc_xstate *st, struct cc_explore_summary *s);
const struct cc_xtarget *cc_xstate_target(const struct cc_xstate *st);
void cc_xstate_free(struct cc_xstate *st);

/* Checkpoint and report files of a directory, for tests and tools: the
 * checkpoint's JSON validated and summarized. */
int cc_checkpoint_peek(const char *dir, unsigned *rounds, unsigned *bugs, struct cc_err *err);
/* The checkpoint's target checked as resuming would boot it
 * (cc_xtarget_check_boot), without /dev/kvm. */
int cc_checkpoint_check_target(const char *dir, struct cc_err *err);

/* ---- one exploration shared by many workers (docs/distributed.md) ----
 *
 * The state lives in Redis (url: redis://HOST[:PORT][/DB] or
 * unix:///PATH) under the exploration's name. cc_explore_create records
 * the target and settings (o: rounds x branches is the budget of
 * branches); any number of workers, on any machines with the same files,
 * then lease branches until the budget is done; cc_explore_export writes
 * an output directory (checkpoint.json, report.txt, assertions.json,
 * coverage.svg, bug_N.json) from the shared state at any time. */
int cc_explore_create(const struct cc_xtarget *t, const struct cc_explore_opts *o,
                      const char *url, const char *name, bool *created, struct cc_err *err);

struct cc_worker_opts {
    const char *url, *name;         /* the store and the exploration */
    const char *id;                 /* this worker's name (NULL: HOST-PID) */
    const char *work_dir;           /* its own files (bug files as found) */
    uint64_t lease_ms;              /* a branch's lease (0: 600000); renewed while it runs */
    /* Local paths of the target's files (NULL: the recorded ones), checked
     * against the recorded hashes. */
    const char *kernel, *initrd, *disk_image;
    uint64_t max_branches;          /* stop after this many (0: until the budget is done) */
};
struct cc_worker_summary {
    uint64_t branches;              /* completed and counted */
    uint64_t late;                  /* completed after another worker had (not counted) */
    unsigned bugs;                  /* new bugs this worker found */
    uint64_t round_trips, bytes_out, bytes_in;  /* its conversation with Redis */
    double wall_s;
};
/* Run branches until the budget is done (or max_branches): o gives the
 * run-time knobs only (factory, log, progress, snapshot_mem). */
int cc_explore_work(const struct cc_worker_opts *w, const struct cc_explore_opts *o,
                    struct cc_worker_summary *sum, struct cc_err *err);

struct cc_shared_status {
    uint64_t next, done, budget, leased, bugs, frontier, edges, assert_bits;
    unsigned per_round;
    double wall_s;
};
int cc_explore_status(const char *url, const char *name, struct cc_shared_status *st,
                      struct cc_err *err);
int cc_explore_export(const char *url, const char *name, const char *dir,
                      struct cc_explore_summary *sum, struct cc_err *err);
/* Hand out no more branches (a time limit, an interrupt): workers finish
 * the branches they run and exit as when the budget is done. */
int cc_explore_stop(const char *url, const char *name, struct cc_err *err);
/* More rounds for a shared exploration (explore resume --workers): its
 * budget becomes the rounds begun so far plus rounds, a stop mark goes,
 * and stop_after > 0 stops it after that many more bugs (0: never).
 * *budget gets the budget in branches, *bugs the bugs found so far. */
int cc_explore_extend(const char *url, const char *name, unsigned rounds, unsigned stop_after,
                      uint64_t *budget, uint64_t *bugs, struct cc_err *err);
/* An output directory kept up to date from the shared state: sync
 * rewrites the files when the state changed since the last sync (1), else
 * does nothing (0); it fetches only what its earlier syncs did not. */
struct cc_explore_follow;
int cc_explore_follow_new(const char *url, const char *name, const char *dir,
                          struct cc_explore_follow **out, struct cc_err *err);
int cc_explore_follow_sync(struct cc_explore_follow *f, struct cc_explore_summary *sum,
                           struct cc_err *err);
void cc_explore_follow_free(struct cc_explore_follow *f);
/* A private redis-server for one machine: its append-only file (fsync
 * every second) and log in dir, a Unix socket under $TMPDIR; *url gets
 * "unix://.../redis.sock" (malloc'd). Stop: SIGTERM and wait. */
int cc_explore_redis_start(const char *dir, char **url, int *pid, struct cc_err *err);
void cc_explore_redis_stop(int pid, const char *url);

#endif
