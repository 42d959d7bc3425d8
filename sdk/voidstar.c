/* libvoidstar.so: a drop-in for the library that programs instrumented with
 * the Antithesis SDKs (C++, Rust, Go, Java, ...) dlopen from
 * /usr/lib/libvoidstar.so. It routes what they send through the
 * ChaosControl protocol:
 *
 *   void     fuzz_json_data(const char *message, size_t length)
 *                one JSON event (antithesis_sdk, antithesis_assert with
 *                hit:false for catalog entries and hit:true when reached,
 *                antithesis_setup, antithesis_guidance, {"name": details});
 *                the VMM parses it (CC_OP_JSON) into the same catalog,
 *                oracle and run log as native SDK calls
 *   void     fuzz_flush(void)
 *   uint64_t fuzz_get_random(void)
 *                a value from the VM's seeded stream, recorded as a choice
 *   size_t   init_coverage_module(size_t edge_count, const char *symbols)
 *   bool     notify_coverage(size_t edge_plus_module)
 *   __sanitizer_cov_trace_pc_guard_init / __sanitizer_cov_trace_pc_guard
 *                (forwarded here by antithesis_instrumentation.h)
 *                edges into the same 64 KiB bitmap
 *
 * Outside the VMM it behaves like the SDK's local mode: the JSON goes, one
 * line per event, to CHAOSCONTROL_SDK_OUTPUT, randomness from getrandom().
 * Built with musl-gcc -shared -fPIC from this file and the SDK's sources. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sdk_internal.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT void fuzz_json_data(const char *message, size_t length);
EXPORT void fuzz_flush(void);
EXPORT uint64_t fuzz_get_random(void);
EXPORT size_t init_coverage_module(size_t edge_count, const char *symbol_file_name);
EXPORT bool notify_coverage(size_t edge_plus_module);

/* The SDK's hello says CC_HELLO_VOIDSTAR when this is linked in. */
CCSDK_HIDDEN extern const int ccsdk_is_voidstar;
CCSDK_HIDDEN const int ccsdk_is_voidstar = 1;

void fuzz_json_data(const char *message, size_t length)
{
    if (!message || !length)
        return;
    if (ccsdk_init() == CC_SDK_LOCAL) {
        ccsdk_local_line(message, length);
        return;
    }
    ccsdk_kcov_fold();
    ccsdk_call(CC_OP_JSON, 0, 0, 0, message, length, NULL);
}

void fuzz_flush(void)
{
    if (ccsdk_init() != CC_SDK_LOCAL)
        ccsdk_kcov_fold();
}

uint64_t fuzz_get_random(void)
{
    return cc_random_u64();
}

static size_t module_next;

size_t init_coverage_module(size_t edge_count, const char *symbol_file_name)
{
    (void)symbol_file_name;
    return __atomic_fetch_add(&module_next, edge_count, __ATOMIC_RELAXED);
}

bool notify_coverage(size_t edge_plus_module)
{
    cc_coverage_edge((uint32_t)(edge_plus_module ^ (edge_plus_module >> 32)));
    return true;    /* keep calling: the bitmap counts hits */
}
