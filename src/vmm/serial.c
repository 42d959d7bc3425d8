/* Serial capture: everything the guest writes to COM1 is kept in memory
 * (hashed for verify, searched for run_until patterns) and optionally copied
 * to a file descriptor; host input waits in a queue until the UART's
 * receiver has room. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm_internal.h"

void serial_tx(void *opaque, uint8_t byte)
{
    struct cc_vm *vm = opaque;
    struct cc_serial *s = &vm->serial;
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 65536;
        uint8_t *n = realloc(s->buf, cap);
        if (!n)
            return;     /* capture lost, the guest is unaffected */
        s->buf = n;
        s->cap = cap;
    }
    s->buf[s->len++] = byte;
    if (s->fd >= 0) {
        ssize_t r;
        do {
            r = write(s->fd, &byte, 1);
        } while (r < 0 && errno == EINTR);
    }
    if (s->pattern && !s->matched && s->len >= s->search_from + s->pattern_len &&
        byte == (uint8_t)s->pattern[s->pattern_len - 1] &&
        !memcmp(s->buf + s->len - s->pattern_len, s->pattern, s->pattern_len))
        s->matched = true;
}

const uint8_t *cc_vm_serial(const struct cc_vm *vm, size_t *len)
{
    *len = vm->serial.len;
    return vm->serial.buf;
}

uint64_t cc_vm_serial_hash(const struct cc_vm *vm)
{
    return XXH3_64bits(vm->serial.buf, vm->serial.len);
}

/* Move queued host input into the UART as far as its receiver has room. */
void serial_feed(struct cc_vm *vm)
{
    struct cc_serial *s = &vm->serial;
    if (!s->in_len)
        return;
    size_t n = uart_rx_push(&vm->uart, s->in, s->in_len);
    if (n) {
        memmove(s->in, s->in + n, s->in_len - n);
        s->in_len -= n;
    }
}

size_t cc_vm_serial_input(struct cc_vm *vm, const void *data, size_t len)
{
    struct cc_serial *s = &vm->serial;
    if (s->in_len + len > s->in_cap) {
        size_t cap = s->in_cap ? s->in_cap : 256;
        while (cap < s->in_len + len)
            cap *= 2;
        uint8_t *n = realloc(s->in, cap);
        if (!n)
            return 0;
        s->in = n;
        s->in_cap = cap;
    }
    memcpy(s->in + s->in_len, data, len);
    s->in_len += len;
    serial_feed(vm);
    return len;
}
