/* chaoscontrol test FILE...: declarative simulation tests (docs/tests.md).
 * Each file (testfile.c) becomes an `explore run` of this program, in
 * OUTPUT/NAME; the verdict comes from its exit status, its summary line and
 * its bug files; --junit writes the results as JUnit XML for CI servers. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <getopt.h>
#include <jansson.h>
#include <libxml/xmlwriter.h>

#include "chaoscontrol/file.h"
#include "cli.h"
#include "testfile.h"

enum { OPT_JUNIT = 256, OPT_OUTPUT, OPT_DRY_RUN, OPT_KERNEL, OPT_QUIET, OPT_HELP };

static const struct option long_opts[] = {
    {"junit", required_argument, NULL, OPT_JUNIT},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"kernel", required_argument, NULL, OPT_KERNEL},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chaoscontrol test [--junit F] [--output DIR] [--kernel K] [--dry-run]\n"
            "                         [--quiet] FILE...\n"
            "\n"
            "Runs declarative simulation tests: each FILE (YAML, docs/tests.md; its fields\n"
            "in docs/test-file.schema.json) names a guest (an initrd, or an image made by\n"
            "chaoscontrol pack), the VMs, the faults allowed, the exploration's budget and\n"
            "what counts as passing (expect: no-bug, or bug for a planted one). Each test\n"
            "is an exploration (chaoscontrol explore run) in DIR/NAME; one line per test,\n"
            "with its bug file and the command that reproduces it when it failed.\n"
            "\n"
            "  --junit F      also write the results as JUnit XML to F (GitLab, GitHub\n"
            "                 Actions and Jenkins read it)\n"
            "  --output DIR   where each test's exploration goes, as DIR/NAME (default\n"
            "                 chaoscontrol-test-output); an earlier run's DIR/NAME is replaced\n"
            "  --kernel K     the kernel for tests that name none (default: ours, next to\n"
            "                 this program or installed with it)\n"
            "  --dry-run      check the files and print the commands, run nothing\n"
            "  --quiet        no progress line on a terminal\n"
            "\n"
            "Exit status: 0 every test passed, 1 a test failed or a file has an error,\n"
            "2 usage errors.\n");
}

/* What to call this program in a command printed for a person: its name
 * when $PATH finds this very program, else its full path. */
static const char *prog_for_user(const char *self)
{
    static char name[] = "chaoscontrol";
    const char *path = getenv("PATH");
    struct stat a, b;
    if (!path || stat(self, &a) < 0)
        return self;
    for (const char *p = path; *p;) {
        const char *e = strchrnul(p, ':');
        char cand[PATH_MAX];
        snprintf(cand, sizeof(cand), "%.*s/%s", (int)(e - p), p, name);
        if (stat(cand, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
            return name;
        p = *e ? e + 1 : e;
    }
    return self;
}

/* ---- one test ---- */

enum verdict { V_PASS, V_FAIL, V_ERROR };

struct result {
    const char *file;
    struct ctest t;
    bool loaded;
    enum verdict v;
    char *why;                  /* one line: why it failed, or what it did */
    char *detail;               /* more lines (bug file, reproduce, log) */
    char *log;                  /* the test's log file */
    double wall_s;
    unsigned rounds;
    uint64_t branches;
    unsigned bugs;
};

struct run {
    const char *outdir;
    const char *kernel;         /* --kernel, or NULL */
    char *self, *def_kernel;
    const char *user_prog;
    bool tty, dry;
    unsigned index, count;      /* for the progress line */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fmt_time(double s, char *out, size_t n)
{
    if (s < 60)
        snprintf(out, n, "%.1f s", s);
    else if (s < 3600)
        snprintf(out, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(out, n, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

static void set_str(char **dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_str(char **dst, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    free(*dst);
    *dst = s;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

/* DIR/NAME from an earlier run is replaced; anything else there is not ours
 * to delete. */
static int fresh_dir(const char *dir, char **why)
{
    struct stat st;
    if (lstat(dir, &st) == 0) {
        char mark[PATH_MAX];
        snprintf(mark, sizeof(mark), "%s/test.log", dir);
        if (!S_ISDIR(st.st_mode) || access(mark, F_OK) < 0) {
            set_str(why, "'%s' exists and is not an earlier test's output (it has no test.log): "
                    "remove it or give another --output", dir);
            return -1;
        }
        if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0) {
            set_str(why, "cannot remove the earlier output '%s': %s", dir, strerror(errno));
            return -1;
        }
    }
    if (mkdir(dir, 0755) < 0) {
        set_str(why, "cannot create '%s': %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static void progress(const struct run *r, const struct result *res, double t0, const char *what)
{
    if (!r->tty)
        return;
    char el[32];
    fmt_time(now_s() - t0, el, sizeof(el));
    fprintf(stderr, "\r\033[K[%u/%u] %s  %s  %s", r->index, r->count, res->t.name, what, el);
    fflush(stderr);
}

static void progress_clear(const struct run *r)
{
    if (r->tty)
        fprintf(stderr, "\r\033[K");
}

/* Run argv (this program) with its output appended to log; the progress
 * line follows its "round N:" lines. Returns the wait status, or -1. */
static int run_child(const struct run *r, struct result *res, char **argv, int logfd,
                     double t0, double deadline_s)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(pfd[1], STDOUT_FILENO);
        dup2(pfd[1], STDERR_FILENO);
        execv(r->self, argv);
        fprintf(stderr, "cannot run %s: %s\n", r->self, strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    char what[96];
    snprintf(what, sizeof(what), "%s", !strcmp(argv[1], "pack") ? "packing the image"
             : "booting to setup");
    char line[4096];
    size_t ll = 0;
    bool killed = false, term_sent = false;
    double term_at = 0;
    for (;;) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        int k = poll(&p, 1, 1000);
        if (k > 0) {
            char buf[8192];
            ssize_t n = read(pfd[0], buf, sizeof(buf));
            if (n == 0)
                break;
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(logfd, buf + off, (size_t)(n - off));
                if (w <= 0)
                    break;
                off += w;
            }
            for (ssize_t i = 0; i < n; i++) {
                if (buf[i] != '\n') {
                    if (ll < sizeof(line) - 1)
                        line[ll++] = buf[i];
                    continue;
                }
                line[ll] = 0;
                ll = 0;
                const char *m = strstr(line, ": round ");
                unsigned rn;
                if (m && sscanf(m, ": round %u:", &rn) == 1)
                    snprintf(what, sizeof(what), "round %u/%u done, %s", rn, res->t.rounds,
                             strstr(line, "bugs 0") ? "no bug yet" : "bugs found");
                else if (strstr(line, "booted") && strstr(line, "to setup"))
                    snprintf(what, sizeof(what), "round 1/%u", res->t.rounds);
            }
        }
        progress(r, res, t0, what);
        /* the child stops itself at the time budget (--time-limit) after the
         * branch it is running; this is for one that does not */
        if (deadline_s > 0 && !term_sent && now_s() > deadline_s) {
            kill(pid, SIGTERM);
            term_sent = killed = true;
            term_at = now_s();
        } else if (term_sent && now_s() - term_at > 30) {
            kill(pid, SIGKILL);
        }
    }
    close(pfd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (killed && !(WIFEXITED(st) && WEXITSTATUS(st) <= 1))
        return -2;
    return st;
}

static char *join_args(char **argv)
{
    size_t n = 1;
    for (char **a = argv; *a; a++)
        n += strlen(*a) * 4 + 3;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    for (char **a = argv; *a; a++) {
        bool plain = **a != 0;
        for (const char *c = *a; *c; c++)
            plain &= !!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                              "_-./=:,+@%", *c);
        if (a != argv)
            *p++ = ' ';
        if (plain) {
            p = stpcpy(p, *a);
            continue;
        }
        *p++ = '\'';
        for (const char *c = *a; *c; c++) {
            if (*c == '\'')
                p = stpcpy(p, "'\\''");
            else
                *p++ = *c;
        }
        *p++ = '\'';
    }
    *p = 0;
    return s;
}

/* The failed property of DIR/bug_N.json, or NULL. */
static char *bug_message(const char *dir, unsigned n)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/bug_%u.json", dir, n);
    json_t *j = json_load_file(path, 0, NULL);
    const char *m = json_string_value(json_object_get(json_object_get(j, "failure"), "message"));
    char *r = m ? strdup(m) : NULL;
    json_decref(j);
    return r;
}

static void run_one(struct run *r, struct result *res)
{
    struct ctest *t = &res->t;
    double t0 = now_s();
    char dir[PATH_MAX - 64], logp[PATH_MAX], image[PATH_MAX];
    if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", r->outdir, t->name) >= sizeof(dir)) {
        set_str(&res->why, "--output: the path '%s' is too long", r->outdir);
        res->v = V_ERROR;
        return;
    }
    snprintf(logp, sizeof(logp), "%s/test.log", dir);
    snprintf(image, sizeof(image), "%s/image.initrd", dir);
    res->v = V_ERROR;
    const char *kernel = t->kernel ? t->kernel : r->kernel ? r->kernel : r->def_kernel;
    if (!kernel) {
        set_str(&res->why, "%s: no kernel: the test names none and ours was not found beside "
                "%s or installed with it (give --kernel K or 'kernel:' in the file)", res->file,
                r->self);
        return;
    }
    struct strlist pack = {0}, ex = {0};
    strlist_add(&pack, r->self);
    strlist_add(&pack, "pack");
    strlist_add(&ex, r->self);
    strlist_add(&ex, "explore");
    strlist_add(&ex, "run");
    if ((t->pack && ctest_pack_args(t, image, &pack) < 0) ||
        ctest_explore_args(t, kernel, t->pack ? image : t->initrd, dir, &ex) < 0) {
        set_str(&res->why, "out of memory");
        goto out;
    }
    if (r->dry) {
        char *a = t->pack ? join_args(pack.v) : NULL, *b = join_args(ex.v);
        printf("%s:\n%s%s%s  %s\n", t->name, a ? "  " : "", a ? a : "", a ? "\n" : "", b);
        free(a);
        free(b);
        res->v = V_PASS;
        goto out;
    }
    if (fresh_dir(dir, &res->why) < 0)
        goto out;
    int logfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (logfd < 0) {
        set_str(&res->why, "cannot write '%s': %s", logp, strerror(errno));
        goto out;
    }
    res->log = strdup(logp);
    dprintf(logfd, "# chaoscontrol test %s (%s)\n", t->name, res->file);
    double deadline = t->time_budget_ns
        ? t0 + t->time_budget_ns / 1e9 * 1.25 + 120 : 0;
    int st;
    if (t->pack) {
        char *cmd = join_args(pack.v);
        dprintf(logfd, "$ %s\n", cmd ? cmd : "pack");
        free(cmd);
        st = run_child(r, res, pack.v, logfd, t0, deadline);
        if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
            set_str(&res->why, "chaoscontrol pack failed (%s): see %s", st == -2
                    ? "time budget exceeded" : st < 0 ? strerror(errno) : "its message", logp);
            close(logfd);
            goto out;
        }
    }
    char *cmd = join_args(ex.v);
    dprintf(logfd, "$ %s\n", cmd ? cmd : "explore run");
    free(cmd);
    st = run_child(r, res, ex.v, logfd, t0, deadline);
    close(logfd);
    res->wall_s = now_s() - t0;
    progress_clear(r);
    if (st == -2) {
        set_str(&res->why, "killed: still running long after its time budget; see %s", logp);
        goto out;
    }
    if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) > 1) {
        set_str(&res->why, "the exploration %s %d: see %s",
                st >= 0 && WIFSIGNALED(st) ? "was killed by signal" : "exited with status",
                st < 0 ? -1 : WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), logp);
        goto out;
    }
    /* its summary line and bug files */
    FILE *lf = fopen(logp, "r");
    char line[4096];
    bool summary = false, cut = false;
    while (lf && fgets(line, sizeof(line), lf)) {
        double w;
        if (sscanf(line, "explored %u rounds, %" SCNu64 " branches in %lf s", &res->rounds,
                   &res->branches, &w) == 3)
            summary = true;
        cut |= strstr(line, "time limit reached") != NULL;
    }
    if (lf)
        fclose(lf);
    char bp[PATH_MAX];
    while (snprintf(bp, sizeof(bp), "%s/bug_%u.json", dir, res->bugs + 1),
           access(bp, F_OK) == 0)
        res->bugs++;
    if (!summary || (WEXITSTATUS(st) == 1 && !res->bugs)) {
        set_str(&res->why, "the exploration failed: see %s", logp);
        goto out;
    }
    char budget[64] = "";
    if (cut)
        snprintf(budget, sizeof(budget), " (time budget reached)");
    if (!res->bugs) {
        res->v = t->expect == CTEST_EXPECT_NO_BUG ? V_PASS : V_FAIL;
        set_str(&res->why, "%s: %u round%s, %" PRIu64 " branch%s%s", res->v == V_PASS
                ? "no bug" : "expected a bug, found none", res->rounds,
                res->rounds == 1 ? "" : "s", res->branches, res->branches == 1 ? "" : "es",
                budget);
        goto out;
    }
    /* the first bug that matches expect_property (or the first) */
    unsigned pick = 1;
    char *msg = NULL;
    for (unsigned i = 1; i <= res->bugs; i++) {
        char *m = bug_message(dir, i);
        if (t->expect_property && m && strstr(m, t->expect_property)) {
            free(msg);
            msg = m;
            pick = i;
            break;
        }
        if (!msg) {
            msg = m;
            pick = i;
        } else {
            free(m);
        }
    }
    bool match = !t->expect_property || (msg && strstr(msg, t->expect_property));
    res->v = t->expect == CTEST_EXPECT_BUG && match ? V_PASS : V_FAIL;
    if (t->expect == CTEST_EXPECT_BUG && !match)
        set_str(&res->why, "expected a failure of \"%s\"; found %u other bug%s: %s",
                t->expect_property, res->bugs, res->bugs == 1 ? "" : "s", msg ? msg : "?");
    else
        set_str(&res->why, "%s%s (%u bug%s in %u round%s, %" PRIu64 " branch%s)",
                res->v == V_PASS ? "found the expected bug: " : "a property failed: ",
                msg ? msg : "(no message)", res->bugs, res->bugs == 1 ? "" : "s", res->rounds,
                res->rounds == 1 ? "" : "s", res->branches, res->branches == 1 ? "" : "es");
    free(msg);
    set_str(&res->detail, "bug file:  %s/bug_%u.json (in words: bug_%u.txt)\n"
            "reproduce: %s reproduce --bug %s/bug_%u.json\n"
            "log:       %s", dir, pick, pick, r->user_prog, dir, pick, logp);
out:
    res->wall_s = now_s() - t0;
    strlist_free(&pack);
    strlist_free(&ex);
}

/* ---- JUnit XML ---- */

static void classname(const char *file, char *out, size_t n)
{
    size_t k = 0;
    const char *s = file;
    while (s[0] == '.' && s[1] == '/')
        s += 2;
    const char *dot = strrchr(s, '.');
    for (; *s && s != dot && k + 1 < n; s++)
        out[k++] = *s == '/' ? '.' : *s;
    out[k] = 0;
}

/* The log's last 64 KiB (CI pages show it). */
static char *log_tail(const char *path)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > 65536 ? size - 65536 : 0;
    fseek(f, from, SEEK_SET);
    char *buf = malloc((size_t)(size - from) + 1);
    size_t n = buf ? fread(buf, 1, (size_t)(size - from), f) : 0;
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = 0;
    /* XML 1.0 has no place for most control characters */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 0x20 && buf[i] != '\n' && buf[i] != '\t')
            buf[i] = '?';
    return buf;
}

static int write_junit(const char *path, struct result *res, size_t n, double total_s,
                       struct cc_err *err)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
    if (!w) {
        if (buf)
            xmlBufferFree(buf);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    unsigned fails = 0, errors = 0;
    for (size_t i = 0; i < n; i++) {
        fails += res[i].v == V_FAIL;
        errors += res[i].v == V_ERROR;
    }
    char ts[32], host[256] = "localhost";
    time_t tnow = time(NULL);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", gmtime(&tnow));
    gethostname(host, sizeof(host) - 1);
    int rc = 0;
#define X(call) do { if ((call) < 0) rc = -1; } while (0)
    xmlTextWriterSetIndent(w, 1);
    X(xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL));
    X(xmlTextWriterStartElement(w, BAD_CAST "testsuites"));
    X(xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST "chaoscontrol test"));
    X(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "tests", "%zu", n));
    X(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "failures", "%u", fails));
    X(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "errors", "%u", errors));
    X(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "time", "%.3f", total_s));
    X(xmlTextWriterStartElement(w, BAD_CAST "testsuite"));
    X(xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST "chaoscontrol"));
    X(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "tests", "%zu", n));
    X(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "failures", "%u", fails));
    X(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "errors", "%u", errors));
    X(xmlTextWriterWriteAttribute(w, BAD_CAST "skipped", BAD_CAST "0"));
    X(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "time", "%.3f", total_s));
    X(xmlTextWriterWriteAttribute(w, BAD_CAST "timestamp", BAD_CAST ts));
    X(xmlTextWriterWriteAttribute(w, BAD_CAST "hostname", BAD_CAST host));
    for (size_t i = 0; i < n; i++) {
        struct result *r = &res[i];
        char cls[512];
        classname(r->file, cls, sizeof(cls));
        X(xmlTextWriterStartElement(w, BAD_CAST "testcase"));
        X(xmlTextWriterWriteAttribute(w, BAD_CAST "name",
                                      BAD_CAST(r->loaded ? r->t.name : r->file)));
        X(xmlTextWriterWriteAttribute(w, BAD_CAST "classname", BAD_CAST cls));
        X(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "time", "%.3f", r->wall_s));
        if (r->v != V_PASS) {
            X(xmlTextWriterStartElement(w, BAD_CAST(r->v == V_FAIL ? "failure" : "error")));
            X(xmlTextWriterWriteAttribute(w, BAD_CAST "message",
                                          BAD_CAST(r->why ? r->why : "?")));
            X(xmlTextWriterWriteAttribute(w, BAD_CAST "type",
                                          BAD_CAST(r->v == V_ERROR ? "error" : r->bugs ? "bug"
                                                   : "no-bug-found")));
            X(xmlTextWriterWriteFormatString(w, "%s\n%s\n", r->why ? r->why : "",
                                             r->detail ? r->detail : ""));
            X(xmlTextWriterEndElement(w));
        }
        char *tail = log_tail(r->log);
        if (tail) {
            X(xmlTextWriterWriteElement(w, BAD_CAST "system-out", BAD_CAST tail));
            free(tail);
        }
        X(xmlTextWriterEndElement(w));
    }
    X(xmlTextWriterEndDocument(w));
#undef X
    xmlFreeTextWriter(w);
    if (rc == 0)
        rc = cc_file_write_atomic(path, xmlBufferContent(buf), (size_t)xmlBufferLength(buf), err);
    else
        rc = cc_err_set(err, EIO, "%s: the XML writer failed", path);
    xmlBufferFree(buf);
    return rc;
}

/* ---- the command ---- */

int cmd_test(int argc, char **argv)
{
    const char *junit = NULL, *outdir = "chaoscontrol-test-output";
    struct run r = {.tty = cli_is_tty()};
    bool quiet = false;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_JUNIT: junit = optarg; break;
        case OPT_OUTPUT: outdir = optarg; break;
        case OPT_DRY_RUN: r.dry = true; break;
        case OPT_KERNEL: r.kernel = optarg; break;
        case OPT_QUIET: quiet = true; break;
        case OPT_HELP:
            usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "chaoscontrol test: option '%s' needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "chaoscontrol test: unknown option '%s' (see --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "chaoscontrol test: give one or more test files (see --help)\n");
        return 2;
    }
    if (r.kernel && access(r.kernel, R_OK) < 0) {
        fprintf(stderr, "chaoscontrol test: --kernel '%s': %s\n", r.kernel, strerror(errno));
        return 2;
    }
    r.tty &= !quiet;
    r.outdir = outdir;
    char self[PATH_MAX];
    r.self = cc_program_path(self, sizeof(self)) ? strdup(self) : NULL;
    if (!r.self) {
        fprintf(stderr, "chaoscontrol test: cannot find this program (/proc/self/exe)\n");
        return 1;
    }
    const char *dk = NULL;
    if (cli_default_kernel(&dk) == 0 && dk)
        r.def_kernel = strdup(dk);
    r.user_prog = prog_for_user(r.self);
    size_t n = (size_t)(argc - optind);
    struct result *res = calloc(n, sizeof(*res));
    if (!res)
        return 1;
    /* every file first: a mistake in the last one is seen before hours of the first */
    unsigned bad = 0;
    for (size_t i = 0; i < n; i++) {
        res[i].file = argv[optind + (int)i];
        struct cc_err err = {0};
        if (ctest_load(res[i].file, &res[i].t, &err) < 0) {
            res[i].v = V_ERROR;
            set_str(&res[i].why, "%s", err.msg);
            bad++;
            continue;
        }
        res[i].loaded = true;
        for (size_t j = 0; j < i; j++)
            if (res[j].loaded && !strcmp(res[j].t.name, res[i].t.name)) {
                res[i].v = V_ERROR;
                set_str(&res[i].why, "%s:%u: name: '%s' is also the name of %s: each test needs "
                        "its own (it names its output directory)", res[i].file, res[i].t.line,
                        res[i].t.name, res[j].file);
                res[i].loaded = false;
                bad++;
                break;
            }
    }
    if (!r.dry && n > bad && mkdir(outdir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "chaoscontrol test: cannot create '%s': %s\n", outdir, strerror(errno));
        return 1;
    }
    if (!r.dry)
        printf("chaoscontrol test: %zu test%s, output in %s/\n", n, n == 1 ? "" : "s", outdir);
    fflush(stdout);
    double t0 = now_s();
    r.count = (unsigned)n;
    unsigned passed = 0, failed = 0, errors = 0;
    for (size_t i = 0; i < n; i++) {
        struct result *x = &res[i];
        r.index = (unsigned)i + 1;
        if (x->loaded)
            run_one(&r, x);
        if (r.dry && x->v == V_PASS)
            continue;
        const char *tag = x->v == V_PASS ? "PASS " : x->v == V_FAIL ? "FAIL " : "ERROR";
        char el[32] = "";
        if (x->loaded)
            fmt_time(x->wall_s, el, sizeof(el));
        if (x->loaded)
            printf("%s %-24s %s%s%s%s\n", tag, x->t.name, x->why ? x->why : "",
                   *el ? " [" : "", el, *el ? "]" : "");
        else
            printf("%s %s\n", tag, x->why ? x->why : x->file);
        if (x->detail)
            for (const char *p = x->detail; *p;) {
                const char *e = strchrnul(p, '\n');
                printf("      %.*s\n", (int)(e - p), p);
                p = *e ? e + 1 : e;
            }
        else if (x->v == V_ERROR && x->log)
            printf("      log: %s\n", x->log);
        fflush(stdout);
        passed += x->v == V_PASS;
        failed += x->v == V_FAIL;
        errors += x->v == V_ERROR;
    }
    double total = now_s() - t0;
    int status = failed || errors ? 1 : 0;
    if (r.dry) {
        if (errors)
            fprintf(stderr, "chaoscontrol test: %u of %zu file%s with errors\n", errors, n,
                    n == 1 ? "" : "s");
    } else {
        char el[32];
        fmt_time(total, el, sizeof(el));
        printf("%zu test%s: %u passed, %u failed, %u error%s in %s\n", n, n == 1 ? "" : "s",
               passed, failed, errors, errors == 1 ? "" : "s", el);
    }
    if (junit) {
        struct cc_err err = {0};
        if (write_junit(junit, res, n, total, &err) < 0) {
            fprintf(stderr, "chaoscontrol test: %s\n", err.msg);
            status = 1;
        } else if (!r.dry) {
            printf("JUnit report: %s\n", junit);
        }
    }
    for (size_t i = 0; i < n; i++) {
        ctest_free(&res[i].t);
        free(res[i].why);
        free(res[i].detail);
        free(res[i].log);
    }
    free(res);
    free(r.self);
    free(r.def_kernel);
    return status;
}
