/* One exploration shared by many workers (chaoscontrol/explore.h,
 * docs/distributed.md), on the shared store of src/dist/store.c.
 *
 * A worker is the ordinary explorer run one branch at a time: before each
 * branch it replaces its state with a fresh view of the shared one (its
 * live snapshots follow the points by id), runs branch_run exactly as a
 * single explorer would, then sends what the branch changed in its state
 * (coverage maps, assertion counts, new points with their recipes, picks,
 * evictions, a bug, traffic and fault counts) for Redis to merge once. The
 * branch's mutation seed comes from the exploration's seed and the branch
 * number alone, so a branch re-run after its lease expired is the same
 * branch. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <xxhash.h>

#include "chaoscontrol/file.h"
#include "dist/store.h"
#include "explore/explorer_internal.h"
#include "util/afile.h"

#define LEASE_DEFAULT_MS 600000

/* ---- the target's identity ---- */

/* SHA-256 of the target's JSON without its paths: the same files (by
 * hash) and settings on any machine give the same text. */
static void target_hash(const struct cc_xtarget *t, char out[65])
{
    json_t *j = xtarget_to_json(t);
    json_object_set_new(j, "kernel", json_null());
    json_object_set_new(j, "initrd", json_null());
    json_object_set_new(j, "disk_image", json_null());
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const uint8_t *)(text ? text : ""), text ? strlen(text) : 0);
    free(text);
    for (size_t i = 0; i < sizeof(h); i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

int cc_explore_create(const struct cc_xtarget *t, const struct cc_explore_opts *o,
                      const char *url, const char *name, bool *created, struct cc_err *err)
{
    *created = false;
    if (!o->branches || !o->rounds || !o->branch_ns || !o->frontier_max)
        return cc_err_set(err, EINVAL, "rounds, branches, branch time and frontier size must "
                          "be > 0");
    struct cc_xtarget tt = *t;
    if (o->factory)
        tt.factory = o->factory->name;
    int rc = cc_xtarget_hash(&tt, err);
    if (rc < 0)
        return rc;
    struct xsettings set;
    xsettings_from_opts(&set, o);
    json_t *meta = json_object();
    json_object_set_new(meta, "target", xtarget_to_json(&tt));
    json_object_set_new(meta, "options", xsettings_to_json(&set));
    char *mj = json_dumps(meta, JSON_COMPACT);
    json_decref(meta);
    if (!mj)
        return cc_err_set(err, ENOMEM, "out of memory");
    char th[65];
    target_hash(&tt, th);
    struct cc_store *s;
    rc = cc_store_open(url, name, &s, err);
    if (rc == 0) {
        struct cc_store_meta m = {.target_hash = th,
                                  .budget = (uint64_t)o->rounds * o->branches,
                                  .per_round = o->branches, .stop_after = o->stop_after_bugs,
                                  .meta_json = mj};
        rc = cc_store_create(s, &m, created, err);
        cc_store_close(s);
    }
    free(mj);
    return rc;
}

int cc_explore_redis_start(const char *dir, char **url, int *pid, struct cc_err *err)
{
    return cc_store_local_start(dir, url, pid, err);
}

void cc_explore_redis_stop(int pid, const char *url)
{
    cc_store_local_stop(pid, url);
}

/* ---- status and export ---- */

/* The store of an exploration that exists (ENOENT naming it if not). */
static int open_existing(const char *url, const char *name, struct cc_store **s,
                         struct cc_err *err)
{
    int rc = cc_store_open(url, name, s, err);
    if (rc < 0)
        return rc;
    char *meta = NULL;
    rc = cc_store_join(*s, NULL, &meta, err);
    free(meta);
    if (rc < 0) {
        cc_store_close(*s);
        *s = NULL;
    }
    return rc;
}

int cc_explore_status(const char *url, const char *name, struct cc_shared_status *out,
                      struct cc_err *err)
{
    struct cc_store *s;
    int rc = open_existing(url, name, &s, err);
    if (rc < 0)
        return rc;
    struct cc_store_status st;
    rc = cc_store_status(s, &st, err);
    cc_store_close(s);
    if (rc < 0)
        return rc;
    *out = (struct cc_shared_status){
        .next = st.next, .done = st.done, .budget = st.budget, .leased = st.leased,
        .bugs = st.bugs, .frontier = st.frontier, .edges = st.edges,
        .assert_bits = st.assert_bits, .per_round = st.per_round,
    };
    return 0;
}

int cc_explore_stop(const char *url, const char *name, struct cc_err *err)
{
    struct cc_store *s;
    int rc = open_existing(url, name, &s, err);
    if (rc < 0)
        return rc;
    rc = cc_store_stop(s, err);
    cc_store_close(s);
    return rc;
}

int cc_explore_extend(const char *url, const char *name, unsigned rounds, unsigned stop_after,
                      uint64_t *budget, uint64_t *bugs, struct cc_err *err)
{
    struct cc_store *s;
    int rc = open_existing(url, name, &s, err);
    if (rc < 0)
        return rc;
    rc = cc_store_extend(s, rounds, stop_after, budget, bugs, err);
    cc_store_close(s);
    return rc;
}

/* What a bug file has beside it: its operation history
 * (bug_N.history.jsonl) and its determinism log (bug_N.dlog, with
 * --dlog-bugs); NULL when it has none. */
struct bug_files {
    char *hist, *dlog;
    size_t hlen, dlen;
};

static void bug_files_free(struct bug_files *f)
{
    free(f->hist);
    free(f->dlog);
    memset(f, 0, sizeof(*f));
}

/* The files beside a bug file bug_N.json: bug_N.txt, then those of
 * struct bug_files in its order. */
static const struct { const char *ext, *what; } bug_sidecars[] = {
    {".txt", "report"}, {".history.jsonl", "operation history"}, {".dlog", "determinism log"},
};
#define N_BUG_SIDECARS (sizeof(bug_sidecars) / sizeof(bug_sidecars[0]))

/* The files beside the bug file bug_path in the worker's directory. */
static int local_bug_files(const char *bug_path, struct bug_files *f, struct cc_err *err)
{
    memset(f, 0, sizeof(*f));
    int rc = 0;
    for (size_t i = 1; rc == 0 && i < N_BUG_SIDECARS; i++) {
        char *p = NULL;
        if (asprintf(&p, "%.*s%s", (int)xbug_stem(bug_path), bug_path, bug_sidecars[i].ext) < 0)
            return cc_err_set(err, ENOMEM, "out of memory");
        bool dlog = i == 2;
        if (access(p, F_OK) == 0)
            rc = cc_file_read(p, bug_sidecars[i].what, (size_t)256 << 20,
                              dlog ? &f->dlog : &f->hist, dlog ? &f->dlen : &f->hlen, err);
        free(p);
    }
    if (rc < 0)
        bug_files_free(f);
    return rc;
}

/* The files of bug n in the store (bug:N:history, bug:N:dlog in base64),
 * each NULL when it has none. */
static int stored_bug_files(struct cc_store *s, unsigned n, struct bug_files *f,
                            struct cc_err *err)
{
    memset(f, 0, sizeof(*f));
    char key[48], *b64 = NULL;
    size_t len = 0;
    for (int i = 0; i < 2; i++) {
        snprintf(key, sizeof(key), "bug:%u:%s", n, i ? "dlog" : "history");
        struct cc_err e2 = {0};
        int rc = cc_store_get(s, key, i ? &b64 : &f->hist, i ? &len : &f->hlen, &e2);
        if (rc < 0 && rc != -ENOENT) {
            *err = e2;
            bug_files_free(f);
            return rc;
        }
    }
    if (b64) {
        size_t max = len / 4 * 3 + 3;
        f->dlog = malloc(max);
        if (!f->dlog || sodium_base642bin((unsigned char *)f->dlog, max, b64, len, NULL,
                                          &f->dlen, NULL, sodium_base64_VARIANT_ORIGINAL)) {
            free(b64);
            bug_files_free(f);
            return cc_err_set(err, EIO, "redis %s: bug %u: its determinism log is not base64",
                              cc_store_url(s), n);
        }
        free(b64);
    }
    return 0;
}

/* A bug file's text written as bug_N.json (and .txt) in dir, with its
 * number set to N (the shared numbering), and the files beside it as
 * bug_N.history.jsonl and bug_N.dlog. */
static int save_bug(const char *text, const struct bug_files *bf, unsigned n, const char *dir,
                    struct cc_err *err)
{
    struct cc_bug *b;
    char name[64];
    snprintf(name, sizeof(name), "bug %u (from Redis)", n);
    int rc = cc_bug_parse(text, name, &b, err);
    if (rc < 0)
        return rc;
    b->number = n;
    free(b->dlog_file);     /* the name the finder gave it, or none */
    b->dlog_file = NULL;
    if (bf->hist) {
        free(b->history_text);
        if (!(b->history_text = malloc(bf->hlen ? bf->hlen : 1))) {
            cc_bug_free(b);
            return cc_err_set(err, ENOMEM, "out of memory");
        }
        memcpy(b->history_text, bf->hist, bf->hlen);
        b->history_len = bf->hlen;
    }
    char path[4200];
    if (bf->dlog) {
        snprintf(path, sizeof(path), "%s/bug_%u.dlog", dir, n);
        rc = cc_file_write_atomic(path, bf->dlog, bf->dlen, err);
        if (rc == 0 && asprintf(&b->dlog_file, "bug_%u.dlog", n) < 0)
            rc = cc_err_set(err, ENOMEM, "out of memory");
    }
    snprintf(path, sizeof(path), "%s/bug_%u.json", dir, n);
    if (rc == 0)
        rc = cc_bug_save(b, path, err);
    cc_bug_free(b);
    return rc;
}

/* A view of the shared state as a state (validated as a checkpoint is). */
static int view_state(struct cc_store *s, struct cc_store_cache *c, struct cc_xstate **out,
                      struct cc_store_progress *pg, struct cc_err *err)
{
    json_t *v;
    int rc = cc_store_view(s, c, &v, pg, err);
    if (rc < 0)
        return rc;
    char src[300];
    snprintf(src, sizeof(src), "%s (the shared state)", cc_store_url(s));
    rc = xstate_from_json(v, src, out, err);
    json_decref(v);
    return rc;
}

struct cc_explore_follow {
    struct cc_store *s;
    struct cc_store_cache c;
    char *dir;
    bool synced;
    struct cc_store_status last;    /* as of the last files written */
    unsigned bugs_written;
    struct cc_explore_summary sum;
};

int cc_explore_follow_new(const char *url, const char *name, const char *dir,
                          struct cc_explore_follow **out, struct cc_err *err)
{
    *out = NULL;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return cc_err_set(err, errno, "cannot create '%s': %s", dir, strerror(errno));
    struct cc_explore_follow *f = calloc(1, sizeof(*f));
    if (!f || !(f->dir = strdup(dir))) {
        free(f);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    int rc = cc_store_open(url, name, &f->s, err);
    if (rc < 0) {
        cc_explore_follow_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

void cc_explore_follow_free(struct cc_explore_follow *f)
{
    if (!f)
        return;
    cc_store_cache_free(&f->c);
    cc_store_close(f->s);
    free(f->dir);
    free(f);
}

int cc_explore_follow_sync(struct cc_explore_follow *f, struct cc_explore_summary *sum,
                           struct cc_err *err)
{
    /* a cheap look first: the files are rewritten only when it changed */
    struct cc_store_status now;
    int rc = cc_store_status(f->s, &now, err);
    if (rc < 0)
        return rc;
    if (f->synced && now.done == f->last.done && now.bugs == f->last.bugs &&
        now.points == f->last.points) {
        if (sum)
            *sum = f->sum;
        return 0;
    }
    struct cc_xstate *st = NULL;
    struct cc_store_progress pg;
    rc = view_state(f->s, &f->c, &st, &pg, err);
    if (rc == 0) {
        st->wall_s = pg.wall_s;
        rc = report_write(st, f->dir, err);
    }
    if (rc == 0)
        rc = checkpoint_save(st, f->dir, err);
    for (size_t i = f->bugs_written; rc == 0 && i < st->n_bugs; i++) {
        char key[32], *text = NULL;
        snprintf(key, sizeof(key), "bug:%u", st->bugs[i].number);
        rc = cc_store_get(f->s, key, &text, NULL, err);
        struct bug_files bf = {0};
        if (rc == 0)
            rc = stored_bug_files(f->s, st->bugs[i].number, &bf, err);
        if (rc == 0)
            rc = save_bug(text, &bf, st->bugs[i].number, f->dir, err);
        free(text);
        bug_files_free(&bf);
        if (rc == 0)
            f->bugs_written = (unsigned)i + 1;
    }
    if (rc == 0) {
        cc_xstate_summary(st, &f->sum);
        f->last = now;
        f->synced = true;
        if (sum)
            *sum = f->sum;
    }
    cc_xstate_free(st);
    return rc < 0 ? rc : 1;
}

int cc_explore_export(const char *url, const char *name, const char *dir,
                      struct cc_explore_summary *sum, struct cc_err *err)
{
    struct cc_explore_follow *f;
    int rc = cc_explore_follow_new(url, name, dir, &f, err);
    if (rc == 0)
        rc = cc_explore_follow_sync(f, sum, err);
    cc_explore_follow_free(f);
    return rc < 0 ? rc : 0;
}

/* ---- the worker ---- */

/* Renews the current branch's lease from its own connection while the
 * branch runs (the explorer's thread is busy in KVM_RUN). */
struct renewer {
    struct cc_store *s;
    const char *id;
    uint64_t lease_ms;
    _Atomic uint64_t g;             /* UINT64_MAX: none */
    _Atomic bool stop;
    pthread_t th;
    bool started;
};

static void *renew_main(void *arg)
{
    struct renewer *r = arg;
    uint64_t every_ms = r->lease_ms / 3 ? r->lease_ms / 3 : 1;
    uint64_t slept = 0;
    while (!atomic_load(&r->stop)) {
        usleep(50 * 1000);
        slept += 50;
        if (slept < every_ms)
            continue;
        slept = 0;
        uint64_t g = atomic_load(&r->g);
        struct cc_err e = {0};
        if (g != UINT64_MAX)
            (void)cc_store_renew(r->s, r->id, g, r->lease_ms, &e);
    }
    return NULL;
}

/* What the state held before the branch, to send only what it changed. */
struct before {
    uint64_t next_id;
    size_t n_pts, n_as, n_bugs, n_gd;
    uint64_t *picks, *wins;
    bool *in;
    struct xassert *as;             /* counts only (strings not owned) */
    uint64_t *dups;
    int64_t *gmax;
    uint64_t faults[CC_FAULT_TYPE_END];
    struct xlink *links;
    uint64_t react_branches, react_faults, mid_points;
};

static void before_free(struct before *b)
{
    free(b->picks);
    free(b->wins);
    free(b->in);
    free(b->as);
    free(b->dups);
    free(b->gmax);
    free(b->links);
    memset(b, 0, sizeof(*b));
}

static int before_take(const struct cc_xstate *st, struct before *b)
{
    memset(b, 0, sizeof(*b));
    b->next_id = st->next_id;
    b->n_pts = st->n_pts;
    b->n_as = st->n_as;
    b->n_bugs = st->n_bugs;
    b->n_gd = st->n_gd;
    unsigned n = st->target.n_vms;
    b->picks = calloc(st->n_pts + 1, sizeof(*b->picks));
    b->wins = calloc(st->n_pts + 1, sizeof(*b->wins));
    b->in = calloc(st->n_pts + 1, sizeof(*b->in));
    b->as = calloc(st->n_as + 1, sizeof(*b->as));
    b->dups = calloc(st->n_bugs + 1, sizeof(*b->dups));
    b->gmax = calloc(st->n_gd + 1, sizeof(*b->gmax));
    b->links = calloc((size_t)n * n, sizeof(*b->links));
    if (!b->picks || !b->wins || !b->in || !b->as || !b->dups || !b->gmax || !b->links) {
        before_free(b);
        return -ENOMEM;
    }
    for (size_t i = 0; i < st->n_pts; i++) {
        b->picks[i] = st->pts[i].picks;
        b->wins[i] = st->pts[i].wins;
        b->in[i] = st->pts[i].in_frontier;
    }
    memcpy(b->as, st->as, st->n_as * sizeof(*st->as));
    for (size_t i = 0; i < st->n_bugs; i++)
        b->dups[i] = st->bugs[i].dups;
    for (size_t i = 0; i < st->n_gd; i++)
        b->gmax[i] = st->gd[i].max;
    memcpy(b->faults, st->faults, sizeof(b->faults));
    if (st->links)
        memcpy(b->links, st->links, (size_t)n * n * sizeof(*b->links));
    b->react_branches = st->react_branches;
    b->react_faults = st->react_faults;
    b->mid_points = st->mid_points;
    return 0;
}

static json_t *pair(json_t *a, json_t *b)
{
    json_t *e = json_array();
    json_array_append_new(e, a);
    json_array_append_new(e, b);
    return e;
}

static json_t *assert_delta(const struct xassert *a, const struct xassert *was)
{
    struct xassert z = {0};
    if (!was)
        was = &z;
    json_t *e = json_object();
    json_object_set_new(e, "id", xj_hex(a->id));
    json_object_set_new(e, "kind", json_integer(a->kind));
    json_object_set_new(e, "line", json_integer(a->line));
    json_object_set_new(e, "message", json_string(a->message ? a->message : ""));
    json_object_set_new(e, "file", json_string(a->file ? a->file : ""));
    json_object_set_new(e, "func", json_string(a->function ? a->function : ""));
    json_object_set_new(e, "hits", xj_u64(a->hits - was->hits));
    json_object_set_new(e, "passes", xj_u64(a->passes - was->passes));
    json_object_set_new(e, "fails", xj_u64(a->fails - was->fails));
    json_object_set_new(e, "hit", xj_u64(a->branches_hit - was->branches_hit));
    json_object_set_new(e, "failed", xj_u64(a->branches_failed - was->branches_failed));
    json_object_set_new(e, "vms", xj_u64(a->vms_hit));
    return e;
}

/* The guidance maxima raised since b (all of them when b is NULL). */
static json_t *guidance_delta(const struct cc_xstate *st, const struct before *b)
{
    json_t *gd = json_array();
    for (size_t i = 0; i < st->n_gd; i++)
        if (!b || i >= b->n_gd || st->gd[i].max > b->gmax[i])
            json_array_append_new(gd, pair(json_string(st->gd[i].message),
                                           json_integer(st->gd[i].max)));
    return gd;
}

/* The bug file this branch wrote (the state's new bug), for the store:
 * its text, its schedule's hash. */
static json_t *bug_delta(struct cc_explorer *x, const struct xbug *xb, uint64_t g,
                         char **path_out, struct cc_err *err)
{
    json_t *b = json_object();
    json_object_set_new(b, "assertion", xj_hex(xb->id));
    json_object_set_new(b, "vm", json_integer(xb->vm));
    json_object_set_new(b, "message", json_string(xb->message ? xb->message : ""));
    json_object_set_new(b, "where", json_string(xb->where ? xb->where : ""));
    char sn[24];
    snprintf(sn, sizeof(sn), "%" PRIu64, xb->sim_ns);
    json_object_set_new(b, "sim_ns", json_string(sn));
    json_object_set_new(b, "size", xj_u64(xb->size));
    if (!path_out) {
        /* a duplicate of a known property: counted, nothing stored */
        char sch[32];
        snprintf(sch, sizeof(sch), "dup-%" PRIu64, g);
        json_object_set_new(b, "sched", json_string(sch));
        json_object_set_new(b, "json", json_string(""));
        return b;
    }
    char *path = NULL;
    if (asprintf(&path, "%s/bug_%u.json", x->dir, xb->number) < 0) {
        json_decref(b);
        cc_err_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    json_error_t je;
    json_t *file = json_load_file(path, 0, &je);
    char *text = file ? json_dumps(file, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    char *rec = file ? json_dumps(json_object_get(file, "recipe"),
                                  JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    /* the files beside it: its operation history, its determinism log */
    struct bug_files bf;
    int frc = local_bug_files(path, &bf, err);
    json_decref(file);
    if (!text || !rec || frc < 0) {
        free(text);
        free(rec);
        json_decref(b);
        if (frc == 0)
            cc_err_set(err, EIO, "%s: cannot read the bug file just written: %s", path, je.text);
        free(path);
        return NULL;
    }
    json_t *h = bf.hist ? json_stringn(bf.hist, bf.hlen) : NULL;
    char *b64 = NULL;
    if (bf.dlog) {
        size_t bl = sodium_base64_ENCODED_LEN(bf.dlen, sodium_base64_VARIANT_ORIGINAL);
        if ((b64 = malloc(bl)))
            sodium_bin2base64(b64, bl, (const unsigned char *)bf.dlog, bf.dlen,
                              sodium_base64_VARIANT_ORIGINAL);
    }
    bool hist_bad = bf.hist && !h, dlog_bad = bf.dlog && !b64;
    bug_files_free(&bf);
    if (hist_bad || dlog_bad) {
        free(text);
        free(rec);
        json_decref(h);
        free(b64);
        json_decref(b);
        cc_err_set(err, hist_bad ? EIO : ENOMEM, "%s: %s", path,
                   hist_bad ? "its operation history is not UTF-8 text" : "out of memory");
        free(path);
        return NULL;
    }
    if (h)
        json_object_set_new(b, "history", h);
    if (b64) {
        json_object_set_new(b, "dlog", json_string(b64));
        free(b64);
    }
    char sch[24];
    snprintf(sch, sizeof(sch), "%016llx", (unsigned long long)XXH64(rec, strlen(rec), 0));
    json_object_set_new(b, "sched", json_string(sch));
    json_object_set_new(b, "json", json_string(text));
    free(text);
    free(rec);
    *path_out = path;
    return b;
}

static json_t *links_delta(const struct cc_xstate *st, const struct before *b)
{
    json_t *ls = json_array();
    unsigned n = st->target.n_vms;
    for (unsigned i = 0; st->links && i < n * n; i++) {
        for (unsigned q = 0; q < XLINK_FIELDS; q++) {
            uint64_t now = xlink_get(&st->links[i], q), was = xlink_get(&b->links[i], q);
            if (now == was)
                continue;
            char k[64];
            snprintf(k, sizeof(k), "%u:%u:%s", i / n, i % n, xlink_fields[q].name);
            json_array_append_new(ls, pair(json_string(k), xj_u64(now - was)));
        }
    }
    return ls;
}

/* What the branch changed in x->st since b, as the store's delta, with
 * the new points' indexes in st->pts (in the order sent). */
static json_t *branch_delta(struct cc_explorer *x, const struct before *b, uint64_t g,
                            const struct round_stats *rs, size_t *sent, size_t *n_sent,
                            char **bug_path, struct cc_err *err)
{
    struct cc_xstate *st = x->st;
    json_t *d = json_object();
    json_t *as = json_array();
    for (size_t i = 0; i < st->n_as; i++) {
        const struct xassert *a = &st->as[i], *was = i < b->n_as ? &b->as[i] : NULL;
        if (was && a->hits == was->hits && a->passes == was->passes &&
            a->fails == was->fails && a->branches_hit == was->branches_hit &&
            a->branches_failed == was->branches_failed && a->vms_hit == was->vms_hit)
            continue;
        json_array_append_new(as, assert_delta(a, was));
    }
    json_object_set_new(d, "asserts", as);
    json_t *ah = json_array();
    for (size_t j = 0; j < XCOV_ASSERT_SIZE; j++)
        if (x->keep_cov->asserts[j])
            json_array_append_new(ah, json_integer((json_int_t)j));
    json_object_set_new(d, "ahits", ah);
    /* new points still in the frontier, and the old points' counters */
    json_t *pts = json_array(), *picks = json_array(), *wins = json_array(),
           *ev = json_array();
    *n_sent = 0;
    for (size_t i = 0; i < st->n_pts; i++) {
        const struct xpoint *p = &st->pts[i];
        if (p->id < b->next_id) {
            if (i < b->n_pts && p->picks != b->picks[i])
                json_array_append_new(picks, pair(xj_u64(p->id), xj_u64(p->picks - b->picks[i])));
            if (i < b->n_pts && p->wins != b->wins[i])
                json_array_append_new(wins, pair(xj_u64(p->id), xj_u64(p->wins - b->wins[i])));
            if (i < b->n_pts && b->in[i] && !p->in_frontier)
                json_array_append_new(ev, xj_u64(p->id));
            continue;
        }
        if (!p->in_frontier || *n_sent >= 8 || p->parent >= b->next_id)
            continue;
        json_t *pj = xstate_point_json(p, st->target.n_vms);
        char *text = json_dumps(pj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(pj);
        json_t *e = json_object();
        json_object_set_new(e, "parent", xj_u64(p->parent));
        json_object_set_new(e, "score", json_real(p->score));
        json_object_set_new(e, "json", json_string(text ? text : "{}"));
        free(text);
        json_array_append_new(pts, e);
        sent[(*n_sent)++] = i;
    }
    json_object_set_new(d, "points", pts);
    json_object_set_new(d, "picks", picks);
    json_object_set_new(d, "wins", wins);
    json_object_set_new(d, "evict", ev);
    /* a bug: new to this worker's view, or a duplicate of a known one */
    json_t *bug = NULL;
    if (st->n_bugs > b->n_bugs) {
        bug = bug_delta(x, &st->bugs[b->n_bugs], g, bug_path, err);
        if (!bug) {
            json_decref(d);
            return NULL;
        }
    }
    for (size_t i = 0; !bug && i < b->n_bugs; i++)
        if (st->bugs[i].dups > b->dups[i])
            bug = bug_delta(x, &st->bugs[i], g, NULL, err);
    if (bug)
        json_object_set_new(d, "bug", bug);
    json_t *fa = json_object();
    for (int t = 1; t < CC_FAULT_TYPE_END; t++)
        if (st->faults[t] > b->faults[t])
            json_object_set_new(fa, cc_fault_type_name((enum cc_fault_type)t),
                                xj_u64(st->faults[t] - b->faults[t]));
    json_object_set_new(d, "faults", fa);
    json_object_set_new(d, "links", links_delta(st, b));
    json_object_set_new(d, "guidance", guidance_delta(st, b));
    json_object_set_new(d, "react_branches", xj_u64(st->react_branches - b->react_branches));
    json_object_set_new(d, "react_faults", xj_u64(st->react_faults - b->react_faults));
    json_object_set_new(d, "mid_points", xj_u64(st->mid_points - b->mid_points));
    json_object_set_new(d, "materialized", json_integer(x->materialized));
    json_object_set_new(d, "diverged", json_integer(x->diverged));
    json_object_set_new(d, "new_maxima", json_integer(rs->new_maxima));
    return d;
}

struct worker {
    const struct cc_worker_opts *w;
    const struct cc_explore_opts *o;
    struct cc_store *s;
    struct cc_store_cache cache;
    struct cc_explorer *x;
    char id[160];
    struct xcov *cov;               /* the branch's coverage */
    struct xcov *base;              /* the view's, before the branch */
    unsigned per_round;
};

static void wlog(struct worker *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wlog(struct worker *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    explore_logv(k->o, fmt, ap);
    va_end(ap);
}

/* Join: the recorded target with this machine's paths (hashes checked),
 * the settings; boot; make or compare the root. */
static int join(struct worker *k, struct cc_err *err)
{
    const struct cc_worker_opts *w = k->w;
    char *mj = NULL;
    int rc = cc_store_join(k->s, NULL, &mj, err);
    if (rc < 0)
        return rc;
    json_error_t je;
    json_t *meta = json_loads(mj, 0, &je);
    free(mj);
    if (!json_is_object(meta)) {
        json_decref(meta);
        return cc_err_set(err, EINVAL, "%s: the exploration's meta JSON is malformed: %s",
                          w->url, je.text);
    }
    char src[300];
    snprintf(src, sizeof(src), "%s (exploration %s)", w->url, w->name);
    /* the recorded target, with this machine's paths where given */
    struct cc_xtarget t;
    struct xtarget_strings ts;
    struct xsettings set;
    rc = xtarget_from_json(json_object_get(meta, "target"), src, "target", &t, &ts, err);
    if (rc == 0)
        rc = xsettings_from_json(json_object_get(meta, "options"), src, &set, err);
    json_decref(meta);
    if (rc < 0) {
        xtarget_strings_free(&ts);
        return rc;
    }
    if (w->kernel)
        t.kernel = w->kernel;
    if (w->initrd)
        t.initrd = w->initrd;
    if (w->disk_image)
        t.disk_image = w->disk_image;
    if (t.factory && (!k->o->factory || strcmp(k->o->factory->name, t.factory)))
        rc = cc_err_set(err, EINVAL, "the exploration's target is made by code (factory "
                        "'%s'): only a program with that factory can work on it", t.factory);
    if (rc == 0 && !t.factory)
        rc = cc_xtarget_check(&t, err);
    struct cc_xstate *st = rc == 0 ? xstate_new(&t, &set) : NULL;     /* copies t's strings */
    xtarget_strings_free(&ts);
    if (rc < 0)
        return rc;
    if (!st)
        return cc_err_set(err, ENOMEM, "out of memory");
    k->per_round = st->set.branches;
    st->set.stop_after_bugs = 0;    /* the store counts bugs for everyone */
    struct cc_explore_opts o = *k->o;
    o.output = w->work_dir;
    o.progress = NULL;
    rc = explorer_boot_state(st, w->work_dir, &o, &k->x, err);
    if (rc < 0)
        return rc;
    k->x->worker = true;
    st = k->x->st;
    /* the root, and what setup reached */
    json_t *rj = xstate_point_json(&st->pts[0], st->target.n_vms);
    char *root = json_dumps(rj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(rj);
    json_t *cat = json_object(), *as = json_array();
    for (size_t i = 0; i < st->n_as; i++)
        json_array_append_new(as, assert_delta(&st->as[i], NULL));
    json_object_set_new(cat, "asserts", as);
    json_object_set_new(cat, "guidance", guidance_delta(st, NULL));
    char *catj = json_dumps(cat, JSON_COMPACT);
    json_decref(cat);
    struct cc_store_result setup = {
        .edges = st->cov.edges, .n_edges = CC_COVERAGE_SIZE, .asserts = st->cov.asserts,
        .n_asserts = XCOV_ASSERT_SIZE, .delta = catj,
    };
    char *existing = NULL;
    uint64_t their_setup = 0;
    rc = root && catj ? cc_store_root(k->s, st->pts[0].id, root, st->setup_ns, &setup,
                                      &existing, &their_setup, err)
                      : cc_err_set(err, ENOMEM, "out of memory");
    if (rc == 0 && existing) {
        json_t *e = json_loads(existing, 0, NULL);
        uint64_t h = 0;
        xj_get_hex(json_object_get(e, "sim_hash"), &h);
        json_decref(e);
        if (h != st->pts[0].sim_hash || their_setup != st->setup_ns)
            rc = cc_err_set(err, EIO, "this worker's boot reached setup at %" PRIu64 " ns with "
                            "simulation hash %016" PRIx64 ", the exploration's first worker's "
                            "at %" PRIu64 " ns with %016" PRIx64 ": the run is not "
                            "deterministic across these machines (CPU model, KVM?)",
                            st->setup_ns, st->pts[0].sim_hash, their_setup, h);
    }
    free(existing);
    free(root);
    free(catj);
    return rc;
}

/* One branch: g's view, the run, the delta, the completion. */
static int one_branch(struct worker *k, uint64_t g, struct cc_worker_summary *sum,
                      struct cc_err *err)
{
    struct cc_xstate *nst;
    struct cc_store_progress pg;
    int rc = view_state(k->s, &k->cache, &nst, &pg, err);
    if (rc < 0)
        return rc;
    nst->set.stop_after_bugs = 0;
    nst->rounds_done = (unsigned)(g / k->per_round);
    nst->branches_done = g;
    if (frontier_adopt(k->x, nst) < 0) {
        cc_xstate_free(nst);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    struct cc_explorer *x = k->x;
    struct cc_xstate *st = x->st;
    struct before b;
    if (before_take(st, &b) < 0)
        return cc_err_set(err, ENOMEM, "out of memory");
    struct xmut *m = xmut_new(xseed_mix(st->set.seed, 0xd1b54a32d192ed03ull, g),
                              &st->set.weights);
    if (!m) {
        before_free(&b);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    struct round_stats rs = {0};
    x->materialized = x->diverged = 0;
    x->keep_cov = k->cov;
    xcov_clear(k->cov);
    memcpy(k->base->edges, st->cov.edges, sizeof(k->base->edges));
    memcpy(k->base->asserts, st->cov.asserts, sizeof(k->base->asserts));
    x->last_novel = false;
    double t0 = explore_now();
    rc = branch_run(x, m, &rs, err);
    xmut_free(m);
    uint64_t wall_ms = (uint64_t)((explore_now() - t0) * 1000);
    size_t sent[8], n_sent = 0;
    char *bug_path = NULL;
    json_t *d = rc < 0 ? NULL : branch_delta(x, &b, g, &rs, sent, &n_sent, &bug_path, err);
    before_free(&b);
    if (!d)
        return rc < 0 ? rc : -err->code;
    char *dj = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    /* the maps' chunks with bits the view lacked (a branch's map inside
     * this view's is inside the shared one, which only grows) */
    bool maps = x->last_novel;
    struct cc_store_result res = {
        .edges = maps ? k->cov->edges : NULL, .n_edges = CC_COVERAGE_SIZE,
        .asserts = maps ? k->cov->asserts : NULL, .n_asserts = XCOV_ASSERT_SIZE,
        .edges_base = k->base->edges, .asserts_base = k->base->asserts,
        .edges_ver = k->cache.edges_ver, .asserts_ver = k->cache.asserts_ver,
        .n_ver_e = k->cache.n_edges_ver, .n_ver_a = k->cache.n_asserts_ver,
        .delta = dj, .wall_ms = wall_ms,
    };
    struct cc_store_reply rep;
    rc = dj ? cc_store_complete(k->s, k->id, g, &res, &rep, err)
            : cc_err_set(err, ENOMEM, "out of memory");
    free(dj);
    if (rc == 0 && !rep.applied) {
        sum->late++;
        wlog(k, "branch %" PRIu64 ": another worker completed it first (its lease had "
             "expired); not counted", g + 1);
    } else if (rc == 0) {
        sum->branches++;
        /* the new points keep their snapshots under their shared ids */
        for (size_t i = 0; i < n_sent && i < rep.n_points; i++)
            st->pts[sent[i]].id = rep.point_ids[i];
        if (bug_path) {
            /* the file under this view's number gives way to the shared
             * one: bug_N.json with N from the store (none: another worker
             * had found that property first, and this one is a duplicate) */
            unsigned local = (unsigned)strtoul(strrchr(bug_path, '_') + 1, NULL, 10);
            if (rep.bug) {
                sum->bugs++;
                const struct xbug *xb = &st->bugs[st->n_bugs - 1];
                wlog(k, "bug %u: vm %u: \"%s\" at %s (round %" PRIu64 ", branch %" PRIu64
                     ", %zu faults and overrides) -> %s/bug_%u.json", rep.bug, xb->vm,
                     xb->message, xb->where, g / k->per_round + 1, g + 1, xb->size, x->dir,
                     rep.bug);
                json_t *f = json_load_file(bug_path, 0, NULL);
                char *text = f ? json_dumps(f, JSON_COMPACT) : NULL;
                json_decref(f);
                struct cc_err e2 = {0};
                struct bug_files bf;
                int frc = local_bug_files(bug_path, &bf, &e2);
                if (!text || frc < 0 || save_bug(text, &bf, rep.bug, x->dir, &e2) < 0)
                    wlog(k, "warning: bug %u: %s", rep.bug, text ? e2.msg : "out of memory");
                free(text);
                bug_files_free(&bf);
            }
            if (local != rep.bug) {
                for (size_t i = 0; i < N_BUG_SIDECARS; i++) {
                    char *p = NULL;
                    if (asprintf(&p, "%.*s%s", (int)xbug_stem(bug_path), bug_path,
                                 bug_sidecars[i].ext) >= 0)
                        unlink(p);
                    free(p);
                }
                unlink(bug_path);
            }
        }
        if (k->o->progress) {
            char line[256];
            snprintf(line, sizeof(line), "worker %s  branch %" PRIu64 "/%" PRIu64 " done %"
                     PRIu64 "  bugs %" PRIu64 "  new edges %" PRIu64, k->id, g + 1, pg.budget,
                     pg.done + 1, pg.bugs + (rep.bug ? 1 : 0), rep.new_edges);
            k->o->progress(k->o->log_opaque, line);
        }
    }
    free(bug_path);
    return rc;
}

int cc_explore_work(const struct cc_worker_opts *w, const struct cc_explore_opts *o,
                    struct cc_worker_summary *sum, struct cc_err *err)
{
    memset(sum, 0, sizeof(*sum));
    if (!w->work_dir)
        return cc_err_set(err, EINVAL, "a worker needs a directory of its own (work_dir)");
    double t0 = explore_now();
    struct worker k = {.w = w, .o = o};
    if (w->id) {
        snprintf(k.id, sizeof(k.id), "%s", w->id);
    } else {
        char host[64] = "host";
        gethostname(host, sizeof(host) - 1);
        snprintf(k.id, sizeof(k.id), "%s-%d", host, (int)getpid());
    }
    k.cov = malloc(sizeof(*k.cov));
    k.base = malloc(sizeof(*k.base));
    if (!k.cov || !k.base) {
        free(k.cov);
        free(k.base);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    struct renewer rn = {.id = k.id, .lease_ms = w->lease_ms ? w->lease_ms : LEASE_DEFAULT_MS,
                         .g = UINT64_MAX};
    int rc = cc_store_open(w->url, w->name, &k.s, err);
    if (rc == 0)
        rc = cc_store_open(w->url, w->name, &rn.s, err);
    if (rc == 0)
        rc = join(&k, err);
    if (rc == 0) {
        rn.started = pthread_create(&rn.th, NULL, renew_main, &rn) == 0;
        if (!rn.started)
            rc = cc_err_set(err, EAGAIN, "cannot start the lease renewer thread");
    }
    while (rc == 0 && (!w->max_branches || sum->branches + sum->late < w->max_branches)) {
        struct cc_store_job job;
        uint64_t wait_ms = 0;
        rc = cc_store_claim(k.s, k.id, rn.lease_ms, &job, &wait_ms, err);
        if (rc == 1) {
            rc = 0;
            break;
        }
        if (rc == 2) {
            rc = 0;
            usleep((useconds_t)((wait_ms < 1000 ? wait_ms + 10 : 1000) * 1000));
            continue;
        }
        if (rc < 0)
            break;
        atomic_store(&rn.g, job.branch);
        if (job.attempt > 1)
            wlog(&k, "branch %" PRIu64 ": taken over (attempt %u; its lease had expired)",
                 job.branch + 1, job.attempt);
        rc = one_branch(&k, job.branch, sum, err);
        atomic_store(&rn.g, UINT64_MAX);
    }
    if (rn.started) {
        atomic_store(&rn.stop, true);
        pthread_join(rn.th, NULL);
    }
    if (k.s) {
        struct cc_store_cost c;
        cc_store_cost(k.s, &c);
        sum->round_trips = c.round_trips;
        sum->bytes_out = c.bytes_out;
        sum->bytes_in = c.bytes_in;
    }
    if (o->progress)
        o->progress(o->log_opaque, "");
    sum->wall_s = explore_now() - t0;
    cc_explorer_free(k.x);
    cc_store_cache_free(&k.cache);
    cc_store_close(rn.s);
    cc_store_close(k.s);
    free(k.cov);
    free(k.base);
    return rc;
}
