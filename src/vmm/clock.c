/* Clock faults and interrupt injection for the fault engine (sim.h):
 * clock jumps with owed PIT ticks, RTC shifts, IRQ pulses and NMIs, and
 * what a simulation needs to know about a halted vCPU (vm.h). */
#include <errno.h>
#include <string.h>

#include "vm_internal.h"

/* Beyond this many owed ticks, the rest of a jump is coalesced. */
#define MAX_MISSED_TICKS 1000000u

uint64_t cc_vm_clock_jump(struct cc_vm *vm, uint64_t delta_ns)
{
    uint64_t target = vm->vtime + delta_ns;
    if (target < vm->vtime)
        target = UINT64_MAX - 1;
    bool had_irq0 = vm->pic.chip[0].irr & 1;
    uint64_t edges = 0;
    for (;;) {
        uint64_t dl = vm_next_deadline(vm);
        if (dl > target || edges >= MAX_MISSED_TICKS)
            break;
        pit_advance(&vm->pit, dl);
        edges++;
    }
    vm->vtime = target;
    vm_timers_catch_up(vm);        /* anything left over is coalesced */
    /* One edge is latched in the PIC's IRR; the others are owed. */
    uint64_t owed = edges ? edges - (had_irq0 ? 0 : 1) : 0;
    vm->missed_ticks += owed;
    if (vm->missed_ticks > MAX_MISSED_TICKS)
        vm->missed_ticks = MAX_MISSED_TICKS;
    return owed;
}

uint64_t cc_vm_missed_ticks(const struct cc_vm *vm)
{
    return vm->missed_ticks;
}

bool cc_vm_halted(const struct cc_vm *vm)
{
    return vm->halted;
}

uint64_t cc_vm_wake_time(struct cc_vm *vm)
{
    if (!vm->halted || vm_wake_pending(vm))
        return vm->vtime;
    uint64_t dl = vm_next_deadline(vm);
    return dl > vm->vtime ? dl : vm->vtime;
}

void cc_vm_rtc_shift(struct cc_vm *vm, int64_t delta_s)
{
    cmos_shift(&vm->cmos, delta_s);
}

int cc_vm_irq_pulse(struct cc_vm *vm, unsigned line, struct cc_err *err)
{
    if (line > 15 || line == 2)
        return cc_err_set(err, EINVAL, "IRQ line %u is not an ISA line (0-15, but not the "
                          "cascade line 2; use 9)", line);
    struct cc_irq_sink sink = vm_irq_sink(vm);   /* the PIC, and the I/O APIC (SMP) */
    irq_set(&sink, line, 1);
    irq_set(&sink, line, 0);
    return 0;
}

int cc_vm_nmi(struct cc_vm *vm, struct cc_err *err)
{
    int rc = smp_nmi(vm, 0, err);     /* to the BSP (the only vCPU of a one-vCPU VM) */
    if (rc == 0)
        vm->halted = false;         /* KVM delivers it at the next entry */
    return rc;
}
