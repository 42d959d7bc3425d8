/* chaoscontrol trace record | verify: host-side KVM traces of a VMM process
 * taken with Debian's bpftrace, and their comparison (chaoscontrol/ktrace.h,
 * docs/trace.md).
 *
 * record runs bpftrace on the program of cc_ktrace_bpftrace_script, waits
 * until every probe is attached (the getppid sentinels), then lets the
 * command run (or records the running --pid), and at the end stops bpftrace
 * with SIGINT, checks each thread's events against the kernel's per-thread
 * counts (a gap is a lost event) and writes the recording atomically. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../util/afile.h"
#include "../util/buf.h"
#include "chaoscontrol/ktrace.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chaoscontrol trace record [--output F] -- CMD [ARGS...]\n"
            "       chaoscontrol trace record --pid P [--output F]\n"
            "       chaoscontrol trace verify A B [--context N]\n\n"
            "Host-side KVM traces of a VMM process, taken with bpftrace (root, a kernel\n"
            "with the kvm tracepoints; docs/trace.md).\n\n"
            "  record   record the KVM events of one process, all its threads: exits\n"
            "           (reason, guest RIP, exit info), userspace exits, injected\n"
            "           interrupts and exceptions, port I/O, MMIO, MSR, CPUID and\n"
            "           hypercalls. Host-induced events (host interrupt and nested page\n"
            "           fault exits, entries, KVM's page faults, re-injections, signals)\n"
            "           are only counted: they differ from run to run of one execution.\n"
            "           With -- CMD, CMD starts only once every probe is attached and is\n"
            "           recorded to its end; the exit status is CMD's. With --pid P, the running process P is recorded until it\n"
            "           exits or until SIGINT/SIGTERM. The recording (text, one event a\n"
            "           line, no host timestamps) is written atomically to F (default\n"
            "           kvm-trace.txt). A recording that lost events is written with its\n"
            "           '# lost: N' header, refused by verify, and record exits 125 (also\n"
            "           when bpftrace fails). tracefs is mounted if it is not.\n"
            "  verify   whether two recordings are the same execution: exit 0 and\n"
            "           'same: N events (...)', or exit 1 and the first difference (thread,\n"
            "           the event's index in it, both events and the --context N events\n"
            "           before it, default 5); 2 for a malformed, incomplete or\n"
            "           unreadable recording (named with its line). The counts of the\n"
            "           host-induced events are printed, A/B where they differ.\n\n"
            "environment: CC_BPFTRACE    the bpftrace to run (default: bpftrace on PATH)\n"
            "             CC_KVM_PROBE=skip  chaoscontrol's own commands skip their KVM probe,\n"
            "                          whose tiny VMs read the host TSC (a recording of\n"
            "                          them differs in every run)\n");
}

/* ---- recording state ---- */

struct tev {
    uint64_t seq;
    size_t off, len;
};

struct rthread {
    uint64_t tid;
    struct cc_buf text;     /* the events' recording lines, '\n'-terminated */
    struct tev *ev;
    size_t n, cap;
    bool unordered;
    uint64_t final;         /* the kernel's count (@seq at END) */
    bool has_final;
    struct cc_buf counted;  /* "NAME N\n" lines: host-induced events, exits by reason */
};

struct rec {
    struct rthread *th;
    unsigned nth;
    uint64_t n_events, bpf_lost, n_s1;
    bool s1, s2, ended;
    struct cc_buf err_text;   /* bpftrace's messages */
    char partial[2][4096];    /* an incomplete line per stream */
    size_t plen[2];
    bool oom;
};

static struct rthread *thread_of(struct rec *r, uint64_t tid, bool create)
{
    for (unsigned i = 0; i < r->nth; i++)
        if (r->th[i].tid == tid)
            return &r->th[i];
    if (!create)
        return NULL;
    struct rthread *nt = realloc(r->th, (r->nth + 1) * sizeof(*nt));
    if (!nt) {
        r->oom = true;
        return NULL;
    }
    r->th = nt;
    struct rthread *t = &r->th[r->nth++];
    memset(t, 0, sizeof(*t));
    t->tid = tid;
    buf_init(&t->text);
    buf_init(&t->counted);
    return t;
}

static void add_event(struct rec *r, const char *line)
{
    uint64_t tid, seq;
    char text[512];
    if (!cc_ktrace_format_event(line, &tid, &seq, text, sizeof(text))) {
        buf_put(&r->err_text, "unparsed: ", 10);
        buf_put(&r->err_text, line, strlen(line));
        buf_put(&r->err_text, "\n", 1);
        return;
    }
    struct rthread *t = thread_of(r, tid, true);
    if (!t)
        return;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 4096;
        struct tev *ne = realloc(t->ev, cap * sizeof(*ne));
        if (!ne) {
            r->oom = true;
            return;
        }
        t->ev = ne;
        t->cap = cap;
    }
    if (t->n && t->ev[t->n - 1].seq >= seq)
        t->unordered = true;
    size_t len = strlen(text);
    t->ev[t->n++] = (struct tev){.seq = seq, .off = t->text.len, .len = len};
    buf_put(&t->text, text, len);
    buf_put(&t->text, "\n", 1);
    r->n_events++;
}

/* One line of bpftrace's stdout (is_err: its stderr). */
static void handle_line(struct rec *r, char *line, bool is_err)
{
    uint64_t tid, v;
    unsigned long long lost;
    if (!is_err && line[0] == 'E' && line[1] == ' ') {
        add_event(r, line);
    } else if (!is_err && !strcmp(line, "S1")) {
        r->s1 = true;
        r->n_s1++;
    } else if (!is_err && !strcmp(line, "S2")) {
        r->s2 = true;
    } else if (!is_err && !strcmp(line, "@@end")) {
        r->ended = true;
    } else if (!is_err && sscanf(line, "@seq[%" SCNu64 "]: %" SCNu64, &tid, &v) == 2) {
        struct rthread *t = thread_of(r, tid, true);
        if (t) {
            t->final = v;
            t->has_final = true;
        }
    } else if (!is_err && line[0] == '@' && line[1] != '@') {
        char text[128];
        struct rthread *t;
        if (cc_ktrace_format_count(line, &tid, text, sizeof(text)) &&
            (t = thread_of(r, tid, true))) {
            buf_put(&t->counted, text, strlen(text));
            buf_put(&t->counted, "\n", 1);
        } else {
            buf_put(&r->err_text, line, strlen(line));
            buf_put(&r->err_text, "\n", 1);
        }
    } else if (sscanf(line, " Lost %llu events", &lost) == 1) {
        r->bpf_lost += lost;
    } else if (*line && strncmp(line, "Attaching ", 10)) {
        buf_put(&r->err_text, line, strlen(line));
        buf_put(&r->err_text, "\n", 1);
    }
}

/* Read what is there on fd (stream 0 stdout, 1 stderr) and handle whole
 * lines. Returns false at EOF or on an error. */
static bool read_stream(struct rec *r, int fd, int which)
{
    char buf[65536];
    ssize_t k = read(fd, buf, sizeof(buf));
    if (k < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (k <= 0) {
        if (r->plen[which]) {
            r->partial[which][r->plen[which]] = 0;
            handle_line(r, r->partial[which], which);
            r->plen[which] = 0;
        }
        return false;
    }
    for (ssize_t i = 0; i < k; i++) {
        char c = buf[i];
        if (c == '\n') {
            r->partial[which][r->plen[which]] = 0;
            handle_line(r, r->partial[which], which);
            r->plen[which] = 0;
        } else if (r->plen[which] < sizeof(r->partial[0]) - 1) {
            r->partial[which][r->plen[which]++] = c;
        }
    }
    return true;
}

static int cmp_tev(const void *a, const void *b)
{
    const struct tev *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Per thread: sort by SEQ and count what is missing against the kernel's
 * counts. Returns the number of lost events (0: complete). */
static uint64_t check_complete(struct rec *r, bool verbose_loss)
{
    uint64_t lost = 0;
    for (unsigned i = 0; i < r->nth; i++) {
        struct rthread *t = &r->th[i];
        if (t->unordered)
            qsort(t->ev, t->n, sizeof(*t->ev), cmp_tev);
        if (!t->has_final && !t->n)
            continue;   /* only host-induced events, counted */
        uint64_t want = t->has_final ? t->final : (t->n ? t->ev[t->n - 1].seq : 0);
        uint64_t distinct = 0, prev = 0;
        for (size_t j = 0; j < t->n; j++) {
            if (t->ev[j].seq != prev)
                distinct++;
            prev = t->ev[j].seq;
        }
        uint64_t miss = want > distinct ? want - distinct : 0;
        if (!t->has_final) {
            if (verbose_loss)
                fprintf(stderr,
                        "chaoscontrol trace record: thread %" PRIu64 ": no final count from "
                        "bpftrace (its END did not run): cannot tell whether events are "
                        "missing at its end\n",
                        t->tid);
            miss += 1;
        } else if (miss && verbose_loss) {
            fprintf(stderr,
                    "chaoscontrol trace record: thread %" PRIu64 ": %" PRIu64
                    " of its %" PRIu64 " events did not reach the recording\n",
                    t->tid, miss, want);
        }
        lost += miss;
    }
    return lost;
}

/* ---- tracefs and bpftrace ---- */

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The kvm tracepoints must be visible; mount tracefs if nothing is. */
static int ensure_tracefs(void)
{
    static const char *const dirs[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
    for (int i = 0; i < 2; i++) {
        char p[128];
        snprintf(p, sizeof(p), "%s/events/kvm", dirs[i]);
        if (is_dir(p))
            return 0;
    }
    char p[128];
    snprintf(p, sizeof(p), "%s/events", dirs[0]);
    if (!is_dir(p)) {
        if (!is_dir(dirs[0])) {
            fprintf(stderr, "chaoscontrol trace record: %s does not exist: this kernel has no "
                    "tracefs (CONFIG_TRACING)\n", dirs[0]);
            return -1;
        }
        if (mount("tracefs", dirs[0], "tracefs", 0, NULL) < 0) {
            fprintf(stderr, "chaoscontrol trace record: tracefs is not mounted and mounting it "
                    "on %s failed: %s (run as root, or: mount -t tracefs tracefs %s)\n",
                    dirs[0], strerror(errno), dirs[0]);
            return -1;
        }
    }
    snprintf(p, sizeof(p), "%s/events/kvm", dirs[0]);
    if (!is_dir(p)) {
        fprintf(stderr, "chaoscontrol trace record: no kvm tracepoints (%s is missing): is the "
                "kvm module loaded (modprobe kvm)?\n", p);
        return -1;
    }
    return 0;
}

static const char *bpftrace_path(void)
{
    const char *e = getenv("CC_BPFTRACE");
    return e && *e ? e : "bpftrace";
}

/* Whether prog can be run (a path, or found on PATH). */
static bool runnable(const char *prog)
{
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char *dup = strdup(path), *save = NULL;
    bool ok = false;
    for (char *d = dup ? strtok_r(dup, ":", &save) : NULL; d && !ok;
         d = strtok_r(NULL, ":", &save)) {
        char full[4096];
        snprintf(full, sizeof(full), "%s/%s", *d ? d : ".", prog);
        ok = access(full, X_OK) == 0;
    }
    free(dup);
    return ok;
}

/* "bpftrace v0.17.0" */
static void bpftrace_version(char *out, size_t n)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "'%s' --version 2>/dev/null", bpftrace_path());
    snprintf(out, n, "bpftrace (version unknown)");
    if (strchr(bpftrace_path(), '\''))
        return;
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    char line[100];
    if (fgets(line, sizeof(line), p)) {
        line[strcspn(line, "\n")] = 0;
        if (*line)
            snprintf(out, n, "%s", line);
    }
    pclose(p);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start bpftrace with its stdout and stderr on pipes; returns its pid. */
static pid_t start_bpftrace(pid_t target, int *out_fd, int *err_fd, const sigset_t *oldmask)
{
    int o[2], e[2];
    if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0) {
        fprintf(stderr, "chaoscontrol trace record: pipe: %s\n", strerror(errno));
        return -1;
    }
    char a1[32], a2[32];
    snprintf(a1, sizeof(a1), "%d", (int)target);
    snprintf(a2, sizeof(a2), "%d", (int)getpid());
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "chaoscontrol trace record: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* Its own process group: a Ctrl-C for the command must not stop
         * the recording before the command's end. */
        setpgid(0, 0);
        sigprocmask(SIG_SETMASK, oldmask, NULL);
        dup2(o[1], STDOUT_FILENO);
        dup2(e[1], STDERR_FILENO);
        /* Bigger perf buffers than the default 64 pages per CPU: 256 MiB
         * in all, at most 64 MiB per CPU (bpftrace may fall behind for a
         * while; what overflows is counted as lost). */
        long cpus = sysconf(_SC_NPROCESSORS_CONF);
        long pages = 16384;
        while (cpus > 4 && pages > 256 && pages * cpus > 65536)
            pages /= 2;
        char pg[32];
        snprintf(pg, sizeof(pg), "%ld", pages);
        setenv("BPFTRACE_PERF_RB_PAGES", pg, 0);
        const char *bt = bpftrace_path();
        execlp(bt, bt, "-B", "line", "-e", cc_ktrace_bpftrace_script(), a1, a2, (char *)NULL);
        fprintf(stderr, "cannot run %s: %s\n", bt, strerror(errno));
        _exit(127);
    }
    close(o[1]);
    close(e[1]);
    fcntl(o[0], F_SETFL, O_NONBLOCK);
    fcntl(e[0], F_SETFL, O_NONBLOCK);
    *out_fd = o[0];
    *err_fd = e[0];
    return pid;
}

/* Single-quote s for a shell, into b. */
static void put_quoted(struct cc_buf *b, const char *s)
{
    if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        "_-+=/.,:@%") == strlen(s)) {
        buf_put(b, s, strlen(s));
        return;
    }
    buf_put(b, "'", 1);
    for (; *s; s++) {
        if (*s == '\'')
            buf_put(b, "'\\''", 4);
        else if (*s == '\n')
            buf_put(b, "\\n", 2);
        else
            buf_put(b, s, 1);
    }
    buf_put(b, "'", 1);
}

static void put_str(struct cc_buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

struct rec_opts {
    const char *output;
    pid_t pid;          /* --pid, or the command's child */
    char **cmd;         /* NULL with --pid */
};

static int write_recording(const struct rec_opts *o, struct rec *r, bool interrupted,
                           int cmd_status, uint64_t lost)
{
    struct cc_buf h;
    buf_init(&h);
    char line[512], ver[128];
    put_str(&h, CC_KTRACE_MAGIC "\n");
    if (o->cmd) {
        put_str(&h, "# command:");
        for (char **a = o->cmd; *a; a++) {
            put_str(&h, " ");
            put_quoted(&h, *a);
        }
        put_str(&h, "\n");
    }
    snprintf(line, sizeof(line), "# pid: %d%s\n", (int)o->pid,
             o->cmd ? "" : " (attached while it ran: the recording starts mid-run)");
    put_str(&h, line);
    bpftrace_version(ver, sizeof(ver));
    snprintf(line, sizeof(line), "# recorder: chaoscontrol 0.1.0 trace record, %s\n", ver);
    put_str(&h, line);
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(line, sizeof(line), "# kernel: %s %s %s %s\n", u.sysname, u.release, u.version,
                 u.machine);
        put_str(&h, line);
    }
    snprintf(line, sizeof(line), "# end: %s\n", interrupted ? "interrupted" : "exit");
    put_str(&h, line);
    if (o->cmd && !interrupted) {
        if (WIFEXITED(cmd_status))
            snprintf(line, sizeof(line), "# status: exit %d\n", WEXITSTATUS(cmd_status));
        else
            snprintf(line, sizeof(line), "# status: signal %d\n", WTERMSIG(cmd_status));
        put_str(&h, line);
    }
    snprintf(line, sizeof(line), "# threads: %u\n", r->nth);
    put_str(&h, line);
    for (unsigned i = 0; i < r->nth; i++) {
        snprintf(line, sizeof(line), "# thread %u: tid %" PRIu64 ", %zu events\n", i,
                 r->th[i].tid, r->th[i].n);
        put_str(&h, line);
    }
    for (unsigned i = 0; i < r->nth; i++) {
        const struct cc_buf *c = &r->th[i].counted;
        for (size_t off = 0; off < c->len;) {
            const char *l = (const char *)c->data + off;
            size_t ll = (size_t)((const char *)memchr(l, '\n', c->len - off) - l);
            snprintf(line, sizeof(line), "# counted %u %.*s\n", i, (int)ll, l);
            put_str(&h, line);
            off += ll + 1;
        }
    }
    snprintf(line, sizeof(line), "# events: %" PRIu64 "\n# lost: %" PRIu64 "\n", r->n_events,
             lost);
    put_str(&h, line);

    struct cc_err err = {0};
    struct cc_afile f;
    if (!buf_ok(&h) || afile_open(&f, o->output, &err) < 0) {
        fprintf(stderr, "chaoscontrol trace record: %s\n",
                buf_ok(&h) ? err.msg : "out of memory");
        buf_free(&h);
        return -1;
    }
    afile_write(&f, h.data, h.len, &err);
    buf_free(&h);
    for (unsigned i = 0; i < r->nth; i++) {
        struct rthread *t = &r->th[i];
        char pre[16];
        int pl = snprintf(pre, sizeof(pre), "%u ", i);
        uint64_t prev = 0;
        for (size_t j = 0; j < t->n; j++) {
            if (j && t->ev[j].seq == prev)
                continue;   /* a duplicate (never seen; harmless) */
            prev = t->ev[j].seq;
            afile_write(&f, pre, (size_t)pl, &err);
            afile_write(&f, t->text.data + t->ev[j].off, t->ev[j].len + 1, &err);
        }
    }
    if (afile_commit(&f, &err) < 0) {
        fprintf(stderr, "chaoscontrol trace record: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void rec_free(struct rec *r)
{
    for (unsigned i = 0; i < r->nth; i++) {
        buf_free(&r->th[i].text);
        buf_free(&r->th[i].counted);
        free(r->th[i].ev);
    }
    free(r->th);
    buf_free(&r->err_text);
}

static void print_bpftrace_messages(struct rec *r)
{
    if (!r->err_text.len)
        return;
    fprintf(stderr, "chaoscontrol trace record: bpftrace said:\n");
    fwrite(r->err_text.data, 1, r->err_text.len, stderr);
    r->err_text.len = 0;
}

#define READY_TIMEOUT_S 300.0   /* bpftrace compiles its program: slow under TCG */
#define DRAIN_TIMEOUT_S 60.0

static int record(struct rec_opts *o)
{
    if (!runnable(bpftrace_path())) {
        fprintf(stderr, "chaoscontrol trace record: %s not found (apt-get install bpftrace, "
                "or set CC_BPFTRACE)\n", bpftrace_path());
        return 125;
    }
    if (ensure_tracefs() < 0)
        return 125;

    sigset_t mask, oldmask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, &oldmask);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        fprintf(stderr, "chaoscontrol trace record: signalfd: %s\n", strerror(errno));
        return 125;
    }

    /* The command waits on go[0] until the probes are attached. */
    int go[2] = {-1, -1}, pidfd = -1;
    pid_t child = -1;
    if (o->cmd) {
        if (pipe2(go, O_CLOEXEC) < 0) {
            fprintf(stderr, "chaoscontrol trace record: pipe: %s\n", strerror(errno));
            return 125;
        }
        child = fork();
        if (child < 0) {
            fprintf(stderr, "chaoscontrol trace record: fork: %s\n", strerror(errno));
            return 125;
        }
        if (child == 0) {
            sigprocmask(SIG_SETMASK, &oldmask, NULL);
            close(go[1]);
            char c;
            ssize_t k;
            do
                k = read(go[0], &c, 1);
            while (k < 0 && errno == EINTR);
            if (k != 1)
                _exit(125);     /* the recorder gave up */
            close(go[0]);
            execvp(o->cmd[0], o->cmd);
            fprintf(stderr, "chaoscontrol trace record: cannot run %s: %s\n", o->cmd[0],
                    strerror(errno));
            _exit(127);
        }
        close(go[0]);
        o->pid = child;
    } else {
        pidfd = (int)syscall(SYS_pidfd_open, o->pid, 0);
        if (pidfd < 0) {
            fprintf(stderr, "chaoscontrol trace record: --pid %d: %s\n", (int)o->pid,
                    errno == ESRCH ? "no such process" : strerror(errno));
            return 2;
        }
    }

    struct rec r = {0};
    buf_init(&r.err_text);
    int out_fd = -1, err_fd = -1;
    pid_t bt = start_bpftrace(o->pid, &out_fd, &err_fd, &oldmask);
    int rc = 125, cmd_status = 0, bt_status = 0;
    bool interrupted = false, target_done = false, bt_done = false, failed = false;
    bool out_open = bt > 0, err_open = bt > 0, signalled_bt = false, released = false;
    double t0 = now_s(), t_ready = 0, t_exit = 0;
    uint64_t flush_mark = 0, flush_events = 0;
    double t_end = 0;   /* when the process was seen gone */
    if (bt < 0)
        failed = true;

    /* States: waiting for the sentinels, recording, draining. */
    while (!failed && (out_open || err_open || !bt_done)) {
        bool ready = r.s1 && r.s2;
        if (!ready) {
            syscall(SYS_getppid);   /* the sentinels' trigger */
            if (now_s() - t0 > READY_TIMEOUT_S) {
                fprintf(stderr, "chaoscontrol trace record: bpftrace did not attach its probes "
                        "within %.0f s\n", READY_TIMEOUT_S);
                failed = true;
                break;
            }
        } else if (!released) {
            released = true;
            t_ready = now_s();
            if (cli_is_tty())
                fprintf(stderr, "chaoscontrol trace record: probes attached in %.1f s; "
                        "recording pid %d\n", t_ready - t0, (int)o->pid);
            if (o->cmd && write(go[1], "g", 1) != 1) {
                fprintf(stderr, "chaoscontrol trace record: cannot start the command: %s\n",
                        strerror(errno));
                failed = true;
                break;
            }
            if (o->cmd)
                close(go[1]), go[1] = -1;
        }
        /* The target is gone: flush with a last sentinel, then stop bpftrace. */
        if (ready && (target_done || interrupted) && !signalled_bt) {
            if (!t_exit) {
                /* A sentinel after the process's last event: once it is
                 * read, bpftrace has read what came before it. */
                t_exit = t_end = now_s();
                flush_mark = r.n_s1;
                syscall(SYS_getppid);
            }
            /* bpftrace may be behind: wait while it makes progress. */
            if (r.n_events != flush_events) {
                flush_events = r.n_events;
                t_exit = now_s();
            }
            if (r.n_s1 > flush_mark || now_s() - t_exit > 30.0) {
                kill(bt, SIGINT);
                signalled_bt = true;
                t_exit = now_s();
            }
        }
        if (signalled_bt && now_s() - t_exit > DRAIN_TIMEOUT_S) {
            fprintf(stderr, "chaoscontrol trace record: bpftrace did not stop within %.0f s of "
                    "SIGINT; killed\n", DRAIN_TIMEOUT_S);
            kill(bt, SIGKILL);
            failed = true;
        }

        struct pollfd p[4];
        int n = 0, i_out = -1, i_err = -1, i_pid = -1;
        p[n] = (struct pollfd){.fd = sfd, .events = POLLIN};
        n++;
        if (out_open)
            i_out = n, p[n++] = (struct pollfd){.fd = out_fd, .events = POLLIN};
        if (err_open)
            i_err = n, p[n++] = (struct pollfd){.fd = err_fd, .events = POLLIN};
        if (pidfd >= 0 && !target_done)
            i_pid = n, p[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
        int k = poll(p, (nfds_t)n, ready ? 100 : 20);
        if (k < 0 && errno != EINTR) {
            fprintf(stderr, "chaoscontrol trace record: poll: %s\n", strerror(errno));
            failed = true;
            break;
        }
        if (k <= 0)
            continue;
        if (i_out >= 0 && p[i_out].revents)
            out_open = read_stream(&r, out_fd, 0);
        if (i_err >= 0 && p[i_err].revents)
            err_open = read_stream(&r, err_fd, 1);
        if (i_pid >= 0 && p[i_pid].revents)
            target_done = true;
        if (p[0].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
                    if (o->cmd && !target_done && released)
                        kill(child, (int)si.ssi_signo);   /* to its end, then stop */
                    else if (o->cmd && !released)
                        failed = true;
                    else
                        interrupted = true;
                }
            }
            int st;
            pid_t w;
            while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
                if (w == child) {
                    cmd_status = st;
                    target_done = true;
                } else if (w == bt) {
                    bt_status = st;
                    bt_done = true;
                }
            }
        }
        if (bt_done && !signalled_bt && !failed) {
            /* bpftrace stopped on its own: before the target ended. */
            while (out_open && read_stream(&r, out_fd, 0)) {
            }
            fprintf(stderr, "chaoscontrol trace record: bpftrace exited (%s %d) %s\n",
                    WIFEXITED(bt_status) ? "status" : "signal",
                    WIFEXITED(bt_status) ? WEXITSTATUS(bt_status) : WTERMSIG(bt_status),
                    ready ? "before the recorded process" : "before attaching its probes");
            failed = true;
        }
    }

    if (failed) {
        if (bt > 0 && !bt_done) {
            kill(bt, SIGKILL);
            waitpid(bt, &bt_status, 0);
        }
        print_bpftrace_messages(&r);
    }
    if (o->cmd) {
        if (go[1] >= 0)
            close(go[1]);   /* an unreleased command exits 125 without running */
        if (!target_done) {
            /* Recording failed while the command runs: let it finish. */
            while (waitpid(child, &cmd_status, 0) < 0 && errno == EINTR) {
            }
        }
    }
    if (!failed) {
        print_bpftrace_messages(&r);
        uint64_t lost = check_complete(&r, true);
        if (r.bpf_lost && !lost)
            lost = r.bpf_lost;
        if (!r.ended)
            fprintf(stderr, "chaoscontrol trace record: bpftrace's END did not run\n");
        if (r.oom) {
            fprintf(stderr, "chaoscontrol trace record: out of memory\n");
        } else if (write_recording(o, &r, interrupted, cmd_status, lost) == 0) {
            double secs = (t_end ? t_end : now_s()) - t_ready;
            fprintf(stderr, "chaoscontrol trace record: %" PRIu64 " events from %u thread%s "
                    "in %.1f s (%.0f/s; probes attached in %.1f s) written to %s%s\n",
                    r.n_events, r.nth, r.nth == 1 ? "" : "s", secs,
                    secs > 0 ? (double)r.n_events / secs : 0.0, t_ready - t0, o->output,
                    interrupted ? " (stopped before the process exited)" : "");
            if (lost)
                fprintf(stderr, "chaoscontrol trace record: error: an incomplete recording: "
                        "%" PRIu64 " events lost (marked '# lost: %" PRIu64 "' in %s; "
                        "verify refuses it)\n", lost, lost, o->output);
            else if (r.ended)
                rc = 0;
        }
    }
    if (rc == 0 && o->cmd)
        rc = WIFEXITED(cmd_status) ? WEXITSTATUS(cmd_status) : 128 + WTERMSIG(cmd_status);
    if (out_fd >= 0)
        close(out_fd);
    if (err_fd >= 0)
        close(err_fd);
    if (pidfd >= 0)
        close(pidfd);
    close(sfd);
    sigprocmask(SIG_SETMASK, &oldmask, NULL);
    rec_free(&r);
    return rc;
}

/* ---- the command ---- */

enum { OPT_OUTPUT = 256, OPT_PID, OPT_CONTEXT, OPT_HELP };

static const struct option long_opts[] = {
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"pid", required_argument, NULL, OPT_PID},
    {"context", required_argument, NULL, OPT_CONTEXT},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

int cmd_trace(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    bool rec = !strcmp(sub, "record"), ver = !strcmp(sub, "verify");
    if (!rec && !ver) {
        fprintf(stderr, "chaoscontrol trace: unknown subcommand '%s' (record or verify)\n", sub);
        return 2;
    }
    struct rec_opts ro = {.output = "kvm-trace.txt"};
    struct cc_ktrace_verify_opts vo = {.context = 5};
    bool output_given = false, pid_given = false, ctx_given = false;
    uint64_t v;
    optind = 1;
    opterr = 0;
    argc--;
    argv++;
    int c;
    /* '+': options stop at the first non-option (the command after --). */
    while ((c = getopt_long(argc, argv, "+", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_OUTPUT:
            ro.output = optarg;
            output_given = true;
            break;
        case OPT_PID:
            if (!cli_parse_u64(optarg, &v) || !v || v > INT32_MAX) {
                fprintf(stderr, "chaoscontrol trace: --pid '%s' is not a process id\n", optarg);
                return 2;
            }
            ro.pid = (pid_t)v;
            pid_given = true;
            break;
        case OPT_CONTEXT:
            if (!cli_parse_u64(optarg, &v) || v > 100000) {
                fprintf(stderr, "chaoscontrol trace: --context '%s' is not a number up to "
                        "100000\n", optarg);
                return 2;
            }
            vo.context = (unsigned)v;
            ctx_given = true;
            break;
        case OPT_HELP:
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "chaoscontrol trace: %s option '%s'\n",
                    optopt >= OPT_OUTPUT ? "missing value for" : "unknown", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if ((rec && ctx_given) || (ver && (output_given || pid_given))) {
        fprintf(stderr, "chaoscontrol trace %s: an option of the other subcommand was given\n",
                sub);
        usage(stderr);
        return 2;
    }
    if (ver) {
        if (argc - optind != 2) {
            fprintf(stderr, "chaoscontrol trace verify: want two recordings\n");
            usage(stderr);
            return 2;
        }
        struct cc_err err = {0};
        int rc = cc_ktrace_verify(argv[optind], argv[optind + 1], &vo, stdout, &err);
        fflush(stdout);
        if (rc < 0) {
            fprintf(stderr, "chaoscontrol trace verify: %s\n", err.msg);
            return 2;
        }
        return rc;
    }
    bool dashdash = optind > 0 && optind <= argc && !strcmp(argv[optind - 1], "--");
    if (pid_given == (optind < argc)) {
        fprintf(stderr, "chaoscontrol trace record: give either --pid P or -- CMD [ARGS...]\n");
        usage(stderr);
        return 2;
    }
    if (!pid_given && !dashdash) {
        fprintf(stderr, "chaoscontrol trace record: put the command after '--' "
                "(chaoscontrol trace record [--output F] -- CMD [ARGS...])\n");
        return 2;
    }
    if (!pid_given)
        ro.cmd = argv + optind;
    return record(&ro);
}
