/* The explorer's pieces that need no KVM (src/explore): recipes and their
 * JSON, bug files (round trip, hash check, clear errors for bad files),
 * checkpoints (round trip, refusal of corrupt ones), checkpoints written by
 * earlier versions (argv[1]: tests/fixtures/explore; they load, write back
 * byte for byte and render the same report), guidance maxima in the state,
 * bug files of targets made by a factory, coverage novelty, ddmin on a
 * synthetic predicate, and the mutators' determinism. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chaoscontrol/explore.h"
#include "chaoscontrol/history.h"
#include "explore/explore_internal.h"
#include "explore/state_internal.h"
#include "../tap.h"

static char tmpdir[256];

static char *path_in(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
    return p;
}

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fwrite(text, 1, len, f);
    fclose(f);
}

static void add_fault(struct cc_recipe *r, enum cc_fault_type t, uint64_t at, unsigned vm,
                      uint64_t dur)
{
    struct cc_fault f;
    cc_fault_init(&f, t, at);
    f.vm = vm;
    f.duration_ns = dur;
    if (t == CC_FAULT_PARTITION) {
        f.sides[0] = 1;
        f.sides[1] = 6;
        f.n_sides = 2;
    }
    struct cc_err err = {0};
    if (cc_schedule_add(r->sched, &f, &err) < 0)
        tap_diag("cc_schedule_add: %s", err.msg);
}

static struct cc_recipe *sample_recipe(void)
{
    struct cc_recipe *r = cc_recipe_new();
    add_fault(r, CC_FAULT_PARTITION, 1500 * CC_MSEC, 0, 300 * CC_MSEC);
    add_fault(r, CC_FAULT_PAUSE, 1200 * CC_MSEC, 2, 100 * CC_MSEC);
    add_fault(r, CC_FAULT_RESTART, 1700 * CC_MSEC, 1, 0);
    struct cc_xoverride o[] = {{2, 0, 7, 3}, {0, 1, 4, 99}, {0, 0, 12, 5}, {0, 0, 3, 1}};
    for (size_t i = 0; i < 4; i++)
        cc_recipe_add_override(r, &o[i]);
    cc_recipe_add_stop(r, 2 * CC_SEC);
    cc_recipe_add_stop(r, 1 * CC_SEC);
    cc_recipe_add_stop(r, 3 * CC_SEC);
    r->end_ns = 3 * CC_SEC;
    return r;
}

static int parse_recipe(const char *text, unsigned n_vms, struct cc_recipe **out,
                        struct cc_err *err)
{
    return cc_recipe_parse(text, "test.json", n_vms, out, err);
}

static void test_recipe(void)
{
    struct cc_recipe *r = sample_recipe();
    /* overrides sorted by (vm, life, index), stops ascending */
    ok(r->n_ov == 4 && r->ov[0].vm == 0 && r->ov[0].life == 0 && r->ov[0].index == 3 &&
       r->ov[1].index == 12 && r->ov[2].life == 1 && r->ov[3].vm == 2,
       "overrides are kept sorted by (vm, life, index)");
    struct cc_xoverride rep = {0, 0, 12, 77};
    cc_recipe_add_override(r, &rep);
    ok(r->n_ov == 4 && r->ov[1].value == 77, "adding an existing (vm, life, index) replaces it");
    ok(r->n_stops == 3 && r->stops[0] == CC_SEC && r->stops[2] == 3 * CC_SEC,
       "stops ascending");
    is_int(cc_recipe_size(r), 7, "size = 3 faults + 4 overrides");

    uint64_t *seg;
    long n = cc_recipe_segments(r, 1100 * CC_MSEC, &seg);
    /* stops 2 s, 3 s and the restart at 1.7 s, after 1.1 s */
    ok(n == 3 && seg[0] == 1700 * CC_MSEC && seg[1] == 2 * CC_SEC && seg[2] == 3 * CC_SEC,
       "segments: restart times and stops after the start, end last");
    free(seg);

    char *t1 = cc_recipe_to_json(r);
    struct cc_err err = {0};
    struct cc_recipe *back = NULL;
    int rc = parse_recipe(t1, 3, &back, &err);
    ok(rc == 0, "recipe JSON parses back (%s)", rc ? err.msg : "ok");
    char *t2 = back ? cc_recipe_to_json(back) : NULL;
    ok(t2 && !strcmp(t1, t2), "recipe JSON round trip is exact");
    ok(back && back->end_ns == r->end_ns && back->n_ov == r->n_ov &&
       cc_schedule_count(back->sched) == 3 && back->ov[1].value == 77,
       "round trip keeps end, overrides and faults");
    free(t2);
    cc_recipe_free(back);

    /* an override for VM 2 against 2 VMs is out of range */
    struct cc_recipe *o3 = cc_recipe_new();
    struct cc_xoverride ov = {2, 0, 1, 1};
    cc_recipe_add_override(o3, &ov);
    o3->end_ns = CC_SEC;
    char *t3 = cc_recipe_to_json(o3);
    cc_recipe_free(o3);
    back = NULL;
    rc = parse_recipe(t3, 2, &back, &err);
    free(t3);
    ok(rc < 0 && strstr(err.msg, "test.json") && strstr(err.msg, "overrides"),
       "an override for a VM that does not exist is refused, naming file and field: %s",
       err.msg);
    cc_recipe_free(back);
    free(t1);

    struct cc_recipe *c = cc_recipe_clone(r);
    char *a = cc_recipe_to_json(r), *b = cc_recipe_to_json(c);
    ok(c && !strcmp(a, b), "clone is equal");
    free(a);
    free(b);
    cc_recipe_free(c);
    cc_recipe_free(r);
}

/* ---- bug files ---- */

static struct cc_bug *sample_bug(const char *kernel, const char *initrd)
{
    struct cc_bug *b = calloc(1, sizeof(*b));
    b->number = 3;
    cc_xtarget_init(&b->target);
    b->kernel = strdup(kernel);
    b->initrd = strdup(initrd);
    b->append = strdup("raft_id={id} raft_bug=double_vote");
    b->target.kernel = b->kernel;
    b->target.initrd = b->initrd;
    b->target.append = b->append;
    b->target.n_vms = 3;
    b->target.seed = 18446744073709551615ull;     /* beyond int64: a decimal string */
    b->target.disk_size = 1 << 20;
    struct cc_err err = {0};
    if (cc_xtarget_hash(&b->target, &err) < 0)
        tap_diag("hash: %s", err.msg);
    b->recipe = sample_recipe();
    b->fail.failed = true;
    b->fail.vm = 2;
    b->fail.id = 0xbc7e5aee3e57093aull;
    b->fail.kind = CC_ASSERT_ALWAYS;
    b->fail.line = 375;
    snprintf(b->fail.message, sizeof(b->fail.message), "election safety");
    snprintf(b->fail.file, sizeof(b->fail.file), "guests/raft/main.c");
    snprintf(b->fail.function, sizeof(b->fail.function), "cb_check");
    snprintf(b->fail.details, sizeof(b->fail.details), "{\"term\":1}");
    b->fail.sim_ns = 3 * CC_SEC;        /* a bug's recipe ends at its failure */
    b->fail.vm_ns = 2999994800ull;
    b->fail.exit = 15798;
    b->round = 5;
    b->branch = 36;
    b->wall_s = 88.25;
    b->mode = CC_XMODE_INPUT;
    b->choices[0] = 31;
    b->choices[1] = 28;
    b->choices[2] = 40;
    return b;
}

/* Load text as a bug file; returns the error message (or "" on success). */
static const char *load_text(const char *name, const char *text)
{
    static struct cc_err err;
    memset(&err, 0, sizeof(err));
    write_text(path_in(name), text, strlen(text));
    struct cc_bug *b = NULL;
    int rc = cc_bug_load(path_in(name), &b, &err);
    cc_bug_free(b);
    return rc < 0 ? err.msg : "";
}

/* Replace the first occurrence of from in text (malloc'd result). */
static char *replace(const char *text, const char *from, const char *to)
{
    const char *p = strstr(text, from);
    if (!p)
        return strdup(text);
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
    return out;
}

static void expect_error(const char *what, const char *name, const char *text,
                         const char *needle)
{
    const char *msg = load_text(name, text);
    ok(*msg && strstr(msg, name) && strstr(msg, needle), "%s: refused, naming the file and "
       "'%s': %s", what, needle, msg);
}

static void test_bug_files(void)
{
    write_text(path_in("bzImage"), "not really a kernel", 19);
    write_text(path_in("raft.initrd"), "not really an initrd", 20);
    struct cc_bug *b = sample_bug(path_in("bzImage"), path_in("raft.initrd"));
    struct cc_err err = {0};
    ok(cc_bug_save(b, path_in("bug_3.json"), &err) == 0, "bug file saved");
    struct stat st;
    ok(stat(path_in("bug_3.json.tmp"), &st) < 0, "no temporary file left behind");
    {
        /* the report in words beside it */
        FILE *rf = fopen(path_in("bug_3.txt"), "r");
        char rep[8192] = "";
        size_t rn = rf ? fread(rep, 1, sizeof(rep) - 1, rf) : 0;
        rep[rn] = 0;
        if (rf)
            fclose(rf);
        char want[4200];
        snprintf(want, sizeof(want), "reproduce: chaoscontrol reproduce --bug %s",
                 path_in("bug_3.json"));
        ok(strstr(rep, "bug 3: ") && strstr(rep, "recipe: ") && strstr(rep, "fault    at ") &&
           strstr(rep, want) && strstr(rep, "minimize:  chaoscontrol minimize --bug "),
           "bug_3.txt: the failure, the schedule and the commands");
        tap_diag("%.400s", rep);
    }
    {
        /* a dlog beside it (explore --dlog-bugs): named in the report, not in the JSON */
        char *r0 = cc_bug_report(b, path_in("bug_3.json")), *j0 = cc_bug_to_json(b);
        b->dlog_file = strdup("bug_3.dlog");
        char *r1 = cc_bug_report(b, path_in("bug_3.json")), *j1 = cc_bug_to_json(b);
        ok(r0 && !strstr(r0, "determinism log") && r1 &&
           strstr(r1, "\ndeterminism log: bug_3.dlog beside this file") &&
           strstr(r1, "'chaoscontrol reproduce --dlog F'"),
           "the report names the dlog when there is one, and only then");
        ok(j0 && j1 && !strcmp(j0, j1), "the dlog's name is not part of the bug file's JSON");
        free(b->dlog_file);
        b->dlog_file = NULL;
        free(r0);
        free(r1);
        free(j0);
        free(j1);
    }
    struct cc_bug *l = NULL;
    int rc = cc_bug_load(path_in("bug_3.json"), &l, &err);
    ok(rc == 0, "bug file loads back (%s)", rc ? err.msg : "ok");
    char *t1 = cc_bug_to_json(b), *t2 = l ? cc_bug_to_json(l) : NULL;
    ok(t2 && !strcmp(t1, t2), "bug file round trip is exact");
    ok(l && l->target.seed == b->target.seed && l->fail.id == b->fail.id &&
       l->fail.sim_ns == b->fail.sim_ns && l->fail.exit == 15798 && l->mode == CC_XMODE_INPUT &&
       l->choices[2] == 40 && !strcmp(l->target.append, b->append),
       "round trip keeps seed, failure, mode, choices and command line");
    ok(l && cc_xtarget_check(&l->target, &err) == 0, "hash check passes on the same files");

    /* a rebuilt initrd: the check names the file and says it differs */
    write_text(path_in("raft.initrd"), "a rebuilt initrd!!!!", 20);
    memset(&err, 0, sizeof(err));
    rc = l ? cc_xtarget_check(&l->target, &err) : -1;
    ok(rc < 0 && strstr(err.msg, "raft.initrd") && strstr(err.msg, "SHA-256"),
       "a changed initrd is refused: %s", err.msg);
    write_text(path_in("raft.initrd"), "not really an initrd", 20);
    cc_bug_free(l);

    /* bad files: each message starts with the file name and names the field */
    memset(&err, 0, sizeof(err));
    rc = cc_bug_load(path_in("no_such_bug.json"), &l, &err);
    ok(rc < 0 && strstr(err.msg, "no_such_bug.json"), "a missing file is named: %s", err.msg);
    expect_error("not JSON", "garbage.json", "this is not json", "invalid JSON");
    char trunc[512];
    snprintf(trunc, sizeof(trunc), "%.*s", (int)(strlen(t1) / 2), t1);
    expect_error("truncated", "truncated.json", trunc, "invalid JSON");
    expect_error("empty", "empty.json", "", "invalid JSON");
    expect_error("an array", "array.json", "[1, 2]", "not a JSON object");
    char *v2 = replace(t1, "\"version\": 1", "\"version\": 2");
    expect_error("a newer version", "v2.json", v2, "version 2");
    free(v2);
    char *v0 = replace(t1, "\"version\": 1", "\"version\": 0");
    expect_error("version 0", "v0.json", v0, "version 0");
    free(v0);
    char *nf = replace(t1, "chaoscontrol-bug", "chaoscontrol-explore-checkpoint");
    expect_error("another format", "format.json", nf, "format");
    free(nf);
    char *nm = replace(t1, "\"message\": \"election safety\",", "");
    expect_error("no failure message", "nomsg.json", nm, "failure.message");
    free(nm);
    char *bh = replace(t1, "\"kernel_sha256\": \"", "\"kernel_sha256\": \"zz");
    expect_error("a malformed hash", "hash.json", bh, "target.kernel_sha256");
    free(bh);
    char *vm = replace(t1, "\"vms\": 3", "\"vms\": 2");
    expect_error("a failure in VM 2 of 2", "vms.json", vm, "out of range");
    free(vm);
    char *uk = replace(t1, "\"bug\": 3", "\"bug\": 3, \"surprise\": 1");
    expect_error("an unknown key", "unknown.json", uk, "surprise");
    free(uk);
    /* found (round, branch, mode) is optional: without it the mode reads
     * as fault, and the file round-trips (found by fuzz_bugfile: it wrote
     * mode "?", which read back as fault) */
    const char *f0 = strstr(t1, "\"found\""), *f1 = f0 ? strchr(f0, '}') : NULL;
    char nofound[4096];
    snprintf(nofound, sizeof(nofound), "%.*s%s", f0 ? (int)(f0 - t1) : 0, t1,
             f1 ? f1 + 3 : "");
    struct cc_bug *nfb = NULL;
    rc = cc_bug_parse(nofound, "nofound.json", &nfb, &err);
    char *n1 = rc == 0 ? cc_bug_to_json(nfb) : NULL;
    struct cc_bug *nfb2 = NULL;
    char *n2 = n1 && cc_bug_parse(n1, "again.json", &nfb2, &err) == 0 ? cc_bug_to_json(nfb2) : NULL;
    ok(rc == 0 && nfb->mode == CC_XMODE_FAULT && n2 && !strcmp(n1, n2),
       "a bug file without \"found\" loads (mode fault) and round-trips (%s)",
       rc ? err.msg : "ok");
    free(n1);
    free(n2);
    cc_bug_free(nfb);
    cc_bug_free(nfb2);
    char *tt = replace(t1, "\"end\": \"3s\"", "\"end\": \"three seconds\"");
    expect_error("a malformed time", "time.json", tt, "end");
    free(tt);
    free(t1);
    free(t2);
    cc_bug_free(b);

    /* compare: the same failure, and what differs */
    b = sample_bug(path_in("bzImage"), path_in("raft.initrd"));
    struct cc_xrun_result res = {0};
    res.fail = b->fail;
    struct cc_repro rp;
    cc_bug_compare(b, &res, &rp);
    ok(rp.same, "the same failure compares equal");
    res.fail.sim_ns++;
    cc_bug_compare(b, &res, &rp);
    ok(!rp.same && strstr(rp.diff, "simulation time"), "a later failure is not the same: %s",
       rp.diff);
    res.fail = b->fail;
    res.fail.id ^= 1;
    cc_bug_compare(b, &res, &rp);
    ok(!rp.same && strstr(rp.diff, "different assertion"), "another assertion: %s", rp.diff);
    memset(&res, 0, sizeof(res));
    cc_bug_compare(b, &res, &rp);
    ok(!rp.same && strstr(rp.diff, "no assertion failed"), "no failure: %s", rp.diff);
    cc_bug_free(b);
}

/* ---- the target's processor (issue 20): recorded when not the default ---- */

static void test_bug_cpu(void)
{
    struct cc_bug *b = sample_bug(path_in("bzImage"), path_in("raft.initrd"));
    struct cc_err err = {0};
    char *plain = cc_bug_to_json(b);
    ok(plain && !strstr(plain, "\"cpu\""), "a target with the default processor has no \"cpu\" "
       "(old files read back byte for byte)");
    struct cc_cpu_model *m = &b->target.cpu;
    memcpy(m->id.vendor, "AuthenticAMD", 13);
    m->id.family = 25;
    m->id.model = 0x21;
    m->id.stepping = 2;
    snprintf(m->id.brand, sizeof(m->id.brand), "%s", "AMD EPYC-like 48 characters long brand string!!!");
    m->tsc_khz = 2450000;
    m->avx2 = true;
    char *t1 = cc_bug_to_json(b);
    ok(t1 && strstr(t1, "\"cpu\": {") && strstr(t1, "\"vendor\": \"AuthenticAMD\"") &&
       strstr(t1, "\"tsc_khz\": 2450000") && strstr(t1, "\"avx2\": true"),
       "another processor is recorded as target.cpu");
    struct cc_bug *l = NULL;
    int rc = cc_bug_parse(t1, "cpu.json", &l, &err);
    char *t2 = rc == 0 ? cc_bug_to_json(l) : NULL;
    ok(rc == 0 && t2 && !strcmp(t1, t2), "it round-trips exactly (%s)", rc ? err.msg : "ok");
    ok(l && !strcmp(l->target.cpu.id.vendor, "AuthenticAMD") && l->target.cpu.id.family == 25 &&
       l->target.cpu.id.model == 0x21 && l->target.cpu.id.stepping == 2 &&
       strlen(l->target.cpu.id.brand) == 48 && l->target.cpu.tsc_khz == 2450000 &&
       l->target.cpu.avx2 && !l->target.cpu.avx512,
       "every field comes back (a 48-character brand too)");
    cc_bug_free(l);
    l = NULL;
    rc = cc_bug_parse(plain, "old.json", &l, &err);
    struct cc_cpu_model d;
    cc_cpu_model_default(&d);
    ok(rc == 0 && l && cc_cpu_model_is_default(&l->target.cpu) && l->target.cpu.tsc_khz == 3000000,
       "a file without \"cpu\" loads with the default processor");
    cc_bug_free(l);
    /* only some fields: the rest keep their defaults */
    char *part = replace(plain, "\"cmdline\"", "\"cpu\": {\"tsc_khz\": 1000000}, \"cmdline\"");
    l = NULL;
    rc = cc_bug_parse(part, "part.json", &l, &err);
    ok(rc == 0 && l && l->target.cpu.tsc_khz == 1000000 &&
       !strcmp(l->target.cpu.id.vendor, d.id.vendor) && l->target.cpu.id.model == d.id.model,
       "a partial \"cpu\" keeps the defaults of the fields it leaves out (%s)",
       rc ? err.msg : "ok");
    cc_bug_free(l);
    free(part);
    static const struct { const char *what, *from, *to, *needle; } bad[] = {
        {"cpu not an object", "\"cpu\": {", "\"cpu\": 5, \"x\": {", "target.cpu: not an object"},
        {"a vendor of 3 characters", "\"AuthenticAMD\"", "\"AMD\"",
         "target.cpu: CPU vendor 'AMD' must be exactly 12"},
        {"a vendor that is not a string", "\"AuthenticAMD\"", "12", "target.cpu.vendor: not a string"},
        {"a brand of 49 characters", "brand string!!!\"", "brand string!!!!\"",
         "target.cpu.brand: longer than 48"},
        {"a family that is not a number", "\"family\": 25", "\"family\": \"six\"",
         "target.cpu.family: not a non-negative integer"},
        {"family 0", "\"family\": 25", "\"family\": 0", "CPU family 0 is not in 1-270"},
        {"model 256", "\"model\": 33", "\"model\": 256", "CPU model 256 is not in 0-255"},
        {"stepping 16", "\"stepping\": 2", "\"stepping\": 16", "CPU stepping 16 is not in 0-15"},
        {"tsc_khz beyond 32 bits", "\"tsc_khz\": 2450000", "\"tsc_khz\": 5000000000",
         "target.cpu.tsc_khz: 5000000000 is too large"},
        {"tsc_khz 0", "\"tsc_khz\": 2450000", "\"tsc_khz\": 0", "TSC frequency 0 kHz is not in"},
        {"avx2 not a boolean", "\"avx2\": true", "\"avx2\": 1", "target.cpu.avx2: not true or false"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *t = replace(t1, bad[i].from, bad[i].to);
        ok(strcmp(t, t1) != 0, "%s: the file was changed", bad[i].what);
        expect_error(bad[i].what, "badcpu.json", t, bad[i].needle);
        free(t);
    }
    free(plain);
    free(t1);
    free(t2);
    cc_bug_free(b);

    /* cc_cpu_model_check on its own */
    struct cc_cpu_model c = d;
    ok(cc_cpu_model_check(&c, &err) == 0, "the default model is valid");
    c.id.family = 15;
    c.id.model = 255;
    ok(cc_cpu_model_check(&c, &err) == 0, "family 15 takes model 255 (extended model)");
    c.id.family = 14;
    memset(&err, 0, sizeof(err));
    ok(cc_cpu_model_check(&c, &err) < 0 && strstr(err.msg, "not in 0-15"),
       "family 14 does not: %s", err.msg);
    c = d;
    c.id.family = CC_CPU_MAX_FAMILY;
    ok(cc_cpu_model_check(&c, &err) == 0, "family 270 (15 + 255) is the largest");
    c.id.family = CC_CPU_MAX_FAMILY + 1;
    ok(cc_cpu_model_check(&c, &err) < 0, "271 is not");
    c = d;
    memcpy(c.id.vendor, "Genuine\tntel", 13);
    memset(&err, 0, sizeof(err));
    ok(cc_cpu_model_check(&c, &err) < 0 && strstr(err.msg, "printable"),
       "a control character in the vendor is refused: %s", err.msg);
    c = d;
    c.tsc_khz = CC_CPU_MAX_TSC_KHZ + 1;
    ok(cc_cpu_model_check(&c, &err) < 0, "a TSC above 10 GHz is refused");
    c.tsc_khz = CC_CPU_MIN_TSC_KHZ;
    ok(cc_cpu_model_check(&c, &err) == 0, "1 MHz is accepted");
}

/* ---- checkpoints ---- */

static struct cc_xstate *sample_state(void)
{
    struct cc_explore_opts o;
    cc_explore_opts_default(&o);
    o.mode = CC_XMODE_FAULT;
    o.branches = 12;
    o.seed = 99;
    struct xsettings set;
    xsettings_from_opts(&set, &o);
    struct cc_xtarget t;
    cc_xtarget_init(&t);
    t.kernel = path_in("bzImage");
    t.initrd = path_in("raft.initrd");
    t.n_vms = 3;
    t.seed = 7;
    struct cc_err err = {0};
    cc_xtarget_hash(&t, &err);
    struct cc_xstate *x = xstate_new(&t, &set);
    x->setup_ns = 15400000;
    struct xpoint *root = xstate_point_add(x);
    root->recipe = cc_recipe_new();
    root->recipe->end_ns = x->setup_ns;
    root->in_frontier = true;
    root->sim_hash = 0x1234;
    root->alive[0] = root->alive[1] = root->alive[2] = true;
    struct xpoint *p = xstate_point_add(x);
    p->parent = 1;
    p->recipe = sample_recipe();
    p->t = 3 * CC_SEC;
    p->sim_hash = 0xfeedface12345678ull;
    p->in_frontier = true;
    p->round = 2;
    p->depth = 1;
    p->life[1] = 1;
    p->next_choice[0] = 13;
    p->alive[0] = p->alive[2] = true;
    struct xpoint *gone = xstate_point_add(x);     /* evicted: lineage only */
    gone->parent = 2;
    struct xcov *c = calloc(1, sizeof(*c));
    c->edges[10] = 1;
    c->edges[4000] = 8;
    xcov_add_assert(c, 0xabcull, 1, XCOV_HIT | XCOV_PASS);
    covmap_merge(&x->cov, c, NULL);
    free(c);
    struct cc_assertion a = {.id = 0xabc, .kind = CC_ASSERT_SOMETIMES, .line = 12,
                             .message = "leader elected", .file = "main.c", .function = "f"};
    int i = xstate_assert_index(x, &a);
    x->as[i].hits = 5;
    x->as[i].passes = 4;
    x->as[i].vms_hit = 6;
    x->rounds_done = 2;
    x->branches_done = 24;
    xstate_round_add(x, &(struct xround){.round = 1, .branches = 12, .edges = 2,
                                         .new_edges = 2});
    xstate_round_add(x, &(struct xround){.round = 2, .branches = 12, .edges = 2, .bugs = 1});
    xstate_bug_add(x, &(struct xbug){.number = 1, .id = 0xbc7e, .vm = 2, .round = 2,
                                     .branch = 20, .sim_ns = 2 * CC_SEC, .size = 3,
                                     .message = "election safety", .where = "main.c:375"});
    return x;
}

static const char *peek_error(const char *dir)
{
    static struct cc_err err;
    memset(&err, 0, sizeof(err));
    unsigned r, b;
    return cc_checkpoint_peek(dir, &r, &b, &err) < 0 ? err.msg : "";
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *t = calloc(1, (size_t)n + 1);
    if (fread(t, 1, (size_t)n, f) != (size_t)n)
        t[0] = 0;
    fclose(f);
    return t;
}

static void test_checkpoint(void)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/ck", tmpdir);
    mkdir(dir, 0755);
    struct cc_xstate *x = sample_state();
    struct cc_err err = {0};
    ok(checkpoint_save(x, dir, &err) == 0, "checkpoint saved (%s)", err.msg);
    unsigned rounds = 0, bugs = 0;
    ok(cc_checkpoint_peek(dir, &rounds, &bugs, &err) == 0 && rounds == 2 && bugs == 1,
       "peek: 2 rounds, 1 bug");

    struct cc_xstate *y = NULL;
    int rc = checkpoint_load(dir, &y, &err);
    ok(rc == 0, "checkpoint loads back (%s)", rc ? err.msg : "ok");
    if (!y)
        tap_bail("no state to look at");
    ok(y->set.mode == CC_XMODE_FAULT && y->set.branches == 12 && y->set.seed == 99 &&
       y->rounds_done == 2 && y->branches_done == 24 && y->setup_ns == 15400000 &&
       y->target.seed == 7 && y->target.n_vms == 3 &&
       !strcmp(y->target.kernel_sha256, x->target.kernel_sha256),
       "options, counters and target come back");
    ok(y->n_pts == 3 && y->pts[0].id == 1 && y->pts[1].in_frontier && !y->pts[2].in_frontier &&
       y->pts[2].parent == 2 && y->pts[1].sim_hash == 0xfeedface12345678ull &&
       y->pts[1].life[1] == 1 && y->pts[1].next_choice[0] == 13 && !y->pts[1].alive[1],
       "frontier points with their facts, and the lineage of evicted ones");
    char *r1 = cc_recipe_to_json(x->pts[1].recipe);
    char *r2 = y->n_pts > 1 && y->pts[1].recipe ? cc_recipe_to_json(y->pts[1].recipe) : NULL;
    ok(r2 && !strcmp(r1, r2), "a point's recipe round-trips");
    free(r1);
    free(r2);
    ok(covmap_edges(&y->cov) == 2 && y->cov.edges[4000] == 8 &&
       covmap_assert_bits(&y->cov) == covmap_assert_bits(&x->cov) &&
       !memcmp(y->cov.asserts, x->cov.asserts, sizeof(x->cov.asserts)),
       "coverage maps come back");
    ok(y->n_bugs == 1 && y->bugs[0].id == 0xbc7e && !strcmp(y->bugs[0].where, "main.c:375") &&
       y->n_hist == 2 && y->hist[1].bugs == 1 && y->n_as == 1 && y->as[0].passes == 4 &&
       y->as[0].vms_hit == 6, "bugs, history and assertion table come back");
    ok(y->next_id == x->next_id, "the next point id continues");
    cc_xstate_free(y);

    char ck[400];
    snprintf(ck, sizeof(ck), "%s/checkpoint.json", dir);
    char *text = read_all(ck);
    /* corrupt copies, each in its own directory */
    struct {
        const char *what, *from, *to, *needle;
        bool truncate;
    } bad[] = {
        {"truncated", NULL, NULL, "invalid JSON", true},
        {"wrong format", "chaoscontrol-explore-checkpoint", "chaoscontrol-bug", "format", false},
        {"newer version", "\"version\": 1", "\"version\": 9", "version", false},
        {"no root point", "\"id\": 1,", "\"id\": 77,", "root", false},
        {"bad target", "\"vms\": 3", "\"vms\": 0", "target.vms", false},
        {"bad mode", "\"mode\": \"fault\"", "\"mode\": \"chaos\"", "options.mode", false},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char d[400], p[450];
        snprintf(d, sizeof(d), "%s/bad%zu", tmpdir, i);
        mkdir(d, 0755);
        snprintf(p, sizeof(p), "%s/checkpoint.json", d);
        char *t;
        if (bad[i].truncate) {
            t = strdup(text);
            t[strlen(t) * 2 / 3] = 0;
        } else {
            t = replace(text, bad[i].from, bad[i].to);
            if (!strcmp(t, text))
                tap_diag("'%s' not found in the checkpoint", bad[i].from);
        }
        write_text(p, t, strlen(t));
        free(t);
        const char *msg = peek_error(d);
        ok(*msg && strstr(msg, "checkpoint.json") && strstr(msg, bad[i].needle),
           "corrupt checkpoint (%s) refused, naming the file and '%s': %s", bad[i].what,
           bad[i].needle, msg);
    }
    char d[400];
    snprintf(d, sizeof(d), "%s/empty", tmpdir);
    mkdir(d, 0755);
    const char *msg = peek_error(d);
    ok(*msg && strstr(msg, "checkpoint.json") && strstr(msg, "output directory"),
       "a directory without a checkpoint: %s", msg);
    free(text);
    cc_xstate_free(x);
}

/* ---- coverage ---- */

static void test_covmap(void)
{
    struct covmap *m = malloc(sizeof(*m));
    struct xcov *c = malloc(sizeof(*c));
    uint8_t *raw = calloc(1, CC_COVERAGE_SIZE);
    covmap_init(m);
    xcov_clear(c);
    raw[5] = 1;
    raw[70000 % CC_COVERAGE_SIZE] = 3;
    xcov_add_edges(c, raw);
    struct xnovelty nv;
    ok(covmap_is_new(m, c), "a first branch is new");
    ok(covmap_merge(m, c, &nv) && nv.new_edges == 2 && nv.new_buckets == 0,
       "two new edges");
    is_int(covmap_edges(m), 2, "the map counts 2 edges");
    ok(!covmap_is_new(m, c) && !covmap_merge(m, c, &nv) && !nv.new_edges,
       "the same coverage again is not new");
    /* more hits of a known edge: a new hit-count bucket, not a new edge */
    xcov_clear(c);
    raw[5] = 40;
    xcov_add_edges(c, raw);
    ok(covmap_merge(m, c, &nv) && nv.new_edges == 0 && nv.new_buckets >= 1,
       "a new hit-count bucket of a known edge is new, but not a new edge");
    is_int(covmap_edges(m), 2, "still 2 edges");
    /* assertion states */
    xcov_clear(c);
    xcov_add_assert(c, 0x1111, 0, XCOV_HIT | XCOV_PASS);
    ok(covmap_merge(m, c, &nv) && nv.new_assert_bits == 2 && nv.n_assert_slots == 1 &&
       nv.assert_slots[0] == xcov_assert_slot(0x1111, 0), "assertion hit+pass: 2 new bits");
    xcov_clear(c);
    xcov_add_assert(c, 0x1111, 0, XCOV_FAIL);
    ok(covmap_merge(m, c, &nv) && nv.new_assert_bits == 1, "a first failure is one more bit");
    xcov_clear(c);
    xcov_add_assert(c, 0x1111, 1, XCOV_HIT);
    ok(covmap_merge(m, c, &nv) && nv.new_assert_bits == 1,
       "the same assertion in another VM is a new state");
    is_int(covmap_assert_bits(m), 4, "4 assertion bits in all");
    xcov_clear(c);
    xcov_add_assert_count(c, 0x2222, 1);
    bool first = covmap_merge(m, c, &nv);
    xcov_clear(c);
    xcov_add_assert_count(c, 0x2222, 1);
    bool again = covmap_merge(m, c, &nv);
    xcov_clear(c);
    xcov_add_assert_count(c, 0x2222, 50);
    bool more = covmap_merge(m, c, &nv);
    ok(first && !again && more, "SOMETIMES pass counts: 1 new, 1 again not, 50 new bucket");
    free(raw);
    free(c);
    free(m);
}

/* ---- ddmin ---- */

struct ddctx {
    unsigned long calls;
    char seen[64][40];
    size_t n_seen;
    bool dup;
    int fail_at;        /* return an error on this call (0: never) */
};

/* Fails when items 3, 7 and 11 are all kept. */
static int dd_pred(void *opaque, const bool *keep, size_t n)
{
    struct ddctx *c = opaque;
    c->calls++;
    if (c->fail_at && (int)c->calls == c->fail_at)
        return -EIO;
    char k[40];
    for (size_t i = 0; i < n; i++)
        k[i] = keep[i] ? '1' : '0';
    k[n] = 0;
    for (size_t i = 0; i < c->n_seen; i++)
        c->dup |= !strcmp(c->seen[i], k);
    if (c->n_seen < 64)
        snprintf(c->seen[c->n_seen++], sizeof(c->seen[0]), "%s", k);
    return keep[3] && keep[7] && keep[11];
}

static int dd_never(void *opaque, const bool *keep, size_t n)
{
    (void)opaque;
    (void)keep;
    (void)n;
    return 0;
}

static void test_ddmin(void)
{
    bool keep[32];
    memset(keep, 1, sizeof(keep));
    struct ddctx c = {0};
    long t = ddmin_run(32, keep, dd_pred, &c);
    size_t kept = 0;
    for (size_t i = 0; i < 32; i++)
        kept += keep[i];
    ok(t > 0 && kept == 3 && keep[3] && keep[7] && keep[11],
       "ddmin finds exactly the 3 failure-inducing items of 32 (%ld tests)", t);
    ok(!c.dup, "no candidate is tested twice");
    ok((unsigned long)t == c.calls && t < 200, "tests counted (%ld)", t);

    memset(keep, 0, sizeof(keep));
    keep[3] = keep[7] = keep[11] = keep[20] = true;
    struct ddctx c2 = {0};
    ddmin_run(32, keep, dd_pred, &c2);
    ok(!keep[20] && keep[3] && keep[7] && keep[11], "starting from a subset works too");

    memset(keep, 1, sizeof(keep));
    struct ddctx c3 = {.fail_at = 2};
    t = ddmin_run(32, keep, dd_pred, &c3);
    ok(t == -EIO, "a test error stops ddmin and is returned");

    memset(keep, 1, 8);
    t = ddmin_run(8, keep, dd_never, NULL);
    size_t all = 0;
    for (size_t i = 0; i < 8; i++)
        all += keep[i];
    ok(t >= 0 && all == 8, "nothing smaller fails: the set stays whole");
}

/* ---- mutators ---- */

static char *mutated(uint64_t seed, const struct xpoint_info *p, int which)
{
    struct cc_xweights w;
    cc_xweights_default(&w);
    struct xmut *m = xmut_new(seed, &w);
    struct cc_recipe *r = cc_recipe_new();
    struct cc_err err = {0};
    for (int i = 0; i < 20; i++) {
        int rc = which == 0 ? xmut_faults_fresh(m, r, p, 4, &err) :
                 which == 1 ? xmut_faults_mutate(m, r, p, 3, &err) :
                              xmut_inputs(m, r, p, 4, &err);
        if (rc < 0)
            tap_diag("mutator: %s", err.msg);
    }
    char *t = cc_recipe_to_json(r);
    cc_recipe_free(r);
    xmut_free(m);
    return t;
}

static void test_mutators(void)
{
    struct xpoint_info p = {.n_vms = 3, .t0 = 2 * CC_SEC, .t1 = 3 * CC_SEC};
    p.alive[0] = p.alive[2] = true;
    p.life[2] = 1;
    p.next_choice[0] = 10;
    p.next_choice[2] = 4;
    for (int which = 0; which < 3; which++) {
        static const char *names[] = {"fresh faults", "fault mutations", "input overrides"};
        char *a = mutated(42, &p, which), *b = mutated(42, &p, which),
             *c = mutated(43, &p, which);
        ok(!strcmp(a, b), "%s: the same seed gives the same recipe", names[which]);
        ok(strcmp(a, c), "%s: another seed gives another recipe", names[which]);
        free(a);
        free(b);
        free(c);
    }
    /* fresh faults stay inside the window and are valid for 3 VMs */
    struct cc_xweights w;
    cc_xweights_default(&w);
    struct xmut *m = xmut_new(5, &w);
    struct cc_recipe *r = cc_recipe_new();
    struct cc_err err = {0};
    for (int i = 0; i < 50; i++)
        xmut_faults_fresh(m, r, &p, 4, &err);
    bool inside = cc_schedule_count(r->sched) > 0;
    for (size_t i = 0; i < cc_schedule_count(r->sched); i++) {
        const struct cc_fault *f = cc_schedule_get(r->sched, i);
        inside &= f->at_ns > p.t0 && f->at_ns <= p.t1;
    }
    ok(inside, "%zu fresh faults, all in (t0, t1]", cc_schedule_count(r->sched));
    ok(cc_schedule_validate(r->sched, 3, &err) == 0, "and valid for 3 VMs (%s)", err.msg);
    cc_recipe_free(r);
    /* overrides: live VMs only, at or after their next choice, in their life */
    r = cc_recipe_new();
    for (int i = 0; i < 50; i++)
        xmut_inputs(m, r, &p, 4, &err);
    bool good = r->n_ov > 0;
    for (size_t i = 0; i < r->n_ov; i++) {
        const struct cc_xoverride *o = &r->ov[i];
        good &= p.alive[o->vm] && o->life == p.life[o->vm] && o->index >= p.next_choice[o->vm];
    }
    ok(good, "%zu overrides, all for live VMs at or after their next choice", r->n_ov);
    cc_recipe_free(r);
    xmut_free(m);

    /* with a client VM (3 of 4): no fault targets it, every partition
     * leaves it bridging the sides; its choices can still be overridden */
    struct xpoint_info pc = {.n_vms = 4, .t0 = 2 * CC_SEC, .t1 = 3 * CC_SEC, .clients = 1u << 3};
    for (unsigned v = 0; v < 4; v++)
        pc.alive[v] = true;
    m = xmut_new(6, &w);
    r = cc_recipe_new();
    for (int i = 0; i < 200; i++)
        xmut_faults_fresh(m, r, &pc, 4, &err);
    for (int i = 0; i < 100; i++)
        xmut_faults_mutate(m, r, &pc, 3, &err);
    unsigned parts = 0, spared = cc_schedule_count(r->sched) > 0;
    for (size_t i = 0; i < cc_schedule_count(r->sched); i++) {
        const struct cc_fault *f = cc_schedule_get(r->sched, i);
        if (cc_fault_has_vm(f->type))
            spared &= f->vm != 3;
        if (f->type == CC_FAULT_PARTITION) {
            parts++;
            spared &= f->bridge == (1u << 3);
            for (unsigned s = 0; s < f->n_sides; s++)
                spared &= !((f->sides[s] >> 3) & 1);
        }
        if (f->from || f->to)
            spared &= f->from != (1u << 3) && f->to != (1u << 3);
    }
    ok(spared && parts > 10, "%zu faults with a client: none targets it, %u partitions all "
       "bridged by it", cc_schedule_count(r->sched), parts);
    ok(cc_schedule_validate(r->sched, 4, &err) == 0, "and valid for 4 VMs (%s)", err.msg);
    cc_recipe_free(r);
    r = cc_recipe_new();
    for (int i = 0; i < 50; i++)
        xmut_inputs(m, r, &pc, 4, &err);
    bool client_ov = false;
    for (size_t i = 0; i < r->n_ov; i++)
        client_ov |= r->ov[i].vm == 3;
    ok(client_ov, "input overrides still reach the client's choices");
    cc_recipe_free(r);
    xmut_free(m);

    /* --faults: only the kinds named */
    struct cc_xweights wo;
    cc_xweights_default(&wo);
    ok(cc_xweights_only(&wo, "partition,kill") == 0 && wo.partition == 30 && wo.kill == 6 &&
       !wo.restart && !wo.pause && !wo.heal && !wo.clock && !wo.disk, "only partition and kill");
    struct cc_xweights wb = wo;
    ok(cc_xweights_only(&wb, "partition,reboot") == -EINVAL && !memcmp(&wb, &wo, sizeof(wb)) &&
       cc_xweights_only(&wb, "") == -EINVAL, "an unknown kind or none is refused");
    m = xmut_new(8, &wo);
    r = cc_recipe_new();
    for (int i = 0; i < 100; i++)
        xmut_faults_fresh(m, r, &p, 4, &err);
    bool only = cc_schedule_count(r->sched) > 0;
    for (size_t i = 0; i < cc_schedule_count(r->sched); i++) {
        enum cc_fault_type t = cc_schedule_get(r->sched, i)->type;
        only &= t == CC_FAULT_PARTITION || t == CC_FAULT_KILL || t == CC_FAULT_HEAL;
    }
    ok(only, "%zu faults drawn: partitions (with heals) and kills, no restart after a kill",
       cc_schedule_count(r->sched));
    cc_recipe_free(r);
    xmut_free(m);

    /* --faults vcpu: thread interleavings only (vcpu_schedule faults) */
    struct cc_xweights wv;
    cc_xweights_default(&wv);
    ok(wv.vcpu == 0, "vcpu faults are not in the default mix (one-vCPU targets)");
    int vrc = cc_xweights_only(&wv, "vcpu");
    ok(vrc == 0 && wv.vcpu == CC_XWEIGHT_VCPU && !wv.partition && !wv.heal && !wv.kill &&
       !wv.restart && !wv.pause && !wv.loss && !wv.latency && !wv.duplicate && !wv.reorder &&
       !wv.clock && !wv.disk, "--faults vcpu: only vcpu, weight %u", wv.vcpu);
    struct cc_xweights wpv;
    cc_xweights_default(&wpv);
    ok(cc_xweights_only(&wpv, "partition,vcpu") == 0 && wpv.partition == 30 &&
       wpv.vcpu == CC_XWEIGHT_VCPU && !wpv.kill, "partition,vcpu: their usual weights");
    char *seeds[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        m = xmut_new(11, &wv);
        r = cc_recipe_new();
        for (int i = 0; i < 40; i++)
            xmut_faults_fresh(m, r, &p, 4, &err);
        for (int i = 0; i < 40; i++)
            xmut_faults_mutate(m, r, &p, 3, &err);
        size_t n = cc_schedule_count(r->sched);
        bool vcpu_only = n > 20, in = true;
        uint64_t distinct = 0, prev = 0;
        for (size_t i = 0; i < n; i++) {
            const struct cc_fault *f = cc_schedule_get(r->sched, i);
            vcpu_only &= f->type == CC_FAULT_VCPU_SCHEDULE && !f->duration_ns;
            in &= f->at_ns > p.t0 && f->at_ns < p.t1;
            distinct += i == 0 || f->seed != prev;
            prev = f->seed;
        }
        if (k == 0) {
            ok(vcpu_only && in, "%zu faults drawn and mutated: all vcpu_schedule instants inside "
               "the window", n);
            ok(distinct > n / 2, "%" PRIu64 " distinct seeds in a row", distinct);
            ok(cc_schedule_validate(r->sched, 3, &err) == 0, "valid for 3 VMs (%s)", err.msg);
            size_t fresh_live = 0, fresh = 0;
            struct cc_recipe *r2 = cc_recipe_new();
            for (int i = 0; i < 40; i++)
                xmut_faults_fresh(m, r2, &p, 4, &err);
            for (size_t i = 0; i < cc_schedule_count(r2->sched); i++) {
                fresh++;
                fresh_live += p.alive[cc_schedule_get(r2->sched, i)->vm];
            }
            ok(fresh && fresh_live == fresh, "fresh ones target live VMs (%zu of %zu)",
               fresh_live, fresh);
            cc_recipe_free(r2);
        }
        seeds[k] = cc_recipe_to_json(r);
        cc_recipe_free(r);
        xmut_free(m);
    }
    ok(seeds[0] && seeds[1] && !strcmp(seeds[0], seeds[1]) &&
       strstr(seeds[0], "\"vcpu_schedule\""), "the same mutator seed gives the same seeds");
    free(seeds[0]);
    free(seeds[1]);

    enum cc_xmode mode;
    ok(cc_xmode_parse("input-tree", &mode) == 0 && mode == CC_XMODE_INPUT &&
       cc_xmode_parse("fault", &mode) == 0 && mode == CC_XMODE_FAULT &&
       cc_xmode_parse("hybrid", &mode) == 0 && mode == CC_XMODE_HYBRID &&
       cc_xmode_parse("chaos", &mode) < 0 && !strcmp(cc_xmode_name(CC_XMODE_INPUT), "input-tree"),
       "modes parse and print");
}

/* Synthetic traffic for the reactive rule: every 10 ms the VMs in mask
 * `talk` send one frame to every other VM, the others one frame to `to`. */
static void traffic(uint64_t *sent, unsigned n, uint64_t talk, unsigned to)
{
    for (unsigned a = 0; a < n; a++)
        for (unsigned b = 0; b < n; b++)
            if (a != b && (((talk >> a) & 1) || b == to))
                sent[a * n + b]++;
}

/* Run the rule over time [from, to) in 1 ms boundaries; returns the faults
 * fired (at most 4) in f. */
static unsigned react_run(struct xreact *r, uint64_t *sent, unsigned n, uint64_t talk,
                          unsigned to, uint64_t skip, uint64_t from_ms, uint64_t to_ms,
                          struct cc_fault *f, unsigned cap)
{
    unsigned k = 0;
    for (uint64_t t = from_ms; t < to_ms; t++) {
        if (t % 10 == 0)
            traffic(sent, n, talk, to);
        struct cc_fault g;
        if (xreact_look(r, t * CC_MSEC, sent, skip, &g) == 1 && k < cap)
            f[k++] = g;
    }
    return k;
}

static void test_react(void)
{
    struct cc_xweights w;
    cc_xweights_default(&w);
    struct xmut *m = xmut_new(9, &w);
    struct xreact r;
    xreact_plan(m, 2, &r);
    is_int(r.n_steps, 0, "reactive rule: none with 2 VMs");
    bool sane = true;
    unsigned pauses = 0, cuts = 0, lens[4] = {0};
    for (int i = 0; i < 200; i++) {
        xreact_plan(m, 3, &r);
        sane &= r.n_steps >= 1 && r.n_steps <= 3;
        lens[r.n_steps]++;
        for (unsigned s = 0; s < r.n_steps; s++) {
            sane &= r.step[s].delay_ns <= 300 * CC_MSEC && r.step[s].delay_ns % CC_MSEC == 0;
            sane &= !r.step[s].pause_ns || !r.step[s].cut_ns;
            pauses += r.step[s].pause_ns != 0;
            cuts += r.step[s].pause_ns == 0;
        }
    }
    ok(sane && lens[1] && lens[2] && lens[3] && pauses && cuts > pauses,
       "reactive plans: 1-3 steps (%u/%u/%u), delays <= 300 ms, %u cut-offs, %u pauses", lens[1],
       lens[2], lens[3], cuts, pauses);
    xmut_free(m);

    /* a hand-made rule: cut off the hub 30 ms after it appears, then pause
     * the next hub 100 ms for 200 ms */
    memset(&r, 0, sizeof(r));
    r.n_steps = 2;
    r.step[0].delay_ns = 30 * CC_MSEC;
    r.step[1].delay_ns = 0;
    r.step[1].pause_ns = 200 * CC_MSEC;
    ok(xreact_start(&r, 3, 0) == 0, "rule started");
    uint64_t sent[9] = {0};
    struct cc_fault f[4];
    /* quiet: followers only answer VM 0, nobody talks to everyone */
    unsigned k = react_run(&r, sent, 3, 0, 0, 0, 0, 200, f, 4);
    is_int(k, 0, "no hub, no firing");
    is_int((long)xreact_hubs(&r), 0, "no hub seen");
    /* VM 1 starts talking to everyone at 200 ms: a hub from the next look */
    k = react_run(&r, sent, 3, 1u << 1, 1, 0, 200, 400, f, 4);
    ok(k == 1 && f[0].type == CC_FAULT_PARTITION && f[0].n_sides == 1 &&
       f[0].sides[0] == (1u << 1) && f[0].duration_ns == 0,
       "the new hub (VM 1) is cut off from the rest (%u faults)", k);
    ok(k == 1 && f[0].at_ns >= 230 * CC_MSEC && f[0].at_ns <= 241 * CC_MSEC,
       "30 ms after it appeared (at %.3f s)", k ? f[0].at_ns / 1e9 : 0.0);
    is_int((long)xreact_hubs(&r), 1 << 1, "VM 1 is the hub");
    /* the cut-off VM 1 keeps sending: it stays a hub but is not new */
    k = react_run(&r, sent, 3, 1u << 1, 1, 1u << 1, 400, 600, f, 4);
    is_int(k, 0, "an old hub does not fire again");
    /* VM 2 starts talking to everyone too (VM 0 still answers VM 1; a
     * follower that changes leaders within 60 ms would look like a hub for
     * a moment), and so does VM 0, which is cut off from everyone: only
     * VM 2 is a target; it is paused at once */
    k = react_run(&r, sent, 3, 7, 1, 1u << 0, 600, 800, f, 4);
    ok(k == 1 && f[0].type == CC_FAULT_PAUSE && f[0].vm == 2 &&
       f[0].duration_ns == 200 * CC_MSEC && f[0].at_ns >= 600 * CC_MSEC &&
       f[0].at_ns <= 611 * CC_MSEC, "the next new hub (VM 2) is paused for 200 ms, at once "
       "(at %.3f s)", k ? f[0].at_ns / 1e9 : 0.0);
    ok(!xreact_due(&r, 10 * CC_SEC), "both steps fired: the rule is done");
    /* VM 0 becomes a hub too: nothing more */
    k = react_run(&r, sent, 3, 7, 0, 0, 800, 1000, f, 4);
    is_int(k, 0, "no firing after the last step");
    xreact_free(&r);

    /* with a client (VM 3 of 4): the client talking to everyone is no hub;
     * a member talking to every other member is, and is cut off with the
     * client bridging the partition */
    memset(&r, 0, sizeof(r));
    r.n_steps = 1;
    ok(xreact_start(&r, 4, 1u << 3) == 0, "rule with a client started");
    uint64_t sent4[16] = {0};
    k = react_run(&r, sent4, 4, 1u << 3, 0, 0, 0, 200, f, 4);
    is_int(k, 0, "the client talking to everyone is no hub");
    k = react_run(&r, sent4, 4, (1u << 3) | (1u << 1), 0, 0, 200, 400, f, 4);
    ok(k == 1 && f[0].type == CC_FAULT_PARTITION && f[0].sides[0] == (1u << 1) &&
       f[0].bridge == (1u << 3), "member 1 is cut off, the client bridges (%u faults)", k);
    xreact_free(&r);
}


/* ---- checkpoints written by earlier versions (tests/fixtures/explore) ---- */

static const char *fixtures;

static char *fixture(const char *name)
{
    static char p[2][1024];
    static int k;
    char *b = p[k++ & 1];
    snprintf(b, sizeof(p[0]), "%s/%s", fixtures, name);
    return b;
}

/* The directory's file name, read into a fresh directory as checkpoint.json. */
static struct cc_xstate *load_fixture(const char *name, char **text, struct cc_err *err)
{
    *text = read_all(fixture(name));
    char dir[400];
    snprintf(dir, sizeof(dir), "%s/fx-%s", tmpdir, name);
    mkdir(dir, 0755);
    char ck[500];
    snprintf(ck, sizeof(ck), "%s/checkpoint.json", dir);
    write_text(ck, *text, strlen(*text));
    struct cc_xstate *st = NULL;
    if (cc_xstate_load(dir, &st, err) < 0)
        return NULL;
    return st;
}

static void test_fixtures(void)
{
    if (!fixtures) {
        ok(0, "the fixture directory is the first argument (meson passes it)");
        return;
    }
    struct cc_err err = {0};
    char *text;
    struct cc_xstate *st = load_fixture("checkpoint-v1-raft-abca9a0.json", &text, &err);
    ok(st != NULL, "a Raft checkpoint written at abca9a0 loads (%s)", st ? "ok" : err.msg);
    if (st) {
        struct cc_explore_summary s;
        cc_xstate_summary(st, &s);
        ok(s.rounds_done == 3 && s.branches == 18 && s.frontier == 31 && s.edges == 7977 &&
           s.assert_bits == 111 && s.bugs == 0 && st->n_hist == 3 && st->n_as > 10 &&
           st->target.n_vms == 3 && !st->target.factory,
           "its counters, frontier, coverage, history and table: %u rounds, %" PRIu64
           " branches, frontier %zu, %zu edges, %zu assertion states", s.rounds_done,
           s.branches, s.frontier, s.edges, s.assert_bits);
        char *again = cc_xstate_to_json(st);
        ok(again && !strcmp(again, text), "written back, it is the same file byte for byte");
        free(again);
    }
    cc_xstate_free(st);
    free(text);

    st = load_fixture("checkpoint-v1-sample-abca9a0.json", &text, &err);
    ok(st != NULL, "a hand-made checkpoint written at abca9a0 loads (%s)", st ? "ok" : err.msg);
    if (st) {
        ok(st->n_bugs == 1 && st->bugs[0].number == 1 && st->bugs[0].dups == 2 &&
           st->max_bug_number == 1 && st->target.seed == 18446744073709551615ull &&
           st->n_pts == 3 && st->pts[1].n_slots == 2 && st->pts[1].slots[1] == 4000 &&
           st->plateau_since == 2 && st->react_faults == 7 && st->n_as == 2,
           "bugs, seed beyond 2^63, point slots, plateau and reactive counters come back");
        char *again = cc_xstate_to_json(st);
        ok(again && !strcmp(again, text), "written back, it is the same file byte for byte");
        free(again);
        /* the report rendered from the state is the one that code wrote */
        char dir[400];
        snprintf(dir, sizeof(dir), "%s/fx-report", tmpdir);
        mkdir(dir, 0755);
        ok(report_write(st, dir, &err) == 0, "report rendered from the state (%s)", err.msg);
        static const char *const files[][2] = {
            {"report.txt", "report-v1-sample-abca9a0.txt"},
            {"coverage.svg", "coverage-v1-sample-abca9a0.svg"},
            {"assertions.json", "assertions-v1-sample-abca9a0.json"},
        };
        for (size_t i = 0; i < 3; i++) {
            char p[500];
            snprintf(p, sizeof(p), "%s/%s", dir, files[i][0]);
            char *got = read_all(p), *want = read_all(fixture(files[i][1]));
            ok(*want && !strcmp(got, want), "%s is the one the code at abca9a0 rendered",
               files[i][0]);
            free(got);
            free(want);
        }
    }
    cc_xstate_free(st);
    free(text);
}

/* ---- guidance maxima and targets made by code ---- */

static void test_guidance_state(void)
{
    struct cc_xstate *st = sample_state();
    bool oom = false;
    ok(xstate_guidance_raise(st, "queue depth", 5, &oom), "a first guidance value is new");
    ok(!xstate_guidance_raise(st, "queue depth", 5, &oom) &&
       !xstate_guidance_raise(st, "queue depth", 3, &oom), "an equal or lower one is not");
    ok(xstate_guidance_raise(st, "queue depth", 9, &oom), "a higher one is");
    ok(xstate_guidance_raise(st, "retries", -4, &oom) && !oom, "another message is its own");
    st->hist[1].new_maxima = 2;
    char *t = cc_xstate_to_json(st);
    struct cc_err err = {0};
    struct cc_xstate *back = NULL;
    int rc = t ? cc_xstate_parse(t, strlen(t), "g.json", &back, &err) : -1;
    ok(rc == 0 && back->n_gd == 2 && back->gd[0].max == 9 && back->gd[1].max == -4 &&
       back->hist[1].new_maxima == 2 && back->hist[0].new_maxima == 0,
       "guidance maxima and a round's new maxima go through the checkpoint (%s)",
       rc ? err.msg : "ok");
    char *t2 = back ? cc_xstate_to_json(back) : NULL;
    ok(t2 && !strcmp(t, t2), "and write back the same");
    ok(t && strstr(t, "\"new_maxima\": 2") && !strstr(t, "\"new_maxima\": 0"),
       "new_maxima is written only where it is not 0 (older files stay as they were)");
    free(t2);
    cc_xstate_free(back);
    char *bad = t ? replace(t, "\"max\": 9", "\"max\": \"nine\"") : NULL;
    back = NULL;
    rc = bad ? cc_xstate_parse(bad, strlen(bad), "g.json", &back, &err) : 0;
    ok(rc < 0 && strstr(err.msg, "g.json") && strstr(err.msg, "guidance[0]"),
       "a malformed guidance entry is refused, naming it: %s", err.msg);
    free(bad);
    free(t);
    cc_xstate_free(st);
}

static void test_factory_target(void)
{
    write_text(path_in("bzImage"), "not really a kernel", 19);
    write_text(path_in("raft.initrd"), "not really an initrd", 20);
    struct cc_bug *b = sample_bug(path_in("bzImage"), path_in("raft.initrd"));
    free(b->kernel);
    free(b->initrd);
    b->kernel = b->initrd = NULL;
    b->factory = strdup("tiny-heartbeat");
    b->target.kernel = b->target.initrd = NULL;
    b->target.factory = b->factory;
    struct cc_err err = {0};
    char *t = cc_bug_to_json(b);
    ok(t && strstr(t, "\"factory\": \"tiny-heartbeat\"") && strstr(t, "\"kernel\": null"),
       "a bug of a target made by code names its factory and has no kernel");
    struct cc_bug *l = NULL;
    int rc = t ? cc_bug_parse(t, "f.json", &l, &err) : -1;
    ok(rc == 0 && l->target.factory && !strcmp(l->target.factory, "tiny-heartbeat") &&
       !l->target.kernel, "it parses back (%s)", rc ? err.msg : "ok");
    char *t2 = l ? cc_bug_to_json(l) : NULL;
    ok(t2 && !strcmp(t, t2), "round trip is exact");
    memset(&err, 0, sizeof(err));
    rc = l ? cc_xtarget_check_boot(&l->target, &err) : 0;
    ok(rc < 0 && strstr(err.msg, "factory 'tiny-heartbeat'") && strstr(err.msg, "command line"),
       "the command line's check refuses it, saying why: %s", err.msg);
    struct cc_xrun *x = NULL;
    memset(&err, 0, sizeof(err));
    rc = l ? cc_xrun_boot(&l->target, NULL, &x, &err) : 0;
    ok(rc < 0 && !x && strstr(err.msg, "no factory was given"),
       "booting it without the factory fails before any /dev/kvm: %s", err.msg);
    struct cc_xfactory other = {.name = "another"};
    struct cc_xrun_opts ro;
    cc_xrun_opts_default(&ro);
    ro.factory = &other;
    memset(&err, 0, sizeof(err));
    rc = l ? cc_xrun_boot(&l->target, &ro, &x, &err) : 0;
    ok(rc < 0 && strstr(err.msg, "another factory"), "so does another factory: %s", err.msg);
    char *nk = t ? replace(t, "\"factory\": \"tiny-heartbeat\",", "") : NULL;
    struct cc_bug *l2 = NULL;
    memset(&err, 0, sizeof(err));
    rc = nk ? cc_bug_parse(nk, "nk.json", &l2, &err) : 0;
    ok(rc < 0 && strstr(err.msg, "target.kernel"), "without a factory a kernel is required: %s",
       err.msg);
    cc_bug_free(l2);
    free(nk);
    free(t);
    free(t2);
    cc_bug_free(l);
    cc_bug_free(b);
}

static void cleanup(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* The history's outcome features: n of them for text. */
static unsigned outcomes_of(const char *text)
{
    struct cc_history *h = NULL;
    struct cc_err err = {0};
    if (cc_history_parse(text, strlen(text), "h", &h, &err) < 0) {
        tap_diag("%s", err.msg);
        return 0;
    }
    struct cc_xrun_result res;
    memset(&res, 0, sizeof(res));
    xcheck_outcomes(h, &res);
    cc_history_free(h);
    return res.n_outcomes;
}

static void test_outcomes(void)
{
    const char *base =
        "{\"process\":1,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"k\",\"value\":1,\"time\":10}\n"
        "{\"process\":1,\"type\":\"ok\",\"f\":\"write\",\"key\":\"k\",\"value\":1,\"time\":20}\n"
        "{\"process\":2,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"k\",\"value\":2,\"time\":30}\n"
        "{\"process\":2,\"type\":\"info\",\"f\":\"write\",\"key\":\"k\",\"value\":2,\"time\":90}\n";
    char before[1024], after[1024];
    /* the same read before the hung write was invoked, and after */
    snprintf(before, sizeof(before), "%s{\"process\":3,\"type\":\"invoke\",\"f\":\"read\","
             "\"key\":\"k\",\"time\":25}\n{\"process\":3,\"type\":\"ok\",\"f\":\"read\","
             "\"key\":\"k\",\"value\":1,\"time\":26}\n", base);
    snprintf(after, sizeof(after), "%s{\"process\":3,\"type\":\"invoke\",\"f\":\"read\","
             "\"key\":\"k\",\"time\":40}\n{\"process\":3,\"type\":\"ok\",\"f\":\"read\","
             "\"key\":\"k\",\"value\":1,\"time\":41}\n", base);
    unsigned a = outcomes_of(before), b = outcomes_of(after);
    ok(a > 0 && b == a + 1, "a read answered while a write of its key hangs is one more "
       "outcome feature (%u vs %u)", b, a);
}

int main(int argc, char **argv)
{
    fixtures = argc > 1 ? argv[1] : NULL;
    snprintf(tmpdir, sizeof(tmpdir), "%s/cc-explore-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    tap_plan(0);
    test_recipe();
    test_bug_files();
    test_bug_cpu();
    test_checkpoint();
    test_fixtures();
    test_guidance_state();
    test_factory_target();
    test_covmap();
    test_ddmin();
    test_mutators();
    test_react();
    test_outcomes();
    cleanup();
    return tap_exit();
}
