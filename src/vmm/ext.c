/* VM extensions (chaoscontrol/vm_ext.h) and the hypercall table: the VMM
 * attaches, saves, loads, reseeds and detaches whatever extensions its
 * configuration lists, without knowing what they are. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vm_internal.h"

const struct cc_vm_ext_ops *const cc_vm_no_exts[] = {NULL};

int ext_attach_all(struct cc_vm *vm, const struct cc_vm_ext_ops *const *list,
                   struct cc_err *err)
{
    for (; list && *list; list++) {
        const struct cc_vm_ext_ops *ops = *list;
        if (vm->n_ext == VM_MAX_EXTS)
            return cc_err_set(err, ENOSPC, "more than %d VM extensions", VM_MAX_EXTS);
        for (unsigned i = 0; i < vm->n_ext; i++)
            if (vm->ext[i].ops->tag == ops->tag)
                return cc_err_set(err, EINVAL, "extensions '%s' and '%s' share a snapshot tag",
                                  vm->ext[i].ops->name, ops->name);
        void *state = NULL;
        if (ops->attach) {
            int rc = ops->attach(vm, &state, err);
            if (rc < 0)
                return cc_err_prefix(err, "%s", ops->name);
        }
        vm->ext[vm->n_ext++] = (struct vm_ext){ops, state};
    }
    return 0;
}

void ext_detach_all(struct cc_vm *vm)
{
    while (vm->n_ext) {
        struct vm_ext *e = &vm->ext[--vm->n_ext];
        if (e->ops->detach)
            e->ops->detach(e->state);
    }
}

void *cc_vm_ext(struct cc_vm *vm, const struct cc_vm_ext_ops *ops)
{
    for (unsigned i = 0; i < vm->n_ext; i++)
        if (vm->ext[i].ops == ops)
            return vm->ext[i].state;
    return NULL;
}

int ext_save_all(struct cc_vm *vm, struct cc_buf *b, struct cc_err *err)
{
    for (unsigned i = 0; i < vm->n_ext; i++) {
        const struct vm_ext *e = &vm->ext[i];
        if (!e->ops->save)
            continue;
        uint8_t *data = NULL;
        size_t len = 0;
        int rc = e->ops->save(e->state, &data, &len, err);
        if (rc < 0)
            return cc_err_prefix(err, "%s", e->ops->name);
        buf_put_u32(b, e->ops->tag);
        buf_put_u64(b, len);
        buf_put(b, data, len);
        free(data);
    }
    return 0;
}

int ext_load(struct cc_vm *vm, uint32_t tag, const uint8_t *p, size_t len, struct cc_err *err)
{
    for (unsigned i = 0; i < vm->n_ext; i++) {
        const struct vm_ext *e = &vm->ext[i];
        if (e->ops->tag != tag)
            continue;
        if (!e->ops->load)
            return cc_err_set(err, EINVAL, "extension '%s' keeps no state", e->ops->name);
        int rc = e->ops->load(e->state, p, len, err);
        return rc < 0 ? cc_err_prefix(err, "%s", e->ops->name) : 1;
    }
    return 0;
}

void ext_reseed_all(struct cc_vm *vm, uint64_t seed)
{
    for (unsigned i = 0; i < vm->n_ext; i++)
        if (vm->ext[i].ops->reseed)
            vm->ext[i].ops->reseed(vm->ext[i].state, seed);
}

int cc_vm_set_hypercall(struct cc_vm *vm, uint64_t nr, cc_hypercall_fn fn, void *opaque,
                        struct cc_err *err)
{
    for (unsigned i = 0; i < vm->n_hc; i++)
        if (vm->hc[i].nr == nr)
            return cc_err_set(err, EBUSY, "hypercall %llu already has a handler",
                              (unsigned long long)nr);
    if (vm->n_hc == VM_MAX_HYPERCALLS)
        return cc_err_set(err, ENOSPC, "more than %d hypercall handlers", VM_MAX_HYPERCALLS);
    int mask = vm->kvm_fd >= 0 ? ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_HYPERCALL) : 0;
    if (nr >= 32 || mask <= 0 || !(mask & (1 << nr)))
        return cc_err_set(err, ENOTSUP, "this KVM does not pass hypercall %llu to user space "
                          "(KVM_CAP_EXIT_HYPERCALL)", (unsigned long long)nr);
    uint64_t enabled = 1ull << nr;
    for (unsigned i = 0; i < vm->n_hc; i++)
        enabled |= 1ull << vm->hc[i].nr;
    struct kvm_enable_cap cap = {.cap = KVM_CAP_EXIT_HYPERCALL, .args = {enabled}};
    if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
        return cc_err_set(err, errno, "KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL): %s",
                          strerror(errno));
    vm->hc[vm->n_hc++] = (struct vm_hypercall){nr, fn, opaque};
    return 0;
}
