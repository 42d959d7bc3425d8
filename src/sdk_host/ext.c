/* The SDK host as a VM extension (chaoscontrol/vm_ext.h): per-VM state
 * made at attach, the header page the guest reads, the two doorbells (port
 * CC_PORT_SDK and the KVM_HC_MAP_GPA_RANGE hypercall where the host passes
 * it to user space), reseeding, and the extension's operations table. The
 * VMM knows none of this: it attaches the extensions of a VM's
 * configuration (by default cc_vm_default_exts, which holds this one). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/platform.h"
#include "sdk_state.h"

#define KVM_ENOSYS_     1000            /* KVM's -KVM_ENOSYS for unknown hypercalls */

/* ---- the header page ---- */

void sdk_write_header(struct cc_sdk *s)
{
    struct cc_proto_header *h = cc_vm_gpa_w(s->vm, CC_PROTO_HEADER_GPA,
                                            offsetof(struct cc_proto_header, mailbox_owner));
    if (!h)
        return;
    /* Only the VMM's half: the owner words belong to the guest. */
    memset(h, 0, offsetof(struct cc_proto_header, mailbox_owner));
    h->magic = CC_PROTO_MAGIC;
    h->version = CC_PROTO_VERSION;
    h->flags = (s->hypercall_enabled ? CC_PROTO_F_HYPERCALL : 0) |
               (s->vmmcall ? CC_PROTO_F_VMMCALL : 0) |
               (s->opt.trigger == CC_SDK_TRIGGER_PORT ? CC_PROTO_F_FORCE_PORT : 0);
    h->header_size = sizeof(struct cc_proto_header);
    h->port = CC_PROTO_PORT;
    h->hypercall_nr = CC_PROTO_HYPERCALL_NR;
    h->mailbox_count = CC_PROTO_MAILBOXES;
    h->mailbox_gpa = CC_PROTO_MAILBOX_GPA;
    h->mailbox_size = CC_PROTO_MAILBOX_SIZE;
    h->coverage_gpa = CC_PROTO_COVERAGE_GPA;
    h->coverage_size = CC_PROTO_COVERAGE_SIZE;
    h->table_gpa = CC_PROTO_TABLE_GPA;
    h->table_slots = CC_PROTO_SLOTS;
    h->slot_size = CC_PROTO_SLOT_SIZE;
}

/* ---- the doorbells ---- */

/* Port CC_PORT_SDK: a 32-bit write rings mailbox `value`; other accesses
 * do nothing (reads see all ones). */
static void port_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    struct cc_sdk *s = opaque;
    if (off != 0 || size != 4)
        return;
    uint32_t value;
    memcpy(&value, data, 4);
    s->stats.port_calls++;
    sdk_mailbox(s, value);
}

static const struct cc_io_ops port_ops = {NULL, port_write};

/* KVM_HC_MAP_GPA_RANGE(gpa, npages, attrs): gpa is a mailbox's address,
 * npages 1. Returns the mailbox status, or -KVM_ENOSYS for anything else. */
static uint64_t hypercall(void *opaque, uint64_t nr, const uint64_t args[6])
{
    struct cc_sdk *s = opaque;
    uint64_t gpa = args[0], npages = args[1];
    if (nr != CC_PROTO_HYPERCALL_NR || npages != 1 || gpa < CC_PROTO_MAILBOX_GPA ||
        (gpa - CC_PROTO_MAILBOX_GPA) % CC_PROTO_MAILBOX_SIZE ||
        (gpa - CC_PROTO_MAILBOX_GPA) / CC_PROTO_MAILBOX_SIZE >= CC_PROTO_MAILBOXES)
        return (uint64_t)-(int64_t)KVM_ENOSYS_;
    s->stats.hypercall_calls++;
    int st = sdk_mailbox(s, (uint32_t)((gpa - CC_PROTO_MAILBOX_GPA) / CC_PROTO_MAILBOX_SIZE));
    return (uint64_t)(int64_t)st;
}

/* ---- the extension ---- */

static void sdk_free(struct cc_sdk *s)
{
    catalog_free(&s->cat);
    free(s->view);
    free(s->failure_details);
    sdk_events_free(s);
    sdk_guidance_free(s);
    free(s->ch);
    free(s->ov);
    free(s->replay);
    for (unsigned i = 0; i < CC_PROTO_MAILBOXES; i++)
        free(s->stage[i].p);
    free(s);
}

static int attach(struct cc_vm *vm, void **state, struct cc_err *err)
{
    struct cc_sdk *s = calloc(1, sizeof(*s));
    if (!s)
        return cc_err_set(err, ENOMEM, "out of memory for the SDK state");
    s->vm = vm;
    s->opt.stop_on_failure = true;
    catalog_init(&s->cat);
    rng_init(&s->rng, cc_vm_seed(vm), "sdk-random");
    int rc = cc_vm_add_pio(vm, CC_PORT_SDK, 4, &port_ops, s, err);
    if (rc < 0) {
        sdk_free(s);
        return rc;
    }
    /* The hypercall doorbell where KVM passes KVM_HC_MAP_GPA_RANGE to us;
     * otherwise guests use the port. */
    struct cc_err hc_err = {0};
    s->hypercall_enabled = cc_vm_set_hypercall(vm, CC_PROTO_HYPERCALL_NR, hypercall, s,
                                               &hc_err) == 0;
    struct cc_host_caps caps;
    cc_vm_host_caps(vm, &caps);
    s->vmmcall = caps.amd;      /* AMD/Hygon: VMMCALL, else VMCALL */
    s->stats.hypercall_enabled = s->hypercall_enabled;
    sdk_write_header(s);
    *state = s;
    return 0;
}

static void detach(void *state)
{
    sdk_free(state);
}

static void reseed(void *state, uint64_t seed)
{
    struct cc_sdk *s = state;
    rng_init(&s->rng, seed, "sdk-random");
}

const struct cc_vm_ext_ops cc_sdk_ext_ops = {
    .name = "sdk",
    .tag = CC_VM_EXT_TAG('S', 'D', 'K', ' '),
    .attach = attach,
    .detach = detach,
    .save = sdk_save,
    .load = sdk_load,
    .reseed = reseed,
};

void cc_vm_sdk_reseed(struct cc_vm *vm, uint64_t seed)
{
    struct cc_sdk *s = sdk_of(vm);
    if (s)
        reseed(s, seed);
}
