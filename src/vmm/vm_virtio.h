/* The VM's virtio-mmio devices (vm_virtio.c), for vm.c and the snapshot
 * code. Not part of the public API (see include/chaoscontrol/virtio.h). */
#ifndef CC_VMM_VM_VIRTIO_H
#define CC_VMM_VM_VIRTIO_H

#include <stdbool.h>

#include "chaoscontrol/err.h"
#include "util/buf.h"

struct cc_vm;

/* Destroy every virtio device of the VM (called by cc_vm_destroy). */
void vm_virtio_destroy(struct cc_vm *vm);

/* Snapshot of every device's state, in the order they were added. Loading
 * needs a VM with the same devices added in the same order; on error the
 * devices before the bad one are already loaded. */
void vm_virtio_save(const struct cc_vm *vm, struct cc_buf *out);
int vm_virtio_load(struct cc_vm *vm, struct cc_rd *in, struct cc_err *err);

/* In-memory device snapshot for resets and forks: the same state as
 * vm_virtio_save, except that each disk is kept as an O(1)
 * copy-on-write clone of its overlay instead of a copy of its pages, so
 * thousands of snapshots of a disk cost only what each run writes. A
 * snapshot may be restored into the VM it came from or into another VM
 * with the same devices (a fork); it stays valid until freed. */
struct cc_vm_virtio_snap;
int vm_virtio_snap_take(const struct cc_vm *vm, struct cc_vm_virtio_snap **out,
                           struct cc_err *err);
int vm_virtio_snap_restore(struct cc_vm *vm, const struct cc_vm_virtio_snap *s,
                              struct cc_err *err);
void vm_virtio_snap_free(struct cc_vm_virtio_snap *s);
/* Append the snapshot in vm_virtio_save's format when that needs no
 * disk pages (no virtio-blk devices); false (nothing written) otherwise. */
bool vm_virtio_snap_serialize(const struct cc_vm_virtio_snap *s, struct cc_buf *out);

/* Which devices the VM has and how each was made (type, disk size, base
 * image path, id, MAC), so that another VM can be given the same set:
 * forks and snapshot files use it before loading device state. */
void vm_virtio_manifest_save(const struct cc_vm *vm, struct cc_buf *out);
int vm_virtio_manifest_apply(struct cc_vm *vm, struct cc_rd *in, struct cc_err *err);

/* Reseed every virtio-rng of the VM (forks that should diverge). */
void vm_virtio_reseed(struct cc_vm *vm, uint64_t seed);

#endif
