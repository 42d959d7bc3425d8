/* libchaoscontrol: looking inside a stopped replay, and triage reports of
 * bug files.
 *
 * `chaoscontrol replay` replays a bug file (explore.h, cc_xrun_replay_to)
 * to one exit of one VM or to a virtual time and shows what is there:
 *
 *   uint64_t regs[CC_REPLAY_NREGS];
 *   cc_replay_regs(vm, regs, &err);          // the dlog's register order
 *   struct cc_guest_task t;
 *   cc_guest_task(vm, "build/kernel/vmlinux", &t);   // best effort
 *   size_t from = cc_text_tail(serial, len, 20);     // the last 20 lines
 *
 * `chaoscontrol triage` turns a bug file into a report (struct cc_triage,
 * filled by cc_triage_run; rendered as Markdown, JSON and an SVG timeline
 * by the functions below, which need no KVM). Nothing here is
 * thread-safe. */
#ifndef CHAOSCONTROL_REPLAY_H
#define CHAOSCONTROL_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"
#include "chaoscontrol/explore.h"
#include "chaoscontrol/sim.h"

struct cc_vm;

/* ---- a stopped VM ---- */

/* The registers of a dlog register dump, in its order (cc_dlog_reg_name):
 * rax .. r15, rip, rflags, cr0, cr2, cr3, cr4, cr8, efer, the cs ss ds es
 * fs gs selectors, fs base, gs base; read with KVM_GET_REGS/SREGS as KVM
 * reports them now (a port or MMIO read of the last exit is not yet
 * completed into the registers, as in the dlog). */
#define CC_REPLAY_NREGS 32
int cc_replay_regs(struct cc_vm *vm, uint64_t regs[CC_REPLAY_NREGS], struct cc_err *err);

/* The guest's current task, found with the kernel's symbols (an ELF
 * vmlinux with a symbol table): `current_task` (a plain variable in a
 * kernel without CONFIG_SMP, as ours; per CPU at the GS base otherwise),
 * read through the guest's page tables. The kernel has no debug info, so
 * the task_struct offsets are found in init_task: comm where "swapper"
 * is, pid just before real_parent (found as the pointers to init_task
 * itself that init_task's real_parent, parent, sibling list and
 * group_leader hold; its children list is not empty after boot). ok false with why
 * filled when any of it fails (no symbols, another kernel, user mode with
 * an unmapped address, ...). */
struct cc_guest_task {
    bool ok;
    char comm[17];
    int64_t pid;
    uint64_t task;              /* the task_struct's address */
    bool user_mode;             /* the vCPU was in user mode (CPL 3) */
    char why[256];              /* !ok: why not */
};
void cc_guest_task(struct cc_vm *vm, const char *vmlinux, struct cc_guest_task *out);

/* The offset in s[0, len) where its last `lines` lines begin (a final
 * line without a newline counts). */
size_t cc_text_tail(const uint8_t *s, size_t len, unsigned lines);
/* A console excerpt made safe for reports (Markdown, JSON): a malloc'd,
 * NUL-terminated copy of s[0, len) in which every byte other than
 * printable ASCII, newline and tab becomes '.' and carriage returns go.
 * NULL when out of memory. */
char *cc_text_clean(const uint8_t *s, size_t len);

/* ---- triage ---- */

enum cc_triage_verdict {
    CC_TRIAGE_UNKNOWN = 0,      /* not tested (or the replay failed) */
    CC_TRIAGE_NECESSARY,        /* without it the failure disappears */
    CC_TRIAGE_INCIDENTAL,       /* without it the same assertion still fails */
};
const char *cc_triage_verdict_name(enum cc_triage_verdict v);

/* ---- counterfactuals ----
 *
 * Besides removing each fault, triage replays the bug with that fault
 * moved by each of a list of shifts (default CC_TRIAGE_DEFAULT_SHIFTS:
 * 1 s, 100 ms and 10 ms earlier and later). A fault with a duration moves
 * as a whole; a partition without one moves with the heal that ends it
 * (cc_triage_partner). A moved fault must stay at or after setup and
 * before the bug's end; a moved heal after its partition's start:
 * otherwise that shift is not run. A run with a fault moved later by d
 * runs d longer than the bug, so the failure keeps its distance from the
 * fault. Each replay starts from the setup snapshot, or with
 * from_snapshots from the last snapshot taken, during the replay of the
 * bug, at a quantum boundary before the first change (the
 * first boundary within CC_TRIAGE_SNAP_LEAD_NS before it, else the first
 * within 100 ms; from the setup snapshot when there is none): everything
 * before that boundary is the same in both runs, so the result is the same
 * as a replay from setup (the JSON's sim_hash shows it). */
enum cc_triage_cf_result {
    CC_TRIAGE_CF_NOT_RUN = 0,   /* out of range (why_not), or not tested */
    CC_TRIAGE_CF_FAILS,         /* the same assertion still fails */
    CC_TRIAGE_CF_GONE,          /* the run reaches its end without a failure */
    CC_TRIAGE_CF_OTHER,         /* another assertion fails instead */
};
/* "not_run", "still_fails", "disappears", "other_failure" */
const char *cc_triage_cf_name(enum cc_triage_cf_result r);

#define CC_TRIAGE_MAX_SHIFTS 16
#define CC_TRIAGE_DEFAULT_SHIFTS "-1s,-100ms,-10ms,10ms,100ms,1s"
#define CC_TRIAGE_SNAP_LEAD_NS (10 * CC_MSEC)

/* One counterfactual replay of one fault: removed (shift_ns 0, removed
 * true) or moved by shift_ns. */
struct cc_triage_cf {
    bool removed;
    int64_t shift_ns;
    uint64_t at_ns;             /* moved: the fault's new time */
    enum cc_triage_cf_result result;
    char why_not[96];           /* not run: why */
    char outcome[320];          /* what the run did */
    uint64_t from_ns;           /* where the replay started (setup: the root) */
    uint64_t end_ns;            /* where it stopped */
    uint64_t sim_hash;          /* cc_sim_hash there */
    double wall_s;
};

struct cc_triage_fault {
    struct cc_fault f;
    char text[256];             /* cc_fault_describe */
    enum cc_triage_verdict verdict;
    char outcome[320];          /* what the replay without it did */
    double wall_s;              /* that replay's wall time */
    /* counterfactuals: without (the replay above, as a record) and moved */
    struct cc_triage_cf without;
    struct cc_triage_cf shifts[CC_TRIAGE_MAX_SHIFTS];  /* in the order of cc_triage.shifts */
    long partner;               /* the heal it moves with (or, for a heal, its
                                   partition), -1: none */
    /* cc_triage_summarize: the shifts around 0 with which it still fails
     * (0 counts: the bug itself) and whether a tested shift beyond each
     * edge made the failure disappear (the window is bounded there) */
    int64_t win_lo, win_hi;
    bool win_lo_bounded, win_hi_bounded;
    char summary[768];          /* the cause in a sentence */
};

struct cc_triage_vm {
    char *console_tail;         /* the last lines before the failure (malloc'd) */
    size_t console_bytes;       /* the whole console's size */
    unsigned tail_lines;
    char state[32];             /* running, paused, killed, exited */
    uint64_t vtime, exits, restarts;
};

struct cc_triage_link {
    unsigned from, to;
    struct cc_link_stats st;
};

struct cc_triage {
    const struct cc_bug *bug;   /* borrowed */
    char *bug_path;
    /* the replay of the bug itself */
    bool reproduced;
    char repro_diff[512];
    struct cc_xfailure replayed;
    uint64_t end_ns;
    unsigned n_vms;
    struct cc_triage_vm vm[CC_SIM_MAX_VMS];
    struct cc_triage_link *links;   /* every ordered pair that carried traffic */
    size_t n_links;
    struct cc_sim_log_entry *log;   /* the run log (faults, setup, stops) */
    size_t n_log;
    struct cc_triage_fault *faults; /* the recipe's, in schedule order */
    size_t n_faults;
    bool faults_tested;         /* one replay per fault was run */
    uint64_t setup_ns;          /* when setup completed (global) */
    double wall_s;
    /* counterfactuals */
    int64_t shifts[CC_TRIAGE_MAX_SHIFTS];  /* ascending, no 0 */
    size_t n_shifts;
    bool shifts_tested;
    bool from_snapshots;        /* replays started from snapshots before the change */
    size_t snapshots;           /* snapshots taken during the bug's replay */
    double snapshot_wall_s;     /* the time they took */
    double cf_wall_s;           /* all counterfactual replays (removals included) */
};

struct cc_triage_opts {
    unsigned tail_lines;        /* console lines per VM (default 40) */
    bool test_faults;           /* replay without each fault (default true) */
    /* the shifts to try (ascending or not, no 0; default: the parse of
     * CC_TRIAGE_DEFAULT_SHIFTS); n_shifts 0 and shifts NULL: the default,
     * n_shifts 0 and shifts non-NULL: none. Only with test_faults. */
    const int64_t *shifts;
    size_t n_shifts;
    /* start each counterfactual replay from a snapshot before its first
     * change, taken during the bug's replay (default false: from the setup
     * snapshot; the results are the same, and in the QEMU test host the
     * snapshots cost more than they save: docs/replay.md) */
    bool from_snapshots;
    void (*progress)(void *opaque, const char *msg);
    void *opaque;
};
void cc_triage_opts_default(struct cc_triage_opts *o);

/* Parse a shift list: "none", or comma-separated signed times ("-1s,
 * -100ms,10ms,+1s"; cc_time_parse's units), each non-zero, at most
 * CC_TRIAGE_MAX_SHIFTS, no repeats; stored ascending. -EINVAL with a
 * message naming the bad item. */
int cc_triage_parse_shifts(const char *list, int64_t *out, size_t *n, struct cc_err *err);

/* For a partition without a duration, the index of the heal that ends it
 * (the first heal after it, unless another partition comes first); for
 * such a heal, the index of that partition; else -1. */
long cc_triage_partner(const struct cc_schedule *s, size_t i);

/* The schedule with fault i moved by d ns (with its partner heal when i is
 * a partition). Every moved fault must land in [lo, hi), and a moved heal
 * after its partition: -ERANGE otherwise, with why in err. *first: the
 * earliest time at which the two schedules differ. *out is malloc'd. */
int cc_triage_shift_schedule(const struct cc_schedule *s, size_t i, int64_t d, uint64_t lo,
                             uint64_t hi, struct cc_schedule **out, uint64_t *first,
                             struct cc_err *err);

/* A shift in words: "10 ms", "1.5 s", "250 us" (its magnitude). */
void cc_triage_shift_text(int64_t d, char *buf, size_t len);

/* From the counterfactual results of every fault: the verdicts (from
 * the removal), the windows and the summary sentences. */
void cc_triage_summarize(struct cc_triage *t);

/* Boot the bug's target once, replay the bug (with its consoles), then
 * replay it once without each fault. The bug must outlive *out. */
int cc_triage_run(const struct cc_bug *b, const char *bug_path, const struct cc_xrun_opts *ro,
                  const struct cc_triage_opts *o, struct cc_triage **out, struct cc_err *err);
void cc_triage_free(struct cc_triage *t);

/* Renderings (malloc'd, NULL when out of memory): the Markdown report
 * (svg_name: the SVG's file name to link, or NULL), the JSON object, and
 * an SVG timeline (a lane per VM, a bar per fault over its duration, the
 * failure marked). */
char *cc_triage_markdown(const struct cc_triage *t, const char *svg_name);
char *cc_triage_json(const struct cc_triage *t);
char *cc_triage_svg(const struct cc_triage *t);
/* triage.md, triage.json and timeline.svg in dir (created if missing),
 * each written atomically. */
int cc_triage_write(const struct cc_triage *t, const char *dir, struct cc_err *err);

#endif
