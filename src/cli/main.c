/* chaoscontrol: the command-line front end. Each subcommand is a thin layer
 * over libchaoscontrol. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
};

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("chaoscontrol 0.1.0\n");
    return 0;
}

static const struct command commands[] = {
    {"boot", cmd_boot, "boot a Linux guest and run it to the end"},
    {"check", cmd_check, "check an operation history: linearizable registers, lost set adds"},
    {"debug", cmd_debug, "a GDB server with reverse execution for one VM of a bug's replay"},
    {"dlog", cmd_dlog, "dump, summarize or diff a determinism log (boot/sim --dlog)"},
    {"explore", cmd_explore, "coverage-guided exploration of a simulation: find assertion failures"},
    {"minimize", cmd_minimize, "shrink a bug file's faults and choices; still fails the same way"},
    {"pack", cmd_pack, "make an initramfs that runs unmodified host programs"},
    {"replay", cmd_replay, "replay a bug file to an exit or a time: registers, task, console"},
    {"reproduce", cmd_reproduce, "replay a bug file and check the same failure at the same time"},
    {"run", cmd_run, "run an SDK guest to the end and report its assertions"},
    {"serve", cmd_serve, "the live web dashboard of an exploration directory"},
    {"sim", cmd_sim, "run N VMs in one simulation with a network and a fault schedule"},
    {"snapshot", cmd_snapshot, "save, load, inspect and diff snapshot files"},
    {"snapshot-demo", cmd_snapshot_demo, "snapshot, restore and fork a guest, with checks and timings"},
    {"test", cmd_test, "run declarative simulation tests (YAML files); JUnit XML for CI"},
    {"trace", cmd_trace, "record a VMM process's KVM events with bpftrace; compare two recordings"},
    {"triage", cmd_triage, "a bug report (Markdown, JSON, SVG): faults that matter, consoles, traffic"},
    {"verify", cmd_verify, "boot a guest N times and check the runs are bit-identical"},
    {"version", cmd_version, "print the version"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: chaoscontrol <command> [options]   (chaoscontrol <command> --help)\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version"))
        return cmd_version(argc, argv);
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "chaoscontrol: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
