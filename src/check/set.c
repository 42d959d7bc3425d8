/* Lost acknowledged writes for sets (cc_check_set, include/chaoscontrol/check.h).
 *
 * Every key is a set: "add" puts an element in, "read" returns the whole
 * set as an array. The final read of a key is its ok read that completed
 * last. An add acknowledged (ok) before the final read began must be in
 * it, or it was lost; an element in the final read that no add put there
 * (none was invoked, or every one failed) is unexpected. Adds still in
 * flight when the final read began, and adds with unknown outcome, may be
 * in it or not. This is Jepsen's set checker, final read only. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check_internal.h"
#include "util/buf.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool in_sorted(char **arr, size_t n, const char *s)
{
    return bsearch(&s, arr, n, sizeof(*arr), cmp_str) != NULL;
}

struct setkey {
    const struct cc_history *h;
    uint32_t key;
    size_t final;                   /* op index of the final read, SIZE_MAX: none */
    char **elem;                    /* its elements, sorted */
    size_t n_elem;
    size_t acked, in_flight;        /* ok adds judged / not judged */
    uint32_t *lost_ops;             /* one ok add per lost value */
    size_t n_lost_ops;
    char **lost, **unexpected;
    size_t n_lost, n_unexpected;
};

static void setkey_free(struct setkey *k)
{
    for (size_t i = 0; i < k->n_elem; i++)
        free(k->elem[i]);
    free(k->elem);
    free(k->lost_ops);
    for (size_t i = 0; i < k->n_lost; i++)
        free(k->lost[i]);
    free(k->lost);
    for (size_t i = 0; i < k->n_unexpected; i++)
        free(k->unexpected[i]);
    free(k->unexpected);
}

static const char *where(const struct cc_history *h)
{
    return h->src ? h->src : "history";
}

/* The final read's elements into k->elem, sorted. */
static int read_elements(struct setkey *k, struct cc_err *err)
{
    const struct cc_history *h = k->h;
    const struct hist_op *op = &h->op[k->final];
    const char *text = history_value(h, op->arg);
    json_t *arr = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!json_is_array(arr)) {
        json_decref(arr);
        return cc_err_set(err, EINVAL, "%s: line %" PRIu32 ": the final read of key \"%s\" "
                          "returned %.200s, not an array of elements", where(h),
                          h->ev[op->done].line, history_key(h, k->key), text);
    }
    k->elem = calloc(json_array_size(arr) + 1, sizeof(*k->elem));
    int rc = k->elem ? 0 : -ENOMEM;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        if (rc < 0)
            break;
        if (!(k->elem[k->n_elem++] = json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT)))
            rc = -ENOMEM;
    }
    json_decref(arr);
    if (rc < 0)
        return cc_err_set(err, ENOMEM, "out of memory");
    qsort(k->elem, k->n_elem, sizeof(*k->elem), cmp_str);
    return 0;
}

static int push(char ***arr, size_t *n, const char *s)
{
    char **na = realloc(*arr, (*n + 1) * sizeof(*na));
    if (!na)
        return -ENOMEM;
    *arr = na;
    if (!(na[*n] = strdup(s)))
        return -ENOMEM;
    ++*n;
    return 0;
}

/* Lost and unexpected elements of one key with a final read. */
static int judge(struct setkey *k)
{
    const struct cc_history *h = k->h;
    const struct hist_op *fin = &h->op[k->final];
    char **tried = malloc((h->n_op + 1) * sizeof(*tried));
    size_t n_tried = 0;
    k->lost_ops = malloc((h->n_op + 1) * sizeof(*k->lost_ops));
    if (!tried || !k->lost_ops) {
        free(tried);
        return -ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; i < h->n_op && rc == 0; i++) {
        const struct hist_op *op = &h->op[i];
        if (op->key != k->key || op->f != CC_HIST_ADD || op->status == CC_HIST_FAIL)
            continue;
        const char *v = history_value(h, op->arg);
        tried[n_tried++] = (char *)v;
        if (op->status != CC_HIST_OK)
            continue;
        if (op->ret >= fin->call) {
            k->in_flight++;
            continue;
        }
        k->acked++;
        if (in_sorted(k->elem, k->n_elem, v))
            continue;
        bool dup = false;
        for (size_t j = 0; j < k->n_lost && !dup; j++)
            dup = !strcmp(k->lost[j], v);
        if (dup)
            continue;
        k->lost_ops[k->n_lost_ops++] = (uint32_t)i;
        rc = push(&k->lost, &k->n_lost, v);
    }
    qsort(tried, n_tried, sizeof(*tried), cmp_str);
    for (size_t i = 0; i < k->n_elem && rc == 0; i++) {
        if ((i && !strcmp(k->elem[i], k->elem[i - 1])) || in_sorted(tried, n_tried, k->elem[i]))
            continue;
        rc = push(&k->unexpected, &k->n_unexpected, k->elem[i]);
    }
    free(tried);
    return rc;
}

static void put(struct cc_buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

static void put_list(struct cc_buf *b, char **v, size_t n)
{
    for (size_t i = 0; i < n && i < 10; i++) {
        put(b, i ? ", " : "");
        put(b, v[i]);
    }
    if (n > 10) {
        char more[48];
        snprintf(more, sizeof(more), " and %zu more", n - 10);
        put(b, more);
    }
}

static char *explain(const struct setkey *k, size_t n_failed)
{
    const struct cc_history *h = k->h;
    const struct hist_op *fin = &h->op[k->final];
    struct cc_buf b;
    buf_init(&b);
    char s[400], t1[48], t2[48];
    fmt_time(fin->call, t1, sizeof(t1));
    fmt_time(fin->ret, t2, sizeof(t2));
    snprintf(s, sizeof(s), "key \"%.100s\": the final read by process %" PRIu32
             " [%s, %s] returned %zu elements", history_key(h, k->key), fin->process, t1, t2,
             k->n_elem);
    put(&b, s);
    if (k->n_lost) {
        const struct hist_op *a = &h->op[k->lost_ops[0]];
        fmt_time(a->ret, t1, sizeof(t1));
        snprintf(s, sizeof(s), "; %zu of the %zu add%s acknowledged before it began %s "
                 "missing (lost: ", k->n_lost, k->acked, PL(k->acked), k->n_lost == 1 ? "is" : "are");
        put(&b, s);
        put_list(&b, k->lost, k->n_lost);
        snprintf(s, sizeof(s), "; the add of %.100s by process %" PRIu32 " completed ok at %s)",
                 k->lost[0], a->process, t1);
        put(&b, s);
    }
    if (k->n_unexpected) {
        snprintf(s, sizeof(s), "; %zu of its elements %s never added, or only by adds that "
                 "failed (unexpected: ", k->n_unexpected, k->n_unexpected == 1 ? "was" : "were");
        put(&b, s);
        put_list(&b, k->unexpected, k->n_unexpected);
        put(&b, ")");
    }
    put(&b, ".");
    if (n_failed > 1) {
        snprintf(s, sizeof(s), " %zu other key%s fail%s too.", n_failed - 1, PL(n_failed - 1),
                 n_failed == 2 ? "s" : "");
        put(&b, s);
    }
    buf_put(&b, "", 1);
    if (!buf_ok(&b)) {
        buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

/* Check that the history has only set operations; the final read of each
 * key into final[]. */
static int scan(const struct cc_history *h, size_t *final, size_t *acked, struct cc_err *err)
{
    for (size_t k = 0; k < h->keys.n; k++)
        final[k] = SIZE_MAX;
    for (size_t i = 0; i < h->n_op; i++) {
        const struct hist_op *op = &h->op[i];
        if (op->f != CC_HIST_ADD && op->f != CC_HIST_READ)
            return cc_err_set(err, EINVAL, "%s: line %" PRIu32 ": a %s is not a set operation "
                              "(add, read): check this history with the kv model", where(h),
                              h->ev[op->inv].line, op->f == CC_HIST_WRITE ? "write" : "cas");
        if (op->f == CC_HIST_ADD && op->status == CC_HIST_OK)
            acked[op->key]++;
        if (op->f != CC_HIST_READ || op->status != CC_HIST_OK)
            continue;
        size_t f = final[op->key];
        if (f == SIZE_MAX || op->ret > h->op[f].ret ||
            (op->ret == h->op[f].ret && op->done > h->op[f].done))
            final[op->key] = i;
    }
    for (size_t k = 0; k < h->keys.n; k++)
        if (acked[k] && final[k] == SIZE_MAX)
            return cc_err_set(err, EINVAL, "%s: key \"%s\": %zu add%s acknowledged but no "
                              "read completed ok: the set checker needs a final read",
                              where(h), history_key(h, (uint32_t)k), acked[k],
                              acked[k] == 1 ? " was" : "s were");
    return 0;
}

static int fill_result(const struct cc_history *h, struct setkey *k, size_t n_failed,
                       struct cc_check_result *res)
{
    res->key = strdup(history_key(h, k->key));
    res->explain = explain(k, n_failed);
    uint32_t *ids = malloc((k->n_lost_ops + 1) * sizeof(*ids));
    if (!ids)
        return -ENOMEM;
    ids[0] = (uint32_t)k->final;
    memcpy(ids + 1, k->lost_ops, k->n_lost_ops * sizeof(*ids));
    res->witness = history_subset(h, ids, k->n_lost_ops + 1);
    res->witness_minimal = true;
    res->key_ops = 0;
    for (size_t i = 0; i < h->n_op; i++)
        res->key_ops += h->op[i].key == k->key && h->op[i].status != CC_HIST_FAIL;
    free(ids);
    res->lost = k->lost;
    res->n_lost = k->n_lost;
    res->unexpected = k->unexpected;
    res->n_unexpected = k->n_unexpected;
    k->lost = k->unexpected = NULL;
    k->n_lost = k->n_unexpected = 0;
    return res->key && res->explain && res->witness ? 0 : -ENOMEM;
}

int cc_check_set(const struct cc_history *h, const struct cc_check_opts *o,
                 struct cc_check_result *res, struct cc_err *err)
{
    (void)o;
    memset(res, 0, sizeof(*res));
    size_t *final = malloc((h->keys.n + 1) * sizeof(*final));
    size_t *acked = calloc(h->keys.n + 1, sizeof(*acked));
    struct setkey bad = {0};
    int rc = final && acked ? scan(h, final, acked, err) : cc_err_set(err, ENOMEM, "out of memory");
    size_t judged = 0, in_flight = 0;
    for (size_t key = 0; rc == 0 && key < h->keys.n; key++) {
        if (final[key] == SIZE_MAX)
            continue;
        struct setkey k = {.h = h, .key = (uint32_t)key, .final = final[key]};
        res->n_keys++;
        rc = read_elements(&k, err);
        if (rc == 0 && judge(&k) < 0)
            rc = cc_err_set(err, ENOMEM, "out of memory");
        judged += k.acked;
        in_flight += k.in_flight;
        if (rc == 0 && (k.n_lost || k.n_unexpected) && res->n_failed_keys++ == 0) {
            bad = k;
            continue;
        }
        setkey_free(&k);
    }
    for (size_t i = 0; i < h->n_op; i++)
        res->n_ops += h->op[i].status != CC_HIST_FAIL;
    if (rc == 0 && res->n_failed_keys) {
        if (fill_result(h, &bad, res->n_failed_keys, res) < 0)
            rc = cc_err_set(err, ENOMEM, "out of memory");
    } else if (rc == 0) {
        res->ok = true;
        res->explain = str_printf("no lost or unexpected elements: every add acknowledged "
                                  "before its key's final read is in it (%zu add%s judged on "
                                  "%zu key%s; %zu still in flight then, not judged).", judged,
                                  PL(judged), res->n_keys, PL(res->n_keys), in_flight);
        if (!res->explain)
            rc = cc_err_set(err, ENOMEM, "out of memory");
    }
    setkey_free(&bad);
    free(final);
    free(acked);
    if (rc < 0)
        cc_check_result_free(res);
    return rc;
}
