/* vCPU set-up: CPUID policy, boot MSRs, TSC pinning and flat 64-bit long
 * mode with identity-mapped page tables (shared by the Linux loader and the
 * tiny test guests).
 *
 * CPUID policy (DESIGN.md §3): start from what KVM supports, then
 *  - fix the processor identity (vendor, family/model/stepping, brand);
 *  - hide hardware randomness (RDRAND, RDSEED), RDTSCP and RDPID, the TSC
 *    itself, TSC-deadline, invariant TSC, TSC_ADJUST, WAITPKG (all leak host
 *    time), x2APIC and (one vCPU) the local APIC (SMP guests get ours, smp.c),
 *    the hypervisor bit and every 0x4000_00xx leaf (no kvmclock), the PMU,
 *    transactional memory (aborts are timing-dependent), and MCE/MCA;
 *  - AVX2 and AVX-512 only when the config asks for them (and then the
 *    host must offer them: cc_vm_create fails otherwise);
 *  - leaves 0x15 and 0x16 report the pinned TSC frequency. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vm_internal.h"

/* Low-memory layout shared with boot.c. */
#define GDT_GPA   0x500ull
#define PML4_GPA  0x9000ull
#define PDPT_GPA  0xA000ull
#define PD_GPA    0xB000ull

#define MSR_IA32_TSC            0x10
#define MSR_IA32_APICBASE       0x1b
#define MSR_IA32_SYSENTER_CS    0x174
#define MSR_IA32_SYSENTER_ESP   0x175
#define MSR_IA32_SYSENTER_EIP   0x176
#define MSR_IA32_MISC_ENABLE    0x1a0
#define MSR_MTRR_DEF_TYPE       0x2ff
#define MSR_STAR                0xc0000081
#define MSR_LSTAR               0xc0000082
#define MSR_CSTAR               0xc0000083
#define MSR_SYSCALL_MASK        0xc0000084
#define MSR_KERNEL_GS_BASE      0xc0000102

#define BIT(n) (1u << (n))

static struct kvm_cpuid_entry2 *find_leaf(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
    for (uint32_t i = 0; i < c->nent; i++)
        if (c->entries[i].function == fn &&
            (!(c->entries[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || c->entries[i].index == idx))
            return &c->entries[i];
    return NULL;
}

static struct kvm_cpuid_entry2 *add_leaf(struct kvm_cpuid2 *c, uint32_t cap, uint32_t fn)
{
    struct kvm_cpuid_entry2 *e = find_leaf(c, fn, 0);
    if (e)
        return e;
    if (c->nent >= cap)
        return NULL;
    e = &c->entries[c->nent++];
    memset(e, 0, sizeof(*e));
    e->function = fn;
    return e;
}

static void put_str(uint32_t *regs[], int nregs, const char *s)
{
    for (int i = 0; i < nregs; i++) {
        uint32_t v = 0;
        for (int b = 0; b < 4; b++)
            v |= (uint32_t)(uint8_t)s[i * 4 + b] << (8 * b);
        *regs[i] = v;
    }
}

/* Leaf 0xD must agree with the feature bits the guest sees: a state
 * component is offered only when its feature is (x87/SSE always, AVX with
 * CPUID.1:ECX.AVX, AVX-512 with CPUID.7:EBX.AVX512F, PKRU with
 * CPUID.7:ECX.PKU), and ECX (the XSAVE area size for everything offered) is
 * recomputed from the component offsets. Hosts disagree here (an emulated
 * CPU may list AVX state without AVX), and Linux warns and drops XSAVE
 * features when the sizes do not match. */
static void fix_xsave_leaf(struct kvm_cpuid2 *c)
{
    struct kvm_cpuid_entry2 *d0 = find_leaf(c, 0xd, 0);
    struct kvm_cpuid_entry2 *l1 = find_leaf(c, 1, 0);
    struct kvm_cpuid_entry2 *l7 = find_leaf(c, 7, 0);
    if (!d0 || !l1)
        return;
    if (!(l1->ecx & BIT(26))) {                 /* no XSAVE at all */
        d0->eax = d0->ebx = d0->ecx = d0->edx = 0;
        return;
    }
    uint32_t allowed = BIT(0) | BIT(1);
    if (l1->ecx & BIT(28))
        allowed |= BIT(2);
    if (l7 && (l7->ebx & BIT(16)))
        allowed |= BIT(5) | BIT(6) | BIT(7);
    if (l7 && (l7->ecx & BIT(3)))
        allowed |= BIT(9);
    d0->eax &= allowed;
    d0->edx = 0;
    uint32_t size = 576;                        /* legacy area + header */
    for (uint32_t i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        if (e->function != 0xd || e->index < 2 || e->index > 31)
            continue;
        if (!(d0->eax & BIT(e->index))) {
            e->eax = e->ebx = e->ecx = e->edx = 0;
            continue;
        }
        if (e->eax + e->ebx > size)
            size = e->eax + e->ebx;
    }
    d0->ecx = size;
    if (d0->ebx > size)
        d0->ebx = size;
}

/* Keep only the leaves for which keep(fn) is true, in order. */
static void filter_leaves(struct kvm_cpuid2 *c, bool (*keep)(uint32_t fn))
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < c->nent; i++)
        if (keep(c->entries[i].function))
            c->entries[w++] = c->entries[i];
    c->nent = w;
}

#define MAX_BASIC_LEAF 0x16

static bool not_hypervisor_leaf(uint32_t fn)
{
    /* The hypervisor leaves (KVM signature, kvmclock features). */
    if (fn >= 0x40000000 && fn <= 0x4fffffff)
        return false;
    /* Vendor-specific extended leaves beyond address sizes (SEV, topology
     * extensions...) are host-dependent. */
    return !(fn > 0x80000008 && fn < 0x90000000);
}

static bool not_above_max_basic(uint32_t fn)
{
    /* Leaves above 0x16 that KVM offers (e.g. 0x1d/0x1e AMX) go away. */
    return !(fn > MAX_BASIC_LEAF && fn < 0x80000000);
}

/* Leaf 0: the vendor string and the highest basic leaf. */
static void set_vendor(struct kvm_cpuid2 *c, const struct cc_vm_config *cfg)
{
    struct kvm_cpuid_entry2 *e = find_leaf(c, 0, 0);
    if (!e)
        return;
    char vendor[12];
    memset(vendor, ' ', sizeof(vendor));
    memcpy(vendor, cfg->cpu.vendor, strnlen(cfg->cpu.vendor, 12));
    uint32_t *r[3] = {&e->ebx, &e->edx, &e->ecx};
    put_str(r, 3, vendor);
    e->eax = MAX_BASIC_LEAF;
}

/* Leaf 1: family/model/stepping, one logical processor (SMP: the vCPU's
 * APIC ID, ncpu logical processors, a local APIC), and the feature bits
 * that leak host time or host hardware masked. */
static void set_leaf1(struct kvm_cpuid2 *c, const struct cc_vm_config *cfg, const struct cc_vm *vm)
{
    struct kvm_cpuid_entry2 *e = find_leaf(c, 1, 0);
    if (!e)
        return;
    uint32_t fam = cfg->cpu.family, model = cfg->cpu.model;
    uint32_t eax = (cfg->cpu.stepping & 0xf) | (model & 0xf) << 4;
    if (fam > 0xf) {
        eax |= 0xfu << 8 | ((fam - 0xf) & 0xff) << 20;
    } else {
        eax |= (fam & 0xf) << 8;
    }
    if (fam == 6 || fam >= 0xf)
        eax |= ((model >> 4) & 0xf) << 16;
    e->eax = eax;
    /* APIC id 0, one logical processor, CLFLUSH line 64 bytes. */
    e->ebx = (8u << 8) | (1u << 16);
    e->ecx &= ~(BIT(30) |      /* RDRAND */
                BIT(24) |      /* TSC-deadline */
                BIT(21) |      /* x2APIC */
                BIT(31) |      /* hypervisor */
                BIT(5) |       /* VMX */
                BIT(3) |       /* MONITOR/MWAIT */
                BIT(15) |      /* PDCM (perf capabilities MSR) */
                BIT(6));       /* SMX */
    e->edx &= ~(BIT(4) |       /* TSC */
                BIT(9) |       /* APIC */
                BIT(7) |       /* MCE */
                BIT(14) |      /* MCA */
                BIT(22) |      /* ACPI thermal */
                BIT(29) |      /* thermal monitor */
                BIT(28));      /* HTT */
    if (vm->smp) {
        /* One package of ncpu cores, one thread each (leaf 4 / 0x80000008
         * say the cores), APIC IDs 0..ncpu-1; the local APIC is ours. */
        e->ebx = (uint32_t)vm->cur << 24 | (uint32_t)vm->ncpu << 16 | 8u << 8;
        e->edx |= BIT(28) | BIT(9);
    }
}

/* Leaf 7.0: structured extended features. */
static void mask_leaf7(struct kvm_cpuid_entry2 *e, const struct cc_vm_config *cfg)
{
    e->ebx &= ~(BIT(18) |  /* RDSEED */
                BIT(1) |   /* TSC_ADJUST */
                BIT(4) |   /* HLE */
                BIT(11) |  /* RTM */
                BIT(2) |   /* SGX */
                BIT(25) |  /* Intel PT */
                BIT(14));  /* MPX */
    if (!cfg->avx2)
        e->ebx &= ~BIT(5);
    if (!cfg->avx512) {
        e->ebx &= ~(BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) |
                    BIT(28) | BIT(30) | BIT(31));
        e->ecx &= ~(BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14));
        e->edx &= ~(BIT(2) | BIT(3) | BIT(8) | BIT(23));
    }
    e->ecx &= ~(BIT(5) |   /* WAITPKG (TSC-based waits) */
                BIT(22) |  /* RDPID */
                BIT(30));  /* SGX launch control */
    e->edx &= ~(BIT(22) | BIT(24) | BIT(25));   /* AMX */
}

/* Leaves 4, 6, 7, 0xa, 0xb and 0x1f: no thermal/power, no PMU, no host
 * topology. */
static void mask_basic_leaves(struct kvm_cpuid2 *c, const struct cc_vm_config *cfg,
                              const struct cc_vm *vm)
{
    struct kvm_cpuid_entry2 *e;
    if ((e = find_leaf(c, 6, 0))) {
        e->eax = e->ebx = e->ecx = e->edx = 0;   /* no thermal/power (ARAT etc.) */
        if (vm->smp)
            e->eax = BIT(2);    /* ARAT: our local APIC timer never stops in idle */
    }
    for (uint32_t i = 0; i < c->nent; i++) {
        e = &c->entries[i];
        if (e->function == 7 && e->index == 0) {
            mask_leaf7(e, cfg);
        } else if (e->function == 7 && e->index > 0) {
            e->eax = e->ebx = e->ecx = e->edx = 0;
        } else if (e->function == 0xa) {
            e->eax = e->ebx = e->ecx = e->edx = 0;      /* no PMU */
        } else if (e->function == 0xb || e->function == 0x1f) {
            /* Extended topology: the host's (x2APIC id, cores per package)
             * would reach guest memory through cpuinfo. None: the guest
             * falls back to leaf 1's one logical processor. */
            e->eax = e->ebx = e->ecx = e->edx = 0;
        } else if (e->function == 4) {
            e->eax &= 0x3fffu;      /* cache leaf: one core, one thread per cache */
            if (vm->smp && (e->eax & 0x1f))
                e->eax |= (vm->ncpu - 1) << 26;     /* SMP: ncpu cores per package */
        }
    }
}

/* Leaves 0x15 and 0x16: the TSC runs at the pinned frequency, crystal
 * 1 kHz x tsc_khz. */
static void set_tsc_leaves(struct kvm_cpuid2 *c, uint32_t cap, const struct cc_vm_config *cfg)
{
    struct kvm_cpuid_entry2 *e;
    if ((e = add_leaf(c, cap, 0x15))) {
        e->eax = 1;
        e->ebx = cfg->tsc_khz;
        e->ecx = 1000;
        e->edx = 0;
    }
    if ((e = add_leaf(c, cap, 0x16))) {
        e->eax = cfg->tsc_khz / 1000;
        e->ebx = cfg->tsc_khz / 1000;
        e->ecx = 100;
        e->edx = 0;
    }
}

/* Leaves 0x8000_00xx: up to address sizes, the brand string, no RDTSCP,
 * SVM, invariant TSC or host core counts. */
static void set_extended_leaves(struct kvm_cpuid2 *c, uint32_t cap,
                                const struct cc_vm_config *cfg, const struct cc_vm *vm)
{
    struct kvm_cpuid_entry2 *e;
    if ((e = find_leaf(c, 0x80000000, 0)))
        e->eax = e->eax < 0x80000008 ? e->eax : 0x80000008;
    if ((e = find_leaf(c, 0x80000001, 0))) {
        e->edx &= ~BIT(27);                     /* RDTSCP */
        e->ecx &= ~(BIT(1) |                    /* CmpLegacy (host core count) */
                    BIT(2) |                    /* SVM */
                    BIT(29) |                   /* MONITORX */
                    BIT(23) |                   /* perf counter core */
                    BIT(22) |                   /* topology extensions */
                    BIT(3));                    /* extended APIC space */
    }
    char brand[48];
    memset(brand, 0, sizeof(brand));
    memcpy(brand, cfg->cpu.brand, strnlen(cfg->cpu.brand, 48));
    for (uint32_t fn = 0x80000002; fn <= 0x80000004; fn++) {
        if ((e = add_leaf(c, cap, fn))) {
            uint32_t *r[4] = {&e->eax, &e->ebx, &e->ecx, &e->edx};
            put_str(r, 4, brand + (fn - 0x80000002) * 16);
        }
    }
    if ((e = find_leaf(c, 0x80000007, 0)))
        e->eax = e->ebx = e->ecx = e->edx = 0;  /* invariant TSC, power mgmt */
    if ((e = find_leaf(c, 0x80000008, 0)))
        e->ecx = vm->smp ? vm->ncpu - 1 : 0;   /* cores - 1, no APIC id bits (host topology) */
}

/* The CPUID policy (see the top of this file), in place on what KVM
 * supports; cap is the room in c for added leaves. */
static void apply_policy(struct cc_vm *vm, struct kvm_cpuid2 *c, uint32_t cap)
{
    const struct cc_vm_config *cfg = &vm->cfg;
    filter_leaves(c, not_hypervisor_leaf);
    set_vendor(c, cfg);
    filter_leaves(c, not_above_max_basic);
    set_leaf1(c, cfg, vm);
    mask_basic_leaves(c, cfg, vm);
    set_tsc_leaves(c, cap, cfg);
    set_extended_leaves(c, cap, cfg, vm);
    fix_xsave_leaf(c);
}

/* With every offered state component enabled in XCR0, does KVM's runtime
 * size (CPUID.0xD.0:EBX, which KVM computes from the host's layout) match
 * what we advertise in ECX?
 *
 * XCR0 is left at the full offered mask, not the architectural reset value
 * 1: a host whose SVM does not intercept XSETBV (QEMU TCG as the L1 CPU)
 * never tells KVM about the guest's own XSETBV, and KVM would then report
 * the XSAVE size for XCR0=1 to a guest that enabled AVX state (Linux then
 * warns "XSAVE consistency problem"). Linux writes XCR0 itself at boot, to
 * the same mask. */
static bool xsave_sizes_agree(struct cc_vm *vm, const struct kvm_cpuid2 *want)
{
    const struct kvm_cpuid_entry2 *d0 = NULL;
    for (uint32_t i = 0; i < want->nent; i++)
        if (want->entries[i].function == 0xd && want->entries[i].index == 0)
            d0 = &want->entries[i];
    if (!d0 || !d0->eax)
        return true;
    struct kvm_xcrs x;
    memset(&x, 0, sizeof(x));
    x.nr_xcrs = 1;
    x.xcrs[0].xcr = 0;
    x.xcrs[0].value = d0->eax;
    if (ioctl(vm->vcpu_fd, KVM_SET_XCRS, &x) < 0) {
        if (getenv("CC_DEBUG_CPUID"))
            vm_log(vm, "xsave check: KVM_SET_XCRS(0x%x): %s", d0->eax, strerror(errno));
        return true;    /* cannot tell; keep the policy as is */
    }
    uint32_t cap = want->nent + 8;
    struct kvm_cpuid2 *got = calloc(1, sizeof(*got) + cap * sizeof(struct kvm_cpuid_entry2));
    bool agree = true;
    if (got) {
        got->nent = cap;
        if (ioctl(vm->vcpu_fd, KVM_GET_CPUID2, got) == 0)
            for (uint32_t i = 0; i < got->nent; i++)
                if (got->entries[i].function == 0xd && got->entries[i].index == 0) {
                    agree = got->entries[i].ebx == d0->ecx;
                    if (getenv("CC_DEBUG_CPUID"))
                        vm_log(vm, "xsave check: runtime size %u, advertised %u",
                                  got->entries[i].ebx, d0->ecx);
                }
        free(got);
    }
    if (!agree) {
        x.xcrs[0].value = 1;
        ioctl(vm->vcpu_fd, KVM_SET_XCRS, &x);
    }
    return agree;
}

static int setup_cpuid(struct cc_vm *vm, struct cc_err *err)
{
    uint32_t cap = 256;
    struct kvm_cpuid2 *c = NULL;
    for (;;) {
        c = calloc(1, sizeof(*c) + cap * sizeof(struct kvm_cpuid_entry2));
        if (!c)
            return cc_err_set(err, ENOMEM, "out of memory");
        c->nent = cap - 8;      /* leave room for leaves we add */
        if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
            break;
        int e = errno;
        free(c);
        if (e != E2BIG || cap >= 4096)
            return cc_err_set(err, e, "KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
        cap *= 2;
    }
    /* AVX asked for but not offered: fail, rather than run a guest other
     * than the one asked for (a recording would replay differently). */
    const struct kvm_cpuid_entry2 *l7s = find_leaf(c, 7, 0);
    const char *missing = vm->cfg.avx2 && !(l7s && (l7s->ebx & BIT(5))) ? "AVX2" :
                          vm->cfg.avx512 && !(l7s && (l7s->ebx & BIT(16))) ? "AVX-512" : NULL;
    if (missing) {
        free(c);
        return cc_err_set(err, ENOTSUP, "the VM asks for %s, which this host's KVM does not "
                          "offer (KVM_GET_SUPPORTED_CPUID): run it without %s, or on a host "
                          "with it", missing, missing);
    }
    apply_policy(vm, c, cap);
    if (getenv("CC_DEBUG_CPUID"))
        for (uint32_t i = 0; i < c->nent; i++)
            vm_log(vm, "cpuid %08x.%02x: eax=%08x ebx=%08x ecx=%08x edx=%08x",
                      c->entries[i].function, c->entries[i].index, c->entries[i].eax,
                      c->entries[i].ebx, c->entries[i].ecx, c->entries[i].edx);
    int rc = 0;
    if (ioctl(vm->vcpu_fd, KVM_SET_CPUID2, c) < 0)
        rc = cc_err_set(err, errno, "KVM_SET_CPUID2: %s", strerror(errno));
    else if (!xsave_sizes_agree(vm, c)) {
        /* The host's own XSAVE layout disagrees with what it advertises
         * (seen with QEMU TCG as the L1 CPU): offer only x87/SSE state. */
        struct kvm_cpuid_entry2 *l1 = find_leaf(c, 1, 0), *l7 = find_leaf(c, 7, 0);
        if (l1)
            l1->ecx &= ~(BIT(28) | BIT(29) | BIT(12));  /* AVX, F16C, FMA */
        if (l7)
            l7->ebx &= ~(BIT(5) | BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) |
                         BIT(30) | BIT(31));
        fix_xsave_leaf(c);
        if (vm->cfg.avx2 || vm->cfg.avx512) {
            free(c);
            return cc_err_set(err, ENOTSUP, "the VM asks for %s, but this host's XSAVE sizes "
                              "are inconsistent for AVX state (seen with QEMU TCG as the host "
                              "CPU), so AVX cannot be given to the guest: run it without %s",
                              vm->cfg.avx2 ? "AVX2" : "AVX-512",
                              vm->cfg.avx2 ? "AVX2" : "AVX-512");
        }
        vm_log(vm, "host XSAVE sizes are inconsistent for AVX state; AVX hidden from the guest");
        if (ioctl(vm->vcpu_fd, KVM_SET_CPUID2, c) < 0)
            rc = cc_err_set(err, errno, "KVM_SET_CPUID2: %s", strerror(errno));
    }
    free(c);
    return rc;
}

uint64_t vm_tsc_value(const struct cc_vm *vm)
{
    /* ns * kHz / 1e6, exact in 128 bits. */
    return (uint64_t)((unsigned __int128)vm->vtime * vm->cfg.tsc_khz / 1000000u);
}

static int set_msrs(struct cc_vm *vm, const uint32_t *idx, const uint64_t *val, unsigned n,
                    struct cc_err *err)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e[16];
    } m;
    memset(&m, 0, sizeof(m));
    if (n > 16)
        return cc_err_set(err, EINVAL, "too many MSRs");
    m.hdr.nmsrs = n;
    for (unsigned i = 0; i < n; i++) {
        m.e[i].index = idx[i];
        m.e[i].data = val[i];
    }
    int r = ioctl(vm->vcpu_fd, KVM_SET_MSRS, &m);
    if (r < 0)
        return cc_err_set(err, errno, "KVM_SET_MSRS: %s", strerror(errno));
    if ((unsigned)r != n)
        return cc_err_set(err, EINVAL, "KVM_SET_MSRS: host rejected MSR 0x%x", idx[r]);
    return 0;
}

/* Write the guest TSC from virtual time. Where KVM offers the TSC offset
 * attribute it is set directly (guest TSC = host TSC x ratio + offset), since
 * KVM treats a host write of MSR_IA32_TSC within a second of its own
 * expectation as a "synchronisation" and keeps the old offset, ignoring the
 * value. Elsewhere the MSR is written. Either way the guest reads virtual
 * time at entry plus however long it has run since: the kernel does not use
 * the TSC (it is hidden from CPUID and patched out of the entropy paths). */
int cpu_set_tsc(struct cc_vm *vm, struct cc_err *err)
{
    uint64_t val = vm_tsc_value(vm);
    if (vm->tsc_offset_attr) {
        unsigned __int128 host = __builtin_ia32_rdtsc();
        if (vm->host_tsc_khz && vm->host_tsc_khz != vm->cfg.tsc_khz && vm->caps.tsc_control)
            host = host * vm->cfg.tsc_khz / vm->host_tsc_khz;
        uint64_t off = val - (uint64_t)host;
        struct kvm_device_attr a = {
            .group = KVM_VCPU_TSC_CTRL,
            .attr = KVM_VCPU_TSC_OFFSET,
            .addr = (uintptr_t)&off,
        };
        if (ioctl(vm->vcpu_fd, KVM_SET_DEVICE_ATTR, &a) == 0)
            return 0;
        vm->tsc_offset_attr = false;    /* fall back to the MSR from now on */
    }
    uint32_t idx = MSR_IA32_TSC;
    return set_msrs(vm, &idx, &val, 1, err);
}

int cpu_init(struct cc_vm *vm, struct cc_err *err)
{
    int rc = setup_cpuid(vm, err);
    if (rc < 0)
        return rc;

    int khz = ioctl(vm->vcpu_fd, KVM_GET_TSC_KHZ, 0);
    vm->host_tsc_khz = khz > 0 ? (uint32_t)khz : 0;
    struct kvm_device_attr tsc_attr = {.group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET};
    vm->tsc_offset_attr = ioctl(vm->vcpu_fd, KVM_HAS_DEVICE_ATTR, &tsc_attr) == 0;
    if (vm->caps.tsc_control) {
        if (ioctl(vm->vcpu_fd, KVM_SET_TSC_KHZ, vm->cfg.tsc_khz) < 0) {
            vm_log(vm, "TSC frequency not pinned: KVM_SET_TSC_KHZ(%u) failed: %s",
                      vm->cfg.tsc_khz, strerror(errno));
        }
    } else {
        /* A fact about the host, not the VM: say it once per process. */
        static atomic_bool said;
        if (!atomic_exchange(&said, true))
            vm_log(vm, "TSC frequency not pinned: host has no KVM_CAP_TSC_CONTROL "
                          "(the guest does not use the TSC as a clock; values it reads "
                          "with RDTSC are written from virtual time before each entry)");
    }

    /* One MSR at a time so a host that rejects one does not hide the rest. */
    static const uint32_t idx[] = {
        MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
        MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK, MSR_KERNEL_GS_BASE,
        MSR_IA32_TSC, MSR_IA32_MISC_ENABLE, MSR_MTRR_DEF_TYPE, MSR_IA32_APICBASE,
    };
    const uint64_t val[] = {
        0, 0, 0, 0, 0, 0, 0, 0,
        0,
        1,                  /* fast strings */
        (1u << 11) | 6,     /* MTRRs enabled, default write-back */
        /* One vCPU: no local APIC (KVM derives CPUID's APIC bit from it).
         * SMP: ours at the default base, enabled, BSP flag on vCPU 0. */
        vm->smp ? 0xfee00000u | (1u << 11) | (vm->cur == 0 ? 1u << 8 : 0) : 0,
    };
    for (unsigned i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
        struct cc_err e2 = {0};
        if (set_msrs(vm, &idx[i], &val[i], 1, &e2) < 0)
            vm_log(vm, "MSR 0x%x not set: %s", idx[i], e2.msg);
    }

    struct kvm_fpu fpu;
    memset(&fpu, 0, sizeof(fpu));
    fpu.fcw = 0x37f;
    fpu.mxcsr = 0x1f80;
    if (ioctl(vm->vcpu_fd, KVM_SET_FPU, &fpu) < 0)
        return cc_err_set(err, errno, "KVM_SET_FPU: %s", strerror(errno));
    return 0;
}

static void write_u64(struct cc_vm *vm, uint64_t gpa, uint64_t v)
{
    memcpy(vm->mem + gpa, &v, 8);
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code)
{
    memset(s, 0, sizeof(*s));
    s->base = 0;
    s->limit = 0xffffffff;
    s->selector = sel;
    s->type = type;
    s->present = 1;
    s->dpl = 0;
    s->s = 1;
    s->g = 1;
    if (code) {
        s->l = 1;
        s->db = 0;
    } else {
        s->db = 1;
    }
}

int cc_vm_setup_long_mode(struct cc_vm *vm, uint64_t rip, uint64_t rsp,
                          uint64_t rdi, uint64_t rsi, struct cc_err *err)
{
    if (vm->mem_size < 0x100000)
        return cc_err_set(err, EINVAL, "guest memory too small for page tables");

    /* GDT: null, null, __BOOT_CS (0x10), __BOOT_DS (0x18). */
    uint64_t gdt[4] = {
        0,
        0,
        0x00af9b000000ffffull,     /* 64-bit code, present, DPL 0 */
        0x00cf93000000ffffull,     /* data, present, writable */
    };
    memcpy(vm->mem + GDT_GPA, gdt, sizeof(gdt));

    /* Identity map of the first 1 GiB with 2 MiB pages. */
    memset(vm->mem + PML4_GPA, 0, 0x3000);
    write_u64(vm, PML4_GPA, PDPT_GPA | 0x3);
    write_u64(vm, PDPT_GPA, PD_GPA | 0x3);
    for (uint64_t i = 0; i < 512; i++)
        write_u64(vm, PD_GPA + i * 8, (i << 21) | 0x83);   /* P, RW, PS */

    struct kvm_sregs sregs;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
        return cc_err_set(err, errno, "KVM_GET_SREGS: %s", strerror(errno));
    seg(&sregs.cs, 0x10, 0xb, true);
    seg(&sregs.ds, 0x18, 0x3, false);
    sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
    sregs.gdt.base = GDT_GPA;
    sregs.gdt.limit = sizeof(gdt) - 1;
    sregs.idt.base = 0;
    sregs.idt.limit = 0;
    sregs.cr3 = PML4_GPA;
    sregs.cr4 = 1u << 5;                        /* PAE */
    sregs.cr0 = 0x80000001u | (1u << 5) | (1u << 4) | (1u << 16);  /* PG PE NE ET WP */
    sregs.efer = (1u << 8) | (1u << 10);        /* LME LMA */
    int rc = vcpu_set_sregs(vm, &sregs, err);
    if (rc < 0)
        return rc;

    struct kvm_regs regs;
    memset(&regs, 0, sizeof(regs));
    regs.rflags = 0x2;
    regs.rip = rip;
    regs.rsp = rsp;
    regs.rdi = rdi;
    regs.rsi = rsi;
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
        return cc_err_set(err, errno, "KVM_SET_REGS: %s", strerror(errno));
    return 0;
}
