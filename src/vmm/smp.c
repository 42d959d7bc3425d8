/* SMP guests: several vCPUs, serialized.
 *
 * A VM with cfg.vcpus > 1 has one KVM vCPU per guest CPU, all run by the
 * one thread that runs the VM, one at a time: the run loop enters the
 * current vCPU (vm->cur), handles its exit like any other, and only then
 * may the scheduler pick another. So every vCPU sees the others' memory
 * writes only at exits, in an order that is a function of the seed.
 *
 * Interrupts: a local APIC per vCPU and an I/O APIC, emulated here in user
 * space (devices/lapic.c, devices/ioapic.c); the board's ISA lines go to
 * both the PIC and the I/O APIC (the PIC reaches the BSP through LINT0 in
 * ExtINT mode, as in virtual-wire mode). An interrupt reaches a vCPU only
 * when the run loop injects it before that vCPU's entry. IPIs (ICR writes)
 * are MMIO exits: INIT and STARTUP start the APs (real mode at the vector's
 * page, as the MP specification says), fixed and lowest-priority IPIs set
 * IRR bits, NMIs go through KVM_NMI. The guest finds its CPUs in an MP
 * table (mptable.c).
 *
 * Scheduling: a switch can happen only after an exit. It must happen when
 * the current vCPU halts (HLT with nothing to deliver), spins or delays
 * (CC_PORT_YIELD, written by the patched kernel's cpu_relax and udelay);
 * it may happen after each exit: in round robin after a quantum of
 * vcpu_quantum exits, in random mode with probability 1/vcpu_quantum. The
 * vCPU picked is the next runnable one (round robin) or one drawn from the
 * scheduler's seeded stream (random). When no vCPU can run, the clock
 * jumps to the earliest timer deadline (PIT, local APIC timers, the end of
 * a delay), as the one-vCPU halt does.
 *
 * What cannot be preempted: a vCPU that loops in user mode without making
 * an exit (no PAUSE-based yield exists for user space: KVM handles PAUSE
 * exits itself). It runs until its loop ends; if it waits for another vCPU
 * it never ends, and the watchdog (cfg.watchdog_s) reports the VM stuck. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chaoscontrol/platform.h"
#include "vm_internal.h"

#define SMP_SECTION_VERSION 1
#define LAPIC_BUS_HZ 1000000000ull      /* 1 tick per ns before the divider */
#define MAX_DELAY_NS 1000000000ull

const char *cc_vcpu_sched_name(enum cc_vcpu_sched s)
{
    return s == CC_VSCHED_RANDOM ? "random" : "rr";
}

int cc_vcpu_sched_parse(const char *s, enum cc_vcpu_sched *out)
{
    if (!strcmp(s, "rr")) {
        *out = CC_VSCHED_RR;
        return 0;
    }
    if (!strcmp(s, "random")) {
        *out = CC_VSCHED_RANDOM;
        return 0;
    }
    return -1;
}

unsigned cc_vm_vcpus(const struct cc_vm *vm) { return vm->ncpu ? vm->ncpu : 1; }
unsigned cc_vm_current_vcpu(const struct cc_vm *vm) { return vm->cur; }
uint64_t cc_vm_vcpu_switches(const struct cc_vm *vm) { return vm->sched.switches; }

uint64_t cc_vm_vcpu_exits(const struct cc_vm *vm, unsigned cpu)
{
    if (!vm->smp)
        return cpu == 0 ? vm->exits : 0;
    return cpu < vm->ncpu ? vm->vcpu[cpu].exits : 0;
}

void cc_vm_sched_reseed(struct cc_vm *vm, uint64_t seed)
{
    vm->sched.seed = seed;
    rng_init(&vm->sched.rng, seed, "vcpu-sched");
}

void smp_select(struct cc_vm *vm, unsigned i)
{
    if (i >= vm->ncpu)
        return;
    vm->cur = i;
    vm->vcpu_fd = vm->vcpu[i].fd;
    vm->run = vm->vcpu[i].run;
    if (vm->dbg.fn)
        dbg_mark_dirty(vm);
}

/* ---- vCPUs ---- */

int smp_create_vcpus(struct cc_vm *vm, struct cc_err *err)
{
    int run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < (int)sizeof(struct kvm_run))
        return cc_err_set(err, errno ? errno : EINVAL, "KVM_GET_VCPU_MMAP_SIZE failed");
    vm->run_size = (size_t)run_size;
    for (unsigned i = 0; i < vm->ncpu; i++) {
        struct vm_vcpu *c = &vm->vcpu[i];
        c->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
        if (c->fd < 0)
            return cc_err_set(err, errno, "KVM_CREATE_VCPU %u: %s", i, strerror(errno));
        c->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
        if (c->run == MAP_FAILED) {
            c->run = NULL;
            return cc_err_set(err, errno, "mmap of kvm_run (vCPU %u): %s", i, strerror(errno));
        }
        if (vm->caps.sync_regs)
            c->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
        c->state = i == 0 ? VCPU_RUNNING : VCPU_WAIT_SIPI;
        smp_select(vm, i);
        int rc = cpu_init(vm, err);
        if (rc < 0)
            return cc_err_prefix(err, "vCPU %u", i);
    }
    smp_select(vm, 0);
    return 0;
}

void smp_destroy_vcpus(struct cc_vm *vm)
{
    for (unsigned i = 0; i < CC_VM_MAX_VCPUS; i++) {
        struct vm_vcpu *c = &vm->vcpu[i];
        if (c->run)
            munmap(c->run, vm->run_size);
        if (c->fd > 0)
            close(c->fd);
        c->run = NULL;
        c->fd = -1;
    }
    vm->vcpu_fd = -1;
    vm->run = MAP_FAILED;
}

/* The register state after INIT and a STARTUP IPI with this vector: real
 * mode at vector << 12 (Intel SDM vol. 3, 9.4.4 and 10.6.1). */
static int ap_start(struct cc_vm *vm, unsigned i, uint8_t vector, struct cc_err *err)
{
    unsigned was = vm->cur;
    smp_select(vm, i);
    struct kvm_sregs s;
    int rc = 0;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0) {
        rc = cc_err_set(err, errno, "KVM_GET_SREGS (vCPU %u): %s", i, strerror(errno));
        goto out;
    }
    struct kvm_segment rm = {.limit = 0xffff, .type = 3, .present = 1, .s = 1};
    s.ds = s.es = s.fs = s.gs = s.ss = rm;
    s.cs = rm;
    s.cs.type = 0xb;
    s.cs.selector = (uint16_t)(vector << 8);
    s.cs.base = (uint64_t)vector << 12;
    s.tr = (struct kvm_segment){.limit = 0xffff, .type = 3, .present = 1};
    s.ldt = (struct kvm_segment){.limit = 0xffff, .type = 2, .present = 1};
    s.gdt.base = s.idt.base = 0;
    s.gdt.limit = s.idt.limit = 0xffff;
    s.cr0 = 0x60000010;
    s.cr2 = s.cr3 = s.cr4 = 0;
    s.efer = 0;
    memset(s.interrupt_bitmap, 0, sizeof(s.interrupt_bitmap));
    rc = vcpu_set_sregs(vm, &s, err);
    if (rc < 0)
        goto out;
    struct kvm_regs r;
    memset(&r, 0, sizeof(r));
    r.rflags = 2;
    r.rip = 0;
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0)
        rc = cc_err_set(err, errno, "KVM_SET_REGS (vCPU %u): %s", i, strerror(errno));
out:
    smp_select(vm, was);
    return rc;
}

/* ---- interrupt routing ---- */

/* The PIC's INTR reaching vCPU i: the BSP's LINT0, unmasked, in ExtINT
 * mode, with the PIC asserting INTR. */
static bool extint_pending(struct cc_vm *vm, unsigned i)
{
    if (i != 0)
        return false;
    uint32_t lint0 = lapic_lvt_lint(&vm->vcpu[0].lapic, 0);
    return !(lint0 & CC_LAPIC_LVT_MASKED) && ((lint0 >> 8) & 7) == CC_DM_EXTINT &&
           pic_intr(&vm->pic);
}

static bool deliverable(struct cc_vm *vm, unsigned i)
{
    struct vm_vcpu *c = &vm->vcpu[i];
    return c->nmi_pending || lapic_pending(&c->lapic) >= 0 || extint_pending(vm, i);
}

int smp_nmi(struct cc_vm *vm, unsigned i, struct cc_err *err)
{
    struct vm_vcpu *c = &vm->vcpu[i];
    if (ioctl(c->fd, KVM_NMI) < 0)
        return cc_err_set(err, errno, "KVM_NMI (vCPU %u): %s", i, strerror(errno));
    c->nmi_pending = true;
    struct cc_trace_rec tr = {
        .seq = vm->exits, .vtime = vm->vtime, .addr = 2, .kind = CC_TR_INJECT, .cpu = i,
    };
    vm_trace(vm, &tr);
    return 0;
}

/* Deliver an interrupt message to the local APICs it names. */
static void apic_deliver(struct cc_vm *vm, unsigned dm, uint8_t vector, bool level,
                         uint8_t dest, bool logical, unsigned shorthand, unsigned src,
                         bool init_deassert)
{
    bool target[CC_VM_MAX_VCPUS] = {0};
    unsigned n = 0;
    for (unsigned i = 0; i < vm->ncpu; i++) {
        bool t;
        switch (shorthand) {
        case 1: t = i == src; break;                    /* self */
        case 2: t = true; break;                        /* all including self */
        case 3: t = i != src; break;                    /* all excluding self */
        default: t = lapic_match_dest(&vm->vcpu[i].lapic, dest, logical); break;
        }
        target[i] = t;
        n += t;
    }
    if (dm == CC_DM_LOWEST && n > 1) {
        /* Lowest priority: the enabled matching APIC with the lowest
         * arbitration priority, lowest index on a tie (a fixed rule, so
         * every run agrees). */
        unsigned best = CC_VM_MAX_VCPUS;
        for (unsigned i = 0; i < vm->ncpu; i++)
            if (target[i] && lapic_enabled(&vm->vcpu[i].lapic) &&
                (best == CC_VM_MAX_VCPUS ||
                 lapic_apr(&vm->vcpu[i].lapic) < lapic_apr(&vm->vcpu[best].lapic)))
                best = i;
        for (unsigned i = 0; i < vm->ncpu; i++)
            target[i] = i == best;
    }
    for (unsigned i = 0; i < vm->ncpu; i++) {
        if (!target[i])
            continue;
        struct vm_vcpu *c = &vm->vcpu[i];
        struct cc_err e = {0};
        switch (dm) {
        case CC_DM_FIXED:
        case CC_DM_LOWEST:
            lapic_set_irr(&c->lapic, vector, level);
            break;
        case CC_DM_NMI:
            if (c->state != VCPU_WAIT_SIPI && smp_nmi(vm, i, &e) < 0)
                vm_log(vm, "%s", e.msg);
            break;
        case CC_DM_INIT:
            if (init_deassert)
                break;
            lapic_init_ipi(&c->lapic);
            if (i == 0)
                lapic_virtual_wire(&c->lapic);
            if (i != 0) {
                c->state = VCPU_WAIT_SIPI;
                c->sleep_until = 0;
            }
            break;
        case CC_DM_STARTUP:
            if (c->state != VCPU_WAIT_SIPI)
                break;          /* ignored unless waiting for it */
            if (ap_start(vm, i, vector, &e) < 0) {
                vm_log(vm, "cannot start vCPU %u: %s", i, e.msg);
                break;
            }
            c->state = VCPU_RUNNING;
            c->fresh = true;
            break;
        default:
            break;              /* SMI, ExtINT over the bus: ignored */
        }
    }
}

static void ioapic_deliver(void *opaque, const struct cc_ioapic_msg *m)
{
    struct cc_vm *vm = opaque;
    apic_deliver(vm, m->delivery, m->vector, m->level, m->dest, m->logical, 0, 0, false);
}

static void board_set_irq(void *opaque, unsigned line, int level)
{
    struct cc_vm *vm = opaque;
    pic_set_irq(&vm->pic, line, level);
    if (vm->smp)
        ioapic_set_irq(&vm->ioapic, line, level);
}

struct cc_irq_sink vm_irq_sink(struct cc_vm *vm)
{
    return (struct cc_irq_sink){board_set_irq, vm};
}

/* ---- the local APIC and I/O APIC windows ---- */

static uint32_t get32(const void *data, unsigned size)
{
    uint64_t v = 0;
    memcpy(&v, data, size < 8 ? size : 8);
    return (uint32_t)v;
}

static void put32(void *data, unsigned size, uint32_t v)
{
    uint64_t w = v;
    memcpy(data, &w, size < 8 ? size : 8);
}

static void lapic_mmio_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    struct cc_vm *vm = opaque;
    uint32_t v = 0;
    if (size == 4 && !(off & 3))
        v = lapic_read(&vm->vcpu[vm->cur].lapic, vm->vtime, off);
    put32(data, size, v);
}

static void lapic_mmio_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    struct cc_vm *vm = opaque;
    if (size != 4 || (off & 3))
        return;
    struct cc_lapic_out out = {0};
    lapic_write(&vm->vcpu[vm->cur].lapic, vm->vtime, off, get32(data, size), &out);
    if (out.eoi_level)
        ioapic_eoi(&vm->ioapic, out.eoi_vector);
    if (out.ipi) {
        uint32_t lo = out.icr_lo;
        unsigned dm = (lo >> 8) & 7;
        bool level_assert = (lo >> 14) & 1, trig_level = (lo >> 15) & 1;
        apic_deliver(vm, dm, (uint8_t)lo, trig_level, (uint8_t)(out.icr_hi >> 24),
                     (lo >> 11) & 1, (lo >> 18) & 3, vm->cur,
                     dm == CC_DM_INIT && !level_assert && trig_level);
    }
}

static void ioapic_mmio_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    struct cc_vm *vm = opaque;
    put32(data, size, size == 4 ? ioapic_read(&vm->ioapic, off) : 0);
}

static void ioapic_mmio_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    struct cc_vm *vm = opaque;
    if (size == 4)
        ioapic_write(&vm->ioapic, off, get32(data, size));
}

static const struct cc_io_ops lapic_ops = {lapic_mmio_read, lapic_mmio_write};
static const struct cc_io_ops ioapic_ops = {ioapic_mmio_read, ioapic_mmio_write};

int smp_board_init(struct cc_vm *vm, struct cc_err *err)
{
    if (!vm->smp)
        return 0;
    for (unsigned i = 0; i < vm->ncpu; i++) {
        lapic_init(&vm->vcpu[i].lapic, i, i == 0, LAPIC_BUS_HZ);
        /* Virtual-wire mode as firmware leaves it: the PIC's INTR reaches
         * the BSP through LINT0 (ExtINT), NMIs through LINT1. */
        if (i == 0)
            lapic_virtual_wire(&vm->vcpu[0].lapic);
    }
    ioapic_init(&vm->ioapic, (uint8_t)vm->ncpu);
    vm->ioapic.deliver = ioapic_deliver;
    vm->ioapic.opaque = vm;
    cc_vm_sched_reseed(vm, vm->cfg.seed);
    vm->sched.quantum = vm->cfg.vcpu_quantum ? vm->cfg.vcpu_quantum : CC_VM_DEFAULT_QUANTUM;
    int rc = cc_vm_add_mmio(vm, CC_LAPIC_GPA, CC_LAPIC_SIZE, &lapic_ops, vm, err);
    if (rc == 0)
        rc = cc_vm_add_mmio(vm, CC_IOAPIC_GPA, CC_IOAPIC_SIZE, &ioapic_ops, vm, err);
    return rc;
}

const char *smp_cmdline(const struct cc_vm *vm)
{
    (void)vm;
    /* lapic_timer_frequency: the timer's ticks per jiffy (HZ = 100), so
     * Linux does not calibrate it (a parameter of kernel/patches/0005);
     * cc_pv_yield: cpu_relax and udelay write CC_PORT_YIELD (0005);
     * no_timer_check: the I/O APIC timer test costs ~49 ms of virtual
     * time per boot and proves nothing about our PIT. */
    return "console=ttyS0 8250.nr_uarts=1 acpi=off nokaslr lpj=500000 io_delay=none "
           "reboot=k panic=-1 printk.time=1 lapic_timer_frequency=10000000 cc_pv_yield "
           "no_timer_check";
}

/* ---- timers and halting ---- */

void smp_timers_catch_up(struct cc_vm *vm)
{
    pit_advance(&vm->pit, vm->vtime);
    for (unsigned i = 0; i < vm->ncpu; i++)
        lapic_advance(&vm->vcpu[i].lapic, vm->vtime);
}

uint64_t smp_next_deadline(const struct cc_vm *vm)
{
    uint64_t dl = pit_next_deadline(&vm->pit);
    for (unsigned i = 0; i < vm->ncpu; i++) {
        const struct vm_vcpu *c = &vm->vcpu[i];
        uint64_t t = lapic_next_deadline(&c->lapic);     /* UINT64_MAX when masked */
        if (t < dl)
            dl = t;
        if (c->state == VCPU_RUNNING && c->sleep_until > vm->vtime && c->sleep_until < dl)
            dl = c->sleep_until;
    }
    return dl;
}

/* Could vCPU i run now? A delay (udelay) ends early for an interrupt, as
 * the interrupt would preempt a delay loop; a halted vCPU wakes for one; a
 * stopped one only for an NMI. */
static bool can_run(struct cc_vm *vm, unsigned i)
{
    const struct vm_vcpu *c = &vm->vcpu[i];
    switch (c->state) {
    case VCPU_RUNNING: return c->sleep_until <= vm->vtime || deliverable(vm, i);
    case VCPU_HALTED: return deliverable(vm, i);
    case VCPU_STOPPED: return c->nmi_pending;
    default: return false;
    }
}

/* can_run, and if so make it running (a delay it was in ends). */
static bool runnable(struct cc_vm *vm, unsigned i)
{
    if (!can_run(vm, i))
        return false;
    struct vm_vcpu *c = &vm->vcpu[i];
    c->state = VCPU_RUNNING;
    if (c->sleep_until > vm->vtime)
        c->sleep_until = 0;
    return true;
}

bool smp_wake_pending(struct cc_vm *vm)
{
    for (unsigned i = 0; i < vm->ncpu; i++)
        if (can_run(vm, i))
            return true;
    return false;
}

void smp_handle_hlt(struct cc_vm *vm)
{
    struct vm_vcpu *c = &vm->vcpu[vm->cur];
    if (!vm->run->if_flag) {
        if (!c->nmi_pending)
            c->state = VCPU_STOPPED;
        return;
    }
    if (!deliverable(vm, vm->cur))
        c->state = VCPU_HALTED;
}

/* The vCPU to run next, other than the current one when possible; -1 when
 * none can run. */
static int pick(struct cc_vm *vm, bool leave)
{
    unsigned cand[CC_VM_MAX_VCPUS], n = 0;
    for (unsigned k = 1; k <= vm->ncpu; k++) {
        unsigned i = (vm->cur + k) % vm->ncpu;    /* round-robin order, current last */
        if (runnable(vm, i))
            cand[n++] = i;
    }
    if (n == 0)
        return -1;
    bool cur_ok = cand[n - 1] == vm->cur;
    if (cur_ok && n > 1 && leave)
        n--;                    /* another one can run: leave the current */
    if (vm->cfg.vcpu_sched == CC_VSCHED_RANDOM)
        return (int)cand[rng_below(&vm->sched.rng, n)];
    return (int)cand[0];
}

static void switch_to(struct cc_vm *vm, unsigned i)
{
    if (i != vm->cur) {
        vm->sched.switches++;
        smp_select(vm, i);
    }
    vm->sched.used = 0;
}

void smp_after_exit(struct cc_vm *vm)
{
    struct vm_vcpu *c = &vm->vcpu[vm->cur];
    c->exits++;
    c->fresh = false;
    c->nmi_pending = false;     /* KVM injected it at that entry */
    vm->sched.used++;
    bool must = vm->sched.yield || !runnable(vm, vm->cur);
    vm->sched.yield = false;
    bool may;
    if (vm->cfg.vcpu_sched == CC_VSCHED_RANDOM)
        may = rng_below(&vm->sched.rng, vm->sched.quantum) == 0;
    else
        may = vm->sched.used >= vm->sched.quantum;
    if (!must && !may)
        return;
    int next = pick(vm, true);
    if (next < 0) {
        vm->halted = true;      /* every vCPU idle: the loop continues the halt */
        return;
    }
    switch_to(vm, (unsigned)next);
}

bool smp_continue_halt(struct cc_vm *vm, const struct cc_run_limits *lim,
                       struct cc_run_result *res)
{
    for (unsigned guard = 0; guard < 1000000; guard++) {
        int next = pick(vm, false);
        if (next >= 0) {
            switch_to(vm, (unsigned)next);
            vm->halted = false;
            return true;
        }
        uint64_t dl = smp_next_deadline(vm);
        uint64_t limit = lim->until_vtime_ns;
        if (limit && dl > limit) {
            if (vm->vtime < limit)
                vm->vtime = limit;
            smp_timers_catch_up(vm);
            res->stop = CC_STOP_VTIME;
            return false;
        }
        if (dl == UINT64_MAX) {
            bool all_stopped = true;
            for (unsigned i = 0; i < vm->ncpu; i++)
                if (vm->vcpu[i].state == VCPU_HALTED || vm->vcpu[i].state == VCPU_RUNNING)
                    all_stopped = false;
            res->stop = all_stopped ? CC_STOP_HALTED : CC_STOP_IDLE;
            return false;
        }
        if (dl > vm->vtime)
            vm->vtime = dl;
        smp_timers_catch_up(vm);
    }
    res->stop = CC_STOP_IDLE;
    return false;
}

/* The yield port (CC_PORT_YIELD): 0 spins, N delays N ns. */
void smp_yield(struct cc_vm *vm, uint32_t val)
{
    if (!vm->smp)
        return;
    if (val) {
        uint64_t ns = val < MAX_DELAY_NS ? val : MAX_DELAY_NS;
        vm->vcpu[vm->cur].sleep_until = vm->vtime + ns;
    }
    vm->sched.yield = true;
}

/* ---- entry ---- */

int smp_prepare_entry(struct cc_vm *vm, struct cc_err *err)
{
    struct kvm_run *run = vm->run;
    struct vm_vcpu *c = &vm->vcpu[vm->cur];
    run->request_interrupt_window = 0;
    int vec = lapic_pending(&c->lapic);
    bool ext = vec < 0 && extint_pending(vm, vm->cur);
    if (vec >= 0 || ext) {
        if (run->ready_for_interrupt_injection && !c->fresh) {
            uint8_t v = vec >= 0 ? lapic_ack(&c->lapic) : pic_ack(&vm->pic);
            struct kvm_interrupt irq = {.irq = v};
            if (ioctl(vm->vcpu_fd, KVM_INTERRUPT, &irq) < 0)
                return cc_err_set(err, errno, "KVM_INTERRUPT (vCPU %u): %s", vm->cur,
                                  strerror(errno));
            struct cc_trace_rec tr = {
                .seq = vm->exits, .vtime = vm->vtime, .addr = v, .kind = CC_TR_INJECT,
                .cpu = vm->cur,
            };
            vm_trace(vm, &tr);
            if (deliverable(vm, vm->cur))
                run->request_interrupt_window = 1;
        } else {
            run->request_interrupt_window = 1;
        }
    }
    return cpu_set_tsc(vm, err);
}

/* ---- snapshots ---- */

int smp_save(struct cc_vm *vm, struct cc_buf *b, struct cc_err *err)
{
    (void)err;
    buf_put_u8(b, SMP_SECTION_VERSION);
    buf_put_u32(b, vm->ncpu);
    buf_put_u32(b, vm->cur);
    buf_put_u64(b, vm->sched.seed);
    rng_save(&vm->sched.rng, b);
    buf_put_u32(b, vm->sched.used);
    buf_put_bool(b, vm->sched.yield);
    buf_put_bool(b, vm->sched.pending);
    buf_put_u64(b, vm->sched.switches);
    for (unsigned i = 0; i < vm->ncpu; i++) {
        const struct vm_vcpu *c = &vm->vcpu[i];
        buf_put_u8(b, (uint8_t)c->state);
        buf_put_u64(b, c->sleep_until);
        buf_put_bool(b, c->nmi_pending);
        buf_put_bool(b, c->fresh);
        buf_put_u64(b, c->exits);
        lapic_save(&c->lapic, b);
    }
    ioapic_save(&vm->ioapic, b);
    return 0;
}

int smp_load(struct cc_vm *vm, struct cc_rd *r, struct cc_err *err)
{
    int ver = rd_version(r, SMP_SECTION_VERSION, "SMP state", err);
    if (ver < 0)
        return ver;
    uint32_t n = rd_u32(r), cur = rd_u32(r);
    if (!rd_ok(r))
        return cc_err_set(err, EINVAL, "SMP state: truncated");
    if (n != vm->ncpu)
        return cc_err_set(err, EINVAL, "the snapshot is of a VM with %u vCPUs, this VM has %u",
                          n, vm->ncpu);
    if (cur >= n)
        return cc_err_set(err, EINVAL, "SMP state: current vCPU %u of %u", cur, n);
    struct vm_sched s = vm->sched;
    s.seed = rd_u64(r);
    int rc = rng_load(&s.rng, r, err);
    if (rc < 0)
        return rc;
    s.used = rd_u32(r);
    s.yield = rd_bool(r);
    s.pending = rd_bool(r);
    s.switches = rd_u64(r);
    struct vm_vcpu v[CC_VM_MAX_VCPUS];
    for (unsigned i = 0; i < n; i++) {
        v[i] = vm->vcpu[i];
        uint8_t st = rd_u8(r);
        if (st > VCPU_STOPPED)
            return cc_err_set(err, EINVAL, "SMP state: vCPU %u has state %u", i, st);
        v[i].state = (enum vcpu_state)st;
        v[i].sleep_until = rd_u64(r);
        v[i].nmi_pending = rd_bool(r);
        v[i].fresh = rd_bool(r);
        v[i].exits = rd_u64(r);
        rc = lapic_load(&v[i].lapic, r, err);
        if (rc < 0)
            return cc_err_prefix(err, "vCPU %u", i);
    }
    struct cc_ioapic io = vm->ioapic;
    rc = ioapic_load(&io, r, err);
    if (rc < 0)
        return rc;
    if (!rd_ok(r))
        return cc_err_set(err, EINVAL, "SMP state: truncated");
    vm->sched = s;
    for (unsigned i = 0; i < n; i++)
        vm->vcpu[i] = v[i];
    vm->ioapic = io;
    smp_select(vm, cur);
    return 0;
}
