/* The distributed exploration's shared store (src/dist/store.c) against a
 * real redis-server (Debian's), private to the test on a Unix socket:
 * URLs, create / join and the target check, leases (expiry, renewal, a
 * late completion refused), coverage merged server-side, points, bugs
 * deduplicated by property and by schedule, stop-after, and a Redis
 * restarted from its AOF (SIGTERM and SIGKILL) with the client
 * reconnecting and reloading its scripts. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dist/store.h"
#include "../tap.h"

static char dir[64];
static int srv = -1;
static char *url;

static void cleanup(void)
{
    cc_store_local_stop(srv, url);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (dir[0] && system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static bool has(const char *msg, const char *part)
{
    return strstr(msg, part) != NULL;
}

static void bad_urls(void)
{
    static const struct {
        const char *url, *says;
    } t[] = {
        {"http://x", "expected redis://"}, {"redis://", "no host"},
        {"redis://h:0", "bad port"},       {"redis://h:99999", "bad port"},
        {"redis://h/x", "bad database"},
        {"unix://rel/path", "absolute"},   {"unix:///x.sock?foo=1", "?db=N"},
        {"redis://h:12x", "unexpected"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct cc_err err = {0};
        struct cc_store *s = NULL;
        int rc = cc_store_open(t[i].url, "x", &s, &err);
        ok(rc == -EINVAL && has(err.msg, t[i].url) && has(err.msg, t[i].says),
           "bad URL %s: EINVAL naming it (%s)", t[i].url, err.msg);
        cc_store_close(s);
    }
    struct cc_err err = {0};
    struct cc_store *s = NULL;
    ok(cc_store_open("unix:///nonexistent/redis.sock", "x", &s, &err) < 0 &&
           has(err.msg, "/nonexistent/redis.sock"),
       "no server there: an error naming the URL (%s)", err.msg);
    ok(cc_store_open("unix:///tmp/x.sock", "a b", &s, &err) == -EINVAL && has(err.msg, "a b"),
       "a bad exploration name is refused (%s)", err.msg);
}

/* A server with a password: from the URL (redis://[USER]:PASSWORD@HOST)
 * or CC_REDIS_PASSWORD, never shown in messages. */
static void passwords(void)
{
    struct cc_err err = {0};
    struct cc_store *s = NULL;
    ok(cc_store_open("redis://ops:s%40cret@127.0.0.1:1", "x", &s, &err) < 0 &&
           has(err.msg, "redis://ops:***@127.0.0.1:1") && !has(err.msg, "cret"),
       "a URL's password is shown as *** (%s)", err.msg);
    s = NULL;
    ok(cc_store_open("redis://u:@h", "x", &s, &err) == -EINVAL &&
           has(err.msg, "redis://u:***@h") && has(err.msg, "an empty password"),
       "an empty password is refused (%s)", err.msg);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "redis-cli -s '%s' CONFIG SET requirepass 'p@ss w' >/dev/null",
             url + 7);
    ok(system(cmd) == 0, "the server now wants a password");
    struct cc_store_status st;
    s = NULL;
    ok(cc_store_open(url, "t1", &s, &err) == 0 && cc_store_status(s, &st, &err) < 0 &&
           has(err.msg, "NOAUTH"),
       "without it: the server's refusal (%s)", err.msg);
    cc_store_close(s);
    setenv("CC_REDIS_PASSWORD", "wrong", 1);
    s = NULL;
    ok(cc_store_open(url, "t1", &s, &err) == -EACCES && has(err.msg, "AUTH failed") &&
           !has(err.msg, "wrong"),
       "a wrong password: AUTH failed, the password not shown (%s)", err.msg);
    cc_store_close(s);
    setenv("CC_REDIS_PASSWORD", "p@ss w", 1);
    s = NULL;
    ok(cc_store_open(url, "t1", &s, &err) == 0 && cc_store_status(s, &st, &err) == 0 &&
           st.done == 5,
       "CC_REDIS_PASSWORD: in (%s)", err.msg);
    cc_store_close(s);
    unsetenv("CC_REDIS_PASSWORD");
    snprintf(cmd, sizeof(cmd), "redis-cli -s '%s' -a 'p@ss w' --no-auth-warning CONFIG SET "
             "requirepass '' >/dev/null", url + 7);
    ok(system(cmd) == 0, "and no password again");
}

static struct cc_store *open_or_bail(const char *url, const char *name)
{
    struct cc_err err = {0};
    struct cc_store *s = NULL;
    if (cc_store_open(url, name, &s, &err) < 0) {
        printf("Bail out! %s\n", err.msg);
        cleanup();
        exit(1);
    }
    return s;
}

static int complete(struct cc_store *s, const char *w, uint64_t g, const uint8_t *edges,
                    const char *delta, struct cc_store_reply *rep)
{
    uint8_t as[4] = {0x01, 0, 0, 0};
    struct cc_store_result r = {.edges = edges, .n_edges = edges ? 64 : 0,
                                .asserts = as, .n_asserts = 4, .delta = delta, .wall_ms = 10};
    struct cc_err err = {0};
    int rc = cc_store_complete(s, w, g, &r, rep, &err);
    if (rc < 0)
        tap_diag("complete %llu: %s", (unsigned long long)g, err.msg);
    return rc;
}

static const char *bug_delta(const char *assertion, const char *sched)
{
    static char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"bug\": {\"assertion\": \"%s\", \"sched\": \"%s\", \"json\": \"{\\\"x\\\":1}\","
             " \"vm\": 1, \"message\": \"m\", \"where\": \"f.c:1\", \"sim_ns\": \"123\","
             " \"size\": 3}}",
             assertion, sched);
    return buf;
}

/* Does hash key have these field=value pairs ("f=v", NULL-terminated)? */
static bool hash_has(struct cc_store *s, const char *key, ...)
{
    struct cc_err err = {0};
    json_t *o = NULL;
    if (cc_store_hgetall(s, key, &o, &err) < 0) {
        tap_diag("%s", err.msg);
        return false;
    }
    bool all = true;
    va_list ap;
    va_start(ap, key);
    for (const char *fv; (fv = va_arg(ap, const char *));) {
        const char *eq = strchr(fv, '=');
        char f[64];
        snprintf(f, sizeof(f), "%.*s", (int)(eq - fv), fv);
        const char *v = json_string_value(json_object_get(o, f));
        if (!v || strcmp(v, eq + 1)) {
            tap_diag("%s: %s is %s, expected %s", key, f, v ? v : "missing", eq + 1);
            all = false;
        }
    }
    va_end(ap);
    json_decref(o);
    return all;
}

/* Stop the server (SIGTERM: cleanly; SIGKILL) and start another on the
 * same directory (its AOF) and socket. */
static void restart(int sig)
{
    if (sig == SIGTERM) {
        cc_store_local_stop(srv, NULL);
    } else {
        kill(srv, sig);
        waitpid(srv, NULL, 0);
    }
    srv = -1;
    struct cc_err err = {0};
    if (cc_store_local_start(dir, &url, &srv, &err) < 0) {
        printf("Bail out! restart: %s\n", err.msg);
        cleanup();
        exit(1);
    }
}

int main(void)
{
    tap_plan(0);
    snprintf(dir, sizeof(dir), "/tmp/cc-store-XXXXXX");
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    bad_urls();

    struct cc_err err = {0};
    if (cc_store_local_start(dir, &url, &srv, &err) < 0) {
        printf("Bail out! %s\n", err.msg);
        cleanup();
        return 1;
    }
    ok(1, "a private redis-server answers on %s", url);

    /* ---- create, join ---- */
    struct cc_store *s = open_or_bail(url, "t1");
    struct cc_store_meta m = {.target_hash = "aaaa1111aaaa1111aaaa1111", .budget = 5,
                              .per_round = 2, .meta_json = "{\"target\": 1}"};
    bool created = false;
    ok(cc_store_create(s, &m, &created, &err) == 0 && created, "create: a new exploration");
    char *root = NULL;
    uint64_t setup_ns = 0;
    ok(cc_store_root(s, 1, "{\"root\": true}", 777, NULL, &root, &setup_ns, &err) == 0 &&
           !root,
       "the first worker makes the root point");
    ok(cc_store_root(s, 1, "{\"other\": true}", 778, NULL, &root, &setup_ns, &err) == 0 &&
           root && !strcmp(root, "{\"root\": true}") && setup_ns == 777,
       "the next one gets the stored root and setup time back, to compare");
    free(root);
    ok(cc_store_create(s, &m, &created, &err) == 0 && !created,
       "create again with the same target: joins it");
    struct cc_store_meta m2 = m;
    m2.target_hash = "bbbb2222bbbb2222bbbb2222";
    ok(cc_store_create(s, &m2, &created, &err) == -EEXIST && has(err.msg, "aaaa1111") &&
           has(err.msg, "bbbb2222"),
       "create with another target: refused naming both hashes (%s)", err.msg);
    char *meta = NULL;
    ok(cc_store_join(s, "aaaa1111aaaa1111aaaa1111", &meta, &err) == 0 && meta &&
           !strcmp(meta, "{\"target\": 1}"),
       "join: the creator's meta JSON");
    free(meta);
    ok(cc_store_join(s, "cccc3333cccc3333", &meta, &err) == -EINVAL &&
           has(err.msg, "cccc3333") && has(err.msg, "aaaa1111") && has(err.msg, "--kernel"),
       "join with other files: refused naming both hashes (%s)", err.msg);
    struct cc_store *none = open_or_bail(url, "nosuch");
    ok(cc_store_join(none, NULL, &meta, &err) == -ENOENT && has(err.msg, "nosuch"),
       "join an exploration that does not exist: ENOENT naming it (%s)", err.msg);
    struct cc_store_job job;
    uint64_t wait = 0;
    ok(cc_store_claim(none, "w", 1000, &job, &wait, &err) == -ENOENT,
       "claim in an exploration that does not exist: ENOENT (%s)", err.msg);
    cc_store_close(none);

    /* ---- leases ---- */
    uint64_t got[5];
    bool seq = true;
    for (int i = 0; i < 5; i++) {
        int rc = cc_store_claim(s, i < 4 ? "A" : "B", i == 4 ? 300 : 60000, &job, &wait, &err);
        seq = seq && rc == 0 && job.attempt == 1;
        got[i] = job.branch;
    }
    ok(seq && got[0] == 0 && got[4] == 4, "claims hand out branches 0..4 in order, attempt 1");
    int rc = cc_store_claim(s, "C", 1000, &job, &wait, &err);
    ok(rc == 2 && wait <= 300, "budget handed out, leases held: wait (%d, %llu ms)", rc,
       (unsigned long long)wait);

    /* ---- coverage, points, bugs ---- */
    uint8_t e1[64] = {0};
    e1[3] = 0x01;
    e1[10] = 0x03;
    struct cc_store_reply rep;
    const char *d0 = "{\"asserts\": [{\"id\": \"00ff\", \"kind\": 1, \"line\": 9, \"message\": "
                     "\"m\", \"file\": \"a.c\", \"func\": \"f\", \"hits\": 5, \"passes\": 5, "
                     "\"fails\": 0, \"hit\": 1, \"failed\": 0, \"vms\": 1}],"
                     " \"ahits\": [0], \"points\": [{\"parent\": 1, \"score\": 2.5, \"json\": "
                     "\"{}\"}, {\"parent\": -1, \"score\": 1, \"json\": \"{}\"}],"
                     " \"picks\": [[1, 1]], \"faults\": {\"partition\": 2},"
                     " \"links\": [[\"0:1:sent\", 7]], \"guidance\": [[\"g\", 5]]}";
    rc = complete(s, "A", 0, e1, d0, &rep);
    ok(rc == 0 && rep.applied && rep.new_buckets == 3 &&
           rep.new_edges == 2 && rep.new_assert_bits == 1,
       "complete 0: new buckets 3, edges 2, assertion bits 1 (%llu %llu %llu)",
       (unsigned long long)rep.new_buckets, (unsigned long long)rep.new_edges,
       (unsigned long long)rep.new_assert_bits);
    ok(rep.n_points == 2 && rep.point_ids[0] == 2 && rep.point_ids[1] == 3,
       "its two points get ids 2 and 3");
    ok(hash_has(s, "ptparent", "3=2", "2=1", NULL),
       "point 3's parent is point 2 (the branch's own), 2's is 1");
    ok(complete(s, "A", 0, e1, d0, &rep) == 0 && !rep.applied,
       "complete 0 again: refused (nothing counted twice)");
    uint8_t e2[64] = {0};
    e2[10] = 0x04;
    ok(complete(s, "A", 1, e2, bug_delta("dead", "s1"), &rep) == 0 && rep.applied &&
           rep.new_buckets == 1 && rep.new_edges == 0 && rep.bug == 1,
       "complete 1: a new bucket of a known edge; its bug is bug 1");
    ok(complete(s, "A", 2, NULL, bug_delta("dead", "s2"), &rep) == 0 && rep.applied &&
           rep.bug == 0,
       "complete 2: the same property with another schedule is a duplicate");
    ok(complete(s, "A", 3, NULL, bug_delta("dead", "s2"), &rep) == 0 && rep.applied &&
           rep.bug == 0,
       "complete 3: the same schedule again is ignored");
    ok(hash_has(s, "bugmeta:1", "dups=1", "sim_ns=123", "round=1", NULL),
       "bug 1: 1 duplicate (not 2), its round and time");
    char *bj = NULL;
    ok(cc_store_get(s, "bug:1", &bj, NULL, &err) == 0 && !strcmp(bj, "{\"x\":1}"),
       "bug 1's file is stored as given");
    free(bj);
    ok(hash_has(s, "as:00ff", "hits=5", "file=a.c", "vms=1", NULL),
       "the assertion table: catalog entry and summed counts");
    ok(hash_has(s, "round:1", "branches=2", "edges=2", "bugs=1", NULL),
       "round 1 (branches 0 and 1): 2 branches, 2 edges, 1 bug");
    ok(hash_has(s, "faults", "partition=2", NULL) && hash_has(s, "links", "0:1:sent=7", NULL) &&
           hash_has(s, "guidance", "g=5", NULL) && hash_has(s, "picks", "1=1", NULL),
       "fault counts, link traffic, guidance maxima and picks");

    /* ---- an expired lease ---- */
    usleep(400 * 1000);
    rc = cc_store_claim(s, "C", 60000, &job, &wait, &err);
    ok(rc == 0 && job.branch == 4 && job.attempt == 2,
       "B's lease on 4 expired: C gets branch 4, attempt 2 (%d %llu %u)", rc,
       (unsigned long long)job.branch, job.attempt);
    ok(cc_store_renew(s, "B", 4, 1000, &err) == 1, "B cannot renew it any more");
    ok(cc_store_renew(s, "C", 4, 60000, &err) == 0, "C can");
    ok(complete(s, "C", 4, NULL, "{}", &rep) == 0 && rep.applied, "C completes 4");
    ok(complete(s, "B", 4, NULL, "{}", &rep) == 0 && !rep.applied,
       "B's late completion of 4 is refused");
    ok(cc_store_claim(s, "C", 1000, &job, &wait, &err) == 1, "every branch done: no more work");

    struct cc_store_status st;
    rc = cc_store_status(s, &st, &err);
    ok(rc == 0 && st.done == 5 && st.budget == 5 && st.bugs == 1 &&
           st.edges == 2 && st.buckets == 4 && st.leased == 0 && st.frontier == 3,
       "status: 5/5 done, 1 bug, 2 edges, 4 buckets, frontier 3 (%llu %llu %llu %llu %llu)",
       (unsigned long long)st.done, (unsigned long long)st.bugs,
       (unsigned long long)st.edges, (unsigned long long)st.buckets,
       (unsigned long long)st.frontier);

    /* ---- the view: the shared state as a checkpoint ---- */
    struct cc_store_cache cache = {0};
    json_t *v = NULL;
    struct cc_store_progress pg;
    rc = cc_store_view(s, &cache, &v, &pg, &err);
    json_t *hist = json_object_get(v, "history"), *bugs = json_object_get(v, "bugs"),
           *pts = json_object_get(v, "points"), *cov = json_object_get(v, "coverage");
    ok(rc == 0 && json_integer_value(json_object_get(v, "rounds_done")) == 2 &&
           json_array_size(hist) == 2 && json_array_size(pts) == 3 &&
           json_array_size(json_object_get(cov, "edges")) == 2 && pg.done == 5 && pg.bugs == 1,
       "view: 2 complete rounds (the third has 1 of 2), 3 frontier points, 2 edges (%s)",
       rc ? err.msg : "");
    json_t *b1 = json_array_get(bugs, 0);
    ok(json_integer_value(json_object_get(b1, "dups")) == 1 &&
           !strcmp(json_string_value(json_object_get(b1, "assertion_id")) ?: "", "dead") &&
           json_integer_value(json_object_get(json_array_get(pts, 2), "id")) == 2 &&
           json_integer_value(json_object_get(json_array_get(pts, 2), "parent")) == 1,
       "view: bug 1 with its duplicate; point 2 (last: by score) has parent 1");
    json_t *ln = json_array_get(json_object_get(v, "links"), 0);
    ok(json_integer_value(json_object_get(json_object_get(v, "faults"), "partition")) == 2 &&
           json_integer_value(json_object_get(ln, "sent")) == 7 &&
           json_integer_value(json_object_get(ln, "to")) == 1,
       "view: fault counts and link traffic in the checkpoint's form");
    json_decref(v);
    struct cc_store_cost k0, k1;
    cc_store_cost(s, &k0);
    rc = cc_store_view(s, &cache, &v, NULL, &err);
    cc_store_cost(s, &k1);
    ok(rc == 0 && json_array_size(json_object_get(v, "points")) == 3 &&
           k1.bytes_in - k0.bytes_in < 2000,
       "view again: points from the cache, maps not sent again (%llu bytes)",
       (unsigned long long)(k1.bytes_in - k0.bytes_in));
    json_decref(v);
    cc_store_cache_free(&cache);

    /* ---- only the chunks with bits the worker's view lacked travel ---- */
    {
        struct cc_store *s3 = open_or_bail(url, "t3");
        struct cc_store_meta m4 = m;
        m4.budget = 2;
        cc_store_create(s3, &m4, &created, &err);
        static uint8_t big[1024], base[1024];
        big[10] = 0x03;             /* chunk 0: the view had it */
        base[10] = 0x03;
        big[700] = 0x01;            /* chunk 2: new */
        struct cc_store_result r = {.edges = big, .edges_base = base, .n_edges = sizeof(big),
                                    .delta = "{}", .wall_ms = 1};
        struct cc_store_cost c0, c1;
        struct cc_store_result empty = {.delta = "{}"};
        cc_store_claim(s3, "Z", 60000, &job, &wait, &err);
        cc_store_complete(s3, "Z", job.branch, &empty, &rep, &err);   /* loads the script */
        cc_store_claim(s3, "Z", 60000, &job, &wait, &err);
        cc_store_cost(s3, &c0);
        rc = cc_store_complete(s3, "Z", job.branch, &r, &rep, &err);
        cc_store_cost(s3, &c1);
        uint64_t sent = c1.bytes_out - c0.bytes_out;
        ok(rc == 0 && rep.new_buckets == 1 && rep.new_edges == 1 && sent < 600,
           "a map's chunks the view had stay home: 1 new bit, %llu bytes sent for a 1 KB map",
           (unsigned long long)sent);
        struct cc_store_cache c3 = {0};
        json_t *v3 = NULL;
        rc = cc_store_view(s3, &c3, &v3, NULL, &err);
        json_t *e3 = json_object_get(json_object_get(v3, "coverage"), "edges");
        ok(rc == 0 && json_array_size(e3) == 1 &&
           json_integer_value(json_array_get(json_array_get(e3, 0), 0)) == 700,
           "the view has the merged chunk (edge 700) and nothing else");
        json_decref(v3);
        cc_store_cache_free(&c3);
        cc_store_close(s3);
    }

    /* ---- stop after a bug ---- */
    struct cc_store *s2 = open_or_bail(url, "t2");
    struct cc_store_meta m3 = m;
    m3.budget = 100;
    m3.stop_after = 1;
    ok(cc_store_create(s2, &m3, &created, &err) == 0 && created, "t2: stop after 1 bug");
    cc_store_claim(s2, "A", 60000, &job, &wait, &err);
    complete(s2, "A", job.branch, NULL, bug_delta("beef", "x"), &rep);
    ok(cc_store_claim(s2, "A", 60000, &job, &wait, &err) == 1, "after its bug: no more work");
    cc_store_close(s2);

    /* ---- stopped (a time limit) ---- */
    struct cc_store *s4 = open_or_bail(url, "t4");
    struct cc_store_meta m4 = m;
    m4.budget = 100;
    ok(cc_store_create(s4, &m4, &created, &err) == 0 && created, "t4: a budget of 100");
    ok(cc_store_claim(s4, "A", 60000, &job, &wait, &err) == 0, "a branch is handed out");
    ok(cc_store_stop(s4, &err) == 0, "stop");
    ok(cc_store_claim(s4, "B", 60000, &job, &wait, &err) == 1,
       "after a stop: no more work for anyone");
    cc_store_close(s4);

    /* ---- Redis restarts from its AOF ---- */
    struct cc_store_cost c0;
    cc_store_cost(s, &c0);
    restart(SIGTERM);
    struct cc_store_status st2;
    err = (struct cc_err){0};
    ok(cc_store_status(s, &st2, &err) == 0 && st2.done == 5 && st2.bugs == 1 &&
           st2.buckets == 4,
       "after a restart (SIGTERM) the same connection reconnects; the state is back (%s)",
       err.msg);
    restart(SIGKILL);
    ok(cc_store_status(s, &st2, &err) == 0 && st2.done == 5 && st2.frontier == 3,
       "after SIGKILL and a restart, too: everything written a second earlier is back (%s)",
       err.msg);
    struct cc_store_cost c1;
    cc_store_cost(s, &c1);
    ok(c1.round_trips > c0.round_trips && c0.bytes_out > 0 && c0.bytes_in > 0,
       "costs are counted (%llu round trips, %llu bytes out, %llu in)",
       (unsigned long long)c1.round_trips, (unsigned long long)c1.bytes_out,
       (unsigned long long)c1.bytes_in);
    cc_store_close(s);
    passwords();
    cleanup();
    free(url);
    return tap_exit();
}
