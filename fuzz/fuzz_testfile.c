/* Fuzz target: chaoscontrol test's file parser (src/cli/testfile.c). Test
 * files come from users' repositories and CI jobs, so the file is the
 * attacker. Every input either is refused with a message naming the file
 * and a line ("test.yaml:N: ..."), or parses into a test whose fields hold
 * what the parser promises (a name fit for a directory, counts in range,
 * an initrd or an image, no client outside the VMs) and whose explore and
 * pack command lines can be made. Anything else aborts.
 * Seed corpus: fuzz/corpus/testfile/ (the repo's examples). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/testfile.h"

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_testfile: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ctest t;
    struct cc_err err = {0};
    if (ctest_parse("dir/test.yaml", (const char *)data, size, &t, &err) < 0) {
        if (!err.code || strncmp(err.msg, "dir/test.yaml:", 14) || err.msg[14] < '0' ||
            err.msg[14] > '9')
            fail("a refusal without 'FILE:LINE:'", err.msg);
        ctest_free(&t);
        return 0;
    }
    if (!t.name || !*t.name || strchr(t.name, '/') || !strcmp(t.name, "..") ||
        t.vms < 1 || t.vms > 64 || !t.rounds || !t.branches || !t.initrd == !t.pack ||
        (t.pack && !t.pack_cmd) || (t.expect_property && t.expect != CTEST_EXPECT_BUG))
        fail("an accepted test breaks a promise", t.name);
    if (t.initrd && strncmp(t.initrd, "dir/", 4) && t.initrd[0] != '/')
        fail("a relative initrd not resolved against the file's directory", t.initrd);
    struct strlist a = {0}, p = {0};
    if (ctest_explore_args(&t, "k", t.initrd ? t.initrd : "i", "out", &a) < 0 ||
        (t.pack && ctest_pack_args(&t, "img", &p) < 0))
        fail("no command line", NULL);
    for (size_t i = 0; i < a.n; i++)
        if (!a.v[i])
            fail("a NULL argument", NULL);
    strlist_free(&a);
    strlist_free(&p);
    ctest_free(&t);
    return 0;
}
