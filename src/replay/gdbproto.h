/* The GDB remote protocol's framing (gdbproto.c): $data#cs packets with
 * +/- acknowledgements (until QStartNoAckMode), 0x03 interrupts, binary
 * escapes. Pure functions plus blocking I/O on a socket. */
#ifndef CC_REPLAY_GDBPROTO_H
#define CC_REPLAY_GDBPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GDB_MAX_PACKET 16384

struct gdb_conn {
    int fd;
    bool noack;
    bool interrupt;             /* a 0x03 arrived */
    uint8_t in[4096];
    size_t in_pos, in_len;
    uint64_t packets;
};

/* Read the next packet into buf (NUL-terminated, escapes undone): its
 * length, 0 for an empty packet, -1 when the connection closed or broke.
 * A 0x03 outside a packet sets c->interrupt. */
long gdb_read_packet(struct gdb_conn *c, char *buf, size_t cap);
/* Send data as one packet (escaping what must be); false on I/O error. */
bool gdb_send(struct gdb_conn *c, const char *data, size_t len);
bool gdb_send_str(struct gdb_conn *c, const char *s);
/* A pending 0x03 without blocking (for a running replay). */
bool gdb_poll_interrupt(struct gdb_conn *c);

/* Decoding helpers: hex digits to a value (stops at the first non-hex
 * character; *end after it); false for no digit at all. */
bool gdb_hex_u64(const char *s, uint64_t *v, const char **end);
void gdb_hex_encode(char *out, const void *data, size_t len);   /* 2*len chars + NUL */
/* Decode 2*n hex characters; false when not hex. */
bool gdb_hex_decode(const char *s, void *out, size_t n);

/* The amd64 'g' packet of GDB's default x86-64 description (core + SSE):
 * 16 GPRs, rip, eflags, 6 segment selectors, 8 x87 registers of 10 bytes,
 * 8 x87 control words, 16 XMM registers, MXCSR. */
#define GDB_AMD64_G_BYTES 536

#endif
