/* The ChaosControl guest SDK: what a program under test calls to tell the
 * explorer what must hold, where it may branch and how far it got.
 * The API below is the contract in SDK.md; usable from C and C++.
 *
 *   #include <chaoscontrol.h>
 *
 *   int main(void) {
 *       start_cluster();
 *       cc_setup_complete("{\"nodes\": 3}");
 *       for (;;) {
 *           uint64_t op = cc_random_choice(3);          // a branch point
 *           int rc = do_op(op);
 *           CC_ALWAYS(rc >= 0, "operations never fail", NULL);
 *           CC_SOMETIMES(op == 2 && rc == 0, "a delete succeeds", NULL);
 *       }
 *   }
 *
 * Under the ChaosControl VMM the SDK finds the VMM's hypercall page (through
 * /dev/mem) and talks to it; anywhere else it runs in local mode: events go
 * as JSON lines to the file named by CHAOSCONTROL_SDK_OUTPUT (or nowhere),
 * randomness comes from getrandom(), and nothing crashes.
 *
 * Each assertion macro is one catalog entry, a static descriptor in the ELF
 * section "cc_catalog" that the SDK registers with the VMM before main(),
 * so entries that are never reached are still reported, by name. Messages
 * should be string literals; details are JSON object text or NULL. (One
 * exception: g++ drops the section of statics in function template
 * instances, so with g++ those entries are registered when first reached;
 * clang++ and C have no such exception.)
 *
 * Build: link libchaoscontrol-sdk.a (musl-gcc -static for guests; the host
 * build works for local mode). For edge coverage compile the program (not
 * the SDK) with -fsanitize-coverage=trace-pc-guard (clang) or
 * -fsanitize-coverage=trace-pc (gcc).
 *
 * Environment (read once, at start-up):
 *   CHAOSCONTROL_SDK_OUTPUT   local mode: file for JSON lines (appended)
 *   CHAOSCONTROL_SDK_TRIGGER  auto (default), port, hypercall or local
 *   CHAOSCONTROL_SDK_KCOV     0 turns kernel coverage collection off
 */
#ifndef CHAOSCONTROL_H
#define CHAOSCONTROL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- lifecycle: details is a JSON object text or NULL ---- */
void cc_setup_complete(const char *details);
void cc_send_event(const char *name, const char *details);

/* ---- guided randomness: values come from the VMM's seeded stream; every
 * call of cc_random_choice is a branch point the explorer can steer ---- */
uint64_t cc_random_u64(void);
uint64_t cc_random_choice(uint64_t n);        /* uniform in [0, n); 0 when n == 0 */
void cc_random_bytes(void *buf, size_t len);

/* ---- guidance toward a violation (optional) ---- */
void cc_guidance_maximize(const char *message, int64_t value);
void cc_guidance_minimize(const char *message, int64_t value);

/* ---- coverage: automatic with -fsanitize-coverage=trace-pc-guard;
 * cc_coverage_edge for hand-placed edges ---- */
void cc_coverage_edge(uint32_t id);

/* ---- extensions (not in SDK.md's contract list, but stable) ---- */

/* How this process talks to the VMM. */
enum cc_sdk_mode {
    CC_SDK_LOCAL = 0,       /* no VMM: local mode */
    CC_SDK_PORT = 1,        /* VMM, port-I/O doorbell */
    CC_SDK_HYPERCALL = 2,   /* VMM, hypercall doorbell through /dev/chaoscontrol */
};
int cc_sdk_mode(void);
/* Switch the doorbell (CC_SDK_PORT or CC_SDK_HYPERCALL) for this process;
 * returns 0, or -1 when that doorbell is not available (nothing changes). */
int cc_sdk_set_mode(int mode);
/* One round trip to the VMM doing nothing (for measurements); no-op in
 * local mode. */
void cc_sdk_ping(void);
/* Fold kernel coverage (KCOV) collected since the last SDK call into the
 * bitmap now. SDK calls do this on their own; call it before long
 * stretches without SDK calls if kernel coverage matters. */
void cc_sdk_flush(void);

/* Start the SDK at the first SDK call instead of before main(): a program
 * that defines it non-zero (const int cc_sdk_lazy_start = 1; in C++
 * extern "C" const int cc_sdk_lazy_start = 1;) says nothing
 * to the VMM until it calls the SDK (cc-init does, so that an image that
 * uses none of its SDK features behaves exactly as without the SDK). */
extern const int cc_sdk_lazy_start;

/* ---- assertions made at run time ----
 * For properties known only while running: a test runner's commands, a
 * script's checks, a name read from a file. One catalog entry per
 * (kind, message, location), the same one however often it is used; its id
 * is derived from location and message exactly as for the macros (file,
 * line, message), so it is stable across runs and builds, and the same in
 * every process and VM that names it.
 *
 *   cc_assert_register(CC_ASSERT_KIND_ALWAYS, "test command main/first_x succeeds",
 *                      "/opt/chaoscontrol/test/v1/main/first_x");
 *   ...
 *   cc_assert_dynamic(CC_ASSERT_KIND_ALWAYS, status == 0, "test command main/first_x succeeds",
 *                     "/opt/chaoscontrol/test/v1/main/first_x", "{\"exit_status\": 0}");
 *
 * kind: one of CC_ASSERT_KIND_* below (the macros' kinds). message: any
 * text (copied). location: where the property lives, shown as the entry's
 * file; "path:LINE" gives a file and a line; NULL is "". details: JSON
 * object text or NULL, as for the macros.
 * cc_assert_register puts the entry in the catalog now, so that it is
 * reported (unexercised) even if it is never evaluated; cc_assert_dynamic
 * registers it if needed and evaluates it, with the macros' semantics.
 * Both return 0, or -1 for a bad kind, an empty message or no memory.
 * Thread-safe; each distinct entry costs a little memory for the life of
 * the process. */
enum cc_assert_kind {
    CC_ASSERT_KIND_ALWAYS = 1,
    CC_ASSERT_KIND_ALWAYS_OR_UNREACHABLE = 2,
    CC_ASSERT_KIND_SOMETIMES = 3,
    CC_ASSERT_KIND_REACHABLE = 4,
    CC_ASSERT_KIND_UNREACHABLE = 5,
};
int cc_assert_register(int kind, const char *message, const char *location);
int cc_assert_dynamic(int kind, int cond, const char *message, const char *location,
                      const char *details);

/* ---- assertions ---- */

/* A catalog descriptor. The macros below create one per use; the SDK fills
 * in the run-time fields. Not for direct use. */
struct cc_catalog_entry {
    uint64_t magic;             /* CC_CATALOG_MAGIC */
    uint32_t kind;              /* CC_KIND_* in chaoscontrol_protocol.h */
    uint32_t line;
    const char *message;
    const char *file;
    const char *function;
    /* run time */
    uint64_t id;                /* FNV-1a of "file:line:message" */
    uint32_t slot;              /* state table slot + 1; 0 = none */
    uint32_t state;             /* CC_ENTRY_* bits */
};

#define CC_CATALOG_MAGIC 0x474f4c415441434bull     /* "KCATALOG" */

void cc_assert_eval_(struct cc_catalog_entry *entry, int cond, const char *details);

#if defined(__cplusplus)
#define CC_ENTRY_INIT_(k_, m_) \
    {CC_CATALOG_MAGIC, (k_), __LINE__, (m_), __FILE__, __func__, 0, 0, 0}
#else
#define CC_ENTRY_INIT_(k_, m_) \
    {.magic = CC_CATALOG_MAGIC, .kind = (k_), .line = __LINE__, .message = (m_), \
     .file = __FILE__, .function = __func__}
#endif

/* The descriptor lives in ordinary data; a pointer to it goes into the
 * "cc_catalog" section (pointers are 8 bytes, so the section is a plain
 * array that the SDK walks from __start_cc_catalog to __stop_cc_catalog). */
#define CC_ASSERT_(kind, cond, message, details) do { \
        static struct cc_catalog_entry cc_entry_ = CC_ENTRY_INIT_(kind, message); \
        static struct cc_catalog_entry *cc_entry_ptr_ \
            __attribute__((section("cc_catalog"), used, aligned(8))) = &cc_entry_; \
        (void)cc_entry_ptr_; \
        cc_assert_eval_(&cc_entry_, (cond) ? 1 : 0, (details)); \
    } while (0)

#define CC_ALWAYS(cond, message, details)                CC_ASSERT_(1, cond, message, details)
#define CC_ALWAYS_OR_UNREACHABLE(cond, message, details) CC_ASSERT_(2, cond, message, details)
#define CC_SOMETIMES(cond, message, details)             CC_ASSERT_(3, cond, message, details)
#define CC_REACHABLE(message, details)                   CC_ASSERT_(4, 1, message, details)
#define CC_UNREACHABLE(message, details)                 CC_ASSERT_(5, 1, message, details)

#ifdef __cplusplus
}
#endif

#endif
