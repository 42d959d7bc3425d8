/* chaoscontrol snapshot save|load|info|diff and snapshot-demo.
 *
 *   snapshot save --output F <boot options> [--until P | --max-exits N]
 *       boot, run to the point, write the snapshot file
 *   snapshot load F [--until P] [--max-exits N] [--serial-out F] [--seed N]
 *       load a file in this process and run on to the end (or the limit)
 *   snapshot info F            what a file holds
 *   snapshot diff A B          pages that differ between two files
 *   snapshot-demo --kernel K --initrd I
 *       boot, snapshot after /init's first line, run to the end, restore,
 *       run again, restore again, fork 4 branches (two with one seed, two
 *       with others), save/load a file; print each check and the timings. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chaoscontrol/snapshot.h"
#include "chaoscontrol/virtio.h"
#include "cli.h"

static double now_ms(void)
{
    /* Wall time is only reported, never fed to a VM. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void summarize(struct cc_vm *vm, enum cc_stop stop, struct cli_summary *s)
{
    s->stop = stop;
    s->exits = cc_vm_exit_count(vm);
    s->vtime = cc_vm_vtime_ns(vm);
    s->trace_hash = cc_vm_trace_hash(vm);
    s->serial_hash = cc_vm_serial_hash(vm);
    s->ram_hash = cc_vm_ram_hash(vm);
    s->unknown_io = cc_vm_unknown_io_count(vm);
    s->clock_reads = cc_vm_clock_reads(vm);
    s->has_status = cc_vm_exit_status(vm, &s->status);
}

static bool same_summary(const struct cli_summary *a, const struct cli_summary *b)
{
    return a->stop == b->stop && a->exits == b->exits && a->vtime == b->vtime &&
           a->trace_hash == b->trace_hash && a->serial_hash == b->serial_hash &&
           a->ram_hash == b->ram_hash;
}

/* ---- save ---- */

static int cmd_save(int argc, char **argv)
{
    struct cli_vm_opts o;
    cli_vm_opts_default(&o);
    int rc = cli_parse_vm_opts(argc, argv, "snapshot save", &o, NULL);
    if (rc)
        return rc;
    if (!o.output) {
        fprintf(stderr, "chaoscontrol snapshot save: --output FILE is required\n");
        return 2;
    }
    if (!o.until && !o.max_exits) {
        fprintf(stderr, "chaoscontrol snapshot save: say where to snapshot: --until PATTERN "
                        "or --max-exits N\n");
        return 2;
    }
    struct cc_vm *vm;
    if (cli_check_inputs(&o) < 0 || cli_check_kvm(o.force) < 0 ||
        cli_prepare_vm(&o, -1, o.trace_out, false, &vm) < 0)
        return 1;
    struct cli_summary sum;
    if (cli_run_vm(&o, vm, &sum) < 0) {
        cc_vm_destroy(vm);
        return 1;
    }
    if (sum.stop != CC_STOP_SERIAL_MATCH && sum.stop != CC_STOP_MAX_EXITS) {
        fprintf(stderr, "chaoscontrol: the guest stopped (%s) before the snapshot point\n",
                cc_stop_name(sum.stop));
        cc_vm_destroy(vm);
        return 1;
    }
    struct cc_err err = {0};
    struct cc_snapshot *s = NULL;
    double t0 = now_ms();
    if (cc_vm_snapshot(vm, &s, &err) < 0 || cc_snapshot_save(s, o.output, &err) < 0) {
        fprintf(stderr, "chaoscontrol: %s\n", err.msg);
        cc_snapshot_put(s);
        cc_vm_destroy(vm);
        return 1;
    }
    double t_save = now_ms() - t0;
    if (!o.quiet) {
        struct stat st = {0};
        stat(o.output, &st);
        cli_print_summary(stderr, "chaoscontrol: snapshot at ", &sum);
        fprintf(stderr, "chaoscontrol: snapshot written to %s (%lld bytes) in %.1f ms\n",
                o.output, (long long)st.st_size, t_save);
    }
    cc_snapshot_put(s);
    cc_vm_destroy(vm);
    return 0;
}

/* ---- load ---- */

static int cmd_load(int argc, char **argv)
{
    struct cli_vm_opts o;
    cli_vm_opts_default(&o);
    o.snapshot_mode = true;
    int rc = cli_parse_vm_opts(argc, argv, "snapshot load", &o, NULL);
    if (rc)
        return rc;
    if (!o.snapshot) {
        fprintf(stderr, "chaoscontrol snapshot load: a snapshot FILE is required\n");
        return 2;
    }
    struct cc_err err = {0};
    struct cc_snapshot *s;
    double t0 = now_ms();
    if (cc_snapshot_load(o.snapshot, &s, &err) < 0) {
        fprintf(stderr, "chaoscontrol: %s\n", err.msg);
        return 1;
    }
    if (cli_check_kvm(o.force) < 0 || cli_pin(NULL, &o.cpu, 0, o.quiet) < 0) {
        cc_snapshot_put(s);
        return 1;
    }
    int serial_fd = STDOUT_FILENO;
    if (o.serial_out) {
        serial_fd = open(o.serial_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (serial_fd < 0) {
            fprintf(stderr, "chaoscontrol: cannot write '%s': %s\n", o.serial_out,
                    strerror(errno));
            cc_snapshot_put(s);
            return 1;
        }
    }
    struct cc_fork_opts fo;
    cc_fork_opts_default(&fo);
    fo.serial_fd = serial_fd;
    fo.trace_path = o.trace_out;
    fo.log = cli_log;
    fo.watchdog_s = 30;
    fo.reseed = o.seed_given;
    fo.seed = o.seed;
    struct cc_vm *vm;
    rc = cc_vm_fork(s, &fo, &vm, &err);
    cc_snapshot_put(s);
    double t_load = now_ms() - t0;
    if (rc == 0 && !o.quiet)
        fprintf(stderr, "chaoscontrol: snapshot %s loaded, VM ready in %.1f ms\n", o.snapshot,
                t_load);
    if (rc < 0) {
        fprintf(stderr, "chaoscontrol: %s\n", err.msg);
        if (o.serial_out)
            close(serial_fd);
        return 1;
    }
    struct cli_summary sum;
    rc = cli_run_vm(&o, vm, &sum);
    if (o.serial_out)
        close(serial_fd);
    if (rc == 0 && !o.quiet)
        cli_print_summary(stderr, "chaoscontrol: ", &sum);
    cc_vm_destroy(vm);
    return rc < 0 || !cli_stop_is_clean(sum.stop) ? 1 : 0;
}

/* ---- info / diff ---- */

static int cmd_info(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: chaoscontrol snapshot info FILE\n");
        return 2;
    }
    struct cc_err err = {0};
    struct cc_snapshot *s;
    if (cc_snapshot_load(argv[1], &s, &err) < 0) {
        fprintf(stderr, "chaoscontrol: %s\n", err.msg);
        return 1;
    }
    struct cc_snapshot_info in;
    cc_snapshot_info(s, &in);
    struct stat st;
    long long fsize = stat(argv[1], &st) == 0 ? (long long)st.st_size : -1;
    printf("file:          %s (%lld bytes, format version %d)\n", argv[1], fsize,
           CC_SNAPSHOT_FORMAT_VERSION);
    printf("memory:        %" PRIu64 " MiB, %" PRIu64 " pages with data (%.1f MiB)\n",
           in.mem_size >> 20, in.pages_nonzero, (double)in.pages_nonzero * 4096 / 1048576.0);
    printf("virtual time:  %" PRIu64 ".%09" PRIu64 " s after %" PRIu64 " exits\n",
           in.vtime_ns / 1000000000u, in.vtime_ns % 1000000000u, in.exits);
    printf("seed:          %" PRIu64 "\n", in.seed);
    if (in.vcpus > 1)
        printf("vcpus:         %u (scheduler %s, quantum %u exits)\n", in.vcpus,
               cc_vcpu_sched_name(in.vcpu_sched), in.vcpu_quantum);
    else
        printf("vcpus:         1\n");
    printf("trace hash:    %016" PRIx64 "\n", in.trace_hash);
    printf("RAM hash:      %016" PRIx64 "\n", in.ram_hash);
    printf("state:         %zu bytes (vCPU, devices, clocks, PRNGs)\n", in.state_bytes);
    cc_snapshot_put(s);
    return 0;
}

struct diff_ctx {
    unsigned shown;
};

static void diff_range(void *opaque, uint64_t first, uint64_t count)
{
    struct diff_ctx *d = opaque;
    if (d->shown++ < 64)
        printf("  pages %" PRIu64 "-%" PRIu64 "  (gpa 0x%" PRIx64 "-0x%" PRIx64 ")\n", first,
               first + count - 1, first * 4096, (first + count) * 4096 - 1);
    else if (d->shown == 65)
        printf("  ...\n");
}

static int cmd_diff(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: chaoscontrol snapshot diff A B\n");
        return 2;
    }
    struct cc_err err = {0};
    struct cc_snapshot *a = NULL, *b = NULL;
    if (cc_snapshot_load(argv[1], &a, &err) < 0 || cc_snapshot_load(argv[2], &b, &err) < 0) {
        fprintf(stderr, "chaoscontrol: %s\n", err.msg);
        cc_snapshot_put(a);
        return 1;
    }
    struct diff_ctx d = {0};
    printf("pages that differ between %s and %s:\n", argv[1], argv[2]);
    int64_t n = cc_snapshot_diff(a, b, diff_range, &d, &err);
    int rc = 0;
    if (n < 0) {
        fprintf(stderr, "chaoscontrol: %s\n", err.msg);
        rc = 1;
    } else {
        printf("%" PRId64 " page(s) differ (%.1f MiB) in %u range(s)\n", n,
               (double)n * 4096 / 1048576.0, d.shown);
    }
    cc_snapshot_put(a);
    cc_snapshot_put(b);
    return rc;
}

int cmd_snapshot(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: chaoscontrol snapshot save --output F <boot options> "
                   "(--until P | --max-exits N)\n"
                   "       chaoscontrol snapshot load F [--until P] [--max-exits N] "
                   "[--serial-out F] [--seed N]\n"
                   "       chaoscontrol snapshot info F\n"
                   "       chaoscontrol snapshot diff A B\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "save"))
        return cmd_save(argc - 1, argv + 1);
    if (!strcmp(argv[1], "load"))
        return cmd_load(argc - 1, argv + 1);
    if (!strcmp(argv[1], "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "diff"))
        return cmd_diff(argc - 1, argv + 1);
    fprintf(stderr, "chaoscontrol snapshot: unknown subcommand '%s' (save, load, info, diff)\n",
            argv[1]);
    return 2;
}

/* ---- snapshot-demo ---- */

/* A run to the end: its summary and the serial output it produced. */
struct demo_run {
    struct cli_summary sum;
    char *tail;
    size_t len;
};

struct demo {
    const struct cli_vm_opts *o;
    unsigned failures;
    struct cc_vm *vm;               /* the booted VM */
    struct cc_snapshot *s;          /* taken after /init's first line */
    struct demo_run orig;           /* the original continuation */
    double t_boot, t_snap, t_run, t_restore, t_fork, t_save, t_load;   /* ms */
};

static void demo_check(struct demo *d, bool ok, const char *what)
{
    printf("  [%s] %s\n", ok ? " ok " : "FAIL", what);
    if (!ok)
        d->failures++;
}

/* Run vm to its end; the serial output produced from here on is returned in
 * r->tail (malloc'ed). */
static int run_to_end(struct cc_vm *vm, struct demo_run *r)
{
    size_t before;
    cc_vm_serial(vm, &before);
    struct cc_err err = {0};
    struct cc_run_result res;
    if (cc_vm_run(vm, NULL, &res, &err) < 0) {
        fprintf(stderr, "chaoscontrol: %s\n", err.msg);
        return -1;
    }
    summarize(vm, res.stop, &r->sum);
    size_t len;
    const uint8_t *all = cc_vm_serial(vm, &len);
    r->len = len - before;
    r->tail = malloc(r->len + 1);
    if (!r->tail)
        return -1;
    memcpy(r->tail, all + before, r->len);
    r->tail[r->len] = 0;
    return 0;
}

/* Same summary and same serial output. */
static bool same_run(const struct demo_run *a, const struct demo_run *b)
{
    return same_summary(&a->sum, &b->sum) && a->len == b->len &&
           !memcmp(a->tail, b->tail, a->len);
}

static const char *line_of(const char *text, const char *prefix, char *out, size_t len)
{
    const char *p = strstr(text, prefix);
    if (!p) {
        snprintf(out, len, "(no '%s' line)", prefix);
        return out;
    }
    size_t n = strcspn(p, "\r\n");
    if (n >= len)
        n = len - 1;
    memcpy(out, p, n);
    out[n] = 0;
    return out;
}

/* Boot to /init's first line (or --until) and take the snapshot there. */
static int demo_boot(struct demo *d)
{
    printf("snapshot-demo: boot to /init's first line\n");
    struct cc_err err = {0};
    double t0 = now_ms();
    struct cc_run_result res;
    const char *until = d->o->until;
    const char *marker = until ? until : "Run /init as init process";
    if (cc_vm_run_until(d->vm, marker, &res, &err) < 0 || res.stop != CC_STOP_SERIAL_MATCH ||
        (!until && (cc_vm_run_until(d->vm, "\n", &res, &err) < 0 ||
                    cc_vm_run_until(d->vm, "\n", &res, &err) < 0 ||
                    res.stop != CC_STOP_SERIAL_MATCH))) {
        fprintf(stderr, "chaoscontrol: the guest never printed /init's first line (%s%s)\n",
                cc_stop_name(res.stop), err.msg[0] ? err.msg : "");
        return -1;
    }
    d->t_boot = now_ms() - t0;
    printf("  booted in %.0f ms (%" PRIu64 " exits, virtual time %.3f ms)\n", d->t_boot,
           cc_vm_exit_count(d->vm), (double)cc_vm_vtime_ns(d->vm) / 1e6);

    t0 = now_ms();
    if (cc_vm_snapshot(d->vm, &d->s, &err) < 0) {
        fprintf(stderr, "chaoscontrol: snapshot: %s\n", err.msg);
        return -1;
    }
    d->t_snap = now_ms() - t0;
    struct cc_snapshot_info info;
    cc_snapshot_info(d->s, &info);
    printf("  snapshot taken in %.1f ms: %" PRIu64 " pages with data (%.1f MiB of %" PRIu64
           " MiB)\n", d->t_snap, info.pages_nonzero, (double)info.pages_nonzero / 256.0,
           info.mem_size >> 20);
    return 0;
}

/* Run on to the end, then restore in place twice and run again each time:
 * all three runs must be the same. */
static int demo_restore(struct demo *d)
{
    struct demo_run again = {0}, again2 = {0};
    struct cc_err err = {0};
    int rc = -1;
    double t0 = now_ms();
    if (run_to_end(d->vm, &d->orig) < 0)
        goto out;
    d->t_run = now_ms() - t0;
    printf("\nsnapshot-demo: the original continuation ran in %.0f ms (%s)\n", d->t_run,
           cc_stop_name(d->orig.sum.stop));
    cli_print_summary(stdout, "  ", &d->orig.sum);

    t0 = now_ms();
    int r = cc_vm_restore(d->vm, d->s, &err);
    d->t_restore = now_ms() - t0;
    if (r < 0 || run_to_end(d->vm, &again) < 0) {
        fprintf(stderr, "chaoscontrol: restore: %s\n", err.msg);
        goto out;
    }
    printf("\nsnapshot-demo: restore in place (%.1f ms, %" PRIu64 " dirty pages reset), "
           "run again\n", d->t_restore, cc_vm_last_reset_pages(d->vm));
    const struct cli_summary *o = &d->orig.sum, *a = &again.sum;
    demo_check(d, o->trace_hash == a->trace_hash, "same exit trace hash");
    demo_check(d, d->orig.len == again.len && !memcmp(d->orig.tail, again.tail, again.len),
               "same serial bytes");
    demo_check(d, o->ram_hash == a->ram_hash, "same RAM hash");
    demo_check(d, same_summary(o, a), "same exits, virtual time and stop reason");

    if (cc_vm_restore(d->vm, d->s, &err) < 0 || run_to_end(d->vm, &again2) < 0)
        goto out;
    printf("\nsnapshot-demo: restore again, run again\n");
    demo_check(d, same_run(&again, &again2), "two restores of one snapshot give identical runs");
    rc = 0;
out:
    free(again.tail);
    free(again2.tail);
    return rc;
}

/* Four forks alive at once: two with one seed, two with others. */
static int demo_forks(struct demo *d)
{
    printf("\nsnapshot-demo: fork 4 branches (seeds 100, 100, 200, 300), all alive at once\n");
    static const uint64_t seeds[4] = {100, 100, 200, 300};
    struct cc_vm *f[4] = {0};
    struct demo_run fr[4] = {0};
    struct cc_err err = {0};
    int rc = -1;
    double t0 = now_ms();
    for (int i = 0; i < 4; i++) {
        struct cc_fork_opts fo;
        cc_fork_opts_default(&fo);
        fo.reseed = true;
        fo.seed = seeds[i];
        fo.log = cli_log;
        if (cc_vm_fork(d->s, &fo, &f[i], &err) < 0) {
            fprintf(stderr, "chaoscontrol: fork: %s\n", err.msg);
            goto out;
        }
    }
    d->t_fork = (now_ms() - t0) / 4;
    for (int i = 0; i < 4; i++) {
        if (run_to_end(f[i], &fr[i]) < 0)
            goto out;
        char line[128];
        printf("  fork %d (seed %" PRIu64 "): %s, trace %016" PRIx64 "\n", i, seeds[i],
               line_of(fr[i].tail, "hwrng:", line, sizeof(line)), fr[i].sum.trace_hash);
    }
    demo_check(d, same_run(&fr[0], &fr[1]), "forks with equal seeds are identical");
    demo_check(d, fr[0].sum.serial_hash != fr[2].sum.serial_hash &&
                      fr[2].sum.serial_hash != fr[3].sum.serial_hash &&
                      fr[0].sum.trace_hash != fr[2].sum.trace_hash,
               "forks with different seeds diverge");
    rc = 0;
out:
    for (int i = 0; i < 4; i++) {
        cc_vm_destroy(f[i]);
        free(fr[i].tail);
    }
    return rc;
}

/* Save the snapshot to a file, load it, fork it and run it: the same run
 * as the original continuation. */
static int demo_file(struct demo *d)
{
    printf("\nsnapshot-demo: save to a file, load it, run it\n");
    char path[] = "/tmp/chaoscontrol-demo-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0)
        close(fd);
    struct cc_err err = {0};
    double t0 = now_ms();
    int rc = cc_snapshot_save(d->s, path, &err);
    d->t_save = now_ms() - t0;
    struct cc_snapshot *ls = NULL;
    struct stat st = {0};
    stat(path, &st);
    t0 = now_ms();
    if (rc == 0)
        rc = cc_snapshot_load(path, &ls, &err);
    d->t_load = now_ms() - t0;
    unlink(path);
    struct cc_vm *lf = NULL;
    struct demo_run lr = {0};
    if (rc == 0) {
        struct cc_fork_opts fo;
        cc_fork_opts_default(&fo);
        fo.log = cli_log;
        rc = cc_vm_fork(ls, &fo, &lf, &err);
    }
    if (rc < 0 || run_to_end(lf, &lr) < 0) {
        fprintf(stderr, "chaoscontrol: %s\n", err.msg);
        rc = -1;
    } else {
        printf("  file: %lld bytes, saved in %.0f ms, loaded in %.0f ms\n",
               (long long)st.st_size, d->t_save, d->t_load);
        demo_check(d, same_run(&d->orig, &lr),
                   "the run from the file equals the original continuation");
    }
    cc_vm_destroy(lf);
    cc_snapshot_put(ls);
    free(lr.tail);
    return rc;
}

int cmd_snapshot_demo(int argc, char **argv)
{
    struct cli_vm_opts o;
    cli_vm_opts_default(&o);
    o.rng = true;               /* forks read /dev/hwrng after the snapshot */
    int rc = cli_parse_vm_opts(argc, argv, "snapshot-demo", &o, NULL);
    if (rc)
        return rc;
    struct demo d = {.o = &o};
    if (cli_check_inputs(&o) < 0 || cli_check_kvm(o.force) < 0 ||
        cli_prepare_vm(&o, -1, NULL, false, &d.vm) < 0)
        return 1;
    rc = demo_boot(&d);
    if (rc == 0)
        rc = demo_restore(&d);
    if (rc == 0)
        rc = demo_forks(&d);
    if (rc == 0)
        rc = demo_file(&d);
    if (rc == 0) {
        printf("\nsnapshot-demo: timings: boot %.0f ms, snapshot %.1f ms, restore %.1f ms, "
               "fork %.1f ms (each), save %.0f ms, load %.0f ms, run to the end %.0f ms\n",
               d.t_boot, d.t_snap, d.t_restore, d.t_fork, d.t_save, d.t_load, d.t_run);
        printf("snapshot-demo: %s\n", d.failures ? "SOME CHECKS FAILED" : "all checks passed");
    }
    cc_snapshot_put(d.s);
    cc_vm_destroy(d.vm);
    free(d.orig.tail);
    return rc < 0 || d.failures ? 1 : 0;
}
