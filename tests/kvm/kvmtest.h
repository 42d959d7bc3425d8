/* Tiny-guest test framework, in the spirit of the Linux KVM selftests.
 *
 * A test is an ordinary C function run as a 64-bit guest, plus host
 * assertions. The test binary is non-PIE; the harness loads its own image
 * (/proc/self/exe) into guest memory at the same addresses, identity-mapped,
 * so guest and host share symbols: the guest can call other GUEST_CODE
 * functions and use globals (its own copy), and the host can look at the
 * guest's copy of a global with kt_guest_ptr(t, &global).
 *
 * The guest reports to the host with "ucalls" (a port write carrying the
 * address of a small record): GUEST_SYNC(v), GUEST_ASSERT(cond) with file
 * and line, GUEST_DONE(). Exceptions in the guest are caught by an IDT the
 * harness installs and reported as KT_EXCEPTION with vector and RIP;
 * hardware interrupts (vectors 32-255) are counted in kt_irq_count[] and
 * passed to an optional guest hook.
 *
 *   GUEST_CODE static void guest(uint64_t arg)
 *   {
 *       GUEST_SYNC(arg + 1);
 *       GUEST_ASSERT(kt_inb(0x71) != 0xff);
 *       GUEST_DONE();
 *   }
 *
 *   struct kt_vm *t = kt_create(guest, 41, NULL);
 *   struct kt_ucall uc;
 *   kt_run(t, &uc);               // uc.type == KT_SYNC, uc.args[0] == 42
 *   kt_run(t, &uc);               // uc.type == KT_DONE, or KT_ASSERT with
 *                                 // uc.file / uc.line / uc.expr
 *   kt_destroy(t);
 *
 * Guest code must not call libc (it is not in the guest), must be marked
 * GUEST_CODE (no sanitizer instrumentation, no stack protector), and must
 * avoid floating point unless it sets up what it needs. */
#ifndef CC_TESTS_KVMTEST_H
#define CC_TESTS_KVMTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "chaoscontrol/vm.h"

#ifdef __clang__
#define KT_NO_LIBCALLS_
#else
/* keep gcc from turning loops into memset/memcpy calls (no libc in guest) */
#define KT_NO_LIBCALLS_ , optimize("no-tree-loop-distribute-patterns")
#endif
/* For guest functions whose inline assembly uses x87/SSE registers. The
 * compiler may then use SSE too, which some software hypervisors cannot
 * emulate; such tests run through tools/kvm-host. */
#define GUEST_CODE_FPU __attribute__((noinline, used, no_sanitize_address, \
                                      no_sanitize("undefined"), no_stack_protector \
                                      KT_NO_LIBCALLS_))
#define GUEST_CODE __attribute__((noinline, used, no_sanitize_address, \
                                  no_sanitize("undefined"), no_stack_protector, \
                                  target("general-regs-only") \
                                  KT_NO_LIBCALLS_))

#define KT_UCALL_PORT 0x3000
#define KT_MMIO_BASE  0x10000000ull     /* free for MMIO tests (above RAM) */
#define KT_MEM_SIZE   (64ull << 20)

enum kt_ucall_type {
    KT_NONE = 0,
    KT_SYNC,
    KT_ASSERT,
    KT_DONE,
    KT_EXCEPTION,
};

/* The record the guest fills; its address goes out on KT_UCALL_PORT. */
struct kt_ucall_rec {
    uint64_t type;
    uint64_t line;
    uint64_t file;      /* guest address of a string */
    uint64_t expr;      /* guest address of a string */
    uint64_t args[4];
};

/* What the host sees, strings copied out of guest memory. */
struct kt_ucall {
    enum kt_ucall_type type;
    uint64_t line;
    char file[256];
    char expr[256];
    uint64_t args[4];
    /* When kt_run returned something other than a ucall: */
    enum cc_stop stop;
};

/* ---- guest side ---- */

#define KT_INLINE static inline __attribute__((always_inline, target("general-regs-only")))

KT_INLINE void kt_outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
KT_INLINE void kt_outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
KT_INLINE void kt_outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
KT_INLINE uint8_t kt_inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}
KT_INLINE uint16_t kt_inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}
KT_INLINE uint32_t kt_inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}
KT_INLINE void kt_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}
KT_INLINE uint64_t kt_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}
KT_INLINE void kt_sti(void) { __asm__ volatile("sti" ::: "memory"); }
KT_INLINE void kt_cli(void) { __asm__ volatile("cli" ::: "memory"); }
KT_INLINE void kt_hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
/* sti; hlt as one unit: the interrupt cannot slip in between. */
KT_INLINE void kt_sti_hlt(void)
{
    __asm__ volatile("sti; hlt" ::: "memory");
}

KT_INLINE void kt_ucall(struct kt_ucall_rec *uc)
{
    kt_outl(KT_UCALL_PORT, (uint32_t)(uintptr_t)uc);
}

#define GUEST_UCALL_(t, e, a0, a1, a2, a3) do { \
        struct kt_ucall_rec uc_ = {(t), __LINE__, (uintptr_t)__FILE__, (uintptr_t)(e), \
                                   {(uint64_t)(a0), (uint64_t)(a1), (uint64_t)(a2), \
                                    (uint64_t)(a3)}}; \
        kt_ucall(&uc_); \
    } while (0)

#define GUEST_SYNC(v) GUEST_UCALL_(KT_SYNC, 0, (v), 0, 0, 0)
#define GUEST_SYNC2(a, b) GUEST_UCALL_(KT_SYNC, 0, (a), (b), 0, 0)
#define GUEST_SYNC4(a, b, c, d) GUEST_UCALL_(KT_SYNC, 0, (a), (b), (c), (d))
#define GUEST_DONE() GUEST_UCALL_(KT_DONE, 0, 0, 0, 0, 0)
#define GUEST_ASSERT(cond) do { \
        if (!(cond)) \
            GUEST_UCALL_(KT_ASSERT, #cond, 0, 0, 0, 0); \
    } while (0)
/* Assert with two values shown to the host (args[0], args[1]). */
#define GUEST_ASSERT_EQ(a, b) do { \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b); \
        if (a_ != b_) \
            GUEST_UCALL_(KT_ASSERT, #a " == " #b, a_, b_, 0, 0); \
    } while (0)

/* Interrupt counts per vector (guest copy) and an optional guest hook
 * called from the interrupt handler with the vector. */
extern volatile uint64_t kt_irq_count[256];
extern void (*volatile kt_irq_hook)(uint64_t vector);

/* The PIC pair initialised (vectors 0x20 and 0x28, the given masks), an
 * interrupt hook that sends EOI, and PIT channel 0 periodic (mode 2). */
#define KT_PIT_10MS 11932u          /* ~10 ms at 1,193,182 Hz */
void kt_pic_init(uint8_t master_mask, uint8_t slave_mask);
void kt_eoi_hook(uint64_t vector);
void kt_pit_periodic(uint16_t count);

/* ---- host side ---- */

struct kt_vm {
    struct cc_vm *vm;
    struct kt_ucall last;
    bool have_ucall;
};

/* Create a VM running guest(arg). cfg may be NULL for defaults (64 MiB,
 * seed 0). Bails out of the test (TAP "Bail out!") on failure. */
struct kt_vm *kt_create(void (*guest)(uint64_t), uint64_t arg, const struct cc_vm_config *cfg);
/* Attach the ucall port to a VM made elsewhere (e.g. a fork of a snapshot
 * of a kt_create VM): set t->vm first. */
void kt_attach(struct kt_vm *t);
/* Run until the next ucall or stop. Returns the ucall type (KT_NONE when the
 * VM stopped for another reason, see uc->stop). */
enum kt_ucall_type kt_run(struct kt_vm *t, struct kt_ucall *uc);
/* Host pointer to the guest's copy of a global. */
void *kt_guest_ptr(struct kt_vm *t, const volatile void *host_addr, uint64_t len);
void kt_destroy(struct kt_vm *t);
/* Print a ucall for diagnostics (TAP comment). */
void kt_diag_ucall(const struct kt_ucall *uc);

#endif
