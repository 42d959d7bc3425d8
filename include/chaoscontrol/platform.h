/* The ChaosControl virtual platform: fixed addresses and ports shared by the
 * VMM, the guest-kernel patches and the guest SDK. */
#ifndef CHAOSCONTROL_PLATFORM_H
#define CHAOSCONTROL_PLATFORM_H

/* Port block 0x0CC0-0x0CCF (unused on PC hardware). */
#define CC_PORT_BASE        0x0cc0
#define CC_PORT_POWEROFF    0x0cc0   /* any write: power off (kernel patch) */
#define CC_PORT_SDK         0x0cc4   /* 32-bit write: guest SDK doorbell (mailbox index);
                                        sdk/chaoscontrol_protocol.h */
#define CC_PORT_STATUS      0x0cc8   /* 32-bit write: the guest's exit status, told
                                        before it powers off (cc-init, cc_vm_exit_status) */
#define CC_PORT_YIELD       0x0ccc   /* 32-bit write, SMP guests (kernel/patches/0005,
                                        enabled by the cc_pv_yield boot parameter):
                                        0 = this vCPU spins (cpu_relax), let another
                                        run; N > 0 = this vCPU delays N virtual ns
                                        (udelay/ndelay): it sleeps that long while
                                        the others run */
#define CC_PORT_LEN         0x10

/* The virtual clock (kernel/patches/0004): a 4 KiB MMIO page whose every
 * read is an exit answered from the virtual clock.
 *   +0x00 u64 virtual nanoseconds since power-on
 *   +0x08 u64 CC_CLOCK_MAGIC ("CCCLOCK1")
 *   +0x10 u64 the virtual TSC (nanoseconds at the VM's TSC frequency) */
#define CC_CLOCK_GPA        0xfeb00000ull
#define CC_CLOCK_MAGIC      0x314b434f4c434343ull
#define CC_CLOCK_NS         0x00
#define CC_CLOCK_MAGIC_OFF  0x08
#define CC_CLOCK_TSC        0x10

/* The clock's shared page: guest RAM (its own memory slot) right after the
 * MMIO page, which the VMM writes before every VM entry, so most clock
 * reads need no exit (the guest reads the MMIO page only when this value
 * has not moved for a while; see kernel/patches/README.md).
 *   +0x00 u64 virtual nanoseconds at the last VM entry
 *   +0x08 u64 CC_CLOCK_SHARED_MAGIC ("CCSHARE1") */
#define CC_CLOCK_SHARED_GPA   (CC_CLOCK_GPA + 0x1000)
#define CC_CLOCK_SHARED_MAGIC 0x3145524148534343ull

/* Physical address where the kernel is loaded (bzImage pref_address). */
#define CC_KERNEL_LOAD_GPA  0x1000000ull

#endif
