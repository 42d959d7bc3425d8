/* libchaoscontrol: the time-travel debugger (`chaoscontrol debug`).
 *
 * Serves the GDB remote protocol for one VM of a deterministic replay of a
 * bug file: registers, memory, software and hardware breakpoints, write
 * and access watchpoints, single step, continue, and reverse step and
 * reverse continue (GDB's `bs` and `bc` packets, `reverse-stepi` and
 * `reverse-continue`).
 *
 * Positions. Between two exits a vCPU runs the same instructions in every
 * replay, and the debugger's traps are not exits (vm.h, "guest
 * debugging"). So a position of the debugged VM is its life (restarts),
 * the number of its last exit, and the traps taken since: a list of
 * "single-step n instructions" and "run under breakpoint set S until the
 * n-th trap". Going to a position restores the latest checkpoint before it
 * (a snapshot of the whole simulation, taken at quantum boundaries every
 * checkpoint_ns of virtual time while the replay runs forward), replays
 * to the exit with no traps, then takes the traps again.
 *
 * reverse-continue from position P: replay from the checkpoint before P
 * to P with the breakpoints in, noting every hit; the last hit before P
 * is where it stops (no hit: the checkpoint before, and so on; none at
 * all: the start of the replay, which GDB reports as "no more reverse
 * execution history"). reverse-step: the instruction before P, found by
 * single-stepping from P's exit (or from the exit before it) to P.
 *
 * The replay starts at the bug's setup snapshot (what comes before setup
 * cannot be replayed) and ends at its end or failure. Nothing here writes
 * to the guest: memory and register writes are refused, so the replay
 * stays the recorded execution. */
#ifndef CHAOSCONTROL_DEBUG_H
#define CHAOSCONTROL_DEBUG_H

#include <stdbool.h>
#include <stdint.h>

#include "chaoscontrol/err.h"
#include "chaoscontrol/explore.h"

struct cc_debugger_opts {
    unsigned vm;                    /* the VM to debug */
    uint64_t checkpoint_ns;         /* virtual time between checkpoints (default 100 ms) */
    unsigned max_checkpoints;       /* kept at most (default 64; thinned evenly) */
    uint64_t max_steps;             /* a reverse step's search bound (default 2,000,000) */
    void (*log)(void *opaque, const char *msg);
    void *opaque;
};
void cc_debugger_opts_default(struct cc_debugger_opts *o);

/* Statistics of a session (for notes and tests). */
struct cc_debugger_stats {
    uint64_t packets, reverse_continues, reverse_steps, restores, replay_runs;
    uint64_t checkpoints, checkpoint_bytes, traps;
    double reverse_wall_s;          /* wall time spent in reverse commands */
};

/* Serve one GDB connection on fd (a connected socket) for the replay of r
 * on x (booted with cc_xrun_boot; the debugger restores its root first)
 * until GDB detaches, kills or hangs up. 0, or -errno with err filled (a
 * replay that failed, an I/O error). */
int cc_debugger_serve(struct cc_xrun *x, const struct cc_recipe *r, int fd,
                      const struct cc_debugger_opts *o, struct cc_debugger_stats *stats,
                      struct cc_err *err);

#endif
