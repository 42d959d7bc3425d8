/* The VM's two I/O buses, port I/O and MMIO: address ranges, each with a
 * handler table and the access sizes it takes. Every device is on them,
 * the legacy PC devices too (board.c); an access no range takes counts as
 * unknown I/O (reads return all ones). Ranges never overlap. */
#include <errno.h>
#include <string.h>

#include "vm_internal.h"

static int bus_add(struct cc_io_bus *bus, uint64_t base, uint64_t len, unsigned sizes,
                   const struct cc_io_ops *ops, void *opaque, const char *what,
                   struct cc_err *err)
{
    if (len == 0 || base + len < base)
        return cc_err_set(err, EINVAL, "%s range 0x%lx+0x%lx is empty or wraps",
                          what, (unsigned long)base, (unsigned long)len);
    for (unsigned i = 0; i < bus->n; i++) {
        const struct cc_io_range *r = &bus->r[i];
        if (base < r->base + r->len && r->base < base + len)
            return cc_err_set(err, EBUSY, "%s range 0x%lx+0x%lx overlaps 0x%lx+0x%lx (%s%s)",
                              what, (unsigned long)base, (unsigned long)len,
                              (unsigned long)r->base, (unsigned long)r->len,
                              r->name ? "the built-in " : "another device",
                              r->name ? r->name : "");
    }
    if (bus->n == CC_MAX_IO_RANGES)
        return cc_err_set(err, ENOSPC, "too many %s ranges", what);
    bus->r[bus->n++] = (struct cc_io_range){base, len, sizes, ops, opaque, NULL};
    return 0;
}

struct cc_io_range *iobus_find(struct cc_io_bus *bus, uint64_t addr, unsigned size)
{
    for (unsigned i = 0; i < bus->n; i++) {
        struct cc_io_range *r = &bus->r[i];
        if (addr >= r->base && addr - r->base + size <= r->len)
            return r->sizes & size ? r : NULL;
    }
    return NULL;
}

int iobus_add_pio(struct cc_vm *vm, uint16_t base, uint16_t len, unsigned sizes,
                  const struct cc_io_ops *ops, void *opaque, const char *name,
                  struct cc_err *err)
{
    int rc = bus_add(&vm->pio, base, len, sizes, ops, opaque, "port", err);
    if (rc == 0)
        vm->pio.r[vm->pio.n - 1].name = name;
    return rc;
}

int cc_vm_add_pio(struct cc_vm *vm, uint16_t base, uint16_t len,
                  const struct cc_io_ops *ops, void *opaque, struct cc_err *err)
{
    return iobus_add_pio(vm, base, len, IOBUS_ANY_SIZE, ops, opaque, NULL, err);
}

int cc_vm_add_mmio(struct cc_vm *vm, uint64_t base, uint64_t len,
                   const struct cc_io_ops *ops, void *opaque, struct cc_err *err)
{
    if (base < vm->mem_size)
        return cc_err_set(err, EINVAL, "MMIO range 0x%lx overlaps guest RAM", (unsigned long)base);
    return bus_add(&vm->mmio, base, len, IOBUS_ANY_SIZE, ops, opaque, "MMIO", err);
}
