/* The GDB remote protocol's framing (src/replay/gdbproto.c), the
 * debugger's only parser of outside input: packets and checksums,
 * acknowledgements, a bad checksum answered with '-' and the retransmission
 * taken, binary escapes both ways, 0x03 interrupts inside and outside
 * packets, an oversized packet refused, a peer hanging up mid-packet, and
 * random bytes (never a crash; every packet read is NUL-terminated within
 * the buffer). */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../tap.h"
#include "replay/gdbproto.h"

static int sp[2];

static void put(const char *s, size_t n)
{
    if (write(sp[1], s, n) != (ssize_t)n)
        abort();
}

static void puts_(const char *s)
{
    put(s, strlen(s));
}

static size_t drain(char *buf, size_t cap)
{
    ssize_t n = recv(sp[1], buf, cap - 1, MSG_DONTWAIT);
    buf[n > 0 ? n : 0] = 0;
    return n > 0 ? (size_t)n : 0;
}

static void fresh(struct gdb_conn *c)
{
    if (sp[0] >= 0) {
        close(sp[0]);
        close(sp[1]);
    }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
        abort();
    memset(c, 0, sizeof(*c));
    c->fd = sp[0];
}

int main(void)
{
    tap_plan(0);
    struct gdb_conn c;
    char buf[GDB_MAX_PACKET], out[256];
    sp[0] = sp[1] = -1;

    /* hex helpers */
    uint64_t v;
    const char *end;
    ok(gdb_hex_u64("ffffffff8123c82d,1", &v, &end) && v == 0xffffffff8123c82dull &&
       *end == ',', "hex: a 64-bit address up to the comma");
    ok(gdb_hex_u64("zz", &v, &end) == false && end[0] == 'z', "hex: no digit at all");
    ok(gdb_hex_u64("1f", &v, NULL) && v == 0x1f, "hex: a whole string");
    uint8_t b[3];
    ok(gdb_hex_decode("00ff7a", b, 3) && b[0] == 0 && b[1] == 0xff && b[2] == 0x7a,
       "hex decode");
    ok(!gdb_hex_decode("0g", b, 1), "hex decode refuses a non-hex digit");
    gdb_hex_encode(out, b, 3);
    is_int(strcmp(out, "00ff7a"), 0, "hex encode");

    /* a packet, acknowledged */
    fresh(&c);
    puts_("$qSupported:multiprocess+#c6");
    long n = gdb_read_packet(&c, buf, sizeof(buf));
    ok(n == 24 && !strcmp(buf, "qSupported:multiprocess+"), "a packet is read: %s", buf);
    drain(out, sizeof(out));
    is_int(strcmp(out, "+"), 0, "and acknowledged with +");

    /* a bad checksum: '-', then the retransmission */
    puts_("$g#00$g#67");
    n = gdb_read_packet(&c, buf, sizeof(buf));
    drain(out, sizeof(out));
    ok(n == 1 && buf[0] == 'g' && !strcmp(out, "-+"), "bad checksum: '-' then the good copy "
       "(acks '%s')", out);

    /* 0x03 before a packet, and escapes */
    puts_("\x03$X10,2:}\x03}]#ab");
    n = gdb_read_packet(&c, buf, sizeof(buf));
    ok(c.interrupt, "a 0x03 outside a packet is an interrupt");
    ok(n == 8 && !memcmp(buf, "X10,2:#}", 8), "escapes undone: }\\x03 is '#', }] is '}'");

    /* sending: escapes and checksum; the peer's '+' read */
    c.interrupt = false;
    drain(out, sizeof(out));
    puts_("+");
    ok(gdb_send_str(&c, "a#b$c}d*"), "a packet sent and acknowledged");
    drain(out, sizeof(out));
    is_int(strcmp(out, "$a}\x03" "b}\x04" "c}]d}\x0a#ec"), 0, "sent escaped with its checksum");

    /* no-ack mode */
    c.noack = true;
    ok(gdb_send_str(&c, "OK"), "no-ack mode: no '+' awaited");
    drain(out, sizeof(out));
    is_int(strcmp(out, "$OK#9a"), 0, "OK packet: %s", out);
    puts_("$c#63");
    n = gdb_read_packet(&c, buf, sizeof(buf));
    ok(n == 1 && buf[0] == 'c' && drain(out, sizeof(out)) == 0, "no-ack mode: no '+' sent");

    /* polling for an interrupt while running */
    c.interrupt = false;
    ok(!gdb_poll_interrupt(&c), "no interrupt pending");
    put("\x03", 1);
    ok(gdb_poll_interrupt(&c), "a pending 0x03 is seen without blocking");

    /* an oversized packet is refused ('-'), not overflowed */
    fresh(&c);
    size_t big = GDB_MAX_PACKET + 100;
    char *p = malloc(big + 8);
    p[0] = '$';
    memset(p + 1, 'A', big);
    unsigned sum = (unsigned)'A' * (unsigned)big;
    snprintf(p + 1 + big, 8, "#%02x", sum & 0xff);
    put(p, big + 4);
    free(p);
    puts_("$?#3f");
    n = gdb_read_packet(&c, buf, sizeof(buf));
    drain(out, sizeof(out));
    ok(n == 1 && buf[0] == '?' && !strcmp(out, "-+"), "an oversized packet is refused, the "
       "next one read");

    /* hang-up in the middle of a packet */
    puts_("$m1000,");
    close(sp[1]);
    sp[1] = -1;
    ok(gdb_read_packet(&c, buf, sizeof(buf)) == -1, "a hang-up mid-packet ends the session");
    close(sp[0]);
    sp[0] = -1;

    /* random bytes: no crash, packets always terminated */
    srand(7);
    unsigned packets = 0;
    for (int round = 0; round < 200; round++) {
        fresh(&c);
        c.noack = round & 1;
        char junk[512];
        for (size_t i = 0; i < sizeof(junk); i++)
            junk[i] = (char)(rand() % 7 == 0 ? "$#}+-\x03"[rand() % 6] : rand());
        put(junk, sizeof(junk));
        close(sp[1]);
        sp[1] = -1;
        char small[64];
        long r;
        while ((r = gdb_read_packet(&c, small, sizeof(small))) >= 0) {
            if ((size_t)r >= sizeof(small) || small[r] != 0)
                break;
            packets++;
        }
        if (r >= 0)
            break;
        close(sp[0]);
        sp[0] = -1;
    }
    ok(1, "200 rounds of random bytes read without a crash (%u packets accepted)", packets);
    return tap_exit();
}
