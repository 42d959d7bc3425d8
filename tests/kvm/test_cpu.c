/* Tiny-guest tests of the CPUID policy and the virtual TSC. These need a KVM
 * that honours KVM_SET_CPUID2 and TSC writes, so meson runs this binary
 * through tools/kvm-host (directly on hardware KVM, in the QEMU test host
 * elsewhere). */
#include <string.h>

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
    uint64_t a = kt_rdtsc();
    for (int i = 0; i < 1000; i++)
        kt_outb(0x80, 0);               /* 1000 exits = 1 ms of virtual time */
    uint64_t b = kt_rdtsc();
    GUEST_SYNC2(a, b);
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
    /* 1 ms of virtual time at 3 GHz = 3,000,000 cycles; the guest also runs
     * for a little host time between the TSC write and its read. */
    tap_diag("tsc: first read %llu, second %llu, delta %llu", (unsigned long long)a,
             (unsigned long long)b, (unsigned long long)(b - a));
    ok(a < 3000000, "tsc: starts near virtual time 0 (%llu)", (unsigned long long)a);
    ok(b - a >= 3000000 && b - a < 3000000 + 30000000,
       "tsc: advances with virtual time (delta %llu cycles for 1 ms)", (unsigned long long)(b - a));
    kt_destroy(t);
}

int main(void)
{
    test_cpuid();
    test_tsc();
    return tap_exit();
}
