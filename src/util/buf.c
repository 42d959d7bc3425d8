/* Byte buffer and reader for binary formats (see buf.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void buf_init(struct cc_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void buf_free(struct cc_buf *b)
{
    free(b->data);
    buf_init(b);
}

bool buf_ok(const struct cc_buf *b)
{
    return !b->oom;
}

void buf_put(struct cc_buf *b, const void *p, size_t n)
{
    if (b->oom || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->oom = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void buf_put_u8(struct cc_buf *b, uint8_t v)
{
    buf_put(b, &v, 1);
}

void buf_put_u16(struct cc_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    buf_put(b, x, 2);
}

void buf_put_u32(struct cc_buf *b, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    buf_put(b, x, 4);
}

void buf_put_u64(struct cc_buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    buf_put(b, x, 8);
}

void buf_put_bool(struct cc_buf *b, bool v)
{
    buf_put_u8(b, v ? 1 : 0);
}

void buf_put_str(struct cc_buf *b, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    buf_put_u32(b, n);
    buf_put(b, s, n);
}

void rd_init(struct cc_rd *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->short_read = false;
}

bool rd_get(struct cc_rd *r, void *out, size_t n)
{
    if (n == 0)
        return !r->short_read;
    if (r->short_read || n > r->len - r->pos) {
        r->short_read = true;
        memset(out, 0, n);
        return false;
    }
    memcpy(out, r->p + r->pos, n);
    r->pos += n;
    return true;
}

uint8_t rd_u8(struct cc_rd *r)
{
    uint8_t v;
    rd_get(r, &v, 1);
    return v;
}

uint16_t rd_u16(struct cc_rd *r)
{
    uint8_t x[2];
    rd_get(r, x, 2);
    return (uint16_t)(x[0] | x[1] << 8);
}

uint32_t rd_u32(struct cc_rd *r)
{
    uint8_t x[4];
    rd_get(r, x, 4);
    return (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
}

uint64_t rd_u64(struct cc_rd *r)
{
    uint64_t lo = rd_u32(r);
    uint64_t hi = rd_u32(r);
    return lo | hi << 32;
}

bool rd_bool(struct cc_rd *r)
{
    return rd_u8(r) != 0;
}

bool rd_ok(const struct cc_rd *r)
{
    return !r->short_read;
}

size_t rd_left(const struct cc_rd *r)
{
    return r->len - r->pos;
}

int rd_version(struct cc_rd *in, unsigned current, const char *what, struct cc_err *err)
{
    uint8_t v = rd_u8(in);
    if (!rd_ok(in))
        return cc_err_set(err, EINVAL, "%s: state truncated", what);
    if (v == 0)
        return cc_err_set(err, EINVAL, "%s: invalid state version 0", what);
    if (v > current)
        return cc_err_set(err, EINVAL, "%s: state version %u is newer than this build reads (up "
                          "to %u): use the chaoscontrol that wrote it, or a newer one", what, v,
                          current);
    return v;
}
