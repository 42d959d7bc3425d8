/* The snapshot file loader refuses malformed files with a message and
 * without reading past the file: the inputs fuzz_snapshot_file found
 * (tests/fixtures/bad-snapshots/), each once a real bug: a section header
 * just before the end marker (the bound check wrapped around and asked for
 * 35 GB), a configuration after the memory (sizes disagreed: heap overflow
 * in info and save), and two memory sections (leaks, pages counted twice).
 * Needs no /dev/kvm: a file loads without a VM. */
#include <errno.h>
#include <string.h>

#include "../tap.h"
#include "chaoscontrol/snapshot.h"

static void refused(const char *name, const char *want)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", CC_BAD_SNAPSHOTS, name);
    struct cc_snapshot *s = (struct cc_snapshot *)1;
    struct cc_err err = {0};
    int rc = cc_snapshot_load(path, &s, &err);
    ok(rc < 0 && s == NULL && strstr(err.msg, want) && strstr(err.msg, name),
       "%s: refused, naming the file: %s", name, err.msg);
}

int main(void)
{
    tap_plan(0);
    refused("section-past-end.ccsnap", "section runs past the end of the file");
    refused("conf-after-mem.ccsnap", "a second 'CONF' section");
    refused("mem-twice.ccsnap", "a second 'MEM ' section");
    /* and the good fixture still loads */
    char path[4096];
    snprintf(path, sizeof(path), "%s/../snapshots/v1-3e361a6.ccsnap", CC_BAD_SNAPSHOTS);
    struct cc_snapshot *s = NULL;
    struct cc_err err = {0};
    ok(cc_snapshot_load(path, &s, &err) == 0 && s, "the good fixture loads (%s)", err.msg);
    cc_snapshot_put(s);
    return tap_exit();
}
