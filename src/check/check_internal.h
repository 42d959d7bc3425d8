/* Internals of the history module and its checkers (src/check/): the
 * history's tables, the per-key search and the witness shrinker. */
#ifndef CC_CHECK_INTERNAL_H
#define CC_CHECK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "chaoscontrol/check.h"
#include "chaoscontrol/history.h"

#define HIST_NONE UINT32_MAX        /* no event / no value */
#define HIST_NULL 0u                /* value id of null: the key is absent */

/* Interned strings: id -> string, string -> id. */
struct strtab {
    char **s;
    size_t n, cap;
    uint32_t *slot;                 /* open addressing: id + 1, 0 = empty */
    size_t n_slot;
};

/* One line with an event. */
struct hist_event {
    uint64_t time;
    uint32_t process, key, value;   /* value: HIST_NONE when the line has none */
    uint32_t line, op;
    uint8_t type, f;                /* enum cc_hist_type, enum cc_hist_f */
    json_t *extra;                  /* the line's other fields, NULL when none */
};

/* One operation. arg/arg2: write and add: the value; cas: old and new;
 * read: the value read (ok only, else HIST_NONE). */
struct hist_op {
    uint64_t call, ret;             /* ret = CC_HIST_NEVER unless ok or fail */
    uint32_t inv, done;             /* event indexes; done = HIST_NONE while open */
    uint32_t process, key, arg, arg2;
    uint8_t f, status;              /* status: CC_HIST_INVOKE while open */
};

struct proc_slot {
    uint32_t process, open;         /* open: op index or HIST_NONE */
    uint64_t last_done;             /* time of its last completion */
    bool used;
};

struct cc_history {
    char *src;                      /* for messages; NULL: "line N" alone */
    struct hist_event *ev;
    size_t n_ev, cap_ev;
    struct hist_op *op;
    size_t n_op, cap_op;
    struct strtab keys, values;     /* values: compact JSON text; id 0 = "null" */
    struct proc_slot *proc;
    size_t n_proc, cap_proc;        /* open addressing over process */
    uint32_t n_lines;
};

const char *history_value(const struct cc_history *h, uint32_t id);
const char *history_key(const struct cc_history *h, uint32_t id);
/* A new history with the events of ops[0..n) (op indexes, any order), in
 * their original order and with their original line numbers. */
struct cc_history *history_subset(const struct cc_history *h, const uint32_t *ops, size_t n);

/* ---- the search (lin.c) ---- */

/* An operation of one key as the search sees it. f is enum cc_hist_f;
 * ret == CC_HIST_NEVER: optional (info), may take effect any time after
 * call, or never. */
struct kop {
    uint64_t call, ret;
    uint32_t f, a, b;               /* read: a = value read; write: a; cas: a -> b */
    uint32_t id;                    /* the history's op index */
};

enum { LIN_OK = 0, LIN_FAIL = 1, LIN_UNKNOWN = 2 };

struct lin_budget {
    uint64_t max_steps;
    size_t max_memory;
    bool (*stop)(void *opaque);
    void *stop_opaque;
    bool stopped;                   /* stop() said so: no further searches */
};

/* Is this one register's history linearizable? Returns LIN_*, or
 * -ENOMEM; *steps grows by the steps taken. When it fails and frontier is
 * not NULL, *frontier is the latest time the search looked at: the
 * operations invoked by then fail on their own (the search over them is
 * the same). */
int lin_check_key(const struct kop *ops, size_t n, struct lin_budget *b, uint64_t *steps,
                  uint64_t *frontier);

/* Which writes a kept observer may have read from (readfrom.c): a set of
 * operations keep[] is "closed" when no left-out write could have been
 * read by a kept operation; then the kept ones are linearizable whenever
 * all of ops are. */
struct rf_obs {
    uint32_t v;
    uint64_t call, ret;             /* ret: the latest of its value so far */
};

struct rf {
    const struct kop *ops;
    size_t n;
    uint64_t *block;                /* per write: the earliest completion of an ok
                                     * write invoked after it completed */
    struct rf_obs *obs;
    size_t n_obs;
};

int rf_init(struct rf *rf, const struct kop *ops, size_t n);
void rf_free(struct rf *rf);
bool rf_valid(struct rf *rf, const bool *keep);
/* Keep the left-out writes a kept observer may have read from, until closed. */
void rf_close(struct rf *rf, bool *keep);

/* Shrink the failing ops[0..*n) in place to a small subset that still
 * fails (shrink.c); *minimal says whether no single op can go. Returns 0
 * or -ENOMEM. */
int shrink_key(struct kop *ops, size_t *n, struct lin_budget *b, bool *minimal);
/* The paragraph for a failing key: witness w[0..nw) of all[0..na). */
char *explain_key(const struct cc_history *h, const char *key, const struct kop *w, size_t nw,
                  const struct kop *all, size_t na);

/* Shared helpers: check_opts_fill in lin.c, the others in history.c.
 * fmt_time: "1.204 s", "12.5 ms", "300 ns"; str_printf: malloc'd, NULL when out of memory. */
#define PL(n) ((n) == 1 ? "" : "s")       /* plural ending */
void check_opts_fill(const struct cc_check_opts *o, struct cc_check_opts *out);
void fmt_time(uint64_t ns, char *buf, size_t len);
char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
