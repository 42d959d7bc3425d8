/* The dashboard's view of an exploration directory (docs/dashboard.md,
 * /api/state and /api/bug/N): built from checkpoint.json (the same state
 * report.txt is rendered from), the bug files and any minimized bug file
 * in the directory. Pure reading: the server (src/dash/server.c) calls it
 * from its own threads. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "chaoscontrol/dash.h"
#include "explore/dash_internal.h"
#include "explore/state_internal.h"

#define DASH_MAX_FILE (64u << 20)   /* a bug or checkpoint file read for the page */
#define DASH_MAX_HOW 6              /* faults named in a frontier point's "how" */

char *dash_read_at(int dirfd, const char *name, size_t max, size_t *len, int *e)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size > max) {
        *e = fd < 0 ? errno : S_ISREG(sb.st_mode) ? EFBIG : EISDIR;
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char *p = malloc((size_t)sb.st_size + 1);
    size_t n = 0;
    while (p && n < (size_t)sb.st_size) {
        ssize_t k = read(fd, p + n, (size_t)sb.st_size - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    if (!p) {
        *e = ENOMEM;
        return NULL;
    }
    p[n] = 0;
    if (len)
        *len = n;
    return p;
}

/* Minimized bug files: a bug file in dir whose minimized_from names
 * bug_N.json (in any directory), the newest for each N. */
struct minimized {
    unsigned number;
    char name[256];
    struct timespec t;
};

/* N of a base name "bug_N.json", or 0. */
static unsigned bug_number_of(const char *base)
{
    size_t l = strlen(base), digits = l > 9 ? strspn(base + 4, "0123456789") : 0;
    if (l < 10 || l > 18 || strncmp(base, "bug_", 4) || digits != l - 9 ||
        strcmp(base + 4 + digits, ".json"))
        return 0;
    return (unsigned)strtoul(base + 4, NULL, 10);
}

/* The directory's minimized bug files (malloc'd, *n of them; NULL when
 * none or out of memory): read once per state, for every bug. */
static struct minimized *scan_minimized(int dirfd, size_t *n)
{
    *n = 0;
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct minimized *m = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        size_t l = strlen(name);
        if (name[0] == '.' || l < 6 || l >= sizeof(m->name) || strcmp(name + l - 5, ".json") ||
            !strcmp(name, "checkpoint.json") || !strcmp(name, "assertions.json") ||
            bug_number_of(name))
            continue;
        struct stat sb;
        if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode) ||
            sb.st_size > (off_t)DASH_MAX_FILE)
            continue;
        int e;
        char *text = dash_read_at(dirfd, name, DASH_MAX_FILE, NULL, &e);
        json_t *o = text ? json_loads(text, 0, NULL) : NULL;
        free(text);
        const char *from = json_string_value(json_object_get(o, "minimized_from"));
        const char *fmt = json_string_value(json_object_get(o, "format"));
        unsigned num = 0;
        if (from && fmt && !strcmp(fmt, "chaoscontrol-bug")) {
            const char *base = strrchr(from, '/');
            num = bug_number_of(base ? base + 1 : from);
        }
        json_decref(o);
        if (!num)
            continue;
        size_t k = 0;
        while (k < *n && m[k].number != num)
            k++;
        if (k == *n) {
            struct minimized *q = realloc(m, (*n + 1) * sizeof(*m));
            if (!q)
                break;
            m = q;
            m[(*n)++] = (struct minimized){.number = num};
        } else if (sb.st_mtim.tv_sec < m[k].t.tv_sec ||
                   (sb.st_mtim.tv_sec == m[k].t.tv_sec && sb.st_mtim.tv_nsec <= m[k].t.tv_nsec)) {
            continue;       /* an older one */
        }
        snprintf(m[k].name, sizeof(m[k].name), "%s", name);
        m[k].t = sb.st_mtim;
    }
    closedir(d);
    return m;
}

static const char *minimized_name(const struct minimized *m, size_t n, unsigned number)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].number == number)
            return m[i].name;
    return NULL;
}

/* "pause vm2 at 0.509 s; partition {1}|{0,2} at 1.232 s; ..." */
static char *how_of(const struct cc_recipe *r, unsigned n_vms)
{
    char buf[1024];
    size_t len = 0;
    size_t n = cc_schedule_count(r->sched);
    buf[0] = 0;
    for (size_t i = 0; i < n && i < DASH_MAX_HOW; i++) {
        const struct cc_fault *f = cc_schedule_get(r->sched, i);
        char who[160] = "";
        if (f->type == CC_FAULT_PARTITION) {
            size_t w = 0;
            for (unsigned s = 0; s < f->n_sides && w < sizeof(who) - 40; s++) {
                w += (size_t)snprintf(who + w, sizeof(who) - w, "%s{", s ? "|" : " ");
                bool first = true;
                for (unsigned v = 0; v < n_vms && v < 64 && w < sizeof(who) - 8; v++)
                    if (f->sides[s] >> v & 1) {
                        w += (size_t)snprintf(who + w, sizeof(who) - w, "%s%u", first ? "" : ",",
                                              v);
                        first = false;
                    }
                w += (size_t)snprintf(who + w, sizeof(who) - w, "}");
            }
        } else if (!f->from && !f->to) {
            snprintf(who, sizeof(who), " vm%u", f->vm);
        }
        int k = snprintf(buf + len, sizeof(buf) - len, "%s%s%s at %.3f s", len ? "; " : "",
                         cc_fault_type_name(f->type), who, f->at_ns / 1e9);
        if (k < 0 || (size_t)k >= sizeof(buf) - len)
            break;
        len += (size_t)k;
    }
    if (n > DASH_MAX_HOW && len < sizeof(buf) - 32)
        snprintf(buf + len, sizeof(buf) - len, "; +%zu more", n - DASH_MAX_HOW);
    if (r->n_ov && strlen(buf) < sizeof(buf) - 48)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%zu value override%s",
                 buf[0] ? "; " : "", r->n_ov, r->n_ov == 1 ? "" : "s");
    return strdup(buf[0] ? buf : "the setup point (no faults)");
}

static json_t *status_json(const struct cc_xstate *st)
{
    json_t *s = json_object();
    json_object_set_new(s, "rounds_done", json_integer(st->rounds_done));
    json_object_set_new(s, "branches_done", xj_u64(st->branches_done));
    json_object_set_new(s, "wall_s", json_real(st->wall_s));
    json_object_set_new(s, "branches_per_s",
                        json_real(st->wall_s > 0 ? st->branches_done / st->wall_s : 0));
    json_object_set_new(s, "frontier", json_integer((json_int_t)xstate_frontier_size(st)));
    json_object_set_new(s, "edges", json_integer((json_int_t)covmap_edges(&st->cov)));
    json_object_set_new(s, "assert_bits", json_integer((json_int_t)covmap_assert_bits(&st->cov)));
    json_object_set_new(s, "bugs", json_integer((json_int_t)st->n_bugs));
    json_object_set_new(s, "plateau_since", json_integer(st->plateau_since));
    json_object_set_new(s, "plateau", json_boolean(st->plateau_since &&
                        st->rounds_done + 1 - st->plateau_since >= st->set.plateau_rounds));
    json_object_set_new(s, "mid_points", xj_u64(st->mid_points));
    json_object_set_new(s, "react_branches", xj_u64(st->react_branches));
    json_object_set_new(s, "react_faults", xj_u64(st->react_faults));
    return s;
}

/* The checkpoint's rounds, each with the wall time of every session up to
 * its end. */
static json_t *history_json(const struct cc_xstate *st)
{
    json_t *a = json_array();
    double total = 0;
    for (size_t i = 0; i < st->n_hist; i++) {
        total += st->hist[i].wall_s;
        json_t *e = xstate_round_json(&st->hist[i]);
        json_object_set_new(e, "wall_total_s", json_real(total));
        json_array_append_new(a, e);
    }
    return a;
}

/* The checkpoint's bugs, each with its minimized bug file if there is one. */
static json_t *bugs_json(const struct cc_xstate *st, int dirfd)
{
    json_t *a = json_array();
    size_t nm;
    struct minimized *m = st->n_bugs ? scan_minimized(dirfd, &nm) : NULL;
    for (size_t i = 0; i < st->n_bugs; i++) {
        json_t *e = xstate_bug_json(&st->bugs[i]);
        const char *min = m ? minimized_name(m, nm, st->bugs[i].number) : NULL;
        json_object_set_new(e, "minimized", min ? json_string(min) : json_null());
        json_array_append_new(a, e);
    }
    free(m);
    return a;
}

/* The merged table, each entry with the branch of its first failure and
 * that bug's number (from the bug list; null when it never failed). */
static json_t *asserts_json(const struct cc_xstate *st)
{
    json_t *a = xstate_asserts_json(st);
    for (size_t i = 0; i < json_array_size(a) && i < st->n_as; i++) {
        json_t *e = json_array_get(a, i);
        const struct xbug *first = NULL;
        for (size_t k = 0; k < st->n_bugs; k++)
            if (st->bugs[k].id == st->as[i].id &&
                (!first || st->bugs[k].branch < first->branch))
                first = &st->bugs[k];
        json_object_set_new(e, "first_failing_branch", first ? xj_u64(first->branch) :
                            json_null());
        json_object_set_new(e, "bug", first ? json_integer(first->number) : json_null());
    }
    return a;
}

static json_t *traffic_json(const struct cc_xstate *st, json_t **links)
{
    json_t *fa = json_object();
    for (unsigned t = 0; t < CC_FAULT_TYPE_END; t++)
        if (st->faults[t])
            json_object_set_new(fa, cc_fault_type_name(t), xj_u64(st->faults[t]));
    if (st->react_faults)
        json_object_set_new(fa, "reactive (partition or pause)", xj_u64(st->react_faults));
    *links = xstate_links_json(st);
    return fa;
}

static json_t *frontier_json(const struct cc_xstate *st)
{
    json_t *a = json_array();
    for (size_t i = 0; i < st->n_pts; i++) {
        const struct xpoint *p = &st->pts[i];
        if (!p->in_frontier || !p->recipe)
            continue;
        json_t *e = json_object();
        json_object_set_new(e, "id", xj_u64(p->id));
        json_object_set_new(e, "parent", xj_u64(p->parent));
        json_object_set_new(e, "round", json_integer(p->round));
        json_object_set_new(e, "depth", json_integer(p->depth));
        json_object_set_new(e, "t_ns", xj_u64(p->t));
        json_object_set_new(e, "score", json_real(p->score));
        json_object_set_new(e, "picks", xj_u64(p->picks));
        json_object_set_new(e, "wins", xj_u64(p->wins));
        json_object_set_new(e, "faults", json_integer((json_int_t)cc_schedule_count(p->recipe->sched)));
        json_object_set_new(e, "overrides", json_integer((json_int_t)p->recipe->n_ov));
        char *how = how_of(p->recipe, st->target.n_vms);
        json_object_set_new(e, "how", json_string(how ? how : ""));
        free(how);
        json_array_append_new(a, e);
    }
    return a;
}

static json_t *options_view(const struct xsettings *o)
{
    json_t *e = json_object();
    json_object_set_new(e, "mode", json_string(cc_xmode_name(o->mode)));
    json_object_set_new(e, "branches", json_integer(o->branches));
    json_object_set_new(e, "seed", xj_u64(o->seed));
    json_object_set_new(e, "branch_ns", xj_u64(o->branch_ns));
    json_object_set_new(e, "frontier_max", json_integer(o->frontier_max));
    json_object_set_new(e, "max_faults", json_integer(o->max_faults));
    json_object_set_new(e, "plateau_rounds", json_integer(o->plateau_rounds));
    return e;
}

json_t *dash_state(const char *corpus, int dirfd, bool live, struct cc_err *err)
{
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string("chaoscontrol-dashboard"));
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "corpus", json_string(corpus));
    json_object_set_new(o, "live", json_boolean(live));
    json_object_set_new(o, "generation", json_integer(0));
    size_t len;
    int e = 0;
    char *text = dash_read_at(dirfd, "checkpoint.json", 256u << 20, &len, &e);
    struct cc_xstate *st = NULL;
    if (text) {
        int rc = cc_xstate_parse(text, len, "checkpoint.json", &st, err);
        free(text);
        if (rc < 0) {
            json_decref(o);
            return NULL;
        }
    } else if (e != ENOENT) {
        cc_err_set(err, e, "%s/checkpoint.json: %s", corpus, strerror(e));
        json_decref(o);
        return NULL;
    }
    if (!st) {
        /* no round written yet (an explorer still booting) */
        json_object_set_new(o, "target", json_null());
        json_object_set_new(o, "options", json_null());
        json_object_set_new(o, "status", json_null());
        const char *empty[] = {"history", "bugs", "assertions", "links", "frontier"};
        for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++)
            json_object_set_new(o, empty[i], json_array());
        json_object_set_new(o, "faults", json_object());
        return o;
    }
    json_t *t = xtarget_to_json(&st->target);
    json_object_set_new(t, "factory", st->target.factory ? json_string(st->target.factory) :
                        json_null());
    json_object_set_new(o, "target", t);
    json_object_set_new(o, "options", options_view(&st->set));
    json_object_set_new(o, "status", status_json(st));
    json_object_set_new(o, "history", history_json(st));
    json_object_set_new(o, "bugs", bugs_json(st, dirfd));
    json_object_set_new(o, "assertions", asserts_json(st));
    json_t *links;
    json_object_set_new(o, "faults", traffic_json(st, &links));
    json_object_set_new(o, "links", links);
    json_object_set_new(o, "frontier", frontier_json(st));
    cc_xstate_free(st);
    return o;
}

/* A shell word: as is when it is made of safe characters, else quoted. */
static void shell_word(char *out, size_t n, const char *s)
{
    if (s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-+,:=@")]) {
        size_t w = 0;
        out[w++] = '\'';
        for (; *s && w + 6 < n; s++) {
            if (*s == '\'') {
                memcpy(out + w, "'\\''", 4);
                w += 4;
            } else {
                out[w++] = *s;
            }
        }
        out[w++] = '\'';
        out[w] = 0;
    } else {
        snprintf(out, n, "%s", s);
    }
}

json_t *dash_bug(const char *corpus, int dirfd, unsigned number, int *status)
{
    char name[32], tname[32];
    snprintf(name, sizeof(name), "bug_%u.json", number);
    snprintf(tname, sizeof(tname), "bug_%u.txt", number);
    size_t len;
    int e = 0;
    char *text = dash_read_at(dirfd, name, DASH_MAX_FILE, &len, &e);
    if (!text) {
        *status = e == ENOENT ? 404 : 500;
        return NULL;
    }
    json_t *bug = json_loadb(text, len, 0, NULL);
    free(text);
    if (!bug) {
        *status = 500;
        return NULL;
    }
    json_t *o = json_object();
    json_object_set_new(o, "number", json_integer(number));
    json_object_set_new(o, "bug", bug);
    size_t nm;
    struct minimized *m = scan_minimized(dirfd, &nm);
    const char *min = m ? minimized_name(m, nm, number) : NULL;
    json_t *mj = NULL;
    if (min) {
        char *mt = dash_read_at(dirfd, min, DASH_MAX_FILE, &len, &e);
        mj = mt ? json_loadb(mt, len, 0, NULL) : NULL;
        free(mt);
    }
    json_object_set_new(o, "minimized", mj ? mj : json_null());
    json_object_set_new(o, "minimized_file", min && mj ? json_string(min) : json_null());
    char *txt = dash_read_at(dirfd, tname, DASH_MAX_FILE, &len, &e);
    json_object_set_new(o, "text", txt ? json_stringn(txt, len) : json_null());
    free(txt);
    char path[4400], q[9000], mpath[4400], mq[9000], cmd[20000];
    snprintf(path, sizeof(path), "%s/%s", corpus, name);
    shell_word(q, sizeof(q), path);
    snprintf(cmd, sizeof(cmd), "chaoscontrol reproduce --bug %s", q);
    json_object_set_new(o, "reproduce", json_string(cmd));
    snprintf(mpath, sizeof(mpath), "%s/bug_%u.min.json", corpus, number);
    shell_word(mq, sizeof(mq), mpath);
    snprintf(cmd, sizeof(cmd), "chaoscontrol minimize --bug %s --output %s", q, mq);
    json_object_set_new(o, "minimize", json_string(cmd));
    free(m);
    *status = 200;
    return o;
}

char *cc_dash_state_json(const char *corpus, bool live, struct cc_err *err)
{
    int fd = open(corpus, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        cc_err_set(err, errno, "%s: %s", corpus, strerror(errno));
        return NULL;
    }
    json_t *o = dash_state(corpus, fd, live, err);
    close(fd);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (o && !s)
        cc_err_set(err, ENOMEM, "out of memory");
    return s;
}
