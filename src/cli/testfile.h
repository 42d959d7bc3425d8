/* Declarative simulation tests (docs/tests.md): a YAML file says what to
 * boot, how to explore it and what counts as passing; `chaoscontrol test`
 * runs it as an `explore run` (src/cli/test.c). This is the file's parser
 * and checker: every error names the file, the line and the field. The
 * fields and their meaning are in docs/test-file.schema.json. */
#ifndef CC_CLI_TESTFILE_H
#define CC_CLI_TESTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"
#include "chaoscontrol/vm.h"

struct strlist {
    char **v;
    size_t n;
};

enum ctest_expect {
    CTEST_EXPECT_NO_BUG = 0,    /* passes when no property fails */
    CTEST_EXPECT_BUG,           /* passes when one does (a planted bug) */
};

struct ctest {
    char *file;                 /* as given */
    unsigned line;              /* of the document's start */
    char *name, *description;
    /* Paths are resolved against the file's directory after ${VAR} and
     * ${VAR:-default} are replaced by the environment's values. */
    char *kernel;               /* NULL: ours (cli_default_kernel) */
    char *initrd;               /* or image: */
    bool pack;                  /* image: an initramfs made by chaoscontrol pack */
    struct strlist pack_add;    /* programs (a path, or a name on $PATH) */
    struct strlist pack_files;  /* HOST[:GUEST], HOST resolved */
    char *pack_cmd;
    char *disk_image;
    uint64_t disk;              /* bytes, 0: explore's default */
    unsigned vms, cpus;         /* cpus 0: one */
    bool cpu_set;               /* cpu: the processor model (docs/cpu.md) */
    struct cc_cpu_model cpu;
    char *vcpu_schedule;
    uint32_t vcpu_quantum;
    uint64_t memory;            /* 0: default */
    char *cmdline, *append;
    char *clients;              /* explore's --clients text, or NULL */
    uint64_t latency_ns;        /* network.latency, 0: default */
    char *faults;               /* comma-separated kinds, NULL: explore's default */
    char *mode;                 /* fault, input-tree, hybrid (NULL: hybrid) */
    unsigned rounds, branches;
    uint64_t branch_ns;         /* 0: default (1 s) */
    uint64_t seed;
    uint64_t time_budget_ns;    /* wall time, 0: none */
    char *setup_marker;
    uint64_t setup_after_ns;
    char *check;                /* linearizable, set */
    unsigned react;
    bool react_set;
    unsigned stop_after;        /* 0: none (expect: bug makes it 1) */
    unsigned workers;           /* 0: one process */
    enum ctest_expect expect;
    char *expect_property;      /* a substring of the failed property's message */
};

/* Parse and check one file; on error err says "FILE:LINE: FIELD: what". */
int ctest_load(const char *path, struct ctest *t, struct cc_err *err);
/* The same from memory (path names the text in messages). */
int ctest_parse(const char *path, const char *text, size_t len, struct ctest *t,
                struct cc_err *err);
void ctest_free(struct ctest *t);

/* The arguments of `chaoscontrol explore run` (after "explore", "run") for
 * t with these kernel and initrd paths and this output directory: appended
 * to out (the strings are copies, owned by out). */
int ctest_explore_args(const struct ctest *t, const char *kernel, const char *initrd,
                       const char *output, struct strlist *out);
/* And of `chaoscontrol pack` (after "pack") for an image at output. */
int ctest_pack_args(const struct ctest *t, const char *output, struct strlist *out);

int strlist_add(struct strlist *l, const char *s);
void strlist_free(struct strlist *l);

#endif
