/* Fuzz target: the history parser and the checkers behind it
 * (cc_history_parse, cc_history_add_line, cc_check_*). Histories come from
 * guests and travel as files, so the input is the attacker. Every input
 * either is refused with a message naming the source, or parses into a
 * history that
 *   - writes back as JSON lines that parse into the same text (a round
 *     trip loses and invents nothing),
 *   - the line-by-line builder accepts too, with the same result,
 *   - both checkers judge within a small budget without crashing, the fast
 *     and the naive one agree when both decide, and a witness fails on its
 *     own (or the budget ends first).
 * Anything else aborts. Seed corpus: fuzz/corpus/history/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/check.h"
#include "chaoscontrol/history.h"

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_history: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static void check_builder(const uint8_t *data, size_t size, const char *want)
{
    struct cc_history *b = cc_history_new();
    struct cc_err err = {0};
    if (!b)
        return;
    for (size_t pos = 0; pos < size;) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - data) : size;
        if (cc_history_add_line(b, (const char *)data + pos, end - pos, 0, 0, &err) < 0)
            fail("the builder refuses a line the parser took", err.msg);
        pos = end + 1;
    }
    char *got = cc_history_to_jsonl(b);
    if (!got || strcmp(got, want))
        fail("the builder built another history", NULL);
    free(got);
    cc_history_free(b);
}

static void check_checkers(const struct cc_history *h)
{
    struct cc_check_opts o = {.max_steps = 20000, .max_memory = 1 << 20};
    struct cc_check_result fast, slow, w;
    struct cc_err err = {0};
    int rf = cc_check_linearizable(h, &o, &fast, &err);
    if (rf < 0 && !err.code)
        fail("a refusal without a message", NULL);
    int rs = cc_check_linearizable_naive(h, &o, &slow, &err);
    if ((rf < 0) != (rs < 0))
        fail("one checker refuses what the other takes", err.msg);
    if (rf == 0 && !fast.unknown && !slow.unknown && fast.ok != slow.ok)
        fail("the fast and the naive checker disagree", fast.explain);
    if (rf == 0 && !fast.ok && !fast.unknown) {
        if (!fast.witness || !fast.explain || !fast.key)
            fail("a violation without witness, explanation or key", NULL);
        if (cc_check_linearizable(fast.witness, &o, &w, &err) < 0 || w.ok)
            fail("the witness passes on its own", fast.explain);
        cc_check_result_free(&w);
    }
    if (rf == 0)
        cc_check_result_free(&fast);
    if (rs == 0)
        cc_check_result_free(&slow);
    if (cc_check_set(h, &o, &fast, &err) == 0) {
        if (!fast.ok && (!fast.witness || (!fast.n_lost && !fast.n_unexpected)))
            fail("a set violation with nothing lost or unexpected", fast.explain);
        cc_check_result_free(&fast);
    } else if (!err.code) {
        fail("a set refusal without a message", NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    struct cc_history *h = NULL;
    struct cc_err err = {0};
    if (cc_history_parse((const char *)data, size, "h.jsonl", &h, &err) < 0) {
        if (h || !err.code || strncmp(err.msg, "h.jsonl: line ", 14))
            fail("a refusal without a message naming the file and line", err.msg);
        return 0;
    }
    char *j1 = cc_history_to_jsonl(h);
    struct cc_history *h2 = NULL;
    if (!j1 || cc_history_parse(j1, strlen(j1), "again", &h2, &err) < 0)
        fail("the history's own JSON lines do not parse", err.msg);
    char *j2 = cc_history_to_jsonl(h2);
    if (!j2 || strcmp(j1, j2) || cc_history_count(h) != cc_history_count(h2))
        fail("a round trip changed the history", NULL);
    check_builder(data, size, j1);
    if (cc_history_count(h) <= 12)
        check_checkers(h);
    free(j1);
    free(j2);
    cc_history_free(h2);
    cc_history_free(h);
    return 0;
}
