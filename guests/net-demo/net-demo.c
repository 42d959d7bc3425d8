/* net-demo: N nodes (one per VM) exchanging numbered TCP messages, checked
 * with SDK assertions; the workload of the multi-VM simulation tests
 * (chaoscontrol/sim.h). It also reports, as SDK events, what a fault
 * engine's effects look like from inside a guest.
 *
 * Node i (kernel command line cc_vm_id=i, which `chaoscontrol sim` adds)
 * has eth0 = 10.0.0.(i+1)/24 (ARP resolves the peers: broadcast frames
 * cross the simulated switch) and listens on TCP port 7100. It then calls
 * cc_setup_complete, reads and bumps a boot counter on its disk (/dev/vda
 * block 0, if there is a disk), and runs:
 *   - one outgoing TCP connection per peer, reconnecting 200 ms after a
 *     failure; every netdemo_period_ms (100) a message goes out on each:
 *       u32 magic "NDM1", u8 from, u8 to, u16 payload length, u64 seq,
 *       u64 sender's CLOCK_MONOTONIC ns, u64 checksum, payload
 *     with seq counting per peer; the receiver checks the checksum
 *     (ALWAYS "payload integrity") and that seq is the previous one on the
 *     same connection + 1 (ALWAYS "per-connection order"), and answers with
 *     an acknowledgement (u32 "NDA1", u32 0, u64 seq, u64 the sender's time)
 *     from which the sender measures the round trip;
 *   - every netdemo_udp_ms (50; 0 = off) a numbered UDP datagram to each
 *     peer's port 7101 (u32 "NDU1", u32 from, u64 seq, u64 the sender's
 *     CLOCK_MONOTONIC ns), counted on both sides (a loss rate from inside);
 *     the receiver also measures its one-way delay (the VMs' clocks agree
 *     unless a clock fault is applied), and counts datagrams that arrive
 *     after a higher seq (reordered) or a second time (duplicated);
 *   - every netdemo_report_ms (500) an SDK event "netdemo" whose details
 *     are a JSON object: node, boots, mono_ns, real_ns, and per peer (arrays
 *     indexed by node) sent, acked, recv, connects, conn_fail, rtt_last_us,
 *     rtt_max_us, udp_sent, udp_recv, udp_reorder, udp_dup, udp_dsum_us (sum
 *     of one-way delays), udp_dn, udp_dmin_us and udp_dmax_us (count, min
 *     and max of the delays since the previous report); rx_bad (IP header and UDP/TCP checksum
 *     errors from /proc/net/snmp); plus, observations for fault tests:
 *     irq (the 16 ISA lines' counts from /proc/interrupts), nmi,
 *     memtotal_kb, memfree_kb, and a disk probe (write a 4 KiB block at a
 *     rotating offset with O_DIRECT, fdatasync, read it back, compare):
 *     disk_writes, disk_wr_err, disk_rd_err, disk_mismatch, disk_last_errno.
 * Console: one line at setup and one per boot; nothing per message (every
 * console byte is a VM exit).
 *
 * Also runs natively (NETDEMO_LOCAL=1: 127.0.0.1 ports 17100 + i, no disk,
 * SDK local mode) for development. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "chaoscontrol.h"
#include "common/guest.h"

#define MAX_NODES 8
#define TCP_PORT 7100
#define UDP_PORT 7101
#define LOCAL_BASE 17100
#define MSG_MAGIC 0x314d444eu       /* "NDM1" */
#define ACK_MAGIC 0x3141444eu       /* "NDA1" */
#define UDP_MAGIC 0x3155444eu       /* "NDU1" */
#define BOOT_MAGIC 0x544f4f42444e4e44ull    /* "DNNDBOOT" */
#define HDR_LEN 32
#define ACK_LEN 24
#define PAYLOAD 200
#define INBUF 16384
#define OUTBUF 16384
#define RECONNECT_MS 200
#define DISK_BLOCK 4096
#define PROBE_FIRST 64              /* probe blocks 64..127 */
#define PROBE_BLOCKS 64
#define UDP_WINDOW 512              /* seqs remembered for duplicate detection */
#define UDP_LEN 24

struct conn {
    int fd;                     /* -1 when none */
    int peer;                   /* outgoing: the peer; incoming: learned from messages */
    int connecting;
    uint64_t last_seq;          /* incoming: last seq seen on this connection */
    int have_seq;
    uint8_t in[INBUF];
    size_t in_len;
    uint8_t out[OUTBUF];
    size_t out_len;
};

struct peer {
    struct conn out;            /* our connection to it */
    uint64_t next_attempt_ms;
    uint64_t seq;               /* next seq to send */
    uint64_t sent, acked, recv, connects, conn_fail;
    uint64_t rtt_last_us, rtt_max_us;
    uint64_t udp_sent, udp_recv, udp_reorder, udp_dup, udp_dsum_us, udp_dn, udp_dmin_us,
        udp_dmax_us;
    uint64_t udp_top;           /* highest seq received + 1 */
    uint64_t udp_seen[UDP_WINDOW / 64];     /* seqs udp_top - UDP_WINDOW .. udp_top - 1 */
    struct sockaddr_in tcp_addr, udp_addr;
};

static struct {
    unsigned id, n;
    int local;
    uint64_t period_ms, udp_ms, report_ms, run_ms;
    struct peer p[MAX_NODES];
    struct conn in[MAX_NODES * 2];  /* accepted connections */
    int lfd, ufd;
    uint64_t boots;
    const char *disk;
    int dfd;
    uint8_t *dbuf, *dbuf2;
    uint64_t disk_writes, disk_wr_err, disk_rd_err, disk_mismatch, disk_round;
    int disk_last_errno;
} N;

static char cmdline[4096];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "net-demo %u: ", N.id);
    va_list ap;
    va_start(ap, fmt);
    guest_vsay(prefix, fmt, ap);
    va_end(ap);
}

static uint64_t now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ms(void)
{
    return now_ns(CLOCK_MONOTONIC) / 1000000u;
}

/* name=value from the environment (NETDEMO_X overrides) or /proc/cmdline. */
static const char *param(const char *name, char *buf, size_t cap)
{
    char env[64];
    size_t k = 0;
    for (const char *p = name; *p && k < sizeof(env) - 1; p++)
        env[k++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    env[k] = 0;
    const char *v = getenv(env);
    if (v)
        return v;
    return guest_cmdline_param(cmdline, name, buf, cap);
}

static uint64_t param_u(const char *name, uint64_t dflt)
{
    char buf[64];
    const char *v = param(name, buf, sizeof(buf));
    if (!v || !*v)
        return dflt;
    return strtoull(v, NULL, 10);
}

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* ---- network setup ---- */

static int if_up(int fd, const char *ifname, const char *addr, const char *mask)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, addr, &sin->sin_addr);
    if (ioctl(fd, SIOCSIFADDR, &ifr) < 0)
        return -1;
    sin = (struct sockaddr_in *)&ifr.ifr_netmask;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, mask, &sin->sin_addr);
    if (ioctl(fd, SIOCSIFNETMASK, &ifr) < 0)
        return -1;
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return -1;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ioctl(fd, SIOCSIFFLAGS, &ifr);
}

static void setup_network(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if_up(fd, "lo", "127.0.0.1", "255.0.0.0");
    if (!N.local) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.0.0.%u", N.id + 1);
        if (if_up(fd, "eth0", ip, "255.255.255.0") < 0)
            say("eth0 is not usable (%s): no peers", strerror(errno));
    }
    close(fd);
    for (unsigned i = 0; i < N.n; i++) {
        struct peer *p = &N.p[i];
        p->out.fd = -1;
        p->out.peer = (int)i;
        struct sockaddr_in *t = &p->tcp_addr, *u = &p->udp_addr;
        memset(t, 0, sizeof(*t));
        t->sin_family = AF_INET;
        if (N.local) {
            t->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            t->sin_port = htons((uint16_t)(LOCAL_BASE + 2 * i));
        } else {
            char ip[32];
            snprintf(ip, sizeof(ip), "10.0.0.%u", i + 1);
            inet_pton(AF_INET, ip, &t->sin_addr);
            t->sin_port = htons(TCP_PORT);
        }
        *u = *t;
        u->sin_port = htons((uint16_t)(ntohs(t->sin_port) + 1));
    }
}

static int open_listeners(void)
{
    struct sockaddr_in me;
    memset(&me, 0, sizeof(me));
    me.sin_family = AF_INET;
    me.sin_addr.s_addr = htonl(N.local ? INADDR_LOOPBACK : INADDR_ANY);
    me.sin_port = N.p[N.id].tcp_addr.sin_port;
    N.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(N.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (N.lfd < 0 || bind(N.lfd, (struct sockaddr *)&me, sizeof(me)) < 0 || listen(N.lfd, 16) < 0) {
        say("TCP listener: %s", strerror(errno));
        return -1;
    }
    me.sin_port = N.p[N.id].udp_addr.sin_port;
    N.ufd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (N.ufd < 0 || bind(N.ufd, (struct sockaddr *)&me, sizeof(me)) < 0) {
        say("UDP socket: %s", strerror(errno));
        return -1;
    }
    for (unsigned i = 0; i < sizeof(N.in) / sizeof(N.in[0]); i++)
        N.in[i].fd = -1;
    return 0;
}

/* ---- disk ---- */

static int disk_io(bool write_, uint64_t block, uint8_t *buf)
{
    ssize_t k = write_ ? pwrite(N.dfd, buf, DISK_BLOCK, (off_t)(block * DISK_BLOCK))
                       : pread(N.dfd, buf, DISK_BLOCK, (off_t)(block * DISK_BLOCK));
    if (k != DISK_BLOCK)
        return k < 0 ? errno : EIO;
    if (write_ && fdatasync(N.dfd) < 0)
        return errno;
    return 0;
}

/* Block 0: {magic, node, boots}; a restarted node comes back to this point
 * with the disk as it was, so it counts one more boot. */
static void boot_counter(void)
{
    N.dfd = -1;
    if (N.local || !(N.disk = guest_find_disk()))
        return;
    N.dfd = open(N.disk, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (N.dfd < 0 || posix_memalign((void **)&N.dbuf, DISK_BLOCK, DISK_BLOCK) ||
        posix_memalign((void **)&N.dbuf2, DISK_BLOCK, DISK_BLOCK)) {
        say("disk %s: %s", N.disk, strerror(errno));
        N.dfd = -1;
        return;
    }
    uint64_t boots = 0;
    if (disk_io(false, 0, N.dbuf) == 0 && get64(N.dbuf) == BOOT_MAGIC && get64(N.dbuf + 8) == N.id)
        boots = get64(N.dbuf + 16);
    N.boots = boots + 1;
    memset(N.dbuf, 0, DISK_BLOCK);
    put64(N.dbuf, BOOT_MAGIC);
    put64(N.dbuf + 8, N.id);
    put64(N.dbuf + 16, N.boots);
    int e = disk_io(true, 0, N.dbuf);
    CC_REACHABLE("a node starts", NULL);
    if (N.boots > 1)
        CC_REACHABLE("a node restarts and finds its disk as it was", NULL);
    char d[128];
    snprintf(d, sizeof(d), "{\"node\": %u, \"boots\": %llu, \"write_errno\": %d}", N.id,
             (unsigned long long)N.boots, e);
    cc_send_event("boot", d);
    say("boot %llu", (unsigned long long)N.boots);
}

static void disk_probe(void)
{
    if (N.dfd < 0)
        return;
    uint64_t block = PROBE_FIRST + N.disk_round % PROBE_BLOCKS;
    for (unsigned i = 0; i < DISK_BLOCK; i += 8)
        put64(N.dbuf + i, fnv(&N.disk_round, 8, 0xcbf29ce484222325ull ^ i ^ ((uint64_t)N.id << 56)));
    N.disk_round++;
    N.disk_writes++;
    int e = disk_io(true, block, N.dbuf);
    if (e) {
        N.disk_wr_err++;
        N.disk_last_errno = e;
        return;
    }
    memset(N.dbuf2, 0, DISK_BLOCK);
    e = disk_io(false, block, N.dbuf2);
    if (e) {
        N.disk_rd_err++;
        N.disk_last_errno = e;
        return;
    }
    if (memcmp(N.dbuf, N.dbuf2, DISK_BLOCK))
        N.disk_mismatch++;
}

/* ---- /proc observations ---- */

static size_t read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t len = 0;
    for (;;) {
        ssize_t k = read(fd, buf + len, cap - 1 - len);
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    close(fd);
    buf[len] = 0;
    return len;
}

static void interrupts(uint64_t irq[16], uint64_t *nmi)
{
    static char buf[8192];
    memset(irq, 0, 16 * sizeof(uint64_t));
    *nmi = 0;
    read_file("/proc/interrupts", buf, sizeof(buf));
    for (char *line = buf; *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = 0;
        char *p = line;
        while (*p == ' ')
            p++;
        char *colon = strchr(p, ':');
        if (colon) {
            unsigned long long v = strtoull(colon + 1, NULL, 10);
            if (!strncmp(p, "NMI:", 4))
                *nmi = v;
            else if (*p >= '0' && *p <= '9') {
                unsigned n = (unsigned)strtoul(p, NULL, 10);
                if (n < 16)
                    irq[n] = v;
            }
        }
        if (!end)
            break;
        line = end + 1;
    }
}

static void meminfo(uint64_t *total, uint64_t *freek)
{
    char buf[4096];
    read_file("/proc/meminfo", buf, sizeof(buf));
    char *t = strstr(buf, "MemTotal:"), *f = strstr(buf, "MemFree:");
    *total = t ? strtoull(t + 9, NULL, 10) : 0;
    *freek = f ? strtoull(f + 8, NULL, 10) : 0;
}

/* A named field of a "Proto: names" / "Proto: values" line pair of
 * /proc/net/snmp (0 when absent). */
static uint64_t snmp_field(const char *buf, const char *proto, const char *name)
{
    size_t pl = strlen(proto);
    const char *hdr = buf;
    while ((hdr = strstr(hdr, proto)) != NULL) {
        if ((hdr == buf || hdr[-1] == '\n') && hdr[pl] == ':')
            break;
        hdr++;
    }
    if (!hdr)
        return 0;
    const char *vals = strchr(hdr, '\n');
    if (!vals || strncmp(vals + 1, proto, pl))
        return 0;
    vals += 1 + pl + 1;
    const char *h = hdr + pl + 1;
    for (;;) {
        while (*h == ' ')
            h++;
        while (*vals == ' ')
            vals++;
        size_t nl = strcspn(h, " \n");
        if (!nl)
            return 0;
        if (nl == strlen(name) && !strncmp(h, name, nl))
            return strtoull(vals, NULL, 10);
        h += nl;
        vals += strcspn(vals, " \n");
    }
}

static uint64_t rx_bad(void)
{
    char buf[8192];
    read_file("/proc/net/snmp", buf, sizeof(buf));
    return snmp_field(buf, "Ip", "InHdrErrors") + snmp_field(buf, "Udp", "InCsumErrors") +
           snmp_field(buf, "Tcp", "InCsumErrors");
}

/* ---- messages ---- */

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->connecting = 0;
    c->in_len = c->out_len = 0;
    c->have_seq = 0;
}

/* Returns -1 when the connection broke (it is closed then). */
static int flush_out(struct conn *c)
{
    while (c->fd >= 0 && c->out_len) {
        ssize_t k = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                conn_close(c);
                return -1;
            }
            return 0;
        }
        memmove(c->out, c->out + k, c->out_len - (size_t)k);
        c->out_len -= (size_t)k;
    }
    return 0;
}

static void payload(unsigned from, uint64_t seq, uint8_t *out)
{
    uint64_t h = fnv(&seq, 8, 0x811c9dc5ull + from);
    for (unsigned i = 0; i < PAYLOAD; i++) {
        h = h * 6364136223846793005ull + 1442695040888963407ull;
        out[i] = (uint8_t)(h >> 56);
    }
}

static void lost(struct peer *p, uint64_t now);

static void send_message(struct peer *p, unsigned to)
{
    struct conn *c = &p->out;
    if (c->fd < 0 || c->connecting || c->out_len + HDR_LEN + PAYLOAD > OUTBUF)
        return;
    uint8_t *m = c->out + c->out_len;
    put32(m, MSG_MAGIC);
    m[4] = (uint8_t)N.id;
    m[5] = (uint8_t)to;
    m[6] = PAYLOAD & 0xff;
    m[7] = PAYLOAD >> 8;
    put64(m + 8, p->seq);
    put64(m + 16, now_ns(CLOCK_MONOTONIC));
    payload(N.id, p->seq, m + HDR_LEN);
    put64(m + 24, fnv(m + HDR_LEN, PAYLOAD, fnv(m, 24, 0xcbf29ce484222325ull)));
    c->out_len += HDR_LEN + PAYLOAD;
    p->seq++;
    p->sent++;
    if (flush_out(c) < 0)
        lost(p, now_ms());
}

/* One catalog entry each, whatever the call path. */
static void check_integrity(bool intact)
{
    CC_ALWAYS(intact, "payload integrity: every message arrives as it was sent", NULL);
}

static void connected(struct peer *p)
{
    p->connects++;
    CC_SOMETIMES(p->connects > 1, "reconnected after a lost connection", NULL);
}

/* A message arrived on an incoming connection. */
static void got_message(struct conn *c, const uint8_t *m, size_t len)
{
    unsigned from = m[4], to = m[5];
    uint64_t seq = get64(m + 8);
    bool intact = len == HDR_LEN + PAYLOAD && to == N.id && from < N.n &&
                  get64(m + 24) == fnv(m + HDR_LEN, PAYLOAD, fnv(m, 24, 0xcbf29ce484222325ull));
    if (intact) {
        uint8_t want[PAYLOAD];
        payload(from, seq, want);
        intact = !memcmp(want, m + HDR_LEN, PAYLOAD);
    }
    check_integrity(intact);
    if (!intact)
        return;
    bool in_order = !c->have_seq || seq == c->last_seq + 1;
    CC_ALWAYS(in_order, "per-connection order: messages arrive in sequence, without gaps", NULL);
    c->have_seq = 1;
    c->last_seq = seq;
    c->peer = (int)from;
    N.p[from].recv++;
    if (c->out_len + ACK_LEN <= OUTBUF) {
        uint8_t *a = c->out + c->out_len;
        put32(a, ACK_MAGIC);
        put32(a + 4, 0);
        put64(a + 8, seq);
        put64(a + 16, get64(m + 16));
        c->out_len += ACK_LEN;
        flush_out(c);
    }
}

/* An acknowledgement arrived on our outgoing connection to peer p. */
static void got_ack(struct peer *p, const uint8_t *a)
{
    uint64_t sent = get64(a + 16), now = now_ns(CLOCK_MONOTONIC);
    uint64_t rtt = now > sent ? (now - sent) / 1000u : 0;
    p->acked++;
    p->rtt_last_us = rtt;
    if (rtt > p->rtt_max_us)
        p->rtt_max_us = rtt;
    CC_SOMETIMES(1, "a message is delivered and acknowledged", NULL);
    CC_SOMETIMES(rtt > 500000, "an acknowledgement takes more than 500 ms", NULL);
}

/* Read what is there; parse whole records. Returns -1 when the connection
 * is gone. */
static int pump(struct conn *c, bool outgoing)
{
    for (;;) {
        ssize_t k = recv(c->fd, c->in + c->in_len, INBUF - c->in_len, 0);
        if (k == 0)
            return -1;
        if (k < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        c->in_len += (size_t)k;
        size_t at = 0;
        for (;;) {
            size_t left = c->in_len - at;
            const uint8_t *r = c->in + at;
            if (outgoing) {
                if (left < ACK_LEN)
                    break;
                if (get32(r) != ACK_MAGIC)
                    return -1;
                got_ack(&N.p[c->peer], r);
                at += ACK_LEN;
            } else {
                if (left < HDR_LEN)
                    break;
                size_t plen = (size_t)r[6] | (size_t)r[7] << 8;
                if (get32(r) != MSG_MAGIC || plen > INBUF - HDR_LEN) {
                    check_integrity(false);
                    return -1;
                }
                if (left < HDR_LEN + plen)
                    break;
                got_message(c, r, HDR_LEN + plen);
                at += HDR_LEN + plen;
            }
        }
        memmove(c->in, c->in + at, c->in_len - at);
        c->in_len -= at;
    }
}

static void try_connect(struct peer *p, uint64_t now)
{
    struct conn *c = &p->out;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&p->tcp_addr, sizeof(p->tcp_addr)) == 0) {
        c->connecting = 0;
    } else if (errno == EINPROGRESS) {
        c->connecting = 1;
    } else {
        conn_close(c);
        p->conn_fail++;
        p->next_attempt_ms = now + RECONNECT_MS;
        return;
    }
    if (!c->connecting)
        connected(p);
}

static void lost(struct peer *p, uint64_t now)
{
    conn_close(&p->out);
    p->conn_fail++;
    p->next_attempt_ms = now + RECONNECT_MS;
}

static bool udp_bit(struct peer *p, uint64_t seq, bool set)
{
    uint64_t *w = &p->udp_seen[(seq % UDP_WINDOW) / 64], m = 1ull << (seq % 64);
    bool was = *w & m;
    if (set)
        *w |= m;
    return was;
}

static void udp_got(struct peer *p, uint64_t seq, uint64_t sent_ns)
{
    uint64_t now = now_ns(CLOCK_MONOTONIC);
    if (seq >= p->udp_top) {
        /* Forget the seqs that leave the window. */
        if (seq >= p->udp_top + UDP_WINDOW)
            memset(p->udp_seen, 0, sizeof(p->udp_seen));
        else
            for (uint64_t s = p->udp_top; s <= seq; s++)
                p->udp_seen[(s % UDP_WINDOW) / 64] &= ~(1ull << (s % 64));
        p->udp_top = seq + 1;
    } else if (seq + UDP_WINDOW < p->udp_top) {
        p->udp_reorder++;       /* too old to tell a duplicate */
        return;
    } else if (udp_bit(p, seq, false)) {
        p->udp_dup++;
        return;
    } else {
        p->udp_reorder++;
    }
    udp_bit(p, seq, true);
    p->udp_recv++;
    uint64_t d = now > sent_ns ? (now - sent_ns) / 1000 : 0;
    p->udp_dsum_us += d;
    if (!p->udp_dn++ || d < p->udp_dmin_us)
        p->udp_dmin_us = d;
    if (d > p->udp_dmax_us)
        p->udp_dmax_us = d;
}

static void udp_send_all(void)
{
    for (unsigned i = 0; i < N.n; i++) {
        if (i == N.id)
            continue;
        struct peer *p = &N.p[i];
        uint8_t d[UDP_LEN];
        put32(d, UDP_MAGIC);
        put32(d + 4, N.id);
        put64(d + 8, p->udp_sent);
        put64(d + 16, now_ns(CLOCK_MONOTONIC));
        if (sendto(N.ufd, d, sizeof(d), MSG_DONTWAIT, (struct sockaddr *)&p->udp_addr,
                   sizeof(p->udp_addr)) == (ssize_t)sizeof(d))
            p->udp_sent++;
    }
}

static void udp_recv_all(void)
{
    uint8_t d[64];
    for (;;) {
        ssize_t k = recv(N.ufd, d, sizeof(d), MSG_DONTWAIT);
        if (k < 0)
            return;
        if (k == UDP_LEN && get32(d) == UDP_MAGIC && get32(d + 4) < N.n)
            udp_got(&N.p[get32(d + 4)], get64(d + 8), get64(d + 16));
    }
}

/* ---- reports ---- */

static size_t arr(char *out, size_t cap, const char *name, size_t off)
{
    size_t at = (size_t)snprintf(out, cap, ", \"%s\": [", name);
    for (unsigned i = 0; i < N.n && at < cap; i++) {
        const uint64_t *v = (const uint64_t *)((const char *)&N.p[i] + off);
        at += (size_t)snprintf(out + at, cap - at, "%s%llu", i ? ", " : "", (unsigned long long)*v);
    }
    if (at < cap)
        at += (size_t)snprintf(out + at, cap - at, "]");
    return at;
}

static void report(void)
{
    char d[3072];
    size_t at = (size_t)snprintf(d, sizeof(d),
        "{\"node\": %u, \"boots\": %llu, \"mono_ns\": %llu, \"real_ns\": %llu", N.id,
        (unsigned long long)N.boots, (unsigned long long)now_ns(CLOCK_MONOTONIC),
        (unsigned long long)now_ns(CLOCK_REALTIME));
#define ARR(f) at += arr(d + at, sizeof(d) - at, #f, offsetof(struct peer, f))
    ARR(sent);
    ARR(acked);
    ARR(recv);
    ARR(connects);
    ARR(conn_fail);
    ARR(rtt_last_us);
    ARR(rtt_max_us);
    ARR(udp_sent);
    ARR(udp_recv);
    ARR(udp_reorder);
    ARR(udp_dup);
    ARR(udp_dsum_us);
    ARR(udp_dn);
    ARR(udp_dmin_us);
    ARR(udp_dmax_us);
#undef ARR
    for (unsigned i = 0; i < N.n; i++)
        N.p[i].udp_dn = N.p[i].udp_dmin_us = N.p[i].udp_dmax_us = 0;
    uint64_t irq[16], nmi, total, freek;
    interrupts(irq, &nmi);
    meminfo(&total, &freek);
    at += (size_t)snprintf(d + at, sizeof(d) - at, ", \"irq\": [");
    for (unsigned i = 0; i < 16; i++)
        at += (size_t)snprintf(d + at, sizeof(d) - at, "%s%llu", i ? ", " : "",
                               (unsigned long long)irq[i]);
    disk_probe();
    snprintf(d + at, sizeof(d) - at,
             "], \"rx_bad\": %llu, \"nmi\": %llu, \"memtotal_kb\": %llu, \"memfree_kb\": %llu, \"disk\": %s, "
             "\"disk_writes\": %llu, \"disk_wr_err\": %llu, \"disk_rd_err\": %llu, "
             "\"disk_mismatch\": %llu, \"disk_last_errno\": %d}",
             (unsigned long long)rx_bad(), (unsigned long long)nmi, (unsigned long long)total, (unsigned long long)freek,
             N.dfd >= 0 ? "true" : "false", (unsigned long long)N.disk_writes,
             (unsigned long long)N.disk_wr_err, (unsigned long long)N.disk_rd_err,
             (unsigned long long)N.disk_mismatch, N.disk_last_errno);
    cc_send_event("netdemo", d);
    bool all = true;
    for (unsigned i = 0; i < N.n; i++)
        if (i != N.id && (N.p[i].out.fd < 0 || N.p[i].out.connecting))
            all = false;
    CC_SOMETIMES(all, "connected to every peer", NULL);
}

/* ---- main loop ---- */

int main(void)
{
    if (getpid() == 1) {
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    }
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t k = read(fd, cmdline, sizeof(cmdline) - 1);
        cmdline[k > 0 ? k : 0] = 0;
        close(fd);
    }
    N.id = (unsigned)param_u("cc_vm_id", 0);
    N.n = (unsigned)param_u("netdemo_nodes", 3);
    N.local = param_u("netdemo_local", 0) != 0;
    N.period_ms = param_u("netdemo_period_ms", 100);
    N.udp_ms = param_u("netdemo_udp_ms", 50);
    N.report_ms = param_u("netdemo_report_ms", 500);
    N.run_ms = param_u("netdemo_run_ms", 0);
    if (N.n < 2 || N.n > MAX_NODES || N.id >= N.n || !N.period_ms || !N.report_ms) {
        say("bad configuration: cc_vm_id=%u netdemo_nodes=%u", N.id, N.n);
        guest_power_off(2);
    }
    setup_network();
    if (open_listeners() < 0)
        guest_power_off(1);
    char details[64];
    snprintf(details, sizeof(details), "{\"node\": %u}", N.id);
    say("listening on port %d, %u nodes", TCP_PORT, N.n);
    cc_setup_complete(details);
    boot_counter();

    uint64_t start = now_ms(), next_msg = start + N.period_ms, next_udp = start + N.udp_ms;
    uint64_t next_report = start + N.report_ms;
    for (;;) {
        uint64_t now = now_ms();
        if (N.run_ms && now - start >= N.run_ms)
            break;
        for (unsigned i = 0; i < N.n; i++) {
            struct peer *p = &N.p[i];
            if (i != N.id && p->out.fd < 0 && now >= p->next_attempt_ms)
                try_connect(p, now);
        }
        if (now >= next_msg) {
            for (unsigned i = 0; i < N.n; i++)
                if (i != N.id)
                    send_message(&N.p[i], i);
            next_msg += N.period_ms;
            if (next_msg <= now)
                next_msg = now + N.period_ms;
        }
        if (N.udp_ms && now >= next_udp) {
            udp_send_all();
            next_udp += N.udp_ms;
            if (next_udp <= now)
                next_udp = now + N.udp_ms;
        }
        if (now >= next_report) {
            report();
            next_report += N.report_ms;
            if (next_report <= now)
                next_report = now + N.report_ms;
        }

        struct pollfd pfd[2 + MAX_NODES + MAX_NODES * 2];
        struct conn *who[2 + MAX_NODES + MAX_NODES * 2];
        unsigned np = 0;
        pfd[np] = (struct pollfd){.fd = N.lfd, .events = POLLIN};
        who[np++] = NULL;
        pfd[np] = (struct pollfd){.fd = N.ufd, .events = POLLIN};
        who[np++] = NULL;
        for (unsigned i = 0; i < N.n; i++) {
            struct conn *c = &N.p[i].out;
            if (c->fd < 0)
                continue;
            pfd[np] = (struct pollfd){.fd = c->fd,
                                      .events = (short)(POLLIN | (c->connecting || c->out_len ?
                                                                  POLLOUT : 0))};
            who[np++] = c;
        }
        for (unsigned i = 0; i < sizeof(N.in) / sizeof(N.in[0]); i++) {
            struct conn *c = &N.in[i];
            if (c->fd < 0)
                continue;
            pfd[np] = (struct pollfd){.fd = c->fd,
                                      .events = (short)(POLLIN | (c->out_len ? POLLOUT : 0))};
            who[np++] = c;
        }
        uint64_t next = next_msg < next_report ? next_msg : next_report;
        if (N.udp_ms && next_udp < next)
            next = next_udp;
        for (unsigned i = 0; i < N.n; i++)
            if (i != N.id && N.p[i].out.fd < 0 && N.p[i].next_attempt_ms < next)
                next = N.p[i].next_attempt_ms;
        now = now_ms();
        int timeout = next > now ? (int)(next - now) : 0;
        int r = poll(pfd, np, timeout);
        if (r <= 0)
            continue;
        now = now_ms();
        if (pfd[0].revents & POLLIN) {
            for (;;) {
                int a = accept4(N.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (a < 0)
                    break;
                unsigned k = 0;
                while (k < sizeof(N.in) / sizeof(N.in[0]) && N.in[k].fd >= 0)
                    k++;
                if (k == sizeof(N.in) / sizeof(N.in[0])) {
                    close(a);   /* too many: the oldest ones are probably dead */
                    continue;
                }
                int one = 1;
                setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                conn_close(&N.in[k]);
                N.in[k].fd = a;
                N.in[k].peer = -1;
            }
        }
        if (pfd[1].revents & POLLIN)
            udp_recv_all();
        for (unsigned i = 2; i < np; i++) {
            struct conn *c = who[i];
            if (!pfd[i].revents || c->fd != pfd[i].fd)
                continue;
            bool outgoing = c >= &N.p[0].out && c <= &N.p[MAX_NODES - 1].out;
            struct peer *p = outgoing ? &N.p[c->peer] : NULL;
            if (outgoing && c->connecting) {
                int e = 0;
                socklen_t el = sizeof(e);
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el);
                if (e) {
                    lost(p, now);
                    continue;
                }
                if (!(pfd[i].revents & POLLOUT))
                    continue;
                c->connecting = 0;
                connected(p);
            }
            if ((pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) && pump(c, outgoing) < 0) {
                if (outgoing)
                    lost(p, now);
                else
                    conn_close(c);
                continue;
            }
            if (c->out_len)
                flush_out(c);
            if (c->fd < 0 && outgoing)
                lost(p, now);
        }
    }
    report();
    say("done");
    guest_power_off(0);
}
