/* chaoscontrol explore / minimize / reproduce: coverage-guided exploration
 * of a multi-VM simulation, and the bug files it writes (see
 * include/chaoscontrol/explore.h).
 *
 *   chaoscontrol explore run --kernel K --initrd I --vms N --rounds R
 *                            --branches B --output DIR [--mode M] [--seed S]
 *                            [--disk-image F] [--cmdline ARGS] [--append ARGS]
 *                            [--dlog-bugs [--dlog-regs N]]
 *   chaoscontrol explore resume --corpus DIR --rounds R [--dlog-bugs ...]
 *   chaoscontrol minimize --bug bug_N.json --output min.json
 *   chaoscontrol reproduce --bug F [--serial] [--dlog D [--dlog-regs N]]
 *
 * Exit status: explore: 0 when no bug was found, 1 when one was (or on
 * errors); minimize: 0 when the minimized recipe was written (it was
 * verified to fail the same way); reproduce: 0 when the recorded failure
 * happened again at the same virtual time, 1 otherwise; 2 for usage errors
 * and unusable input files. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chaoscontrol/dash.h"
#include "chaoscontrol/dlog.h"
#include "chaoscontrol/explore.h"
#include "chaoscontrol/file.h"
#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol/sim.h"
#include "chaoscontrol/virtio.h"
#include "cli.h"

enum {
    OPT_KERNEL = 256, OPT_INITRD, OPT_VMS, OPT_ROUNDS, OPT_BRANCHES, OPT_OUTPUT, OPT_MODE,
    OPT_SEED, OPT_DISK_IMAGE, OPT_DISK, OPT_CMDLINE, OPT_APPEND, OPT_MEM, OPT_BRANCH_TIME,
    OPT_STOP_AFTER, OPT_REACT, OPT_CORPUS, OPT_BUG, OPT_SERIAL, OPT_FORCE, OPT_QUIET, OPT_HELP,
    OPT_SETUP_MARKER, OPT_SETUP_AFTER, OPT_CHECK, OPT_CLIENTS, OPT_SNAPSHOT_MEM, OPT_FAULTS,
    OPT_DLOG, OPT_DLOG_BUGS, OPT_DLOG_REGS, OPT_CPUS, OPT_VCPU_SCHEDULE, OPT_VCPU_QUANTUM,
    OPT_DASHBOARD, OPT_DASHBOARD_PORT, OPT_DASHBOARD_BIND, OPT_REDIS, OPT_NAME, OPT_WORKERS,
    OPT_ID, OPT_WORK_DIR, OPT_LEASE, OPT_TIME_LIMIT, OPT_LATENCY,
};

static const struct option long_opts[] = {
    {"kernel", required_argument, NULL, OPT_KERNEL},
    {"initrd", required_argument, NULL, OPT_INITRD},
    {"vms", required_argument, NULL, OPT_VMS},
    {"rounds", required_argument, NULL, OPT_ROUNDS},
    {"branches", required_argument, NULL, OPT_BRANCHES},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"mode", required_argument, NULL, OPT_MODE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"disk-image", required_argument, NULL, OPT_DISK_IMAGE},
    {"disk", required_argument, NULL, OPT_DISK},
    {"cmdline", required_argument, NULL, OPT_CMDLINE},
    {"append", required_argument, NULL, OPT_APPEND},
    {"mem", required_argument, NULL, OPT_MEM},
    {"branch-time", required_argument, NULL, OPT_BRANCH_TIME},
    {"stop-after", required_argument, NULL, OPT_STOP_AFTER},
    {"react", required_argument, NULL, OPT_REACT},
    {"corpus", required_argument, NULL, OPT_CORPUS},
    {"bug", required_argument, NULL, OPT_BUG},
    {"serial", no_argument, NULL, OPT_SERIAL},
    {"force", no_argument, NULL, OPT_FORCE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {"setup-marker", required_argument, NULL, OPT_SETUP_MARKER},
    {"setup-after", required_argument, NULL, OPT_SETUP_AFTER},
    {"check", required_argument, NULL, OPT_CHECK},
    {"clients", required_argument, NULL, OPT_CLIENTS},
    {"snapshot-mem", required_argument, NULL, OPT_SNAPSHOT_MEM},
    {"faults", required_argument, NULL, OPT_FAULTS},
    {"dlog", required_argument, NULL, OPT_DLOG},
    {"dlog-bugs", no_argument, NULL, OPT_DLOG_BUGS},
    {"dlog-regs", required_argument, NULL, OPT_DLOG_REGS},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"vcpu-schedule", required_argument, NULL, OPT_VCPU_SCHEDULE},
    {"vcpu-quantum", required_argument, NULL, OPT_VCPU_QUANTUM},
    {"dashboard", no_argument, NULL, OPT_DASHBOARD},
    {"dashboard-port", required_argument, NULL, OPT_DASHBOARD_PORT},
    {"dashboard-bind", required_argument, NULL, OPT_DASHBOARD_BIND},
    {"redis", required_argument, NULL, OPT_REDIS},
    {"name", required_argument, NULL, OPT_NAME},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"id", required_argument, NULL, OPT_ID},
    {"work-dir", required_argument, NULL, OPT_WORK_DIR},
    {"lease", required_argument, NULL, OPT_LEASE},
    {"time-limit", required_argument, NULL, OPT_TIME_LIMIT},
    {"latency", required_argument, NULL, OPT_LATENCY},
    CLI_CPU_MODEL_LONG_OPTS,
    CLI_PIN_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

struct xopts {
    const char *cmd;                /* "explore run", "minimize", ... */
    const char *kernel, *initrd, *output, *disk_image, *cmdline, *append, *corpus, *bug;
    const char *setup_marker;
    uint64_t setup_after;
    uint64_t clients;               /* VM mask */
    uint64_t snapshot_mem;
    const char *faults;             /* kinds the mutator draws, or NULL: all */
    const char *dlog;               /* reproduce --dlog */
    bool dlog_bugs, dlog_regs_set;  /* explore --dlog-bugs; --dlog-regs given */
    uint64_t dlog_regs;
    enum cc_xchecker checker;
    unsigned vms, rounds, branches, stop_after, react;
    unsigned vcpus;                 /* --cpus (0: one) */
    enum cc_vcpu_sched vcpu_sched;
    uint32_t vcpu_quantum;
    struct cli_cpu_opts cpu;        /* the processor (explore run) and --pin-cpu */
    bool react_set;
    enum cc_xmode mode;
    uint64_t seed, disk, mem, branch_ns;
    uint64_t time_limit_ns;         /* --time-limit: wall time (0: none) */
    uint64_t latency_ns;            /* --latency: every link's at start (0: default) */
    bool serial, force, quiet, help;
    bool dashboard;                 /* --dashboard (--dashboard-port/-bind imply it) */
    unsigned dashboard_port;        /* default 8080 */
    bool dashboard_port_set;
    const char *dashboard_bind;
    bool rounds_set, branches_set;
    /* a shared exploration (docs/distributed.md) */
    const char *redis, *name, *id, *work_dir;
    unsigned workers;
    bool workers_set;
    uint64_t lease_ns;
};

static void usage_run(FILE *f)
{
    fprintf(f,
            "usage: chaoscontrol explore run [--kernel K] --initrd I --vms N --rounds R\n"
            "           --branches B --output DIR [--mode fault|input-tree|hybrid] [--seed S]\n"
            "           [--disk-image F | --disk SIZE] [--cmdline ARGS] [--append ARGS]\n"
            "           [--mem SIZE] [--cpus N] [--vcpu-schedule rr|random]\n"
            "           [--vcpu-quantum N] [--branch-time T] [--stop-after N] [--react PCT]\n"
            "           [--cpu-vendor S] [--cpu-family N] [--cpu-model N] [--cpu-stepping N]\n"
            "           [--cpu-brand S] [--tsc-khz N] [--[no-]avx2] [--[no-]avx512]\n"
            "           [--pin-cpu LIST]\n"
            "           [--setup-marker TEXT] [--setup-after T] [--check MODEL]\n"
            "           [--clients LIST] [--faults KINDS] [--snapshot-mem SIZE]\n"
            "           [--dlog-bugs [--dlog-regs N]] [--dashboard [--dashboard-port P]\n"
            "           [--dashboard-bind ADDR]] [--time-limit T] [--latency T] [--force]\n"
            "           [--quiet]\n"
            "       chaoscontrol explore resume --corpus DIR --rounds R [--stop-after N]\n"
            "           [--snapshot-mem SIZE] [--dlog-bugs [--dlog-regs N]] [--dashboard ...]\n"
            "           [--time-limit T] [--pin-cpu LIST]\n"
            "       chaoscontrol explore run ... --workers N [--redis URL] [--name NAME]\n"
            "           [--lease T]\n"
            "       chaoscontrol explore resume --corpus DIR --rounds R --workers N\n"
            "           [--redis URL] [--name NAME] [--lease T] [--stop-after N] ...\n"
            "       chaoscontrol explore worker --redis URL [--name NAME] [--id ID]\n"
            "           [--work-dir DIR] [--lease T] [--kernel K] [--initrd I]\n"
            "           [--disk-image F] [--snapshot-mem SIZE] [--dlog-bugs [--dlog-regs N]]\n"
            "           [--pin-cpu LIST] [--quiet]\n"
            "       chaoscontrol explore status --redis URL [--name NAME]\n"
            "       chaoscontrol explore export --redis URL [--name NAME] --output DIR\n\n"
            "Boots N VMs in one simulation, runs them to setup_complete and snapshots\n"
            "them; each round forks B branches from frontier points with mutated fault\n"
            "schedules (fault), other values at cc_random_choice points (input-tree) or\n"
            "both (hybrid, the default), keeps the branches that reach new coverage as new\n"
            "frontier points, and writes every assertion failure as DIR/bug_N.json, with\n"
            "bug_N.txt (the bug in words), bug_N.history.jsonl (when the run had an\n"
            "operation history) and, with --dlog-bugs, bug_N.dlog beside it. DIR also\n"
            "gets checkpoint.json (for resume), report.txt, assertions.json and\n"
            "coverage.svg, rewritten after every round.\n\n"
            "  --kernel K         bzImage or ELF vmlinux (default: the kernel built or\n"
            "                     installed with this program, kernel/bzImage)\n"
            "  --initrd I         initramfs with the program under test as /init\n"
            "  --vms N            VMs in the simulation (1-%u)\n"
            "  --cpus N           vCPUs per VM (1-%d, default 1; one runs at a time)\n"
            "  --vcpu-schedule S  which vCPU runs next (--cpus > 1): rr (round robin, the\n"
            "                     default) or random (from each VM's seeded stream, which\n"
            "                     vcpu faults reseed: explore thread interleavings with it)\n"
            "  --vcpu-quantum N   exits a vCPU runs before the next one (rr), or a switch\n"
            "                     after each exit with probability 1/N (random); default %d\n"
            "  --seed S           seed of the simulation and of the explorer (default 0)\n"
            "  --disk SIZE        a zero-filled copy-on-write disk per VM (default 1M)\n"
            "  --disk-image F     a copy-on-write disk per VM over read-only image F\n"
            "  --cmdline ARGS     replace the default kernel command line\n"
            "  --append ARGS      append to it; \"{id}\" becomes the VM's index\n"
            "                     (e.g. --append \"raft_id={id} raft_bug=double_vote\")\n"
            "  --setup-marker TEXT console text that counts as setup complete, for\n"
            "                     programs without the SDK (besides cc_setup_complete)\n"
            "  --setup-after T    a VM not set up by virtual time T counts as set up then\n"
            "                     (e.g. 5s: an unmodified server that started by then)\n"
            "  --check MODEL      judge each branch's operation history (docs/history.md):\n"
            "                     linearizable (read/write/cas registers by key) or set\n"
            "                     (no acknowledged add lost); a violation is a bug\n"
            "  --clients LIST     client VMs (e.g. 3 or 3-4): no fault targets them and\n"
            "                     every partition leaves them reaching every side, as a\n"
            "                     Jepsen client on its control node\n"
            "  --faults KINDS     the fault kinds the mutator draws, comma-separated, from\n"
            "                     partition heal kill restart pause loss latency duplicate\n"
            "                     reorder clock disk vcpu (default: all but vcpu, and vcpu\n"
            "                     too with --cpus > 1 and --vcpu-schedule random; restart\n"
            "                     returns a VM to its post-setup snapshot, keeping only its\n"
            "                     disk; vcpu reseeds a VM's vCPU scheduler: another thread\n"
            "                     interleaving). Without partition and pause, --react\n"
            "                     defaults to 0 (--faults vcpu: interleavings only)\n"
            "  --snapshot-mem SIZE memory the snapshots of frontier points may hold (default:\n"
            "                     half of what is available at the start); past it the\n"
            "                     least recently used are re-made by replay when needed\n"
            "  --branch-time T    virtual time each branch runs (default 1s)\n"
            "  --stop-after N     stop once N distinct bugs were found (default: never)\n"
            "  --time-limit T     wall time (e.g. 30m): stop after the branch running then,\n"
            "                     as SIGINT or SIGTERM do; what was done is saved (with\n"
            "                     --workers: no new branches, the running ones finish)\n"
            "  --latency T        one-way latency of every link at start (default 100us)\n"
            "  --react PCT        share of fault branches that also cut off or pause each\n"
            "                     VM that starts talking to every other (a leader, most\n"
            "                     likely) shortly after it does (default 40, or 0 when\n"
            "                     --faults has neither partition nor pause; 0: never)\n"
            "  --dlog-bugs        for every new bug also write DIR/bug_N.dlog, a determinism\n"
            "                     log of the bug's recipe replayed from setup to the failure\n"
            "                     (one replay per new bug, after its branch; other branches\n"
            "                     run without a log). 'chaoscontrol reproduce --bug\n"
            "                     bug_N.json --dlog F' logs the same records (docs/dlog.md)\n"
            "  --dlog-regs N      a register dump every N exits of a VM in it (default\n"
            "                     100000, 0 none)\n"
            "  --dashboard        serve a live web page of the exploration while it runs\n"
            "                     (docs/dashboard.md); its address goes to stderr\n"
            "  --dashboard-port P its port (default 8080; 0: any free port)\n"
            "  --dashboard-bind ADDR  its address (default 127.0.0.1; 0.0.0.0 or :: for\n"
            "                     every interface: anyone who reaches it can read DIR)\n"
            "  --quiet            no per-round lines (bugs and the summary still print)\n"
            "One exploration on many workers (docs/distributed.md), shared through Redis:\n"
            "  --workers N        run N worker processes here (their state in a private\n"
            "                     redis-server in DIR/redis, or in --redis); DIR is kept up\n"
            "                     to date from the shared state. 0 with --redis: only\n"
            "                     create the exploration there, for workers elsewhere\n"
            "  --redis URL        redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH;\n"
            "                     a password is better in $CC_REDIS_PASSWORD (command lines\n"
            "                     are visible to every user of the machine)\n"
            "  --name NAME        the exploration's name in Redis (default \"default\")\n"
            "  --lease T          a branch's lease (default 10m; renewed while it runs): a\n"
            "                     killed worker's branch goes to another after it\n"
            "  explore worker     leases branches until the budget is done; --kernel,\n"
            "                     --initrd, --disk-image: this machine's copies of the\n"
            "                     target's files (checked by SHA-256; exit 2 if they differ);\n"
            "                     a bug's history and --dlog-bugs log go through Redis too\n"
            "  explore status     progress; explore export: write DIR from the shared state\n"
            "  explore resume --workers N: R more rounds of the shared exploration (DIR/redis,\n"
            "                     or --redis), run by N workers here (0: only add them)\n"
            "The processor the VMs present (recorded in the target: bug files, checkpoints;\n"
            "reproduce, minimize, replay, triage, debug and resume use the recorded one):\n",
            CC_SIM_MAX_VMS, CC_VM_MAX_VCPUS, CC_VM_DEFAULT_QUANTUM);
    cli_cpu_usage(f, 18, true, true);
    fprintf(f, "  %-18s with --workers N: worker i is pinned to the i-th core of LIST\n"
            "Exit status: 0 no bug found, 1 bugs found (or an error), 2 usage errors.\n", "");
}

static void usage_minimize(FILE *f)
{
    fprintf(f,
            "usage: chaoscontrol minimize --bug bug_N.json --output min.json [--pin-cpu LIST]\n"
            "       [--quiet]\n\n"
            "Delta debugging over the bug's faults, then its choice overrides; every\n"
            "candidate is replayed from the setup snapshot and kept when it fails the\n"
            "same assertion. The result is replayed from a fresh boot and must fail the\n"
            "same way before it is written (atomically) as a new bug file.\n");
    cli_cpu_usage(f, 14, false, true);
}

static void usage_reproduce(FILE *f)
{
    fprintf(f,
            "usage: chaoscontrol reproduce --bug F [--serial] [--dlog D [--dlog-regs N]]\n"
            "       [--pin-cpu LIST]\n\n"
            "Boots the bug's target (the kernel, initrd and disk image must have the\n"
            "recorded SHA-256), replays its recipe and checks that the same assertion\n"
            "fails in the same VM at the same virtual time and exit.\n"
            "  --serial       print each VM's console afterwards\n"
            "  --dlog D       write a determinism log of the replay from setup to its end\n"
            "                 (the boot is not in it): the same records as the bug_N.dlog\n"
            "                 of 'explore run --dlog-bugs' ('chaoscontrol dlog diff')\n"
            "  --dlog-regs N  a register dump every N exits of a VM (default 100000, 0 none)\n");
    cli_cpu_usage(f, 14, false, true);
    fprintf(f, "Exit status: 0 reproduced, 1 not (or an error), 2 unusable bug file.\n");
}

static void usage(FILE *f, const char *cmd)
{
    if (!strcmp(cmd, "minimize"))
        usage_minimize(f);
    else if (!strcmp(cmd, "reproduce"))
        usage_reproduce(f);
    else
        usage_run(f);
}

static int bad(const struct xopts *o, const char *fmt, const char *arg)
{
    fprintf(stderr, "chaoscontrol %s: ", o->cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    return 2;
}

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
    uint64_t v;
    if (!cli_parse_u64(s, &v) || v < 1 || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

/* Returns 0, 2 for a usage error, 3 after --help. */
/* "3", "3,4", "3-5,7": a VM mask (indices below CC_SIM_MAX_VMS). */
static bool parse_vm_list(const char *s, uint64_t *out)
{
    uint64_t m = 0;
    const char *p = s;
    while (*p) {
        char *end;
        if (*p < '0' || *p > '9')
            return false;
        unsigned long a = strtoul(p, &end, 10), b = a;
        if (*end == '-') {
            if (end[1] < '0' || end[1] > '9')
                return false;
            b = strtoul(end + 1, &end, 10);
        }
        if (a > b || b >= CC_SIM_MAX_VMS)
            return false;
        for (unsigned long v = a; v <= b; v++)
            m |= 1ull << v;
        if (*end == ',' && end[1])
            end++;
        else if (*end)
            return false;
        p = end;
    }
    *out = m;
    return m != 0;
}

static int parse(int argc, char **argv, struct xopts *o)
{
    optind = 1;
    opterr = 0;
    cli_cpu_opts_default(&o->cpu);
    int c;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_KERNEL: o->kernel = optarg; break;
        case OPT_INITRD: o->initrd = optarg; break;
        case OPT_OUTPUT: o->output = optarg; break;
        case OPT_DISK_IMAGE: o->disk_image = optarg; break;
        case OPT_CMDLINE: o->cmdline = optarg; break;
        case OPT_SETUP_MARKER: o->setup_marker = optarg; break;
        case OPT_SETUP_AFTER:
            if (!cc_time_parse(optarg, &o->setup_after) || !o->setup_after)
                return bad(o, "--setup-after '%s' is not a positive time (e.g. 5s)", optarg);
            break;
        case OPT_FAULTS: {
            struct cc_xweights w;
            cc_xweights_default(&w);
            if (cc_xweights_only(&w, optarg) < 0)
                return bad(o, "--faults '%s': want a comma-separated list of partition, heal, "
                           "kill, restart, pause, loss, latency, duplicate, reorder, clock, disk, "
                           "vcpu", optarg);
            o->faults = optarg;
            break;
        }
        case OPT_SNAPSHOT_MEM:
            if (!cli_parse_size(optarg, &o->snapshot_mem) || !o->snapshot_mem)
                return bad(o, "--snapshot-mem '%s' is not a size (e.g. 4G)", optarg);
            break;
        case OPT_CLIENTS:
            if (!parse_vm_list(optarg, &o->clients))
                return bad(o, "--clients '%s' is not a list of VM indices (e.g. 3 or 3,4 or 3-5)",
                           optarg);
            break;
        case OPT_CHECK:
            if (cc_xchecker_parse(optarg, &o->checker) < 0)
                return bad(o, "--check '%s': want linearizable, set or none", optarg);
            break;
        case OPT_APPEND: o->append = optarg; break;
        case OPT_REDIS: o->redis = optarg; break;
        case OPT_NAME: o->name = optarg; break;
        case OPT_ID: o->id = optarg; break;
        case OPT_WORK_DIR: o->work_dir = optarg; break;
        case OPT_WORKERS: {
            uint64_t v;
            if (!cli_parse_u64(optarg, &v) || v > 256)
                return bad(o, "--workers '%s' is not a number of workers (0-256)", optarg);
            o->workers = (unsigned)v;
            o->workers_set = true;
            break;
        }
        case OPT_TIME_LIMIT:
            if (!cc_time_parse(optarg, &o->time_limit_ns) || o->time_limit_ns < CC_SEC)
                return bad(o, "--time-limit '%s' is not a time of at least 1s (e.g. 30m, 2h)",
                           optarg);
            break;
        case OPT_LATENCY:
            if (!cc_time_parse(optarg, &o->latency_ns) || !o->latency_ns ||
                o->latency_ns > 10 * CC_SEC)
                return bad(o, "--latency '%s' is not a positive time up to 10s (e.g. 100us, "
                           "2ms)", optarg);
            break;
        case OPT_LEASE:
            if (!cc_time_parse(optarg, &o->lease_ns) || o->lease_ns < CC_MSEC * 100)
                return bad(o, "--lease '%s' is not a time of at least 100ms (e.g. 10m, 30s)",
                           optarg);
            break;
        case OPT_CPUS:
            if (!cli_parse_cpus(o->cmd, optarg, &o->vcpus))
                return 2;
            break;
        case OPT_VCPU_SCHEDULE:
            if (!cli_parse_vcpu_schedule(o->cmd, optarg, &o->vcpu_sched))
                return 2;
            break;
        case OPT_VCPU_QUANTUM:
            if (!cli_parse_vcpu_quantum(o->cmd, optarg, &o->vcpu_quantum))
                return 2;
            break;
        case OPT_DLOG: o->dlog = optarg; break;
        case OPT_DLOG_BUGS: o->dlog_bugs = true; break;
        case OPT_DLOG_REGS:
            if (!cli_parse_u64(optarg, &o->dlog_regs))
                return bad(o, "--dlog-regs '%s' is not a number", optarg);
            o->dlog_regs_set = true;
            break;
        case OPT_CORPUS: o->corpus = optarg; break;
        case OPT_BUG: o->bug = optarg; break;
        case OPT_SERIAL: o->serial = true; break;
        case OPT_FORCE: o->force = true; break;
        case OPT_QUIET: o->quiet = true; break;
        case OPT_DASHBOARD: o->dashboard = true; break;
        case OPT_DASHBOARD_PORT:
        {
            uint64_t v;
            if (!cli_parse_u64(optarg, &v) || v > 65535)
                return bad(o, "--dashboard-port '%s' is not a port (0-65535)", optarg);
            o->dashboard_port = (unsigned)v;
            o->dashboard_port_set = o->dashboard = true;
        }
            break;
        case OPT_DASHBOARD_BIND:
            o->dashboard_bind = optarg;
            o->dashboard = true;
            break;
        case OPT_VMS:
            if (!parse_uint(optarg, CC_SIM_MAX_VMS, &o->vms)) {
                fprintf(stderr, "chaoscontrol %s: --vms '%s' is not a number of VMs (1-%u)\n",
                        o->cmd, optarg, CC_SIM_MAX_VMS);
                return 2;
            }
            break;
        case OPT_ROUNDS:
            if (!parse_uint(optarg, 1000000, &o->rounds))
                return bad(o, "--rounds '%s' is not a positive number", optarg);
            o->rounds_set = true;
            break;
        case OPT_BRANCHES:
            if (!parse_uint(optarg, 1000000, &o->branches))
                return bad(o, "--branches '%s' is not a positive number", optarg);
            o->branches_set = true;
            break;
        case OPT_STOP_AFTER:
            if (!parse_uint(optarg, 1000000, &o->stop_after))
                return bad(o, "--stop-after '%s' is not a positive number", optarg);
            break;
        case OPT_REACT: {
            uint64_t v;
            if (!cli_parse_u64(optarg, &v) || v > 100)
                return bad(o, "--react '%s' is not a percentage (0-100)", optarg);
            o->react = (unsigned)v;
            o->react_set = true;
            break;
        }
        case OPT_MODE:
            if (cc_xmode_parse(optarg, &o->mode) < 0)
                return bad(o, "--mode '%s' is not one of fault, input-tree, hybrid", optarg);
            break;
        case OPT_SEED:
            if (!cli_parse_u64(optarg, &o->seed))
                return bad(o, "--seed '%s' is not a number", optarg);
            break;
        case OPT_DISK:
            if (!cli_parse_size(optarg, &o->disk) || !o->disk || (o->disk & 511))
                return bad(o, "--disk '%s' is not a size that is a multiple of 512 (e.g. 1M)",
                           optarg);
            break;
        case OPT_MEM:
            if (!cli_parse_size(optarg, &o->mem) || !o->mem)
                return bad(o, "--mem '%s' is not a size (e.g. 256M)", optarg);
            break;
        case OPT_BRANCH_TIME:
            if (!cc_time_parse(optarg, &o->branch_ns) || !o->branch_ns)
                return bad(o, "--branch-time '%s' is not a positive time (e.g. 1s, 500ms)",
                           optarg);
            break;
        case OPT_HELP:
            usage(stdout, o->cmd);
            return 3;
        default: {
            int r = cli_cpu_opt(o->cmd, c, optarg, &o->cpu);
            if (r < 0)
                return 2;
            if (r > 0)
                break;
            if (optopt >= OPT_KERNEL)
                fprintf(stderr, "chaoscontrol %s: option '%s' needs a value\n", o->cmd,
                        argv[optind - 1]);
            else
                fprintf(stderr, "chaoscontrol %s: unknown option '%s'\n", o->cmd,
                        argv[optind - 1]);
            usage(stderr, o->cmd);
            return 2;
        }
        }
    }
    if (cli_cpu_opts_check(o->cmd, &o->cpu) < 0)
        return 2;
    if (optind < argc)
        return bad(o, "unexpected argument '%s'", argv[optind]);
    return 0;
}

/* Options that do not belong to a command are refused, not ignored. */
static int only(const struct xopts *o, const char *allowed, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2))
            continue;
        char name[64];
        size_t n = strcspn(a + 2, "=");
        if (n >= sizeof(name) - 2)
            n = sizeof(name) - 3;
        snprintf(name, sizeof(name), " %.*s ", (int)n, a + 2);
        char list[1024];
        snprintf(list, sizeof(list), " %s help ", allowed);
        if (!strstr(list, name))
            return bad(o, "option '%s' does not apply to this command", a);
        /* skip the value of options that take one */
        for (const struct option *lo = long_opts; lo->name; lo++)
            if (!strncmp(lo->name, a + 2, n) && !lo->name[n] && lo->has_arg &&
                !a[2 + n])
                i++;
    }
    return 0;
}

/* The kernel, initrd and disk checked as booting them would check them,
 * before /dev/kvm is opened. */
static bool inputs_ok(const struct xopts *o)
{
    struct cc_err err = {0};
    struct cc_blk_config bc = {.size = o->disk, .image_path = o->disk_image};
    if (cc_linux_check(o->kernel, o->initrd, o->mem ? o->mem : CC_VM_DEFAULT_MEM, &err) < 0 ||
        ((o->disk || o->disk_image) && cc_blk_config_check(&bc, &err) < 0)) {
        fprintf(stderr, "chaoscontrol %s: %s\n", o->cmd, err.msg);
        return false;
    }
    return true;
}

/* ---- terminal status line and log ---- */

struct ui {
    const char *cmd;
    bool tty, line_shown, quiet;
    struct cc_dash *dash;           /* --dashboard, or NULL */
};

static void ui_progress(void *opaque, const char *line)
{
    struct ui *u = opaque;
    cc_dash_progress(u->dash, line);
    if (!u->tty)
        return;
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    u->line_shown = *line != 0;
}

static void ui_log(void *opaque, const char *msg)
{
    struct ui *u = opaque;
    cc_dash_notify(u->dash);        /* a round ended or a bug was written */
    if (u->quiet && !strncmp(msg, "round ", 6))
        return;
    if (u->line_shown) {
        fprintf(stderr, "\r\033[K");
        u->line_shown = false;
    }
    fprintf(stderr, "chaoscontrol %s: %s\n", u->cmd, msg);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --dashboard: serve dir (made now if missing, as the explorer would) while
 * the exploration runs. -1 after printing why it cannot. */
static int dash_begin(const struct xopts *o, const char *dir, struct ui *u)
{
    if (!o->dashboard)
        return 0;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "chaoscontrol %s: cannot create output directory '%s': %s\n", o->cmd,
                dir, strerror(errno));
        return -1;
    }
    struct cc_dash_opts d = {.corpus = dir, .bind = o->dashboard_bind,
                             .port = o->dashboard_port_set ? o->dashboard_port : 8080,
                             .live = true};
    struct cc_err err = {0};
    if (cc_dash_start(&d, &u->dash, &err) < 0) {
        fprintf(stderr, "chaoscontrol %s: %s\n", o->cmd, err.msg);
        return -1;
    }
    fprintf(stderr, "chaoscontrol %s: dashboard at %s\n", o->cmd, cc_dash_url(u->dash));
    return 0;
}

static void dash_end(struct ui *u)
{
    cc_dash_set_live(u->dash, false);
    cc_dash_stop(u->dash);
    u->dash = NULL;
}

/* ---- explore ---- */

/* SIGINT and SIGTERM during explore run/resume: stop after the branch that
 * is running, save, print the summary (a second signal kills as usual). */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = 1;
    signal(sig, SIG_DFL);
}

static void catch_stop_signals(void)
{
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void print_summary(const struct cc_explore_summary *s, const char *dir)
{
    printf("explored %u rounds, %" PRIu64 " branches in %.1f s: %zu edges, %zu assertion "
           "states, frontier %zu, %u bug%s\n", s->rounds_done, s->branches, s->wall_s,
           s->edges, s->assert_bits, s->frontier, s->bugs, s->bugs == 1 ? "" : "s");
    if (s->bugs)
        printf("first bug after %" PRIu64 " branches, %.1f s\n", s->first_bug_branch,
               s->first_bug_wall_s);
    printf("report: %s/report.txt\n", dir);
}

static int summarize(struct cc_explorer *x, const char *dir)
{
    struct cc_explore_summary s;
    cc_explorer_summary(x, &s);
    print_summary(&s, dir);
    return s.bugs ? 1 : 0;
}


/* ---- a shared exploration (docs/distributed.md) ---- */

/* explore run --workers N [--redis URL]: create (or join) the exploration,
 * start N `explore worker` processes on this machine and keep the output
 * directory up to date from the shared state until they are done. Without
 * --redis, a private redis-server runs in OUTPUT/redis for the run.
 * explore resume --workers N (t NULL): the same on an exploration there,
 * given o->rounds more rounds (OUTPUT/redis: the one the run left). */
static int run_shared(const struct xopts *o, const struct cc_xtarget *t,
                      const struct cc_explore_opts *eo, struct ui *u)
{
    const char *name = o->name ? o->name : "default";
    struct cc_err err = {0};
    char *url = NULL;
    int srv = -1;
    char rdir[4200];
    if (!o->redis) {
        snprintf(rdir, sizeof(rdir), "%s/redis", o->output);
        if (!t && access(rdir, F_OK) < 0) {
            fprintf(stderr, "chaoscontrol %s: '%s' has no redis/ (its Redis's data): it was not "
                    "explored with --workers without --redis. Resume it without --workers (one "
                    "process), or give --redis URL\n", o->cmd, o->output);
            return 2;
        }
        if ((mkdir(o->output, 0755) < 0 && errno != EEXIST) ||
            (mkdir(rdir, 0700) < 0 && errno != EEXIST)) {
            fprintf(stderr, "chaoscontrol %s: cannot create '%s': %s\n", o->cmd, rdir,
                    strerror(errno));
            return 1;
        }
        if (cc_explore_redis_start(rdir, &url, &srv, &err) < 0) {
            fprintf(stderr, "chaoscontrol %s: %s\n", o->cmd, err.msg);
            return 1;
        }
        if (!o->quiet)
            fprintf(stderr, "chaoscontrol %s: Redis at %s (its append-only file in %s)\n",
                    o->cmd, url, rdir);
    } else {
        url = strdup(o->redis);
    }
    int status = 0;
    bool created = false;
    if (!t) {
        uint64_t budget, bugs;
        if (cc_explore_extend(url, name, o->rounds, o->stop_after, &budget, &bugs, &err) < 0) {
            fprintf(stderr, "chaoscontrol %s: %s\n", o->cmd, err.msg);
            status = err.code == ENOENT || err.code == EINVAL ? 2 : 1;
            goto out;
        }
        if (!o->workers) {
            printf("exploration '%s' at %s: %u more rounds, %" PRIu64 " branches in all\n"
                   "start workers with: chaoscontrol explore worker --redis %s --name %s\n",
                   name, url, o->rounds, budget, url, name);
            goto out;
        }
        if (!o->quiet)
            fprintf(stderr, "chaoscontrol %s: exploration '%s' at %s: %u more rounds, %" PRIu64
                    " branches in all (%" PRIu64 " bug%s so far)\n", o->cmd, name, url,
                    o->rounds, budget, bugs, bugs == 1 ? "" : "s");
    } else if (cc_explore_create(t, eo, url, name, &created, &err) < 0) {
        fprintf(stderr, "chaoscontrol %s: %s\n", o->cmd, err.msg);
        status = err.code == EEXIST || err.code == EINVAL ? 2 : 1;
        goto out;
    }
    if (!o->workers) {
        printf("exploration '%s' %s at %s: %u rounds of %u branches\n"
               "start workers with: chaoscontrol explore worker --redis %s --name %s\n",
               name, created ? "created" : "exists (same target)", url, eo->rounds,
               eo->branches, url, name);
        goto out;
    }
    if (t && !created && !o->quiet)
        fprintf(stderr, "chaoscontrol %s: joining exploration '%s' at %s (same target)\n",
                o->cmd, name, url);
    char self[4096];
    if (!cc_program_path(self, sizeof(self))) {
        fprintf(stderr, "chaoscontrol %s: cannot find this program (/proc/self/exe): %s\n",
                o->cmd, strerror(errno));
        status = 1;
        goto out;
    }
    pid_t pids[256];
    unsigned running = 0, failed = 0;
    for (unsigned i = 0; i < o->workers; i++) {
        char id[32], wd[4200], mem[32], lease[32];
        snprintf(id, sizeof(id), "local-%u", i + 1);
        snprintf(wd, sizeof(wd), "%s/worker-%u", o->output, i + 1);
        snprintf(mem, sizeof(mem), "%" PRIu64, o->snapshot_mem);
        snprintf(lease, sizeof(lease), "%" PRIu64 "ns", o->lease_ns);
        const char *argv[24] = {self, "explore", "worker", "--redis", url, "--name", name,
                                "--id", id, "--work-dir", wd, "--force"};
        int n = 12;
        if (o->quiet)
            argv[n++] = "--quiet";
        if (o->snapshot_mem) {
            argv[n++] = "--snapshot-mem";
            argv[n++] = mem;
        }
        if (o->lease_ns) {
            argv[n++] = "--lease";
            argv[n++] = lease;
        }
        char regs[32];
        if (o->dlog_bugs)
            argv[n++] = "--dlog-bugs";
        if (o->dlog_regs_set) {
            snprintf(regs, sizeof(regs), "%" PRIu64, o->dlog_regs);
            argv[n++] = "--dlog-regs";
            argv[n++] = regs;
        }
        char core[16];
        if (o->cpu.pin.n) {     /* worker i: the i-th core of --pin-cpu */
            snprintf(core, sizeof(core), "%u", o->cpu.pin.cpu[i % o->cpu.pin.n]);
            argv[n++] = "--pin-cpu";
            argv[n++] = core;
        }
        argv[n] = NULL;
        fflush(stdout);
        fflush(stderr);
        pid_t p = fork();
        if (p == 0) {
            execv(self, (char *const *)argv);
            fprintf(stderr, "chaoscontrol %s: cannot run %s: %s\n", o->cmd, self,
                    strerror(errno));
            _exit(127);
        }
        if (p < 0) {
            fprintf(stderr, "chaoscontrol %s: fork: %s\n", o->cmd, strerror(errno));
            break;
        }
        pids[running++] = p;
    }
    double t0 = wall_now(), last = 0;
    unsigned alive = running;
    struct cc_explore_follow *fol = NULL;
    if (cc_explore_follow_new(url, name, o->output, &fol, &err) < 0) {
        fprintf(stderr, "chaoscontrol %s: %s\n", o->cmd, err.msg);
        fol = NULL;
    }
    bool stopped = false;
    catch_stop_signals();
    while (alive) {
        /* a time limit or SIGINT/SIGTERM: no new branches, the running
         * ones finish (the workers exit as at the end of the budget) */
        const char *why = stop_signal ? "interrupted"
                          : o->time_limit_ns && wall_now() - t0 >= (double)o->time_limit_ns / CC_SEC
                          ? "time limit reached" : NULL;
        if (why && !stopped) {
            stopped = true;
            ui_progress(u, "");
            if (cc_explore_stop(url, name, &err) < 0)
                fprintf(stderr, "chaoscontrol %s: %s\n", o->cmd, err.msg);
            else
                fprintf(stderr, "chaoscontrol %s: %s: no new branches; waiting for the %u "
                        "workers' running ones (%.0f s)\n", o->cmd, why, alive, wall_now() - t0);
        }
        for (unsigned i = 0; i < running; i++) {
            int st;
            if (pids[i] > 0 && waitpid(pids[i], &st, WNOHANG) == pids[i]) {
                pids[i] = -1;
                alive--;
                if (!WIFEXITED(st) || WEXITSTATUS(st)) {
                    failed++;
                    fprintf(stderr, "chaoscontrol %s: worker local-%u %s %d\n", o->cmd, i + 1,
                            WIFEXITED(st) ? "exited with status" : "was killed by signal",
                            WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
                }
            }
        }
        if (alive && wall_now() - last >= 1.0) {
            last = wall_now();
            struct cc_explore_summary s;
            struct cc_shared_status ss;
            int sr = fol ? cc_explore_follow_sync(fol, &s, &err) : -1;
            if (sr == 1)
                cc_dash_notify(u->dash);
            if (sr >= 0) {
                if (cc_explore_status(url, name, &ss, &err) == 0) {
                    char line[256];
                    double dt = wall_now() - t0;
                    snprintf(line, sizeof(line), "%u workers  branches %" PRIu64 "/%" PRIu64
                             "  %.2f branches/s  edges %zu  assert-states %zu  bugs %u",
                             alive, ss.done, ss.budget, dt > 0 ? (double)ss.done / dt : 0,
                             s.edges, s.assert_bits, s.bugs);
                    ui_progress(u, line);
                }
            }
        }
        if (alive)
            usleep(100 * 1000);
    }
    ui_progress(u, "");
    cc_explore_follow_free(fol);
    struct cc_explore_summary s;
    if (cc_explore_export(url, name, o->output, &s, &err) < 0) {
        fprintf(stderr, "chaoscontrol %s: %s\n", o->cmd, err.msg);
        status = 1;
        goto out;
    }
    cc_dash_notify(u->dash);
    print_summary(&s, o->output);
    status = failed || s.bugs ? 1 : 0;
out:
    cc_explore_redis_stop(srv, url);
    free(url);
    return status;
}

/* explore worker: lease branches of a shared exploration until its budget
 * is done. */
static int explore_worker(int argc, char **argv)
{
    struct xopts o = {.cmd = "explore worker"};
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc == 3 ? 0 : rc;
    if (only(&o, "redis name id work-dir lease kernel initrd disk-image snapshot-mem quiet "
             "force pin-cpu dlog-bugs dlog-regs", argc, argv))
        return 2;
    if (o.dlog_regs_set && !o.dlog_bugs)
        return bad(&o, "%s", "--dlog-regs needs --dlog-bugs");
    if (!o.redis)
        return bad(&o, "%s", "--redis URL is required (redis://HOST:PORT or unix:///PATH)");
    if (cli_check_kvm(o.force) < 0 || cli_pin(o.cmd, &o.cpu, 0, o.quiet) < 0)
        return 1;
    char wd[4200], id[128];
    if (o.id)
        snprintf(id, sizeof(id), "%s", o.id);
    else {
        char host[64] = "host";
        gethostname(host, sizeof(host) - 1);
        snprintf(id, sizeof(id), "%s-%d", host, (int)getpid());
    }
    if (o.work_dir)
        snprintf(wd, sizeof(wd), "%s", o.work_dir);
    else
        snprintf(wd, sizeof(wd), "chaoscontrol-worker-%s", id);
    struct ui u = {.cmd = o.cmd, .tty = cli_is_tty(), .quiet = o.quiet};
    struct cc_explore_opts eo;
    cc_explore_opts_default(&eo);
    eo.snapshot_mem = o.snapshot_mem;
    eo.dlog_bugs = o.dlog_bugs;
    if (o.dlog_regs_set)
        eo.dlog_regs = o.dlog_regs;
    eo.progress = ui_progress;
    eo.log = ui_log;
    eo.log_opaque = &u;
    struct cc_worker_opts w = {.url = o.redis, .name = o.name ? o.name : "default", .id = id,
                               .work_dir = wd, .lease_ms = o.lease_ns / CC_MSEC,
                               .kernel = o.kernel, .initrd = o.initrd,
                               .disk_image = o.disk_image};
    struct cc_worker_summary sum;
    struct cc_err err = {0};
    if (u.tty)
        ui_progress(&u, "joining, booting and running to setup_complete ...");
    rc = cc_explore_work(&w, &eo, &sum, &err);
    ui_progress(&u, "");
    if (rc < 0) {
        fprintf(stderr, "chaoscontrol explore worker: %s\n", err.msg);
        return err.code == EINVAL || err.code == ENOENT || err.code == EEXIST ? 2 : 1;
    }
    if (!o.quiet)
        printf("worker %s: %" PRIu64 " branches (%" PRIu64 " late, not counted), %u new bug%s "
               "in %.1f s; Redis: %" PRIu64 " round trips, %.1f KB out, %.1f KB in\n", id,
               sum.branches, sum.late, sum.bugs, sum.bugs == 1 ? "" : "s", sum.wall_s,
               sum.round_trips, (double)sum.bytes_out / 1024, (double)sum.bytes_in / 1024);
    return 0;
}

/* explore status / export: the shared state from Redis. */
static int explore_status(int argc, char **argv, bool export)
{
    struct xopts o = {.cmd = export ? "explore export" : "explore status"};
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc == 3 ? 0 : rc;
    if (only(&o, export ? "redis name output" : "redis name", argc, argv))
        return 2;
    if (!o.redis)
        return bad(&o, "%s", "--redis URL is required");
    if (export && !o.output)
        return bad(&o, "%s", "--output DIR is required");
    const char *name = o.name ? o.name : "default";
    struct cc_err err = {0};
    if (export) {
        struct cc_explore_summary s;
        if (cc_explore_export(o.redis, name, o.output, &s, &err) < 0) {
            fprintf(stderr, "chaoscontrol %s: %s\n", o.cmd, err.msg);
            return err.code == ENOENT ? 2 : 1;
        }
        print_summary(&s, o.output);
        return 0;
    }
    struct cc_shared_status st;
    if (cc_explore_status(o.redis, name, &st, &err) < 0) {
        fprintf(stderr, "chaoscontrol %s: %s\n", o.cmd, err.msg);
        return err.code == ENOENT ? 2 : 1;
    }
    printf("exploration '%s' at %s: %" PRIu64 "/%" PRIu64 " branches done (%" PRIu64
           " rounds of %u), %" PRIu64 " leased now, %" PRIu64 " bug%s, frontier %" PRIu64
           ", %" PRIu64 " edges, %" PRIu64 " assertion states\n", name, o.redis, st.done,
           st.budget, st.per_round ? st.budget / st.per_round : 0, st.per_round, st.leased,
           st.bugs, st.bugs == 1 ? "" : "s", st.frontier, st.edges, st.assert_bits);
    return 0;
}

static int explore_run(int argc, char **argv)
{
    struct xopts o = {.cmd = "explore run", .mode = CC_XMODE_HYBRID};
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc == 3 ? 0 : rc;
    if (only(&o, "kernel initrd vms rounds branches output mode seed disk-image disk cmdline "
             "append mem branch-time stop-after react setup-marker setup-after check clients "
             "snapshot-mem faults dlog-bugs dlog-regs cpus vcpu-schedule vcpu-quantum force quiet "
             "dashboard dashboard-port dashboard-bind redis name workers lease time-limit latency "
             "pin-cpu " CLI_CPU_MODEL_NAMES, argc, argv))
        return 2;
    bool shared = o.workers_set || o.redis;
    if (shared && !o.workers_set)
        return bad(&o, "%s", "--redis needs --workers N (0: only create the exploration there)");
    if ((o.name || o.lease_ns) && !shared)
        return bad(&o, "%s", "--name and --lease need --workers");
    if (o.workers_set && !o.workers && !o.redis)
        return bad(&o, "%s", "--workers 0 (create only) needs --redis URL");
    if (o.workers_set && !o.workers && o.dashboard)
        return bad(&o, "%s", "--workers 0 only creates the exploration: no --dashboard");
    if (o.dlog_regs_set && !o.dlog_bugs)
        return bad(&o, "%s", "--dlog-regs needs --dlog-bugs");
    if (cli_default_kernel(&o.kernel) < 0)
        return bad(&o, "%s", CLI_NO_KERNEL);
    if (!o.initrd)
        return bad(&o, "%s", "--initrd is required");
    if (!o.vms)
        return bad(&o, "%s", "--vms is required");
    if (o.clients >> o.vms || o.clients == (o.vms >= 64 ? ~0ull : (1ull << o.vms) - 1))
        return bad(&o, "%s", "--clients: every client must be one of the --vms, and not all can be");
    if (!o.rounds_set)
        return bad(&o, "%s", "--rounds is required");
    if (!o.branches_set)
        return bad(&o, "%s", "--branches is required");
    if (!o.output && !(o.workers_set && !o.workers))
        return bad(&o, "%s", "--output is required");
    if (o.disk && o.disk_image)
        return bad(&o, "%s", "--disk and --disk-image are exclusive (the image sets the size)");
    char ck[4200];
    snprintf(ck, sizeof(ck), "%s/checkpoint.json", o.output ? o.output : "");
    if (o.output && access(ck, F_OK) == 0) {
        fprintf(stderr, "chaoscontrol explore run: '%s' already holds an exploration: continue "
                "it with 'chaoscontrol explore resume --corpus %s --rounds N', or give another "
                "--output\n", o.output, o.output);
        return 2;
    }
    if (!inputs_ok(&o))
        return 2;
    if (!(o.workers_set && !o.workers) && cli_check_kvm(o.force) < 0)
        return 1;

    /* Absolute paths in bug files and the checkpoint, so that reproduce,
     * minimize and resume work from any directory. */
    char *kernel = realpath(o.kernel, NULL), *initrd = realpath(o.initrd, NULL);
    char *image = o.disk_image ? realpath(o.disk_image, NULL) : NULL;
    if (!kernel || !initrd || (o.disk_image && !image)) {
        fprintf(stderr, "chaoscontrol explore run: cannot resolve the input paths: %s\n",
                strerror(errno));
        free(kernel);
        free(initrd);
        free(image);
        return 2;
    }
    struct cc_xtarget t;
    cc_xtarget_init(&t);
    t.kernel = kernel;
    t.initrd = initrd;
    t.n_vms = o.vms;
    t.mem_size = o.mem;
    t.vcpus = o.vcpus;
    t.vcpu_sched = o.vcpu_sched;
    t.vcpu_quantum = o.vcpu_quantum;
    t.cpu = o.cpu.model;
    t.cmdline = o.cmdline;
    t.append = o.append;
    t.setup_marker = o.setup_marker;
    t.setup_after_ns = o.setup_after;
    t.checker = o.checker;
    t.disk_image = image;
    t.disk_size = o.disk_image ? 0 : o.disk ? o.disk : 1u << 20;
    t.seed = o.seed;
    t.latency_ns = o.latency_ns;

    struct ui u = {.cmd = o.cmd, .tty = cli_is_tty(), .quiet = o.quiet};
    if (o.output && dash_begin(&o, o.output, &u) < 0) {
        free(kernel);
        free(initrd);
        free(image);
        return 1;
    }
    struct cc_explore_opts eo;
    cc_explore_opts_default(&eo);
    eo.output = o.output;
    eo.rounds = o.rounds;
    eo.branches = o.branches;
    eo.mode = o.mode;
    eo.seed = o.seed;
    if (o.branch_ns)
        eo.branch_ns = o.branch_ns;
    eo.stop_after_bugs = o.stop_after;
    if (o.react_set)
        eo.react_percent = o.react;
    eo.clients = o.clients;
    eo.snapshot_mem = o.snapshot_mem;
    eo.dlog_bugs = o.dlog_bugs;
    if (o.dlog_regs_set)
        eo.dlog_regs = o.dlog_regs;
    bool interleave = o.vcpus > 1 && o.vcpu_sched == CC_VSCHED_RANDOM;
    if (o.faults) {
        cc_xweights_only(&eo.weights, o.faults);
        /* the reactive rule cuts off or pauses VMs: only when asked for */
        if (!o.react_set && !eo.weights.partition && !eo.weights.pause)
            eo.react_percent = 0;
        if (eo.weights.vcpu && !interleave)
            fprintf(stderr, "chaoscontrol explore run: warning: vcpu faults reseed the random "
                    "vCPU scheduler; %s they change nothing\n", o.vcpus > 1 ?
                    "with --vcpu-schedule rr" : "with one vCPU per VM (no --cpus)");
    } else if (interleave) {
        eo.weights.vcpu = CC_XWEIGHT_VCPU;
    }
    eo.progress = ui_progress;
    eo.log = ui_log;
    eo.log_opaque = &u;
    eo.time_limit_s = (double)o.time_limit_ns / CC_SEC;
    eo.interrupt = &stop_signal;

    if (shared) {
        rc = run_shared(&o, &t, &eo, &u);
        free(kernel);
        free(initrd);
        free(image);
        dash_end(&u);
        return rc;
    }
    struct cc_err err = {0};
    struct cc_explorer *x;
    double t0 = wall_now();
    if (cli_pin(o.cmd, &o.cpu, 0, o.quiet) < 0) {
        free(kernel);
        free(initrd);
        free(image);
        dash_end(&u);
        return 1;
    }
    if (u.tty)
        ui_progress(&u, "booting and running to setup_complete ...");
    catch_stop_signals();
    rc = cc_explorer_new(&t, &eo, &x, &err);
    free(kernel);
    free(initrd);
    free(image);
    if (rc < 0) {
        ui_progress(&u, "");
        fprintf(stderr, "chaoscontrol explore run: %s\n", err.msg);
        dash_end(&u);
        return 1;
    }
    ui_progress(&u, "");
    if (!o.quiet)
        fprintf(stderr, "chaoscontrol explore run: booted %u VMs to setup in %.1f s; mode %s, "
                "%u rounds of %u branches\n", o.vms, wall_now() - t0, cc_xmode_name(o.mode),
                o.rounds, o.branches);
    rc = cc_explorer_run(x, &err);
    int status;
    if (rc < 0) {
        fprintf(stderr, "chaoscontrol explore run: %s\n", err.msg);
        summarize(x, o.output);
        status = 1;
    } else {
        status = summarize(x, o.output);
    }
    cc_explorer_free(x);
    dash_end(&u);
    return status;
}

static int explore_resume(int argc, char **argv)
{
    struct xopts o = {.cmd = "explore resume"};
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc == 3 ? 0 : rc;
    if (only(&o, "corpus rounds stop-after snapshot-mem dlog-bugs dlog-regs force quiet "
             "dashboard dashboard-port dashboard-bind time-limit pin-cpu workers redis name "
             "lease", argc, argv))
        return 2;
    if (o.dlog_regs_set && !o.dlog_bugs)
        return bad(&o, "%s", "--dlog-regs needs --dlog-bugs");
    if (!o.corpus)
        return bad(&o, "%s", "--corpus DIR is required (the --output of 'explore run')");
    if (!o.rounds_set)
        return bad(&o, "%s", "--rounds is required (how many more rounds to run)");
    if (o.workers_set || o.redis) {
        /* a shared exploration: more rounds in Redis, N workers here */
        if (!o.workers_set)
            return bad(&o, "%s", "--redis needs --workers N (0: only add the rounds)");
        if (!o.workers && !o.redis)
            return bad(&o, "%s", "--workers 0 (only add the rounds) needs --redis URL");
        if (o.workers && cli_check_kvm(o.force) < 0)
            return 1;
        struct ui u = {.cmd = o.cmd, .tty = cli_is_tty(), .quiet = o.quiet};
        if (o.workers && dash_begin(&o, o.corpus, &u) < 0)
            return 1;
        o.output = o.corpus;
        int st = run_shared(&o, NULL, NULL, &u);
        dash_end(&u);
        return st;
    }
    if (o.name || o.lease_ns)
        return bad(&o, "%s", "--name and --lease need --workers");
    struct cc_err err = {0};
    unsigned done, bugs;
    if (cc_checkpoint_peek(o.corpus, &done, &bugs, &err) < 0 ||
        cc_checkpoint_check_target(o.corpus, &err) < 0) {
        fprintf(stderr, "chaoscontrol explore resume: %s\n", err.msg);
        return 2;
    }
    if (cli_check_kvm(o.force) < 0)
        return 1;
    struct ui u = {.cmd = o.cmd, .tty = cli_is_tty(), .quiet = o.quiet};
    if (dash_begin(&o, o.corpus, &u) < 0)
        return 1;
    struct cc_explore_opts eo;
    cc_explore_opts_default(&eo);
    eo.rounds = o.rounds;
    eo.stop_after_bugs = o.stop_after;
    eo.snapshot_mem = o.snapshot_mem;
    eo.dlog_bugs = o.dlog_bugs;
    if (o.dlog_regs_set)
        eo.dlog_regs = o.dlog_regs;
    eo.progress = ui_progress;
    eo.log = ui_log;
    eo.log_opaque = &u;
    eo.time_limit_s = (double)o.time_limit_ns / CC_SEC;
    eo.interrupt = &stop_signal;
    catch_stop_signals();
    struct cc_explorer *x;
    if (cli_pin(o.cmd, &o.cpu, 0, o.quiet) < 0) {
        dash_end(&u);
        return 1;
    }
    if (u.tty)
        ui_progress(&u, "booting and running to setup_complete ...");
    if (cc_explorer_resume(o.corpus, &eo, &x, &err) < 0) {
        ui_progress(&u, "");
        fprintf(stderr, "chaoscontrol explore resume: %s\n", err.msg);
        dash_end(&u);
        return 1;
    }
    ui_progress(&u, "");
    if (!o.quiet)
        fprintf(stderr, "chaoscontrol explore resume: continuing %s after round %u (%u bug%s "
                "so far), %u more rounds\n", o.corpus, done, bugs, bugs == 1 ? "" : "s",
                o.rounds);
    rc = cc_explorer_run(x, &err);
    int status;
    if (rc < 0) {
        fprintf(stderr, "chaoscontrol explore resume: %s\n", err.msg);
        summarize(x, o.corpus);
        status = 1;
    } else {
        status = summarize(x, o.corpus);
    }
    cc_explorer_free(x);
    dash_end(&u);
    return status;
}

int cmd_explore(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage_run(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "run"))
        return explore_run(argc - 1, argv + 1);
    if (!strcmp(argv[1], "resume"))
        return explore_resume(argc - 1, argv + 1);
    if (!strcmp(argv[1], "worker"))
        return explore_worker(argc - 1, argv + 1);
    if (!strcmp(argv[1], "status"))
        return explore_status(argc - 1, argv + 1, false);
    if (!strcmp(argv[1], "export"))
        return explore_status(argc - 1, argv + 1, true);
    fprintf(stderr, "chaoscontrol explore: unknown subcommand '%s' (run, resume, worker, "
            "status or export)\n", argv[1]);
    usage_run(stderr);
    return 2;
}

/* ---- bug files ---- */

static void ui_plain(void *opaque, const char *msg)
{
    struct ui *u = opaque;
    if (!u->quiet)
        fprintf(stderr, "chaoscontrol %s: %s\n", u->cmd, msg);
}

int cli_load_bug(const char *cmd, const char *path, bool force, struct cc_bug **b)
{
    struct cc_err err = {0};
    *b = NULL;
    if (cc_bug_load(path, b, &err) < 0) {
        fprintf(stderr, "chaoscontrol %s: %s\n", cmd, err.msg);
        return 2;
    }
    if (cc_xtarget_check_boot(&(*b)->target, &err) < 0) {
        fprintf(stderr, "chaoscontrol %s: %s: %s\n", cmd, path, err.msg);
        cc_bug_free(*b);
        *b = NULL;
        return 2;
    }
    if (cli_check_kvm(force) < 0) {
        cc_bug_free(*b);
        *b = NULL;
        return 1;
    }
    return 0;
}

/* The common start of minimize and reproduce: parse, check the options,
 * load and check the bug file (its files' hashes too) and the KVM. Returns
 * 0 with *b and *ro set (ro's log goes through u), or the exit status. */
static int bug_command(int argc, char **argv, struct xopts *o, const char *allowed,
                       struct ui *u, struct cc_xrun_opts *ro, struct cc_bug **b)
{
    *b = NULL;
    int rc = parse(argc, argv, o);
    if (rc)
        return rc == 3 ? -1 : rc;
    if (only(o, allowed, argc, argv))
        return 2;
    if (o->dlog_regs_set && !o->dlog)
        return bad(o, "%s", "--dlog-regs needs --dlog");
    if (!o->bug)
        return bad(o, "%s", "--bug FILE is required");
    if (!strcmp(o->cmd, "minimize") && !o->output)
        return bad(o, "%s", "--output FILE is required");
    rc = cli_load_bug(o->cmd, o->bug, o->force, b);
    if (rc)
        return rc;
    if (cli_pin(o->cmd, &o->cpu, 0, o->quiet) < 0) {
        cc_bug_free(*b);
        *b = NULL;
        return 1;
    }
    *u = (struct ui){.cmd = o->cmd, .quiet = o->quiet};
    cc_xrun_opts_default(ro);
    ro->log = ui_plain;
    ro->log_opaque = u;
    return 0;
}

int cmd_minimize(int argc, char **argv)
{
    struct xopts o = {.cmd = "minimize"};
    struct ui u;
    struct cc_xrun_opts ro;
    struct cc_bug *b;
    int rc = bug_command(argc, argv, &o, "bug output force quiet pin-cpu", &u, &ro, &b);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct cc_err err = {0};
    struct cc_bug *nb;
    struct cc_minimize_stats st;
    rc = cc_bug_minimize(b, &ro, ui_plain, &u, &nb, &st, &err);
    if (rc < 0) {
        fprintf(stderr, "chaoscontrol minimize: %s: %s\n", o.bug, err.msg);
        cc_bug_free(b);
        return 1;
    }
    free(nb->minimized_from);
    nb->minimized_from = strdup(o.bug);
    if (cc_bug_save(nb, o.output, &err) < 0) {
        fprintf(stderr, "chaoscontrol minimize: %s\n", err.msg);
        cc_bug_free(nb);
        cc_bug_free(b);
        return 1;
    }
    cc_bug_print_failure(stdout, "failure", &nb->fail);
    cc_bug_print_witness(stdout, nb->history_explain, nb->history_witness);
    cc_bug_print_recipe(stdout, nb->recipe);
    printf("minimized %s: %zu -> %zu faults, %zu -> %zu overrides, %lu replays in %.1f s; "
           "verified from a fresh boot; written to %s\n", o.bug, st.faults_before,
           st.faults_after, st.overrides_before, st.overrides_after, st.tests, st.wall_s,
           o.output);
    cc_bug_free(nb);
    cc_bug_free(b);
    return 0;
}

int cmd_reproduce(int argc, char **argv)
{
    struct xopts o = {.cmd = "reproduce"};
    struct ui u;
    struct cc_xrun_opts ro;
    struct cc_bug *b;
    o.dlog_regs = CC_DLOG_DEFAULT_REGS_EVERY;
    int rc = bug_command(argc, argv, &o, "bug serial dlog dlog-regs force quiet pin-cpu", &u,
                         &ro, &b);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct cc_err err = {0};
    struct cc_dlog *dlog = NULL;
    if (o.dlog) {
        struct cc_dlog_opts dop = {.n_vms = b->target.n_vms, .seed = b->target.seed,
                                   .regs_every = o.dlog_regs, .source = "reproduce"};
        if (cc_dlog_create(o.dlog, &dop, &dlog, &err) < 0) {
            fprintf(stderr, "chaoscontrol reproduce: %s\n", err.msg);
            cc_bug_free(b);
            return 1;
        }
        ro.play_dlog = dlog;
    }
    struct cc_xrun *x;
    struct cc_repro rp;
    double t0 = wall_now();
    rc = cc_bug_reproduce_keep(b, &ro, &rp, &x, &err);
    /* what was logged is committed even after an error (as replay --dlog) */
    uint64_t recs = dlog ? cc_dlog_records(dlog) : 0;
    struct cc_err derr = {0};
    int drc = dlog ? cc_dlog_close(dlog, &derr) : 0;
    if (drc < 0)
        fprintf(stderr, "chaoscontrol reproduce: %s\n", derr.msg);
    else if (dlog && !o.quiet)
        fprintf(stderr, "chaoscontrol reproduce: dlog %s: %" PRIu64 " records, from setup to "
                "the end of the replay\n", o.dlog, recs);
    if (rc < 0) {
        fprintf(stderr, "chaoscontrol reproduce: %s: %s\n", o.bug, err.msg);
        cc_xrun_free(x);
        cc_bug_free(b);
        return 1;
    }
    if (!o.quiet)
        cc_bug_print_recipe(stdout, b->recipe);
    cc_bug_print_failure(stdout, "recorded", &b->fail);
    if (rp.res.fail.failed)
        cc_bug_print_failure(stdout, "replayed", &rp.res.fail);
    cc_bug_print_witness(stdout, cc_xrun_check_explain(x), cc_xrun_check_witness(x));
    if (o.serial) {
        struct cc_sim *sim = cc_xrun_sim(x);
        for (unsigned i = 0; i < cc_sim_vm_count(sim); i++) {
            size_t len;
            const uint8_t *s = cc_vm_serial(cc_sim_vm(sim, i), &len);
            printf("---- vm %u console (%zu bytes) ----\n", i, len);
            fwrite(s, 1, len, stdout);
            if (len && s[len - 1] != '\n')
                printf("\n");
        }
        printf("---- end of consoles ----\n");
    }
    if (rp.same)
        printf("reproduced: the same failure at the same virtual time (%.1f s wall)\n",
               wall_now() - t0);
    else
        printf("NOT reproduced: %s\n", rp.diff);
    cc_xrun_free(x);
    cc_bug_free(b);
    return rp.same && drc == 0 ? 0 : 1;
}
