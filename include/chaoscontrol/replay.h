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

struct cc_triage_fault {
    struct cc_fault f;
    char text[256];             /* cc_fault_describe */
    enum cc_triage_verdict verdict;
    char outcome[320];          /* what the replay without it did */
    double wall_s;              /* that replay's wall time */
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
};

struct cc_triage_opts {
    unsigned tail_lines;        /* console lines per VM (default 40) */
    bool test_faults;           /* replay without each fault (default true) */
    void (*progress)(void *opaque, const char *msg);
    void *opaque;
};
void cc_triage_opts_default(struct cc_triage_opts *o);

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
