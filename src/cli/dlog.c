/* chaoscontrol dlog dump | stats | diff: read determinism logs written by
 * boot --dlog and sim --dlog (chaoscontrol/dlog.h, docs/dlog.md).
 * Exit status: 0 fine (diff: the same), 1 diff: different, 2 bad input or
 * usage. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "chaoscontrol/dlog.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chaoscontrol dlog dump FILE [--json] [--vm N] [--from EXIT] [--count N]\n"
            "       chaoscontrol dlog stats FILE [--json]\n"
            "       chaoscontrol dlog diff A B [--structural] [--context N]\n\n"
            "Reads a determinism log written by 'boot --dlog F', 'sim --dlog F',\n"
            "'replay --dlog F', 'reproduce --dlog F' or 'explore run --dlog-bugs'\n"
            "(bug_N.dlog) (format: docs/dlog.md).\n\n"
            "  dump     print the records, one a line (text, or JSON lines with --json);\n"
            "           --vm N only VM N's, --from EXIT from that exit number on, --count N\n"
            "           at most N records\n"
            "  stats    exits by reason, by port / MMIO address, by VM and per virtual\n"
            "           second (--json: one JSON object)\n"
            "  diff     the first record where A and B differ, with --context N records\n"
            "           (default 5) before it and after it on both sides; --structural\n"
            "           ignores data payloads (values read or written, register values,\n"
            "           RAM hashes). Exit 0 the same, 1 different, 2 bad input.\n");
}

enum { OPT_JSON = 256, OPT_VM, OPT_FROM, OPT_COUNT, OPT_STRUCTURAL, OPT_CONTEXT, OPT_HELP };

static const struct option long_opts[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"vm", required_argument, NULL, OPT_VM},
    {"from", required_argument, NULL, OPT_FROM},
    {"count", required_argument, NULL, OPT_COUNT},
    {"structural", no_argument, NULL, OPT_STRUCTURAL},
    {"context", required_argument, NULL, OPT_CONTEXT},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

int cmd_dlog(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    bool dump = !strcmp(sub, "dump"), stats = !strcmp(sub, "stats"), diff = !strcmp(sub, "diff");
    if (!dump && !stats && !diff) {
        fprintf(stderr, "chaoscontrol dlog: unknown subcommand '%s' (dump, stats or diff)\n", sub);
        return 2;
    }
    struct cc_dlog_dump_opts d = {.vm = -1};
    struct cc_dlog_diff_opts x = {.context = 5};
    bool json = false;
    uint64_t v;
    optind = 1;
    opterr = 0;
    argc--;
    argv++;
    int c;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: json = true; break;
        case OPT_VM:
            if (!cli_parse_u64(optarg, &v) || v >= CC_DLOG_MAX_VMS) {
                fprintf(stderr, "chaoscontrol dlog: --vm '%s' is not a VM index\n", optarg);
                return 2;
            }
            d.vm = (int64_t)v;
            break;
        case OPT_FROM:
            if (!cli_parse_u64(optarg, &d.from)) {
                fprintf(stderr, "chaoscontrol dlog: --from '%s' is not an exit number\n", optarg);
                return 2;
            }
            break;
        case OPT_COUNT:
            if (!cli_parse_u64(optarg, &d.count) || !d.count) {
                fprintf(stderr, "chaoscontrol dlog: --count '%s' is not a positive number\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_STRUCTURAL: x.structural = true; break;
        case OPT_CONTEXT:
            if (!cli_parse_u64(optarg, &v) || v > 100000) {
                fprintf(stderr, "chaoscontrol dlog: --context '%s' is not a number up to 100000\n",
                        optarg);
                return 2;
            }
            x.context = (unsigned)v;
            break;
        case OPT_HELP:
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "chaoscontrol dlog: %s option '%s'\n",
                    optopt >= OPT_JSON ? "missing value for" : "unknown", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    bool bad_opt = (!dump && (d.vm >= 0 || d.from || d.count)) || (diff && json) ||
                   (!diff && (x.structural || x.context != 5));
    if (bad_opt) {
        fprintf(stderr, "chaoscontrol dlog %s: an option of another subcommand was given\n", sub);
        usage(stderr);
        return 2;
    }
    int want = diff ? 2 : 1;
    if (argc - optind != want) {
        fprintf(stderr, "chaoscontrol dlog %s: want %s\n", sub, diff ? "two files" : "one file");
        usage(stderr);
        return 2;
    }
    struct cc_err err = {0};
    d.json = json;
    int rc;
    if (dump)
        rc = cc_dlog_dump(argv[optind], &d, stdout, &err);
    else if (stats)
        rc = cc_dlog_stats(argv[optind], json, stdout, &err);
    else
        rc = cc_dlog_diff(argv[optind], argv[optind + 1], &x, stdout, &err);
    fflush(stdout);
    if (rc < 0) {
        fprintf(stderr, "chaoscontrol dlog %s: %s\n", sub, err.msg);
        return 2;
    }
    return rc;
}
