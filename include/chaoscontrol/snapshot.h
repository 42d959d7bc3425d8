/* Snapshots: capture a running VM completely, restore it in place (reset),
 * fork new VMs from it, and save/load it as a file.
 *
 *   struct cc_snapshot *s;
 *   cc_vm_snapshot(vm, &s, &err);          // at any exit boundary
 *   ... run ...
 *   cc_vm_restore(vm, s, &err);            // back to exactly that point
 *   struct cc_vm *f;
 *   cc_vm_fork(s, &opts, &f, &err);        // a new VM continuing from s
 *   cc_snapshot_save(s, "boot.ccsnap", &err);
 *   cc_snapshot_put(s);
 *
 * A snapshot holds the vCPU (registers, XSAVE, XCRs, debug registers, MSRs,
 * events, mp_state), every device model, the virtual clock, PRNG positions,
 * pending interrupts and injection flags, the exit-trace hash, the serial
 * transcript, and guest memory. Memory lives in a sealed memfd; the VM that
 * took the snapshot and every fork of it map it copy-on-write, so N forks
 * cost the pages they write, and a reset drops only the pages dirtied since
 * (tracked with KVM's dirty log plus the VMM's own writes).
 *
 * Snapshots are reference-counted and immutable; many forks of one snapshot
 * can live in one process at once. */
#ifndef CHAOSCONTROL_SNAPSHOT_H
#define CHAOSCONTROL_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"
#include "chaoscontrol/vm.h"

struct cc_snapshot;

/* Take a snapshot at the current exit boundary (in-flight port/MMIO I/O is
 * completed first). Afterwards the VM's RAM is a copy-on-write view of it. */
int cc_vm_snapshot(struct cc_vm *vm, struct cc_snapshot **out, struct cc_err *err);

/* Reset vm to snapshot s. s must come from a VM with the same configuration
 * (memory size, devices). */
int cc_vm_restore(struct cc_vm *vm, const struct cc_snapshot *s, struct cc_err *err);

struct cc_fork_opts {
    bool reseed;            /* give the fork a new seed for its random streams */
    uint64_t seed;
    int serial_fd;          /* -1 = capture only */
    bool trace_keep;
    const char *trace_path;
    unsigned watchdog_s;
    void (*log)(void *opaque, const char *msg);
    void *log_opaque;
};
void cc_fork_opts_default(struct cc_fork_opts *o);

/* A new VM that continues exactly where s was taken (optionally reseeded). */
int cc_vm_fork(const struct cc_snapshot *s, const struct cc_fork_opts *o, struct cc_vm **out,
               struct cc_err *err);

/* Reseed every random stream of a VM (the VM's stream, virtio-rng, SDK
 * randomness) so that forks of one snapshot diverge. */
void cc_vm_reseed(struct cc_vm *vm, uint64_t seed);

void cc_snapshot_get(struct cc_snapshot *s);
void cc_snapshot_put(struct cc_snapshot *s);

/* Facts about a snapshot. */
struct cc_snapshot_info {
    uint64_t mem_size;
    uint64_t pages_nonzero;     /* pages holding data */
    uint64_t vtime_ns;
    uint64_t exits;
    uint64_t seed;
    uint64_t trace_hash;
    uint64_t ram_hash;          /* hash of the per-page hashes */
    size_t state_bytes;         /* vCPU + devices + VM state */
    unsigned vcpus;             /* and their scheduler (vm.h) */
    enum cc_vcpu_sched vcpu_sched;
    uint32_t vcpu_quantum;
};
void cc_snapshot_info(const struct cc_snapshot *s, struct cc_snapshot_info *info);
/* The memory s holds, about: its stored (non-zero) pages and its state.
 * Cheap (no hashing), unlike cc_snapshot_info. */
uint64_t cc_snapshot_bytes(const struct cc_snapshot *s);


/* Pages whose contents differ between two snapshots of equal memory size:
 * calls fn for each run of differing pages [first, first+count). Returns the
 * number of differing pages, or -errno. */
int64_t cc_snapshot_diff(const struct cc_snapshot *a, const struct cc_snapshot *b,
                         void (*fn)(void *opaque, uint64_t first_page, uint64_t count),
                         void *opaque, struct cc_err *err);

/* Files: magic, format version, tagged sections, zstd-compressed memory
 * with zero pages skipped, XXH3 checksum; written atomically. Loading
 * refuses corrupt, truncated or newer-version files with a clear message. */
#define CC_SNAPSHOT_FORMAT_VERSION 1
int cc_snapshot_save(const struct cc_snapshot *s, const char *path, struct cc_err *err);
int cc_snapshot_load(const char *path, struct cc_snapshot **out, struct cc_err *err);

/* Pages reset by the last cc_vm_restore of this VM (for measurements). */
uint64_t cc_vm_last_reset_pages(const struct cc_vm *vm);

#endif
