/* Growable byte buffer and bounds-checked reader, used for snapshot
 * sections and other binary formats. Multi-byte values are little-endian.
 *
 * Writer: cc_buf_put_* never fail silently: on allocation failure the buffer
 * is marked failed (b->oom) and later puts are ignored; check buf_ok().
 * Reader: cc_rd_get_* return false once the input is exhausted and leave
 * r->short_read set, so a decoder can read a whole record and check once.
 */
#ifndef CC_UTIL_BUF_H
#define CC_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"

struct cc_buf {
    uint8_t *data;
    size_t len, cap;
    bool oom;
};

void buf_init(struct cc_buf *b);
void buf_free(struct cc_buf *b);
bool buf_ok(const struct cc_buf *b);
void buf_put(struct cc_buf *b, const void *p, size_t n);
void buf_put_u8(struct cc_buf *b, uint8_t v);
void buf_put_u16(struct cc_buf *b, uint16_t v);
void buf_put_u32(struct cc_buf *b, uint32_t v);
void buf_put_u64(struct cc_buf *b, uint64_t v);
void buf_put_bool(struct cc_buf *b, bool v);
/* A string as its u32 length and its bytes (no terminator). */
void buf_put_str(struct cc_buf *b, const char *s);

struct cc_rd {
    const uint8_t *p;
    size_t len, pos;
    bool short_read;
};

void rd_init(struct cc_rd *r, const void *p, size_t len);
bool rd_get(struct cc_rd *r, void *out, size_t n);
uint8_t rd_u8(struct cc_rd *r);
uint16_t rd_u16(struct cc_rd *r);
uint32_t rd_u32(struct cc_rd *r);
uint64_t rd_u64(struct cc_rd *r);
bool rd_bool(struct cc_rd *r);
/* True when everything read so far was present. */
bool rd_ok(const struct cc_rd *r);
size_t rd_left(const struct cc_rd *r);

/* A state record's version byte. Versions grow by appending fields, so a
 * reader takes every version from 1 up to its own (giving the fields an
 * older writer did not know their defaults) and refuses a newer one with a
 * message saying so. Returns the version (>= 1), or -EINVAL with err set:
 * "WHAT: state truncated", "WHAT: invalid state version 0", or "WHAT: state
 * version N is newer than this build reads (up to M): ...". */
int rd_version(struct cc_rd *in, unsigned current, const char *what, struct cc_err *err);

#endif
