/* Fuzz target: the exploration checkpoint parser (checkpoint.json, the
 * explorer's state object; src/explore/state_json.c). The file is the
 * attacker: a checkpoint handed over by someone else, or one a dashboard
 * or a distributed explorer's store serves. Every input either is refused
 * with a message naming the input, or loads into a state that
 *   - writes back to JSON that loads again and writes back the same bytes
 *     (nothing is lost or invented in a round trip), and
 *   - renders as report.txt and coverage.svg (what a viewer does with it).
 * Anything else aborts. Seed corpus: fuzz/corpus/checkpoint/ (a real Raft
 * checkpoint cut down, the unit test's sample). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explore/state_internal.h"

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_checkpoint: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cc_xstate *st = NULL;
    struct cc_err err = {0};
    if (cc_xstate_parse((const char *)data, size, "input.json", &st, &err) < 0) {
        if (st || !err.code || !strstr(err.msg, "input.json"))
            fail("a refusal without a message naming the input", err.msg);
        return 0;
    }
    char *a = cc_xstate_to_json(st);
    if (!a)
        fail("no JSON for a loaded state", NULL);
    struct cc_xstate *again = NULL;
    if (cc_xstate_parse(a, strlen(a), "again.json", &again, &err) < 0)
        fail("the state's own JSON does not load", err.msg);
    char *b = cc_xstate_to_json(again);
    if (!b || strcmp(a, b))
        fail("a round trip changed the state", NULL);
    char *rep = report_text(st), *svg = report_svg(st);
    if (!rep || !svg || !strstr(rep, "ChaosControl exploration report") || !strstr(svg, "</svg>"))
        fail("the report did not render", NULL);
    struct cc_explore_summary s;
    cc_xstate_summary(st, &s);
    if (s.rounds_done != st->rounds_done || s.bugs != st->n_bugs)
        fail("the summary disagrees with the state", NULL);
    free(rep);
    free(svg);
    free(a);
    free(b);
    cc_xstate_free(again);
    cc_xstate_free(st);
    return 0;
}
