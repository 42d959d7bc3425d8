/* libchaoscontrol: VM extensions, a way to add a component to every VM
 * without the VMM knowing it.
 *
 * An extension is a table of operations. The VM attaches each extension of
 * its configuration (cc_vm_config.exts) when it is created or forked; the
 * extension then claims what it needs through the VM's public API: port or
 * MMIO ranges on the I/O buses (cc_vm_add_pio, cc_vm_add_mmio), a hypercall
 * number (cc_vm_set_hypercall), guest memory (cc_vm_gpa, cc_vm_gpa_w), the
 * clock (cc_vm_vtime_ns, cc_vm_exit_count) and stops (cc_vm_stop). Its state
 * travels in snapshots as one section with the extension's tag, written by
 * save and read back by load, and forks with a new seed reseed it. The
 * guest SDK's host side is such an extension (chaoscontrol/sdk_host.h).
 *
 *   static const struct cc_vm_ext_ops my_ext = {
 *       .name = "my-device", .tag = CC_VM_EXT_TAG('M', 'Y', 'D', 'V'),
 *       .attach = my_attach, .detach = my_detach,
 *       .save = my_save, .load = my_load, .reseed = my_reseed,
 *   };
 *   const struct cc_vm_ext_ops *exts[] = {&my_ext, cc_sdk_ext(), NULL};
 *   cfg.exts = exts;
 *   cc_vm_create(&cfg, &vm, &err);
 *   struct my_state *st = cc_vm_ext(vm, &my_ext);
 *
 * Extensions are attached in list order after the VM's own devices and
 * detached in reverse order before them. Everything runs on the thread that
 * runs the VM. */
#ifndef CHAOSCONTROL_VM_EXT_H
#define CHAOSCONTROL_VM_EXT_H

#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"

struct cc_vm;

/* A snapshot section tag: four ASCII characters. */
#define CC_VM_EXT_TAG(a, b, c, d) \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

struct cc_vm_ext_ops {
    const char *name;
    uint32_t tag;           /* its snapshot section; unique among a VM's extensions */

    /* Set up for vm: claim ports, hypercalls, guest memory; *state is
     * handed back to every other operation. On failure, undo and return
     * -errno with err set. */
    int (*attach)(struct cc_vm *vm, void **state, struct cc_err *err);
    void (*detach)(void *state);

    /* Snapshot section: save returns a malloc'd byte string (the caller
     * frees it); load replaces the state with one that save produced, by
     * this or an older version of the extension (refusing a newer one with
     * a clear message). May be NULL for an extension without state. */
    int (*save)(void *state, uint8_t **data, size_t *len, struct cc_err *err);
    int (*load)(void *state, const uint8_t *data, size_t len, struct cc_err *err);

    /* A fork with a new seed: restart the extension's random streams. */
    void (*reseed)(void *state, uint64_t seed);
};

/* The state of extension ops attached to vm, or NULL. */
void *cc_vm_ext(struct cc_vm *vm, const struct cc_vm_ext_ops *ops);

/* The extensions a VM gets when its configuration names none (cc_vm_config
 * exts = NULL): the guest SDK's host side. A NULL-terminated list. */
extern const struct cc_vm_ext_ops *const cc_vm_default_exts[];
/* An empty list: a VM with no extensions at all. */
extern const struct cc_vm_ext_ops *const cc_vm_no_exts[];

#endif
