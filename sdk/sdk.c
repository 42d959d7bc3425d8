/* Guest SDK core: finding the VMM, the mailbox transport, the catalog,
 * assertions, lifecycle events, guidance and randomness.
 *
 * Start-up (a constructor, or the first SDK call, whichever comes first):
 *   1. map the VMM's header page through /dev/mem and check its magic; no
 *      /dev/mem, no access or no magic means local mode;
 *   2. map the whole SDK area (mailboxes, bitmap, state table) shared;
 *   3. choose the doorbell: hypercall when the VMM offers it and
 *      /dev/chaoscontrol exists, else port I/O (CHAOSCONTROL_SDK_TRIGGER
 *      overrides);
 *   4. say hello, register the catalog (the "cc_catalog" section) and get a
 *      state-table slot for each entry.
 * See chaoscontrol_protocol.h for the layout and the call sequence. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sdk_internal.h"

#define CC_ENTRY_REGISTERED 0x1u    /* sent to the VMM (or catalogued locally) */
#define CC_ENTRY_SEEN_TRUE  0x2u    /* local mode: first true written */
#define CC_ENTRY_SEEN_FALSE 0x4u    /* local mode: first false written */

static struct {
    int mode;                           /* CC_SDK_* */
    volatile uint8_t *area;             /* CC_PROTO_AREA_GPA .. +AREA_SIZE */
    volatile struct cc_proto_header *hdr;
    volatile struct cc_proto_slot *slots;
    uint32_t nslots;
    uint32_t nmailboxes;
    uint64_t mailbox_gpa;
    uint16_t port;
    bool vmmcall;
    bool hypercall_ok;
    int hc_fd;
    pthread_key_t key;
    bool key_ok;
    pthread_mutex_t lock;               /* guidance table, catalog state */
} g = {.hc_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

/* Defined only in the libvoidstar shim (voidstar.c). */
extern const int ccsdk_is_voidstar __attribute__((weak, visibility("hidden")));

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_state;                  /* 0 none, 1 running, 2 done */

static __thread bool tls_in_init;       /* this thread runs start-up */
static __thread int tls_mb = -1;        /* claimed mailbox index */
static __thread bool tls_busy;          /* inside a call (signal handler re-entry) */
static __thread bool tls_ioperm;

/* ---- small helpers ---- */

static pid_t my_tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

const char *ccsdk_kind_display(uint32_t kind)
{
    switch (kind) {
    case CC_KIND_ALWAYS: return "Always";
    case CC_KIND_ALWAYS_OR_UNREACHABLE: return "AlwaysOrUnreachable";
    case CC_KIND_SOMETIMES: return "Sometimes";
    case CC_KIND_REACHABLE: return "Reachable";
    case CC_KIND_UNREACHABLE: return "Unreachable";
    }
    return "Unknown";
}

const char *ccsdk_kind_type(uint32_t kind)
{
    switch (kind) {
    case CC_KIND_ALWAYS:
    case CC_KIND_ALWAYS_OR_UNREACHABLE: return "always";
    case CC_KIND_SOMETIMES: return "sometimes";
    default: return "reachability";
    }
}

bool ccsdk_kind_must_hit(uint32_t kind)
{
    return kind == CC_KIND_ALWAYS || kind == CC_KIND_SOMETIMES || kind == CC_KIND_REACHABLE;
}

/* strlen that accepts NULL; max caps it (0 = no cap). */
static size_t safe_len(const char *s, size_t max)
{
    if (!s)
        return 0;
    return max ? strnlen(s, max) : strlen(s);
}

uint64_t ccsdk_entry_id(const struct cc_catalog_entry *e)
{
    const char *file = e->file ? e->file : "";
    const char *msg = e->message ? e->message : "";
    return cc_proto_assert_id(file, strlen(file), e->line, msg, strlen(msg));
}

/* ---- finding the VMM ---- */

/* Open a device node; when it is missing and we are root, create it (init
 * in an initramfs often has no /dev). */
static int open_node(const char *path, unsigned maj, unsigned min)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT || geteuid() != 0)
        return fd;
    if (mknod(path, S_IFCHR | 0600, makedev(maj, min)) < 0 && errno != EEXIST)
        return -1;
    return open(path, O_RDWR | O_CLOEXEC);
}

/* major:minor of a misc device from sysfs, e.g. "10:123". */
static bool misc_devnum(const char *name, unsigned *maj, unsigned *min)
{
    char path[128];
    snprintf(path, sizeof(path), "/sys/class/misc/%s/dev", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    return sscanf(buf, "%u:%u", maj, min) == 2;
}

static int open_hypercall_dev(void)
{
    int fd = open("/dev/chaoscontrol", O_RDWR | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT)
        return fd;
    unsigned maj, min;
    if (!misc_devnum("chaoscontrol", &maj, &min)) {
        if (getpid() == 1) {
            struct stat st;
            if (stat("/sys/class", &st) < 0)
                mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        }
        if (!misc_devnum("chaoscontrol", &maj, &min))
            return -1;
    }
    return open_node("/dev/chaoscontrol", maj, min);
}

static bool map_vmm(void)
{
    int fd = open("/dev/mem", O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && getpid() == 1) {
        /* init in an initramfs without /dev nodes: devtmpfs has them all */
        mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL);
        fd = open("/dev/mem", O_RDWR | O_CLOEXEC);
    }
    if (fd < 0)
        fd = open_node("/dev/mem", 1, 1);
    if (fd < 0)
        return false;
    /* Look before touching: on real hardware this page is BIOS ROM. */
    void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, (off_t)CC_PROTO_HEADER_GPA);
    if (p == MAP_FAILED) {
        close(fd);
        return false;
    }
    struct cc_proto_header h;
    memcpy(&h, p, sizeof(h));
    munmap(p, 4096);
    if (h.magic != CC_PROTO_MAGIC) {
        close(fd);
        return false;       /* not under ChaosControl: quietly local */
    }
    if (h.version != CC_PROTO_VERSION || h.header_size < sizeof(struct cc_proto_header)) {
        char msg[160];
        int n = snprintf(msg, sizeof(msg), "chaoscontrol-sdk: the VMM speaks protocol version "
                         "%u, this SDK version %u; running in local mode\n", h.version,
                         CC_PROTO_VERSION);
        ssize_t r = write(2, msg, n > 0 ? (size_t)n : 0);
        (void)r;
        close(fd);
        return false;
    }
    /* Every region must lie inside the area we map. */
    uint64_t lo = CC_PROTO_AREA_GPA, hi = CC_PROTO_AREA_GPA + CC_PROTO_AREA_SIZE;
    if (h.mailbox_gpa < lo || h.mailbox_size != CC_PROTO_MAILBOX_SIZE ||
        h.mailbox_count == 0 || h.mailbox_count > 64 ||
        h.mailbox_gpa + (uint64_t)h.mailbox_count * h.mailbox_size > hi ||
        h.coverage_gpa < lo || h.coverage_size != CC_PROTO_COVERAGE_SIZE ||
        h.coverage_gpa + h.coverage_size > hi || h.table_gpa < lo ||
        h.slot_size != CC_PROTO_SLOT_SIZE ||
        h.table_gpa + (uint64_t)h.table_slots * h.slot_size > hi) {
        close(fd);
        return false;
    }
    void *a = mmap(NULL, CC_PROTO_AREA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                   (off_t)CC_PROTO_AREA_GPA);
    close(fd);
    if (a == MAP_FAILED)
        return false;
    g.area = a;
    g.hdr = (volatile struct cc_proto_header *)(g.area + (CC_PROTO_HEADER_GPA - lo));
    g.slots = (volatile struct cc_proto_slot *)(g.area + (h.table_gpa - lo));
    g.nslots = h.table_slots;
    g.nmailboxes = h.mailbox_count;
    g.mailbox_gpa = h.mailbox_gpa;
    g.port = (uint16_t)h.port;
    g.vmmcall = (h.flags & CC_PROTO_F_VMMCALL) != 0;
    g.hypercall_ok = (h.flags & CC_PROTO_F_HYPERCALL) && !(h.flags & CC_PROTO_F_FORCE_PORT);
    ccsdk_cov_attach((uint8_t *)(g.area + (h.coverage_gpa - lo)));
    return true;
}

static volatile struct cc_proto_mailbox *mailbox_at(int i)
{
    return (volatile struct cc_proto_mailbox *)(g.area + (g.mailbox_gpa - CC_PROTO_AREA_GPA) +
                                                 (size_t)i * CC_PROTO_MAILBOX_SIZE);
}

/* ---- mailboxes ---- */

static void release_mailbox(int i)
{
    if (i < 0)
        return;
    uint32_t tid = (uint32_t)my_tid();
    __atomic_compare_exchange_n(&g.hdr->mailbox_owner[i], &tid, 0, false, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
}

static void thread_exit(void *arg)
{
    (void)arg;
    release_mailbox(tls_mb);
    tls_mb = -1;
}

static void process_exit(void)
{
    if (g.mode != CC_SDK_LOCAL)
        release_mailbox(tls_mb);
    tls_mb = -1;
}

/* Claim a free mailbox for this thread (waiting if all are taken by live
 * threads; owners that died are reclaimed). fresh: not one this thread
 * owns already (a nested call from a signal handler). */
static int claim_mailbox(bool fresh)
{
    uint32_t tid = (uint32_t)my_tid();
    for (unsigned spins = 0;; spins++) {
        for (uint32_t i = 0; i < g.nmailboxes; i++) {
            uint32_t cur = __atomic_load_n(&g.hdr->mailbox_owner[i], __ATOMIC_RELAXED);
            if (cur == tid && !fresh)
                return (int)i;      /* ours already (e.g. after exec) */
            uint32_t zero = 0;
            if (cur == 0 &&
                __atomic_compare_exchange_n(&g.hdr->mailbox_owner[i], &zero, tid, false,
                                            __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
                return (int)i;
        }
        for (uint32_t i = 0; i < g.nmailboxes; i++) {
            uint32_t cur = __atomic_load_n(&g.hdr->mailbox_owner[i], __ATOMIC_RELAXED);
            if (cur && kill((pid_t)cur, 0) < 0 && errno == ESRCH)
                __atomic_compare_exchange_n(&g.hdr->mailbox_owner[i], &cur, 0, false,
                                            __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        }
        sched_yield();
    }
}

static bool thread_ioperm(void)
{
    if (tls_ioperm)
        return true;
    if (ioperm(g.port, 4, 1) < 0)
        return false;
    tls_ioperm = true;
    return true;
}

static void ring(int idx, uint32_t op)
{
    volatile struct cc_proto_mailbox *mb = mailbox_at(idx);
    if (g.mode == CC_SDK_HYPERCALL) {
        struct cc_proto_hypercall hc = {
            .nr = CC_PROTO_HYPERCALL_NR,
            .args = {g.mailbox_gpa + (uint64_t)idx * CC_PROTO_MAILBOX_SIZE, 1, op, 0},
            .flags = g.vmmcall ? CC_PROTO_HC_VMMCALL : 0,
        };
        int r;
        do {
            r = ioctl(g.hc_fd, CC_PROTO_IOC_HYPERCALL, &hc);
        } while (r < 0 && errno == EINTR);
        if (r < 0)
            mb->status = -errno;
        else if ((int64_t)hc.ret < 0 && mb->status == -ENOSYS)
            mb->status = (int32_t)(int64_t)hc.ret;
        return;
    }
    if (!thread_ioperm()) {
        mb->status = -EPERM;
        return;
    }
    uint32_t v = (uint32_t)idx;
    __asm__ volatile("outl %0, %w1" : : "a"(v), "Nd"(g.port) : "memory");
}

/* Copy bytes [off, off + n) of the payload made of parts p1 and p2 to dst. */
static void gather(volatile uint8_t *dst, const uint8_t *p1, size_t l1, const uint8_t *p2,
                   size_t off, size_t n)
{
    if (off < l1) {
        size_t k = l1 - off < n ? l1 - off : n;
        memcpy((void *)dst, p1 + off, k);
        dst += k;
        n -= k;
        off += k;
    }
    if (n)
        memcpy((void *)dst, p2 + (off - l1), n);
}

/* Fill the mailbox (payload straight from the caller's parts: every page
 * touched costs, under nested virtualization) and ring. */
static int32_t send_one(int idx, uint32_t op, uint32_t flags, uint64_t a0, uint64_t a1,
                        uint64_t a2, const uint8_t *p1, size_t l1, const uint8_t *p2,
                        size_t off, size_t n)
{
    volatile struct cc_proto_mailbox *mb = mailbox_at(idx);
    mb->op = op;
    mb->flags = flags;
    mb->len = (uint32_t)n;
    mb->arg[0] = a0;
    mb->arg[1] = a1;
    mb->arg[2] = a2;
    mb->status = -ENOSYS;       /* stays if nobody answers */
    if (n)
        gather(mb->data, p1, l1, p2, off, n);
    ring(idx, op);
    return mb->status;
}

/* Send a payload made of up to two parts, in pieces when it does not fit
 * one mailbox. */
static int call_parts(uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2, const void *p1,
                      size_t l1, const void *p2, size_t l2, struct ccsdk_reply *reply)
{
    if (reply) {
        reply->status = -ENODEV;
        reply->ret[0] = reply->ret[1] = 0;
        reply->got = 0;
    }
    if (ccsdk_init() == CC_SDK_LOCAL)
        return -ENODEV;
    int idx;
    bool temp = false;
    if (tls_busy) {
        /* re-entered from a signal handler: use another mailbox */
        idx = claim_mailbox(true);
        temp = true;
    } else {
        if (tls_mb < 0) {
            tls_mb = claim_mailbox(false);
            if (g.key_ok)
                pthread_setspecific(g.key, (void *)1);
        }
        idx = tls_mb;
    }
    bool was_busy = tls_busy;
    tls_busy = true;

    const size_t max = CC_PROTO_MAILBOX_DATA;
    size_t total = l1 + l2, off = 0;
    int32_t st = 0;
    bool staged = false;
    /* Everything but the last piece goes as CC_OP_APPEND. */
    while (total - off > max) {
        st = send_one(idx, CC_OP_APPEND, 0, off, 0, 0, p1, l1, p2, off, max);
        if (st < 0)
            goto out;
        off += max;
        staged = true;
    }
    st = send_one(idx, op, staged ? CC_MB_STAGED : 0, a0, a1, a2, p1, l1, p2, off, total - off);
    if (reply) {
        volatile struct cc_proto_mailbox *mb = mailbox_at(idx);
        reply->ret[0] = mb->ret[0];
        reply->ret[1] = mb->ret[1];
        if (reply->data && reply->cap) {
            size_t got = mb->len < reply->cap ? mb->len : reply->cap;
            if (got > CC_PROTO_MAILBOX_DATA)
                got = CC_PROTO_MAILBOX_DATA;
            memcpy(reply->data, (const void *)mb->data, got);
            reply->got = got;
        }
    }
out:
    if (reply)
        reply->status = st;
    tls_busy = was_busy;
    if (temp)
        release_mailbox(idx);
    return st;
}

int ccsdk_call(uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2, const void *payload,
               size_t len, struct ccsdk_reply *reply)
{
    return call_parts(op, a0, a1, a2, payload, len, NULL, 0, reply);
}

int ccsdk_call2(uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2, const void *p1, size_t l1,
                const void *p2, size_t l2, struct ccsdk_reply *reply)
{
    return call_parts(op, a0, a1, a2, p1, l1, p2, l2, reply);
}

/* ---- catalog ---- */

extern struct cc_catalog_entry *__start_cc_catalog[] __attribute__((weak, visibility("hidden")));
extern struct cc_catalog_entry *__stop_cc_catalog[] __attribute__((weak, visibility("hidden")));

static size_t put_catrec(uint8_t *buf, size_t cap, struct cc_catalog_entry *e)
{
    size_t ml = safe_len(e->message, CC_PROTO_STR_MAX);
    size_t fl = safe_len(e->file, CC_PROTO_STR_MAX);
    size_t nl = safe_len(e->function, CC_PROTO_STR_MAX);
    size_t need = sizeof(struct cc_proto_catrec) + ml + fl + nl;
    need = (need + 7) & ~(size_t)7;
    if (need > cap)
        return 0;
    struct cc_proto_catrec r = {
        .id = e->id, .kind = e->kind, .line = e->line,
        .message_len = (uint16_t)ml, .file_len = (uint16_t)fl, .function_len = (uint16_t)nl,
    };
    memset(buf, 0, need);
    memcpy(buf, &r, sizeof(r));
    size_t o = sizeof(r);
    if (ml)
        memcpy(buf + o, e->message, ml);
    o += ml;
    if (fl)
        memcpy(buf + o, e->file, fl);
    o += fl;
    if (nl)
        memcpy(buf + o, e->function, nl);
    return need;
}

static bool entry_ok(const struct cc_catalog_entry *e)
{
    return e && e->magic == CC_CATALOG_MAGIC && e->kind >= CC_KIND_ALWAYS &&
           e->kind <= CC_KIND_UNREACHABLE;
}

/* Register entries [0, n) with the VMM, as many per call as fit. */
static void register_entries(struct cc_catalog_entry **list, size_t n)
{
    uint8_t buf[CC_PROTO_MAILBOX_DATA];
    uint32_t slots[CC_PROTO_MAILBOX_DATA / sizeof(uint32_t)];
    size_t i = 0;
    while (i < n) {
        size_t used = 0, count = 0, first = i;
        while (i < n) {
            struct cc_catalog_entry *e = list[i];
            if (!entry_ok(e) || (e->state & CC_ENTRY_REGISTERED)) {
                i++;
                continue;
            }
            e->id = ccsdk_entry_id(e);
            size_t k = put_catrec(buf + used, sizeof(buf) - used, e);
            if (!k)
                break;
            used += k;
            count++;
            i++;
        }
        if (!count)
            break;      /* cannot happen: one record always fits */
        struct ccsdk_reply rep = {.data = slots, .cap = sizeof(slots)};
        int st = ccsdk_call(CC_OP_CATALOG, count, 0, 0, buf, used, &rep);
        size_t k = 0;
        for (size_t j = first; j < i; j++) {
            struct cc_catalog_entry *e = list[j];
            if (!entry_ok(e) || (e->state & CC_ENTRY_REGISTERED))
                continue;
            uint32_t slot = 0;
            if (st == 0 && (k + 1) * sizeof(uint32_t) <= rep.got)
                slot = slots[k];
            k++;
            e->slot = slot <= g.nslots ? slot : 0;
            e->state |= CC_ENTRY_REGISTERED;
        }
    }
}

static void register_catalog(void)
{
    /* Through volatile: compilers may assume two arrays' addresses are
     * non-null and unrelated, and fold the checks away. */
    struct cc_catalog_entry **volatile vstart = __start_cc_catalog;
    struct cc_catalog_entry **volatile vstop = __stop_cc_catalog;
    struct cc_catalog_entry **start = vstart, **stop = vstop;
    if (!start || !stop || (uintptr_t)stop <= (uintptr_t)start)
        return;
    size_t n = (size_t)(stop - start);
    if (g.mode == CC_SDK_LOCAL) {
        for (size_t i = 0; i < n; i++) {
            struct cc_catalog_entry *e = start[i];
            if (!entry_ok(e))
                continue;
            e->id = ccsdk_entry_id(e);
            e->state |= CC_ENTRY_REGISTERED;
            ccsdk_local_assert(e, false, false, NULL);
        }
        return;
    }
    register_entries(start, n);
}

/* ---- start-up ---- */

static void after_fork_child(void)
{
    /* The parent's mailbox and kernel coverage belong to the parent thread. */
    tls_mb = -1;
    tls_busy = false;
    ccsdk_kcov_forget();
}

static const char *program_name(char *buf, size_t cap)
{
    /* argv[0]'s last component (no /proc needed: init often has none) */
    const char *n = program_invocation_short_name;
    if (n && *n)
        snprintf(buf, cap, "%s", n);
    else
        snprintf(buf, cap, "pid-%d", (int)getpid());
    return buf;
}

static void do_init(void)
{
    tls_in_init = true;
    __atomic_store_n(&init_state, 1, __ATOMIC_RELEASE);
    g.mode = CC_SDK_LOCAL;
    const char *trig = getenv("CHAOSCONTROL_SDK_TRIGGER");
    const char *kcov = getenv("CHAOSCONTROL_SDK_KCOV");
    bool want_local = trig && !strcmp(trig, "local");
    bool want_port = trig && !strcmp(trig, "port");
    bool want_hc = trig && !strcmp(trig, "hypercall");

    if (!want_local && map_vmm()) {
        if (!want_port && g.hypercall_ok) {
            g.hc_fd = open_hypercall_dev();
            if (g.hc_fd >= 0)
                g.mode = CC_SDK_HYPERCALL;
        }
        if (g.mode == CC_SDK_LOCAL && !want_hc) {
            if (thread_ioperm())
                g.mode = CC_SDK_PORT;
        }
        if (g.mode == CC_SDK_LOCAL && want_hc && thread_ioperm())
            g.mode = CC_SDK_PORT;   /* asked for hypercall, which is missing */
        if (g.mode == CC_SDK_LOCAL) {
            static const char msg[] = "chaoscontrol-sdk: found the VMM but can ring neither "
                                      "doorbell (no ioperm, no /dev/chaoscontrol); running "
                                      "in local mode\n";
            ssize_t r = write(2, msg, sizeof(msg) - 1);
            (void)r;
        }
    }
    if (g.mode != CC_SDK_LOCAL) {
        g.key_ok = pthread_key_create(&g.key, thread_exit) == 0;
        pthread_atfork(NULL, NULL, after_fork_child);
        atexit(process_exit);
        ccsdk_kcov_enable(!(kcov && !strcmp(kcov, "0")));
        char name[64];
        program_name(name, sizeof(name));
        uint64_t flags = (g.mode == CC_SDK_HYPERCALL ? CC_HELLO_HYPERCALL : 0) |
                         (ccsdk_kcov_active() ? CC_HELLO_KCOV : 0);
        const int *volatile shim = &ccsdk_is_voidstar;
        if (shim)
            flags |= CC_HELLO_VOIDSTAR;
        ccsdk_call(CC_OP_HELLO, (uint64_t)getpid(), flags, 0, name, strlen(name), NULL);
    } else {
        ccsdk_local_open();
        ccsdk_local_sdk_info("C");
    }
    __atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
    pthread_mutex_lock(&g.lock);
    register_catalog();
    pthread_mutex_unlock(&g.lock);
    tls_in_init = false;
}

int ccsdk_init(void)
{
    if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 2)
        return g.mode;
    if (tls_in_init)
        return g.mode;      /* re-entered during start-up */
    pthread_once(&init_once, do_init);
    return g.mode;
}

bool ccsdk_ready(void)
{
    return __atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 2;
}

int ccsdk_current_mode(void)
{
    return ccsdk_init();
}

/* Defined (non-zero) by programs that start the SDK at their first call
 * rather than before main() (chaoscontrol.h). */
extern const int cc_sdk_lazy_start __attribute__((weak));

__attribute__((constructor(101))) static void sdk_ctor(void)
{
    const int *volatile lazy = &cc_sdk_lazy_start;
    if (lazy && *lazy)
        return;
    ccsdk_init();
}

/* ---- public API ---- */

int cc_sdk_mode(void)
{
    return ccsdk_init();
}

int cc_sdk_set_mode(int mode)
{
    if (ccsdk_init() == CC_SDK_LOCAL)
        return -1;
    if (mode == CC_SDK_HYPERCALL) {
        if (!(g.hdr->flags & CC_PROTO_F_HYPERCALL))
            return -1;
        if (g.hc_fd < 0)
            g.hc_fd = open_hypercall_dev();
        if (g.hc_fd < 0)
            return -1;
        g.mode = CC_SDK_HYPERCALL;
        return 0;
    }
    if (mode == CC_SDK_PORT) {
        if (!thread_ioperm())
            return -1;
        g.mode = CC_SDK_PORT;
        return 0;
    }
    return -1;
}

void cc_sdk_ping(void)
{
    ccsdk_call(CC_OP_PING, 0, 0, 0, NULL, 0, NULL);
}

void cc_sdk_flush(void)
{
    if (ccsdk_init() != CC_SDK_LOCAL)
        ccsdk_kcov_fold();
}

void cc_setup_complete(const char *details)
{
    if (ccsdk_init() == CC_SDK_LOCAL) {
        struct ccsdk_str s;
        ccsdk_str_init(&s);
        ccsdk_str_cstr(&s, "{\"antithesis_setup\":{\"status\":\"complete\",\"details\":");
        ccsdk_str_json_value(&s, details);
        ccsdk_str_cstr(&s, "}}");
        if (s.ok)
            ccsdk_local_line(s.p, s.len);
        ccsdk_str_free(&s);
        return;
    }
    ccsdk_kcov_fold();
    ccsdk_call(CC_OP_SETUP, 0, 0, 0, details, safe_len(details, 0), NULL);
}

void cc_send_event(const char *name, const char *details)
{
    if (!name || !*name)
        name = "anonymous";
    if (ccsdk_init() == CC_SDK_LOCAL) {
        struct ccsdk_str s;
        ccsdk_str_init(&s);
        ccsdk_str_cstr(&s, "{");
        ccsdk_str_json(&s, name);
        ccsdk_str_cstr(&s, ":");
        ccsdk_str_json_value(&s, details);
        ccsdk_str_cstr(&s, "}");
        if (s.ok)
            ccsdk_local_line(s.p, s.len);
        ccsdk_str_free(&s);
        return;
    }
    ccsdk_kcov_fold();
    ccsdk_call2(CC_OP_EVENT, 0, 0, 0, name, strlen(name) + 1, details,
                safe_len(details, 0), NULL);
}

/* ---- assertions ---- */

static bool is_failure(uint32_t kind, int cond)
{
    switch (kind) {
    case CC_KIND_ALWAYS:
    case CC_KIND_ALWAYS_OR_UNREACHABLE:
        return !cond;
    case CC_KIND_UNREACHABLE:
        return true;
    }
    return false;
}

void cc_assert_eval_(struct cc_catalog_entry *e, int cond, const char *details)
{
    if (!entry_ok(e))
        return;
    int mode = ccsdk_init();
    /* REACHABLE and UNREACHABLE have no condition: reaching them is it. */
    if (e->kind == CC_KIND_REACHABLE)
        cond = 1;
    else if (e->kind == CC_KIND_UNREACHABLE)
        cond = 0;
    if (mode == CC_SDK_LOCAL) {
        if (!(__atomic_fetch_or(&e->state, CC_ENTRY_REGISTERED, __ATOMIC_RELAXED) &
              CC_ENTRY_REGISTERED)) {
            e->id = ccsdk_entry_id(e);
            ccsdk_local_assert(e, false, false, NULL);
        }
        uint32_t bit = cond ? CC_ENTRY_SEEN_TRUE : CC_ENTRY_SEEN_FALSE;
        uint32_t old = __atomic_fetch_or(&e->state, bit, __ATOMIC_RELAXED);
        if (!(old & bit))
            ccsdk_local_assert(e, true, cond != 0, details);
        return;
    }
    if (!(e->state & CC_ENTRY_REGISTERED)) {
        /* Not in our section (another module) or hit before start-up. */
        pthread_mutex_lock(&g.lock);
        struct cc_catalog_entry *one = e;
        register_entries(&one, 1);
        pthread_mutex_unlock(&g.lock);
    }
    uint32_t slot = e->slot;
    bool counted = false, first_failure = true;
    if (slot && slot <= g.nslots) {
        volatile struct cc_proto_slot *s = &g.slots[slot - 1];
        __atomic_fetch_add(&s->hits, 1, __ATOMIC_RELAXED);
        if (cond)
            __atomic_fetch_add(&s->passes, 1, __ATOMIC_RELAXED);
        else
            first_failure = __atomic_fetch_add(&s->fails, 1, __ATOMIC_RELAXED) == 0;
        counted = true;
    }
    ccsdk_kcov_fold();
    /* Exit only for what the VMM must act on now: the first failure of an
     * entry in this run (the table is VM-wide and snapshots carry it), and
     * every evaluation of an entry without a slot (the VMM counts those). */
    if (counted && !(is_failure(e->kind, cond) && first_failure))
        return;
    uint64_t flags = (cond ? CC_ASSERT_COND : 0) | (counted ? CC_ASSERT_COUNTED : 0) |
                     ((uint64_t)e->kind << 8);
    ccsdk_call(CC_OP_ASSERT, e->id, flags, slot, details, safe_len(details, 0), NULL);
}

/* ---- assertions made at run time ---- */

/* Entries made by cc_assert_register / cc_assert_dynamic: a descriptor on
 * the heap per (location, message), found again by id, never freed (the
 * VMM keeps a slot for each). */
struct dyn_entry {
    struct cc_catalog_entry e;
    struct dyn_entry *next;
};

static struct dyn_entry *dyn_list;

/* "path:LINE" gives file "path" and line LINE; anything else is the file,
 * line 0. */
static size_t split_location(const char *loc, uint32_t *line)
{
    size_t n = strlen(loc), i = n;
    while (i > 0 && loc[i - 1] >= '0' && loc[i - 1] <= '9')
        i--;
    *line = 0;
    if (i == n || i < 2 || loc[i - 1] != ':' || n - i > 9)
        return n;
    *line = (uint32_t)strtoul(loc + i, NULL, 10);
    return i - 1;
}

/* The entry for (kind, message, location), made on first use; NULL for bad
 * arguments or no memory. Under g.lock. */
static struct cc_catalog_entry *dyn_find(int kind, const char *message, const char *location)
{
    if (kind < CC_KIND_ALWAYS || kind > CC_KIND_UNREACHABLE || !message || !*message)
        return NULL;
    if (!location)
        location = "";
    uint32_t line;
    size_t fl = split_location(location, &line);
    size_t ml = strlen(message);
    if (ml > CC_PROTO_STR_MAX)
        ml = CC_PROTO_STR_MAX;
    if (fl > CC_PROTO_STR_MAX)
        fl = CC_PROTO_STR_MAX;
    uint64_t id = cc_proto_assert_id(location, fl, line, message, ml);
    for (struct dyn_entry *d = dyn_list; d; d = d->next)
        if (d->e.id == id && d->e.kind == (uint32_t)kind && d->e.line == line &&
            !strncmp(d->e.message, message, ml) && !d->e.message[ml] &&
            !strncmp(d->e.file, location, fl) && !d->e.file[fl])
            return &d->e;
    struct dyn_entry *d = calloc(1, sizeof(*d) + ml + 1 + fl + 1);
    if (!d)
        return NULL;
    char *m = (char *)(d + 1), *f = m + ml + 1;
    memcpy(m, message, ml);
    memcpy(f, location, fl);
    d->e = (struct cc_catalog_entry){
        .magic = CC_CATALOG_MAGIC, .kind = (uint32_t)kind, .line = line, .message = m,
        .file = f, .function = "", .id = id,
    };
    d->next = dyn_list;
    dyn_list = d;
    return &d->e;
}

/* Put e in the catalog (once). Under g.lock. */
static void dyn_register(struct cc_catalog_entry *e)
{
    if (e->state & CC_ENTRY_REGISTERED)
        return;
    if (g.mode == CC_SDK_LOCAL) {
        e->state |= CC_ENTRY_REGISTERED;
        ccsdk_local_assert(e, false, false, NULL);
        return;
    }
    register_entries(&e, 1);
}

/* The runtime catalog entry (kind, message, location), found or made and
 * registered; NULL for a bad kind or an empty message. */
static struct cc_catalog_entry *dyn_get(int kind, const char *message, const char *location)
{
    ccsdk_init();
    pthread_mutex_lock(&g.lock);
    struct cc_catalog_entry *e = dyn_find(kind, message, location);
    if (e)
        dyn_register(e);
    pthread_mutex_unlock(&g.lock);
    return e;
}

int cc_assert_register(int kind, const char *message, const char *location)
{
    return dyn_get(kind, message, location) ? 0 : -1;
}

int cc_assert_dynamic(int kind, int cond, const char *message, const char *location,
                      const char *details)
{
    struct cc_catalog_entry *e = dyn_get(kind, message, location);
    if (!e)
        return -1;
    cc_assert_eval_(e, cond, details);
    return 0;
}

/* ---- guidance ---- */

/* Only new extremes go to the VMM: a small table of the best value this
 * process has sent per (message, direction). */
#define GUIDE_SLOTS 128

static struct guide {
    uint64_t hash;
    int64_t best;
    bool used;
} guides[GUIDE_SLOTS];

/* True when value is a new extreme for (message, direction) in this
 * process (the first value always is). */
static bool guidance_improves(const char *message, int64_t value, bool maximize)
{
    uint64_t h = cc_proto_fnv1a(0xcbf29ce484222325ull, message, strlen(message)) ^ maximize;
    bool better = true;
    pthread_mutex_lock(&g.lock);
    for (unsigned i = 0; i < GUIDE_SLOTS; i++) {
        struct guide *gd = &guides[(h + i) % GUIDE_SLOTS];
        if (!gd->used) {
            gd->used = true;
            gd->hash = h;
            gd->best = value;
            break;
        }
        if (gd->hash == h) {
            if (maximize ? value > gd->best : value < gd->best)
                gd->best = value;
            else
                better = false;
            break;
        }
    }
    pthread_mutex_unlock(&g.lock);
    return better;
}

static void guidance(const char *message, int64_t value, bool maximize)
{
    if (!message)
        message = "";
    int mode = ccsdk_init();
    if (mode != CC_SDK_LOCAL)
        ccsdk_kcov_fold();
    if (!guidance_improves(message, value, maximize))
        return;
    if (mode == CC_SDK_LOCAL) {
        struct ccsdk_str s;
        ccsdk_str_init(&s);
        ccsdk_str_cstr(&s, "{\"antithesis_guidance\":{\"guidance_type\":\"numeric\",\"message\":");
        ccsdk_str_json(&s, message);
        ccsdk_str_cstr(&s, ",\"id\":");
        ccsdk_str_json(&s, message);
        ccsdk_str_cstr(&s, ",\"location\":{\"class\":\"\",\"function\":\"\",\"file\":\"\","
                           "\"begin_line\":0,\"begin_column\":0}");
        ccsdk_str_fmt(&s, ",\"maximize\":%s,\"guidance_data\":%lld,\"hit\":true}}",
                      maximize ? "true" : "false", (long long)value);
        if (s.ok)
            ccsdk_local_line(s.p, s.len);
        ccsdk_str_free(&s);
        return;
    }
    ccsdk_call(CC_OP_GUIDANCE, (uint64_t)value, maximize ? 1 : 0, 0, message, strlen(message),
               NULL);
}

void cc_guidance_maximize(const char *message, int64_t value)
{
    guidance(message, value, true);
}

void cc_guidance_minimize(const char *message, int64_t value)
{
    guidance(message, value, false);
}

/* ---- randomness ---- */

uint64_t cc_random_u64(void)
{
    if (ccsdk_init() == CC_SDK_LOCAL) {
        uint64_t v;
        ccsdk_local_random(&v, sizeof(v));
        return v;
    }
    ccsdk_kcov_fold();
    struct ccsdk_reply rep = {0};
    if (ccsdk_call(CC_OP_RANDOM, CC_RAND_U64, 0, 0, NULL, 0, &rep) < 0) {
        uint64_t v;
        ccsdk_local_random(&v, sizeof(v));
        return v;
    }
    return rep.ret[0];
}

static uint64_t local_below(uint64_t n)
{
    /* rejection sampling: uniform without modulo bias */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t v;
        ccsdk_local_random(&v, sizeof(v));
        if (v < limit)
            return v % n;
    }
}

uint64_t cc_random_choice(uint64_t n)
{
    if (n == 0)
        return 0;
    if (ccsdk_init() == CC_SDK_LOCAL)
        return local_below(n);
    ccsdk_kcov_fold();
    struct ccsdk_reply rep = {0};
    if (ccsdk_call(CC_OP_RANDOM, CC_RAND_CHOICE, n, 0, NULL, 0, &rep) < 0)
        return local_below(n);
    return rep.ret[0] < n ? rep.ret[0] : rep.ret[0] % n;
}

void cc_random_bytes(void *buf, size_t len)
{
    if (!buf || !len)
        return;
    if (ccsdk_init() == CC_SDK_LOCAL) {
        ccsdk_local_random(buf, len);
        return;
    }
    ccsdk_kcov_fold();
    uint8_t *p = buf;
    while (len) {
        size_t n = len < CC_PROTO_MAILBOX_DATA ? len : CC_PROTO_MAILBOX_DATA;
        struct ccsdk_reply rep = {.data = p, .cap = n};
        if (ccsdk_call(CC_OP_RANDOM, CC_RAND_BYTES, n, 0, NULL, 0, &rep) < 0 || rep.got != n)
            ccsdk_local_random(p + rep.got, n - rep.got);
        p += n;
        len -= n;
    }
}
