/* chaoscontrol boot / verify: run a Linux guest once, or N times and prove
 * the runs are bit-identical (same exits, trace, serial output and RAM). */
#include <errno.h>
#include <getopt.h>
#include <linux/kvm.h>
#include <inttypes.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chaoscontrol/file.h"
#include "chaoscontrol/probe.h"
#include "chaoscontrol/virtio.h"
#include "cli.h"

void cli_vm_opts_default(struct cli_vm_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->mem = 256ull << 20;
    o->seed = 0;
    o->dlog_regs = CC_DLOG_DEFAULT_REGS_EVERY;
    cli_cpu_opts_default(&o->cpu);
}

bool cli_parse_cpus(const char *cmd, const char *arg, unsigned *out)
{
    uint64_t v;
    if (!cli_parse_u64(arg, &v) || v < 1 || v > CC_VM_MAX_VCPUS) {
        fprintf(stderr, "chaoscontrol %s: --cpus '%s' is not a number of vCPUs (1-%d)\n", cmd,
                arg, CC_VM_MAX_VCPUS);
        return false;
    }
    *out = (unsigned)v;
    return true;
}

bool cli_parse_vcpu_schedule(const char *cmd, const char *arg, enum cc_vcpu_sched *out)
{
    if (cc_vcpu_sched_parse(arg, out) < 0) {
        fprintf(stderr, "chaoscontrol %s: --vcpu-schedule '%s': want rr or random\n", cmd, arg);
        return false;
    }
    return true;
}

bool cli_parse_vcpu_quantum(const char *cmd, const char *arg, uint32_t *out)
{
    uint64_t v;
    if (!cli_parse_u64(arg, &v) || v < 1 || v > UINT32_MAX) {
        fprintf(stderr, "chaoscontrol %s: --vcpu-quantum '%s' is not a number of exits "
                "(1-%u)\n", cmd, arg, UINT32_MAX);
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

bool cli_is_tty(void)
{
    return isatty(STDERR_FILENO);
}

int cli_check_kvm(bool force)
{
    /* The probe's tiny VMs read the host TSC: a host-side KVM trace of
     * this process (chaoscontrol trace, docs/trace.md) then differs in
     * every run. CC_KVM_PROBE=skip leaves them out, for a KVM known good. */
    const char *skip = getenv("CC_KVM_PROBE");
    if (skip && !strcmp(skip, "skip"))
        return 0;
    struct cc_probe_result pr;
    cc_kvm_probe(&pr);
    /* A capable KVM failed a check now and then in the QEMU test host
     * under load (tsc-set, twice in clean make test runs: a command that
     * then ran fine): a failing check is tried twice more before the
     * verdict stands; a KVM that cannot run Linux fails all three. */
    for (int i = 0; i < 2 && pr.verdict == CC_PROBE_INCAPABLE; i++)
        cc_kvm_probe(&pr);
    if (pr.verdict == CC_PROBE_CAPABLE)
        return 0;
    if (force) {
        fprintf(stderr, "chaoscontrol: warning: %s; continuing because of --force\n", pr.summary);
        return 0;
    }
    fprintf(stderr,
            "chaoscontrol: %s.\n"
            "Linux guests need hardware KVM (Intel VT-x or AMD-V). On a machine without it, run\n"
            "this command inside the KVM test host, which provides real KVM under QEMU:\n"
            "    tools/kvm-host -- build/chaoscontrol ...\n"
            "(or pass --force to try anyway)\n%s", pr.summary, pr.lines);
    return -1;
}

enum {
    OPT_KERNEL = 256, OPT_INITRD, OPT_MEM, OPT_SEED, OPT_CMDLINE, OPT_APPEND,
    OPT_SERIAL_OUT, OPT_UNTIL, OPT_MAX_EXITS, OPT_TRACE, OPT_FORCE, OPT_RUNS, OPT_QUIET,
    OPT_HELP, OPT_PRINT_CMDLINE, OPT_DISK_IMAGE, OPT_DISK, OPT_RNG, OPT_OUTPUT, OPT_SEEDS, OPT_REGS,
    OPT_DLOG, OPT_DLOG_REGS, OPT_CPUS, OPT_VCPU_SCHEDULE, OPT_VCPU_QUANTUM,
};

static const struct option long_opts[] = {
    {"kernel", required_argument, NULL, OPT_KERNEL},
    {"initrd", required_argument, NULL, OPT_INITRD},
    {"mem", required_argument, NULL, OPT_MEM},
    {"seed", required_argument, NULL, OPT_SEED},
    {"cmdline", required_argument, NULL, OPT_CMDLINE},
    {"append", required_argument, NULL, OPT_APPEND},
    {"serial-out", required_argument, NULL, OPT_SERIAL_OUT},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"max-exits", required_argument, NULL, OPT_MAX_EXITS},
    {"trace", required_argument, NULL, OPT_TRACE},
    {"force", no_argument, NULL, OPT_FORCE},
    {"runs", required_argument, NULL, OPT_RUNS},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {"print-cmdline", no_argument, NULL, OPT_PRINT_CMDLINE},
    {"disk-image", required_argument, NULL, OPT_DISK_IMAGE},
    {"disk", required_argument, NULL, OPT_DISK},
    {"rng", no_argument, NULL, OPT_RNG},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"seeds", required_argument, NULL, OPT_SEEDS},
    {"regs", no_argument, NULL, OPT_REGS},
    {"dlog", required_argument, NULL, OPT_DLOG},
    {"dlog-regs", required_argument, NULL, OPT_DLOG_REGS},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"vcpu-schedule", required_argument, NULL, OPT_VCPU_SCHEDULE},
    {"vcpu-quantum", required_argument, NULL, OPT_VCPU_QUANTUM},
    CLI_CPU_MODEL_LONG_OPTS,
    CLI_PIN_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f, const char *cmd)
{
    bool verify = !strcmp(cmd, "verify");
    fprintf(f,
            "usage: chaoscontrol %s [--kernel K] [--initrd I] [--mem 256M] [--seed N]\n"
            "       [--cpus N] [--vcpu-schedule rr|random] [--vcpu-quantum N]\n"
            "       [--cpu-vendor S] [--cpu-family N] [--cpu-model N] [--cpu-stepping N]\n"
            "       [--cpu-brand S] [--tsc-khz N] [--[no-]avx2] [--[no-]avx512]\n"
            "       [--pin-cpu LIST]\n"
            "       [--cmdline ARGS | --append ARGS] [--serial-out F] [--until PATTERN]\n"
            "       [--max-exits N] [--trace F]%s [--force] [--quiet]\n\n"
            "  --kernel K        bzImage or ELF vmlinux (default: the kernel built or\n"
            "                    installed with this program, kernel/bzImage)\n"
            "  --initrd I        initramfs (newc cpio, optionally gzip)\n"
            "  --mem SIZE        guest RAM (default 256M, at most 3G)\n"
            "  --cpus N          vCPUs (1-%d, default 1); more than one: a local APIC each,\n"
            "                    an I/O APIC, an MP table, and one vCPU running at a time\n"
            "  --vcpu-schedule S which vCPU runs next (--cpus > 1): rr (round robin, the\n"
            "                    default) or random (drawn from the seeded stream)\n"
            "  --vcpu-quantum N  exits a vCPU runs before the next one (rr), or a switch\n"
            "                    after each exit with probability 1/N (random); default %d\n"
            "  --seed N          seed for every source of randomness (default 0)\n"
            "  --cmdline ARGS    replace the default kernel command line\n"
            "  --append ARGS     append to the kernel command line\n"
            "  --serial-out F    write the guest's serial output to F%s\n"
            "  --until PATTERN   stop once PATTERN appears on the serial port\n"
            "  --max-exits N     stop after N exits\n"
            "  --trace F         write the exit trace as text to F%s\n"
            "  --disk-image F    a virtio disk over the read-only image F (never written;\n"
            "                    the guest's writes are kept copy-on-write in memory)\n"
            "  --disk SIZE       a virtio disk of SIZE bytes of zeros (with --disk-image:\n"
            "                    the disk's size, default the image's)\n"
            "  --rng             a virtio-rng device fed from the seeded stream\n"
            "  --regs            show the vCPU's registers where the run stopped (always\n"
            "                    shown when the guest stops abnormally)\n"
            "%s"
            "%s"
            "  --force           run even if this host's KVM fails the capability probe\n"
            "  --quiet           no summary on stderr\n"
            "  --print-cmdline   print the kernel command line that would be used\n",
            cmd, verify ? " [--runs N]" : "", CC_VM_MAX_VCPUS, CC_VM_DEFAULT_QUANTUM,
            verify ? "" : " (default: the terminal)",
            verify ? " (run 1; runs 2.. get F.2, F.3, ...)" : "",
            verify ? "  --runs N          number of runs to compare (default 3)\n"
                     "  --seeds A,B,...   run k uses the k-th seed instead of --seed (the runs\n"
                     "                    are then expected to differ: shows where they part)\n" : "",
            !strcmp(cmd, "boot") ?
                     "  --dlog F          write a determinism log to F (every exit, injection,\n"
                     "                    SDK event, register dumps, RAM hash at the end; read it\n"
                     "                    with 'chaoscontrol dlog'; docs/dlog.md)\n"
                     "  --dlog-regs N     a register dump every N exits (default 100000, 0 none)\n"
                     : "");
    cli_cpu_usage(f, 17, strcmp(cmd, "snapshot load") != 0, true);
}

/* --seeds A,B,...: one seed per verify run. Returns 0, or 2 after printing
 * a usage error. */
static int parse_seeds(const char *cmd, const char *arg, struct cli_vm_opts *o)
{
    char *copy = strdup(arg), *save = NULL;
    o->n_seeds = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (o->n_seeds == CLI_MAX_SEEDS || !cli_parse_u64(t, &o->seeds[o->n_seeds])) {
            fprintf(stderr, "chaoscontrol %s: --seeds '%s': want up to %d numbers "
                    "separated by commas\n", cmd, arg, CLI_MAX_SEEDS);
            free(copy);
            return 2;
        }
        o->n_seeds++;
    }
    free(copy);
    if (o->n_seeds < 2) {
        fprintf(stderr, "chaoscontrol %s: --seeds wants at least two seeds\n", cmd);
        return 2;
    }
    return 0;
}

/* After the options: the snapshot FILE argument (snapshot load), no other
 * argument, --print-cmdline (prints and exits), and --kernel. */
static int finish_vm_opts(int argc, char **argv, const char *cmd, struct cli_vm_opts *o)
{
    if (o->snapshot_mode && optind < argc)
        o->snapshot = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "chaoscontrol %s: unexpected argument '%s'\n", cmd, argv[optind]);
        usage(stderr, cmd);
        return 2;
    }
    if (o->snapshot_mode && o->vcpu_opts_given) {
        fprintf(stderr, "chaoscontrol %s: --cpus, --vcpu-schedule and --vcpu-quantum do not "
                "apply: the snapshot's VM keeps the vCPUs it was saved with\n", cmd);
        return 2;
    }
    if (o->snapshot_mode && o->cpu.model_given) {
        fprintf(stderr, "chaoscontrol %s: --cpu-*, --tsc-khz and --avx* do not apply: the "
                "snapshot's VM keeps the processor it was saved with\n", cmd);
        return 2;
    }
    if (cli_cpu_opts_check(cmd, &o->cpu) < 0)
        return 2;
    if (o->print_cmdline) {
        printf("%s%s%s\n", o->cmdline ? o->cmdline : cc_vm_default_cmdline_for(o->vcpus),
               o->cmdline_extra ? " " : "", o->cmdline_extra ? o->cmdline_extra : "");
        exit(0);
    }
    if (!o->snapshot_mode && cli_default_kernel(&o->kernel) < 0) {
        fprintf(stderr, "chaoscontrol %s: " CLI_NO_KERNEL "\n", cmd);
        usage(stderr, cmd);
        return 2;
    }
    return 0;
}

int cli_default_kernel(const char **kernel)
{
    static char path[PATH_MAX];
    if (!*kernel)
        *kernel = cc_file_beside_program("kernel/bzImage", path, sizeof(path));
    return *kernel ? 0 : -1;
}

/* Returns 0, or 2 for a usage error (after printing why). */
int cli_parse_vm_opts(int argc, char **argv, const char *cmd, struct cli_vm_opts *o,
                      uint64_t *runs)
{
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_KERNEL: o->kernel = optarg; break;
        case OPT_INITRD: o->initrd = optarg; break;
        case OPT_MEM:
            if (!cli_parse_size(optarg, &o->mem)) {
                fprintf(stderr, "chaoscontrol %s: --mem '%s' is not a size (e.g. 256M, 1G)\n",
                        cmd, optarg);
                return 2;
            }
            break;
        case OPT_SEED:
            if (!cli_parse_u64(optarg, &o->seed)) {
                fprintf(stderr, "chaoscontrol %s: --seed '%s' is not a number\n", cmd, optarg);
                return 2;
            }
            o->seed_given = true;
            break;
        case OPT_OUTPUT: o->output = optarg; break;
        case OPT_CMDLINE: o->cmdline = optarg; break;
        case OPT_APPEND: o->cmdline_extra = optarg; break;
        case OPT_SERIAL_OUT: o->serial_out = optarg; break;
        case OPT_UNTIL: o->until = optarg; break;
        case OPT_MAX_EXITS:
            if (!cli_parse_u64(optarg, &o->max_exits) || !o->max_exits) {
                fprintf(stderr, "chaoscontrol %s: --max-exits '%s' is not a positive number\n",
                        cmd, optarg);
                return 2;
            }
            break;
        case OPT_TRACE: o->trace_out = optarg; break;
        case OPT_FORCE: o->force = true; break;
        case OPT_QUIET: o->quiet = true; break;
        case OPT_RUNS:
            if (!runs || !cli_parse_u64(optarg, runs) || *runs < 2 || *runs > 1000) {
                fprintf(stderr, "chaoscontrol %s: %s\n", cmd,
                        runs ? "--runs must be a number from 2 to 1000" :
                               "--runs is only for 'verify'");
                return 2;
            }
            o->runs_given = true;
            break;
        case OPT_HELP:
            usage(stdout, cmd);
            exit(0);
        case OPT_PRINT_CMDLINE:
            o->print_cmdline = true;
            break;
        case OPT_DISK_IMAGE: o->disk_image = optarg; break;
        case OPT_DISK:
            if (!cli_parse_size(optarg, &o->disk_size) || !o->disk_size) {
                fprintf(stderr, "chaoscontrol %s: --disk '%s' is not a size (e.g. 64M)\n", cmd,
                        optarg);
                return 2;
            }
            break;
        case OPT_RNG: o->rng = true; break;
        case OPT_REGS: o->regs = true; break;
        case OPT_CPUS:
            if (!cli_parse_cpus(cmd, optarg, &o->vcpus))
                return 2;
            o->vcpu_opts_given = true;
            break;
        case OPT_VCPU_SCHEDULE:
            if (!cli_parse_vcpu_schedule(cmd, optarg, &o->vcpu_sched))
                return 2;
            o->vcpu_opts_given = true;
            break;
        case OPT_VCPU_QUANTUM:
            if (!cli_parse_vcpu_quantum(cmd, optarg, &o->vcpu_quantum))
                return 2;
            o->vcpu_opts_given = true;
            break;
        case OPT_DLOG:
        case OPT_DLOG_REGS:
            if (strcmp(cmd, "boot")) {
                fprintf(stderr, "chaoscontrol %s: --dlog and --dlog-regs are only for 'boot'\n",
                        cmd);
                return 2;
            }
            if (c == OPT_DLOG) {
                o->dlog = optarg;
            } else if (!cli_parse_u64(optarg, &o->dlog_regs)) {
                fprintf(stderr, "chaoscontrol %s: --dlog-regs '%s' is not a number\n", cmd,
                        optarg);
                return 2;
            }
            break;
        case OPT_SEEDS:
            if (!runs) {
                fprintf(stderr, "chaoscontrol %s: --seeds is only for 'verify'\n", cmd);
                return 2;
            }
            if (parse_seeds(cmd, optarg, o))
                return 2;
            break;
        default: {
            int r = cli_cpu_opt(cmd, c, optarg, &o->cpu);
            if (r < 0)
                return 2;
            if (r > 0)
                break;
            if (optopt >= OPT_KERNEL)
                fprintf(stderr, "chaoscontrol %s: option '%s' needs a value\n", cmd,
                        argv[optind - 1]);
            else
                fprintf(stderr, "chaoscontrol %s: unknown option '%s'\n", cmd, argv[optind - 1]);
            usage(stderr, cmd);
            return 2;
        }
        }
    }
    return finish_vm_opts(argc, argv, cmd, o);
}

/* Library notes about the host (e.g. TSC not pinned) are the same for every
 * VM of a run: print each distinct one once. */
void cli_log(void *opaque, const char *msg)
{
    static char seen[16][160];
    (void)opaque;
    for (int i = 0; i < 16; i++) {
        if (!strncmp(seen[i], msg, sizeof(seen[i]) - 1))
            return;
        if (!seen[i][0]) {
            snprintf(seen[i], sizeof(seen[i]), "%s", msg);
            break;
        }
    }
    fprintf(stderr, "chaoscontrol: %s\n", msg);
}

int cli_check_inputs(const struct cli_vm_opts *o)
{
    struct cc_err err = {0};
    struct cc_blk_config disk = {.size = o->disk_size, .image_path = o->disk_image};
    if (cc_linux_check(o->kernel, o->initrd, o->mem, &err) < 0 ||
        ((o->disk_image || o->disk_size) && cc_blk_config_check(&disk, &err) < 0)) {
        fprintf(stderr, "chaoscontrol: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* Create the VM and load the guest (whose files cli_check_inputs checked). */
int cli_prepare_vm(const struct cli_vm_opts *o, int serial_fd, const char *trace_path,
                      bool keep_trace, struct cc_vm **out)
{
    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.mem_size = o->mem;
    cfg.seed = o->seed;
    cfg.vcpus = o->vcpus;
    cfg.vcpu_sched = o->vcpu_sched;
    cfg.vcpu_quantum = o->vcpu_quantum;
    cc_cpu_model_apply(&cfg, &o->cpu.model);
    cfg.cmdline_extra = o->cmdline_extra;
    cfg.serial_fd = serial_fd;
    cfg.trace_keep = keep_trace;
    cfg.trace_path = trace_path;
    cfg.dlog = o->dlog_writer;
    cfg.watchdog_s = 30;
    cfg.log = cli_log;

    struct cc_err err = {0};
    struct cc_vm *vm = NULL;
    struct cc_blk_config disk = {.size = o->disk_size, .image_path = o->disk_image};
    if (cli_pin(NULL, &o->cpu, 0, o->quiet) < 0)
        return -1;
    if (cc_vm_create(&cfg, &vm, &err) < 0 ||
        (o->rng && cc_vm_add_virtio_rng(vm, NULL, &err) < 0) ||
        ((o->disk_image || o->disk_size) && cc_vm_add_virtio_blk(vm, &disk, NULL, &err) < 0) ||
        cc_vm_load_linux(vm, o->kernel, o->initrd, o->cmdline, &err) < 0) {
        fprintf(stderr, "chaoscontrol: %s\n", err.msg);
        cc_vm_destroy(vm);
        return -1;
    }
    *out = vm;
    return 0;
}

int cli_run_vm(const struct cli_vm_opts *o, struct cc_vm *vm, struct cli_summary *sum)
{
    struct cc_err err = {0};
    struct cc_run_limits lim = {.max_exits = o->max_exits, .until_serial = o->until};
    struct cc_run_result res;
    if (cc_vm_run(vm, &lim, &res, &err) < 0) {
        fprintf(stderr, "chaoscontrol: %s\n", err.msg);
        return -1;
    }
    sum->stop = res.stop;
    sum->exits = cc_vm_exit_count(vm);
    sum->vtime = cc_vm_vtime_ns(vm);
    sum->trace_hash = cc_vm_trace_hash(vm);
    sum->serial_hash = cc_vm_serial_hash(vm);
    sum->ram_hash = cc_vm_ram_hash(vm);
    sum->unknown_io = cc_vm_unknown_io_count(vm);
    sum->clock_reads = cc_vm_clock_reads(vm);
    sum->has_status = cc_vm_exit_status(vm, &sum->status);
    uint64_t steps = cc_vm_sti_deferrals(vm);
    if (steps)
        fprintf(stderr, "chaoscontrol: note: %" PRIu64 " interrupt window%s reported inside an STI "
                "shadow (a QEMU test-host quirk) stepped one instruction further, as hardware "
                "does\n", steps, steps == 1 ? "" : "s");
    return 0;
}

void cli_print_summary(FILE *f, const char *prefix, const struct cli_summary *s)
{
    char status[32] = "";
    if (s->has_status)
        snprintf(status, sizeof(status), " status=%d", s->status);
    fprintf(f, "%sstop=%s exits=%" PRIu64 " vtime=%" PRIu64 ".%09" PRIu64 "s trace=%016" PRIx64
            " serial=%016" PRIx64 " ram=%016" PRIx64 " unknown-io=%" PRIu64 " clock-reads=%" PRIu64 "%s\n",
            prefix, cc_stop_name(s->stop), s->exits, s->vtime / 1000000000u,
            s->vtime % 1000000000u, s->trace_hash, s->serial_hash, s->ram_hash, s->unknown_io,
            s->clock_reads, status);
}

void cli_print_regs(FILE *f, struct cc_vm *vm)
{
    struct kvm_regs r;
    struct kvm_sregs sr;
    struct cc_err err = {0};
    if (cc_vm_get_regs(vm, &r, &err) < 0 || cc_vm_get_sregs(vm, &sr, &err) < 0) {
        fprintf(f, "chaoscontrol: cannot read the registers: %s\n", err.msg);
        return;
    }
    fprintf(f, "chaoscontrol: registers at the stop:\n"
            "  rip %016llx  rsp %016llx  rflags %08llx  cs %04x  cpl %u\n"
            "  rax %016llx  rbx %016llx  rcx %016llx  rdx %016llx\n"
            "  rsi %016llx  rdi %016llx  rbp %016llx\n"
            "  cr0 %016llx  cr2 %016llx  cr3 %016llx  cr4 %016llx  efer %llx\n",
            r.rip, r.rsp, r.rflags, sr.cs.selector, sr.cs.dpl, r.rax, r.rbx, r.rcx, r.rdx,
            r.rsi, r.rdi, r.rbp, sr.cr0, sr.cr2, sr.cr3, sr.cr4, sr.efer);
}

bool cli_stop_is_clean(enum cc_stop s)
{
    return s == CC_STOP_POWEROFF || s == CC_STOP_HALTED || s == CC_STOP_RESET ||
           s == CC_STOP_SERIAL_MATCH || s == CC_STOP_MAX_EXITS || s == CC_STOP_VTIME;
}

int cmd_boot(int argc, char **argv)
{
    struct cli_vm_opts o;
    cli_vm_opts_default(&o);
    int rc = cli_parse_vm_opts(argc, argv, "boot", &o, NULL);
    if (rc)
        return rc;
    if (cli_check_inputs(&o) < 0 || cli_check_kvm(o.force) < 0)
        return 1;
    int serial_fd = STDOUT_FILENO;
    if (o.serial_out) {
        serial_fd = open(o.serial_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (serial_fd < 0) {
            fprintf(stderr, "chaoscontrol: cannot write serial output '%s': %s\n", o.serial_out,
                    strerror(errno));
            return 1;
        }
    }
    struct cc_vm *vm = NULL;
    struct cli_summary sum = {0};
    rc = 0;
    if (o.dlog) {
        struct cc_err err = {0};
        struct cc_dlog_opts dop = {.n_vms = 1, .seed = o.seed, .regs_every = o.dlog_regs,
                                   .source = "boot"};
        rc = cc_dlog_create(o.dlog, &dop, &o.dlog_writer, &err);
        if (rc < 0)
            fprintf(stderr, "chaoscontrol: %s\n", err.msg);
    }
    if (rc == 0)
        rc = cli_prepare_vm(&o, serial_fd, o.trace_out, false, &vm);
    if (rc == 0)
        rc = cli_run_vm(&o, vm, &sum);
    if (o.serial_out)
        close(serial_fd);
    if (o.dlog_writer) {
        /* the log of whatever ran, also after an error */
        struct cc_err err = {0};
        if (vm)
            cc_vm_dlog_end(vm);
        uint64_t recs = cc_dlog_records(o.dlog_writer);
        if (cc_dlog_close(o.dlog_writer, &err) < 0) {
            fprintf(stderr, "chaoscontrol: %s\n", err.msg);
            rc = -1;
        } else if (!o.quiet) {
            fprintf(stderr, "chaoscontrol: dlog %s: %" PRIu64 " records\n", o.dlog, recs);
        }
        o.dlog_writer = NULL;
    }
    if (rc < 0) {
        cc_vm_destroy(vm);
        return 1;
    }
    if (!o.quiet)
        cli_print_summary(stderr, "chaoscontrol: ", &sum);
    if (o.regs && cli_stop_is_clean(sum.stop))
        cli_print_regs(stderr, vm);
    if (!cli_stop_is_clean(sum.stop)) {
        fprintf(stderr, "chaoscontrol: the guest stopped abnormally (%s)\n", cc_stop_name(sum.stop));
        cli_print_regs(stderr, vm);     /* after a triple fault: KVM's reset state */
        cc_vm_destroy(vm);
        return 1;
    }
    cc_vm_destroy(vm);
    return 0;
}

/* Compare two kept traces; returns the index of the first difference, or
 * SIZE_MAX when equal. */
static size_t first_divergence(const struct cc_trace_rec *a, size_t na,
                               const struct cc_trace_rec *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    for (size_t i = 0; i < n; i++)
        if (a[i].seq != b[i].seq || a[i].vtime != b[i].vtime || a[i].rip != b[i].rip ||
            a[i].addr != b[i].addr || a[i].data != b[i].data || a[i].size != b[i].size ||
            a[i].kind != b[i].kind)
            return i;
    return na == nb ? SIZE_MAX : n;
}

static bool same_result(const struct cli_summary *a, const struct cli_summary *b)
{
    return a->exits == b->exits && a->trace_hash == b->trace_hash &&
           a->serial_hash == b->serial_hash && a->ram_hash == b->ram_hash &&
           a->stop == b->stop && a->vtime == b->vtime;
}

/* Run r of verify (from 1): its trace to --trace F (run 1) or F.r, its
 * console to --serial-out (run 1 only), its summary printed. The VM is
 * kept for comparing traces. Returns -1 after printing the error. */
static int verify_run(struct cli_vm_opts *o, uint64_t r, struct cc_vm **vm,
                      struct cli_summary *sum)
{
    char trace_path[4096];
    const char *tp = NULL;
    if (o->trace_out) {
        if (r == 1)
            snprintf(trace_path, sizeof(trace_path), "%s", o->trace_out);
        else
            snprintf(trace_path, sizeof(trace_path), "%s.%" PRIu64, o->trace_out, r);
        tp = trace_path;
    }
    int serial_fd = -1;
    if (o->serial_out && r == 1) {
        serial_fd = open(o->serial_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (serial_fd < 0) {
            fprintf(stderr, "chaoscontrol: cannot write serial output '%s': %s\n",
                    o->serial_out, strerror(errno));
            return -1;
        }
    }
    if (o->n_seeds)
        o->seed = o->seeds[r - 1];
    int rc = cli_prepare_vm(o, serial_fd, tp, true, vm);
    if (rc == 0)
        rc = cli_run_vm(o, *vm, sum);
    if (serial_fd >= 0)
        close(serial_fd);
    if (rc < 0)
        return -1;
    char prefix[64];
    if (o->n_seeds)
        snprintf(prefix, sizeof(prefix), "run %" PRIu64 " (seed %" PRIu64 "): ", r, o->seed);
    else
        snprintf(prefix, sizeof(prefix), "run %" PRIu64 ": ", r);
    cli_print_summary(stdout, prefix, sum);
    fflush(stdout);
    return 0;
}

/* Where run r parts from run 1: the first differing trace record, or what
 * differs when the traces are equal. */
static void print_divergence(struct cc_vm *ref, const struct cli_summary *ref_sum,
                             struct cc_vm *vm, const struct cli_summary *sum, uint64_t r)
{
    size_t na, nb;
    const struct cc_trace_rec *a = cc_vm_trace(ref, &na);
    const struct cc_trace_rec *b = cc_vm_trace(vm, &nb);
    size_t i = first_divergence(a, na, b, nb);
    if (i == SIZE_MAX) {
        printf("run %" PRIu64 ": the exit traces are identical (%zu records) but %s differ\n",
               r, na, sum->ram_hash != ref_sum->ram_hash ? "the final RAM contents" :
                                                           "the serial output");
        return;
    }
    char la[256], lb[256];
    if (i < na)
        cc_trace_format(&a[i], la, sizeof(la));
    else
        snprintf(la, sizeof(la), "(trace ended)");
    if (i < nb)
        cc_trace_format(&b[i], lb, sizeof(lb));
    else
        snprintf(lb, sizeof(lb), "(trace ended)");
    uint64_t ex = i < na ? a[i].seq : i < nb ? b[i].seq : 0;
    printf("run %" PRIu64 ": first divergent record is #%zu of the trace (exit #%" PRIu64
           "):\n  run 1: %s\n  run %" PRIu64 ": %s\n", r, i, ex, la, r, lb);
}

int cmd_verify(int argc, char **argv)
{
    struct cli_vm_opts o;
    cli_vm_opts_default(&o);
    uint64_t runs = 3;
    int rc = cli_parse_vm_opts(argc, argv, "verify", &o, &runs);
    if (rc)
        return rc;
    if (o.n_seeds) {
        if (o.runs_given && runs != o.n_seeds) {
            fprintf(stderr, "chaoscontrol verify: --runs %" PRIu64 " but --seeds gives %u seeds\n",
                    runs, o.n_seeds);
            return 2;
        }
        runs = o.n_seeds;
    }
    if (cli_check_inputs(&o) < 0 || cli_check_kvm(o.force) < 0)
        return 1;

    struct cc_vm *ref = NULL;
    struct cli_summary ref_sum = {0};
    bool all_same = true;
    for (uint64_t r = 1; r <= runs; r++) {
        struct cc_vm *vm = NULL;
        struct cli_summary sum;
        if (verify_run(&o, r, &vm, &sum) < 0) {
            cc_vm_destroy(vm);
            cc_vm_destroy(ref);
            return 1;
        }
        if (!ref) {
            ref = vm;
            ref_sum = sum;
            continue;
        }
        if (!same_result(&sum, &ref_sum)) {
            all_same = false;
            print_divergence(ref, &ref_sum, vm, &sum, r);
        }
        cc_vm_destroy(vm);
    }
    cc_vm_destroy(ref);
    if (all_same) {
        printf("verify: all %" PRIu64 " runs are identical\n", runs);
        return cli_stop_is_clean(ref_sum.stop) ? 0 : 1;
    }
    printf("verify: runs differ\n");
    return 1;
}
