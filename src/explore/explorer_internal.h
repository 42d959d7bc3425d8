/* The explorer's state, shared by explorer.c (the loop, frontier, bugs),
 * checkpoint.c (checkpoint.json) and report.c (report.txt, coverage.svg,
 * assertions.json). Not public. */
#ifndef CC_EXPLORER_INTERNAL_H
#define CC_EXPLORER_INTERNAL_H

#include "chaoscontrol/explore.h"
#include "chaoscontrol/sim.h"
#include "explore/explore_internal.h"

#define XP_SLOTS 16
#define XP_MID_MAX 3            /* points made inside one branch's window */

/* A frontier point: a whole-simulation state (hot: with a live snapshot;
 * cold: only its recipe, re-made by replaying from the nearest hot
 * ancestor) and the facts the mutators and the picker need. Points that
 * leave the frontier keep only id, parent and t (lineage). */
struct xpoint {
    uint64_t id, parent;            /* parent 0: none (the root) */
    struct cc_recipe *recipe;       /* NULL once evicted */
    uint64_t t;
    uint64_t sim_hash;
    struct cc_sim_snapshot *snap;
    uint64_t life[CC_SIM_MAX_VMS], next_choice[CC_SIM_MAX_VMS];
    bool alive[CC_SIM_MAX_VMS];
    unsigned round;                 /* added in */
    unsigned depth;
    double score;                   /* novelty when added */
    size_t slots[XP_SLOTS];         /* assertion slots it reached first */
    size_t n_slots;
    uint64_t picks, wins;           /* times picked; times a child was new */
    uint64_t last_used;             /* for evicting snapshots (LRU) */
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

struct cc_explorer {
    struct cc_xtarget target;
    struct xtarget_strings strings; /* owned copies of target strings */
    struct cc_explore_opts o;
    char *dir;
    struct cc_xrun *run;
    uint64_t setup_ns;

    struct cc_covmap cov;
    struct xpoint *pts;             /* every point ever made, by creation */
    size_t n_pts, cap_pts;
    uint64_t next_id;

    struct xassert *as;
    size_t n_as, cap_as;

    struct xround *hist;
    size_t n_hist, cap_hist;
    struct xbug *bugs;
    size_t n_bugs, cap_bugs;
    unsigned max_bug_number;

    unsigned rounds_done, rounds_target;
    uint64_t branches_done;
    double wall_before;             /* wall time of earlier sessions */
    double t_start;                 /* this session */
    uint64_t clock;                 /* LRU counter */
    unsigned materialized, diverged;    /* this round */
    bool stop;                      /* stop_after_bugs reached */
    unsigned plateau_since;         /* first round of the current plateau, 0: none */
    uint64_t react_branches;        /* branches with a reactive rule */
    uint64_t react_faults;          /* faults their rules fired */
    uint64_t mid_points;            /* points made inside a window */
};

/* explorer.c */
struct xpoint *xp_find(struct cc_explorer *x, uint64_t id);
struct xpoint *xp_add(struct cc_explorer *x);
int xa_find_or_add(struct cc_explorer *x, const struct cc_assertion *a);
double xp_weight(const struct cc_explorer *x, const struct xpoint *p);

/* checkpoint.c */
int xcheckpoint_save(struct cc_explorer *x, struct cc_err *err);
int xcheckpoint_load(struct cc_explorer *x, const char *dir, struct cc_err *err);
int xbugs_adopt(struct cc_explorer *x, struct cc_err *err);
json_t *xassert_table_json(const struct cc_explorer *x);

/* report.c */
int xreport_write(struct cc_explorer *x, struct cc_err *err);

#endif
