/* Fuzz target: the dlog parser (cc_dlog_open_mem, cc_dlog_next; format in
 * src/replay/dlog.c and docs/dlog.md). The input is a whole file. It is
 * parsed twice: as it is, and with its header and block checksums fixed
 * up (each block's XXH3 recomputed, the header's too), since random bytes
 * would otherwise never get past the checksums to the zstd frames and the
 * record decoder. Checked: a refusal names the input; every record read
 * has a known type, a VM index below the header's count, at most
 * CC_DLOG_MAX_REGS registers and a terminated text, and formats as text
 * and JSON without trouble. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "chaoscontrol/dlog.h"

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void parse(const uint8_t *d, size_t len)
{
    struct cc_dlog_reader *r;
    struct cc_err err = {0};
    if (cc_dlog_open_mem(d, len, "fuzz-input", &r, &err) < 0) {
        if (!strstr(err.msg, "fuzz-input"))
            abort();
        return;
    }
    const struct cc_dlog_info *in = cc_dlog_reader_info(r);
    struct cc_dlog_rec *rec = malloc(sizeof(*rec));
    int rc;
    char line[2048];
    while ((rc = cc_dlog_next(r, rec, &err)) > 0) {
        if (rec->type < CC_DLOG_EXIT || rec->type > CC_DLOG_MARK)
            abort();
        if (rec->vm >= in->n_vms && !(rec->type == CC_DLOG_SIM && rec->vm == CC_DLOG_NO_VM))
            abort();
        if (rec->nregs > CC_DLOG_MAX_REGS || strnlen(rec->text, sizeof(rec->text)) ==
                                                 sizeof(rec->text))
            abort();
        cc_dlog_format(rec, line, sizeof(line));
        free(cc_dlog_rec_json(rec));
    }
    if (rc < 0 && !strstr(err.msg, "fuzz-input"))
        abort();
    free(rec);
    cc_dlog_reader_close(r);
}

/* Recompute the header checksum and every block's, as far as the layout
 * can be followed. */
static void fix_sums(uint8_t *d, size_t len)
{
    if (len < 16)
        return;
    uint32_t hl = rd32(d + 12);
    if (hl > 4096 || 16 + (size_t)hl + 8 > len)
        return;
    le64(d + 16 + hl, XXH3_64bits(d, 16 + hl));
    size_t at = 16 + hl + 8;
    while (at + 24 <= len) {
        uint32_t tag = rd32(d + at);
        if (tag == ('D' | 'E' << 8 | 'N' << 16 | (uint32_t)'D' << 24)) {
            if (at + 32 <= len)
                le64(d + at + 24, XXH3_64bits(d + at, 24));
            return;
        }
        uint32_t zl = rd32(d + at + 8);
        if (at + 24 + (size_t)zl > len)
            return;
        XXH3_state_t *st = XXH3_createState();
        XXH3_64bits_reset(st);
        XXH3_64bits_update(st, d + at, 16);
        XXH3_64bits_update(st, d + at + 24, zl);
        le64(d + at + 16, XXH3_64bits_digest(st));
        XXH3_freeState(st);
        at += 24 + zl;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse(data, size);
    uint8_t *c = malloc(size ? size : 1);
    if (size)
        memcpy(c, data, size);
    fix_sums(c, size);
    parse(c, size);
    free(c);
    return 0;
}
