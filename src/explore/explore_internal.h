/* Insides of src/explore/ shared between its files: JSON helpers and the
 * JSON forms of targets, failures and recipes, the parts of a run the
 * explorer reaches into, delta debugging, the wall clock. Not public. */
#ifndef CC_EXPLORE_INTERNAL_H
#define CC_EXPLORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "chaoscontrol/explore.h"

struct cc_sim_snapshot;

/* JSON helpers (recipe.c): 64-bit integers beyond int64 as decimal strings,
 * times in the schedule's form ("1500ms"), hashes as 16 hex digits. */
json_t *xj_u64(uint64_t v);
json_t *xj_time(uint64_t ns);
json_t *xj_hex(uint64_t v);
int xj_get_u64(const json_t *v, uint64_t *out);
int xj_get_time(const json_t *v, uint64_t *out);
int xj_get_hex(const json_t *v, uint64_t *out);

/* recipe.c: a recipe as a JSON value (cc_recipe_to_json's form) and back;
 * errors name src and path ("recipe", "points[3].recipe"). */
json_t *recipe_to_json(const struct cc_recipe *r);
int recipe_from_json(const json_t *j, const char *src, const char *path, unsigned n_vms,
                     struct cc_recipe **out, struct cc_err *err);

/* target.c: the target as JSON (bug files, checkpoints) and back. Strings
 * of the parsed target point into *owned (one malloc'd block per string,
 * freed with xtarget_strings_free). */
struct xtarget_strings {
    char *kernel, *initrd, *cmdline, *append, *disk_image, *factory, *setup_marker;
};
json_t *xtarget_to_json(const struct cc_xtarget *t);
int xtarget_from_json(const json_t *j, const char *src, const char *path, struct cc_xtarget *t,
                      struct xtarget_strings *owned, struct cc_err *err);
/* Copy t's strings into *owned and point t at them (-ENOMEM). */
int xtarget_own(struct cc_xtarget *t, struct xtarget_strings *owned);
void xtarget_strings_free(struct xtarget_strings *s);

/* xrun.c: fill a failure record from the first failed VM of the sim; the
 * failure's JSON form in bug files; the setup snapshot; every VM's choice
 * script set from r for its current life. */
void xrun_read_failure(struct cc_sim *sim, int vm, uint64_t sim_ns, struct cc_xfailure *f);
json_t *xfailure_to_json(const struct cc_xfailure *f);
int xfailure_from_json(const json_t *j, const char *src, const char *path,
                       struct cc_xfailure *f, struct cc_err *err);
struct cc_sim_snapshot *xrun_root(struct cc_xrun *x);
uint64_t xrun_setup_ns(const struct cc_xrun *x);

/* Called around each segment of xrun_play: before (after the scripts
 * are set), and after (before the next segment's restarts apply). */
struct xrun_hooks {
    void (*before)(void *opaque, struct cc_sim *sim, uint64_t seg_end);
    void (*after)(void *opaque, struct cc_sim *sim);
    /* at every quantum boundary (cc_sim_limits.on_boundary) */
    void (*boundary)(void *opaque, struct cc_sim *sim);
    void *opaque;
    /* stop there (cc_xrun_replay_to), or NULL */
    const struct cc_xstop *stop;
};

/* Play recipe r on x's simulation from its current time: set the schedule,
 * run the segments (chaoscontrol/explore.h), stop at the first failure or
 * at end_ns. */
int xrun_play(struct cc_xrun *x, const struct cc_recipe *r, const struct xrun_hooks *h,
              struct cc_xrun_result *res, struct cc_err *err);
/* xrun_play of r (no hooks) with the dlog d attached to x's simulation
 * for the play only: from the simulation's current state (setup) to the
 * run's end, then every VM's end mark, then detached. */
int xrun_play_dlog(struct cc_xrun *x, const struct cc_recipe *r, struct cc_dlog *d,
                   struct cc_xrun_result *res, struct cc_err *err);
int xrun_set_scripts(struct cc_sim *sim, const struct cc_recipe *r, struct cc_err *err);

/* xcheck.c: the history checker after a run (see the top of xcheck.c).
 * What the last check left for bug files, owned by the xrun: */
struct cc_xcheck_out {
    char *witness;              /* the smallest failing sub-history, or NULL */
    char *explain;              /* the checker's words, or NULL */
};
struct cc_assertion;
/* Parse the history of sim (always: for res's outcome features); judge it
 * with checker when res has no failure yet; a violation fills res->fail.
 * Out of memory leaves out's texts NULL. */
void xcheck_run(enum cc_xchecker checker, struct cc_sim *sim, struct cc_xrun_result *res,
                struct cc_xcheck_out *out);
void xcheck_clear(struct cc_xcheck_out *o);
/* The length of a bug file's path without its ".json" (bug_3.json ->
 * bug_3): the stem of the files written beside it. */
size_t xbug_stem(const char *path);
/* The outcome features of history h, added to res->outcomes. */
struct cc_history;
void xcheck_outcomes(const struct cc_history *h, struct cc_xrun_result *res);
/* The checker's table entry (the well-formedness one when well_formed). */
void xcheck_assertion(enum cc_xchecker c, bool well_formed, struct cc_assertion *a);
const struct cc_xcheck_out *xrun_check_out(const struct cc_xrun *x);
/* bug.c: the history of sim (still where the run stopped) and the last
 * check's witness and explanation into b (for cc_bug_save); -ENOMEM when
 * out of memory. */
int xbug_take_history(struct cc_bug *b, const struct cc_xcheck_out *c, struct cc_sim *sim,
                      size_t ops);

/* ddmin.c: delta debugging (Zeller): the smallest subset of items [0, n)
 * that still "fails" (test returns 1; 0 = passes, < 0 = error, which
 * stops). keep[] is in/out: on entry the items to start from (all true
 * usually), on exit the 1-minimal subset found. Tests are cached by
 * subset, so the same candidate is never run twice. Returns the number of
 * tests run or < 0. */
typedef int (*ddmin_test_fn)(void *opaque, const bool *keep, size_t n);
long ddmin_run(size_t n, bool *keep, ddmin_test_fn test, void *opaque);

/* Wall-clock seconds (CLOCK_MONOTONIC) for reports; never reaches a guest. */
double explore_now(void);

#endif
