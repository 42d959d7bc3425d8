/* raft: one Raft node per VM (guests/raft/README.md). The protocol lives in
 * raft.c (pure); this file is the I/O around it: configuration from the
 * kernel command line, the network (eth0 and lo by ioctl, static ARP, one
 * UDP socket), the clock (CLOCK_MONOTONIC), the disk (store.c on /dev/vda)
 * and the guest SDK (assertions, steerable randomness, setup_complete).
 *
 * Also runs natively for development (RAFT_LOCAL=1): 127.0.0.1 ports
 * instead of eth0, no disk unless RAFT_DISK names a file, and the SDK in
 * local mode (JSON lines to $CHAOSCONTROL_SDK_OUTPUT).
 *
 * Every CC_* macro below is one static call site, so the SDK catalog lists
 * each assertion before it is ever reached. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
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
#include "raft.h"
#include "store.h"

#define VM_PORT 7000
#define LOCAL_PORT_BASE 17100
#define COMMIT_LOG_MS 1000      /* at most one commit line per second */

struct app {
    struct raft_node node;
    struct raft_config cfg;
    unsigned id, n_nodes;
    int local;
    uint64_t run_ms;            /* 0: forever */
    int sock;
    struct sockaddr_in peer[RAFT_MAX_NODES];
    struct raft_store store;
    int have_disk;
    char disk_path[64];
    /* the replicated state machine: an append-only list of values */
    uint64_t sm_len;
    char sm[RAFT_LOG_MAX][RAFT_VALUE_MAX + 1];
    /* console */
    uint64_t last_commit_line, commit_logged;
    int failed_once[RAFT_CHECK_COUNT];
    uint64_t bad_packets;
};

static struct app A;
static struct raft_entry loaded[RAFT_LOG_MAX];

/* ---- console ---- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "raft %u: ", A.id);
    va_list ap;
    va_start(ap, fmt);
    guest_vsay(prefix, fmt, ap);
    va_end(ap);
}

/* ---- configuration ---- */

static char cmdline[4096];

static void read_cmdline(void)
{
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t k = read(fd, cmdline, sizeof(cmdline) - 1);
    close(fd);
    cmdline[k > 0 ? k : 0] = 0;
}

/* name's value: the RAFT_NAME environment variable (explicit override), else
 * name=VALUE on /proc/cmdline, else the environment variable name (the
 * kernel hands unknown name=value parameters to init as environment). */
static const char *param(const char *name, char *buf, size_t cap)
{
    char up[64] = "RAFT_";
    size_t k = strlen(up);
    for (const char *p = name + 5; *p && k < sizeof(up) - 1; p++)    /* skip "raft_" */
        up[k++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    up[k] = 0;
    const char *v = getenv(up);
    if (v)
        return v;
    v = guest_cmdline_param(cmdline, name, buf, cap);
    return v ? v : getenv(name);
}

static unsigned long param_ul(const char *name, unsigned long dflt)
{
    char buf[64];
    const char *v = param(name, buf, sizeof(buf));
    if (!v || !*v)
        return dflt;
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || *end) {
        say("bad %s=%s (want a decimal number)", name, v);
        guest_power_off(2);
    }
    return x;
}

/* ---- network ---- */

static int if_config(int fd, const char *ifname, const char *addr, const char *mask)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, addr, &sin->sin_addr);
    if (ioctl(fd, SIOCSIFADDR, &ifr) < 0) {
        say("%s: set address %s: %s", ifname, addr, strerror(errno));
        return -1;
    }
    sin = (struct sockaddr_in *)&ifr.ifr_netmask;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, mask, &sin->sin_addr);
    if (ioctl(fd, SIOCSIFNETMASK, &ifr) < 0) {
        say("%s: set netmask %s: %s", ifname, mask, strerror(errno));
        return -1;
    }
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
        say("%s: get flags: %s", ifname, strerror(errno));
        return -1;
    }
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
        say("%s: up: %s", ifname, strerror(errno));
        return -1;
    }
    return 0;
}

static void node_mac(unsigned id, uint8_t mac[6])
{
    static const uint8_t base[6] = {0x52, 0x54, 0x00, 0x00, 0x00, 0x00};
    memcpy(mac, base, 6);
    mac[5] = (uint8_t)(id + 1);
}

static void node_ip(unsigned id, char *buf, size_t cap)
{
    snprintf(buf, cap, "10.0.0.%u", id + 1);
}

/* eth0 = 10.0.0.(id+1)/24 and lo up; static ARP entries for the peers when
 * our own MAC follows the 52:54:00:00:00:(id+1) scheme (else ARP does it). */
static void setup_vm_network(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        say("socket: %s", strerror(errno));
        return;
    }
    if_config(fd, "lo", "127.0.0.1", "255.0.0.0");
    char ip[32];
    node_ip(A.id, ip, sizeof(ip));
    if (if_config(fd, "eth0", ip, "255.255.255.0") < 0) {
        say("eth0 is not usable: this node cannot talk to its peers");
        close(fd);
        return;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
    uint8_t want[6];
    node_mac(A.id, want);
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0 || memcmp(ifr.ifr_hwaddr.sa_data, want, 6)) {
        const uint8_t *m = (const uint8_t *)ifr.ifr_hwaddr.sa_data;
        say("eth0 MAC %02x:%02x:%02x:%02x:%02x:%02x is not 52:54:00:00:00:%02x: "
            "no static ARP entries (ARP resolves the peers)",
            m[0], m[1], m[2], m[3], m[4], m[5], A.id + 1);
    } else {
        for (unsigned p = 0; p < A.n_nodes; p++) {
            if (p == A.id)
                continue;
            struct arpreq req;
            memset(&req, 0, sizeof(req));
            struct sockaddr_in *pa = (struct sockaddr_in *)&req.arp_pa;
            pa->sin_family = AF_INET;
            char pip[32];
            node_ip(p, pip, sizeof(pip));
            inet_pton(AF_INET, pip, &pa->sin_addr);
            req.arp_ha.sa_family = ARPHRD_ETHER;
            uint8_t mac[6];
            node_mac(p, mac);
            memcpy(req.arp_ha.sa_data, mac, 6);
            req.arp_flags = ATF_PERM | ATF_COM;
            snprintf(req.arp_dev, sizeof(req.arp_dev), "eth0");
            if (ioctl(fd, SIOCSARP, &req) < 0)
                say("static ARP for %s: %s", pip, strerror(errno));
        }
    }
    close(fd);
}

static void open_socket(void)
{
    unsigned base = (unsigned)param_ul("raft_port_base", LOCAL_PORT_BASE);
    A.sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (A.sock < 0) {
        say("socket: %s", strerror(errno));
        guest_power_off(1);
    }
    struct sockaddr_in me;
    memset(&me, 0, sizeof(me));
    me.sin_family = AF_INET;
    if (A.local) {
        me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        me.sin_port = htons((uint16_t)(base + A.id));
    } else {
        me.sin_addr.s_addr = htonl(INADDR_ANY);
        me.sin_port = htons(VM_PORT);
    }
    if (bind(A.sock, (struct sockaddr *)&me, sizeof(me)) < 0) {
        say("bind port %u: %s", ntohs(me.sin_port), strerror(errno));
        guest_power_off(1);
    }
    for (unsigned p = 0; p < A.n_nodes; p++) {
        struct sockaddr_in *sa = &A.peer[p];
        memset(sa, 0, sizeof(*sa));
        sa->sin_family = AF_INET;
        if (A.local) {
            sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            sa->sin_port = htons((uint16_t)(base + p));
        } else {
            char ip[32];
            node_ip(p, ip, sizeof(ip));
            inet_pton(AF_INET, ip, &sa->sin_addr);
            sa->sin_port = htons(VM_PORT);
        }
    }
}

/* ---- disk ---- */

/* ---- callbacks from the core ---- */

static uint64_t cb_choice(void *ctx, uint64_t n)
{
    (void)ctx;
    return cc_random_choice(n);
}

static void cb_send(void *ctx, const struct raft_msg *m)
{
    (void)ctx;
    uint8_t buf[RAFT_MSG_WIRE_MAX];
    size_t len = raft_msg_encode(m, buf, sizeof(buf));
    if (!len || m->to >= A.n_nodes)
        return;
    /* errors (no route, buffer full) are packet loss: Raft copes */
    sendto(A.sock, buf, len, MSG_DONTWAIT, (struct sockaddr *)&A.peer[m->to],
           sizeof(A.peer[m->to]));
}

static int cb_persist(void *ctx, const struct raft_node *n, uint64_t first_dirty)
{
    (void)ctx;
    if (!A.have_disk)
        return 0;
    if (raft_store_save(&A.store, n->term, n->voted_for, n->log, n->log_len, first_dirty) < 0) {
        say("disk: %s: halting (crash-stop) rather than acting on state that is not durable",
            A.store.err);
        cc_send_event("raft_disk_error", NULL);
        return -1;
    }
    return 0;
}

/* One CC_ALWAYS call site per assertion (the SDK catalog wants literals). */
static void cb_check(void *ctx, enum raft_check c, int ok, const char *details)
{
    (void)ctx;
    switch (c) {
    case RAFT_CHECK_ELECTION_SAFETY:
        CC_ALWAYS(ok, RAFT_MSG_ELECTION_SAFETY, details);
        break;
    case RAFT_CHECK_LOG_MATCHING:
        CC_ALWAYS(ok, RAFT_MSG_LOG_MATCHING, details);
        break;
    case RAFT_CHECK_LEADER_COMPLETENESS:
        CC_ALWAYS(ok, RAFT_MSG_LEADER_COMPLETENESS, details);
        break;
    case RAFT_CHECK_SM_APPLIED:
        CC_ALWAYS(ok, RAFT_MSG_SM_APPLIED, details);
        break;
    case RAFT_CHECK_SM_COMMITTED:
        CC_ALWAYS(ok, RAFT_MSG_SM_COMMITTED, details);
        break;
    case RAFT_CHECK_SM_DURABLE:
        CC_ALWAYS(ok, RAFT_MSG_SM_DURABLE, details);
        break;
    case RAFT_CHECK_COUNT:
        break;
    }
    if (!ok && (unsigned)c < RAFT_CHECK_COUNT && !A.failed_once[c]) {
        A.failed_once[c] = 1;
        say("ASSERTION FAILED: %s %s", raft_check_message(c), details ? details : "");
    }
}

static void cb_event(void *ctx, enum raft_event ev, uint64_t arg)
{
    (void)ctx;
    const struct raft_node *n = &A.node;
    switch (ev) {
    case RAFT_EV_BECAME_LEADER:
        CC_REACHABLE("leader elected", NULL);
        say("leader of term %llu (log %llu, commit %llu)", (unsigned long long)arg,
            (unsigned long long)n->log_len, (unsigned long long)n->commit_index);
        break;
    case RAFT_EV_LEADER_OLD_TAIL:
        CC_SOMETIMES(1, "a leader is elected holding uncommitted entries of an earlier term", NULL);
        break;
    case RAFT_EV_BECAME_CANDIDATE:
        say("candidate in term %llu", (unsigned long long)arg);
        break;
    case RAFT_EV_BECAME_FOLLOWER:
        say("follower in term %llu", (unsigned long long)arg);
        break;
    case RAFT_EV_STEPPED_DOWN:
        CC_SOMETIMES(1, "a leader steps down on seeing a higher term", NULL);
        break;
    case RAFT_EV_COMMITTED:
        CC_SOMETIMES(1, "value committed", NULL);
        if (n->now >= A.last_commit_line + COMMIT_LOG_MS) {
            say("commit %llu (+%llu) term %llu %s", (unsigned long long)arg,
                (unsigned long long)(arg - A.commit_logged), (unsigned long long)n->term,
                raft_role_name(n->role));
            A.last_commit_line = n->now;
            A.commit_logged = arg;
        }
        break;
    case RAFT_EV_COMMITTED_OLD_TERM:
        CC_SOMETIMES(1, "a leader commits entries from an earlier term", NULL);
        break;
    case RAFT_EV_TRUNCATED:
        CC_SOMETIMES(1, "a follower truncates a conflicting suffix", NULL);
        break;
    case RAFT_EV_REJECTED_STALE:
        CC_SOMETIMES(1, "an append from a stale term is rejected", NULL);
        break;
    case RAFT_EV_VOTE_REFUSED_VOTED:
        CC_SOMETIMES(1, "a vote is refused because the node already voted", NULL);
        break;
    case RAFT_EV_OLD_ENTRY_AFTER_ELECTION:
        CC_SOMETIMES(1, "a follower takes an earlier-term entry after another node's election "
                        "in a later term (figure 8)", NULL);
        break;
    case RAFT_EV_HALTED:
        say("halted");
        break;
    default:
        break;
    }
}

static void cb_apply(void *ctx, uint64_t index, const struct raft_entry *e)
{
    (void)ctx;
    /* the state machine: append the value (index == sm_len + 1 always,
     * since the core applies in order) */
    if (index >= 1 && index <= RAFT_LOG_MAX && index == A.sm_len + 1) {
        memcpy(A.sm[index - 1], e->value, (size_t)e->len + 1);
        A.sm_len = index;
    }
}

/* ---- main ---- */

int main(void)
{
    if (getpid() == 1) {
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    }
    read_cmdline();
    char buf[64];
    A.local = param_ul("raft_local", 0) != 0;
    A.n_nodes = (unsigned)param_ul("raft_nodes", 3);
    A.id = (unsigned)param_ul("raft_id", 0);
    A.run_ms = param_ul("raft_run_ms", 0);
    if (A.n_nodes < 1 || A.n_nodes > RAFT_MAX_NODES || A.id >= A.n_nodes) {
        say("bad raft_id=%u / raft_nodes=%u (want 0 <= raft_id < raft_nodes <= %d)", A.id,
            A.n_nodes, RAFT_MAX_NODES);
        guest_power_off(2);
    }
    enum raft_bug bug = RAFT_BUG_NONE;
    const char *bugname = param("raft_bug", buf, sizeof(buf));
    if (bugname && *bugname && raft_bug_parse(bugname, &bug) < 0) {
        say("unknown raft_bug=%s (want none, fig8_commit, skip_truncate, accept_stale_term, "
            "leader_no_stepdown, double_vote or premature_commit)", bugname);
        guest_power_off(2);
    }

    if (!A.local)
        setup_vm_network();
    open_socket();

    char details[160];
    snprintf(details, sizeof(details), "{\"node\":%u,\"nodes\":%u,\"bug\":\"%s\",\"local\":%s}",
             A.id, A.n_nodes, raft_bug_name(bug), A.local ? "true" : "false");
    say("node %u of %u, bug %s, %s", A.id, A.n_nodes, raft_bug_name(bug),
        A.local ? "local (127.0.0.1)" : "eth0");
    /* Setup is complete before the disk is read: a restart restores the
     * snapshot taken here and must then read what is on the disk now. */
    cc_setup_complete(details);

    raft_config_default(&A.cfg, (uint8_t)A.id, (uint8_t)A.n_nodes);
    A.cfg.bug = bug;

    /* persistent state */
    char dbuf[128];
    const char *disk = param("raft_disk", dbuf, sizeof(dbuf));
    if (!disk)
        disk = A.local ? NULL : guest_find_disk();
    else if (!*disk || !strcmp(disk, "none"))
        disk = NULL;
    uint64_t term = 0, n_loaded = 0;
    int vote = -1;
    if (disk) {
        if (raft_store_open(&A.store, disk, (int)A.id) < 0) {
            say("disk: %s: memory-only state", A.store.err);
        } else if (raft_store_load(&A.store, &term, &vote, loaded, RAFT_LOG_MAX, &n_loaded) < 0) {
            /* corrupt persistent state: using older or no state could undo
             * a vote or an acknowledged entry, so this node stays down */
            say("disk: %s: refusing to start", A.store.err);
            cc_send_event("raft_disk_corrupt", NULL);
            for (;;)
                pause();
        } else {
            A.have_disk = 1;
            if (A.store.capacity < A.cfg.log_capacity)
                A.cfg.log_capacity = (uint32_t)A.store.capacity;
            say("disk %s%s: term %llu vote %d log %llu (capacity %llu)", disk,
                A.store.direct ? " (direct)" : "", (unsigned long long)term, vote,
                (unsigned long long)n_loaded, (unsigned long long)A.store.capacity);
        }
    } else {
        say("no disk: memory-only state (a restart forgets term, vote and log)");
    }

    struct raft_ops ops = {
        .ctx = &A,
        .choice = cb_choice,
        .send = cb_send,
        .persist = cb_persist,
        .check = cb_check,
        .event = cb_event,
        .apply = cb_apply,
    };
    uint64_t start = guest_now_ms();
    if (raft_init(&A.node, &A.cfg, &ops, start) < 0 ||
        raft_restore(&A.node, term, vote, loaded, n_loaded) < 0) {
        say("bad persisted state (term %llu, vote %d, %llu entries): refusing to start",
            (unsigned long long)term, vote, (unsigned long long)n_loaded);
        for (;;)
            pause();
    }
    CC_SOMETIMES(A.node.restored, "a node restarted with persisted state",
                 A.node.restored ? details : NULL);

    uint64_t end = A.run_ms ? start + A.run_ms : UINT64_MAX;
    for (;;) {
        uint64_t now = guest_now_ms();
        if (now >= end)
            break;
        raft_tick(&A.node, now);
        uint64_t deadline = raft_next_deadline(&A.node);
        if (deadline > end)
            deadline = end;
        now = guest_now_ms();
        int timeout = deadline <= now ? 0 : deadline - now > 1000 ? 1000 : (int)(deadline - now);
        struct pollfd pfd = {.fd = A.sock, .events = POLLIN};
        int r = poll(&pfd, 1, timeout);
        if (r <= 0 || !(pfd.revents & POLLIN))
            continue;
        for (int k = 0; k < 64; k++) {
            uint8_t pkt[RAFT_MSG_WIRE_MAX + 1];
            ssize_t len = recv(A.sock, pkt, sizeof(pkt), MSG_DONTWAIT);
            if (len < 0)
                break;
            struct raft_msg m;
            if (raft_msg_decode(pkt, (size_t)len, &m) < 0) {
                A.bad_packets++;
                continue;
            }
            raft_recv(&A.node, guest_now_ms(), &m);
        }
    }

    const struct raft_node *n = &A.node;
    say("done: term %llu %s log %llu commit %llu applied %llu hash %016llx sent %llu recv %llu "
        "bad %llu%s",
        (unsigned long long)n->term, raft_role_name(n->role), (unsigned long long)n->log_len,
        (unsigned long long)n->commit_index, (unsigned long long)n->applied_index,
        (unsigned long long)n->applied_hash[n->applied_index], (unsigned long long)n->msgs_sent,
        (unsigned long long)n->msgs_recv, (unsigned long long)A.bad_packets,
        n->halted ? " (halted)" : "");
    guest_power_off(0);
}
