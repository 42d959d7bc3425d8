/* chaoscontrol sim: N Linux VMs in one deterministic simulation, connected
 * by the simulated network, with an optional fault schedule.
 *
 *   chaoscontrol sim --vms 3 --kernel K --initrd I [--schedule F.json]
 *                    [--seed N] [--duration 10s] [--disk SIZE] [--json F]
 *
 * Prints per-VM status, the network statistics per link, the applied fault
 * log and the merged assertion table of all VMs (see chaoscontrol/sim.h).
 * Exit status: 0 when no ALWAYS/UNREACHABLE assertion failed and no host
 * error happened (a SOMETIMES never true in this run is reported, not an
 * error), 1 when one failed (or on errors), 2 for usage errors, including
 * a malformed schedule. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chaoscontrol/dlog.h"
#include "chaoscontrol/file.h"
#include "chaoscontrol/schedule.h"
#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol/sim.h"
#include "chaoscontrol/virtio.h"
#include "chaoscontrol/check.h"
#include "chaoscontrol/explore.h"
#include "chaoscontrol/history.h"
#include "cli.h"

enum {
    OPT_VMS = 256, OPT_KERNEL, OPT_INITRD, OPT_SCHEDULE, OPT_SEED, OPT_DURATION, OPT_DISK,
    OPT_DISK_IMAGE, OPT_APPEND, OPT_CMDLINE, OPT_MEM, OPT_JSON, OPT_QUANTUM, OPT_LATENCY,
    OPT_SETUP_MARKER, OPT_SETUP_AFTER, OPT_SERIAL_DIR, OPT_NO_STOP, OPT_NO_RNG, OPT_NO_BALLOON, OPT_FORCE,
    OPT_QUIET, OPT_HELP, OPT_HISTORY, OPT_CHECK, OPT_DLOG, OPT_DLOG_REGS, OPT_BUG, OPT_CPUS,
    OPT_VCPU_SCHEDULE, OPT_VCPU_QUANTUM,
};

static const struct option long_opts[] = {
    {"vms", required_argument, NULL, OPT_VMS},
    {"kernel", required_argument, NULL, OPT_KERNEL},
    {"initrd", required_argument, NULL, OPT_INITRD},
    {"schedule", required_argument, NULL, OPT_SCHEDULE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"disk", required_argument, NULL, OPT_DISK},
    {"disk-image", required_argument, NULL, OPT_DISK_IMAGE},
    {"append", required_argument, NULL, OPT_APPEND},
    {"cmdline", required_argument, NULL, OPT_CMDLINE},
    {"mem", required_argument, NULL, OPT_MEM},
    {"json", required_argument, NULL, OPT_JSON},
    {"quantum", required_argument, NULL, OPT_QUANTUM},
    {"latency", required_argument, NULL, OPT_LATENCY},
    {"setup-marker", required_argument, NULL, OPT_SETUP_MARKER},
    {"setup-after", required_argument, NULL, OPT_SETUP_AFTER},
    {"serial-dir", required_argument, NULL, OPT_SERIAL_DIR},
    {"history", required_argument, NULL, OPT_HISTORY},
    {"check", required_argument, NULL, OPT_CHECK},
    {"dlog", required_argument, NULL, OPT_DLOG},
    {"dlog-regs", required_argument, NULL, OPT_DLOG_REGS},
    {"bug", required_argument, NULL, OPT_BUG},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"vcpu-schedule", required_argument, NULL, OPT_VCPU_SCHEDULE},
    {"vcpu-quantum", required_argument, NULL, OPT_VCPU_QUANTUM},
    CLI_CPU_MODEL_LONG_OPTS,
    CLI_PIN_LONG_OPTS,
    {"no-stop-on-failure", no_argument, NULL, OPT_NO_STOP},
    {"no-rng", no_argument, NULL, OPT_NO_RNG},
    {"no-balloon", no_argument, NULL, OPT_NO_BALLOON},
    {"force", no_argument, NULL, OPT_FORCE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chaoscontrol sim --vms N [--kernel K] --initrd I [--schedule F.json]\n"
            "       [--seed N] [--duration 10s] [--disk SIZE | --disk-image F] [--append ARGS]\n"
            "       [--json F] [--mem 256M] [--quantum 100us] [--latency 100us]\n"
            "       [--cpus N] [--vcpu-schedule rr|random] [--vcpu-quantum N]\n"
            "       [--cpu-vendor S] [--cpu-family N] [--cpu-model N] [--cpu-stepping N]\n"
            "       [--cpu-brand S] [--tsc-khz N] [--[no-]avx2] [--[no-]avx512]\n"
            "       [--pin-cpu LIST]\n"
            "       [--setup-marker TEXT] [--setup-after T] [--serial-dir DIR]\n"
            "       [--history F] [--check linearizable|set] [--no-stop-on-failure]\n"
            "       [--dlog F] [--dlog-regs N] [--no-rng] [--no-balloon] [--force] [--quiet]\n"
            "       [--bug F]\n\n"
            "Runs N Linux VMs in one deterministic simulation on one virtual timeline,\n"
            "connected by a simulated Ethernet switch, applies the fault schedule, and\n"
            "prints per-VM status, network statistics, the fault log and the merged\n"
            "assertion table. The same seed and schedule give the same run.\n\n"
            "  --vms N             number of VMs (1-%u); VM i has MAC 52:54:00:00:00:(i+1)\n"
            "                      and \"cc_vm_id=i\" on its kernel command line\n"
            "  --kernel K          bzImage or ELF vmlinux (default: the kernel built or\n"
            "                      installed with this program, kernel/bzImage)\n"
            "  --initrd I          initramfs with the program under test as /init\n"
            "  --schedule F        fault schedule (JSON; see include/chaoscontrol/schedule.h)\n"
            "  --seed N            seed of every random stream (default 0)\n"
            "  --duration T        virtual time to run from power-on (default 10s; units\n"
            "                      ns, us, ms, s)\n"
            "  --disk SIZE         a zero-filled copy-on-write disk per VM (/dev/vda)\n"
            "  --disk-image F      a copy-on-write disk per VM over read-only image F\n"
            "  --append ARGS       kernel command line addition; \"{id}\" becomes the VM's\n"
            "                      index (e.g. --append \"raft_id={id}\")\n"
            "  --cmdline ARGS      replace the default kernel command line\n"
            "  --json F            write the whole report (status, links, log, schedule,\n"
            "                      assertions, failures) as JSON to F\n"
            "  --mem SIZE          guest RAM per VM (default 256M)\n"
            "  --cpus N            vCPUs per VM (1-%d, default 1; one runs at a time)\n"
            "  --vcpu-schedule S   which vCPU runs next (--cpus > 1): rr (round robin, the\n"
            "                      default) or random (drawn from each VM's seeded stream;\n"
            "                      vcpu_schedule faults reseed it)\n"
            "  --vcpu-quantum N    exits a vCPU runs before the next one (rr), or a switch\n"
            "                      after each exit with probability 1/N (random); default %d\n"
            "  --quantum T         lockstep quantum (default 100us)\n"
            "  --latency T         one-way latency of every link at start (default 100us)\n"
            "  --setup-marker TEXT console text that counts as setup complete (besides\n"
            "                      the SDK's cc_setup_complete)\n"
            "  --setup-after T     a VM not set up by virtual time T counts as set up then\n"
            "  --serial-dir DIR    write each VM's console to DIR/vmN.log (DIR is made\n"
            "                      if missing)\n"
            "  --history F         write the operation history the guests sent (SDK events\n"
            "                      chaoscontrol.history; docs/history.md) as JSON lines to F\n"
            "  --check MODEL       judge that history at the end: linearizable (registers by\n"
            "                      key) or set (no acknowledged add lost); exit 1 if violated\n"
            "  --dlog F            write a determinism log of every VM to F: exits,\n"
            "                      injections, SDK events, the fault log, register dumps,\n"
            "                      RAM hashes (read it with 'chaoscontrol dlog'; docs/dlog.md)\n"
            "  --dlog-regs N       a register dump every N exits of a VM (default 100000,\n"
            "                      0 none)\n"
            "  --bug F             run as explore and reproduce do (boot to setup, snapshot,\n"
            "                      then the schedule, every fault of which must come at or\n"
            "                      after setup) and, when an assertion fails, write bug\n"
            "                      file F and exit 1 (reproduce, minimize, replay and\n"
            "                      triage read it; 0 and no file when nothing failed);\n"
            "                      with --serial-dir, --check, --dlog and --quiet only\n"
            "  --no-stop-on-failure  keep running after an assertion fails\n"
            "  --no-rng, --no-balloon  leave out those devices\n"
            "  --force             run even if this host's KVM fails the capability probe\n"
            "  --quiet             print only failures and the final line\n",
            CC_SIM_MAX_VMS, CC_VM_MAX_VCPUS, CC_VM_DEFAULT_QUANTUM);
    cli_cpu_usage(f, 19, true, true);
}

struct sim_opts {
    unsigned vms;
    const char *kernel, *initrd, *schedule, *append, *cmdline, *json, *disk_image;
    const char *setup_marker, *serial_dir, *history, *dlog, *bug;
    uint64_t dlog_regs;
    uint64_t setup_after;
    enum cc_xchecker checker;
    uint64_t seed, duration, disk, mem, quantum, latency;
    unsigned vcpus;
    enum cc_vcpu_sched vcpu_sched;
    uint32_t vcpu_quantum;
    struct cli_cpu_opts cpu;        /* the processor (every VM) and --pin-cpu */
    bool latency_set, no_stop, no_rng, no_balloon, force, quiet;
};

static int bad(const char *fmt, const char *arg)
{
    fprintf(stderr, "chaoscontrol sim: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    return 2;
}

static int parse(int argc, char **argv, struct sim_opts *o)
{
    optind = 1;
    opterr = 0;
    int c;
    uint64_t v;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_VMS:
            if (!cli_parse_u64(optarg, &v) || v < 1 || v > CC_SIM_MAX_VMS) {
                fprintf(stderr, "chaoscontrol sim: --vms '%s' is not a number from 1 to %u\n",
                        optarg, CC_SIM_MAX_VMS);
                return 2;
            }
            o->vms = (unsigned)v;
            break;
        case OPT_KERNEL: o->kernel = optarg; break;
        case OPT_INITRD: o->initrd = optarg; break;
        case OPT_SCHEDULE: o->schedule = optarg; break;
        case OPT_APPEND: o->append = optarg; break;
        case OPT_CMDLINE: o->cmdline = optarg; break;
        case OPT_JSON: o->json = optarg; break;
        case OPT_DISK_IMAGE: o->disk_image = optarg; break;
        case OPT_SETUP_MARKER: o->setup_marker = optarg; break;
        case OPT_SETUP_AFTER:
            if (!cc_time_parse(optarg, &o->setup_after) || !o->setup_after) {
                fprintf(stderr, "chaoscontrol sim: --setup-after '%s' is not a positive time "
                        "(e.g. 5s)\n", optarg);
                return 2;
            }
            break;
        case OPT_SERIAL_DIR: o->serial_dir = optarg; break;
        case OPT_HISTORY: o->history = optarg; break;
        case OPT_DLOG: o->dlog = optarg; break;
        case OPT_BUG: o->bug = optarg; break;
        case OPT_DLOG_REGS:
            if (!cli_parse_u64(optarg, &o->dlog_regs))
                return bad("--dlog-regs '%s' is not a number", optarg);
            break;
        case OPT_CHECK:
            if (cc_xchecker_parse(optarg, &o->checker) < 0)
                return bad("--check '%s': want linearizable, set or none", optarg);
            break;
        case OPT_SEED:
            if (!cli_parse_u64(optarg, &o->seed))
                return bad("--seed '%s' is not a number", optarg);
            break;
        case OPT_DURATION:
            if (!cc_time_parse(optarg, &o->duration) || !o->duration)
                return bad("--duration '%s' is not a positive time (e.g. 10s, 1500ms)", optarg);
            break;
        case OPT_QUANTUM:
            if (!cc_time_parse(optarg, &o->quantum) || !o->quantum)
                return bad("--quantum '%s' is not a positive time (e.g. 100us)", optarg);
            break;
        case OPT_LATENCY:
            if (!cc_time_parse(optarg, &o->latency))
                return bad("--latency '%s' is not a time (e.g. 100us)", optarg);
            o->latency_set = true;
            break;
        case OPT_DISK:
            if (!cli_parse_size(optarg, &o->disk) || !o->disk || (o->disk & 511))
                return bad("--disk '%s' is not a size that is a multiple of 512 (e.g. 1M)",
                           optarg);
            break;
        case OPT_MEM:
            if (!cli_parse_size(optarg, &o->mem))
                return bad("--mem '%s' is not a size (e.g. 256M)", optarg);
            break;
        case OPT_CPUS:
            if (!cli_parse_cpus("sim", optarg, &o->vcpus))
                return 2;
            break;
        case OPT_VCPU_SCHEDULE:
            if (!cli_parse_vcpu_schedule("sim", optarg, &o->vcpu_sched))
                return 2;
            break;
        case OPT_VCPU_QUANTUM:
            if (!cli_parse_vcpu_quantum("sim", optarg, &o->vcpu_quantum))
                return 2;
            break;
        case OPT_NO_STOP: o->no_stop = true; break;
        case OPT_NO_RNG: o->no_rng = true; break;
        case OPT_NO_BALLOON: o->no_balloon = true; break;
        case OPT_FORCE: o->force = true; break;
        case OPT_QUIET: o->quiet = true; break;
        case OPT_HELP:
            usage(stdout);
            return 3;
        default: {
            int r = cli_cpu_opt("sim", c, optarg, &o->cpu);
            if (r < 0)
                return 2;
            if (r > 0)
                break;
            if (optopt >= OPT_VMS)
                fprintf(stderr, "chaoscontrol sim: option '%s' needs a value\n", argv[optind - 1]);
            else
                fprintf(stderr, "chaoscontrol sim: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
        }
    }
    if (cli_cpu_opts_check("sim", &o->cpu) < 0)
        return 2;
    if (optind < argc) {
        fprintf(stderr, "chaoscontrol sim: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!o->vms) {
        fprintf(stderr, "chaoscontrol sim: --vms is required\n");
        return 2;
    }
    if (cli_default_kernel(&o->kernel) < 0) {
        fprintf(stderr, "chaoscontrol sim: " CLI_NO_KERNEL "\n");
        return 2;
    }
    if (o->disk && o->disk_image)
        return bad("%s", "--disk and --disk-image are exclusive (the image sets the size)");
    if (o->bug && (o->json || o->history || o->no_stop || o->no_rng || o->no_balloon))
        return bad("%s", "--bug runs as explore does: --json, --history, "
                   "--no-stop-on-failure, --no-rng and --no-balloon do not apply");
    return 0;
}

/* --bug: the explorer's run of the schedule, and a bug file of its failure. */
static int record_bug(const struct sim_opts *o, const struct cc_schedule *sched,
                      const struct cc_sim_config *cfg)
{
    struct cc_xtarget t;
    cc_xtarget_init(&t);
    t.kernel = o->kernel;
    t.initrd = o->initrd;
    t.n_vms = o->vms;
    t.mem_size = o->mem;
    t.vcpus = o->vcpus;
    t.vcpu_sched = o->vcpu_sched;
    t.vcpu_quantum = o->vcpu_quantum;
    t.cpu = o->cpu.model;
    t.cmdline = o->cmdline;
    t.append = o->append;
    t.disk_size = o->disk;
    t.disk_image = o->disk_image;
    t.seed = o->seed;
    t.quantum_ns = o->quantum;
    t.latency_ns = o->latency_set ? o->latency : 0;
    t.setup_marker = o->setup_marker;
    t.setup_after_ns = o->setup_after;
    t.checker = o->checker;
    struct cc_xrun_opts ro;
    cc_xrun_opts_default(&ro);
    for (unsigned i = 0; i < o->vms; i++)
        ro.serial_fd[i] = cfg->serial_fd[i];
    ro.log = cli_log;
    ro.dlog = cfg->dlog;
    struct cc_err err = {0};
    struct cc_recipe *r = cc_recipe_new();
    if (!r || (sched && !(cc_schedule_free(r->sched), r->sched = cc_schedule_clone(sched))) ||
        cc_recipe_add_stop(r, o->duration) < 0) {
        cc_recipe_free(r);
        fprintf(stderr, "chaoscontrol sim: out of memory\n");
        return 1;
    }
    r->end_ns = o->duration;
    struct cc_bug *b;
    struct cc_xrun_result res;
    int rc = cc_bug_record(&t, r, &ro, &b, &res, &err);
    cc_recipe_free(r);
    if (rc < 0) {
        fprintf(stderr, "chaoscontrol sim: %s\n", err.msg);
        return rc == -ERANGE ? 2 : 1;
    }
    if (!b) {
        printf("no failure: the run %s at %.6f s; no bug file written\n",
               res.all_down ? "lost every VM" : "ended", res.end_ns / 1e9);
        return 0;
    }
    printf("failure: vm %u: %s \"%s\" at %s:%u, %.6f s\n", b->fail.vm,
           cc_kind_name(b->fail.kind), b->fail.message, b->fail.file, b->fail.line,
           b->fail.sim_ns / 1e9);
    rc = cc_bug_save(b, o->bug, &err);
    cc_bug_free(b);
    if (rc < 0) {
        fprintf(stderr, "chaoscontrol sim: %s\n", err.msg);
        return 1;
    }
    printf("bug file: %s\n", o->bug);
    return 1;
}


static void secs(uint64_t ns, char *buf, size_t len)
{
    snprintf(buf, len, "%" PRIu64 ".%06" PRIu64 "s", ns / 1000000000u, ns % 1000000000u / 1000u);
}

static void print_vms(struct cc_sim *sim)
{
    printf("%-3s %-8s %-13s %14s %10s %11s %8s %9s %-16s %-16s %s\n", "VM", "STATE", "REASON",
           "VTIME", "EXITS", "SETUP", "RESTARTS", "SKEW", "TRACE", "RAM", "STATUS");
    for (unsigned i = 0; i < cc_sim_vm_count(sim); i++) {
        struct cc_sim_vm_status st;
        cc_sim_vm_status(sim, i, &st);
        char vt[32], su[32], sk[32];
        secs(st.vtime, vt, sizeof(vt));
        if (st.setup_done)
            secs(st.setup_at, su, sizeof(su));
        else
            snprintf(su, sizeof(su), "-");
        snprintf(sk, sizeof(sk), "%+" PRId64, st.skew_ppm);
        const char *reason = st.state == CC_SIM_VM_EXITED ? cc_stop_name(st.exit_reason) :
                             st.failed ? "assert-failed" : "-";
        char status[16] = "-";
        if (st.has_exit_status)
            snprintf(status, sizeof(status), "%d", st.exit_status);
        printf("%-3u %-8s %-13s %14s %10" PRIu64 " %11s %8" PRIu64 " %9s %016" PRIx64
               " %016" PRIx64 " %s\n", i, cc_sim_vm_state_name(st.state), reason, vt, st.exits, su,
               st.restarts, sk, st.trace_hash, cc_vm_ram_hash(cc_sim_vm(sim, i)), status);
    }
}

static void print_links(struct cc_sim *sim)
{
    printf("\nnetwork: %-6s %8s %9s %6s %6s %5s %5s %5s %5s %5s %5s %s\n", "LINK", "SENT",
           "DELIVERED", "PART", "LOSS", "QUEUE", "DOWN", "RX", "DUP", "CORR", "REORD", "SETTINGS");
    for (unsigned i = 0; i < cc_sim_vm_count(sim); i++) {
        for (unsigned j = 0; j < cc_sim_vm_count(sim); j++) {
            if (i == j)
                continue;
            struct cc_link_stats s;
            struct cc_link_params p;
            cc_sim_link_stats(sim, i, j, &s);
            cc_sim_link_params(sim, i, j, &p);
            char lat[32], link[32];
            cc_time_format((int64_t)p.latency_ns, lat, sizeof(lat));
            snprintf(link, sizeof(link), "%u->%u", i, j);
            printf("         %-6s %8" PRIu64 " %9" PRIu64 " %6" PRIu64 " %6" PRIu64 " %5" PRIu64
                   " %5" PRIu64 " %5" PRIu64 " %5" PRIu64 " %5" PRIu64 " %5" PRIu64
                   " latency %s", link, s.sent, s.delivered, s.dropped_partition, s.dropped_loss,
                   s.dropped_queue, s.dropped_down, s.dropped_rx, s.duplicated, s.corrupted,
                   s.reordered, lat);
            if (p.jitter_ns) {
                cc_time_format((int64_t)p.jitter_ns, lat, sizeof(lat));
                printf(" jitter %s", lat);
            }
            if (p.bandwidth_bps)
                printf(" %" PRIu64 " bit/s", p.bandwidth_bps);
            if (p.loss_ppm)
                printf(" loss %g%%", p.loss_ppm / 1e4);
            if (p.corrupt_ppm)
                printf(" corrupt %g%%", p.corrupt_ppm / 1e4);
            if (p.duplicate_ppm)
                printf(" dup %g%%", p.duplicate_ppm / 1e4);
            if (p.reorder_ppm)
                printf(" reorder %g%%", p.reorder_ppm / 1e4);
            if (!cc_sim_connected(sim, i, j))
                printf(" PARTITIONED");
            printf("\n");
        }
    }
}

static void print_log(struct cc_sim *sim)
{
    size_t n;
    const struct cc_sim_log_entry *log = cc_sim_log(sim, &n);
    printf("\nlog: %zu entries\n", n);
    for (size_t i = 0; i < n; i++) {
        char line[320];
        cc_sim_log_format(&log[i], line, sizeof(line));
        printf("  %s\n", line);
    }
}

/* Prints the merged table; returns how many entries failed in some VM
 * (ALWAYS false, UNREACHABLE reached). A SOMETIMES that was never true is
 * shown as failed but does not fail the run: another run may make it true. */
static size_t print_assertions(struct cc_sim *sim)
{
    struct cc_err err = {0};
    struct cc_oracle *o = cc_sim_oracle(sim, &err);
    if (!o) {
        fprintf(stderr, "chaoscontrol sim: %s\n", err.msg);
        return 0;
    }
    size_t n;
    const struct cc_oracle_entry *e = cc_oracle_entries(o, &n);
    size_t failed = 0, passed = 0, unex = 0, hard = 0;
    for (size_t i = 0; i < n; i++) {
        switch (cc_oracle_verdict(&e[i])) {
        case CC_VERDICT_FAILED: failed++; break;
        case CC_VERDICT_PASSED: passed++; break;
        default: unex++; break;
        }
        hard += e[i].runs_failed > 0;
    }
    printf("\nassertions (all VMs): %zu (%zu passed, %zu failed, %zu unexercised)\n", n, passed,
           failed, unex);
    if (n)
        printf("  %-22s %-12s %10s %4s  %s\n", "KIND", "VERDICT", "HITS", "VMS",
               "MESSAGE (LOCATION)");
    for (size_t i = 0; i < n; i++) {
        const struct cc_assertion *a = &e[i].a;
        printf("  %-22s %-12s %10" PRIu64 " %4" PRIu64 "  %s (%s:%u %s)\n", cc_kind_name(a->kind),
               cc_verdict_name(cc_oracle_verdict(&e[i])), a->hits, e[i].runs_hit, a->message,
               a->file, a->line, a->function);
    }
    cc_oracle_free(o);
    return hard;
}

static void print_failures(struct cc_sim *sim)
{
    for (unsigned i = 0; i < cc_sim_vm_count(sim); i++) {
        const struct cc_sdk_failure *fl = cc_vm_sdk_failure(cc_sim_vm(sim, i));
        if (!fl)
            continue;
        printf("failure: vm %u: %s \"%s\" at %s:%u (%s)%s%s, vm time %" PRIu64 ".%09" PRIu64
               " s, exit #%" PRIu64 "\n", i, cc_kind_name(fl->a.kind), fl->a.message, fl->a.file,
               fl->a.line, fl->a.function, *fl->details ? ", details " : "", fl->details,
               fl->vtime / 1000000000u, fl->vtime % 1000000000u, fl->exit);
    }
}

/* Ctrl-C (SIGINT) or SIGTERM: stop at the next quantum boundary and print
 * the report of the run so far, instead of dying with nothing. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void check_interrupt(void *opaque, struct cc_sim *sim)
{
    (void)opaque;
    if (interrupted)
        cc_sim_request_stop(sim);
}

/* Run for the duration; Ctrl-C or SIGTERM stops at the next quantum. */
static int run(struct cc_sim *sim, uint64_t duration, struct cc_sim_result *res,
               struct cc_err *err)
{
    struct cc_sim_limits lim = {.until_ns = duration, .on_boundary = check_interrupt};
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return cc_sim_run(sim, &lim, res, err);
}

/* Everything about the input is checked before any VM exists: the schedule
 * (loaded into *sched), the kernel, initrd and disk, then KVM. Returns 0 or
 * the exit status. */
static int check_inputs(const struct sim_opts *o, struct cc_schedule **sched)
{
    struct cc_err err = {0};
    if (o->schedule && cc_schedule_load(o->schedule, o->vms, sched, &err) < 0) {
        fprintf(stderr, "chaoscontrol sim: %s\n", err.msg);
        return 2;
    }
    struct cc_blk_config bc = {.size = o->disk, .image_path = o->disk_image};
    if (cc_linux_check(o->kernel, o->initrd, o->mem, &err) < 0 ||
        ((o->disk || o->disk_image) && cc_blk_config_check(&bc, &err) < 0)) {
        fprintf(stderr, "chaoscontrol sim: %s\n", err.msg);
        return 2;
    }
    if (cli_check_kvm(o->force) < 0)
        return 1;
    return 0;
}

static void make_config(const struct sim_opts *o, struct cc_sim_config *cfg)
{
    cc_sim_config_default(cfg);
    cfg->n_vms = o->vms;
    cfg->seed = o->seed;
    if (o->quantum)
        cfg->quantum_ns = o->quantum;
    if (o->latency_set)
        cfg->link.latency_ns = o->latency;
    cfg->stop_on_failure = !o->no_stop;
    cfg->setup_marker = o->setup_marker;
    cfg->setup_after_ns = o->setup_after;
    cfg->kernel = o->kernel;
    cfg->initrd = o->initrd;
    cfg->cmdline = o->cmdline;
    cfg->append = o->append;
    cfg->mem_size = o->mem;
    cfg->vcpus = o->vcpus;
    cfg->vcpu_sched = o->vcpu_sched;
    cfg->vcpu_quantum = o->vcpu_quantum;
    cfg->cpu = o->cpu.model;
    cfg->disk_size = o->disk;
    cfg->disk_image = o->disk_image;
    cfg->rng = !o->no_rng;
    cfg->balloon = !o->no_balloon;
    cfg->watchdog_s = 30;
    cfg->log = cli_log;
}

/* --serial-dir: each VM's console to DIR/vmN.log (DIR made if missing). */
static int open_serial_logs(const struct sim_opts *o, struct cc_sim_config *cfg)
{
    if (o->serial_dir && mkdir(o->serial_dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "chaoscontrol sim: cannot make the directory '%s': %s\n", o->serial_dir,
                strerror(errno));
        return -1;
    }
    for (unsigned i = 0; o->serial_dir && i < o->vms; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/vm%u.log", o->serial_dir, i);
        cfg->serial_fd[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (cfg->serial_fd[i] < 0) {
            fprintf(stderr, "chaoscontrol sim: cannot write '%s': %s\n", path,
                    strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* The report on stdout (only the failures with --quiet); returns how many
 * assertions failed in some VM. */
static size_t report(struct cc_sim *sim, const struct sim_opts *o)
{
    size_t failed = 0;
    if (!o->quiet) {
        print_vms(sim);
        print_links(sim);
        print_log(sim);
        failed = print_assertions(sim);
    } else {
        struct cc_err err = {0};
        struct cc_oracle *or = cc_sim_oracle(sim, &err);
        size_t n;
        const struct cc_oracle_entry *e = or ? cc_oracle_entries(or, &n) : NULL;
        for (size_t i = 0; e && i < n; i++)
            failed += e[i].runs_failed > 0;
        cc_oracle_free(or);
    }
    print_failures(sim);
    return failed;
}

static void print_final_line(struct cc_sim *sim, const struct sim_opts *o,
                             const struct cc_sim_result *res, double wall)
{
    uint64_t exits = 0;
    for (unsigned i = 0; i < o->vms; i++) {
        struct cc_sim_vm_status st;
        cc_sim_vm_status(sim, i, &st);
        exits += st.exits;
    }
    char vt[32];
    secs(res->vtime, vt, sizeof(vt));
    printf("\nsim: %u VMs, seed %" PRIu64 ", stop %s at %s virtual (%.1f s wall, %" PRIu64
           " quanta, %" PRIu64 " exits), hash %016" PRIx64 "\n", o->vms, o->seed,
           cc_sim_stop_name(res->stop), vt, wall, res->quanta, exits, cc_sim_hash(sim));
    fflush(stdout);
}

/* --history and --check: 0 nothing wrong, 1 a violation, -1 an error. */
static int history(struct cc_sim *sim, const struct sim_opts *o)
{
    size_t len;
    uint64_t dropped;
    const char *text = cc_sim_history(sim, &len, &dropped);
    struct cc_err err = {0};
    if (o->history && cc_file_write_atomic(o->history, text, len, &err) < 0) {
        fprintf(stderr, "chaoscontrol sim: cannot write '%s': %s\n", o->history, err.msg);
        return -1;
    }
    if (dropped)
        fprintf(stderr, "chaoscontrol sim: the history is incomplete: %" PRIu64 " operations "
                "past its 64 MiB cap were dropped\n", dropped);
    if (!o->checker)
        return 0;
    struct cc_history *h;
    if (cc_history_parse(text, len, "the run's operation history", &h, &err) < 0) {
        printf("history: not well formed: %s\n", err.msg);
        return 1;
    }
    struct cc_check_result r;
    int rc = o->checker == CC_XCHECK_SET ? cc_check_set(h, NULL, &r, &err) :
                                           cc_check_linearizable(h, NULL, &r, &err);
    int status = 0;
    if (rc < 0) {
        printf("history: %s cannot judge it: %s\n", cc_xchecker_name(o->checker), err.msg);
        status = 1;
    } else if (r.unknown) {
        printf("history: %zu operations, %s: no verdict (%s)\n", r.n_ops,
               cc_xchecker_name(o->checker), r.explain ? r.explain : "budget exhausted");
    } else if (r.ok) {
        printf("history: %zu operations on %zu keys: %s\n", r.n_ops, r.n_keys,
               o->checker == CC_XCHECK_SET ? "no acknowledged add lost" : "linearizable");
    } else {
        printf("history: %zu operations on %zu keys: VIOLATION: %s\n", r.n_ops, r.n_keys,
               r.explain ? r.explain : "");
        char *w = r.witness ? cc_history_to_jsonl(r.witness) : NULL;
        if (w)
            printf("failing sub-history:\n%s", w);
        free(w);
        status = 1;
    }
    cc_check_result_free(&r);
    cc_history_free(h);
    return status;
}

static int write_json(struct cc_sim *sim, const char *path)
{
    struct cc_err err = {0};
    char *text = cc_sim_json(sim);
    if (!text || cc_file_write_atomic(path, text, strlen(text), &err) < 0) {
        fprintf(stderr, "chaoscontrol sim: cannot write '%s': %s\n", path,
                text ? err.msg : "out of memory");
        free(text);
        return -1;
    }
    free(text);
    return 0;
}

/* --dlog: every VM's RAM hash at the end, then the file into place. */
static int close_dlog(struct cc_sim *sim, const struct sim_opts *o, struct cc_sim_config *cfg)
{
    struct cc_err err = {0};
    for (unsigned i = 0; sim && i < cc_sim_vm_count(sim); i++)
        cc_vm_dlog_end(cc_sim_vm(sim, i));
    uint64_t recs = cc_dlog_records(cfg->dlog);
    int rc = cc_dlog_close(cfg->dlog, &err);
    cfg->dlog = NULL;
    for (unsigned i = 0; sim && i < cc_sim_vm_count(sim); i++)
        cc_vm_set_dlog(cc_sim_vm(sim, i), NULL, 0);
    if (rc < 0) {
        fprintf(stderr, "chaoscontrol sim: %s\n", err.msg);
        return -1;
    }
    if (!o->quiet)
        fprintf(stderr, "chaoscontrol sim: dlog %s: %" PRIu64 " records\n", o->dlog, recs);
    return 0;
}

int cmd_sim(int argc, char **argv)
{
    struct sim_opts o = {0};
    cli_cpu_opts_default(&o.cpu);
    o.duration = 10 * CC_SEC;
    o.mem = 256ull << 20;
    o.dlog_regs = CC_DLOG_DEFAULT_REGS_EVERY;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc == 3 ? 0 : rc;
    struct cc_schedule *sched = NULL;
    rc = check_inputs(&o, &sched);
    if (rc) {
        cc_schedule_free(sched);
        return rc;
    }

    struct cc_sim_config cfg;
    make_config(&o, &cfg);
    struct cc_err err = {0};
    int status = 1;
    struct cc_sim *sim = NULL;
    if (open_serial_logs(&o, &cfg) < 0 || cli_pin("sim", &o.cpu, 0, o.quiet) < 0)
        goto out;
    if (o.dlog) {
        struct cc_dlog_opts dop = {.n_vms = o.vms, .seed = o.seed, .regs_every = o.dlog_regs,
                                   .source = "sim"};
        if (cc_dlog_create(o.dlog, &dop, &cfg.dlog, &err) < 0) {
            fprintf(stderr, "chaoscontrol sim: %s\n", err.msg);
            goto out;
        }
    }
    if (o.bug) {
        status = record_bug(&o, sched, &cfg);
        goto out;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct cc_sim_result res;
    if (cc_sim_create(&cfg, &sim, &err) < 0 ||
        (sched && cc_sim_set_schedule(sim, sched, &err) < 0) ||
        run(sim, o.duration, &res, &err) < 0) {
        fprintf(stderr, "chaoscontrol sim: %s\n", err.msg);
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    size_t failed = report(sim, &o);
    print_final_line(sim, &o, &res, wall);
    if (o.json && write_json(sim, o.json) < 0)
        goto out;
    if (interrupted)
        fprintf(stderr, "chaoscontrol sim: interrupted: the report above is of the run so far\n");
    int hv = history(sim, &o);
    if (hv < 0)
        goto out;
    bool any_failed = res.stop == CC_SIM_STOP_FAILURE || hv > 0;
    for (unsigned i = 0; i < o.vms; i++)
        any_failed |= cc_vm_sdk_failure(cc_sim_vm(sim, i)) != NULL;
    status = any_failed || failed ? 1 : 0;
out:
    /* the log of what ran, also after an error; before the simulation goes */
    if (cfg.dlog && close_dlog(sim, &o, &cfg) < 0)
        status = 1;
    cc_sim_destroy(sim);
    cc_schedule_free(sched);
    for (unsigned i = 0; o.serial_dir && i < o.vms; i++)
        if (cfg.serial_fd[i] >= 0)
            close(cfg.serial_fd[i]);
    return status;
}
