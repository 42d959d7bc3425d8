/* libFuzzer target: the SDK host's mailbox handler (src/sdk_host/), which
 * reads requests a guest wrote into its memory and is rung through a port.
 * The guest is the adversary: the input controls the mailboxes, the state
 * table and the order of doorbells. The VM is one without KVM (no_kvm), so
 * the doorbell goes through the same I/O bus a guest's OUT would use
 * (cc_vm_io).
 *
 *   byte 0        number of operations N (at most 64)
 *   3 * N bytes   operations: kind, index, arg
 *   the rest      a pool of bytes that operations copy into guest memory
 *
 * Operations (kind % 6):
 *   0  ring the doorbell with mailbox index (index % 52: some do not exist)
 *   1  fill mailbox (index % 4) with the next 4096 pool bytes (short pools
 *      are zero-padded), the op word set to arg % 12
 *   2  write 32 pool bytes over state table slot (index * 256 + arg)
 *   3  snapshot round trip: save, load, save: both records identical
 *   4  read everything back: assertions, failure, events, guidance,
 *      choices, the JSON report (valid UTF-8 JSON text or NULL)
 *   5  set options and a choice script from arg
 * After every operation: the VM is intact (its header page still says
 * CHAOSDK1, the handler never wrote outside the SDK area). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/platform.h"
#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol/vm.h"
#include "chaoscontrol/vm_ext.h"
#include "chaoscontrol_protocol.h"

#define MEM (2u << 20)

struct pool {
    const uint8_t *p;
    size_t n, at;
};

static void take(struct pool *pl, uint8_t *out, size_t len)
{
    size_t k = pl->n - pl->at < len ? pl->n - pl->at : len;
    memcpy(out, pl->p + pl->at, k);
    memset(out + k, 0, len - k);
    pl->at += k;
}

static void round_trip(struct cc_vm *vm)
{
    const struct cc_vm_ext_ops *x = &cc_sdk_ext_ops;
    void *st = cc_vm_ext(vm, x);
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    struct cc_err err = {0};
    if (x->save(st, &a, &na, &err) < 0)
        abort();
    if (x->load(st, a, na, &err) < 0)
        abort();        /* our own record must load */
    if (x->save(st, &b, &nb, &err) < 0 || na != nb || memcmp(a, b, na))
        abort();        /* and come back the same */
    /* a truncated record is refused, the state untouched */
    if (na > 8 && x->load(st, a, na / 2, &err) == 0)
        abort();
    free(b);
    b = NULL;
    if (x->save(st, &b, &nb, &err) < 0 || na != nb || memcmp(a, b, na))
        abort();
    free(a);
    free(b);
}

static void readers(struct cc_vm *vm)
{
    size_t n;
    const struct cc_assertion *a = cc_vm_assertions(vm, &n);
    for (size_t i = 0; i < n; i++)
        if (!a[i].message || !a[i].file || !a[i].function)
            abort();
    const struct cc_sdk_failure *f = cc_vm_sdk_failure(vm);
    if (f && !f->details)
        abort();
    const struct cc_sdk_event *ev = cc_vm_sdk_events(vm, &n);
    for (size_t i = 0; i < n; i++)
        if (!ev[i].name || !ev[i].details || ev[i].seq != i)
            abort();
    cc_vm_guidance(vm, &n);
    cc_vm_choices(vm, &n);
    char *j = cc_vm_sdk_json(vm);
    if (j && j[0] != '{')
        abort();
    free(j);
}

static void options(struct cc_vm *vm, uint8_t arg)
{
    struct cc_sdk_options o;
    cc_vm_sdk_get_options(vm, &o);
    o.stop_on_failure = arg & 1;
    o.stop_on_setup = arg & 2;
    o.trigger = arg & 4 ? CC_SDK_TRIGGER_PORT : CC_SDK_TRIGGER_AUTO;
    cc_vm_sdk_set_options(vm, &o);
    struct cc_choice_override ov[2] = {{arg >> 4, arg}, {arg & 7, (uint64_t)arg << 40}};
    uint64_t replay[3] = {arg, 0, UINT64_MAX};
    struct cc_choice_script sc = {ov, (arg >> 3) & 2, replay, arg % 4};
    struct cc_err err = {0};
    cc_vm_sdk_set_script(vm, (arg & 0x80) ? NULL : &sc, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned nops = data[0] % 65;
    if (size < 1 + 3 * (size_t)nops)
        return 0;
    struct pool pl = {data + 1 + 3 * nops, size - 1 - 3 * nops, 0};

    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.mem_size = MEM;
    cfg.no_kvm = true;
    cfg.seed = data[0];
    struct cc_vm *vm = NULL;
    struct cc_err err = {0};
    if (cc_vm_create(&cfg, &vm, &err) < 0) {
        fprintf(stderr, "fuzz_sdk_mailbox: %s\n", err.msg);
        abort();
    }
    for (unsigned i = 0; i < nops; i++) {
        const uint8_t *op = data + 1 + 3 * i;
        uint8_t idx = op[1], arg = op[2];
        switch (op[0] % 6) {
        case 0:
            cc_vm_io(vm, false, CC_PORT_SDK, 4, true, idx % 52);
            break;
        case 1: {
            uint8_t *mb = cc_vm_gpa_w(vm, CC_PROTO_MAILBOX_GPA +
                                      (uint64_t)(idx % 4) * CC_PROTO_MAILBOX_SIZE,
                                      CC_PROTO_MAILBOX_SIZE);
            take(&pl, mb, CC_PROTO_MAILBOX_SIZE);
            ((struct cc_proto_mailbox *)mb)->op = arg % 12;
            break;
        }
        case 2: {
            uint64_t slot = ((uint64_t)idx * 256 + arg) % CC_PROTO_SLOTS;
            uint8_t *s = cc_vm_gpa_w(vm, CC_PROTO_TABLE_GPA + slot * CC_PROTO_SLOT_SIZE,
                                     CC_PROTO_SLOT_SIZE);
            take(&pl, s, CC_PROTO_SLOT_SIZE);
            break;
        }
        case 3:
            round_trip(vm);
            break;
        case 4:
            readers(vm);
            break;
        case 5:
            options(vm, arg);
            break;
        }
        const struct cc_proto_header *h = cc_vm_gpa(vm, CC_PROTO_HEADER_GPA, sizeof(*h));
        if (!h || h->magic != CC_PROTO_MAGIC)
            abort();
    }
    readers(vm);
    cc_vm_destroy(vm);
    return 0;
}
