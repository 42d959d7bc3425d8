/* The guest SDK in local mode (no VMM): the host build of
 * libchaoscontrol-sdk.a, run natively.
 *
 * The SDK starts in a constructor, before main, and reads its environment
 * then, so each scenario re-executes this program with the environment it
 * needs (CHAOSCONTROL_SDK_OUTPUT, CHAOSCONTROL_SDK_TRIGGER) and checks the
 * JSON lines the child wrote:
 *   - every line is one valid JSON object in the Antithesis vocabulary;
 *   - the SDK info line comes first, then the whole catalog (hit:false),
 *     before any assertion is reported hit;
 *   - assertions are reported at their first true and first false only;
 *   - setup_complete, events, guidance (new extremes only) and bad caller
 *     JSON (quoted as a string);
 *   - randomness works and stays in range;
 *   - nothing crashes: NULL arguments, huge details, threads, fork, an
 *     unwritable output file, calls that only mean something under the VMM. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "chaoscontrol.h"
#include "sdk_internal.h"
#include "../tap.h"

/* ---- the child: SDK calls ---- */

static void *thread_fn(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < 1000; i++) {
        CC_ALWAYS(i >= 0, "threads: always", NULL);
        CC_SOMETIMES(i == 999, "threads: last iteration", NULL);
        cc_coverage_edge((uint32_t)(id * 1000 + i));
        (void)cc_random_choice(7);
    }
    return NULL;
}

static int child_main(const char *scenario)
{
    if (!strcmp(scenario, "basic")) {
        cc_setup_complete("{\"nodes\": 3}");
        cc_send_event("started", "{\"a\": [1, 2, {\"b\": null}]}");
        cc_send_event(NULL, NULL);
        cc_send_event("", "not json at all");
        cc_send_event("quote\"and\\newline\n", "  {\"x\": 1}  ");
        for (int i = 0; i < 5; i++) {
            CC_ALWAYS(i < 3, "basic: i stays below 3", "{\"i\": 0}");
            CC_SOMETIMES(i == 4, "basic: i reaches 4", NULL);
            CC_ALWAYS_OR_UNREACHABLE(i >= 0, "basic: non-negative", NULL);
            cc_guidance_maximize("basic: i", i);
            cc_guidance_minimize("basic: i", 10 - i);
        }
        CC_REACHABLE("basic: reached", NULL);
        if (getenv("NEVER_SET_ANYWHERE"))
            CC_UNREACHABLE("basic: never reached", NULL);
        CC_UNREACHABLE("basic: reached unreachable", "{\"why\": \"test\"}");
        return 0;
    }
    if (!strcmp(scenario, "random")) {
        int bad = 0;
        for (int i = 0; i < 10000; i++) {
            uint64_t c = cc_random_choice(3);
            if (c >= 3)
                bad++;
        }
        if (cc_random_choice(0) != 0 || cc_random_choice(1) != 0)
            bad++;
        uint64_t a = cc_random_u64(), b = cc_random_u64();
        uint8_t buf[64] = {0}, zero[64] = {0};
        cc_random_bytes(buf, sizeof(buf));
        cc_random_bytes(NULL, 10);
        cc_random_bytes(buf, 0);
        printf("%d %d %d\n", bad, a != b, memcmp(buf, zero, sizeof(buf)) != 0);
        return 0;
    }
    if (!strcmp(scenario, "dynamic")) {
        /* Entries made at run time: registered before use, evaluated many
         * times, the same entry found again by (kind, message, location). */
        int bad = 0;
        bad += cc_assert_register(CC_ASSERT_KIND_ALWAYS, "dyn: cmd a succeeds", "/t/a") != 0;
        bad += cc_assert_register(CC_ASSERT_KIND_SOMETIMES, "dyn: never evaluated", "/t/b:12") != 0;
        bad += cc_assert_register(CC_ASSERT_KIND_ALWAYS, "dyn: cmd a succeeds", "/t/a") != 0;
        for (int i = 0; i < 5; i++) {
            char msg[64];
            snprintf(msg, sizeof(msg), "dyn: cmd %s succeeds", "a");   /* not a literal */
            bad += cc_assert_dynamic(CC_ASSERT_KIND_ALWAYS, i != 3, msg, "/t/a",
                                     i == 3 ? "{\"exit_status\": 3}" : NULL) != 0;
        }
        bad += cc_assert_dynamic(CC_ASSERT_KIND_REACHABLE, 0, "dyn: reached", NULL, NULL) != 0;
        /* bad arguments are refused */
        bad += cc_assert_register(0, "dyn: kind 0", "/t/x") != -1;
        bad += cc_assert_register(6, "dyn: kind 6", "/t/x") != -1;
        bad += cc_assert_dynamic(CC_ASSERT_KIND_ALWAYS, 1, "", "/t/x", NULL) != -1;
        bad += cc_assert_dynamic(CC_ASSERT_KIND_ALWAYS, 1, NULL, "/t/x", NULL) != -1;
        printf("%d\n", bad);
        return 0;
    }
    if (!strcmp(scenario, "abuse")) {
        /* Calls that mean nothing outside the VMM, strange arguments. */
        cc_sdk_ping();
        cc_sdk_flush();
        int m = cc_sdk_set_mode(CC_SDK_PORT) == -1 && cc_sdk_set_mode(CC_SDK_HYPERCALL) == -1 &&
                cc_sdk_set_mode(12345) == -1 && cc_sdk_mode() == CC_SDK_LOCAL;
        cc_guidance_maximize(NULL, 1);
        cc_setup_complete(NULL);
        cc_setup_complete("");
        size_t big = 1 << 20;
        char *d = malloc(big + 3);
        d[0] = '"';
        memset(d + 1, 'x', big);
        d[big + 1] = '"';
        d[big + 2] = 0;
        cc_send_event("big", d);
        free(d);
        pthread_t th[4];
        for (long i = 0; i < 4; i++)
            pthread_create(&th[i], NULL, thread_fn, (void *)i);
        for (int i = 0; i < 4; i++)
            pthread_join(th[i], NULL);
        pid_t pid = fork();
        if (pid == 0) {
            CC_REACHABLE("abuse: in the child", NULL);
            cc_send_event("child", NULL);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        printf("%d %d\n", m, WIFEXITED(st) && WEXITSTATUS(st) == 0);
        return 0;
    }
    return 2;
}

/* ---- the parent: run a scenario, read its lines ---- */

struct lines {
    json_t **v;
    size_t n;
    size_t invalid;
    char out[256];      /* the child's stdout */
};

static int run_child(const char *scenario, const char *output, const char *trigger,
                     struct lines *l)
{
    memset(l, 0, sizeof(*l));
    if (output)
        unlink(output);
    int pfd[2];
    if (pipe(pfd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        setenv("SDK_TEST_CHILD", scenario, 1);
        if (output)
            setenv("CHAOSCONTROL_SDK_OUTPUT", output, 1);
        else
            unsetenv("CHAOSCONTROL_SDK_OUTPUT");
        if (trigger)
            setenv("CHAOSCONTROL_SDK_TRIGGER", trigger, 1);
        else
            unsetenv("CHAOSCONTROL_SDK_TRIGGER");
        execl("/proc/self/exe", "test_sdk_local", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    ssize_t k = read(pfd[0], l->out, sizeof(l->out) - 1);
    l->out[k > 0 ? k : 0] = 0;
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    if (output) {
        FILE *f = fopen(output, "r");
        if (f) {
            char *line = NULL;
            size_t cap = 0;
            ssize_t len;
            while ((len = getline(&line, &cap, f)) > 0) {
                json_error_t je;
                json_t *v = json_loadb(line, (size_t)len, 0, &je);
                if (!v || !json_is_object(v) || json_object_size(v) != 1) {
                    l->invalid++;
                    json_decref(v);
                    continue;
                }
                l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
                l->v[l->n++] = v;
            }
            free(line);
            fclose(f);
        }
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void lines_free(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        json_decref(l->v[i]);
    free(l->v);
}

static json_t *get(json_t *o, const char *key)
{
    return json_object_get(o, key);
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* Index of the first line with this top-level key and message (or -1). */
static long find(const struct lines *l, const char *key, const char *message, int hit, int cond)
{
    for (size_t i = 0; i < l->n; i++) {
        json_t *v = get(l->v[i], key);
        if (!v)
            continue;
        if (message && strcmp(str(v, "message"), message))
            continue;
        if (hit >= 0 && json_is_true(get(v, "hit")) != hit)
            continue;
        if (cond >= 0 && json_is_true(get(v, "condition")) != cond)
            continue;
        return (long)i;
    }
    return -1;
}

static size_t count(const struct lines *l, const char *key, const char *message, int hit,
                    int cond)
{
    size_t c = 0;
    for (size_t i = 0; i < l->n; i++) {
        json_t *v = get(l->v[i], key);
        if (!v || (message && strcmp(str(v, "message"), message)))
            continue;
        if (hit >= 0 && json_is_true(get(v, "hit")) != hit)
            continue;
        if (cond >= 0 && json_is_true(get(v, "condition")) != cond)
            continue;
        c++;
    }
    return c;
}

static void test_basic(const char *dir)
{
    char out[512];
    snprintf(out, sizeof(out), "%s/basic.jsonl", dir);
    struct lines l;
    int rc = run_child("basic", out, NULL, &l);
    is_int(rc, 0, "basic: the child exits normally (even after an UNREACHABLE)");
    is_int(l.invalid, 0, "basic: every line is one JSON object");
    ok(l.n > 0 && get(l.v[0], "antithesis_sdk") &&
       !strcmp(str(get(l.v[0], "antithesis_sdk"), "protocol_version"), "1.0.0"),
       "basic: the first line is antithesis_sdk");

    /* Catalog: every macro of this program, all before the first hit. */
    size_t cat = count(&l, "antithesis_assert", NULL, 0, -1);
    long first_hit = find(&l, "antithesis_assert", NULL, 1, -1);
    long last_cat = -1;
    for (size_t i = 0; i < l.n; i++)
        if (get(l.v[i], "antithesis_assert") && !json_is_true(get(get(l.v[i],
                                                                     "antithesis_assert"), "hit")))
            last_cat = (long)i;
    ok(cat >= 9, "basic: the catalog lists this program's entries (%zu)", cat);
    ok(first_hit > last_cat, "basic: the whole catalog comes before the first hit");
    ok(find(&l, "antithesis_assert", "basic: never reached", 0, -1) >= 0 &&
       find(&l, "antithesis_assert", "basic: never reached", 1, -1) < 0,
       "basic: an entry never reached is in the catalog by name, never hit");

    long a = find(&l, "antithesis_assert", "basic: i stays below 3", 0, -1);
    json_t *e = a >= 0 ? get(l.v[a], "antithesis_assert") : NULL;
    json_t *loc = e ? get(e, "location") : NULL;
    ok(e && !strcmp(str(e, "display_type"), "Always") && !strcmp(str(e, "assert_type"), "always") &&
       json_is_true(get(e, "must_hit")) && loc && strstr(str(loc, "file"), "test_sdk_local.c") &&
       !strcmp(str(loc, "function"), "child_main") &&
       json_integer_value(get(loc, "begin_line")) > 0,
       "basic: catalog entry: kind, must_hit, file, function, line");

    is_int(count(&l, "antithesis_assert", "basic: i stays below 3", 1, 1), 1,
           "basic: first true reported once");
    is_int(count(&l, "antithesis_assert", "basic: i stays below 3", 1, 0), 1,
           "basic: first false reported once");
    long f = find(&l, "antithesis_assert", "basic: i stays below 3", 1, 0);
    ok(f >= 0 && json_integer_value(get(get(get(l.v[f], "antithesis_assert"), "details"), "i")) == 0,
       "basic: details are embedded as JSON");
    is_int(count(&l, "antithesis_assert", "basic: i reaches 4", 1, 1), 1,
           "basic: SOMETIMES true once: reported");
    is_int(count(&l, "antithesis_assert", "basic: reached unreachable", 1, 0), 1,
           "basic: UNREACHABLE reached: reported with condition false");
    long u = find(&l, "antithesis_assert", "basic: reached unreachable", 0, -1);
    ok(u >= 0 && !json_is_true(get(get(l.v[u], "antithesis_assert"), "must_hit")) &&
       !strcmp(str(get(l.v[u], "antithesis_assert"), "display_type"), "Unreachable"),
       "basic: UNREACHABLE: display type, must_hit false");

    long s = find(&l, "antithesis_setup", NULL, -1, -1);
    ok(s >= 0 && !strcmp(str(get(l.v[s], "antithesis_setup"), "status"), "complete") &&
       json_integer_value(get(get(get(l.v[s], "antithesis_setup"), "details"), "nodes")) == 3,
       "basic: setup_complete with details");
    long ev = find(&l, "started", NULL, -1, -1);
    ok(ev >= 0 && json_is_array(get(get(l.v[ev], "started"), "a")), "basic: event with details");
    long an = find(&l, "anonymous", NULL, -1, -1);
    ok(an >= 0 && json_is_null(get(l.v[an], "anonymous")), "basic: NULL name: anonymous, null");
    bool quoted = false, weird = false;
    for (size_t i = 0; i < l.n; i++) {
        json_t *v = get(l.v[i], "anonymous");
        if (json_is_string(v) && !strcmp(json_string_value(v), "not json at all"))
            quoted = true;
        v = get(l.v[i], "quote\"and\\newline\n");
        if (v && json_integer_value(get(v, "x")) == 1)
            weird = true;
    }
    ok(quoted, "basic: details that are not JSON become a JSON string");
    ok(weird, "basic: names are escaped; details are trimmed JSON");

    size_t g = count(&l, "antithesis_guidance", NULL, -1, -1);
    is_int(g, 10, "basic: guidance only at new extremes (5 up + 5 down)");
    lines_free(&l);
}

static void test_dynamic(const char *dir)
{
    char out[512];
    snprintf(out, sizeof(out), "%s/dynamic.jsonl", dir);
    struct lines l;
    int rc = run_child("dynamic", out, "local", &l);
    int bad = -1;
    sscanf(l.out, "%d", &bad);
    ok(rc == 0 && bad == 0, "dynamic: calls return 0, bad kinds and empty messages -1 (%d)", bad);
    is_int(l.invalid, 0, "dynamic: every line is one JSON object");
    is_int(count(&l, "antithesis_assert", "dyn: cmd a succeeds", 0, -1), 1,
           "dynamic: registered twice, evaluated 5 times: one catalog line");
    long c = find(&l, "antithesis_assert", "dyn: cmd a succeeds", 0, -1);
    long h = find(&l, "antithesis_assert", "dyn: cmd a succeeds", 1, -1);
    ok(c >= 0 && h > c, "dynamic: the catalog line comes before the first evaluation");
    json_t *loc = c >= 0 ? get(get(l.v[c], "antithesis_assert"), "location") : NULL;
    ok(loc && !strcmp(str(loc, "file"), "/t/a") && json_integer_value(get(loc, "begin_line")) == 0,
       "dynamic: the location is the entry's file (line 0)");
    long b = find(&l, "antithesis_assert", "dyn: never evaluated", 0, -1);
    loc = b >= 0 ? get(get(l.v[b], "antithesis_assert"), "location") : NULL;
    ok(loc && !strcmp(str(loc, "file"), "/t/b") && json_integer_value(get(loc, "begin_line")) == 12 &&
       !strcmp(str(get(l.v[b], "antithesis_assert"), "display_type"), "Sometimes") &&
       find(&l, "antithesis_assert", "dyn: never evaluated", 1, -1) < 0,
       "dynamic: \"path:12\" is file and line; a registered entry never evaluated is not hit");
    is_int(count(&l, "antithesis_assert", "dyn: cmd a succeeds", 1, 1), 1,
           "dynamic: first true reported once");
    long f = find(&l, "antithesis_assert", "dyn: cmd a succeeds", 1, 0);
    ok(count(&l, "antithesis_assert", "dyn: cmd a succeeds", 1, 0) == 1 && f >= 0 &&
       json_integer_value(get(get(get(l.v[f], "antithesis_assert"), "details"), "exit_status")) == 3,
       "dynamic: first false reported once, with its details");
    ok(count(&l, "antithesis_assert", "dyn: reached", 0, -1) == 1 &&
       count(&l, "antithesis_assert", "dyn: reached", 1, 1) == 1,
       "dynamic: evaluated without registering: catalogued, then hit (REACHABLE: true)");
    ok(find(&l, "antithesis_assert", "dyn: kind 0", -1, -1) < 0 &&
       find(&l, "antithesis_assert", "", -1, -1) < 0, "dynamic: refused calls write nothing");
    lines_free(&l);
}

static void test_random(void)
{
    struct lines l;
    int rc = run_child("random", NULL, NULL, &l);
    int bad = -1, differ = -1, nonzero = -1;
    sscanf(l.out, "%d %d %d", &bad, &differ, &nonzero);
    ok(rc == 0 && bad == 0, "random: choices in range, choice(0) and choice(1) are 0");
    ok(differ == 1 && nonzero == 1, "random: u64 values differ, bytes are filled");
    lines_free(&l);
}

static void test_abuse(const char *dir)
{
    char out[512];
    snprintf(out, sizeof(out), "%s/abuse.jsonl", dir);
    struct lines l;
    int rc = run_child("abuse", out, "local", &l);
    int modes = -1, child = -1;
    sscanf(l.out, "%d %d", &modes, &child);
    is_int(rc, 0, "abuse: the child survives everything");
    is_int(modes, 1, "abuse: no doorbell to switch to; still local mode");
    is_int(child, 1, "abuse: a forked child uses the SDK");
    is_int(l.invalid, 0, "abuse: every line valid, also from threads and the child");
    long big = find(&l, "big", NULL, -1, -1);
    ok(big >= 0 && json_string_length(get(l.v[big], "big")) == 1 << 20,
       "abuse: a 1 MiB details string arrives whole");
    is_int(count(&l, "antithesis_assert", "threads: always", 1, 1), 1,
           "abuse: 4 threads x 1000 evaluations: one first-true line");
    ok(find(&l, "child", NULL, -1, -1) >= 0, "abuse: the child's event is there");
    lines_free(&l);

    /* An output file that cannot be opened: no output, no crash. */
    rc = run_child("basic", "/nonexistent-dir/x/y.jsonl", NULL, &l);
    is_int(rc, 0, "unwritable CHAOSCONTROL_SDK_OUTPUT: runs anyway");
    lines_free(&l);
    /* No output configured at all. */
    rc = run_child("basic", NULL, NULL, &l);
    is_int(rc, 0, "no CHAOSCONTROL_SDK_OUTPUT: runs anyway");
    lines_free(&l);
}

static void test_validator(void)
{
    static const struct { const char *text; bool valid; } cases[] = {
        {"{}", true}, {"[]", true}, {"{\"a\":1}", true}, {"  {\"a\" : [1, 2.5e-3, -0]} ", true},
        {"\"str\\u00e9\\n\"", true}, {"true", true}, {"null", true}, {"-12.5E+7", true},
        {"{", false}, {"{\"a\"}", false}, {"[1,]", false}, {"01", false}, {"\"\\x\"", false},
        {"\"ctl\x01\"", false}, {"{} {}", false}, {"", false}, {"tru", false}, {"1.", false},
        {"\"\\u12g4\"", false}, {"{\"a\":1,}", false},
    };
    bool all = true;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool v = ccsdk_json_valid(cases[i].text, strlen(cases[i].text));
        if (v != cases[i].valid) {
            tap_diag("validator: '%s': got %d", cases[i].text, v);
            all = false;
        }
    }
    /* deep nesting is refused rather than overflowing the stack */
    char deep[20001];
    memset(deep, '[', 10000);
    memset(deep + 10000, ']', 10000);
    deep[20000] = 0;
    if (ccsdk_json_valid(deep, 20000))
        all = false;
    ok(all, "JSON validator: accepts JSON, refuses the rest, bounded depth");

    struct ccsdk_str s;
    ccsdk_str_init(&s);
    ccsdk_str_json(&s, "a\"b\\c\x01\t\xc3\xa9");
    is_str(s.p, "\"a\\\"b\\\\c\\u0001\\t\xc3\xa9\"", "JSON string escaping");
    ccsdk_str_free(&s);
}

int main(void)
{
    const char *scenario = getenv("SDK_TEST_CHILD");
    if (scenario)
        return child_main(scenario);
    tap_plan(0);
    ok(cc_sdk_mode() == CC_SDK_LOCAL, "natively the SDK is in local mode");
    char dir[] = "/tmp/test_sdk_local.XXXXXX";
    if (!mkdtemp(dir))
        tap_bail("mkdtemp: %s", strerror(errno));
    test_basic(dir);
    test_random();
    test_dynamic(dir);
    test_abuse(dir);
    test_validator();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
    return tap_exit();
}
