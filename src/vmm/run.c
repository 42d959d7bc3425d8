/* The run loop and the exit handlers.
 *
 * One thread runs one vCPU. Each KVM_RUN returns at an exit; the loop then
 *  1. advances the virtual clock by the fixed cost of that exit kind,
 *  2. handles the exit (port I/O and MMIO through the I/O buses, HLT,
 *     hypercalls, ...) and records it in the trace,
 *  3. lets the timers catch up with the clock (PIT edges into the PIC),
 *  4. before re-entering, injects a pending PIC interrupt if the vCPU can
 *     take one now, or asks KVM for an interrupt-window exit, and writes the
 *     guest TSC from virtual time.
 * Nothing here reads host time (the watchdog thread only reports,
 * DESIGN.md section 3.4). A signal that interrupts KVM_RUN (EINTR) is not
 * an exit: it changes no state and is not traced. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vm_internal.h"

/* ---- port I/O and MMIO ---- */

/* One port access of size 1, 2 or 4 bytes through the port bus. Returns
 * the value for reads (all ones where nothing answers). */
static uint32_t pio_access(struct cc_vm *vm, uint16_t port, unsigned size, bool write,
                           uint32_t val)
{
    struct cc_io_range *r = iobus_find(&vm->pio, port, size);
    if (!r) {
        vm->unknown_io++;
        return write ? 0 : 0xffffffffu;
    }
    if (write) {
        if (r->ops->write)
            r->ops->write(r->opaque, port - r->base, &val, size);
        return 0;
    }
    uint32_t v = 0xffffffffu;
    if (r->ops->read)
        r->ops->read(r->opaque, port - r->base, &v, size);
    return v;
}

uint64_t cc_vm_io(struct cc_vm *vm, bool mmio, uint64_t addr, unsigned size, bool write,
                  uint64_t value)
{
    if (!mmio) {
        if ((size != 1 && size != 2 && size != 4) || addr > 0xffff)
            return write ? 0 : UINT64_MAX;
        uint32_t v = pio_access(vm, (uint16_t)addr, size, write, (uint32_t)value);
        return write ? 0 : size == 4 ? v : v & ((1u << (8 * size)) - 1);
    }
    if (size == 0 || size > 8)
        return write ? 0 : UINT64_MAX;
    struct cc_io_range *r = iobus_find(&vm->mmio, addr, size);
    uint64_t v = write ? value : UINT64_MAX;
    if (!r) {
        vm->unknown_io++;
    } else if (write) {
        if (r->ops->write)
            r->ops->write(r->opaque, addr - r->base, &v, size);
    } else if (r->ops->read) {
        r->ops->read(r->opaque, addr - r->base, &v, size);
    }
    return write ? 0 : size == 8 ? v : v & ((1ull << (8 * size)) - 1);
}

static void handle_io(struct cc_vm *vm, struct cc_trace_rec *tr)
{
    struct kvm_run *run = vm->run;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    unsigned size = run->io.size;
    bool write = run->io.direction == KVM_EXIT_IO_OUT;
    uint64_t first = 0;

    tr->kind = write ? CC_TR_PIO_OUT : CC_TR_PIO_IN;
    tr->addr = run->io.port;
    tr->size = size * run->io.count;
    if ((size != 1 && size != 2 && size != 4) ||
        run->io.data_offset + (uint64_t)size * run->io.count > vm->run_size) {
        vm->unknown_io++;
        return;
    }
    for (uint32_t i = 0; i < run->io.count; i++, data += size) {
        uint32_t v = 0;
        if (write) {
            memcpy(&v, data, size);
            pio_access(vm, run->io.port, size, true, v);
        } else {
            v = pio_access(vm, run->io.port, size, false, 0);
            memcpy(data, &v, size);
        }
        if (i == 0)
            first = v & (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
    }
    tr->data = first;
}

static void handle_mmio(struct cc_vm *vm, struct cc_trace_rec *tr)
{
    struct kvm_run *run = vm->run;
    uint64_t addr = run->mmio.phys_addr;
    unsigned len = run->mmio.len;
    bool write = run->mmio.is_write;

    tr->kind = write ? CC_TR_MMIO_WRITE : CC_TR_MMIO_READ;
    tr->addr = addr;
    tr->size = len;
    if (len == 0 || len > 8) {
        vm->unknown_io++;
        return;
    }
    struct cc_io_range *r = iobus_find(&vm->mmio, addr, len);
    if (write) {
        uint64_t v = 0;
        memcpy(&v, run->mmio.data, len);
        tr->data = v;
        if (r && r->ops->write)
            r->ops->write(r->opaque, addr - r->base, run->mmio.data, len);
        else if (!r)
            vm->unknown_io++;
    } else {
        memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
        if (r && r->ops->read)
            r->ops->read(r->opaque, addr - r->base, run->mmio.data, len);
        else if (!r)
            vm->unknown_io++;
        uint64_t v = 0;
        memcpy(&v, run->mmio.data, len);
        tr->data = v;
    }
}

static void handle_hypercall(struct cc_vm *vm, struct cc_trace_rec *tr)
{
    struct kvm_run *run = vm->run;
    tr->kind = CC_TR_HYPERCALL;
    tr->addr = run->hypercall.args[0];
    tr->data = run->hypercall.args[2];
    uint64_t args[6];
    for (unsigned i = 0; i < 6; i++)
        args[i] = run->hypercall.args[i];
    for (unsigned i = 0; i < vm->n_hc; i++) {
        if (vm->hc[i].nr == run->hypercall.nr) {
            run->hypercall.ret = vm->hc[i].fn(vm->hc[i].opaque, run->hypercall.nr, args);
            return;
        }
    }
    run->hypercall.ret = (uint64_t)-1000;     /* -KVM_ENOSYS */
    vm->unknown_io++;
}

/* ---- timers, interrupts and halting ---- */

void vm_timers_catch_up(struct cc_vm *vm)
{
    if (vm->smp)
        smp_timers_catch_up(vm);
    else
        pit_advance(&vm->pit, vm->vtime);
}

uint64_t vm_next_deadline(const struct cc_vm *vm)
{
    return vm->smp ? smp_next_deadline(vm) : pit_next_deadline(&vm->pit);
}

/* Owed PIT ticks (cc_vm_clock_jump): raise the next one when the previous
 * one has been taken and handled (IRQ0 neither requested nor in service)
 * and the vCPU can take it at once. Waiting for an exit with interrupts on
 * (rather than asking for an interrupt-window exit) keeps the burst off the
 * window mechanism, whose exit point some hosts (the kvm_pvm software
 * hypervisor) do not report at a deterministic instruction. */
static void deliver_missed_tick(struct cc_vm *vm)
{
    const struct cc_pic_chip *m = &vm->pic.chip[0];
    if (!vm->missed_ticks || (m->irr & 1) || (m->isr & 1) ||
        !vm->run->ready_for_interrupt_injection)
        return;
    pic_set_irq(&vm->pic, 0, 1);
    pic_set_irq(&vm->pic, 0, 0);
    vm->missed_ticks--;
}

bool vm_wake_pending(struct cc_vm *vm)
{
    if (vm->smp)
        return smp_wake_pending(vm);
    deliver_missed_tick(vm);
    return pic_intr(&vm->pic);
}

/* A vCPU halted with interrupts on, at virtual time vm->vtime: it wakes at
 * once on a deliverable interrupt; else it sleeps until its next timer
 * deadline (the clock jumps there), unless that lies beyond the run's
 * limit, where the clock stops instead (lockstep, sim.h), or no timer is
 * armed at all. */
enum halt_outcome { HALT_WAKE_IRQ, HALT_WAKE_TIMER, HALT_AT_LIMIT, HALT_IDLE };

static enum halt_outcome halt_advance(struct cc_vm *vm, uint64_t limit)
{
    if (vm_wake_pending(vm))
        return HALT_WAKE_IRQ;
    uint64_t dl = vm_next_deadline(vm);
    if (limit && dl > limit) {
        if (vm->vtime < limit)
            vm->vtime = limit;
        return HALT_AT_LIMIT;
    }
    if (dl == UINT64_MAX)
        return HALT_IDLE;
    if (dl > vm->vtime)
        vm->vtime = dl;     /* fast-forward to the next timer */
    return HALT_WAKE_TIMER;
}

static void handle_hlt(struct cc_vm *vm, const struct cc_run_limits *lim)
{
    if (vm->smp) {
        smp_handle_hlt(vm);     /* the scheduler decides (smp_after_exit) */
        return;
    }
    if (!vm->run->if_flag) {
        if (!pic_intr(&vm->pic))
            cc_vm_stop(vm, CC_STOP_HALTED);     /* nothing can wake it */
        return;
    }
    switch (halt_advance(vm, lim->until_vtime_ns)) {
    case HALT_AT_LIMIT:
        vm->halted = true;      /* the next run continues the halt */
        break;
    case HALT_IDLE:
        cc_vm_stop(vm, CC_STOP_IDLE);
        break;
    default:
        break;                  /* timers catch up after the exit */
    }
}

static uint64_t current_rip(struct cc_vm *vm)
{
    if (vm->caps.sync_regs)
        return vm->run->s.regs.regs.rip;
    struct kvm_regs regs;
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0)
        return 0;
    return regs.rip;
}

/* An interrupt-window exit right after an STI, i.e. inside the one-instruction
 * interrupt shadow where hardware keeps the window closed. QEMU's emulated
 * SVM (our KVM test host) sometimes reports the window there, depending on
 * host timing (1 boot in 5 at worst), and re-entering with the window
 * requested exits again at the same place; injecting there delivers the
 * interrupt one instruction early and the run diverges. The test is a pure
 * function of the RIP and guest memory, so it gives the same answer in
 * every run. */
static bool sti_shadow_suspect(struct cc_vm *vm)
{
    uint64_t rip = current_rip(vm);
    struct kvm_translation tr = {.linear_address = rip - 1};
    if (ioctl(vm->vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
        return false;
    const uint8_t *b = cc_vm_gpa(vm, tr.physical_address, 1);
    return b && *b == 0xfb;
}

/* KVM_RUN, with the watchdog told; retried on host signals (not exits). */
static int kvm_run_once(struct cc_vm *vm, struct cc_err *err)
{
    int r, e;
    vm->clock_page[0] = vm->vtime;     /* the guest's exit-free clock reads */
    do {
        atomic_store(&vm->wd_in_run, true);
        r = ioctl(vm->vcpu_fd, KVM_RUN, 0);
        e = errno;
        atomic_store(&vm->wd_in_run, false);
    } while (r < 0 && (e == EINTR || e == EAGAIN));
    if (r < 0)
        return cc_err_set(err, e, "KVM_RUN: %s", strerror(e));
    return 0;
}

/* Run the one instruction in the shadow with KVM's single-step (no window
 * requested, nothing injected), so that the window exit is taken where
 * hardware takes it: after that instruction. Returns with vm->run holding
 * the exit to process: the step's debug exit is turned into the
 * interrupt-window exit it stands for; any other exit (the instruction was
 * HLT, port I/O, ...) is the one the guest makes in every run, window or
 * not. Not visible to the guest (except through PUSHF as the stepped
 * instruction, which would see TF: never seen after an STI). */
static int step_out_of_sti_shadow(struct cc_vm *vm, struct cc_err *err)
{
    struct kvm_guest_debug dbg = {.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP};
    if (ioctl(vm->vcpu_fd, KVM_SET_GUEST_DEBUG, &dbg) < 0)
        return cc_err_set(err, errno, "KVM_SET_GUEST_DEBUG (single-step): %s", strerror(errno));
    vm->run->request_interrupt_window = 0;
    struct cc_err run_err = {0};
    int rc = kvm_run_once(vm, &run_err);
    struct kvm_guest_debug off = {0};
    if (ioctl(vm->vcpu_fd, KVM_SET_GUEST_DEBUG, &off) < 0)
        return cc_err_set(err, errno, "KVM_SET_GUEST_DEBUG (off): %s", strerror(errno));
    dbg_mark_dirty(vm);     /* a debug hook's traps go back in before the next entry */
    if (rc < 0)
        return cc_err_set(err, -rc, "%s (single-step)", run_err.msg);
    if (vm->run->exit_reason == KVM_EXIT_DEBUG)
        vm->run->exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN;
    return 0;
}

/* Before entry: inject if the vCPU can take an interrupt now, otherwise ask
 * for an exit as soon as it can. */
static int prepare_entry(struct cc_vm *vm, struct cc_err *err)
{
    if (vm->smp)
        return smp_prepare_entry(vm, err);
    struct kvm_run *run = vm->run;
    run->request_interrupt_window = 0;
    deliver_missed_tick(vm);
    if (pic_intr(&vm->pic)) {
        if (run->ready_for_interrupt_injection) {
            uint8_t vec = pic_ack(&vm->pic);
            struct kvm_interrupt irq = {.irq = vec};
            if (ioctl(vm->vcpu_fd, KVM_INTERRUPT, &irq) < 0)
                return cc_err_set(err, errno, "KVM_INTERRUPT: %s", strerror(errno));
            struct cc_trace_rec tr = {
                .seq = vm->exits, .vtime = vm->vtime, .rip = 0, .addr = vec,
                .kind = CC_TR_INJECT,
            };
            vm_trace(vm, &tr);
            /* Another request may already be waiting behind this one. */
            if (pic_intr(&vm->pic))
                run->request_interrupt_window = 1;
        } else {
            run->request_interrupt_window = 1;
        }
    }
    return cpu_set_tsc(vm, err);
}

/* ---- the loop ---- */

/* Handle the exit in vm->run: time, handler, trace. Returns 0, or -errno
 * for a failed entry or an internal KVM error (res->stop = CC_STOP_ERROR). */
static int handle_exit(struct cc_vm *vm, const struct cc_run_limits *lim,
                       struct cc_run_result *res, struct cc_err *err)
{
    struct kvm_run *run = vm->run;
    struct cc_trace_rec tr = {.seq = vm->exits, .rip = current_rip(vm), .cpu = vm->cur};
    const struct cc_exit_costs *c = &vm->cfg.costs;
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        vm->vtime += c->pio;
        tr.vtime = vm->vtime;
        handle_io(vm, &tr);
        break;
    case KVM_EXIT_MMIO:
        vm->vtime += c->mmio;
        tr.vtime = vm->vtime;
        handle_mmio(vm, &tr);
        break;
    case KVM_EXIT_IRQ_WINDOW_OPEN:
        vm->vtime += c->irq_window;
        tr.vtime = vm->vtime;
        tr.kind = CC_TR_IRQ_WINDOW;
        break;
    case KVM_EXIT_HLT:
        vm->vtime += c->hlt;
        vm_timers_catch_up(vm);
        tr.kind = CC_TR_HLT;
        /* Recorded before any fast-forward, so the trace does not depend
         * on where a run's limit falls (halted at the limit or not). */
        tr.vtime = vm->vtime;
        handle_hlt(vm, lim);
        break;
    case KVM_EXIT_HYPERCALL:
        vm->vtime += c->other;
        tr.vtime = vm->vtime;
        handle_hypercall(vm, &tr);
        break;
    case KVM_EXIT_SHUTDOWN:
        vm->vtime += c->other;
        tr.vtime = vm->vtime;
        tr.kind = CC_TR_SHUTDOWN;
        cc_vm_stop(vm, CC_STOP_TRIPLE_FAULT);
        break;
    case KVM_EXIT_FAIL_ENTRY:
        vm_trace(vm, &tr);
        res->stop = CC_STOP_ERROR;
        return cc_err_set(err, EIO, "KVM entry failed: hardware reason 0x%llx at rip 0x%llx",
                          (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
                          (unsigned long long)tr.rip);
    case KVM_EXIT_INTERNAL_ERROR:
        vm_trace(vm, &tr);
        res->stop = CC_STOP_ERROR;
        return cc_err_set(err, EIO, "KVM internal error: suberror %u at rip 0x%llx",
                          run->internal.suberror, (unsigned long long)tr.rip);
    default:
        vm->vtime += c->other;
        tr.vtime = vm->vtime;
        tr.kind = CC_TR_OTHER;
        tr.addr = run->exit_reason;
        vm->unknown_io++;
        break;
    }
    vm_trace(vm, &tr);
    vm_timers_catch_up(vm);
    return 0;
}

/* Still in the HLT of an earlier run (vm->halted): wake, or stop the run.
 * Returns true when the run goes on. */
static bool continue_halt(struct cc_vm *vm, const struct cc_run_limits *lim,
                          struct cc_run_result *res)
{
    if (vm->smp)
        return smp_continue_halt(vm, lim, res);
    switch (halt_advance(vm, lim->until_vtime_ns)) {
    case HALT_AT_LIMIT:
        res->stop = CC_STOP_VTIME;
        return false;
    case HALT_IDLE:
        res->stop = CC_STOP_IDLE;
        return false;
    case HALT_WAKE_TIMER:
        vm_timers_catch_up(vm);
        break;
    case HALT_WAKE_IRQ:
        break;
    }
    vm->halted = false;
    return true;
}

static void serial_watch(struct cc_vm *vm, const char *pattern)
{
    if (pattern && *pattern) {
        vm->serial.pattern = pattern;
        vm->serial.pattern_len = strlen(pattern);
        vm->serial.search_from = vm->serial.len;
        vm->serial.matched = false;
    } else {
        vm->serial.pattern = NULL;
    }
}

int cc_vm_run(struct cc_vm *vm, const struct cc_run_limits *lim,
              struct cc_run_result *res, struct cc_err *err)
{
    struct cc_run_limits none = {0};
    if (!lim)
        lim = &none;
    memset(res, 0, sizeof(*res));
    if (vm->vcpu_fd < 0)
        return cc_err_set(err, ENODEV, "this VM was made without KVM (no_kvm): it cannot run");
    vm->pending_stop = CC_STOP_NONE;
    vm->pending_stop_code = 0;
    serial_watch(vm, lim->until_serial);

    int rc = 0;
    for (;;) {
        if (lim->max_exits && res->exits >= lim->max_exits) {
            res->stop = CC_STOP_MAX_EXITS;
            break;
        }
        /* SMP: the scheduler's turn after the last exit, here rather than
         * right after it so a debug hook or a stop sees the vCPU that made
         * the exit (smp.c). */
        if (vm->sched.pending) {
            vm->sched.pending = false;
            smp_after_exit(vm);
        }
        if (vm->halted && !continue_halt(vm, lim, res))
            break;
        if (lim->until_vtime_ns && vm->vtime >= lim->until_vtime_ns) {
            res->stop = CC_STOP_VTIME;
            break;
        }
        rc = prepare_entry(vm, err);
        if (rc == 0)
            rc = dbg_before_entry(vm, err);
        if (rc == 0)
            rc = kvm_run_once(vm, err);
        /* Debug traps (debug.c) are not exits: back in, nothing prepared. */
        while (rc == 0 && vm->dbg.fn &&
               (vm->run->exit_reason == KVM_EXIT_DEBUG || dbg_is_hlt_bp(vm))) {
            rc = dbg_trap(vm, err);
            if (rc == 1) {
                dbg_remove_sw(vm);
                res->stop = CC_STOP_DEBUG;
                goto out;
            }
            if (rc == 0)
                rc = dbg_before_entry(vm, err);
            if (rc == 0)
                rc = kvm_run_once(vm, err);
        }
        if (vm->dbg.sw_in)
            dbg_remove_sw(vm);
        if (rc == 0 && vm->run->exit_reason == KVM_EXIT_IRQ_WINDOW_OPEN &&
            sti_shadow_suspect(vm)) {
            /* Not an exit the guest can tell from staying in: no time, no
             * trace; step past the shadow (see sti_shadow_suspect). */
            vm->sti_deferrals++;
            rc = step_out_of_sti_shadow(vm, err);
        }
        if (rc < 0)
            break;
        vm->exits++;
        res->exits++;
        atomic_store(&vm->wd_exits, vm->exits);
        rc = handle_exit(vm, lim, res, err);
        if (rc < 0)
            break;
        vm->sched.pending = vm->smp;
        if (vm->dbg.fn && dbg_after_exit(vm)) {
            res->stop = CC_STOP_DEBUG;
            break;
        }
        if (vm->pending_stop != CC_STOP_NONE) {
            res->stop = vm->pending_stop;
            res->stop_code = vm->pending_stop_code;
            break;
        }
        if (vm->serial.pattern && vm->serial.matched) {
            res->stop = CC_STOP_SERIAL_MATCH;
            break;
        }
    }
out:
    vm->serial.pattern = NULL;
    if (vm->trace.file)
        fflush(vm->trace.file);
    return rc;
}

int cc_vm_run_until(struct cc_vm *vm, const char *serial_pattern,
                    struct cc_run_result *res, struct cc_err *err)
{
    struct cc_run_limits lim = {.until_serial = serial_pattern};
    return cc_vm_run(vm, &lim, res, err);
}

int cc_vm_run_bounded(struct cc_vm *vm, uint64_t max_exits,
                      struct cc_run_result *res, struct cc_err *err)
{
    struct cc_run_limits lim = {.max_exits = max_exits};
    return cc_vm_run(vm, &lim, res, err);
}
