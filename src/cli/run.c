/* chaoscontrol run: boot a guest that uses the SDK, run it to the end and
 * report what its assertions say.
 *
 *   chaoscontrol run --kernel K --initrd I [--seed N] [--json F]
 *
 * Prints the assertion table (kind, verdict, hits, message, location; every
 * catalog entry, reached or not) and the first failure with its message,
 * file:line and details. --json writes the whole SDK record of the run
 * (assertions, failure, events, guidance, every random choice, coverage).
 * A run can be replayed with a previous record's choices (--replay F) and
 * single choices overridden (--override INDEX=VALUE).
 *
 * Exit status: 0 when the guest ran to a clean stop and no assertion
 * failed, 1 when one failed or the guest stopped abnormally, 2 for usage
 * errors. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol/file.h"
#include "cli.h"

enum {
    OPT_KERNEL = 256, OPT_INITRD, OPT_MEM, OPT_SEED, OPT_CMDLINE, OPT_APPEND, OPT_JSON,
    OPT_SERIAL, OPT_SERIAL_OUT, OPT_MAX_EXITS, OPT_REPLAY, OPT_OVERRIDE, OPT_TRIGGER,
    OPT_FORCE, OPT_QUIET, OPT_HELP, OPT_CPUS, OPT_VCPU_SCHEDULE, OPT_VCPU_QUANTUM,
};

static const struct option long_opts[] = {
    {"kernel", required_argument, NULL, OPT_KERNEL},
    {"initrd", required_argument, NULL, OPT_INITRD},
    {"mem", required_argument, NULL, OPT_MEM},
    {"seed", required_argument, NULL, OPT_SEED},
    {"cmdline", required_argument, NULL, OPT_CMDLINE},
    {"append", required_argument, NULL, OPT_APPEND},
    {"json", required_argument, NULL, OPT_JSON},
    {"serial", no_argument, NULL, OPT_SERIAL},
    {"serial-out", required_argument, NULL, OPT_SERIAL_OUT},
    {"max-exits", required_argument, NULL, OPT_MAX_EXITS},
    {"replay", required_argument, NULL, OPT_REPLAY},
    {"override", required_argument, NULL, OPT_OVERRIDE},
    {"trigger", required_argument, NULL, OPT_TRIGGER},
    {"force", no_argument, NULL, OPT_FORCE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"vcpu-schedule", required_argument, NULL, OPT_VCPU_SCHEDULE},
    {"vcpu-quantum", required_argument, NULL, OPT_VCPU_QUANTUM},
    CLI_CPU_MODEL_LONG_OPTS,
    CLI_PIN_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chaoscontrol run [--kernel K] [--initrd I] [--seed N] [--json F]\n"
            "       [--mem 256M] [--cpus N] [--vcpu-schedule rr|random] [--vcpu-quantum N]\n"
            "       [--cpu-vendor S] [--cpu-family N] [--cpu-model N] [--cpu-stepping N]\n"
            "       [--cpu-brand S] [--tsc-khz N] [--[no-]avx2] [--[no-]avx512]\n"
            "       [--pin-cpu LIST]\n"
            "       [--cmdline ARGS | --append ARGS] [--serial | --serial-out F]\n"
            "       [--max-exits N] [--replay F] [--override INDEX=VALUE]...\n"
            "       [--trigger auto|port] [--force] [--quiet]\n\n"
            "Runs a guest that uses the ChaosControl SDK to the end (power-off, or the\n"
            "first failed assertion) and prints its assertion table.\n\n"
            "  --kernel K          bzImage or ELF vmlinux (default: the kernel built or\n"
            "                      installed with this program, kernel/bzImage)\n"
            "  --initrd I          initramfs with the program under test as /init\n"
            "  --seed N            seed for every source of randomness (default 0)\n"
            "  --json F            write the run's SDK record (assertions, failure, events,\n"
            "                      guidance, choices, coverage) as JSON to F\n"
            "  --mem SIZE          guest RAM (default 256M)\n"
            "  --cpus N            vCPUs (1-%d, default 1; one runs at a time)\n"
            "  --vcpu-schedule S   which vCPU runs next (--cpus > 1): rr (round robin, the\n"
            "                      default) or random (drawn from the seeded stream)\n"
            "  --vcpu-quantum N    exits a vCPU runs before the next one (rr), or a switch\n"
            "                      after each exit with probability 1/N (random); default %d\n"
            "  --cmdline ARGS      replace the default kernel command line\n"
            "  --append ARGS       append to the kernel command line\n"
            "  --serial            copy the guest's serial output to stderr\n"
            "  --serial-out F      write the guest's serial output to F\n"
            "  --max-exits N       stop after N exits\n"
            "  --replay F          replay the choices of a --json record F (or a script\n"
            "                      {\"replay\": [...], \"overrides\": [...]})\n"
            "  --override I=V      make random call number I return V (repeatable)\n"
            "  --trigger port      ask the guest SDK for the port doorbell (default auto:\n"
            "                      hypercall where the host offers it)\n"
            "  --force             run even if this host's KVM fails the capability probe\n"
            "  --quiet             print only the failure line, if any\n",
            CC_VM_MAX_VCPUS, CC_VM_DEFAULT_QUANTUM);
    cli_cpu_usage(f, 19, true, true);
}

struct run_opts {
    struct cli_vm_opts vm;
    const char *json;
    const char *replay;
    bool serial;
    int trigger;
    struct cc_choice_override *ov;
    size_t nov;
};

static int parse_override(const char *s, struct run_opts *o)
{
    const char *eq = strchr(s, '=');
    if (!eq || eq == s)
        return -1;
    char idx[32];
    size_t n = (size_t)(eq - s);
    if (n >= sizeof(idx))
        return -1;
    memcpy(idx, s, n);
    idx[n] = 0;
    struct cc_choice_override v;
    if (!cli_parse_u64(idx, &v.index) || !cli_parse_u64(eq + 1, &v.value))
        return -1;
    struct cc_choice_override *m = realloc(o->ov, (o->nov + 1) * sizeof(*m));
    if (!m)
        return -1;
    o->ov = m;
    o->ov[o->nov++] = v;
    return 0;
}

static int parse(int argc, char **argv, struct run_opts *o)
{
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_KERNEL: o->vm.kernel = optarg; break;
        case OPT_INITRD: o->vm.initrd = optarg; break;
        case OPT_MEM:
            if (!cli_parse_size(optarg, &o->vm.mem)) {
                fprintf(stderr, "chaoscontrol run: --mem '%s' is not a size (e.g. 256M)\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_SEED:
            if (!cli_parse_u64(optarg, &o->vm.seed)) {
                fprintf(stderr, "chaoscontrol run: --seed '%s' is not a number\n", optarg);
                return 2;
            }
            break;
        case OPT_CMDLINE: o->vm.cmdline = optarg; break;
        case OPT_APPEND: o->vm.cmdline_extra = optarg; break;
        case OPT_JSON: o->json = optarg; break;
        case OPT_SERIAL: o->serial = true; break;
        case OPT_SERIAL_OUT: o->vm.serial_out = optarg; break;
        case OPT_MAX_EXITS:
            if (!cli_parse_u64(optarg, &o->vm.max_exits) || !o->vm.max_exits) {
                fprintf(stderr, "chaoscontrol run: --max-exits '%s' is not a positive number\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_REPLAY: o->replay = optarg; break;
        case OPT_OVERRIDE:
            if (parse_override(optarg, o) < 0) {
                fprintf(stderr, "chaoscontrol run: --override '%s' is not INDEX=VALUE (two "
                        "non-negative integers)\n", optarg);
                return 2;
            }
            break;
        case OPT_TRIGGER:
            if (!strcmp(optarg, "auto")) {
                o->trigger = CC_SDK_TRIGGER_AUTO;
            } else if (!strcmp(optarg, "port")) {
                o->trigger = CC_SDK_TRIGGER_PORT;
            } else {
                fprintf(stderr, "chaoscontrol run: --trigger wants auto or port, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_CPUS:
            if (!cli_parse_cpus("run", optarg, &o->vm.vcpus))
                return 2;
            break;
        case OPT_VCPU_SCHEDULE:
            if (!cli_parse_vcpu_schedule("run", optarg, &o->vm.vcpu_sched))
                return 2;
            break;
        case OPT_VCPU_QUANTUM:
            if (!cli_parse_vcpu_quantum("run", optarg, &o->vm.vcpu_quantum))
                return 2;
            break;
        case OPT_FORCE: o->vm.force = true; break;
        case OPT_QUIET: o->vm.quiet = true; break;
        case OPT_HELP:
            usage(stdout);
            return 3;
        default: {
            int r = cli_cpu_opt("run", c, optarg, &o->vm.cpu);
            if (r < 0)
                return 2;
            if (r > 0)
                break;
            if (optopt >= OPT_KERNEL)
                fprintf(stderr, "chaoscontrol run: option '%s' needs a value\n",
                        argv[optind - 1]);
            else
                fprintf(stderr, "chaoscontrol run: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
        }
    }
    if (cli_cpu_opts_check("run", &o->vm.cpu) < 0)
        return 2;
    if (optind < argc) {
        fprintf(stderr, "chaoscontrol run: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (cli_default_kernel(&o->vm.kernel) < 0) {
        fprintf(stderr, "chaoscontrol run: " CLI_NO_KERNEL "\n");
        usage(stderr);
        return 2;
    }
    return 0;
}


static bool stop_is_clean(enum cc_stop s)
{
    return s == CC_STOP_POWEROFF || s == CC_STOP_HALTED || s == CC_STOP_RESET ||
           s == CC_STOP_MAX_EXITS || s == CC_STOP_VTIME;
}

static void print_table(struct cc_vm *vm)
{
    size_t n;
    const struct cc_assertion *a = cc_vm_assertions(vm, &n);
    size_t failed = 0, passed = 0, unex = 0;
    for (size_t i = 0; i < n; i++) {
        switch (cc_assertion_verdict(&a[i])) {
        case CC_VERDICT_FAILED: failed++; break;
        case CC_VERDICT_PASSED: passed++; break;
        default: unex++; break;
        }
    }
    printf("assertions: %zu (%zu passed, %zu failed, %zu unexercised)\n", n, passed, failed, unex);
    if (!n)
        return;
    printf("  %-22s %-12s %10s  %s\n", "KIND", "VERDICT", "HITS", "MESSAGE (LOCATION)");
    for (size_t i = 0; i < n; i++)
        printf("  %-22s %-12s %10" PRIu64 "  %s (%s:%u %s)\n", cc_kind_name(a[i].kind),
               cc_verdict_name(cc_assertion_verdict(&a[i])), a[i].hits, a[i].message, a[i].file,
               a[i].line, a[i].function);
}

static void print_failure(FILE *f, const struct cc_sdk_failure *fl)
{
    fprintf(f, "failure: %s \"%s\" at %s:%u (%s)%s%s, vtime %" PRIu64 ".%09" PRIu64 " s, exit #%"
            PRIu64 "\n", cc_kind_name(fl->a.kind), fl->a.message, fl->a.file, fl->a.line,
            fl->a.function, *fl->details ? ", details " : "", fl->details,
            fl->vtime / 1000000000u, fl->vtime % 1000000000u, fl->exit);
}

static int write_json(const char *path, struct cc_vm *vm, const struct run_opts *o,
                      enum cc_stop stop)
{
    char *text = cc_vm_sdk_json(vm);
    json_t *root = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!root) {
        fprintf(stderr, "chaoscontrol run: out of memory building the JSON record\n");
        return -1;
    }
    json_t *run = json_object();
    char seed[32], hash[32];
    snprintf(seed, sizeof(seed), "%" PRIu64, o->vm.seed);
    json_object_set_new(run, "seed", json_string(seed));
    json_object_set_new(run, "kernel", json_string(o->vm.kernel));
    json_object_set_new(run, "initrd", o->vm.initrd ? json_string(o->vm.initrd) : json_null());
    if (o->vm.vcpus > 1) {      /* what --cpus and its options were (absent: one vCPU) */
        json_object_set_new(run, "vcpus", json_integer(o->vm.vcpus));
        json_object_set_new(run, "vcpu_schedule",
                            json_string(cc_vcpu_sched_name(o->vm.vcpu_sched)));
        json_object_set_new(run, "vcpu_quantum", json_integer(o->vm.vcpu_quantum ?
                            o->vm.vcpu_quantum : CC_VM_DEFAULT_QUANTUM));
    }
    json_object_set_new(run, "stop", json_string(cc_stop_name(stop)));
    json_object_set_new(run, "exits", json_integer((json_int_t)cc_vm_exit_count(vm)));
    json_object_set_new(run, "vtime_ns", json_integer((json_int_t)cc_vm_vtime_ns(vm)));
    snprintf(hash, sizeof(hash), "%016" PRIx64, cc_vm_serial_hash(vm));
    json_object_set_new(run, "serial_hash", json_string(hash));
    /* "run" first, for people reading the file */
    json_t *out = json_object();
    json_object_set_new(out, "run", run);
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
        json_object_set(out, key, val);
    json_decref(root);
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int rc = json_dump_file(out, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(out);
    if (rc < 0 || rename(tmp, path) < 0) {
        fprintf(stderr, "chaoscontrol run: cannot write '%s': %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The choice script: --replay's record or script, then the --override
 * values after its own (the last one given for an index wins). Prints the
 * error and returns -1. */
static int make_script(const struct run_opts *o, struct cc_choice_script *script)
{
    if (o->replay) {
        char *text;
        size_t len;
        struct cc_err err = {0};
        if (cc_file_read(o->replay, "--replay file", 64u << 20, &text, &len, &err) < 0) {
            fprintf(stderr, "chaoscontrol run: %s\n", err.msg);
            return -1;
        }
        int rc = cc_choice_script_from_json(text, script, &err);
        free(text);
        if (rc < 0) {
            fprintf(stderr, "chaoscontrol run: --replay '%s': %s\n", o->replay, err.msg);
            return -1;
        }
    }
    if (!o->nov)
        return 0;
    size_t n = script->n_overrides + o->nov;
    struct cc_choice_override *m = malloc(n * sizeof(*m));
    if (!m) {
        fprintf(stderr, "chaoscontrol run: out of memory\n");
        cc_choice_script_free(script);
        return -1;
    }
    if (script->n_overrides)
        memcpy(m, script->overrides, script->n_overrides * sizeof(*m));
    memcpy(m + script->n_overrides, o->ov, o->nov * sizeof(*m));
    free((void *)script->overrides);
    script->overrides = m;
    script->n_overrides = n;
    return 0;
}

/* Where the guest's console goes: --serial-out F, stderr with --serial, or
 * nowhere (-1). Returns -2 (after printing why) when F cannot be opened. */
static int open_serial(const struct run_opts *o)
{
    if (!o->vm.serial_out)
        return o->serial ? STDERR_FILENO : -1;
    int fd = open(o->vm.serial_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "chaoscontrol run: cannot write serial output '%s': %s\n",
                o->vm.serial_out, strerror(errno));
        return -2;
    }
    return fd;
}

/* The VM with the guest loaded, the choice script set and the SDK's
 * doorbell chosen. Prints the error and returns -1. */
static int make_vm(const struct run_opts *o, int serial_fd,
                   const struct cc_choice_script *script, struct cc_vm **out)
{
    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.mem_size = o->vm.mem;
    cfg.seed = o->vm.seed;
    cfg.vcpus = o->vm.vcpus;
    cfg.vcpu_sched = o->vm.vcpu_sched;
    cfg.vcpu_quantum = o->vm.vcpu_quantum;
    cc_cpu_model_apply(&cfg, &o->vm.cpu.model);
    cfg.cmdline_extra = o->vm.cmdline_extra;
    cfg.serial_fd = serial_fd;
    cfg.watchdog_s = 30;
    struct cc_err err = {0};
    if (cli_pin("run", &o->vm.cpu, 0, o->vm.quiet) < 0)
        return -1;
    if (cc_vm_create(&cfg, out, &err) < 0 ||
        cc_vm_load_linux(*out, o->vm.kernel, o->vm.initrd, o->vm.cmdline, &err) < 0 ||
        cc_vm_sdk_set_script(*out, script, &err) < 0) {
        fprintf(stderr, "chaoscontrol run: %s\n", err.msg);
        return -1;
    }
    struct cc_sdk_options opt;
    cc_vm_sdk_get_options(*out, &opt);
    opt.trigger = o->trigger;
    cc_vm_sdk_set_options(*out, &opt);
    return 0;
}

/* The "run: ..." line: seed, stop, exits, time, SDK calls, choices and
 * coverage. */
static void print_run_line(struct cc_vm *vm, uint64_t seed, enum cc_stop stop)
{
    uint64_t vt = cc_vm_vtime_ns(vm);
    struct cc_sdk_stats st;
    cc_vm_sdk_stats(vm, &st);
    size_t nch;
    cc_vm_choices(vm, &nch);
    const uint8_t *map = cc_vm_coverage(vm);
    printf("run: seed %" PRIu64 ", stop %s, %" PRIu64 " exits, vtime %" PRIu64 ".%09" PRIu64
           " s, %" PRIu64 " SDK calls (%s), %zu choices, %zu coverage edges\n", seed,
           cc_stop_name(stop), cc_vm_exit_count(vm), vt / 1000000000u, vt % 1000000000u,
           st.calls,
           st.hypercall_calls ? (st.port_calls ? "hypercall and port" : "hypercall") :
                                st.port_calls ? "port" : "none",
           nch, map ? cc_coverage_count(map, CC_COVERAGE_SIZE) : 0);
}

int cmd_run(int argc, char **argv)
{
    struct run_opts o = {0};
    cli_vm_opts_default(&o.vm);
    int rc = parse(argc, argv, &o);
    if (rc) {
        free(o.ov);
        return rc == 3 ? 0 : rc;
    }
    struct cc_choice_script script = {0};
    rc = make_script(&o, &script);
    free(o.ov);
    if (rc < 0)
        return 1;
    if (cli_check_inputs(&o.vm) < 0 || cli_check_kvm(o.vm.force) < 0) {
        cc_choice_script_free(&script);
        return 1;
    }
    int serial_fd = open_serial(&o);
    if (serial_fd == -2) {
        cc_choice_script_free(&script);
        return 1;
    }
    struct cc_err err = {0};
    struct cc_vm *vm = NULL;
    int status = 1;
    if (make_vm(&o, serial_fd, &script, &vm) < 0)
        goto out;
    struct cc_run_limits lim = {.max_exits = o.vm.max_exits};
    struct cc_run_result res;
    if (cc_vm_run(vm, &lim, &res, &err) < 0) {
        fprintf(stderr, "chaoscontrol run: %s\n", err.msg);
        goto out;
    }
    const struct cc_sdk_failure *fl = cc_vm_sdk_failure(vm);
    if (!o.vm.quiet) {
        print_run_line(vm, o.vm.seed, res.stop);
        print_table(vm);
    }
    if (fl)
        print_failure(stdout, fl);
    fflush(stdout);
    if (o.json && write_json(o.json, vm, &o, res.stop) < 0)
        goto out;
    if (!fl && !stop_is_clean(res.stop))
        fprintf(stderr, "chaoscontrol run: the guest stopped abnormally (%s)\n",
                cc_stop_name(res.stop));
    status = !fl && stop_is_clean(res.stop) ? 0 : 1;
out:
    if (o.vm.serial_out && serial_fd >= 0)
        close(serial_fd);
    cc_vm_destroy(vm);
    cc_choice_script_free(&script);
    return status;
}
