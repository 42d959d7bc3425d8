/* The extensions every VM gets unless its configuration names others
 * (chaoscontrol/vm_ext.h): today the guest SDK's host side. The VMM only
 * iterates this list; it does not know what is in it. */
#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol/vm_ext.h"

const struct cc_vm_ext_ops *const cc_vm_default_exts[] = {&cc_sdk_ext_ops, NULL};
