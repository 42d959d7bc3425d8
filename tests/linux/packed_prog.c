/* A dynamically linked glibc program for the pack test (tests/linux/pack.sh):
 * run by cc-init in each VM of a simulation, it reports what an unmodified
 * server would rely on: its identity from the environment, the VM names in
 * /etc/hosts (glibc's resolver), the mounts, a UDP exchange with the next
 * VM over eth0, its clock, the kernel features servers use (epoll,
 * eventfd, inotify, memfd, pipes, prlimit, SO_REUSEPORT, IPv6, a netlink
 * route dump as `ip` does it), and its exit status (3). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netdb.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

static void say(const char *fmt, const char *a, long b)
{
    printf(fmt, a, b);
    putchar('\n');
    fflush(stdout);
}

/* A netlink route dump of the links (what `ip link` asks): at least lo and
 * eth0 come back. */
static int netlink_links(void)
{
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0)
        return -1;
    struct {
        struct nlmsghdr h;
        struct rtgenmsg g;
    } req = {.h = {.nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
                   .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1},
             .g = {.rtgen_family = AF_UNSPEC}};
    int links = 0;
    if (send(s, &req, sizeof(req), 0) < 0) {
        close(s);
        return -1;
    }
    char buf[16384];
    for (;;) {
        ssize_t r = recv(s, buf, sizeof(buf), 0);
        if (r <= 0)
            break;
        bool end = false;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)r);
             h = NLMSG_NEXT(h, r)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
                end = true;
            else if (h->nlmsg_type == RTM_NEWLINK)
                links++;
        }
        if (end)
            break;
    }
    close(s);
    return links;
}

/* The kernel features a common server relies on; names the missing ones. */
static void features(void)
{
    char missing[256] = "";
    int fd, p[2];
#define NEED(ok, name) \
    do { \
        if (!(ok)) \
            snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), " %s", name); \
    } while (0)
    NEED((fd = epoll_create1(EPOLL_CLOEXEC)) >= 0 && close(fd) == 0, "epoll");
    NEED((fd = eventfd(0, EFD_CLOEXEC)) >= 0 && close(fd) == 0, "eventfd");
    NEED((fd = inotify_init1(IN_CLOEXEC)) >= 0 && inotify_add_watch(fd, "/tmp", IN_CREATE) >= 0 &&
         close(fd) == 0, "inotify");
    NEED((fd = memfd_create("packed", MFD_CLOEXEC)) >= 0 && close(fd) == 0, "memfd_create");
    NEED(pipe2(p, O_CLOEXEC) == 0 && write(p[1], "x", 1) == 1 && close(p[0]) == 0 &&
         close(p[1]) == 0, "pipe");
    struct rlimit rl;
    NEED(prlimit(0, RLIMIT_NOFILE, NULL, &rl) == 0, "prlimit");
    int one = 1;
    NEED((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0 &&
         setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0 && close(fd) == 0,
         "SO_REUSEPORT");
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    NEED((fd = socket(AF_INET6, SOCK_STREAM, 0)) >= 0 &&
         bind(fd, (struct sockaddr *)&a6, sizeof(a6)) == 0 && close(fd) == 0, "IPv6");
    NEED(netlink_links() >= 2, "netlink-route");
#undef NEED
    if (missing[0])
        say("packed: server features missing:%s%.0ld", missing, 0);
    else
        say("packed: server features: all %s present%.0ld", "9", 0);
}

int main(void)
{
    const char *id = getenv("CC_ID"), *vms = getenv("CC_VMS"), *name = getenv("CC_NAME");
    if (!id || !vms || !name) {
        printf("packed: no CC_ID/CC_VMS/CC_NAME in the environment\n");
        return 1;
    }
    int me = atoi(id), n = atoi(vms);
    say("packed: I am %s of %ld VMs", name, n);
    char peer[32];
    snprintf(peer, sizeof(peer), "node%d", (me + 1) % n);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM}, *ai = NULL;
    int g = getaddrinfo(peer, "7000", &hints, &ai);
    char addr[64] = "?";
    if (g == 0)
        inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, addr, sizeof(addr));
    say("packed: %s resolves", g == 0 ? addr : gai_strerror(g), 0);
    struct statfs sf;
    say("packed: /dev/shm is tmpfs: %s", statfs("/dev/shm", &sf) == 0 &&
        sf.f_type == 0x01021994 ? "yes" : "no", 0);
    features();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    say("packed: two clock reads %s (%ld ns apart)",
        (t1.tv_sec > t0.tv_sec || t1.tv_nsec > t0.tv_nsec) ? "increase" : "do not increase",
        (long)((t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec - t0.tv_nsec));

    /* UDP: send to the next VM, receive from the previous one */
    if (n > 1 && g == 0) {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in me_addr = {.sin_family = AF_INET, .sin_port = htons(7000)};
        if (s < 0 || bind(s, (struct sockaddr *)&me_addr, sizeof(me_addr)) < 0) {
            say("packed: cannot bind UDP 7000: %s", strerror(errno), 0);
            return 1;
        }
        struct timeval tv = {5, 0};
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        char msg[64], got[64] = "";
        snprintf(msg, sizeof(msg), "hello from %s", name);
        for (int i = 0; i < 20 && !got[0]; i++) {
            sendto(s, msg, strlen(msg), 0, ai->ai_addr, ai->ai_addrlen);
            ssize_t r = recv(s, got, sizeof(got) - 1, 0);
            if (r > 0)
                got[r] = 0;
        }
        say("packed: received \"%s\"", got[0] ? got : "nothing", 0);
        /* keep answering a little while so the others get theirs */
        for (int i = 0; i < 10; i++) {
            sendto(s, msg, strlen(msg), 0, ai->ai_addr, ai->ai_addrlen);
            usleep(50000);
        }
        close(s);
    }
    if (ai)
        freeaddrinfo(ai);
    say("packed: done, exiting with %s%ld", "", 3);
    return 3;
}
