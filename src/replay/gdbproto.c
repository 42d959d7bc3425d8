/* The GDB remote protocol's framing (gdbproto.h). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gdbproto.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool gdb_hex_u64(const char *s, uint64_t *v, const char **end)
{
    uint64_t x = 0;
    const char *p = s;
    while (hexval((unsigned char)*p) >= 0 && p - s < 16)
        x = x << 4 | (uint64_t)hexval((unsigned char)*p++);
    if (end)
        *end = p;
    *v = x;
    return p != s && hexval((unsigned char)*p) < 0;
}

void gdb_hex_encode(char *out, const void *data, size_t len)
{
    static const char d[] = "0123456789abcdef";
    const uint8_t *b = data;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * len] = 0;
}

bool gdb_hex_decode(const char *s, void *out, size_t n)
{
    uint8_t *o = out;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval((unsigned char)s[2 * i]);
        int lo = hi < 0 ? -1 : hexval((unsigned char)s[2 * i + 1]);
        if (lo < 0)
            return false;
        o[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* One byte, blocking; -1 at end or error. */
static int get_byte(struct gdb_conn *c)
{
    if (c->in_pos == c->in_len) {
        ssize_t n;
        do
            n = read(c->fd, c->in, sizeof(c->in));
        while (n < 0 && errno == EINTR);
        if (n <= 0)
            return -1;
        c->in_pos = 0;
        c->in_len = (size_t)n;
    }
    return c->in[c->in_pos++];
}

static bool write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

long gdb_read_packet(struct gdb_conn *c, char *buf, size_t cap)
{
    for (;;) {
        int ch;
        do {
            ch = get_byte(c);
            if (ch == 0x03)
                c->interrupt = true;
        } while (ch >= 0 && ch != '$');
        if (ch < 0)
            return -1;
        size_t n = 0;
        uint8_t sum = 0;
        bool esc = false, over = false;
        while ((ch = get_byte(c)) >= 0 && ch != '#') {
            sum = (uint8_t)(sum + ch);
            uint8_t v = (uint8_t)ch;
            if (esc) {
                v ^= 0x20;
                esc = false;
            } else if (ch == '}') {
                esc = true;
                continue;
            }
            if (n + 1 < cap)
                buf[n++] = (char)v;
            else
                over = true;
        }
        int h1 = ch < 0 ? -1 : get_byte(c), h2 = h1 < 0 ? -1 : get_byte(c);
        if (h2 < 0)
            return -1;
        buf[n] = 0;
        bool ok = hexval(h1) >= 0 && hexval(h2) >= 0 &&
                  (uint8_t)(hexval(h1) << 4 | hexval(h2)) == sum && !over;
        if (!c->noack && !write_all(c->fd, ok ? "+" : "-", 1))
            return -1;
        if (ok || c->noack) {
            c->packets++;
            return (long)n;
        }
    }
}

bool gdb_send(struct gdb_conn *c, const char *data, size_t len)
{
    static char out[2 * GDB_MAX_PACKET + 8];
    size_t n = 0;
    uint8_t sum = 0;
    out[n++] = '$';
    for (size_t i = 0; i < len && n < sizeof(out) - 8; i++) {
        uint8_t ch = (uint8_t)data[i];
        if (ch == '$' || ch == '#' || ch == '}' || ch == '*') {
            out[n++] = '}';
            sum = (uint8_t)(sum + '}');
            ch ^= 0x20;
        }
        out[n++] = (char)ch;
        sum = (uint8_t)(sum + ch);
    }
    static const char d[] = "0123456789abcdef";
    out[n++] = '#';
    out[n++] = d[sum >> 4];
    out[n++] = d[sum & 15];
    for (int tries = 0; tries < 5; tries++) {
        if (!write_all(c->fd, out, n))
            return false;
        if (c->noack)
            return true;
        int ch;
        do {
            ch = get_byte(c);
            if (ch == 0x03)
                c->interrupt = true;
        } while (ch >= 0 && ch != '+' && ch != '-');
        if (ch == '+')
            return true;
        if (ch < 0)
            return false;
    }
    return false;
}

bool gdb_send_str(struct gdb_conn *c, const char *s)
{
    return gdb_send(c, s, strlen(s));
}

bool gdb_poll_interrupt(struct gdb_conn *c)
{
    if (c->interrupt)
        return true;
    while (c->in_pos < c->in_len) {
        if (c->in[c->in_pos] == 0x03) {
            c->in_pos++;
            c->interrupt = true;
            return true;
        }
        if (c->in[c->in_pos] == '$')
            return false;
        c->in_pos++;
    }
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
        return false;
    uint8_t b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 1 && b == 0x03) {
        (void)!recv(c->fd, &b, 1, MSG_DONTWAIT);
        c->interrupt = true;
    }
    return c->interrupt;
}
