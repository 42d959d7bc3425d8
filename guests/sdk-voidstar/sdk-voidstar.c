/* sdk-voidstar: a program instrumented the way the Antithesis SDKs do it,
 * against the libvoidstar.so shim (sdk/voidstar.c), without linking the
 * ChaosControl SDK at all:
 *   - it dlopens /usr/lib/libvoidstar.so and looks up fuzz_json_data,
 *     fuzz_flush, fuzz_get_random, init_coverage_module, notify_coverage;
 *   - its edge coverage (clang trace-pc-guard) is forwarded to the shim's
 *     __sanitizer_cov_trace_pc_guard{_init} as antithesis_instrumentation.h
 *     does;
 *   - it sends antithesis_sdk, a catalog of antithesis_assert events with
 *     hit:false (like the Rust SDK's catalog at start-up), antithesis_setup,
 *     assertions with hit:true at their first true and first false (as the
 *     SDKs' trackers do), numeric antithesis_guidance and a custom event;
 *   - VOIDSTAR_FAIL=1 in the environment makes an Always assertion fail.
 * Dynamically linked (dlopen needs it); runs as /init or natively. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#define LIB_PATH "/usr/lib/libvoidstar.so"
#define NOCOV __attribute__((no_sanitize("coverage")))

static void (*json_data)(const char *, size_t);
static void (*flush)(void);
static uint64_t (*get_random)(void);
static size_t (*init_module)(size_t, const char *);
static bool (*notify)(size_t);
static void (*guard_init_fn)(uint32_t *, uint32_t *);
static void (*guard_fn)(uint32_t *);
static bool loaded, tried;

NOCOV static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
NOCOV static void say(const char *fmt, ...)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "sdk-voidstar: ");
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t k = write(1, line, (size_t)n);
    (void)k;
}

NOCOV static void load(void)
{
    if (tried)
        return;
    tried = true;
    void *h = dlopen(LIB_PATH, RTLD_NOW);
    if (!h) {
        say("cannot load %s: %s", LIB_PATH, dlerror());
        return;
    }
    json_data = (void (*)(const char *, size_t))dlsym(h, "fuzz_json_data");
    flush = (void (*)(void))dlsym(h, "fuzz_flush");
    get_random = (uint64_t (*)(void))dlsym(h, "fuzz_get_random");
    init_module = (size_t (*)(size_t, const char *))dlsym(h, "init_coverage_module");
    notify = (bool (*)(size_t))dlsym(h, "notify_coverage");
    guard_init_fn = (void (*)(uint32_t *, uint32_t *))dlsym(h, "__sanitizer_cov_trace_pc_guard_init");
    guard_fn = (void (*)(uint32_t *))dlsym(h, "__sanitizer_cov_trace_pc_guard");
    loaded = json_data && flush && get_random && init_module && notify && guard_init_fn &&
             guard_fn;
    if (!loaded)
        say("%s lacks an entry point", LIB_PATH);
}

/* As antithesis_instrumentation.h: forward the compiler's callbacks. */
NOCOV void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop)
{
    load();
    if (loaded)
        guard_init_fn(start, stop);
}

NOCOV void __sanitizer_cov_trace_pc_guard(uint32_t *guard)
{
    if (loaded)
        guard_fn(guard);
    else if (guard)
        *guard = 0;
}

NOCOV static void emit(const char *json)
{
    if (loaded)
        json_data(json, strlen(json));
}

struct assertion {
    const char *display, *type, *message, *function;
    int line;
    bool must_hit, seen_true, seen_false;
};

static struct assertion catalog[] = {
    {"Always", "always", "voidstar: totals add up", "check", 101, true, false, false},
    {"Sometimes", "sometimes", "voidstar: a big random value", "check", 102, true, false, false},
    {"Reachable", "reachability", "voidstar: main loop ran", "main", 103, true, false, false},
    {"AlwaysOrUnreachable", "always", "voidstar: never negative", "check", 104, false, false,
     false},
    {"Unreachable", "reachability", "voidstar: the impossible", "main", 105, false, false, false},
    {"Always", "always", "voidstar: never reached at all", "unused", 106, true, false, false},
};

static void assert_json(struct assertion *a, bool hit, bool cond, const char *details)
{
    char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"antithesis_assert\":{\"assert_type\":\"%s\",\"display_type\":\"%s\","
             "\"condition\":%s,\"message\":\"%s\",\"location\":{\"class\":\"\","
             "\"function\":\"%s\",\"file\":\"sdk-voidstar.c\",\"begin_line\":%d,"
             "\"begin_column\":5},\"hit\":%s,\"must_hit\":%s,\"id\":\"%s\",\"details\":%s}}",
             a->type, a->display, cond ? "true" : "false", a->message, a->function, a->line,
             hit ? "true" : "false", a->must_hit ? "true" : "false", a->message,
             details ? details : "null");
    emit(buf);
}

/* The SDKs' tracker: emit at the first true and the first false only. */
static void check(int i, bool cond, const char *details)
{
    struct assertion *a = &catalog[i];
    if (cond ? a->seen_true : a->seen_false)
        return;
    if (cond)
        a->seen_true = true;
    else
        a->seen_false = true;
    assert_json(a, true, cond, details);
}

int main(void)
{
    load();
    say("start: shim %s", loaded ? "loaded" : "missing");
    if (!loaded)
        goto out;
    emit("{\"antithesis_sdk\":{\"language\":{\"name\":\"C\",\"version\":\"c11\"},"
         "\"sdk_version\":\"test\",\"protocol_version\":\"1.0.0\"}}");
    for (size_t i = 0; i < sizeof(catalog) / sizeof(catalog[0]); i++)
        assert_json(&catalog[i], false, false, NULL);
    emit("{\"antithesis_setup\":{\"status\":\"complete\",\"details\":{\"via\":\"voidstar\"}}}");

    size_t base = init_module(64, "sdk-voidstar.sym");
    uint64_t r[4];
    int total = 0;
    for (int i = 0; i < 4; i++) {
        r[i] = get_random();
        notify(base + (size_t)(r[i] % 64));
        total += (int)(r[i] % 100);
    }
    say("random: %016llx %016llx %016llx %016llx", (unsigned long long)r[0],
        (unsigned long long)r[1], (unsigned long long)r[2], (unsigned long long)r[3]);
    check(2, true, NULL);
    check(0, total >= 0, "{\"total\":1}");
    check(1, r[0] > (1ull << 62), NULL);
    check(1, true, NULL);
    check(3, total < 1000, NULL);
    const char *fail = getenv("VOIDSTAR_FAIL");
    if (fail && !strcmp(fail, "1"))
        check(0, false, "{\"total\":-1}");
    if (r[0] == 42 && r[1] == 42)
        check(4, false, NULL);
    emit("{\"antithesis_guidance\":{\"guidance_type\":\"numeric\",\"message\":\"voidstar: "
         "total\",\"id\":\"voidstar: total\",\"location\":{\"class\":\"\",\"function\":\"main\","
         "\"file\":\"sdk-voidstar.c\",\"begin_line\":140,\"begin_column\":5},\"maximize\":true,"
         "\"guidance_data\":{\"left\":250,\"right\":50},\"hit\":true}}");
    emit("{\"voidstar_event\":{\"total\":3}}");
    flush();
    say("done");
out:
    sync();
    if (getpid() != 1)
        return 0;
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}
