/* Tiny-guest tests of the CPUID policy, the virtual TSC and the snapshot
 * round trip of registers and x87/SSE state. These need a KVM that honours
 * KVM_SET_CPUID2 and TSC writes and runs SSE code, so meson runs this binary
 * through tools/kvm-host (directly on hardware KVM, in the QEMU test host
 * elsewhere). */
#include <string.h>

#include "chaoscontrol/snapshot.h"
#include "kvmtest.h"
#include "tap.h"

GUEST_CODE static void guest_cpuid(uint64_t arg)
{
    (void)arg;
    uint32_t r[4];
    kt_cpuid(0, 0, r);
    GUEST_SYNC4(r[0], r[1], r[3], r[2]);            /* max leaf, vendor EBX EDX ECX */
    kt_cpuid(1, 0, r);
    GUEST_SYNC4(r[0], r[1], r[2], r[3]);
    kt_cpuid(7, 0, r);
    GUEST_SYNC4(r[0], r[1], r[2], r[3]);
    kt_cpuid(0x40000000, 0, r);
    GUEST_SYNC4(r[0], r[1], r[2], r[3]);
    kt_cpuid(0x80000001, 0, r);
    GUEST_SYNC4(r[0], r[1], r[2], r[3]);
    kt_cpuid(0x80000007, 0, r);
    GUEST_SYNC4(r[0], r[1], r[2], r[3]);
    kt_cpuid(0x15, 0, r);
    GUEST_SYNC4(r[0], r[1], r[2], r[3]);
    kt_cpuid(0x16, 0, r);
    GUEST_SYNC4(r[0], r[1], r[2], r[3]);
    uint32_t brand[12];
    kt_cpuid(0x80000002, 0, brand);
    kt_cpuid(0x80000003, 0, brand + 4);
    kt_cpuid(0x80000004, 0, brand + 8);
    GUEST_SYNC4(brand[0], brand[1], brand[2], brand[3]);
    GUEST_DONE();
}

GUEST_CODE static void guest_tsc(uint64_t arg)
{
    (void)arg;
    kt_outb(0x80, 0);                   /* warm up: the first entry is slow */
    uint64_t a = kt_rdtsc();
    for (int i = 0; i < 1000; i++)
        kt_outb(0x80, 0);               /* 1000 exits = 1 ms of virtual time */
    uint64_t b = kt_rdtsc();
    GUEST_SYNC2(a, b);
    GUEST_DONE();
}

static const uint8_t xmm_pattern[64] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
    33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
    49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64,
};

/* Load xmm0-3, two x87 values and r12-r15, sync (the host snapshots here),
 * then report a digest of that state, clobber it, and report again. */
GUEST_CODE_FPU static void guest_regs(uint64_t arg)
{
    (void)arg;
    uint64_t digest[2];
    __asm__ volatile(
        "movdqu 0(%[p]), %%xmm0\n"
        "movdqu 16(%[p]), %%xmm1\n"
        "movdqu 32(%[p]), %%xmm2\n"
        "movdqu 48(%[p]), %%xmm3\n"
        "fninit\n"
        "fld1\n"
        "fldpi\n"
        "mov $0x1212121212121212, %%r12\n"
        "mov $0x1313131313131313, %%r13\n"
        "mov $0x1414141414141414, %%r14\n"
        "mov $0x1515151515151515, %%r15\n"
        /* ucall SYNC(1) by hand so no register is disturbed */
        "sub $64, %%rsp\n"
        "movq $1, 0(%%rsp)\n"       /* type KT_SYNC */
        "movq $0, 8(%%rsp)\n"
        "movq $0, 16(%%rsp)\n"
        "movq $0, 24(%%rsp)\n"
        "movq $1, 32(%%rsp)\n"      /* args[0] = 1 */
        "mov %%rsp, %%rax\n"
        "mov %[port], %%dx\n"
        "outl %%eax, %%dx\n"
        "add $64, %%rsp\n"
        /* digest: xor of the xmm words and r12-r15, plus the x87 stack */
        "sub $32, %%rsp\n"
        "pxor %%xmm1, %%xmm0\n"
        "pxor %%xmm3, %%xmm2\n"
        "pxor %%xmm2, %%xmm0\n"
        "movdqu %%xmm0, (%%rsp)\n"
        "mov (%%rsp), %%rax\n"
        "xor 8(%%rsp), %%rax\n"
        "xor %%r12, %%rax\n"
        "xor %%r13, %%rax\n"
        "xor %%r14, %%rax\n"
        "xor %%r15, %%rax\n"
        "mov %%rax, 0(%[d])\n"
        "faddp\n"                   /* pi + 1 */
        "fstpl (%%rsp)\n"
        "mov (%%rsp), %%rax\n"
        "mov %%rax, 8(%[d])\n"
        "add $32, %%rsp\n"
        /* clobber everything */
        "pxor %%xmm0, %%xmm0\n"
        "pxor %%xmm1, %%xmm1\n"
        "xor %%r12, %%r12\n"
        "xor %%r13, %%r13\n"
        :
        : [p] "r"(xmm_pattern), [d] "r"(digest), [port] "i"(KT_UCALL_PORT)
        : "rax", "rdx", "r12", "r13", "r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3",
          "memory", "st", "st(1)");
    GUEST_SYNC2(digest[0], digest[1]);
    GUEST_DONE();
}

static void vendor_of(const struct kt_ucall *uc, char out[13])
{
    uint32_t v[3] = {(uint32_t)uc->args[1], (uint32_t)uc->args[2], (uint32_t)uc->args[3]};
    memcpy(out, v, 12);
    out[12] = 0;
}

static void test_cpuid(void)
{
    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.mem_size = KT_MEM_SIZE;
    memcpy(cfg.cpu.vendor, "ChaosCtlTest", 13);
    cfg.cpu.family = 6;
    cfg.cpu.model = 0x55;
    cfg.cpu.stepping = 7;
    cfg.tsc_khz = 2500000;
    struct kt_vm *t = kt_create(guest_cpuid, 0, &cfg);
    struct kt_ucall uc;
    char vendor[13];

    is_int(kt_run(t, &uc), KT_SYNC, "cpuid: leaf 0");
    vendor_of(&uc, vendor);
    is_str(vendor, "ChaosCtlTest", "cpuid: the configured vendor string is what the guest reads");
    ok(uc.args[0] >= 0x16, "cpuid: max basic leaf covers 0x16 (0x%llx)",
       (unsigned long long)uc.args[0]);

    is_int(kt_run(t, &uc), KT_SYNC, "cpuid: leaf 1");
    uint32_t eax = (uint32_t)uc.args[0], ecx = (uint32_t)uc.args[2], edx = (uint32_t)uc.args[3];
    is_int((eax >> 8) & 0xf, 6, "cpuid: family 6");
    is_int(((eax >> 16) & 0xf) << 4 | ((eax >> 4) & 0xf), 0x55, "cpuid: model 0x55");
    is_int(eax & 0xf, 7, "cpuid: stepping 7");
    ok(!(ecx & (1u << 30)), "cpuid: no RDRAND");
    ok(!(ecx & (1u << 31)), "cpuid: no hypervisor bit");
    ok(!(ecx & (1u << 24)), "cpuid: no TSC-deadline");
    ok(!(ecx & (1u << 21)), "cpuid: no x2APIC");
    ok(!(edx & (1u << 4)), "cpuid: no TSC");
    ok(!(edx & (1u << 9)), "cpuid: no local APIC");

    is_int(kt_run(t, &uc), KT_SYNC, "cpuid: leaf 7");
    ok(!(uc.args[1] & (1u << 18)), "cpuid: no RDSEED");
    ok(!(uc.args[1] & (1u << 5)), "cpuid: no AVX2 unless asked for");
    ok(!(uc.args[1] & (1u << 16)), "cpuid: no AVX-512F unless asked for");
    ok(!(uc.args[1] & ((1u << 4) | (1u << 11))), "cpuid: no TSX (HLE/RTM)");

    is_int(kt_run(t, &uc), KT_SYNC, "cpuid: leaf 0x40000000");
    vendor_of(&uc, vendor);
    ok(strncmp(vendor, "KVMKVMKVM", 9) != 0, "cpuid: no KVM signature leaf (got '%s')", vendor);
    ok(uc.args[0] < 0x40000000 || uc.args[0] > 0x4fffffff,
       "cpuid: no hypervisor leaf range advertised (eax 0x%llx)", (unsigned long long)uc.args[0]);

    is_int(kt_run(t, &uc), KT_SYNC, "cpuid: leaf 0x80000001");
    ok(!(uc.args[3] & (1u << 27)), "cpuid: no RDTSCP");
    ok(uc.args[3] & (1u << 29), "cpuid: long mode still there");

    is_int(kt_run(t, &uc), KT_SYNC, "cpuid: leaf 0x80000007");
    ok(!(uc.args[3] & (1u << 8)), "cpuid: no invariant TSC");

    is_int(kt_run(t, &uc), KT_SYNC, "cpuid: leaf 0x15");
    ok(uc.args[0] && uc.args[2] &&
       (uint64_t)uc.args[2] * uc.args[1] / uc.args[0] == 2500000000ull,
       "cpuid: leaf 0x15 gives the pinned 2.5 GHz TSC (%llu * %llu / %llu)",
       (unsigned long long)uc.args[2], (unsigned long long)uc.args[1],
       (unsigned long long)uc.args[0]);
    is_int(kt_run(t, &uc), KT_SYNC, "cpuid: leaf 0x16");
    is_int(uc.args[0], 2500, "cpuid: leaf 0x16 base frequency 2500 MHz");

    is_int(kt_run(t, &uc), KT_SYNC, "cpuid: brand string");
    char brand[17];
    uint32_t b[4] = {(uint32_t)uc.args[0], (uint32_t)uc.args[1], (uint32_t)uc.args[2],
                     (uint32_t)uc.args[3]};
    memcpy(brand, b, 16);
    brand[16] = 0;
    is_str(brand, "ChaosControl det", "cpuid: fixed brand string");
    is_int(kt_run(t, &uc), KT_DONE, "cpuid: done");
    kt_destroy(t);
}

static void test_tsc(void)
{
    struct kt_vm *t = kt_create(guest_tsc, 0, NULL);
    struct kt_ucall uc;
    is_int(kt_run(t, &uc), KT_SYNC, "tsc: two reads");
    uint64_t a = uc.args[0], b = uc.args[1];
    /* The guest reads virtual time (3 GHz) at its last entry plus the host
     * time it has run since (slop; under nested emulation a few ms). The
     * second read comes 1,000 exits (1 ms of virtual time) later. */
    const uint64_t slop = 150000000;    /* 50 ms at 3 GHz; 1,000 exits of host time
                                           under nested emulation is far more */
    tap_diag("tsc: first read %llu, second %llu", (unsigned long long)a, (unsigned long long)b);
    ok(a < slop, "tsc: first read is virtual time ~0 plus slop (%llu)", (unsigned long long)a);
    ok(b >= 3000000 && b < 3000000 + 60000 + slop,
       "tsc: second read follows virtual time, not host time (%llu for ~1 ms)",
       (unsigned long long)b);
    kt_destroy(t);
}

static void test_regs(void)
{
    struct kt_vm *t = kt_create(guest_regs, 0, NULL);
    struct kt_ucall uc;
    is_int(kt_run(t, &uc), KT_SYNC, "regs: guest loaded its state");
    struct cc_snapshot *s = NULL;
    struct cc_err err = {0};
    if (cc_vm_snapshot(t->vm, &s, &err) < 0)
        tap_bail("snapshot: %s", err.msg);
    enum kt_ucall_type ty = kt_run(t, &uc);
    if (ty != KT_SYNC)
        kt_diag_ucall(&uc);
    is_int(ty, KT_SYNC, "regs: first continuation reports");
    uint64_t d0 = uc.args[0], d1 = uc.args[1];
    ok(d0 != 0 && d1 == 0x401090fdaa22168cull,
       "regs: x87 computed pi + 1 (0x%llx) and the digest is non-zero",
       (unsigned long long)d1);
    uint64_t h1 = cc_vm_trace_hash(t->vm);
    if (cc_vm_restore(t->vm, s, &err) < 0)
        tap_bail("restore: %s", err.msg);
    ty = kt_run(t, &uc);
    if (ty != KT_SYNC)
        kt_diag_ucall(&uc);
    is_int(ty, KT_SYNC, "regs: continuation after restore reports");
    ok(uc.args[0] == d0 && uc.args[1] == d1,
       "regs: GPR, SSE and x87 state survive the round trip");
    is_u64(cc_vm_trace_hash(t->vm), h1, "regs: same trace hash as the first continuation");
    cc_snapshot_put(s);
    kt_destroy(t);
}

int main(void)
{
    test_cpuid();
    test_tsc();
    test_regs();
    return tap_exit();
}
