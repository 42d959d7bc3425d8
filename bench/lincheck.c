/* bench/lincheck.sh: the linearizability checker (src/check/lin.c) against
 * the naive reference (src/check/naive.c) on the same histories, in one
 * run. Histories come from tests/unit/histgen.h: a simulated linearizable
 * store, K keys, C clients each with one operation at a time, durations up
 * to 10 ms (now and then 50 ms) and gaps up to 2 ms, so operations overlap
 * as they do against a real server; 1% of them crash (info).
 *
 *   lincheck [--ops N] [--small N] [--keys K] [--clients C] [--seed S]
 *            [--naive-limit SECONDS]
 *
 * For each size (N, default 10000, then --small, default 200) it prints
 * the fast checker's time (median of 5 runs), the naive one's (stopped at
 * the limit, default 30 s: then the ratio is a lower bound), and the ratio. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chaoscontrol/check.h"
#include "chaoscontrol/history.h"
#include "histgen.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool past(void *opaque)
{
    return now_s() >= *(double *)opaque;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const char *verdict(const struct cc_check_result *r)
{
    return r->unknown ? "no verdict" : r->ok ? "linearizable" : "NOT linearizable";
}

/* One history size; returns 0 when both verdicts are as expected. */
static int bench(unsigned ops, unsigned keys, unsigned clients, uint64_t seed, double limit)
{
    struct histgen g = {.ops = ops, .keys = keys, .clients = clients, .pct_info = 1,
                        .seed = seed};
    char *text = histgen_make(&g);
    struct cc_history *h = NULL;
    struct cc_err err = {0};
    double t0 = now_s();
    if (cc_history_parse(text, strlen(text), "generated", &h, &err) < 0) {
        fprintf(stderr, "lincheck: %s\n", err.msg);
        free(text);
        return 1;
    }
    double t_parse = now_s() - t0;
    printf("history: %u operations, %u keys, %u clients, seed %" PRIu64 " (%zu lines, parsed "
           "in %.1f ms)\n", ops, keys, clients, seed, cc_history_events(h), t_parse * 1e3);

    double runs[5];
    struct cc_check_result fast;
    for (int i = 0; i < 5; i++) {
        t0 = now_s();
        if (cc_check_linearizable(h, NULL, &fast, &err) < 0) {
            fprintf(stderr, "lincheck: %s\n", err.msg);
            return 1;
        }
        runs[i] = now_s() - t0;
        if (i < 4)
            cc_check_result_free(&fast);
    }
    qsort(runs, 5, sizeof(runs[0]), cmp_d);
    double t_fast = runs[2];
    printf("  fast:   %10.3f ms  %-16s %12" PRIu64 " steps (median of 5; min %.3f, max %.3f)\n",
           t_fast * 1e3, verdict(&fast), fast.steps, runs[0] * 1e3, runs[4] * 1e3);

    double deadline = now_s() + limit;
    struct cc_check_opts o = {.max_steps = UINT64_MAX, .stop = past, .stop_opaque = &deadline};
    struct cc_check_result slow;
    t0 = now_s();
    if (cc_check_linearizable_naive(h, &o, &slow, &err) < 0) {
        fprintf(stderr, "lincheck: %s\n", err.msg);
        return 1;
    }
    double t_naive = now_s() - t0;
    printf("  naive:  %10.3f ms  %-16s %12" PRIu64 " steps%s\n", t_naive * 1e3, verdict(&slow),
           slow.steps, slow.unknown ? " (stopped at the limit)" : "");
    if (slow.unknown)
        printf("  ratio:  >= %.0fx (naive did not finish in %.0f s: a lower bound)\n",
               t_naive / t_fast, limit);
    else
        printf("  ratio:  %.1fx\n", t_naive / t_fast);
    int rc = !fast.ok || (!slow.ok && !slow.unknown);
    if (rc)
        fprintf(stderr, "lincheck: a generated history is linearizable, but: fast %s, naive %s\n",
                verdict(&fast), verdict(&slow));
    cc_check_result_free(&fast);
    cc_check_result_free(&slow);
    cc_history_free(h);
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned ops = 10000, small = 200, keys = 5, clients = 5;
    uint64_t seed = 1;
    double limit = 30;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--ops"))
            ops = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--small"))
            small = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--keys"))
            keys = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--clients"))
            clients = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--naive-limit"))
            limit = strtod(argv[i + 1], NULL);
        else {
            fprintf(stderr, "usage: lincheck [--ops N] [--small N] [--keys K] [--clients C] "
                            "[--seed S] [--naive-limit SECONDS]\n");
            return 2;
        }
    }
    if (!ops || !keys || !clients || limit <= 0) {
        fprintf(stderr, "lincheck: --ops, --keys, --clients and --naive-limit must be positive\n");
        return 2;
    }
    printf("linearizability checking: fast (per key, just-in-time search with a cache) vs "
           "naive (every order, all keys)\n");
    int rc = bench(ops, keys, clients, seed, limit);
    if (small)
        rc |= bench(small, keys, clients, seed, limit);
    return rc;
}
