/* The VMM side of the SDK without a VM: verdicts from counts (SDK.md), the
 * oracle that turns many runs into verdicts, its save/load, and the
 * coverage bitmap helpers (AFL buckets, merge, count, hash). */
#include <errno.h>
#include <string.h>

#include "sdk_host/oracle.h"
#include "../tap.h"
#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol_protocol.h"
#include "util/buf.h"

static struct cc_assertion A(uint64_t id, uint32_t kind, uint64_t hits, uint64_t passes,
                             uint64_t fails)
{
    return (struct cc_assertion){
        .id = id, .kind = kind, .line = (uint32_t)id, .message = "m", .file = "f.c",
        .function = "fn", .hits = hits, .passes = passes, .fails = fails,
    };
}

static void test_verdicts(void)
{
    static const struct {
        uint32_t kind;
        uint64_t hits, passes, fails;
        enum cc_verdict want;
        bool failed;
    } t[] = {
        {CC_ASSERT_ALWAYS, 0, 0, 0, CC_VERDICT_UNEXERCISED, false},
        {CC_ASSERT_ALWAYS, 5, 5, 0, CC_VERDICT_PASSED, false},
        {CC_ASSERT_ALWAYS, 5, 4, 1, CC_VERDICT_FAILED, true},
        {CC_ASSERT_ALWAYS_OR_UNREACHABLE, 0, 0, 0, CC_VERDICT_PASSED, false},
        {CC_ASSERT_ALWAYS_OR_UNREACHABLE, 3, 3, 0, CC_VERDICT_PASSED, false},
        {CC_ASSERT_ALWAYS_OR_UNREACHABLE, 3, 2, 1, CC_VERDICT_FAILED, true},
        {CC_ASSERT_SOMETIMES, 0, 0, 0, CC_VERDICT_UNEXERCISED, false},
        {CC_ASSERT_SOMETIMES, 9, 0, 9, CC_VERDICT_FAILED, false},
        {CC_ASSERT_SOMETIMES, 9, 1, 8, CC_VERDICT_PASSED, false},
        {CC_ASSERT_REACHABLE, 0, 0, 0, CC_VERDICT_UNEXERCISED, false},
        {CC_ASSERT_REACHABLE, 1, 1, 0, CC_VERDICT_PASSED, false},
        {CC_ASSERT_UNREACHABLE, 0, 0, 0, CC_VERDICT_UNEXERCISED, false},
        {CC_ASSERT_UNREACHABLE, 1, 0, 1, CC_VERDICT_FAILED, true},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct cc_assertion a = A(1, t[i].kind, t[i].hits, t[i].passes, t[i].fails);
        ok(cc_assertion_verdict(&a) == t[i].want && cc_assertion_failed(&a) == t[i].failed,
           "%s hits=%llu passes=%llu fails=%llu: %s%s", cc_kind_name(t[i].kind),
           (unsigned long long)t[i].hits, (unsigned long long)t[i].passes,
           (unsigned long long)t[i].fails, cc_verdict_name(t[i].want),
           t[i].failed ? ", a failure that stops the run" : "");
    }
    is_str(cc_kind_name(99), "UNKNOWN", "unknown kind has a name");
}

static const struct cc_oracle_entry *entry(const struct cc_oracle *o, uint64_t id)
{
    size_t n;
    const struct cc_oracle_entry *e = cc_oracle_entries(o, &n);
    for (size_t i = 0; i < n; i++)
        if (e[i].a.id == id)
            return &e[i];
    return NULL;
}

static void test_oracle(void)
{
    struct cc_oracle *o = cc_oracle_new();
    struct cc_err err = {0};
    /* run 1: SOMETIMES never true; ALWAYS fine; never-reached entry */
    struct cc_assertion r1[] = {
        A(1, CC_ASSERT_SOMETIMES, 4, 0, 4), A(2, CC_ASSERT_ALWAYS, 2, 2, 0),
        A(3, CC_ASSERT_REACHABLE, 0, 0, 0), A(4, CC_ASSERT_UNREACHABLE, 0, 0, 0),
    };
    /* run 2: SOMETIMES true once; ALWAYS fails once */
    struct cc_assertion r2[] = {
        A(1, CC_ASSERT_SOMETIMES, 3, 1, 2), A(2, CC_ASSERT_ALWAYS, 2, 1, 1),
        A(3, CC_ASSERT_REACHABLE, 0, 0, 0), A(4, CC_ASSERT_UNREACHABLE, 0, 0, 0),
        A(5, CC_ASSERT_ALWAYS_OR_UNREACHABLE, 0, 0, 0),
    };
    ok(cc_oracle_add(o, r1, 4, &err) == 0, "run 1 added");
    const struct cc_oracle_entry *e = entry(o, 1);
    is_int(cc_oracle_verdict(e), CC_VERDICT_FAILED, "after run 1: SOMETIMES never true: failed");
    ok(cc_oracle_add(o, r2, 5, &err) == 0, "run 2 added");
    is_int(cc_oracle_runs(o), 2, "two runs");
    e = entry(o, 1);
    ok(cc_oracle_verdict(e) == CC_VERDICT_PASSED && e->a.hits == 7 && e->a.passes == 1 &&
       e->runs_hit == 2, "SOMETIMES true in one run of two: passed across runs");
    e = entry(o, 2);
    ok(cc_oracle_verdict(e) == CC_VERDICT_FAILED && e->runs_failed == 1,
       "ALWAYS false in one run: failed (1 failing run)");
    e = entry(o, 3);
    ok(cc_oracle_verdict(e) == CC_VERDICT_UNEXERCISED && !strcmp(e->a.message, "m") &&
       e->runs_hit == 0, "never reached in any run: unexercised, by name");
    is_int(cc_oracle_verdict(entry(o, 4)), CC_VERDICT_UNEXERCISED, "UNREACHABLE never reached");
    is_int(cc_oracle_verdict(entry(o, 5)), CC_VERDICT_PASSED,
           "ALWAYS_OR_UNREACHABLE never reached: passed");

    struct cc_buf b;
    buf_init(&b);
    oracle_save(o, &b);
    struct cc_oracle *o2 = cc_oracle_new();
    struct cc_rd rd;
    rd_init(&rd, b.data, b.len);
    ok(oracle_load(o2, &rd, &err) == 0 && rd_left(&rd) == 0, "oracle saved and loaded");
    size_t n1, n2;
    const struct cc_oracle_entry *e1 = cc_oracle_entries(o, &n1);
    const struct cc_oracle_entry *e2 = cc_oracle_entries(o2, &n2);
    bool same = n1 == n2 && cc_oracle_runs(o) == cc_oracle_runs(o2);
    for (size_t i = 0; same && i < n1; i++)
        same = e1[i].a.id == e2[i].a.id && e1[i].a.hits == e2[i].a.hits &&
               e1[i].a.fails == e2[i].a.fails && e1[i].runs_hit == e2[i].runs_hit &&
               e1[i].runs_failed == e2[i].runs_failed && !strcmp(e1[i].a.file, e2[i].a.file);
    ok(same, "loaded oracle equals the saved one");
    bool refused = true;
    for (size_t cut = 0; cut < b.len; cut++) {
        rd_init(&rd, b.data, cut);
        if (oracle_load(o2, &rd, &err) == 0)
            refused = false;
    }
    ok(refused, "every truncation refused");
    rd_init(&rd, b.data, b.len);
    ok(oracle_load(o2, &rd, &err) == 0, "the oracle still loads after refusals");
    b.data[0] ^= 1;
    rd_init(&rd, b.data, b.len);
    ok(oracle_load(o2, &rd, &err) < 0 && strstr(err.msg, "magic"), "bad magic: %s", err.msg);
    buf_free(&b);
    cc_oracle_free(o2);
    cc_oracle_free(o);
}

static void test_coverage(void)
{
    uint8_t in[10] = {0, 1, 2, 3, 4, 7, 8, 31, 127, 255}, out[10];
    const uint8_t want[10] = {0, 1, 2, 4, 8, 8, 16, 32, 64, 128};
    cc_coverage_buckets(in, out, 10);
    ok(!memcmp(out, want, 10), "AFL hit-count buckets");
    cc_coverage_buckets(in, in, 10);
    ok(!memcmp(in, want, 10), "buckets in place");
    is_int(cc_coverage_count(want, 10), 9, "count of non-zero entries");
    uint8_t acc[4] = {0, 0, 0, 0};
    const uint8_t b1[4] = {1, 0, 0, 0}, b2[4] = {2, 0, 0, 0}, b3[4] = {1, 0, 0, 0},
                  b4[4] = {0, 0, 4, 0};
    is_int(cc_coverage_merge(acc, b1, 4), 2, "merge: a new edge");
    is_int(cc_coverage_merge(acc, b2, 4), 1, "merge: a new bucket of a known edge");
    is_int(cc_coverage_merge(acc, b3, 4), 0, "merge: nothing new");
    is_int(cc_coverage_merge(acc, b4, 4), 2, "merge: another new edge");
    ok(acc[0] == 3 && acc[2] == 4, "merge ORs the buckets");
    ok(cc_coverage_hash(b1, 4) != cc_coverage_hash(b2, 4) &&
       cc_coverage_hash(b1, 4) == cc_coverage_hash(b3, 4), "hash follows the contents");
}

static void test_ids(void)
{
    /* the id is FNV-1a 64 of "file:line:message" */
    const char *s = "a.c:12:msg";
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = s; *p; p++) {
        h ^= (uint8_t)*p;
        h *= 0x100000001b3ull;
    }
    is_u64(cc_proto_assert_id("a.c", 3, 12, "msg", 3), h, "assertion id = FNV-1a(\"file:line:message\")");
    ok(cc_proto_assert_id("a.c", 3, 0, "msg", 3) != h, "the line is part of the id");
}

int main(void)
{
    tap_plan(0);
    test_verdicts();
    test_oracle();
    test_coverage();
    test_ids();
    return tap_exit();
}
