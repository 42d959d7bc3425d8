/*
 * The KVM capability probe (include/chaoscontrol/probe.h): can this
 * /dev/kvm run Linux guests?
 *
 * Runs three tiny long-mode guests with raw KVM ioctls and checks the
 * three things a Linux guest (and ChaosControl's determinism model) needs
 * that a software hypervisor may silently not provide:
 *
 *   cpuid-control  KVM_SET_CPUID2 decides what the guest's CPUID returns
 *                  (a custom vendor string, signature and feature set are
 *                  read back, at CPL0 and CPL3);
 *   tsc-set        a KVM_SET_MSRS write of MSR_IA32_TSC takes effect
 *                  (RDTSC in the guest reads near the value written);
 *   user-syscall   a CPL3 SYSCALL reaches the LSTAR handler at CPL0 with
 *                  the right return RIP, and SYSRETQ gets back to CPL3.
 *
 * Result: one "probe: NAME: yes|no (why)" line per check and a verdict
 * (capable / not capable / no usable /dev/kvm). build/tools/kvm-probe
 * prints them; tools/kvm-host and `chaoscontrol boot` decide with them.
 * The probe uses raw KVM ioctls, not the VM object, so that it tests KVM
 * itself. While it runs it owns SIGALRM (a wall-clock guard per guest run).
 * The guest code is in probe_guest.S.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chaoscontrol/probe.h"

/* Guest physical memory layout (identity mapped, one 2 MiB page). */
#define GUEST_MEM_SIZE  0x200000ull
#define GUEST_PML4      0x1000ull
#define GUEST_PDPT      0x2000ull
#define GUEST_PD        0x3000ull
#define GUEST_GDT       0x4000ull
#define GUEST_TSS       0x4800ull
#define GUEST_IDT       0x5000ull
#define GUEST_CODE      0x10000ull
#define GUEST_STACK_TOP 0x80000ull  /* kernel stack for CPL0 code */
#define GUEST_RSP0      0x90000ull  /* TSS.RSP0: stack for faults from CPL3 */

/* Report channel (see kvm-probe-guest.S): MMIO stores, any CPL. */
#define MMIO_BASE 0x200000ull  /* mapped in the page tables, no memslot */
#define MMIO_DATA (MMIO_BASE + 0)
#define MMIO_DONE (MMIO_BASE + 8)
#define PORT_EXC  0x11

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define TSS_SEL   0x30

#define MSR_IA32_TSC 0x10
#define TSC_WANTED   (1ull << 50)
#define TSC_SLACK    (1ull << 40)

#define SYSCALL_MARKER 0x5ca11000u

#define RUN_SECONDS 5   /* wall-clock guard for one guest run */
#define MAX_WORDS   16

/* Labels from kvm-probe-guest.S. */
extern const unsigned char probe_guest_start[], probe_guest_end[];
extern const unsigned char probe_cpuid_entry[], probe_tsc_entry[];
extern const unsigned char probe_syscall_entry[], probe_exc_stubs[];
extern const unsigned char probe_user_ret1[], probe_user_ret2[];

static uint64_t guest_addr(const unsigned char *label)
{
    return GUEST_CODE + (uint64_t)(label - probe_guest_start);
}

/* The vCPU's kvm_run, for the SIGALRM handler. */
static struct kvm_run *volatile alarm_run;
static volatile sig_atomic_t alarm_fired;

static void on_alarm(int sig)
{
    (void)sig;
    alarm_fired = 1;
    if (alarm_run)
        alarm_run->immediate_exit = 1;  /* makes KVM_RUN return EINTR */
}

/* One guest run's observable results. */
struct outcome {
    bool ok;                  /* ran to HLT without anything unexpected */
    char why[256];            /* when !ok: what went wrong */
    uint32_t words[MAX_WORDS];
    int nwords;
    struct kvm_regs regs;     /* at the end of the run */
};

struct vm {
    int vm_fd, vcpu_fd;
    unsigned char *mem;
    struct kvm_run *run;
    size_t run_size;
};

static void set_why(struct outcome *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_why(struct outcome *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->why, sizeof o->why, fmt, ap);
    va_end(ap);
    o->ok = false;
}

static uint64_t gdt_entry(uint32_t base, uint32_t limit, uint8_t access,
                          uint8_t flags)
{
    return (uint64_t)(limit & 0xffff) |
           ((uint64_t)(base & 0xffffff) << 16) |
           ((uint64_t)access << 40) |
           ((uint64_t)((limit >> 16) & 0xf) << 48) |
           ((uint64_t)(flags & 0xf) << 52) |
           ((uint64_t)(base >> 24) << 56);
}

/* Page tables, GDT, TSS, IDT and the code blob in guest memory. */
static void build_guest_memory(unsigned char *mem)
{
    uint64_t *pml4 = (uint64_t *)(mem + GUEST_PML4);
    uint64_t *pdpt = (uint64_t *)(mem + GUEST_PDPT);
    uint64_t *pd = (uint64_t *)(mem + GUEST_PD);
    /* Present | writable | user (so CPL3 code can run); PS = 2 MiB page. */
    pml4[0] = GUEST_PDPT | 0x7;
    pdpt[0] = GUEST_PD | 0x7;
    pd[0] = 0x0 | 0x87;
    pd[1] = MMIO_BASE | 0x87;  /* no memslot behind it: MMIO exits */

    uint64_t *gdt = (uint64_t *)(mem + GUEST_GDT);
    gdt[0] = 0;
    gdt[1] = gdt_entry(0, 0xfffff, 0x9b, 0xa);  /* 0x08 kernel code, L=1 */
    gdt[2] = gdt_entry(0, 0xfffff, 0x93, 0xc);  /* 0x10 kernel data */
    gdt[3] = gdt_entry(0, 0xfffff, 0xfb, 0xc);  /* 0x18 user code 32 */
    gdt[4] = gdt_entry(0, 0xfffff, 0xf3, 0xc);  /* 0x20 user data */
    gdt[5] = gdt_entry(0, 0xfffff, 0xfb, 0xa);  /* 0x28 user code 64 */
    /* 0x30: 64-bit TSS (busy), 16 bytes. */
    gdt[6] = gdt_entry((uint32_t)GUEST_TSS, 0x67, 0x8b, 0x0);
    gdt[7] = 0;  /* base[63:32] */

    /* 64-bit TSS: RSP0 at offset 4; I/O map base beyond the limit. */
    unsigned char *tss = mem + GUEST_TSS;
    uint64_t rsp0 = GUEST_RSP0;
    memcpy(tss + 4, &rsp0, 8);
    uint16_t iomap = 0x68;
    memcpy(tss + 0x66, &iomap, 2);

    /* IDT: 32 interrupt gates to the exception stubs, on the kernel CS. */
    uint64_t stubs = guest_addr(probe_exc_stubs);
    uint64_t *idt = (uint64_t *)(mem + GUEST_IDT);
    for (int v = 0; v < 32; v++) {
        uint64_t h = stubs + 16u * (unsigned)v;
        idt[2 * v] = (h & 0xffff) | ((uint64_t)KERNEL_CS << 16) |
                     ((uint64_t)0x8e << 40) |  /* present, DPL0, int gate */
                     ((h >> 16 & 0xffff) << 48);
        idt[2 * v + 1] = h >> 32;
    }

    memcpy(mem + GUEST_CODE, probe_guest_start,
           (size_t)(probe_guest_end - probe_guest_start));
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type,
                    bool code64)
{
    memset(s, 0, sizeof *s);
    s->base = 0;
    s->limit = 0xffffffff;
    s->selector = sel;
    s->type = type;
    s->present = 1;
    s->dpl = 0;
    s->s = 1;
    s->l = code64;
    s->db = !code64;
    s->g = 1;
}

static int setup_long_mode(struct vm *vm, struct outcome *o)
{
    struct kvm_sregs sregs;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0) {
        set_why(o, "KVM_GET_SREGS: %s", strerror(errno));
        return -1;
    }
    set_seg(&sregs.cs, KERNEL_CS, 11, true);
    set_seg(&sregs.ds, KERNEL_DS, 3, false);
    sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;

    memset(&sregs.tr, 0, sizeof sregs.tr);
    sregs.tr.base = GUEST_TSS;
    sregs.tr.limit = 0x67;
    sregs.tr.selector = TSS_SEL;
    sregs.tr.type = 11;  /* busy 64-bit TSS */
    sregs.tr.present = 1;

    memset(&sregs.ldt, 0, sizeof sregs.ldt);
    sregs.ldt.type = 2;
    sregs.ldt.unusable = 1;

    sregs.gdt.base = GUEST_GDT;
    sregs.gdt.limit = 8 * 8 - 1;
    sregs.idt.base = GUEST_IDT;
    sregs.idt.limit = 32 * 16 - 1;

    sregs.cr3 = GUEST_PML4;
    sregs.cr4 = 1u << 5;                                /* PAE */
    sregs.cr0 = 1u << 0 | 1u << 4 | 1u << 5 | 1u << 31; /* PE ET NE PG */
    sregs.efer = 1u << 0 | 1u << 8 | 1u << 10;          /* SCE LME LMA */

    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0) {
        set_why(o, "KVM_SET_SREGS (long mode): %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void vm_close(struct vm *vm)
{
    if (vm->run && vm->run != MAP_FAILED)
        munmap(vm->run, vm->run_size);
    if (vm->mem && vm->mem != MAP_FAILED)
        munmap(vm->mem, GUEST_MEM_SIZE);
    if (vm->vcpu_fd >= 0)
        close(vm->vcpu_fd);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
}

static int vm_open(int kvm, struct vm *vm, struct outcome *o)
{
    memset(vm, 0, sizeof *vm);
    vm->vm_fd = vm->vcpu_fd = -1;

    vm->vm_fd = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        set_why(o, "KVM_CREATE_VM: %s", strerror(errno));
        return -1;
    }
    vm->mem = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (vm->mem == MAP_FAILED) {
        set_why(o, "mmap guest memory: %s", strerror(errno));
        return -1;
    }
    struct kvm_userspace_memory_region region = {
        .slot = 0,
        .guest_phys_addr = 0,
        .memory_size = GUEST_MEM_SIZE,
        .userspace_addr = (uint64_t)(uintptr_t)vm->mem,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        set_why(o, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
        return -1;
    }
    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0) {
        set_why(o, "KVM_CREATE_VCPU: %s", strerror(errno));
        return -1;
    }
    int sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (sz <= 0) {
        set_why(o, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
        return -1;
    }
    vm->run_size = (size_t)sz;
    vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                   vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED) {
        set_why(o, "mmap kvm_run: %s", strerror(errno));
        return -1;
    }
    build_guest_memory(vm->mem);
    return 0;
}

/* What check_cpuid asks KVM_SET_CPUID2 for, and expects back. */
struct cpuid_want {
    const char *vendor;     /* leaf 0: 12 characters */
    uint32_t leaf1_eax;     /* filled in by set_cpuid */
    uint32_t leaf1_ecx;     /* filled in by set_cpuid */
};

#define CPUID1_ECX_OSXSAVE (1u << 27)  /* KVM mirrors CR4.OSXSAVE here */
#define CPUID1_ECX_RDRAND  (1u << 30)

/*
 * Give the vCPU the host-supported CPUID. With want, also change what a
 * deterministic VMM changes: leaf 0's vendor string, leaf 1's signature
 * (one stepping bit flipped) and features (RDRAND hidden), and record the
 * leaf 1 values the guest should then read.
 */
static int set_cpuid(int kvm, struct vm *vm, struct cpuid_want *want,
                     struct outcome *o)
{
    int n = 256;
    struct kvm_cpuid2 *c = NULL;
    for (;;) {
        c = calloc(1, sizeof *c + (size_t)n * sizeof c->entries[0]);
        if (!c) {
            set_why(o, "out of memory");
            return -1;
        }
        c->nent = (uint32_t)n;
        if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c) == 0)
            break;
        int e = errno;
        free(c);
        if (e != E2BIG || n >= 4096) {
            set_why(o, "KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
            return -1;
        }
        n *= 2;
    }
    if (want) {
        int found = 0;
        for (uint32_t i = 0; i < c->nent; i++) {
            struct kvm_cpuid_entry2 *e = &c->entries[i];
            if (e->function == 0 && e->index == 0) {
                memcpy(&e->ebx, want->vendor + 0, 4);
                memcpy(&e->edx, want->vendor + 4, 4);
                memcpy(&e->ecx, want->vendor + 8, 4);
                found |= 1;
            }
            if (e->function == 1 && e->index == 0) {
                /*
                 * The supported leaf 1 ECX may list RDRAND, and the host's
                 * own may too: hide it (as ChaosControl does) and flip the
                 * stepping, so a guest reading the host's values fails.
                 */
                e->eax ^= 0x1;
                e->ecx &= ~CPUID1_ECX_RDRAND;
                want->leaf1_eax = e->eax;
                want->leaf1_ecx = e->ecx;
                found |= 2;
            }
        }
        if (found != 3) {
            free(c);
            set_why(o, "KVM_GET_SUPPORTED_CPUID lacks leaf %s",
                    found & 1 ? "1" : "0");
            return -1;
        }
    }
    int r = ioctl(vm->vcpu_fd, KVM_SET_CPUID2, c);
    int e = errno;
    free(c);
    if (r < 0) {
        set_why(o, "KVM_SET_CPUID2: %s", strerror(e));
        return -1;
    }
    return 0;
}

static const char *exit_name(uint32_t reason)
{
    switch (reason) {
    case KVM_EXIT_UNKNOWN: return "KVM_EXIT_UNKNOWN";
    case KVM_EXIT_EXCEPTION: return "KVM_EXIT_EXCEPTION";
    case KVM_EXIT_IO: return "KVM_EXIT_IO";
    case KVM_EXIT_HLT: return "KVM_EXIT_HLT";
    case KVM_EXIT_MMIO: return "KVM_EXIT_MMIO";
    case KVM_EXIT_SHUTDOWN: return "KVM_EXIT_SHUTDOWN (triple fault)";
    case KVM_EXIT_FAIL_ENTRY: return "KVM_EXIT_FAIL_ENTRY";
    case KVM_EXIT_INTERNAL_ERROR: return "KVM_EXIT_INTERNAL_ERROR";
    default: return "unexpected exit";
    }
}

/* Run the vCPU from rip until HLT or MMIO_DONE, collecting MMIO_DATA. */
static void run_guest(struct vm *vm, uint64_t rip, struct outcome *o)
{
    struct kvm_regs regs;
    memset(&regs, 0, sizeof regs);
    regs.rip = rip;
    regs.rsp = GUEST_STACK_TOP;
    regs.rflags = 0x2;
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0) {
        set_why(o, "KVM_SET_REGS: %s", strerror(errno));
        return;
    }

    alarm_fired = 0;
    alarm_run = vm->run;
    vm->run->immediate_exit = 0;
    alarm(RUN_SECONDS);

    for (int exits = 0;; exits++) {
        if (exits > 10000) {
            set_why(o, "guest did not halt after %d exits", exits);
            break;
        }
        int r = ioctl(vm->vcpu_fd, KVM_RUN, 0);
        if (r < 0) {
            if (errno == EINTR && alarm_fired) {
                set_why(o, "guest still running after %d s (hang)",
                        RUN_SECONDS);
                break;
            }
            if (errno == EINTR || errno == EAGAIN)
                continue;
            set_why(o, "KVM_RUN: %s", strerror(errno));
            break;
        }
        struct kvm_run *run = vm->run;
        if (run->exit_reason == KVM_EXIT_HLT) {
            o->ok = true;
            break;
        }
        if (run->exit_reason == KVM_EXIT_IO &&
            run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 4 &&
            run->io.count == 1) {
            uint32_t v;
            memcpy(&v, (unsigned char *)run + run->io.data_offset, 4);
            if (run->io.port == PORT_EXC) {
                /* Frame: vector, error code, RIP, CS (see the .S file). */
                struct kvm_regs er;
                uint64_t f[4] = {v, 0, 0, 0};
                if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &er) == 0 &&
                    er.rsp + sizeof f <= GUEST_MEM_SIZE)
                    memcpy(f, vm->mem + er.rsp, sizeof f);
                set_why(o, "guest exception %" PRIu64 " (error code 0x%"
                        PRIx64 ") at rip 0x%" PRIx64 ", cs 0x%" PRIx64,
                        f[0], f[1], f[2], f[3]);
                return;  /* the exception frame says where */
            }
        }
        if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.is_write &&
            run->mmio.len == 4) {
            uint32_t v;
            memcpy(&v, run->mmio.data, 4);
            if (run->mmio.phys_addr == MMIO_DONE) {
                o->ok = true;
                break;
            }
            if (run->mmio.phys_addr == MMIO_DATA) {
                if (o->nwords < MAX_WORDS)
                    o->words[o->nwords++] = v;
                continue;
            }
        }
        if (run->exit_reason == KVM_EXIT_MMIO) {
            set_why(o, "unexpected MMIO: %s 0x%llx size %u",
                    run->mmio.is_write ? "write" : "read",
                    (unsigned long long)run->mmio.phys_addr, run->mmio.len);
            break;
        }
        if (run->exit_reason == KVM_EXIT_IO) {
            set_why(o, "unexpected port I/O: %s port 0x%x size %u",
                    run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
                    run->io.port, run->io.size);
            break;
        }
        if (run->exit_reason == KVM_EXIT_FAIL_ENTRY) {
            set_why(o, "KVM_EXIT_FAIL_ENTRY (hardware reason 0x%llx)",
                    (unsigned long long)
                    run->fail_entry.hardware_entry_failure_reason);
            break;
        }
        if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
            set_why(o, "KVM_EXIT_INTERNAL_ERROR (suberror %u)",
                    run->internal.suberror);
            break;
        }
        set_why(o, "%s (exit reason %u)", exit_name(run->exit_reason),
                run->exit_reason);
        break;
    }

    alarm(0);
    alarm_run = NULL;
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &o->regs) < 0)
        memset(&o->regs, 0, sizeof o->regs);
    if (!o->ok && o->regs.rip)
        snprintf(o->why + strlen(o->why), sizeof o->why - strlen(o->why),
                 ", rip 0x%llx", (unsigned long long)o->regs.rip);
}

/* ---- the checks ---- */

struct check {
    const char *name;
    bool yes;
    char detail[512];
};

static void check_cpuid(int kvm, struct check *c)
{
    static const char vendor[13] = "CCprobeVENDR";
    struct cpuid_want want = {.vendor = vendor};
    struct vm vm;
    struct outcome o = {.ok = false};
    c->name = "cpuid-control";
    c->yes = false;
    if (vm_open(kvm, &vm, &o) == 0 && set_cpuid(kvm, &vm, &want, &o) == 0 &&
        setup_long_mode(&vm, &o) == 0)
        run_guest(&vm, guest_addr(probe_cpuid_entry), &o);
    vm_close(&vm);
    if (!o.ok) {
        snprintf(c->detail, sizeof c->detail, "%s", o.why);
        return;
    }
    if (o.nwords != 10) {
        snprintf(c->detail, sizeof c->detail,
                 "guest reported %d words, wanted 10", o.nwords);
        return;
    }
    /* Per CPL, 5 words: leaf 0 EBX EDX ECX, leaf 1 EAX ECX. */
    for (int cpl = 0; cpl <= 3; cpl += 3) {
        const uint32_t *w = o.words + (cpl ? 5 : 0);
        char got[13];
        memcpy(got, w, 12);
        got[12] = 0;
        for (int i = 0; i < 12; i++)
            if (got[i] < 0x20 || got[i] > 0x7e)
                got[i] = '?';
        if (memcmp(w, vendor, 12) != 0) {
            snprintf(c->detail, sizeof c->detail,
                     "CPUID(0) at CPL%d read vendor \"%s\", wanted \"%s\"",
                     cpl, got, vendor);
            return;
        }
        if (w[3] != want.leaf1_eax) {
            snprintf(c->detail, sizeof c->detail,
                     "CPUID(1).EAX (signature) at CPL%d read 0x%08x, wanted "
                     "0x%08x", cpl, w[3], want.leaf1_eax);
            return;
        }
        if ((w[4] ^ want.leaf1_ecx) & ~CPUID1_ECX_OSXSAVE) {
            snprintf(c->detail, sizeof c->detail,
                     "CPUID(1).ECX (features) at CPL%d read 0x%08x, wanted "
                     "0x%08x (ignoring OSXSAVE)%s", cpl, w[4],
                     want.leaf1_ecx,
                     (w[4] & CPUID1_ECX_RDRAND) ? ": RDRAND not hidden" : "");
            return;
        }
    }
    c->yes = true;
}

static void check_tsc(int kvm, struct check *c)
{
    struct vm vm;
    struct outcome o = {.ok = false};
    c->name = "tsc-set";
    c->yes = false;
    if (vm_open(kvm, &vm, &o) == 0 && set_cpuid(kvm, &vm, NULL, &o) == 0 &&
        setup_long_mode(&vm, &o) == 0) {
        /* struct kvm_msrs ends in a flexible array: one entry after it. */
        struct kvm_msrs *msrs =
            calloc(1, sizeof *msrs + sizeof msrs->entries[0]);
        int r = -1;
        if (msrs) {
            msrs->nmsrs = 1;
            msrs->entries[0].index = MSR_IA32_TSC;
            msrs->entries[0].data = TSC_WANTED;
            r = ioctl(vm.vcpu_fd, KVM_SET_MSRS, msrs);
        }
        int e = msrs ? errno : ENOMEM;
        free(msrs);
        if (r != 1)
            set_why(&o, "KVM_SET_MSRS(IA32_TSC) returned %d%s%s", r,
                    r < 0 ? ": " : "", r < 0 ? strerror(e) : "");
        else
            run_guest(&vm, guest_addr(probe_tsc_entry), &o);
    }
    vm_close(&vm);
    if (!o.ok) {
        snprintf(c->detail, sizeof c->detail, "%s", o.why);
        return;
    }
    if (o.nwords != 4) {
        snprintf(c->detail, sizeof c->detail,
                 "guest reported %d words, wanted 4", o.nwords);
        return;
    }
    /* Words 0-1: RDTSC at CPL0; words 2-3: at CPL3. */
    for (int cpl = 0; cpl <= 3; cpl += 3) {
        const uint32_t *w = o.words + (cpl ? 2 : 0);
        uint64_t tsc = (uint64_t)w[1] << 32 | w[0];
        if (tsc < TSC_WANTED || tsc - TSC_WANTED >= TSC_SLACK) {
            snprintf(c->detail, sizeof c->detail,
                     "RDTSC at CPL%d read 0x%" PRIx64 ", wanted >= 0x%llx "
                     "and < 0x%llx", cpl, tsc,
                     (unsigned long long)TSC_WANTED,
                     (unsigned long long)(TSC_WANTED + TSC_SLACK));
            return;
        }
    }
    c->yes = true;
}

static void check_syscall(int kvm, struct check *c)
{
    struct vm vm;
    struct outcome o = {.ok = false};
    c->name = "user-syscall";
    c->yes = false;
    if (vm_open(kvm, &vm, &o) == 0 && set_cpuid(kvm, &vm, NULL, &o) == 0 &&
        setup_long_mode(&vm, &o) == 0)
        run_guest(&vm, guest_addr(probe_syscall_entry), &o);
    vm_close(&vm);
    /*
     * Each handler call reported 6 words: marker, RCX (2 words), the
     * handler's CS, the caller's CS (RBX), R11. Judge the reports that
     * arrived before anything else, so a run that went wrong later (say,
     * SYSRETQ faulting because the handler was not at CPL0) is explained
     * by its first wrong value.
     */
    const uint64_t ret[2] = {guest_addr(probe_user_ret1),
                             guest_addr(probe_user_ret2)};
    for (int i = 0; i < 2 && o.nwords >= 6 * (i + 1); i++) {
        const uint32_t *w = o.words + 6 * i;
        uint64_t rcx = (uint64_t)w[2] << 32 | w[1];
        if (w[0] != SYSCALL_MARKER + 1u + (unsigned)i) {
            snprintf(c->detail, sizeof c->detail,
                     "syscall %d: marker 0x%x, wanted 0x%x", i + 1, w[0],
                     SYSCALL_MARKER + 1u + (unsigned)i);
            return;
        }
        if ((w[4] & 3) != 3) {
            snprintf(c->detail, sizeof c->detail,
                     "syscall %d: caller ran at CPL %u (cs 0x%x), wanted 3",
                     i + 1, w[4] & 3, w[4]);
            return;
        }
        if ((w[3] & 3) != 0) {
            snprintf(c->detail, sizeof c->detail,
                     "syscall %d: LSTAR handler ran at CPL %u (cs 0x%x), "
                     "wanted CPL 0%s%s", i + 1, w[3] & 3, w[3],
                     o.ok ? "" : "; then ", o.ok ? "" : o.why);
            return;
        }
        if (rcx != ret[i]) {
            snprintf(c->detail, sizeof c->detail,
                     "syscall %d: handler saw RCX 0x%" PRIx64
                     ", wanted 0x%" PRIx64, i + 1, rcx, ret[i]);
            return;
        }
    }
    if (!o.ok) {
        snprintf(c->detail, sizeof c->detail, "%s%s", o.why,
                 o.nwords == 6 ? " (after the first syscall was handled)"
                 : "");
        return;
    }
    if (o.nwords != 12) {
        snprintf(c->detail, sizeof c->detail,
                 "syscall handler reported %d words, wanted 12 (2 calls)",
                 o.nwords);
        return;
    }
    c->yes = true;
}

void cc_kvm_probe_dev(const char *dev, struct cc_probe_result *r)
{
    memset(r, 0, sizeof(*r));
    int kvm = open(dev, O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        int e = errno;
        r->verdict = CC_PROBE_NO_KVM;
        snprintf(r->summary, sizeof(r->summary), "no usable KVM: cannot open %s: %s%s", dev,
                 strerror(e),
                 e == ENOENT ? " (no KVM on this machine: kvm module not loaded or no "
                               "virtualization support)"
                 : e == EACCES ? " (add yourself to the kvm group or run as root)" : "");
        return;
    }
    int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION) {
        r->verdict = CC_PROBE_NO_KVM;
        snprintf(r->summary, sizeof(r->summary),
                 "no usable KVM: %s: KVM_GET_API_VERSION returned %d, wanted %d", dev, api,
                 KVM_API_VERSION);
        close(kvm);
        return;
    }
    if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_EXT_CPUID) <= 0) {
        r->verdict = CC_PROBE_NO_KVM;
        snprintf(r->summary, sizeof(r->summary), "no usable KVM: %s lacks KVM_CAP_EXT_CPUID",
                 dev);
        close(kvm);
        return;
    }

    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  /* no SA_RESTART: KVM_RUN must see EINTR */
    sigaction(SIGALRM, &sa, &old);

    struct check checks[3];
    memset(checks, 0, sizeof checks);
    check_cpuid(kvm, &checks[0]);
    check_tsc(kvm, &checks[1]);
    check_syscall(kvm, &checks[2]);
    close(kvm);
    sigaction(SIGALRM, &old, NULL);
    r->cpuid_control = checks[0].yes;
    r->tsc_set = checks[1].yes;
    r->user_syscall = checks[2].yes;

    char reasons[256] = "";
    size_t len = 0, llen = 0;
    bool capable = true;
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        struct check *c = &checks[i];
        int n;
        if (c->yes)
            n = snprintf(r->lines + llen, sizeof(r->lines) - llen, "probe: %s: yes\n", c->name);
        else
            n = snprintf(r->lines + llen, sizeof(r->lines) - llen, "probe: %s: no (%s)\n",
                         c->name, c->detail);
        if (n > 0 && (size_t)n < sizeof(r->lines) - llen)
            llen += (size_t)n;
        if (c->yes)
            continue;
        capable = false;
        n = snprintf(reasons + len, sizeof reasons - len, "%sno %s", len ? ", " : "", c->name);
        if (n > 0 && (size_t)n < sizeof reasons - len)
            len += (size_t)n;
    }
    if (capable) {
        r->verdict = CC_PROBE_CAPABLE;
        snprintf(r->summary, sizeof(r->summary), "this %s can run Linux guests", dev);
    } else {
        r->verdict = CC_PROBE_INCAPABLE;
        snprintf(r->summary, sizeof(r->summary), "this %s cannot run Linux guests (%s)", dev,
                 reasons);
    }
}

void cc_kvm_probe(struct cc_probe_result *r)
{
    cc_kvm_probe_dev("/dev/kvm", r);
}
