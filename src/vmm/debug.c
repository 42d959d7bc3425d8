/* Guest debugging: breakpoints, watchpoints and single steps for a debug
 * hook (vm.h, "guest debugging"; the time-travel debugger in
 * src/replay/debug.c drives it).
 *
 * A trap is KVM_EXIT_DEBUG. run.c hands it here and re-enters without
 * preparing an entry (no injection, no TSC write, no clock): the guest
 * goes on as if nothing happened. Execution breakpoints use the debug
 * registers (a fault before the instruction: re-entering at the same
 * instruction sets RFLAGS.RF so it runs once) or INT3 in memory (in only
 * while the vCPU runs, a HLT in kernel text (sw_byte); the trap leaves
 * RIP on it, and re-entering takes the byte out for one single step). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vm_internal.h"

#define DR6_BS (1u << 14)
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_RF (1ull << 16)

void cc_vm_debug_attach(struct cc_vm *vm, cc_debug_fn fn, void *opaque)
{
    dbg_remove_sw(vm);
    memset(&vm->dbg, 0, sizeof(vm->dbg));
    vm->dbg.fn = fn;
    vm->dbg.opaque = opaque;
    vm->dbg.kvm_dirty = true;
    if (!fn && vm->vcpu_fd >= 0) {
        struct kvm_guest_debug off = {0};
        ioctl(vm->vcpu_fd, KVM_SET_GUEST_DEBUG, &off);
        vm->dbg.kvm_dirty = false;
    }
}

void dbg_mark_dirty(struct cc_vm *vm)
{
    vm->dbg.kvm_dirty = true;
}

int cc_vm_debug_set(struct cc_vm *vm, const struct cc_debug_cfg *cfg, struct cc_err *err)
{
    if (cfg->n > CC_DEBUG_MAX_BP)
        return cc_err_set(err, EINVAL, "%u breakpoints: at most %d", cfg->n, CC_DEBUG_MAX_BP);
    unsigned hw = 0;
    for (unsigned i = 0; i < cfg->n; i++) {
        const struct cc_bp *b = &cfg->bp[i];
        if (b->type > CC_WP_ACCESS)
            return cc_err_set(err, EINVAL, "breakpoint type %u is not known", b->type);
        if (b->type == CC_WP_WRITE || b->type == CC_WP_ACCESS) {
            if ((b->len != 1 && b->len != 2 && b->len != 4 && b->len != 8) ||
                (b->addr & (b->len - 1)))
                return cc_err_set(err, EINVAL, "a watchpoint covers 1, 2, 4 or 8 aligned bytes "
                                  "(asked: %u at 0x%llx)", b->len, (unsigned long long)b->addr);
        }
        if (b->type != CC_BP_SW && ++hw > CC_DEBUG_MAX_HW)
            return cc_err_set(err, EINVAL, "more than %d hardware breakpoints and watchpoints "
                              "(the x86 debug registers)", CC_DEBUG_MAX_HW);
    }
    dbg_remove_sw(vm);
    vm->dbg.cfg = *cfg;
    vm->dbg.kvm_dirty = true;
    return 0;
}

void cc_vm_debug_at_exit(struct cc_vm *vm, uint64_t exit)
{
    vm->dbg.at_exit = exit;
}

int cc_vm_get_fpu(struct cc_vm *vm, struct kvm_fpu *fpu, struct cc_err *err)
{
    if (ioctl(vm->vcpu_fd, KVM_GET_FPU, fpu) < 0)
        return cc_err_set(err, errno, "KVM_GET_FPU: %s", strerror(errno));
    return 0;
}

bool cc_vm_translate(struct cc_vm *vm, uint64_t va, uint64_t *pa)
{
    if (vm->vcpu_fd < 0)
        return false;
    struct kvm_translation tr = {.linear_address = va};
    if (ioctl(vm->vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
        return false;
    *pa = tr.physical_address;
    return true;
}

size_t cc_vm_read_va(struct cc_vm *vm, uint64_t va, void *out, size_t len)
{
    uint8_t *o = out;
    size_t done = 0;
    while (done < len) {
        uint64_t pa;
        if (!cc_vm_translate(vm, va + done, &pa))
            break;
        size_t n = 4096 - ((va + done) & 0xfff);
        if (n > len - done)
            n = len - done;
        const uint8_t *p = cc_vm_gpa(vm, pa, n);
        if (!p)
            break;
        memcpy(o + done, p, n);
        done += n;
    }
    return done;
}

/* The byte a software breakpoint puts in memory: HLT in kernel code
 * (upper-half addresses), INT3 elsewhere. Both stop the vCPU before the
 * instruction, but only HLT reaches us in every KVM we run on: QEMU's
 * emulated SVM (the test host) does not give INT3 to KVM's #BP intercept,
 * and in user mode HLT is a #GP the guest would see. A HLT of ours is told
 * from the guest's own by its address and the byte (dbg_is_hlt_bp). */
static uint8_t sw_byte(uint64_t addr)
{
    return (addr >> 47) == 0x1ffff ? 0xf4 : 0xcc;
}

bool dbg_is_hlt_bp(struct cc_vm *vm)
{
    if (!vm->dbg.sw_in || vm->run->exit_reason != KVM_EXIT_HLT)
        return false;
    struct kvm_regs regs;
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0)
        return false;
    for (unsigned i = 0; i < vm->dbg.cfg.n; i++) {
        const struct cc_bp *b = &vm->dbg.cfg.bp[i];
        if (b->type == CC_BP_SW && vm->dbg.sw[i].in && b->addr == regs.rip - 1 &&
            sw_byte(b->addr) == 0xf4)
            return true;
    }
    return false;
}

/* Take every INT3 out of memory, leaving what the guest wrote since. */
void dbg_remove_sw(struct cc_vm *vm)
{
    if (!vm->dbg.sw_in)
        return;
    for (unsigned i = 0; i < CC_DEBUG_MAX_BP; i++) {
        if (!vm->dbg.sw[i].in)
            continue;
        uint8_t *p = cc_vm_gpa_w(vm, vm->dbg.sw[i].gpa, 1);
        if (p && (*p == 0xcc || *p == 0xf4))
            *p = vm->dbg.sw[i].orig;
        vm->dbg.sw[i].in = false;
    }
    vm->dbg.sw_in = false;
}

/* Put INT3 at every software breakpoint (but not at skip_rip, which the
 * next entry steps over). */
static void insert_sw(struct cc_vm *vm, bool skip, uint64_t skip_rip)
{
    const struct cc_debug_cfg *c = &vm->dbg.cfg;
    for (unsigned i = 0; i < c->n; i++) {
        uint64_t pa;
        if (c->bp[i].type != CC_BP_SW || (skip && c->bp[i].addr == skip_rip) ||
            !cc_vm_translate(vm, c->bp[i].addr, &pa))
            continue;
        bool dup = false;
        for (unsigned j = 0; j < i; j++)
            dup |= vm->dbg.sw[j].in && vm->dbg.sw[j].gpa == pa;
        uint8_t *p = dup ? NULL : cc_vm_gpa_w(vm, pa, 1);
        if (!p)
            continue;
        vm->dbg.sw[i] = (typeof(vm->dbg.sw[i])){.gpa = pa, .orig = *p, .in = true};
        *p = sw_byte(c->bp[i].addr);
        vm->dbg.sw_in = true;
    }
}

static bool has_sw(const struct cc_debug_cfg *c)
{
    for (unsigned i = 0; i < c->n; i++)
        if (c->bp[i].type == CC_BP_SW)
            return true;
    return false;
}

/* KVM_SET_GUEST_DEBUG for cfg (plus a forced single step). */
static int set_guest_debug(struct cc_vm *vm, bool force_step, struct cc_err *err)
{
    const struct cc_debug_cfg *c = &vm->dbg.cfg;
    struct kvm_guest_debug d = {0};
    unsigned slot = 0;
    for (unsigned i = 0; i < CC_DEBUG_MAX_HW; i++)
        vm->dbg.hw_slot[i] = -1;
    for (unsigned i = 0; i < c->n; i++) {
        const struct cc_bp *b = &c->bp[i];
        if (b->type == CC_BP_SW || slot >= CC_DEBUG_MAX_HW)
            continue;
        uint64_t rw = 0, len = 0;
        if (b->type == CC_WP_WRITE || b->type == CC_WP_ACCESS) {
            rw = b->type == CC_WP_WRITE ? 1 : 3;
            len = b->len == 1 ? 0 : b->len == 2 ? 1 : b->len == 8 ? 2 : 3;
        }
        d.arch.debugreg[slot] = b->addr;
        d.arch.debugreg[7] |= (2ull << (slot * 2)) |             /* G<slot> */
                              (rw << (16 + slot * 4)) | (len << (18 + slot * 4));
        vm->dbg.hw_slot[slot++] = (int)i;
    }
    if (slot)
        d.arch.debugreg[7] |= 1ull << 9;     /* GE */
    bool step = c->step || force_step;
    if (slot || step || has_sw(c))
        d.control = KVM_GUESTDBG_ENABLE | (slot ? KVM_GUESTDBG_USE_HW_BP : 0) |
                    (step ? KVM_GUESTDBG_SINGLESTEP : 0) |
                    (has_sw(c) ? KVM_GUESTDBG_USE_SW_BP : 0);
    if (ioctl(vm->vcpu_fd, KVM_SET_GUEST_DEBUG, &d) < 0)
        return cc_err_set(err, errno, "KVM_SET_GUEST_DEBUG: %s", strerror(errno));
    return 0;
}

static bool is_syscall(struct cc_vm *vm, uint64_t rip)
{
    uint64_t pa;
    if (!cc_vm_translate(vm, rip, &pa) || (pa & 0xfff) == 0xfff)
        return false;
    const uint8_t *b = cc_vm_gpa(vm, pa, 2);
    return b && b[0] == 0x0f && b[1] == 0x05;
}

static bool is_pushf(struct cc_vm *vm, uint64_t rip)
{
    uint64_t pa;
    if (!cc_vm_translate(vm, rip, &pa))
        return false;
    for (unsigned i = 0; i < 4; i++, pa++) {
        if ((pa & 0xfff) == 0 && i && !cc_vm_translate(vm, rip + i, &pa))
            return false;
        const uint8_t *b = cc_vm_gpa(vm, pa, 1);
        if (!b)
            return false;
        if (*b == 0x9c)
            return true;
        if (*b != 0x66 && (*b & 0xf0) != 0x40)
            return false;
    }
    return false;
}

/* Before an entry with a hook attached: the traps into KVM and memory,
 * RF for a breakpoint being resumed, a note when a PUSHF is stepped. */
int dbg_before_entry(struct cc_vm *vm, struct cc_err *err)
{
    struct vm_debug *d = &vm->dbg;
    if (!d->fn)
        return 0;
    bool step_sw = false;
    struct kvm_regs regs;
    bool need_regs = d->rf_next || d->cfg.step;
    if (need_regs && ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0)
        return cc_err_set(err, errno, "KVM_GET_REGS: %s", strerror(errno));
    if (d->rf_next) {
        d->rf_next = false;
        if (regs.rip == d->rf_rip) {
            /* a debug-register breakpoint: RF; an INT3: out for one step */
            bool sw = false;
            for (unsigned i = 0; i < d->cfg.n; i++)
                sw |= d->cfg.bp[i].type == CC_BP_SW && d->cfg.bp[i].addr == regs.rip;
            if (sw) {
                step_sw = true;
            } else {
                regs.rflags |= RFLAGS_RF;
                if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
                    return cc_err_set(err, errno, "KVM_SET_REGS: %s", strerror(errno));
            }
        }
    }
    d->pushf_fix = false;
    d->syscall_fix = false;
    if (d->cfg.step && !(regs.rflags & RFLAGS_TF)) {
        if (is_pushf(vm, regs.rip)) {
            d->pushf_fix = true;
            d->pushf_rsp = regs.rsp;
        }
        d->syscall_fix = is_syscall(vm, regs.rip);
        /* TF again at this instruction: SYSCALL and interrupt delivery
         * clear it, and KVM sets it only where single-stepping was asked */
        d->kvm_dirty = true;
    }
    if (step_sw) {
        dbg_remove_sw(vm);
        insert_sw(vm, true, d->rf_rip);
        int rc = set_guest_debug(vm, true, err);
        if (rc < 0)
            return rc;
        d->kvm_dirty = true;    /* back to cfg after this step */
        d->sw_stepping = true;
        return 0;
    }
    if (!d->sw_in)
        insert_sw(vm, false, 0);
    if (d->kvm_dirty) {
        int rc = set_guest_debug(vm, false, err);
        if (rc < 0)
            return rc;
        d->kvm_dirty = false;
    }
    return 0;
}

/* A PUSHF stepped with TF set by KVM pushed TF: take it out again. */
static void fix_pushf(struct cc_vm *vm)
{
    struct kvm_regs regs;
    uint64_t pa;
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0 || regs.rsp >= vm->dbg.pushf_rsp ||
        !cc_vm_translate(vm, regs.rsp, &pa))
        return;
    uint8_t *p = cc_vm_gpa_w(vm, pa + 1, 1);
    if (p && ((pa + 1) & 0xfff))
        *p &= (uint8_t)~(RFLAGS_TF >> 8);
}

/* Give a trap the guest itself caused back to it. */
static int reinject(struct cc_vm *vm, unsigned nr, struct cc_err *err)
{
    struct kvm_vcpu_events ev;
    if (ioctl(vm->vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
        return cc_err_set(err, errno, "KVM_GET_VCPU_EVENTS: %s", strerror(errno));
    ev.exception.injected = 1;
    ev.exception.nr = (uint8_t)nr;
    ev.exception.has_error_code = 0;
    ev.flags = 0;
    if (ioctl(vm->vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
        return cc_err_set(err, errno, "KVM_SET_VCPU_EVENTS: %s", strerror(errno));
    return 0;
}

int dbg_trap(struct cc_vm *vm, struct cc_err *err)
{
    struct vm_debug *d = &vm->dbg;
    struct kvm_debug_exit_arch hlt = {.exception = 3};
    bool is_hlt = vm->run->exit_reason == KVM_EXIT_HLT;
    struct kvm_debug_exit_arch *a = is_hlt ? &hlt : &vm->run->debug.arch;
    dbg_remove_sw(vm);
    if (d->pushf_fix && (a->dr6 & DR6_BS)) {
        fix_pushf(vm);
        d->pushf_fix = false;
    }
    if (d->syscall_fix && (a->dr6 & DR6_BS)) {
        /* SYSCALL saved RFLAGS, with KVM's TF, in R11 */
        struct kvm_regs r;
        if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) == 0 && (r.r11 & RFLAGS_TF)) {
            r.r11 &= ~RFLAGS_TF;
            ioctl(vm->vcpu_fd, KVM_SET_REGS, &r);
        }
        d->syscall_fix = false;
    }
    struct cc_debug_event ev = {.what = CC_DEBUG_TRAP, .rip = a->pc, .exits = vm->exits};
    if (getenv("CC_DEBUG_TRAPS"))
        fprintf(stderr, "trap: exception %u pc 0x%llx dr6 0x%llx dr7 0x%llx exits %llu\n",
                a->exception, (unsigned long long)a->pc, (unsigned long long)a->dr6,
                (unsigned long long)a->dr7, (unsigned long long)vm->exits);
    bool forced = d->sw_stepping;
    if (forced) {
        /* the step over an INT3 breakpoint: not an event unless the
         * configuration steps too or a watchpoint triggered */
        d->sw_stepping = false;
        if (!d->cfg.step && (a->exception != 1 || (a->dr6 & 0xf) == 0))
            return 0;
    }
    if (a->exception == 3) {
        /* RIP on the INT3 or after it, after the HLT (KVM skipped it): put
         * it back on the breakpoint's instruction */
        struct kvm_regs regs;
        if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0)
            return cc_err_set(err, errno, "KVM_GET_REGS: %s", strerror(errno));
        uint64_t at = regs.rip;
        bool after = false;
        for (unsigned i = 0; i < d->cfg.n; i++)
            if (d->cfg.bp[i].type == CC_BP_SW && d->cfg.bp[i].addr == regs.rip - 1)
                after = true;
        if (after) {
            at = regs.rip - 1;
            for (unsigned i = 0; i < d->cfg.n; i++)
                if (d->cfg.bp[i].type == CC_BP_SW && d->cfg.bp[i].addr == regs.rip)
                    after = false;      /* (INT3s in a row: the one at rip is next) */
        }
        if (after) {
            regs.rip = at;
            if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
                return cc_err_set(err, errno, "KVM_SET_REGS: %s", strerror(errno));
        }
        ev.rip = at;
        for (unsigned i = 0; i < d->cfg.n; i++)
            if (d->cfg.bp[i].type == CC_BP_SW && d->cfg.bp[i].addr == at)
                ev.hits |= 1u << i;
        if (!ev.hits && is_hlt)
            return cc_err_set(err, EIO, "a breakpoint's HLT at 0x%llx is gone",
                              (unsigned long long)at);
        if (!ev.hits) {
            int rc = reinject(vm, 3, err);
            return rc < 0 ? rc : 0;
        }
    } else if (a->exception == 1) {
        for (unsigned s = 0; s < CC_DEBUG_MAX_HW; s++)
            if ((a->dr6 & (1u << s)) && d->hw_slot[s] >= 0)
                ev.hits |= 1u << d->hw_slot[s];
        ev.step = (a->dr6 & DR6_BS) && (d->cfg.step || forced);
        if (!ev.hits && !ev.step) {
            int rc = reinject(vm, 1, err);
            return rc < 0 ? rc : 0;
        }
    } else {
        return cc_err_set(err, EIO, "KVM_EXIT_DEBUG with exception %u at 0x%llx", a->exception,
                          (unsigned long long)a->pc);
    }
    /* an execution breakpoint: resuming here runs the instruction once */
    bool exec = false;
    for (unsigned i = 0; i < d->cfg.n; i++)
        if ((ev.hits & (1u << i)) && (d->cfg.bp[i].type == CC_BP_SW ||
                                      d->cfg.bp[i].type == CC_BP_HW))
            exec = true;
    d->rf_next = exec;
    d->rf_rip = exec ? ev.rip : 0;
    if (!d->fn)
        return 0;
    return d->fn(d->opaque, vm, &ev) ? 1 : 0;
}

int dbg_after_exit(struct cc_vm *vm)
{
    struct vm_debug *d = &vm->dbg;
    d->rf_next = false;
    if (d->sw_stepping) {
        /* the INT3 step ended in an exit: KVM_SET_GUEST_DEBUG as configured
         * before the next entry takes TF away, so no trap follows */
        d->sw_stepping = false;
        d->kvm_dirty = true;
    }
    if (!d->fn || !d->at_exit || d->at_exit != vm->exits)
        return 0;
    dbg_remove_sw(vm);
    struct cc_debug_event ev = {.what = CC_DEBUG_AT_EXIT, .exits = vm->exits};
    struct kvm_regs regs;
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) == 0)
        ev.rip = regs.rip;
    return d->fn(d->opaque, vm, &ev) ? 1 : 0;
}
