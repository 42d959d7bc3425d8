/* Fuzz target: the bug-file parser (bug_N.json; cc_bug_parse, the path of
 * cc_bug_load after reading the file). Bug files travel: they are attached
 * to issues and replayed elsewhere, so the file is the attacker. Every
 * input either is refused with a message naming the file, or parses into a
 * bug whose JSON parses again into the same JSON (a round trip loses and
 * invents nothing) and whose failure and recipe are consistent (the recipe
 * ends at the failure, overrides name existing VMs). Anything else aborts.
 * Seed corpus: fuzz/corpus/bugfile/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/explore.h"

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_bugfile: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* cc_bug_load refuses files with NUL bytes before parsing */
    if (memchr(data, 0, size))
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    struct cc_bug *b = NULL;
    struct cc_err err = {0};
    if (cc_bug_parse(text, "bug.json", &b, &err) < 0) {
        if (b || !err.code || !strstr(err.msg, "bug.json"))
            fail("a refusal without a message naming the file", err.msg);
        free(text);
        return 0;
    }
    if (b->recipe->end_ns != b->fail.sim_ns || b->fail.vm >= b->target.n_vms)
        fail("an inconsistent bug was accepted", NULL);
    for (size_t i = 0; i < b->recipe->n_ov; i++)
        if (b->recipe->ov[i].vm >= b->target.n_vms)
            fail("an override of a VM that does not exist was accepted", NULL);
    char *j1 = cc_bug_to_json(b);
    struct cc_bug *c = NULL;
    if (!j1 || cc_bug_parse(j1, "again.json", &c, &err) < 0)
        fail("the bug's own JSON does not parse", err.msg);
    char *j2 = cc_bug_to_json(c);
    if (!j2 || strcmp(j1, j2))
        fail("a round trip changed the bug", NULL);
    free(j1);
    free(j2);
    cc_bug_free(c);
    cc_bug_free(b);
    free(text);
    return 0;
}
