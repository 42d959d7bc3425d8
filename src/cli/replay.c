/* chaoscontrol replay / triage: look inside a bug.
 *
 *   chaoscontrol replay --bug F [--vm V] [--exit N | --time T] [--vmlinux K]
 *                       [--lines N] [--save-snapshot S] [--dlog D [--dlog-regs N]]
 *                       [--json] [--force]
 *   chaoscontrol triage --bug F [--output DIR] [--lines N] [--no-fault-tests]
 *                       [--shift LIST] [--from-snapshots] [--force]
 *                       [--quiet]
 *
 * replay boots the bug's target, replays its recipe to the stop (exit N of
 * VM V, the first quantum boundary at or after time T, or the failure) and
 * prints the VM's registers, the guest's current task and its console's
 * tail. triage writes DIR/triage.md, triage.json and timeline.svg
 * (chaoscontrol/replay.h). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "chaoscontrol/dlog.h"
#include "chaoscontrol/explore.h"
#include "chaoscontrol/replay.h"
#include "chaoscontrol/snapshot.h"
#include "cli.h"

enum {
    OPT_BUG = 256, OPT_VM, OPT_EXIT, OPT_TIME, OPT_VMLINUX, OPT_LINES, OPT_SAVE, OPT_DLOG,
    OPT_DLOG_REGS, OPT_JSON, OPT_OUTPUT, OPT_NO_FAULTS, OPT_SHIFT, OPT_FROM_SNAPS, OPT_FORCE,
    OPT_QUIET, OPT_HELP,
};

static const struct option replay_opts[] = {
    {"bug", required_argument, NULL, OPT_BUG},
    {"vm", required_argument, NULL, OPT_VM},
    {"exit", required_argument, NULL, OPT_EXIT},
    {"time", required_argument, NULL, OPT_TIME},
    {"vmlinux", required_argument, NULL, OPT_VMLINUX},
    {"lines", required_argument, NULL, OPT_LINES},
    {"save-snapshot", required_argument, NULL, OPT_SAVE},
    {"dlog", required_argument, NULL, OPT_DLOG},
    {"dlog-regs", required_argument, NULL, OPT_DLOG_REGS},
    {"json", no_argument, NULL, OPT_JSON},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"no-fault-tests", no_argument, NULL, OPT_NO_FAULTS},
    {"shift", required_argument, NULL, OPT_SHIFT},
    {"from-snapshots", no_argument, NULL, OPT_FROM_SNAPS},
    {"force", no_argument, NULL, OPT_FORCE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

struct ropts {
    const char *cmd;
    const char *bug, *vmlinux, *save, *dlog, *output;
    bool vm_set, json, no_faults, force, quiet, from_snaps;
    int64_t shifts[CC_TRIAGE_MAX_SHIFTS];
    size_t n_shifts;
    bool shifts_set;
    unsigned vm, lines;
    uint64_t exit, time_ns, dlog_regs;
};

static void usage_replay(FILE *f)
{
    fprintf(f,
            "usage: chaoscontrol replay --bug F [--vm V] [--exit N | --time T]\n"
            "           [--vmlinux K] [--lines N] [--save-snapshot S] [--json]\n"
            "           [--dlog D [--dlog-regs N]] [--force]\n\n"
            "Boots the bug's target (checked against the recorded SHA-256 hashes), replays\n"
            "its recipe and stops: right after exit N of VM V (its exit count, as in\n"
            "'chaoscontrol dlog dump'), at the first quantum boundary at or after global\n"
            "virtual time T, or (neither given) at the bug's failure. Stopping changes\n"
            "nothing before the stop. Then prints VM V's registers (general purpose, rip,\n"
            "rflags, control registers, segment selectors, fs/gs base; as KVM reports\n"
            "them at that exit, like the dlog's register dumps), the guest's current\n"
            "task (comm and pid, from the kernel's symbols) and the tail of its console.\n\n"
            "  --vm V             the VM to stop in and show (default: the failing VM)\n"
            "  --exit N           stop right after that VM's exit N (after setup only)\n"
            "  --time T           stop at virtual time T (e.g. 2.5s, 1500ms)\n"
            "  --vmlinux K        the kernel's ELF image with symbols (default: vmlinux\n"
            "                     beside the bug's kernel); without it no task is shown\n"
            "  --lines N          console lines to show (default 20)\n"
            "  --save-snapshot S  save VM V there as a snapshot file (the one VM of the\n"
            "                     simulation: 'chaoscontrol snapshot' commands read it)\n"
            "  --dlog D           write a determinism log of the replay, boot included\n"
            "  --dlog-regs N      a register dump every N exits in it (default 100000)\n"
            "  --json             one JSON object instead of text\n"
            "Exit status: 0 stopped where asked, 1 the run failed or ended first (or an\n"
            "error), 2 usage errors or an unusable bug file.\n");
}

static void usage_triage(FILE *f)
{
    fprintf(f,
            "usage: chaoscontrol triage --bug F [--output DIR] [--lines N]\n"
            "           [--no-fault-tests] [--shift LIST] [--from-snapshots] [--force] [--quiet]\n\n"
            "A bug report: boots the bug's target once, replays the bug, and writes\n"
            "DIR/triage.md (Markdown), DIR/triage.json and DIR/timeline.svg: the failing\n"
            "property (with the history checker's explanation and failing sub-history\n"
            "when it has one), the fault schedule as a table and a timeline, the run log,\n"
            "per-link network traffic, the last lines of every VM's console before the\n"
            "failure, and which faults matter. Counterfactuals: each fault is removed in\n"
            "turn, and moved earlier and later by each shift, and the rest replayed; a\n"
            "fault is necessary when the failure disappears without it, incidental when\n"
            "it still fails, and the moves show the window in which it must fall (a\n"
            "sentence per fault says which changes make the failure disappear).\n\n"
            "  --output DIR       where to write (default: the bug file's name without\n"
            "                     .json, plus .triage)\n"
            "  --lines N          console lines per VM (default 40)\n"
            "  --no-fault-tests   skip the counterfactual replays\n"
            "  --shift LIST       the moves to try, signed times, comma-separated (default\n"
            "                     " CC_TRIAGE_DEFAULT_SHIFTS "); none: removals only.\n"
            "                     A fault with a duration (a partition with its heal)\n"
            "                     moves as a whole; moves before setup or past the bug's\n"
            "                     end are not run\n"
            "  --from-snapshots   start each replay from a snapshot taken while the bug is\n"
            "                     replayed, just before the replay's first change, instead\n"
            "                     of from setup (the same results; snapshots cost time)\n"
            "  --quiet            no progress (progress goes to a terminal only anyway)\n"
            "Exit status: 0 written, 1 an error, 2 usage errors or an unusable bug file.\n");
}

static int bad(const struct ropts *o, const char *fmt, const char *arg)
{
    fprintf(stderr, "chaoscontrol %s: ", o->cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (--help for usage)\n");
    return 2;
}

/* 0, 2 for a usage error, 3 after --help */
static int parse(int argc, char **argv, struct ropts *o, bool triage)
{
    optind = 1;
    opterr = 0;
    int c;
    uint64_t v;
    while ((c = getopt_long(argc, argv, "", replay_opts, NULL)) != -1) {
        bool replay_only = c == OPT_VM || c == OPT_EXIT || c == OPT_TIME || c == OPT_VMLINUX ||
                           c == OPT_SAVE || c == OPT_DLOG || c == OPT_DLOG_REGS || c == OPT_JSON;
        bool triage_only = c == OPT_OUTPUT || c == OPT_NO_FAULTS || c == OPT_QUIET ||
                           c == OPT_SHIFT || c == OPT_FROM_SNAPS;
        if ((triage && replay_only) || (!triage && triage_only)) {
            const char *name = "?";
            for (const struct option *p = replay_opts; p->name; p++)
                if (p->val == c)
                    name = p->name;
            return bad(o, "option --%s does not apply here", name);
        }
        switch (c) {
        case OPT_BUG: o->bug = optarg; break;
        case OPT_VM:
            if (!cli_parse_u64(optarg, &v) || v >= CC_SIM_MAX_VMS)
                return bad(o, "--vm '%s' is not a VM index", optarg);
            o->vm = (unsigned)v;
            o->vm_set = true;
            break;
        case OPT_EXIT:
            if (!cli_parse_u64(optarg, &o->exit) || !o->exit)
                return bad(o, "--exit '%s' is not an exit number (1 or more)", optarg);
            break;
        case OPT_TIME:
            if (!cc_time_parse(optarg, &o->time_ns) || !o->time_ns)
                return bad(o, "--time '%s' is not a virtual time (e.g. 2.5s, 1500ms)", optarg);
            break;
        case OPT_VMLINUX: o->vmlinux = optarg; break;
        case OPT_LINES:
            if (!cli_parse_u64(optarg, &v) || v > 100000)
                return bad(o, "--lines '%s' is not a line count", optarg);
            o->lines = (unsigned)v;
            break;
        case OPT_SAVE: o->save = optarg; break;
        case OPT_DLOG: o->dlog = optarg; break;
        case OPT_DLOG_REGS:
            if (!cli_parse_u64(optarg, &o->dlog_regs))
                return bad(o, "--dlog-regs '%s' is not a number", optarg);
            break;
        case OPT_JSON: o->json = true; break;
        case OPT_OUTPUT: o->output = optarg; break;
        case OPT_NO_FAULTS: o->no_faults = true; break;
        case OPT_SHIFT: {
            struct cc_err e = {0};
            if (cc_triage_parse_shifts(optarg, o->shifts, &o->n_shifts, &e) < 0)
                return bad(o, "--shift: %s", e.msg);
            o->shifts_set = true;
            break;
        }
        case OPT_FROM_SNAPS: o->from_snaps = true; break;
        case OPT_FORCE: o->force = true; break;
        case OPT_QUIET: o->quiet = true; break;
        case OPT_HELP:
            (triage ? usage_triage : usage_replay)(stdout);
            return 3;
        default:
            return bad(o, "unknown option or missing value: %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad(o, "unexpected argument '%s'", argv[optind]);
    if (!o->bug)
        return bad(o, "%s", "--bug FILE is required");
    if (o->exit && o->time_ns)
        return bad(o, "%s", "--exit and --time exclude each other");
    return 0;
}

/* Load and check the bug (its files' hashes too) and the KVM: 0, or the
 * exit status. */
static int load_bug(const struct ropts *o, struct cc_bug **b)
{
    return cli_load_bug(o->cmd, o->bug, o->force, b);
}

static void log_quiet(void *opaque, const char *msg)
{
    const struct ropts *o = opaque;
    if (!o->quiet)
        fprintf(stderr, "chaoscontrol %s: %s\n", o->cmd, msg);
}

char *cli_vmlinux_beside(const char *kernel)
{
    if (!kernel)
        return NULL;
    const char *slash = strrchr(kernel, '/');
    char *p = NULL;
    if (asprintf(&p, "%.*svmlinux", slash ? (int)(slash - kernel + 1) : 0, kernel) < 0)
        return NULL;
    if (access(p, R_OK) == 0)
        return p;
    free(p);
    return NULL;
}

static const char *stop_words(const struct cc_xrun_result *res, const struct ropts *o,
                              char *buf, size_t len)
{
    if (res->stopped && o->exit)
        snprintf(buf, len, "stopped right after vm %u's exit %" PRIu64, o->vm, o->exit);
    else if (res->stopped)
        snprintf(buf, len, "stopped at %.9f s (asked: %.9f s)", res->end_ns / 1e9,
                 o->time_ns / 1e9);
    else if (res->fail.failed)
        snprintf(buf, len, "stopped at the failure: \"%.200s\" in vm %u at %.9f s%s",
                 res->fail.message, res->fail.vm, res->fail.sim_ns / 1e9,
                 o->exit || o->time_ns ? " (before the requested stop)" : "");
    else
        snprintf(buf, len, "the run %s at %.9f s%s", res->all_down ? "lost every VM" : "ended",
                 res->end_ns / 1e9, o->exit || o->time_ns ? " before the requested stop" : "");
    return buf;
}

static json_t *hexj(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "0x%" PRIx64, v);
    return json_string(b);
}

static void print_text(const struct ropts *o, struct cc_vm *vm, const char *stop,
                       const uint64_t *regs, const struct cc_guest_task *task,
                       const uint8_t *con, size_t clen, size_t from, uint64_t sim_ns)
{
    printf("%s\n", stop);
    printf("vm %u: exit %" PRIu64 ", its clock %.9f s, simulation %.9f s\n", o->vm,
           cc_vm_exit_count(vm), cc_vm_vtime_ns(vm) / 1e9, sim_ns / 1e9);
    printf("registers:\n");
    static const unsigned rows[][6] = {
        {0, 1, 2, 3, 99, 99}, {4, 5, 6, 7, 99, 99}, {8, 9, 10, 11, 99, 99},
        {12, 13, 14, 15, 99, 99}, {16, 17, 99, 99, 99, 99}, {18, 19, 20, 21, 99, 99},
        {22, 23, 99, 99, 99, 99}, {24, 25, 26, 27, 28, 29}, {30, 31, 99, 99, 99, 99},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        printf(" ");
        for (unsigned k = 0; k < 6 && rows[r][k] != 99; k++) {
            unsigned i = rows[r][k];
            if (i >= 24 && i < 30)
                printf(" %-3s %04" PRIx64, cc_dlog_reg_name(i), regs[i]);
            else
                printf(" %-7s %016" PRIx64, cc_dlog_reg_name(i), regs[i]);
        }
        printf("\n");
    }
    printf("mode: %s (cs rpl %u)\n", task->user_mode ? "user" : "kernel",
           (unsigned)(regs[24] & 3));
    if (task->ok)
        printf("current task: %s (pid %" PRId64 ", task_struct 0x%" PRIx64 ")\n", task->comm,
               task->pid, task->task);
    else
        printf("current task: unavailable: %s\n", task->why);
    size_t nl = 0;
    for (size_t i = from; i < clen; i++)
        nl += con[i] == '\n';
    printf("---- vm %u console: last %u lines of %zu bytes ----\n", o->vm, o->lines, clen);
    fwrite(con + from, 1, clen - from, stdout);
    if (clen > from && con[clen - 1] != '\n')
        printf("\n");
    printf("---- end of console ----\n");
}

static void print_json(const struct ropts *o, struct cc_vm *vm, const char *stop,
                       const struct cc_xrun_result *res, const uint64_t *regs,
                       const struct cc_guest_task *task, const uint8_t *con, size_t clen,
                       size_t from, uint64_t sim_ns)
{
    json_t *j = json_object();
    json_object_set_new(j, "bug", json_string(o->bug));
    json_object_set_new(j, "stopped", json_boolean(res->stopped));
    json_object_set_new(j, "stop", json_string(stop));
    json_object_set_new(j, "vm", json_integer(o->vm));
    json_object_set_new(j, "exit", json_integer((json_int_t)cc_vm_exit_count(vm)));
    json_object_set_new(j, "vtime_ns", json_integer((json_int_t)cc_vm_vtime_ns(vm)));
    json_object_set_new(j, "sim_ns", json_integer((json_int_t)sim_ns));
    json_t *r = json_object();
    for (unsigned i = 0; i < CC_REPLAY_NREGS; i++)
        json_object_set_new(r, cc_dlog_reg_name(i), hexj(regs[i]));
    json_object_set_new(j, "regs", r);
    json_t *t = json_object();
    json_object_set_new(t, "ok", json_boolean(task->ok));
    json_object_set_new(t, "user_mode", json_boolean(task->user_mode));
    if (task->ok) {
        json_object_set_new(t, "comm", json_string(task->comm));
        json_object_set_new(t, "pid", json_integer(task->pid));
        json_object_set_new(t, "task_struct", hexj(task->task));
    } else {
        json_object_set_new(t, "why", json_string(task->why));
    }
    json_object_set_new(j, "task", t);
    char *tail = cc_text_clean(con + from, clen - from);
    json_object_set_new(j, "console_tail", json_string(tail ? tail : ""));
    free(tail);
    if (res->fail.failed)
        json_object_set_new(j, "failure", json_string(res->fail.message));
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(j);
}

int cmd_replay(int argc, char **argv)
{
    struct ropts o = {.cmd = "replay", .lines = 20, .dlog_regs = CC_DLOG_DEFAULT_REGS_EVERY};
    int rc = parse(argc, argv, &o, false);
    if (rc)
        return rc == 3 ? 0 : rc;
    if (o.dlog_regs != CC_DLOG_DEFAULT_REGS_EVERY && !o.dlog)
        return bad(&o, "%s", "--dlog-regs needs --dlog");
    struct cc_bug *b;
    if ((rc = load_bug(&o, &b)))
        return rc;
    if (!o.vm_set)
        o.vm = b->fail.vm;
    if (o.vm >= b->target.n_vms) {
        fprintf(stderr, "chaoscontrol replay: --vm %u: the bug's simulation has %u VMs\n", o.vm,
                b->target.n_vms);
        cc_bug_free(b);
        return 2;
    }
    char *vmlinux = o.vmlinux ? strdup(o.vmlinux) : cli_vmlinux_beside(b->target.kernel);
    struct cc_err err = {0};
    struct cc_xrun_opts ro;
    cc_xrun_opts_default(&ro);
    ro.log = log_quiet;
    ro.log_opaque = &o;
    struct cc_dlog *dlog = NULL;
    if (o.dlog) {
        struct cc_dlog_opts dop = {.n_vms = b->target.n_vms, .seed = b->target.seed,
                                   .regs_every = o.dlog_regs, .source = "replay"};
        if (cc_dlog_create(o.dlog, &dop, &dlog, &err) < 0) {
            fprintf(stderr, "chaoscontrol replay: %s\n", err.msg);
            free(vmlinux);
            cc_bug_free(b);
            return 1;
        }
        ro.dlog = dlog;
    }
    int status = 1;
    struct cc_xrun *x = NULL;
    rc = cc_xrun_boot(&b->target, &ro, &x, &err);
    struct cc_xrun_result res;
    if (rc == 0) {
        struct cc_xstop stop = {.vm = o.vm, .exit = o.exit, .at_ns = o.time_ns};
        rc = cc_xrun_replay_to(x, b->recipe, &stop, &res, &err);
    }
    if (rc < 0) {
        fprintf(stderr, "chaoscontrol replay: %s: %s\n", o.bug, err.msg);
        if (rc == -ERANGE)
            status = 2;
        goto out;
    }
    struct cc_sim *sim = cc_xrun_sim(x);
    struct cc_vm *vm = cc_sim_vm(sim, o.vm);
    uint64_t regs[CC_REPLAY_NREGS];
    if (cc_replay_regs(vm, regs, &err) < 0) {
        fprintf(stderr, "chaoscontrol replay: registers of vm %u: %s\n", o.vm, err.msg);
        goto out;
    }
    struct cc_guest_task task;
    cc_guest_task(vm, vmlinux, &task);
    size_t clen;
    const uint8_t *con = cc_vm_serial(vm, &clen);
    size_t from = cc_text_tail(con, clen, o.lines);
    char stop[400];
    stop_words(&res, &o, stop, sizeof(stop));
    uint64_t sim_ns = cc_sim_now(sim);
    if (o.json)
        print_json(&o, vm, stop, &res, regs, &task, con, clen, from, sim_ns);
    else
        print_text(&o, vm, stop, regs, &task, con, clen, from, sim_ns);
    status = (o.exit || o.time_ns) && !res.stopped ? 1 : 0;
    if (o.save) {
        struct cc_snapshot *s;
        if (cc_vm_snapshot(vm, &s, &err) < 0 || cc_snapshot_save(s, o.save, &err) < 0) {
            fprintf(stderr, "chaoscontrol replay: --save-snapshot %s: %s\n", o.save, err.msg);
            status = 1;
        } else {
            cc_snapshot_put(s);
            fprintf(stderr, "chaoscontrol replay: vm %u saved to %s (this VM only, not the "
                    "simulation)\n", o.vm, o.save);
        }
    }
out:
    if (dlog) {
        for (unsigned i = 0; x && i < cc_sim_vm_count(cc_xrun_sim(x)); i++)
            cc_vm_dlog_end(cc_sim_vm(cc_xrun_sim(x), i));
    }
    cc_xrun_free(x);
    if (dlog && cc_dlog_close(dlog, &err) < 0) {
        fprintf(stderr, "chaoscontrol replay: %s\n", err.msg);
        status = 1;
    }
    free(vmlinux);
    cc_bug_free(b);
    return status;
}

/* ---- triage ---- */

struct tui {
    const struct ropts *o;
    bool tty, shown;
};

static void triage_progress(void *opaque, const char *msg)
{
    struct tui *u = opaque;
    if (!u->tty || u->o->quiet)
        return;
    fprintf(stderr, "\r\033[K%s", msg);
    fflush(stderr);
    u->shown = true;
}

static void triage_log(void *opaque, const char *msg)
{
    struct tui *u = opaque;
    if (u->o->quiet)
        return;
    if (u->shown)
        fprintf(stderr, "\r\033[K");
    u->shown = false;
    fprintf(stderr, "chaoscontrol triage: %s\n", msg);
}

int cmd_triage(int argc, char **argv)
{
    struct ropts o = {.cmd = "triage", .lines = 40};
    int rc = parse(argc, argv, &o, true);
    if (rc)
        return rc == 3 ? 0 : rc;
    char *dir = NULL;
    if (o.output) {
        dir = strdup(o.output);
    } else {
        size_t n = strlen(o.bug);
        if (n > 5 && !strcmp(o.bug + n - 5, ".json"))
            n -= 5;
        if (asprintf(&dir, "%.*s.triage", (int)n, o.bug) < 0)
            dir = NULL;
    }
    if (!dir) {
        fprintf(stderr, "chaoscontrol triage: out of memory\n");
        return 1;
    }
    struct cc_bug *b;
    if ((rc = load_bug(&o, &b))) {
        free(dir);
        return rc;
    }
    struct tui u = {.o = &o, .tty = cli_is_tty()};
    struct cc_xrun_opts ro;
    cc_xrun_opts_default(&ro);
    ro.log = triage_log;
    ro.log_opaque = &u;
    struct cc_triage_opts to;
    cc_triage_opts_default(&to);
    to.tail_lines = o.lines;
    to.test_faults = !o.no_faults;
    to.from_snapshots = o.from_snaps;
    if (o.shifts_set) {
        to.shifts = o.shifts;
        to.n_shifts = o.n_shifts;
    }
    to.progress = triage_progress;
    to.opaque = &u;
    struct cc_err err = {0};
    struct cc_triage *t;
    rc = cc_triage_run(b, o.bug, &ro, &to, &t, &err);
    if (u.shown)
        fprintf(stderr, "\r\033[K");
    int status = 0;
    if (rc < 0) {
        fprintf(stderr, "chaoscontrol triage: %s: %s\n", o.bug, err.msg);
        status = 1;
    } else if (cc_triage_write(t, dir, &err) < 0) {
        fprintf(stderr, "chaoscontrol triage: %s\n", err.msg);
        status = 1;
    } else {
        size_t nec = 0;
        for (size_t i = 0; i < t->n_faults; i++)
            nec += t->faults[i].verdict == CC_TRIAGE_NECESSARY;
        printf("triage of %s: %s; %zu fault%s", o.bug, t->reproduced ? "reproduced" :
               "NOT reproduced", t->n_faults, t->n_faults == 1 ? "" : "s");
        if (t->faults_tested)
            printf(", %zu necessary", nec);
        printf(" (%.1f s wall", t->wall_s);
        if (t->faults_tested)
            printf("; counterfactual replays %.1f s, from %s", t->cf_wall_s,
                   t->from_snapshots ? "snapshots before each change" : "the setup snapshot");
        printf(")\n");
        for (size_t i = 0; t->faults_tested && i < t->n_faults; i++)
            printf("  %s.\n", t->faults[i].summary);
        printf("written: %s/triage.md, %s/triage.json, %s/timeline.svg\n", dir, dir, dir);
    }
    cc_triage_free(t);
    cc_bug_free(b);
    free(dir);
    return status;
}
