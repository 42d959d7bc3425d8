/* The explorer's search machinery, shared inside src/explore/: coverage
 * maps and novelty (covmap.c), the mutators (mutate.c) and reactive faults
 * (react.c). Not public. */
#ifndef CC_EXPLORE_SEARCH_INTERNAL_H
#define CC_EXPLORE_SEARCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/explore.h"
#include "chaoscontrol/schedule.h"

/* ---- coverage (covmap.c) ----
 *
 * One branch's coverage: the bucketed union of every VM's edge bitmap and
 * the assertion-state bits it reached. */
#define XCOV_ASSERT_SIZE 4096u

struct xcov {
    uint8_t edges[CC_COVERAGE_SIZE];
    uint8_t asserts[XCOV_ASSERT_SIZE];
};
void xcov_clear(struct xcov *c);
/* Fold one VM's raw hit-count bitmap in (bucketed). */
void xcov_add_edges(struct xcov *c, const uint8_t *raw);
/* Assertion-state bits: per (assertion, VM): reached, passed (condition
 * held), failed; per assertion over all VMs: the AFL bucket of how many
 * times a SOMETIMES/REACHABLE passed (the count delta). */
#define XCOV_HIT 1u
#define XCOV_PASS 2u
#define XCOV_FAIL 4u
void xcov_add_assert(struct xcov *c, uint64_t id, unsigned vm, unsigned bits);
void xcov_add_assert_count(struct xcov *c, uint64_t id, uint64_t passes);
size_t xcov_assert_slot(uint64_t id, unsigned vm);

/* The global "virgin" map: everything any branch reached. */
struct covmap {
    uint8_t edges[CC_COVERAGE_SIZE];
    uint8_t asserts[XCOV_ASSERT_SIZE];
    uint32_t assert_hits[XCOV_ASSERT_SIZE];     /* branches that set each slot */
    size_t n_edges, n_assert_bits;
};
struct xnovelty {
    size_t new_edges;               /* edges never seen */
    size_t new_buckets;             /* known edges, new hit-count bucket */
    size_t new_assert_bits;
    size_t assert_slots[16];        /* slots with new bits (first 16) */
    size_t n_assert_slots;
    size_t new_maxima;              /* guidance values above their maximum so far */
};
void covmap_init(struct covmap *m);
/* Merge a branch in; fills what was new. Returns true if anything was. */
bool covmap_merge(struct covmap *m, const struct xcov *c, struct xnovelty *nv);
/* Would merging c add anything? (no change) */
bool covmap_is_new(const struct covmap *m, const struct xcov *c);
size_t covmap_edges(const struct covmap *m);
size_t covmap_assert_bits(const struct covmap *m);

/* ---- mutators (mutate.c) ---- */

/* What the mutator needs to know about the point a branch starts from. */
struct xpoint_info {
    unsigned n_vms;
    uint64_t t0;                    /* the branch starts here ... */
    uint64_t t1;                    /* ... and ends here */
    uint64_t life[CC_SIM_MAX_VMS];
    uint64_t next_choice[CC_SIM_MAX_VMS];
    /* re-mutation: the choices the re-mutated point's own branch had made
     * by its end (its next_choice in the same life; 0 if none or not) */
    uint64_t made[CC_SIM_MAX_VMS];
    bool alive[CC_SIM_MAX_VMS];     /* running or paused at t0 */
    uint64_t clients;               /* VMs no fault targets (cc_explore_opts) */
};

/* The mutator's random stream (deterministic per seed). */
struct xmut;
struct xmut *xmut_new(uint64_t seed, const struct cc_xweights *w);
void xmut_free(struct xmut *m);
uint64_t xmut_below(struct xmut *m, uint64_t n);
double xmut_unit(struct xmut *m);

/* Add 1..max_faults new faults in (t0, t1] to r's schedule. */
int xmut_faults_fresh(struct xmut *m, struct cc_recipe *r, const struct xpoint_info *p,
                      unsigned max_faults, struct cc_err *err);
/* Mutate the faults of r in (t0, t1]: add, remove, shift in time, or
 * retarget (another VM, side, rate or duration); 1..max_ops operations. */
int xmut_faults_mutate(struct xmut *m, struct cc_recipe *r, const struct xpoint_info *p,
                       unsigned max_ops, struct cc_err *err);
/* Override up to k of the next choices of one or more live VMs (values
 * uniform, or 0, or copied between VMs so that their draws coincide). */
int xmut_inputs(struct xmut *m, struct cc_recipe *r, const struct xpoint_info *p, unsigned k,
                struct cc_err *err);
/* One random fault of the weighted kinds at time at (used by the above). */
void xmut_random_fault(struct xmut *m, const struct xpoint_info *p, uint64_t at,
                       struct cc_fault *f);

/* ---- reactive faults (react.c) ----
 *
 * A fault-mode branch may carry a reactive rule besides its scheduled
 * faults: the explorer watches the traffic at quantum boundaries and, when
 * a VM becomes a hub (within the last 60 ms it sent frames to every other
 * VM, as a leader's heartbeats or a candidate's vote requests do), cuts it
 * off from the rest or pauses it after a delay; then waits for the next new
 * hub, up to XREACT_MAX times. This is the "isolate the leader" nemesis
 * without asking the system who leads: a protocol-agnostic guess from who
 * talks to everyone. A firing becomes an ordinary fault at the boundary's
 * time (cc_sim_inject_fault) and is added to the branch's recipe, so
 * replays, bug files and minimization need no rule. */
#define XREACT_MAX 4
#define XREACT_CHECK_NS (10 * CC_MSEC)  /* traffic is looked at every 10 ms */
#define XREACT_WINDOW 6                 /* ... over the last 6 looks (60 ms) */

struct xreact_step {
    uint64_t delay_ns;              /* after the hub appears */
    uint64_t pause_ns;              /* > 0: pause it this long; 0: cut it off */
    uint64_t cut_ns;                /* cut off this long; 0: until another partition */
    uint32_t pick;                  /* which of several new hubs */
};

struct xreact {
    unsigned n_vms, n_steps, fired;
    struct xreact_step step[XREACT_MAX];
    uint64_t next_check;
    unsigned looks;                 /* samples taken */
    uint64_t *ring;                 /* (XREACT_WINDOW + 1) samples of n x n sent counts */
    uint64_t hubs;                  /* hub mask at the last look */
    uint64_t clients;               /* never targets, not counted */
    int target;                     /* pending firing: VM, -1 none */
    uint64_t fire_at;
};

/* Draw a rule (1..3 steps) from m. n_vms < 3: no rule (n_steps 0). */
void xreact_plan(struct xmut *m, unsigned n_vms, struct xreact *r);
/* Ready r (after xreact_plan or with steps filled in) for a run. */
/* clients: VMs that are never targets and whose traffic does not count
 * (a hub talks to every other VM outside clients). */
int xreact_start(struct xreact *r, unsigned n_vms, uint64_t clients);
void xreact_free(struct xreact *r);
/* Does r want to look at time now? (cheap; every boundary) */
bool xreact_due(const struct xreact *r, uint64_t now);
/* Look at the cumulative frames sent, sent[from * n + to], at time now;
 * VMs in mask `skip` (already cut off from everyone) are no targets.
 * Returns 1 and fills f (a fault at now) when a firing is due, else 0. */
int xreact_look(struct xreact *r, uint64_t now, const uint64_t *sent, uint64_t skip,
                struct cc_fault *f);
/* The hubs (mask) at the last look. */
uint64_t xreact_hubs(const struct xreact *r);

#endif
