/* The running explorer, shared by explorer.c (set-up, the round loop),
 * frontier.c (hot snapshots, picking, re-making points) and branch.c (one
 * branch: coverage, bugs, new points). It owns the exploration's state
 * (state_internal.h) and adds what only exists while it runs: the
 * simulation, the snapshots of hot points, the LRU clock, timers and the
 * caller's callbacks. Not public. */
#ifndef CC_EXPLORER_INTERNAL_H
#define CC_EXPLORER_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

#include "chaoscontrol/explore.h"
#include "chaoscontrol/sim.h"
#include "explore/state_internal.h"

#define XP_MID_MAX 3            /* points made inside one branch's window */

/* Run-time side of a point, by the point's index in st->pts. */
struct xhot {
    struct cc_sim_snapshot *snap;   /* a live snapshot (hot), or NULL */
    uint64_t last_used;             /* for evicting snapshots (LRU) */
};
/* The memory hot snapshots may hold together (cc_explore_opts.snapshot_mem,
 * or half the memory available when the explorer started). */
uint64_t frontier_snapshot_budget(const struct cc_explore_opts *o);

struct cc_explorer {
    struct cc_xstate *st;
    struct cc_explore_opts o;       /* run-time knobs (settings are in st->set) */
    uint64_t snap_budget;           /* frontier_snapshot_budget */
    char *dir;
    struct cc_xrun *run;
    struct xhot *hot;               /* parallel to st->pts */
    size_t cap_hot;

    unsigned rounds_target;
    double wall_before;             /* wall time of earlier sessions */
    double t_start;                 /* this session */
    uint64_t clock;                 /* LRU counter */
    unsigned materialized, diverged;    /* this round */
    bool stop;                      /* stop_after_bugs reached, or cut short */
    /* For a distributed worker (worker.c): the last branch's coverage is
     * copied here when set, and whether it was new to this state. */
    struct xcov *keep_cov;
    bool last_novel;
    bool worker;                    /* bugs are numbered and logged by worker.c */
};

struct round_stats {
    unsigned new_points;
    size_t new_edges, new_bits;
    unsigned new_maxima;
};

/* A message through the caller's log callback (none: dropped). */
static inline void explore_logv(const struct cc_explore_opts *o, const char *fmt, va_list ap)
{
    if (!o->log)
        return;
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    o->log(o->log_opaque, msg);
}
static inline void explorer_log(struct cc_explorer *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void explorer_log(struct cc_explorer *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    explore_logv(&x->o, fmt, ap);
    va_end(ap);
}

/* The seed of one round's (or one shared branch's) mutation stream: the
 * exploration's seed mixed with k (splitmix64's finalizer). */
static inline uint64_t xseed_mix(uint64_t seed, uint64_t mul, uint64_t k)
{
    uint64_t z = seed ^ (mul * (k + 1));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Wall time of every session until now. */
static inline double explorer_wall(const struct cc_explorer *x)
{
    return x->wall_before + explore_now() - x->t_start;
}

/* frontier.c */
/* Room for the run-time side of n points (-ENOMEM); a new point in the
 * state with its run-time side (NULL: out of memory). */
int frontier_reserve(struct cc_explorer *x, size_t n);
struct xpoint *frontier_add(struct cc_explorer *x);
struct xhot *frontier_hot(struct cc_explorer *x, const struct xpoint *p);
double frontier_weight(const struct cc_xstate *st, const struct xpoint *p);
struct xpoint *frontier_pick(struct cc_explorer *x, struct xmut *m);
/* Read what the mutators need at the simulation's current state. */
void frontier_facts(struct cc_sim *sim, struct xpoint *p);
/* Put the simulation at p: restore its snapshot, or replay its recipe
 * from the nearest hot ancestor (p becomes hot). 1: p could not be re-made
 * as recorded (the caller drops it). */
int frontier_goto(struct cc_explorer *x, struct xpoint *p, struct cc_err *err);
/* Keep at most hot_max snapshots besides the root / frontier_max points
 * (never `keep`). */
void frontier_trim_hot(struct cc_explorer *x, const struct xpoint *keep);
void frontier_trim(struct cc_explorer *x, const struct xpoint *keep);
void frontier_evict(struct cc_explorer *x, struct xpoint *p);
void frontier_free(struct cc_explorer *x);
/* Replace the state by nst (a fresh view of a shared exploration): live
 * snapshots move to the points of nst with the same id that are in its
 * frontier (the root's always), the others are dropped; the old state is
 * freed. -ENOMEM (then nothing changed). */
int frontier_adopt(struct cc_explorer *x, struct cc_xstate *nst);

/* explorer.c: an explorer of state st (taken) writing into dir, booted to
 * setup: the root point and setup's catalog and coverage are in st. */
int explorer_boot_state(struct cc_xstate *st, const char *dir, const struct cc_explore_opts *o,
                        struct cc_explorer **out, struct cc_err *err);

/* branch.c: one branch from a picked point. */
int branch_run(struct cc_explorer *x, struct xmut *m, struct round_stats *rs,
               struct cc_err *err);

#endif
