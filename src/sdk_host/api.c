/* The public accessors of the SDK host (chaoscontrol/sdk_host.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/platform.h"
#include "sdk_state.h"

/* ---- public accessors ---- */

const struct cc_assertion *cc_vm_assertions(struct cc_vm *vm, size_t *n)
{
    struct cc_sdk *s = sdk_of(vm);
    *n = 0;
    if (!s)
        return NULL;
    sdk_sync(s);
    *n = s->view || !s->cat.n ? s->cat.n : 0;
    return s->view;
}

const struct cc_sdk_failure *cc_vm_sdk_failure(struct cc_vm *vm)
{
    struct cc_sdk *s = sdk_of(vm);
    return s && s->failed ? &s->failure : NULL;
}

const struct cc_sdk_event *cc_vm_sdk_events(struct cc_vm *vm, size_t *n)
{
    struct cc_sdk *s = sdk_of(vm);
    *n = s ? s->nev : 0;
    return s ? s->ev : NULL;
}

const struct cc_guidance *cc_vm_guidance(struct cc_vm *vm, size_t *n)
{
    struct cc_sdk *s = sdk_of(vm);
    *n = s ? s->ngd : 0;
    return s ? s->gd : NULL;
}

const struct cc_choice *cc_vm_choices(struct cc_vm *vm, size_t *n)
{
    struct cc_sdk *s = sdk_of(vm);
    *n = s ? s->nch : 0;
    return s ? s->ch : NULL;
}

struct ov_pos {
    uint64_t index, value;
    size_t pos;
};

static int ov_cmp(const void *a, const void *b)
{
    const struct ov_pos *x = a, *y = b;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int cc_vm_sdk_set_script(struct cc_vm *vm, const struct cc_choice_script *sc, struct cc_err *err)
{
    struct cc_sdk *s = sdk_of(vm);
    if (!s)
        return cc_err_set(err, EINVAL, "this VM has no SDK state");
    struct cc_choice_override *ov = NULL;
    uint64_t *rp = NULL;
    size_t nov = 0, nrp = 0;
    if (sc && sc->n_overrides) {
        /* Sorted by index; when an index repeats, the last one given wins. */
        struct ov_pos *t = malloc(sc->n_overrides * sizeof(*t));
        ov = malloc(sc->n_overrides * sizeof(*ov));
        if (!t || !ov) {
            free(t);
            free(ov);
            return cc_err_set(err, ENOMEM, "out of memory for the choice script");
        }
        for (size_t i = 0; i < sc->n_overrides; i++)
            t[i] = (struct ov_pos){sc->overrides[i].index, sc->overrides[i].value, i};
        qsort(t, sc->n_overrides, sizeof(*t), ov_cmp);
        for (size_t i = 0; i < sc->n_overrides; i++) {
            if (nov && ov[nov - 1].index == t[i].index)
                ov[nov - 1].value = t[i].value;
            else
                ov[nov++] = (struct cc_choice_override){t[i].index, t[i].value};
        }
        free(t);
    }
    if (sc && sc->n_replay) {
        rp = malloc(sc->n_replay * sizeof(*rp));
        if (!rp) {
            free(ov);
            return cc_err_set(err, ENOMEM, "out of memory for the choice script");
        }
        memcpy(rp, sc->replay, sc->n_replay * sizeof(*rp));
        nrp = sc->n_replay;
    }
    free(s->ov);
    free(s->replay);
    s->ov = ov;
    s->nov = nov;
    s->replay = rp;
    s->nreplay = nrp;
    return 0;
}

void cc_vm_sdk_get_options(struct cc_vm *vm, struct cc_sdk_options *o)
{
    struct cc_sdk *s = sdk_of(vm);
    if (s)
        *o = s->opt;
    else
        memset(o, 0, sizeof(*o));
}

void cc_vm_sdk_set_options(struct cc_vm *vm, const struct cc_sdk_options *o)
{
    struct cc_sdk *s = sdk_of(vm);
    if (!s)
        return;
    s->opt = *o;
    sdk_write_header(s);
}

void cc_vm_sdk_stats(struct cc_vm *vm, struct cc_sdk_stats *st)
{
    struct cc_sdk *s = sdk_of(vm);
    if (s)
        *st = s->stats;
    else
        memset(st, 0, sizeof(*st));
}


const char *cc_sdk_event_kind_name(uint32_t kind)
{
    switch (kind) {
    case CC_SDK_EV_HELLO: return "hello";
    case CC_SDK_EV_CATALOG: return "catalog";
    case CC_SDK_EV_SETUP: return "setup_complete";
    case CC_SDK_EV_EVENT: return "event";
    case CC_SDK_EV_FAILURE: return "assertion_failed";
    case CC_SDK_EV_GUIDANCE: return "guidance";
    case CC_SDK_EV_SDK_INFO: return "sdk_info";
    }
    return "?";
}

const char *cc_choice_kind_name(uint32_t kind)
{
    switch (kind) {
    case CC_CHOICE_U64: return "u64";
    case CC_CHOICE_CHOICE: return "choice";
    case CC_CHOICE_BYTES: return "bytes";
    }
    return "?";
}

