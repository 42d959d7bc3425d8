/* The exploration's state (state.c): everything an exploration knows, as
 * plain data. Not public (tools use the opaque struct cc_xstate and its
 * JSON form, chaoscontrol/explore.h).
 *
 * This is what checkpoint.json holds and what report.txt, assertions.json
 * and coverage.svg are rendered from; the running explorer (explorer.c)
 * owns one and adds the run-time side: the simulation, snapshots of hot
 * points, LRU clock, timers, callbacks. Nothing in it points at run-time
 * objects: every pointer is to heap data the state owns (strings, recipes,
 * arrays), so a state can be written to JSON, read back, merged or shipped
 * elsewhere (a distributed explorer's shared store, a dashboard) without
 * a simulation.
 *
 * JSON form (state.c, checkpoint.json), format "chaoscontrol-explore-
 * checkpoint", version 1:
 *   {"format", "version", "target": {...target.c...}, "options": {mode,
 *    branches, seed, branch_ns, frontier_max, hot_max, max_faults,
 *    choice_k, stop_after_bugs, plateau_rounds, react_percent, weights},
 *    "rounds_done", "branches_done", "react_branches", "react_faults",
 *    "mid_points", "wall_s", "setup_ns", "next_point_id", "max_bug_number",
 *    "plateau_since",
 *    "coverage": {"edges": [[index, bucket bits], ...],
 *                 "asserts": [[slot, bits, branches], ...]},
 *    "points": [{id, parent, t, sim_hash, round, depth, score, slots, picks,
 *                wins, life, next_choice, alive, recipe}, ...],  (frontier)
 *    "lineage": [[id, parent], ...],                        (evicted points)
 *    "history": [{round, branches, wall_s, edges, new_edges, assert_bits,
 *                 new_assert_bits, frontier, bugs, new_points, materialized,
 *                 diverged[, new_maxima]}, ...],
 *    "bugs": [{number, file, assertion_id, vm, message, where, round,
 *              branch, wall_s, sim_ns, dups, size}, ...],
 *    "assertions": [{id, kind, verdict, message, file, line, function, hits,
 *                    passes, fails, branches_hit, branches_failed, vms}, ...]
 *    [, "guidance": [{"message": ..., "max": ...}, ...]]
 *    [, "faults": {"partition": n, ...}]
 *    [, "links": [{from, to, sent, delivered, dropped_partition, dropped_loss,
 *                  dropped_queue, dropped_down, dropped_rx, duplicated}, ...]]}
 * Keys added after the first checkpoints are optional on reading
 * (react_percent, react_*, mid_points, plateau_since, max_bug_number,
 * guidance, new_maxima, faults, links; absent means 0 or empty) and written
 * only when they mean something new (guidance, new_maxima, faults, links:
 * when non-empty/non-zero),
 * so files of every earlier version load and write back byte for byte. */
#ifndef CC_EXPLORE_STATE_INTERNAL_H
#define CC_EXPLORE_STATE_INTERNAL_H

#include "chaoscontrol/explore.h"
#include "chaoscontrol/sim.h"
#include "explore/explore_internal.h"
#include "explore/search_internal.h"

#define XP_SLOTS 16

/* The explorer's settings that belong to the exploration (saved), as
 * opposed to run-time knobs (cc_explore_opts: rounds, output, callbacks,
 * factory). */
struct xsettings {
    enum cc_xmode mode;
    unsigned branches;
    uint64_t seed;
    uint64_t branch_ns;
    unsigned frontier_max, hot_max, max_faults, choice_k;
    unsigned stop_after_bugs, plateau_rounds, react_percent;
    uint64_t clients;               /* cc_explore_opts.clients */
    struct cc_xweights weights;
};
/* The defaults (cc_explore_opts_default's), and the settings of opts. */
void xsettings_default(struct xsettings *s);
void xsettings_from_opts(struct xsettings *s, const struct cc_explore_opts *o);

/* A point: a whole-simulation state, kept as its recipe (a replay from
 * setup gives it) plus the facts the mutators and the picker need. Frontier
 * points have their recipe; points that left the frontier keep only id,
 * parent (lineage) and t. Ids grow in creation order and the array is
 * sorted by id. */
struct xpoint {
    uint64_t id, parent;            /* parent 0: none (the root) */
    struct cc_recipe *recipe;       /* NULL once evicted */
    uint64_t t;
    uint64_t sim_hash;              /* cc_sim_hash at t, checked when re-made */
    uint64_t life[CC_SIM_MAX_VMS], next_choice[CC_SIM_MAX_VMS];
    bool alive[CC_SIM_MAX_VMS];
    unsigned round;                 /* added in */
    unsigned depth;
    double score;                   /* novelty when added */
    size_t slots[XP_SLOTS];         /* assertion slots it reached first */
    size_t n_slots;
    uint64_t picks, wins;           /* times picked; times a child was new */
    bool in_frontier;
};

/* The merged assertion table: counts summed over branches (deltas). */
struct xassert {
    uint64_t id;
    uint32_t kind, line;
    char *message, *file, *function;
    uint64_t hits, passes, fails;
    uint64_t branches_hit, branches_failed;
    uint64_t vms_hit;               /* mask */
};

struct xround {
    unsigned round;
    uint64_t branches;
    double wall_s;                  /* this round */
    size_t edges, new_edges, assert_bits, new_assert_bits, frontier;
    unsigned bugs, new_points, materialized, diverged;
    unsigned new_maxima;            /* branches that raised a guidance maximum */
};

struct xbug {
    unsigned number;
    uint64_t id;                    /* assertion id */
    unsigned vm;
    char *message, *where;
    unsigned round;
    uint64_t branch;
    double wall_s;
    uint64_t sim_ns;
    uint64_t dups;                  /* later branches failing the same assertion */
    size_t size;                    /* faults + overrides */
};

/* Traffic of one direction of one link, summed over branches: each
 * branch adds what its cc_link_stats grew by from its start to its end. */
struct xlink {
    uint64_t sent, delivered, dropped_partition, dropped_loss, dropped_queue, dropped_down,
        dropped_rx, duplicated;
};
/* Its counters by index, with their JSON names (the checkpoint's "links"),
 * in the struct's order. */
#define XLINK_FIELDS 8
struct xlink_field {
    const char *name;
    size_t offset;
};
extern const struct xlink_field xlink_fields[XLINK_FIELDS];
static inline uint64_t xlink_get(const struct xlink *l, unsigned k)
{
    return *(const uint64_t *)((const char *)l + xlink_fields[k].offset);
}

/* The largest value any branch reported for a cc_guidance_maximize message
 * (over every VM; values reached by setup count as seen). */
struct xguidance {
    char *message;
    int64_t max;
};

struct cc_xstate {
    struct cc_xtarget target;       /* strings point into `strings` */
    struct xtarget_strings strings;
    struct xsettings set;

    unsigned rounds_done;
    uint64_t branches_done;
    uint64_t react_branches;        /* branches with a reactive rule */
    uint64_t react_faults;          /* faults their rules fired */
    uint64_t mid_points;            /* points made inside a window */
    double wall_s;                  /* wall time of every session, as of the last update */
    uint64_t setup_ns;              /* global time setup completed at */
    uint64_t next_id;               /* the next point's id */
    unsigned max_bug_number;
    unsigned plateau_since;         /* first round of the current plateau, 0: none */

    struct covmap cov;
    struct xpoint *pts;             /* every point ever made, by id */
    size_t n_pts, cap_pts;
    struct xassert *as;
    size_t n_as, cap_as;
    struct xround *hist;
    size_t n_hist, cap_hist;
    struct xbug *bugs;              /* in number order */
    size_t n_bugs, cap_bugs;
    struct xguidance *gd;
    size_t n_gd, cap_gd;
    /* For the dashboard: faults branches injected in their own windows, by
     * type, and the links' traffic (n_vms x n_vms, from * n_vms + to; NULL
     * until a branch sent something). */
    uint64_t faults[CC_FAULT_TYPE_END];
    struct xlink *links;
};

/* An empty state for target t (its strings copied) and settings s; NULL
 * when out of memory. */
struct cc_xstate *xstate_new(const struct cc_xtarget *t, const struct xsettings *s);

/* JSON form (above). xstate_from_json validates: format and version,
 * required fields and their types, the root point, unique ids, per-VM
 * arrays against the VM count, every recipe. Messages start with src. */
json_t *xstate_to_json(const struct cc_xstate *st);
int xstate_from_json(const json_t *j, const char *src, struct cc_xstate **out,
                     struct cc_err *err);
/* The merged assertion table as assertions.json and the checkpoint hold it. */
json_t *xstate_asserts_json(const struct cc_xstate *st);
/* One round of the history, one bug, and the links' traffic (entries with
 * any) as the checkpoint holds them (the dashboard's view adds to them). */
json_t *xstate_round_json(const struct xround *h);
json_t *xstate_bug_json(const struct xbug *b);
json_t *xstate_links_json(const struct cc_xstate *st);
/* The settings as the checkpoint's "options" hold them, and back
 * (validated; messages start with src). */
json_t *xsettings_to_json(const struct xsettings *s);
int xsettings_from_json(const json_t *op, const char *src, struct xsettings *s,
                        struct cc_err *err);
/* One frontier point as the checkpoint's "points" hold it (with recipe). */
json_t *xstate_point_json(const struct xpoint *p, unsigned n_vms);

/* Points: find by id (binary search), add one (fresh id, zeroed; NULL when
 * out of memory; pointers into the array move), count the frontier, and
 * evict one (it keeps id, parent and t). */
struct xpoint *xstate_point_find(struct cc_xstate *st, uint64_t id);
struct xpoint *xstate_point_add(struct cc_xstate *st);
size_t xstate_frontier_size(const struct cc_xstate *st);
void xstate_point_evict(struct xpoint *p);

/* The table entry of an assertion, added (catalog data, zero counts) if
 * new: its index, or -1 when out of memory. */
int xstate_assert_index(struct cc_xstate *st, const struct cc_assertion *a);
/* Append a round to the history / a bug to the list (kept in number
 * order; message and where are copied). -ENOMEM. */
int xstate_round_add(struct cc_xstate *st, const struct xround *h);
int xstate_bug_add(struct cc_xstate *st, const struct xbug *b);
bool xstate_has_bug(const struct cc_xstate *st, unsigned number);
/* A maximize-guidance value seen: returns true (and records it) when it
 * is above the largest so far for that message, or the message is new;
 * -ENOMEM as false with *oom set. */
bool xstate_guidance_raise(struct cc_xstate *st, const char *message, int64_t value, bool *oom);
/* A branch's traffic: after - before (a counter that went down, e.g. by a
 * restore, counts from 0), added to the links table. -ENOMEM. */
int xstate_links_add(struct cc_xstate *st, const struct cc_link_stats *before,
                     const struct cc_link_stats *after);

/* ---- the state's files ---- */

/* checkpoint.c: dir/checkpoint.json written atomically and read back (a
 * missing file: ENOENT, with a message that asks whether dir is an
 * exploration's output); bug_N.json files in dir newer than the state
 * added to it (a run killed mid-round), each named through log. */
int checkpoint_save(const struct cc_xstate *st, const char *dir, struct cc_err *err);
int checkpoint_load(const char *dir, struct cc_xstate **out, struct cc_err *err);
int checkpoint_adopt_bugs(struct cc_xstate *st, const char *dir,
                          void (*log)(void *opaque, const char *msg), void *opaque,
                          struct cc_err *err);

/* report.c: report.txt, coverage.svg and assertions.json in dir, from the
 * state alone; the first two also as text (malloc'd, NULL: out of memory). */
int report_write(const struct cc_xstate *st, const char *dir, struct cc_err *err);
char *report_text(const struct cc_xstate *st);
char *report_svg(const struct cc_xstate *st);

#endif
