/* One paragraph saying why a key is not linearizable, from its witness
 * (shrink.c). Best effort: two common shapes get a sentence of their own,
 *
 *   a read of a value nobody wrote,
 *   a stale read: it returned v although a write of u completed before
 *   it began, and every write of v had completed before that write began,
 *
 * anything else lists the witness's operations. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check_internal.h"
#include "util/buf.h"

static void put(struct cc_buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

static const char *val(const struct cc_history *h, uint32_t id)
{
    if (id == HIST_NULL)
        return "null (absent)";
    const char *v = history_value(h, id);
    return v ? v : "?";
}

/* "read by process 3 [1.2 s, 1.3 s] returned 1", "write 2 by process 1
 * invoked at 1 s (outcome unknown)". */
static void describe(struct cc_buf *b, const struct cc_history *h, const struct kop *o)
{
    const struct hist_op *op = &h->op[o->id];
    char line[1200], t1[48], t2[48], when[128];
    fmt_time(o->call, t1, sizeof(t1));
    fmt_time(o->ret, t2, sizeof(t2));
    if (o->ret == CC_HIST_NEVER)
        snprintf(when, sizeof(when), "invoked at %s (outcome unknown)", t1);
    else
        snprintf(when, sizeof(when), "[%s, %s]", t1, t2);
    switch (o->f) {
    case CC_HIST_READ:
        snprintf(line, sizeof(line), "read by process %" PRIu32 " %s returned %.400s",
                 op->process, when, val(h, o->a));
        break;
    case CC_HIST_WRITE:
        snprintf(line, sizeof(line), "write %.400s by process %" PRIu32 " %s", val(h, o->a),
                 op->process, when);
        break;
    default:
        snprintf(line, sizeof(line), "cas %.300s -> %.300s by process %" PRIu32 " %s",
                 val(h, o->a), val(h, o->b), op->process, when);
        break;
    }
    put(b, line);
}

static bool observer(const struct kop *o)
{
    return o->ret != CC_HIST_NEVER && (o->f == CC_HIST_READ || o->f == CC_HIST_CAS);
}

static bool writes(const struct kop *o, uint32_t v)
{
    return (o->f == CC_HIST_WRITE && o->a == v) || (o->f == CC_HIST_CAS && o->b == v);
}

static uint32_t written_value(const struct kop *o)
{
    return o->f == CC_HIST_CAS ? o->b : o->a;
}

static void observed_phrase(struct cc_buf *b, const struct cc_history *h, const struct kop *o)
{
    put(b, "the ");
    describe(b, h, o);
    if (o->f == CC_HIST_CAS) {
        put(b, " (so it found ");
        put(b, val(h, o->a));
        put(b, ")");
    }
}

/* A read (or cas) of a value no operation of the key wrote. */
static bool phantom(struct cc_buf *b, const struct cc_history *h, const char *key,
                    const struct kop *w, size_t nw, const struct kop *all, size_t na)
{
    for (size_t i = 0; i < nw; i++) {
        if (!observer(&w[i]) || w[i].a == HIST_NULL)
            continue;
        bool found = false;
        for (size_t j = 0; j < na && !found; j++)
            found = writes(&all[j], w[i].a);
        if (found)
            continue;
        put(b, "key \"");
        put(b, key);
        put(b, "\": ");
        observed_phrase(b, h, &w[i]);
        put(b, ", but no operation on the key that may have taken effect wrote ");
        put(b, val(h, w[i].a));
        put(b, ".");
        return true;
    }
    return false;
}

/* A stale read: observer r saw v; write x (of another value) completed
 * before r began, and every write of v in the witness completed before x
 * began. */
static bool stale(struct cc_buf *b, const struct cc_history *h, const char *key,
                  const struct kop *w, size_t nw)
{
    for (size_t i = 0; i < nw; i++) {
        const struct kop *r = &w[i];
        if (!observer(r))
            continue;
        for (size_t j = 0; j < nw; j++) {
            const struct kop *x = &w[j];
            if (x->f == CC_HIST_READ || x->ret == CC_HIST_NEVER || x->ret >= r->call ||
                writes(x, r->a))
                continue;
            bool before = true;
            const struct kop *vw = NULL;
            for (size_t k = 0; k < nw && before; k++) {
                if (writes(&w[k], r->a)) {
                    before = w[k].ret < x->call;
                    vw = &w[k];
                }
            }
            if (!before || (!vw && r->a != HIST_NULL))
                continue;
            const char *what = r->f == CC_HIST_CAS ? "cas" : "read";
            put(b, "key \"");
            put(b, key);
            put(b, "\": stale read: ");
            observed_phrase(b, h, r);
            put(b, ", but the ");
            describe(b, h, x);
            put(b, " completed before the ");
            put(b, what);
            put(b, " began, ");
            if (vw) {
                put(b, "and the ");
                describe(b, h, vw);
                put(b, " had completed before that write began");
            } else {
                put(b, "and the key was absent only before that write");
            }
            put(b, ", so the ");
            put(b, what);
            put(b, " should have found ");
            put(b, val(h, written_value(x)));
            put(b, " or a later value.");
            return true;
        }
    }
    return false;
}

char *explain_key(const struct cc_history *h, const char *key, const struct kop *w, size_t nw,
                  const struct kop *all, size_t na)
{
    struct cc_buf b;
    buf_init(&b);
    if (!phantom(&b, h, key, w, nw, all, na) && !stale(&b, h, key, w, nw)) {
        char head[160];
        snprintf(head, sizeof(head), "\": no order of these %zu operation%s respects real time "
                 "and gives every read the value it returned: ", nw, PL(nw));
        put(&b, "key \"");
        put(&b, key);
        put(&b, head);
        for (size_t i = 0; i < nw && i < 8; i++) {
            if (i)
                put(&b, "; ");
            describe(&b, h, &w[i]);
        }
        if (nw > 8) {
            snprintf(head, sizeof(head), "; and %zu more", nw - 8);
            put(&b, head);
        }
        put(&b, ".");
    }
    char tail[200];
    if (nw < na)
        snprintf(tail, sizeof(tail), " The witness is %zu of the key's %zu operations.", nw, na);
    else if (na == 1)
        snprintf(tail, sizeof(tail), " The witness is the key's only operation.");
    else
        snprintf(tail, sizeof(tail), " The witness is all %zu of the key's operations.", na);
    put(&b, tail);
    buf_put(&b, "", 1);
    if (!buf_ok(&b)) {
        buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}
