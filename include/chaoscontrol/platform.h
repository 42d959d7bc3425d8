/* The ChaosControl virtual platform: fixed addresses and ports shared by the
 * VMM, the guest-kernel patches and the guest SDK. */
#ifndef CHAOSCONTROL_PLATFORM_H
#define CHAOSCONTROL_PLATFORM_H

/* Port block 0x0CC0-0x0CCF (unused on PC hardware). */
#define CC_PORT_BASE        0x0cc0
#define CC_PORT_POWEROFF    0x0cc0   /* any write: power off (kernel patch) */
#define CC_PORT_SDK         0x0cc4   /* 32-bit write: guest SDK doorbell (mailbox index);
                                        sdk/chaoscontrol_protocol.h */
#define CC_PORT_LEN         0x10

/* Physical address where the kernel is loaded (bzImage pref_address). */
#define CC_KERNEL_LOAD_GPA  0x1000000ull

#endif
