/* Guest memory: allocation, dirty tracking and copy-on-write views of
 * snapshots.
 *
 * A VM's RAM starts as anonymous memory. Once a snapshot is taken (or the
 * VM is forked from one), RAM becomes a MAP_PRIVATE view of the snapshot's
 * memfd: pages the guest only reads are shared with the snapshot and with
 * every other fork of it; a page written gets a private copy. Resetting the
 * VM to that snapshot drops exactly the private copies (MADV_DONTNEED), so
 * it costs what was dirtied, not the size of RAM.
 *
 * Which pages were dirtied since the snapshot comes from two sources:
 *  - KVM's dirty log on the memory slot (guest writes), and
 *  - the VMM's own writes into guest memory (device DMA, the loader), which
 *    KVM does not see: they go through cc_vm_gpa_w(), which marks them.
 * Their union is accumulated in vm->dirty. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm_internal.h"

#define PAGE 4096ull

static uint64_t npages(const struct cc_vm *vm)
{
    return vm->mem_size / PAGE;
}

static size_t bitmap_words(const struct cc_vm *vm)
{
    return (size_t)((npages(vm) + 63) / 64);
}

int mem_init(struct cc_vm *vm, struct cc_err *err)
{
    vm->dirty = calloc(bitmap_words(vm), sizeof(uint64_t));
    vm->kvm_log = calloc(bitmap_words(vm), sizeof(uint64_t));
    if (!vm->dirty || !vm->kvm_log)
        return cc_err_set(err, ENOMEM, "out of memory for dirty-page bitmaps");
    return 0;
}

void mem_free(struct cc_vm *vm)
{
    free(vm->dirty);
    free(vm->kvm_log);
    vm->dirty = vm->kvm_log = NULL;
}

void mem_mark_dirty(struct cc_vm *vm, uint64_t gpa, uint64_t len)
{
    if (!len || !vm->dirty)
        return;
    uint64_t first = gpa / PAGE, last = (gpa + len - 1) / PAGE;
    for (uint64_t p = first; p <= last && p < npages(vm); p++)
        vm->dirty[p / 64] |= 1ull << (p % 64);
}

void *cc_vm_gpa_w(struct cc_vm *vm, uint64_t gpa, uint64_t len)
{
    void *p = cc_vm_gpa(vm, gpa, len);
    if (p)
        mem_mark_dirty(vm, gpa, len);
    return p;
}

static int set_slot(struct cc_vm *vm, bool log_dirty, struct cc_err *err)
{
    struct kvm_userspace_memory_region region = {
        .slot = 0,
        .flags = log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
        .guest_phys_addr = 0,
        .memory_size = vm->mem_size,
        .userspace_addr = (uintptr_t)vm->mem,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return cc_err_set(err, errno, "KVM_SET_USER_MEMORY_REGION%s: %s",
                          log_dirty ? " (dirty logging)" : "", strerror(errno));
    vm->dirty_logging = log_dirty;
    return 0;
}

/* Fold KVM's dirty log (guest writes since the last call) into vm->dirty. */
int mem_fetch_dirty(struct cc_vm *vm, struct cc_err *err)
{
    if (!vm->dirty_logging)
        return 0;
    struct kvm_dirty_log log = {.slot = 0, .dirty_bitmap = vm->kvm_log};
    if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
        return cc_err_set(err, errno, "KVM_GET_DIRTY_LOG: %s", strerror(errno));
    size_t n = bitmap_words(vm);
    for (size_t i = 0; i < n; i++)
        vm->dirty[i] |= vm->kvm_log[i];
    return 0;
}

uint64_t mem_dirty_count(const struct cc_vm *vm)
{
    uint64_t c = 0;
    size_t n = bitmap_words(vm);
    for (size_t i = 0; i < n; i++)
        c += (uint64_t)__builtin_popcountll(vm->dirty[i]);
    return c;
}

/* Make RAM a copy-on-write view of memfd (the snapshot's memory). Every
 * private page is dropped; dirty tracking starts afresh. */
int mem_map_memfd(struct cc_vm *vm, int memfd, struct cc_err *err)
{
    void *p = mmap(vm->mem, vm->mem_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, memfd, 0);
    if (p == MAP_FAILED)
        return cc_err_set(err, errno, "mapping snapshot memory: %s", strerror(errno));
    int rc = 0;
    if (!vm->dirty_logging)
        rc = set_slot(vm, true, err);
    /* Discard whatever KVM logged before the switch. */
    if (rc == 0)
        rc = mem_fetch_dirty(vm, err);
    memset(vm->dirty, 0, bitmap_words(vm) * sizeof(uint64_t));
    return rc;
}

/* Reset RAM to the snapshot it is a view of: drop the private copy of every
 * page dirtied since. Returns the number of pages reset, or -errno. */
int64_t mem_reset(struct cc_vm *vm, struct cc_err *err)
{
    int rc = mem_fetch_dirty(vm, err);
    if (rc < 0)
        return rc;
    uint64_t n = npages(vm), count = 0;
    uint64_t p = 0;
    while (p < n) {
        if (!(vm->dirty[p / 64] >> (p % 64) & 1)) {
            if (vm->dirty[p / 64] == 0 && p % 64 == 0)
                p += 64;
            else
                p++;
            continue;
        }
        uint64_t start = p;
        while (p < n && (vm->dirty[p / 64] >> (p % 64) & 1))
            p++;
        if (madvise(vm->mem + start * PAGE, (p - start) * PAGE, MADV_DONTNEED) < 0)
            return cc_err_set(err, errno, "resetting guest memory: madvise: %s", strerror(errno));
        count += p - start;
    }
    memset(vm->dirty, 0, bitmap_words(vm) * sizeof(uint64_t));
    return (int64_t)count;
}
