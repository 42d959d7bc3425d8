/* vCPU state capture and restore for snapshots.
 *
 * Captured: general registers, special registers (including the pending
 * external interrupt bitmap, which matters without an in-kernel irqchip),
 * XSAVE area (x87/SSE/AVX...), XCRs, debug registers, vCPU events (pending
 * exceptions, NMI, interrupt shadow), mp_state, every MSR KVM lists as
 * saveable, and the two kvm_run fields the run loop reads before the next
 * entry (ready_for_interrupt_injection, if_flag).
 *
 * KVM's own structs are stored as their UAPI byte layout, each with its
 * size so a mismatch is detected on load. MSRs are read and written one at
 * a time: a host that refuses one MSR does not silently drop the rest; the
 * refused ones are reported through the VM log.
 *
 * The guest TSC is not saved as an MSR: it is derived from virtual time and
 * written before every entry. */
#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vm_internal.h"

#define VCPU_STATE_VERSION 1
#define MSR_IA32_TSC 0x10

/* Run KVM_RUN once with immediate_exit so KVM finishes an instruction whose
 * port or MMIO access we handled (e.g. IN writes RAX only on the next
 * KVM_RUN). Returns with no guest instruction executed. */
int vcpu_complete_io(struct cc_vm *vm, struct cc_err *err)
{
    struct kvm_run *run = vm->run;
    if (run->exit_reason != KVM_EXIT_IO && run->exit_reason != KVM_EXIT_MMIO &&
        run->exit_reason != KVM_EXIT_HYPERCALL)
        return 0;
    if (!vm->caps.immediate_exit)
        return cc_err_set(err, ENOTSUP, "cannot complete in-flight I/O before a snapshot: "
                          "the host lacks KVM_CAP_IMMEDIATE_EXIT");
    uint8_t ready = run->ready_for_interrupt_injection, iflag = run->if_flag;
    uint64_t rip_valid = run->kvm_valid_regs;
    run->immediate_exit = 1;
    int r = ioctl(vm->vcpu_fd, KVM_RUN, 0);
    int e = errno;
    run->immediate_exit = 0;
    if (r == 0 || e != EINTR)
        return cc_err_set(err, r == 0 ? EIO : e, "completing in-flight I/O: KVM_RUN with "
                          "immediate_exit returned %d (%s)", r, strerror(e));
    /* Nothing ran: keep what the last real exit told us. */
    run->ready_for_interrupt_injection = ready;
    run->if_flag = iflag;
    run->kvm_valid_regs = rip_valid;
    run->exit_reason = KVM_EXIT_INTR;
    return 0;
}

/* Is KVM on this host kvm-amd (SVM)? By the host CPU's vendor: KVM on an
 * AMD or Hygon CPU is kvm-amd. */
bool host_is_svm(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return false;
    char v[13];
    memcpy(v, &b, 4);
    memcpy(v + 4, &d, 4);
    memcpy(v + 8, &c, 4);
    v[12] = 0;
    return !strcmp(v, "AuthenticAMD") || !strcmp(v, "HygonGenuine");
}

/* KVM_SET_SREGS, with TR written the way an SVM guest's own LTR leaves it.
 *
 * kvm-amd reports TR as a busy TSS whatever the VMCB holds (svm_get_segment
 * sets the busy bit because some CPUs do not store it), so a snapshot always
 * holds type 11, and KVM_SET_SREGS writes that into the VMCB. The QEMU TCG
 * test host (emulated SVM) keeps TR available (type 9) after LTR, and its
 * I/O permission check accepts only type 9: after writing 11, every
 * user-space IN/OUT that the TSS I/O bitmap permits (the SDK's port
 * doorbell after ioperm) took a #GP, so a restored guest diverged from the
 * original run. On SVM the TR type is not checked after LTR (VMRUN does not
 * check it either) and KVM reads it back as busy, so writing the available
 * type is invisible to the guest and to snapshots. VMX requires a busy TR
 * on entry: there the registers are written unchanged. */
int vcpu_set_sregs(struct cc_vm *vm, const struct kvm_sregs *sregs, struct cc_err *err)
{
    struct kvm_sregs s = *sregs;
    if (vm->host_svm && s.tr.present && !s.tr.s && s.tr.type == 11)
        s.tr.type = 9;
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0)
        return cc_err_set(err, errno, "KVM_SET_SREGS: %s", strerror(errno));
    return 0;
}

static int get_msr_list(struct cc_vm *vm, uint32_t **out, uint32_t *n, struct cc_err *err)
{
    struct kvm_msr_list probe = {.nmsrs = 0};
    if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
        return cc_err_set(err, errno, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
    struct kvm_msr_list *l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(uint32_t));
    if (!l)
        return cc_err_set(err, ENOMEM, "out of memory");
    l->nmsrs = probe.nmsrs;
    if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
        int e = errno;
        free(l);
        return cc_err_set(err, e, "KVM_GET_MSR_INDEX_LIST: %s", strerror(e));
    }
    *n = l->nmsrs;
    *out = malloc((l->nmsrs ? l->nmsrs : 1) * sizeof(uint32_t));
    if (!*out) {
        free(l);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    memcpy(*out, l->indices, l->nmsrs * sizeof(uint32_t));
    free(l);
    return 0;
}

static int msr_get1(struct cc_vm *vm, uint32_t idx, uint64_t *val)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e;
    } m;
    memset(&m, 0, sizeof(m));
    m.hdr.nmsrs = 1;
    m.e.index = idx;
    if (ioctl(vm->vcpu_fd, KVM_GET_MSRS, &m) != 1)
        return -1;
    *val = m.e.data;
    return 0;
}

int cc_vm_get_msr(struct cc_vm *vm, uint32_t index, uint64_t *val)
{
    return msr_get1(vm, index, val);
}

static int msr_set1(struct cc_vm *vm, uint32_t idx, uint64_t val)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e;
    } m;
    memset(&m, 0, sizeof(m));
    m.hdr.nmsrs = 1;
    m.e.index = idx;
    m.e.data = val;
    return ioctl(vm->vcpu_fd, KVM_SET_MSRS, &m) == 1 ? 0 : -1;
}

static void put_blob(struct cc_buf *b, const void *p, uint32_t len)
{
    buf_put_u32(b, len);
    buf_put(b, p, len);
}

static bool get_blob(struct cc_rd *r, void *p, uint32_t len)
{
    uint32_t have = rd_u32(r);
    if (have != len) {
        r->short_read = true;
        return false;
    }
    return rd_get(r, p, len);
}

int vcpu_save(struct cc_vm *vm, struct cc_buf *out, struct cc_err *err)
{
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_xsave xsave;
    struct kvm_xcrs xcrs;
    struct kvm_debugregs dbg;
    struct kvm_vcpu_events ev;
    struct kvm_mp_state mp;

    memset(&xcrs, 0, sizeof(xcrs));
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_XSAVE, &xsave) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_DEBUGREGS, &dbg) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) < 0 ||
        ioctl(vm->vcpu_fd, KVM_GET_MP_STATE, &mp) < 0)
        return cc_err_set(err, errno, "reading vCPU state: %s", strerror(errno));
    bool have_xcrs = ioctl(vm->vcpu_fd, KVM_GET_XCRS, &xcrs) == 0;

    uint32_t *idx = NULL, n = 0;
    int rc = get_msr_list(vm, &idx, &n, err);
    if (rc < 0)
        return rc;

    buf_put_u8(out, VCPU_STATE_VERSION);
    put_blob(out, &regs, sizeof(regs));
    put_blob(out, &sregs, sizeof(sregs));
    put_blob(out, &xsave, sizeof(xsave));
    buf_put_bool(out, have_xcrs);
    put_blob(out, &xcrs, sizeof(xcrs));
    put_blob(out, &dbg, sizeof(dbg));
    put_blob(out, &ev, sizeof(ev));
    put_blob(out, &mp, sizeof(mp));
    buf_put_u8(out, vm->run->ready_for_interrupt_injection);
    buf_put_u8(out, vm->run->if_flag);

    /* MSRs: count, then (index, value) for each one the host let us read. */
    size_t count_at = out->len;
    buf_put_u32(out, 0);
    uint32_t saved = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t v;
        /* The TSC comes from virtual time; KVM's and Hyper-V's paravirtual
         * MSRs belong to features the guest cannot see (the hypervisor
         * CPUID leaves are hidden), and some follow host time (Hyper-V's
         * time reference count 0x40000020 and VP runtime 0x40000010 made two
         * snapshots of one VM state differ in 16 bytes). */
        bool kvm_pv = (idx[i] >= 0x4b564d00 && idx[i] <= 0x4b564dff) ||
                      idx[i] == 0x11 || idx[i] == 0x12 ||
                      (idx[i] >= 0x40000000 && idx[i] <= 0x400001ff);
        if (idx[i] == MSR_IA32_TSC || kvm_pv || msr_get1(vm, idx[i], &v) < 0)
            continue;
        buf_put_u32(out, idx[i]);
        buf_put_u64(out, v);
        saved++;
    }
    free(idx);
    if (!buf_ok(out))
        return cc_err_set(err, ENOMEM, "out of memory saving vCPU state");
    for (int b = 0; b < 4; b++)
        out->data[count_at + b] = (uint8_t)(saved >> (8 * b));
    return 0;
}

int vcpu_load(struct cc_vm *vm, struct cc_rd *in, struct cc_err *err)
{
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_xsave xsave;
    struct kvm_xcrs xcrs;
    struct kvm_debugregs dbg;
    struct kvm_vcpu_events ev;
    struct kvm_mp_state mp;

    int ver = rd_version(in, VCPU_STATE_VERSION, "vCPU state", err);
    if (ver < 0)
        return ver;
    get_blob(in, &regs, sizeof(regs));
    get_blob(in, &sregs, sizeof(sregs));
    get_blob(in, &xsave, sizeof(xsave));
    bool have_xcrs = rd_bool(in);
    get_blob(in, &xcrs, sizeof(xcrs));
    get_blob(in, &dbg, sizeof(dbg));
    get_blob(in, &ev, sizeof(ev));
    get_blob(in, &mp, sizeof(mp));
    uint8_t ready = rd_u8(in), iflag = rd_u8(in);
    uint32_t nmsr = rd_u32(in);
    if (!rd_ok(in))
        return cc_err_set(err, EINVAL, "vCPU state truncated or written by a different KVM "
                          "ABI (structure sizes differ)");
    if (nmsr > rd_left(in) / 12)
        return cc_err_set(err, EINVAL, "vCPU state: MSR count %u larger than the data", nmsr);

    int rc = vcpu_set_sregs(vm, &sregs, err);
    if (rc < 0) {
        cc_err_prefix(err, "restoring special registers");
        return rc;
    }
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
        return cc_err_set(err, errno, "restoring registers: %s", strerror(errno));
    if (have_xcrs && ioctl(vm->vcpu_fd, KVM_SET_XCRS, &xcrs) < 0)
        return cc_err_set(err, errno, "restoring XCRs: %s", strerror(errno));
    if (ioctl(vm->vcpu_fd, KVM_SET_XSAVE, &xsave) < 0)
        return cc_err_set(err, errno, "restoring XSAVE state: %s", strerror(errno));
    unsigned refused = 0;
    uint32_t first_refused = 0;
    for (uint32_t i = 0; i < nmsr; i++) {
        uint32_t idx = rd_u32(in);
        uint64_t v = rd_u64(in);
        if (msr_set1(vm, idx, v) < 0) {
            if (!refused++)
                first_refused = idx;
        }
    }
    if (refused)
        vm_log(vm, "restore: host refused %u MSR(s), first 0x%x", refused, first_refused);
    ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
    if (ioctl(vm->vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
        return cc_err_set(err, errno, "restoring vCPU events: %s", strerror(errno));
    if (ioctl(vm->vcpu_fd, KVM_SET_MP_STATE, &mp) < 0)
        return cc_err_set(err, errno, "restoring mp_state: %s", strerror(errno));
    if (ioctl(vm->vcpu_fd, KVM_SET_DEBUGREGS, &dbg) < 0)
        return cc_err_set(err, errno, "restoring debug registers: %s", strerror(errno));
    vm->run->ready_for_interrupt_injection = ready;
    vm->run->if_flag = iflag;
    vm->run->request_interrupt_window = 0;
    vm->run->exit_reason = KVM_EXIT_INTR;
    return 0;
}
