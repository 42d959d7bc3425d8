/* Minimal TAP producer for unit and tiny-guest tests (meson: protocol 'tap').
 *
 *   int main(void) {
 *       tap_plan(2);          // or tap_plan(0) and tap_done() at the end
 *       ok(1 + 1 == 2, "addition");
 *       is_int(f(), 3, "f returns 3");
 *       return tap_exit();
 *   }
 */
#ifndef CC_TESTS_TAP_H
#define CC_TESTS_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed, tap_planned;

static inline void tap_plan(int n)
{
    tap_planned = n;
    if (n > 0)
        printf("1..%d\n", n);
    fflush(stdout);
}

static inline void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_diag(const char *fmt, ...)
{
    /* Every line of a multi-line message gets the "# " prefix, so the
     * output stays valid TAP whatever the message holds. */
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (const char *p = buf;;) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        printf("# %.*s\n", n, p);
        if (!nl || !nl[1])
            break;
        p = nl + 1;
    }
    fflush(stdout);
}

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_n++;
    printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!cond) {
        tap_failed++;
        printf("#   failed at %s:%d\n", file, line);
    }
    fflush(stdout);
    return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...) do { \
        long long got_ = (long long)(got), want_ = (long long)(want); \
        if (!ok(got_ == want_, __VA_ARGS__)) \
            tap_diag("got %lld, want %lld", got_, want_); \
    } while (0)

#define is_u64(got, want, ...) do { \
        uint64_t got_ = (uint64_t)(got), want_ = (uint64_t)(want); \
        if (!ok(got_ == want_, __VA_ARGS__)) \
            tap_diag("got 0x%" PRIx64 ", want 0x%" PRIx64, got_, want_); \
    } while (0)

#define is_str(got, want, ...) do { \
        const char *got_ = (got), *want_ = (want); \
        if (!ok(got_ && want_ && !strcmp(got_, want_), __VA_ARGS__)) \
            tap_diag("got \"%s\", want \"%s\"", got_ ? got_ : "(null)", want_ ? want_ : "(null)"); \
    } while (0)

/* Abort the whole test program (Bail out!) when continuing makes no sense. */
#define tap_bail(...) do { \
        printf("Bail out! "); printf(__VA_ARGS__); printf("\n"); \
        fflush(stdout); exit(1); \
    } while (0)

static inline int tap_exit(void)
{
    if (tap_planned <= 0)
        printf("1..%d\n", tap_n);
    else if (tap_n != tap_planned) {
        printf("# planned %d tests but ran %d\n", tap_planned, tap_n);
        return 1;
    }
    fflush(stdout);
    return tap_failed ? 1 : 0;
}

#endif
