/* A VM without KVM (cc_vm_config.no_kvm): the board's legacy devices on the
 * port bus and the SDK extension, driven through cc_vm_io as the guest
 * would drive them. Runs on every machine, /dev/kvm or not. */
#include <errno.h>
#include <string.h>

#include "../tap.h"
#include "chaoscontrol/platform.h"
#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol/vm.h"
#include "chaoscontrol/vm_ext.h"
#include "chaoscontrol_protocol.h"

static uint64_t in(struct cc_vm *vm, uint16_t port, unsigned size)
{
    return cc_vm_io(vm, false, port, size, false, 0);
}

static void out(struct cc_vm *vm, uint16_t port, unsigned size, uint64_t v)
{
    cc_vm_io(vm, false, port, size, true, v);
}

int main(void)
{
    tap_plan(0);
    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.mem_size = 4 << 20;
    cfg.no_kvm = true;
    struct cc_err err = {0};
    struct cc_vm *vm = NULL;
    if (!ok(cc_vm_create(&cfg, &vm, &err) == 0, "a VM without KVM is created (%s)", err.msg))
        return tap_exit();

    /* UART: bytes written to COM1 are captured */
    out(vm, 0x3f8, 1, 'h');
    out(vm, 0x3f8, 1, 'i');
    size_t n;
    const uint8_t *ser = cc_vm_serial(vm, &n);
    ok(n == 2 && !memcmp(ser, "hi", 2), "COM1 output captured (%zu bytes)", n);
    is_int(in(vm, 0x3fd, 1) & 0x60, 0x60, "COM1 line status: transmitter empty");

    /* PIC: initialization words, then the mask reads back */
    out(vm, 0x20, 1, 0x11);
    out(vm, 0x21, 1, 0x20);
    out(vm, 0x21, 1, 0x04);
    out(vm, 0x21, 1, 0x01);
    out(vm, 0x21, 1, 0xfa);
    is_int(in(vm, 0x21, 1), 0xfa, "PIC: the mask register reads back");

    /* CMOS: the memory size registers of 4 MiB (3 MiB above 1 MiB, in KiB) */
    out(vm, 0x70, 1, 0x30);
    uint64_t lo = in(vm, 0x71, 1);
    out(vm, 0x70, 1, 0x31);
    uint64_t hi = in(vm, 0x71, 1);
    is_int(lo | hi << 8, 3072, "CMOS: extended memory 3072 KiB");

    /* legacy devices take byte accesses only; unknown ports read all ones */
    uint64_t unknown = cc_vm_unknown_io_count(vm);
    is_u64(in(vm, 0x20, 2), 0xffff, "a 16-bit read of the PIC is not decoded");
    is_u64(in(vm, 0x2f8, 1), 0xff, "an unused port reads all ones");
    is_int(cc_vm_unknown_io_count(vm), unknown + 2, "both counted as unknown I/O");
    is_u64(in(vm, 0x80, 1), 0xff, "POST port 0x80 reads 0xff");
    is_u64(in(vm, CC_PORT_BASE + 8, 4), 0xffffffff, "the platform block reads all ones");
    is_int(cc_vm_unknown_io_count(vm), unknown + 2, "the platform block is not unknown I/O");

    /* the I/O bus refuses to shadow a built-in device */
    static const struct cc_io_ops none = {NULL, NULL};
    ok(cc_vm_add_pio(vm, 0x40, 4, &none, NULL, &err) == -EBUSY && strstr(err.msg, "built-in PIT"),
       "a range over the PIT is refused: %s", err.msg);

    /* the SDK extension: attached, header written, the port doorbell works */
    ok(cc_vm_ext(vm, &cc_sdk_ext_ops) != NULL, "the SDK extension is attached by default");
    const struct cc_proto_header *h = cc_vm_gpa(vm, CC_PROTO_HEADER_GPA, sizeof(*h));
    ok(h && h->magic == CC_PROTO_MAGIC && !(h->flags & CC_PROTO_F_HYPERCALL),
       "its header page is written (no hypercall doorbell without KVM)");
    struct cc_proto_mailbox *mb = cc_vm_gpa(vm, CC_PROTO_MAILBOX_GPA, sizeof(*mb));
    mb->op = CC_OP_PING;
    mb->status = 12345;
    out(vm, CC_PORT_SDK, 4, 0);
    struct cc_sdk_stats st;
    cc_vm_sdk_stats(vm, &st);
    ok(mb->status == 0 && st.port_calls == 1 && st.calls == 1, "a ping through the port doorbell");
    out(vm, CC_PORT_SDK, 1, 0);
    cc_vm_sdk_stats(vm, &st);
    is_int(st.port_calls, 1, "a byte write to the doorbell is ignored");
    out(vm, CC_PORT_SDK, 4, 100000);
    cc_vm_sdk_stats(vm, &st);
    ok(st.bad_calls == 1, "a doorbell for a mailbox that does not exist is refused");

    struct cc_run_result res;
    ok(cc_vm_run(vm, NULL, &res, &err) == -ENODEV && strstr(err.msg, "without KVM"),
       "it cannot run: %s", err.msg);
    cc_vm_destroy(vm);

    /* no extensions at all */
    cfg.exts = cc_vm_no_exts;
    ok(cc_vm_create(&cfg, &vm, &err) == 0 && !cc_vm_ext(vm, &cc_sdk_ext_ops),
       "a VM with cc_vm_no_exts has no SDK");
    unknown = cc_vm_unknown_io_count(vm);
    out(vm, CC_PORT_SDK, 4, 0);
    is_int(cc_vm_unknown_io_count(vm), unknown + 1, "and its doorbell port is unknown I/O");
    cc_vm_destroy(vm);
    return tap_exit();
}
