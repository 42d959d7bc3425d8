/* The history checkers (src/check/): linearizability of registers on
 * known histories (the classic shapes: stale reads, new-old inversion,
 * concurrent writes seen in both orders, cas, info operations taking
 * effect late or never, failed operations), witnesses that fail on their
 * own and are smaller, budgets, the set checker, and a randomized
 * cross-check of the fast checker against the naive one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/check.h"
#include "chaoscontrol/history.h"
#include "check/check_internal.h"
#include "histgen.h"
#include "../tap.h"

/* Histories in a compact form, one event a line:
 *   PROCESS TYPE F KEY VALUE TIME      (VALUE "-": none; ' stands for ")
 * e.g. "0 invoke write x 1 0", "1 ok read x null 30", "2 invoke cas x [1,2] 5". */
static struct cc_history *hist(const char *dsl)
{
    size_t cap = strlen(dsl) * 4 + 64, len = 0;
    char *json = malloc(cap), *copy = strdup(dsl), *save = NULL;
    json[0] = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char p[16], t[16], f[16], k[32], v[64], tm[32];
        if (sscanf(line, "%15s %15s %15s %31s %63s %31s", p, t, f, k, v, tm) != 6)
            tap_bail("bad test history line '%s'", line);
        for (char *c = v; *c; c++)
            if (*c == '\'')
                *c = '"';
        char val[96] = "";
        if (strcmp(v, "-"))
            snprintf(val, sizeof(val), ",\"value\":%s", v);
        len += (size_t)snprintf(json + len, cap - len,
                                "{\"process\":%s,\"type\":\"%s\",\"f\":\"%s\",\"key\":\"%s\"%s,\"time\":%s}\n",
                                p, t, f, k, val, tm);
    }
    struct cc_history *h = NULL;
    struct cc_err err = {0};
    if (cc_history_parse(json, len, "test", &h, &err) < 0)
        tap_bail("test history: %s", err.msg);
    free(json);
    free(copy);
    return h;
}

static int naive_verdict(const struct cc_history *h)
{
    struct cc_check_result r;
    struct cc_err err = {0};
    if (cc_check_linearizable_naive(h, NULL, &r, &err) < 0)
        return -1;
    int v = r.unknown ? 2 : r.ok ? 0 : 1;
    cc_check_result_free(&r);
    return v;
}

/* Check with both checkers; for a violation, the witness must fail on its
 * own (both checkers) and be no bigger than the key. res is left filled. */
static void kv(const char *name, const char *dsl, bool want_ok, struct cc_check_result *res)
{
    struct cc_history *h = hist(dsl);
    struct cc_err err = {0};
    int rc = cc_check_linearizable(h, NULL, res, &err);
    if (!ok(rc == 0 && res->ok == want_ok && !res->unknown, "%s: %s", name,
            want_ok ? "linearizable" : "not linearizable"))
        tap_diag("rc %d (%s), ok %d, unknown %d: %s", rc, err.msg, res->ok, res->unknown,
                 res->explain ? res->explain : "");
    else
        tap_diag("%s", res->explain);
    is_int(naive_verdict(h), want_ok ? 0 : 1, "%s: the naive checker agrees", name);
    if (!want_ok && res->witness) {
        struct cc_check_result w;
        cc_check_linearizable(res->witness, NULL, &w, &err);
        ok(!w.ok && !w.unknown && naive_verdict(res->witness) == 1 &&
           cc_history_count(res->witness) <= res->key_ops,
           "%s: the witness (%zu of %zu operations) fails on its own", name,
           cc_history_count(res->witness), res->key_ops);
        cc_check_result_free(&w);
    }
    cc_history_free(h);
}

static void expect_text(const struct cc_check_result *r, const char *want, const char *name)
{
    if (!ok(r->explain && strstr(r->explain, want), "%s: explanation says '%s'", name, want))
        tap_diag("explanation: %s", r->explain ? r->explain : "(none)");
}

static void test_registers(void)
{
    struct cc_check_result r;
    kv("empty history", "", true, &r);
    ok(r.n_ops == 0 && r.n_keys == 0, "empty history: nothing checked");
    cc_check_result_free(&r);

    kv("write then read", "0 invoke write x 1 0\n0 ok write x - 10\n"
       "1 invoke read x - 20\n1 ok read x 1 30\n", true, &r);
    cc_check_result_free(&r);

    kv("a key starts absent", "1 invoke read x - 20\n1 ok read x null 30\n", true, &r);
    cc_check_result_free(&r);

    kv("absent after a completed write", "0 invoke write x 1 0\n0 ok write x - 10\n"
       "1 invoke read x - 20\n1 ok read x null 30\n", false, &r);
    expect_text(&r, "absent", "absent after a completed write");
    cc_check_result_free(&r);

    kv("stale read", "0 invoke write x 1 0\n0 ok write x - 100\n"
       "1 invoke read x - 150\n1 ok read x 1 180\n"
       "0 invoke write x 2 200\n0 ok write x - 300\n"
       "1 invoke read x - 1204000000\n1 ok read x 1 1206000000\n", false, &r);
    expect_text(&r, "stale read: the read by process 1 [1.204 s, 1.206 s] returned 1, but the "
                "write 2 by process 0 [200 ns, 300 ns] completed before the read began",
                "stale read");
    is_int(cc_history_count(r.witness), 3, "stale read: the witness is the two writes and the read");
    ok(r.witness_minimal && r.key && !strcmp(r.key, "x"), "stale read: minimal, key x");
    cc_check_result_free(&r);

    /* Porcupine's README register examples, with null for its initial 0. */
    kv("reads overlapping a write may see old and new", "0 invoke write x 100 0\n"
       "1 invoke read x - 25\n2 invoke read x - 30\n2 ok read x null 60\n1 ok read x 100 75\n"
       "0 ok write x - 100\n", true, &r);
    cc_check_result_free(&r);
    kv("new-old inversion", "0 invoke write x 200 0\n1 invoke read x - 10\n1 ok read x 200 30\n"
       "2 invoke read x - 40\n2 ok read x null 90\n0 ok write x - 100\n", false, &r);
    cc_check_result_free(&r);

    const char *both = "0 invoke write x 1 0\n1 invoke write x 2 0\n"
                       "2 invoke read x - 10\n3 invoke read x - 10\n"
                       "2 ok read x 1 20\n3 ok read x %s 20\n"
                       "2 invoke read x - 30\n3 invoke read x - 30\n"
                       "2 ok read x 2 40\n3 ok read x %s 40\n"
                       "0 ok write x - 100\n1 ok write x - 100\n";
    char buf[1024];
    snprintf(buf, sizeof(buf), both, "1", "2");
    kv("concurrent writes, readers agree on the order", buf, true, &r);
    cc_check_result_free(&r);
    snprintf(buf, sizeof(buf), both, "2", "1");
    kv("concurrent writes seen in both orders", buf, false, &r);
    is_int(cc_history_count(r.witness), 6, "both orders: no read can go, and no write");
    cc_check_result_free(&r);

    kv("touching intervals are concurrent", "0 invoke write x 1 0\n0 ok write x - 10\n"
       "1 invoke read x - 10\n1 ok read x null 20\n", true, &r);
    cc_check_result_free(&r);

    kv("values compare by type", "0 invoke write x '1' 0\n0 ok write x - 10\n"
       "1 invoke read x - 20\n1 ok read x 1 30\n", false, &r);
    cc_check_result_free(&r);
}

static void test_cas_and_outcomes(void)
{
    struct cc_check_result r;
    kv("cas from the value read", "0 invoke write x 1 0\n0 ok write x - 10\n"
       "1 invoke cas x [1,2] 20\n1 ok cas x - 30\n2 invoke read x - 40\n2 ok read x 2 50\n",
       true, &r);
    cc_check_result_free(&r);
    kv("cas from absent", "1 invoke cas x [null,'a'] 0\n1 ok cas x - 10\n"
       "2 invoke read x - 40\n2 ok read x 'a' 50\n", true, &r);
    cc_check_result_free(&r);
    kv("cas succeeding on an overwritten value", "0 invoke write x 1 0\n0 ok write x - 10\n"
       "0 invoke write x 3 12\n0 ok write x - 15\n1 invoke cas x [1,2] 20\n1 ok cas x - 30\n",
       false, &r);
    expect_text(&r, "cas 1 -> 2 by process 1 [20 ns, 30 ns] (so it found 1)", "cas");
    cc_check_result_free(&r);
    kv("a failed cas is ignored", "0 invoke write x 1 0\n0 ok write x - 10\n"
       "1 invoke cas x [1,6] 20\n1 fail cas x - 30\n2 invoke read x - 40\n2 ok read x 1 50\n",
       true, &r);
    cc_check_result_free(&r);
    kv("an info cas may take effect late", "0 invoke write x 1 0\n0 ok write x - 10\n"
       "1 invoke cas x [1,2] 20\n1 info cas x - 25\n2 invoke read x - 30\n2 ok read x 1 40\n"
       "2 invoke read x - 50\n2 ok read x 2 60\n", true, &r);
    cc_check_result_free(&r);
    kv("an info write may take effect late", "0 invoke write x 1 0\n0 info write x - 5\n"
       "1 invoke read x - 10\n1 ok read x null 20\n1 invoke read x - 30\n1 ok read x 1 40\n",
       true, &r);
    cc_check_result_free(&r);
    kv("an info write may never take effect", "0 invoke write x 1 0\n0 info write x - 5\n"
       "1 invoke read x - 30\n1 ok read x null 40\n", true, &r);
    cc_check_result_free(&r);
    kv("an info write cannot take effect before its invoke", "1 invoke read x - 0\n"
       "1 ok read x 1 5\n0 invoke write x 1 10\n0 info write x - 15\n", false, &r);
    cc_check_result_free(&r);
    kv("an invoke never completed is info", "0 invoke write x 1 0\n"
       "1 invoke read x - 30\n1 ok read x 1 40\n1 invoke read x - 50\n1 ok read x 1 60\n",
       true, &r);
    cc_check_result_free(&r);
    kv("a failed write did not happen", "0 invoke write x 5 0\n0 fail write x - 10\n"
       "1 invoke read x - 20\n1 ok read x 5 30\n", false, &r);
    expect_text(&r, "no operation on the key that may have taken effect wrote 5", "failed write");
    cc_check_result_free(&r);
    kv("a failed write nobody reads", "0 invoke write x 5 0\n0 fail write x - 10\n"
       "1 invoke read x - 20\n1 ok read x null 30\n", true, &r);
    cc_check_result_free(&r);
    kv("a value nobody wrote", "0 invoke write x 1 0\n0 ok write x - 10\n"
       "1 invoke read x - 20\n1 ok read x 7 30\n", false, &r);
    expect_text(&r, "read by process 1 [20 ns, 30 ns] returned 7, but no operation", "phantom");
    is_int(cc_history_count(r.witness), 1, "phantom: the read alone is the witness");
    cc_check_result_free(&r);
}

static void test_keys_and_errors(void)
{
    struct cc_check_result r;
    const char *two = "0 invoke write a 1 0\n0 ok write a - 10\n1 invoke read a - 20\n1 ok read a 1 30\n"
                      "0 invoke write b 1 40\n0 ok write b - 50\n1 invoke read b - 60\n1 ok read b %s 70\n"
                      "0 invoke write c 1 80\n0 ok write c - 90\n1 invoke read c - 100\n1 ok read c %s 110\n";
    char buf[1024];
    snprintf(buf, sizeof(buf), two, "null", "1");
    kv("keys are independent: b fails", buf, false, &r);
    ok(r.key && !strcmp(r.key, "b") && r.n_keys == 3 && r.n_failed_keys == 1,
       "the failing key is b, 1 of 3");
    cc_check_result_free(&r);
    snprintf(buf, sizeof(buf), two, "null", "2");
    kv("two keys fail", buf, false, &r);
    ok(r.n_failed_keys == 2, "two failing keys counted");
    expect_text(&r, "1 other key fails too", "two keys");
    cc_check_result_free(&r);

    struct cc_history *h = hist("0 invoke write a 1 0\n0 ok write a - 10\n"
                                "0 invoke add a 1 20\n0 ok add a - 30\n");
    struct cc_err err = {0};
    ok(cc_check_linearizable(h, NULL, &r, &err) == -EINVAL &&
       strstr(err.msg, "test: line 3: an add is a set operation"), "an add in a kv history: %s",
       err.msg);
    ok(cc_check_linearizable_naive(h, NULL, &r, &err) == -EINVAL, "the naive checker refuses it too");
    cc_history_free(h);
}

static bool stop_now(void *opaque)
{
    ++*(int *)opaque;
    return true;
}

static void test_budget(void)
{
    /* 12 concurrent writes, then a read of a value none wrote: every
     * order of the writes is a configuration to rule out. */
    char buf[4096];
    size_t len = 0;
    for (int i = 0; i < 12; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%d invoke write x %d 0\n", i, i);
    for (int i = 0; i < 12; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%d ok write x - 100\n", i);
    snprintf(buf + len, sizeof(buf) - len, "20 invoke read x - 200\n20 ok read x 99 300\n");
    struct cc_history *h = hist(buf);
    struct cc_check_result r;
    struct cc_err err = {0};
    struct cc_check_opts o = {.max_steps = 1000};
    ok(cc_check_linearizable(h, &o, &r, &err) == 0 && r.unknown && !r.ok && !r.witness &&
       r.key && !strcmp(r.key, "x") && r.steps <= 1000, "a step budget gives unknown");
    expect_text(&r, "within 1000 search steps", "budget");
    cc_check_result_free(&r);
    int polled = 0;
    o = (struct cc_check_opts){.stop = stop_now, .stop_opaque = &polled};
    ok(cc_check_linearizable(h, &o, &r, &err) == 0 && r.unknown && polled == 1,
       "a stop callback gives unknown, and is not asked again");
    cc_check_result_free(&r);
    o = (struct cc_check_opts){.max_memory = 4096};
    ok(cc_check_linearizable(h, &o, &r, &err) == 0 && r.unknown, "so does the memory budget");
    cc_check_result_free(&r);
    int rc = cc_check_linearizable(h, NULL, &r, &err);
    ok(rc == 0 && !r.ok && !r.unknown,
       "with the default budget: not linearizable (%llu steps)", (unsigned long long)r.steps);
    ok(r.witness && cc_history_count(r.witness) == 1, "and the witness is the read alone");
    cc_check_result_free(&r);
    o = (struct cc_check_opts){.max_steps = 1000};
    ok(cc_check_linearizable_naive(h, &o, &r, &err) == 0 && r.unknown,
       "the naive checker honours max_steps");
    cc_check_result_free(&r);
    o = (struct cc_check_opts){.no_witness = true};
    ok(cc_check_linearizable(h, &o, &r, &err) == 0 && !r.ok && r.witness &&
       cc_history_count(r.witness) == 13 && !r.witness_minimal,
       "no_witness: the whole key, not shrunk");
    cc_check_result_free(&r);
    cc_history_free(h);
}

static void test_set(void)
{
    struct cc_check_result r;
    struct cc_err err = {0};
    const char *base = "0 invoke add s 1 0\n0 ok add s - 10\n1 invoke add s 2 0\n1 ok add s - 10\n"
                       "2 invoke add s 3 0\n2 fail add s - 10\n3 invoke add s 4 0\n3 info add s - 10\n"
                       "4 invoke add s 5 95\n"
                       "1 invoke read s - 20\n1 ok read s [2] 30\n"
                       "0 invoke read s - 100\n0 ok read s %s 110\n4 ok add s - 120\n";
    char buf[1024];
    snprintf(buf, sizeof(buf), base, "[1,2,4]");
    struct cc_history *h = hist(buf);
    ok(cc_check_set(h, NULL, &r, &err) == 0 && r.ok && r.n_keys == 1, "set: nothing lost");
    tap_diag("%s", r.explain);
    ok(r.explain && strstr(r.explain, "2 adds judged on 1 key; 1 still in flight"),
       "set: the add in flight during the final read is not judged");
    cc_check_result_free(&r);
    cc_history_free(h);

    snprintf(buf, sizeof(buf), base, "[2,3,4,9]");
    h = hist(buf);
    ok(cc_check_set(h, NULL, &r, &err) == 0 && !r.ok && !r.unknown, "set: a lost add");
    tap_diag("%s", r.explain);
    ok(r.n_lost == 1 && !strcmp(r.lost[0], "1"), "lost: 1");
    ok(r.n_unexpected == 2 && !strcmp(r.unexpected[0], "3") && !strcmp(r.unexpected[1], "9"),
       "unexpected: 3 (its add failed) and 9 (never added)");
    ok(r.witness && cc_history_count(r.witness) == 2 && r.key && !strcmp(r.key, "s"),
       "witness: the final read and the lost add");
    expect_text(&r, "lost: 1; the add of 1 by process 0 completed ok at 10 ns", "set");
    cc_check_result_free(&r);
    cc_history_free(h);

    h = hist("0 invoke add s 1 0\n0 ok add s - 10\n");
    ok(cc_check_set(h, NULL, &r, &err) == -EINVAL && strstr(err.msg, "key \"s\": 1 add was "
       "acknowledged but no read completed ok"), "set: no final read: %s", err.msg);
    cc_history_free(h);
    h = hist("0 invoke add s 1 0\n0 ok add s - 10\n0 invoke read s - 20\n0 ok read s 1 30\n");
    ok(cc_check_set(h, NULL, &r, &err) == -EINVAL && strstr(err.msg, "test: line 4: the final "
       "read of key \"s\" returned 1, not an array"), "set: a final read that is no array: %s",
       err.msg);
    cc_history_free(h);
    h = hist("0 invoke write s 1 0\n0 ok write s - 10\n");
    ok(cc_check_set(h, NULL, &r, &err) == -EINVAL && strstr(err.msg, "test: line 1: a write is "
       "not a set operation"), "set: a write: %s", err.msg);
    cc_history_free(h);
}

/* Random small histories: the fast and the naive checker agree, and every
 * witness fails on its own, is smaller, and loses its failure when any of
 * its reads goes. */
static void test_random(void)
{
    int agree = 0, n = 0, lin = 0, nonlin = 0, wit_ok = 0, smaller = 0, minimal = 0;
    uint64_t rng = 12345;
    for (int i = 0; i < 400; i++) {
        struct histgen g = {
            .ops = 4 + (unsigned)histgen_below(&rng, 11),
            .keys = 1 + (unsigned)histgen_below(&rng, 2),
            .clients = 2 + (unsigned)histgen_below(&rng, 3),
            .values = (unsigned)histgen_below(&rng, 2) * 3,
            .pct_info = (unsigned)histgen_below(&rng, 3) * 10,
            .mutations = (unsigned)histgen_below(&rng, 3),
            .pct_cas = 20, .pct_read = 45,
            .max_gap_ns = 30, .max_dur_ns = 100,
            .seed = (uint64_t)i,
        };
        char *text = histgen_make(&g);
        struct cc_history *h = NULL;
        struct cc_err err = {0};
        if (cc_history_parse(text, strlen(text), "random", &h, &err) < 0) {
            ok(0, "random history %d parses: %s", i, err.msg);
            free(text);
            continue;
        }
        struct cc_check_result fast, slow;
        cc_check_linearizable(h, NULL, &fast, &err);
        cc_check_linearizable_naive(h, NULL, &slow, &err);
        n++;
        if (!fast.unknown && !slow.unknown && fast.ok == slow.ok)
            agree++;
        else
            tap_diag("history %d: fast %s, naive %s:\n%s", i, fast.explain, slow.explain, text);
        lin += fast.ok;
        if (!fast.ok && !fast.unknown && fast.witness) {
            nonlin++;
            size_t wn = cc_history_count(fast.witness);
            wit_ok += naive_verdict(fast.witness) == 1;
            smaller += wn < fast.key_ops;
            /* 1-minimal: without any one of its reads the witness passes */
            bool min = fast.witness_minimal;
            uint32_t ids[64];
            for (size_t drop = 0; min && drop < wn && wn <= 64; drop++) {
                struct cc_history_op op;
                cc_history_op(fast.witness, drop, &op);
                if (op.f != CC_HIST_READ)
                    continue;
                size_t k = 0;
                for (size_t j = 0; j < wn; j++)
                    if (j != drop)
                        ids[k++] = (uint32_t)j;
                struct cc_history *sub = history_subset(fast.witness, ids, k);
                min = naive_verdict(sub) == 0;
                cc_history_free(sub);
            }
            minimal += min;
        }
        cc_check_result_free(&fast);
        cc_check_result_free(&slow);
        cc_history_free(h);
        free(text);
    }
    is_int(agree, n, "random: fast and naive agree on all %d histories", n);
    ok(lin >= 100 && nonlin >= 100, "random: both verdicts well represented (%d linearizable, "
       "%d not)", lin, nonlin);
    is_int(wit_ok, nonlin, "random: every witness fails under the naive checker");
    ok(smaller * 10 >= nonlin * 5, "random: witnesses are smaller than their key (%d of %d)",
       smaller, nonlin);
    is_int(minimal, nonlin, "random: every witness is minimal: drop any read and it passes");
}

/* Larger histories, as the benchmark makes them. */
static void test_large(void)
{
    struct histgen g = {.ops = 10000, .keys = 5, .clients = 5, .pct_info = 1, .seed = 1};
    char *text = histgen_make(&g);
    struct cc_history *h = NULL;
    struct cc_err err = {0};
    struct cc_check_result r;
    ok(cc_history_parse(text, strlen(text), "big", &h, &err) == 0, "10000 operations parse");
    int rc = cc_check_linearizable(h, NULL, &r, &err);
    ok(rc == 0 && r.ok && r.n_keys == 5,
       "10000 operations on 5 keys by 5 clients: linearizable (%llu steps)",
       (unsigned long long)r.steps);
    cc_check_result_free(&r);
    cc_history_free(h);
    free(text);

    int found = 0;
    for (uint64_t seed = 1; seed < 10 && !found; seed++) {
        g = (struct histgen){.ops = 2000, .keys = 5, .clients = 5, .mutations = 1, .seed = seed};
        text = histgen_make(&g);
        cc_history_parse(text, strlen(text), "big", &h, &err);
        if (cc_check_linearizable(h, NULL, &r, &err) == 0 && !r.ok && !r.unknown) {
            found = 1;
            ok(r.witness && cc_history_count(r.witness) < 10 && r.key_ops > 100 &&
               naive_verdict(r.witness) == 1, "a corrupted read among 2000 operations: "
               "a witness of %zu of %zu operations", cc_history_count(r.witness), r.key_ops);
            tap_diag("%s", r.explain);
        }
        cc_check_result_free(&r);
        cc_history_free(h);
        free(text);
    }
    ok(found, "one of the corrupted histories is not linearizable");
}

int main(void)
{
    test_registers();
    test_cas_and_outcomes();
    test_keys_and_errors();
    test_budget();
    test_set();
    test_random();
    test_large();
    return tap_exit();
}
