/* A VM's side of the determinism log (chaoscontrol/dlog.h): each exit and
 * injection goes to the exit trace and, when the VM has a writer, to the
 * dlog, with a register dump every regs_every exits. Nothing here changes
 * guest-visible state: the register dump only reads (KVM_GET_REGS,
 * KVM_GET_SREGS), and the trace hash is the same with and without it. */
#include <string.h>
#include <sys/ioctl.h>

#include "chaoscontrol/dlog.h"
#include "vm_internal.h"

static void put_regs(struct cc_vm *vm)
{
    struct kvm_regs g;
    struct kvm_sregs s;
    if (vm->vcpu_fd < 0 || ioctl(vm->vcpu_fd, KVM_GET_REGS, &g) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
        return;
    struct cc_dlog_rec r = {
        .type = CC_DLOG_REGS, .vm = vm->dlog_vm, .exit = vm->exits, .vtime = vm->vtime,
        .nregs = 32,
        .regs = {g.rax, g.rbx, g.rcx, g.rdx, g.rsi, g.rdi, g.rsp, g.rbp,
                 g.r8, g.r9, g.r10, g.r11, g.r12, g.r13, g.r14, g.r15,
                 g.rip, g.rflags, s.cr0, s.cr2, s.cr3, s.cr4, s.cr8, s.efer,
                 s.cs.selector, s.ss.selector, s.ds.selector, s.es.selector,
                 s.fs.selector, s.gs.selector, s.fs.base, s.gs.base},
    };
    cc_dlog_add(vm->dlog, &r);
}

void vm_trace(struct cc_vm *vm, const struct cc_trace_rec *tr)
{
    trace_add(&vm->trace, tr);
    if (!vm->dlog)
        return;
    struct cc_dlog_rec r = {.vm = vm->dlog_vm, .exit = tr->seq, .vtime = tr->vtime};
    if (tr->kind == CC_TR_INJECT) {
        r.type = CC_DLOG_INJECT;
        r.addr = tr->addr | (uint64_t)tr->cpu << 8;     /* dlog.h: vector | vCPU << 8 */
        cc_dlog_add(vm->dlog, &r);
        return;
    }
    r.type = CC_DLOG_EXIT;
    r.kind = tr->kind | tr->cpu << 8;                   /* dlog.h: kind | vCPU << 8 */
    r.rip = tr->rip;
    r.addr = tr->addr;
    r.size = tr->size;
    r.data = tr->data;
    cc_dlog_add(vm->dlog, &r);
    uint64_t every = cc_dlog_regs_every(vm->dlog);
    if (every && tr->seq % every == 0)
        put_regs(vm);
}

void vm_dlog_mark(struct cc_vm *vm, uint32_t what, uint64_t ram_hash)
{
    if (!vm->dlog)
        return;
    struct cc_dlog_rec r = {
        .type = CC_DLOG_MARK, .vm = vm->dlog_vm, .exit = vm->exits, .vtime = vm->vtime,
        .kind = what, .data = ram_hash, .addr = trace_digest(&vm->trace),
    };
    cc_dlog_add(vm->dlog, &r);
}

void cc_vm_set_dlog(struct cc_vm *vm, struct cc_dlog *d, unsigned index)
{
    vm->dlog = d;
    vm->dlog_vm = index;
}

void cc_vm_dlog_end(struct cc_vm *vm)
{
    if (vm->dlog)
        vm_dlog_mark(vm, CC_DLOG_MARK_END, cc_vm_ram_hash(vm));
}

void cc_vm_dlog_sdk(struct cc_vm *vm, uint32_t kind, int64_t value, const char *name)
{
    if (!vm->dlog)
        return;
    struct cc_dlog_rec r = {
        .type = CC_DLOG_SDK, .vm = vm->dlog_vm, .exit = vm->exits, .vtime = vm->vtime,
        .kind = kind, .value = value,
    };
    snprintf(r.text, sizeof(r.text), "%s", name ? name : "");
    cc_dlog_add(vm->dlog, &r);
}
