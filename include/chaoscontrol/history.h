/* libchaoscontrol: operation histories, the input of the checkers in
 * check.h (docs/history.md has the whole story).
 *
 * A history is what the clients of a system under test saw: one JSON
 * object per line, an "invoke" when a client starts an operation and an
 * "ok", "fail" or "info" when it learns the outcome:
 *
 *   {"process": 0, "type": "invoke", "f": "write", "key": "x", "value": 1, "time": 1000}
 *   {"process": 1, "type": "invoke", "f": "read",  "key": "x", "time": 1500}
 *   {"process": 0, "type": "ok",     "f": "write", "key": "x", "value": 1, "time": 2000}
 *   {"process": 1, "type": "ok",     "f": "read",  "key": "x", "value": 1, "time": 2500}
 *   {"process": 2, "type": "invoke", "f": "cas",   "key": "x", "value": [1, 2], "time": 3000}
 *   {"process": 2, "type": "info",   "f": "cas",   "key": "x", "time": 9000}
 *
 *   process  required: an integer from 0 to 2^32-1; a process runs one
 *            operation at a time
 *   type     required: "invoke", "ok" (it happened), "fail" (it certainly
 *            did not happen) or "info" (unknown: it may take effect at any
 *            time after its invoke, or never)
 *   f        "read", "write", "cas" or "add"; required on an invoke, and
 *            on a completion it must name the invoke's f if present
 *   key      a string, "" when absent (on a completion: the invoke's)
 *   value    write: the value written; cas: [old, new]; add: the element;
 *            read: on the ok line, the value read (null: the key is
 *            absent; for a set, an array of elements). Values are
 *            integers (int64), strings or null and compare by type and
 *            contents: 1 and "1" differ. On a completion of a write, cas
 *            or add the value is ignored.
 *   time     required: virtual time in nanoseconds (an integer, or a
 *            time string such as "1500ms"); a completion is never
 *            earlier than its invoke, and a process never invokes before
 *            its previous operation completed
 *
 * Other fields ("vm", "index", ...) are kept and written back, but mean
 * nothing to the checkers. The completion of an invoke is the next ok, fail
 * or info line of the same process; an invoke still open at the end counts
 * as info; a process that invokes while its previous operation is open, or
 * a completion with no open invoke, makes the history malformed. Blank
 * lines are skipped.
 *
 *   struct cc_history *h;
 *   if (cc_history_load("history.jsonl", &h, &err) < 0)
 *       fprintf(stderr, "%s\n", err.msg);   // "history.jsonl: line 7: ..."
 *
 * A VMM collecting lines as they arrive uses the builder instead:
 *
 *   struct cc_history *h = cc_history_new();
 *   cc_history_add_line(h, line, len, vm_time_ns, vm_index, &err);
 */
#ifndef CHAOSCONTROL_HISTORY_H
#define CHAOSCONTROL_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"

enum cc_hist_type { CC_HIST_INVOKE, CC_HIST_OK, CC_HIST_FAIL, CC_HIST_INFO };
enum cc_hist_f { CC_HIST_READ, CC_HIST_WRITE, CC_HIST_CAS, CC_HIST_ADD };

#define CC_HIST_NEVER UINT64_MAX    /* completion time of an info operation */

/* One operation: an invoke and its completion. Strings belong to the
 * history and live as long as it does. */
struct cc_history_op {
    unsigned process;
    enum cc_hist_f f;
    enum cc_hist_type status;   /* CC_HIST_OK, _FAIL or _INFO (also: never completed) */
    const char *key;
    const char *value;          /* the invoke's value as compact JSON ("1", "\"a\"",
                                 * "[1,2]", "null"); NULL when the line has none */
    const char *result;         /* the completion's value (for a read: what it read);
                                 * NULL when none */
    uint64_t invoke_ns;
    uint64_t complete_ns;       /* CC_HIST_NEVER unless ok or fail */
    unsigned line;              /* the invoke's line in the source */
    unsigned complete_line;     /* the completion's line, 0 when none */
};

/* An empty history, for cc_history_add_line. NULL when out of memory. */
struct cc_history *cc_history_new(void);

/* Add one line (with or without its newline). A line without "time" gets
 * default_time_ns, one without "process" default_process. On error the
 * history is unchanged and the message names the line ("line 7: ..."). */
int cc_history_add_line(struct cc_history *h, const char *line, size_t len,
                        uint64_t default_time_ns, unsigned default_process, struct cc_err *err);

/* Parse a whole history; errors name src and the line ("h.jsonl: line 3:
 * \"type\": 'done' is not invoke, ok, fail or info"). */
int cc_history_parse(const char *text, size_t len, const char *src, struct cc_history **out,
                     struct cc_err *err);
int cc_history_load(const char *path, struct cc_history **out, struct cc_err *err);
void cc_history_free(struct cc_history *h);

/* Operations (in the order of their invokes) and lines with an event. */
size_t cc_history_count(const struct cc_history *h);
size_t cc_history_events(const struct cc_history *h);
/* Operation i (0 <= i < cc_history_count). Returns 0, or -EINVAL when out of range. */
int cc_history_op(const struct cc_history *h, size_t i, struct cc_history_op *out);

/* The events back as JSON lines, in their original order, each field in
 * canonical form (malloc'd; NULL when out of memory). Parsing the text
 * gives the same history. */
char *cc_history_to_jsonl(const struct cc_history *h);

#endif
