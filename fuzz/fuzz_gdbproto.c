/* Fuzz target: the GDB remote protocol's framing (src/replay/gdbproto.c),
 * what `chaoscontrol debug` reads from its client. The input is what the
 * client sends: it goes through a socket pair to gdb_read_packet until the
 * end, in ack mode (the first input byte even) or no-ack mode. Checked:
 * every packet read fits its buffer and is NUL-terminated; the hex
 * helpers decode what they are given without reading past it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "replay/gdbproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sp[2];
    if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
        return 0;
    struct gdb_conn c;
    memset(&c, 0, sizeof(c));
    c.fd = sp[0];
    c.noack = size && (data[0] & 1);
    /* a writer process would be simpler; the socket buffer holds 60 kB */
    if (size && write(sp[1], data, size) != (ssize_t)size) {
        close(sp[0]);
        close(sp[1]);
        return 0;
    }
    shutdown(sp[1], SHUT_WR);
    char buf[512];
    long n;
    while ((n = gdb_read_packet(&c, buf, sizeof(buf))) >= 0) {
        if ((size_t)n >= sizeof(buf) || buf[n] != 0)
            abort();
        uint64_t v;
        const char *end;
        gdb_hex_u64(buf, &v, &end);
        if (end < buf || end > buf + n)
            abort();
        uint8_t out[256];
        gdb_hex_decode(buf, out, (size_t)n / 2 < sizeof(out) ? (size_t)n / 2 : sizeof(out));
    }
    close(sp[0]);
    close(sp[1]);
    return 0;
}
