/* The dashboard's HTTP server (chaoscontrol/dash.h, docs/dashboard.md),
 * on libmicrohttpd with a thread per connection: an event stream's thread
 * may wait for news without holding up anyone else.
 *
 * State: whichever thread finds the corpus files changed (checkpoint.json's
 * inode, size or time, the directory's time, a notify or a change of
 * "live") rebuilds the state JSON under st_lock; the generation grows only
 * when the text changed. The explorer's thread only bumps an atomic counter
 * and copies a progress line under a lock that is never held across I/O.
 *
 * Hostile requests: only GET and HEAD; /files/ names are one path
 * component of [A-Za-z0-9._-] not starting with a dot, opened with
 * openat(O_NOFOLLOW) on the corpus directory and served only if they are
 * regular files; the front end is a fixed list of names. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "chaoscontrol/dash.h"
#include "explore/dash_internal.h"
#include "util/selfpath.h"

#define DASH_KEEPALIVE_S 15
#define DASH_POLL_MS 500
#define DASH_MAX_NAME 200
#define DASH_MAX_WEB (16u << 20)

struct fkey {
    ino_t ino;
    off_t size;
    struct timespec mtime, dir_mtime;
    bool exists;
};

struct cc_dash {
    struct MHD_Daemon *mhd;
    char *corpus;                   /* absolute */
    int dirfd, webfd;               /* webfd -1: no front end built */
    char url[160];
    unsigned port;
    atomic_bool live, stopping;
    atomic_uint notify_seq, clients;
    pthread_mutex_t wait_lock;      /* event streams sleep on wait_cond */
    pthread_cond_t wait_cond;

    pthread_mutex_t st_lock;        /* the state below */
    char *state, *body;             /* body: the state with generation 0 */
    uint64_t generation;
    struct fkey key;
    unsigned seen_notify;
    bool seen_live, built;

    pthread_mutex_t p_lock;         /* the progress line; held for a copy only */
    char progress[512];
    uint64_t progress_seq;
};

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static struct fkey key_now(struct cc_dash *d)
{
    struct fkey k = {0};
    struct stat sb;
    if (fstatat(d->dirfd, "checkpoint.json", &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        k.exists = true;
        k.ino = sb.st_ino;
        k.size = sb.st_size;
        k.mtime = sb.st_mtim;
    }
    if (fstat(d->dirfd, &sb) == 0)
        k.dir_mtime = sb.st_mtim;
    return k;
}

static bool key_eq(const struct fkey *a, const struct fkey *b)
{
    return a->exists == b->exists && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->dir_mtime.tv_sec == b->dir_mtime.tv_sec &&
           a->dir_mtime.tv_nsec == b->dir_mtime.tv_nsec;
}

/* The current state text (malloc'd) and its generation. */
static char *state_get(struct cc_dash *d, uint64_t *gen)
{
    pthread_mutex_lock(&d->st_lock);
    struct fkey k = key_now(d);
    unsigned ns = atomic_load(&d->notify_seq);
    bool live = atomic_load(&d->live);
    if (!d->built || !key_eq(&k, &d->key) || ns != d->seen_notify || live != d->seen_live) {
        d->key = k;
        d->seen_notify = ns;
        d->seen_live = live;
        d->built = true;
        struct cc_err err = {0};
        json_t *o = dash_state(d->corpus, d->dirfd, live, &err);
        if (!o) {
            /* keep what was shown, and say why it is not newer */
            o = d->body ? json_loads(d->body, 0, NULL) : NULL;
            if (!o) {
                o = json_object();
                json_object_set_new(o, "format", json_string("chaoscontrol-dashboard"));
                json_object_set_new(o, "version", json_integer(1));
                json_object_set_new(o, "corpus", json_string(d->corpus));
                json_object_set_new(o, "live", json_boolean(live));
                json_object_set_new(o, "history", json_array());
                json_object_set_new(o, "bugs", json_array());
            }
            json_object_set_new(o, "error", json_string(err.msg));
        }
        json_object_set_new(o, "generation", json_integer(0));
        char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (body && (!d->body || strcmp(body, d->body))) {
            d->generation++;
            json_object_set_new(o, "generation", json_integer((json_int_t)d->generation));
            char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (text) {
                free(d->state);
                free(d->body);
                d->state = text;
                d->body = body;
                body = NULL;
            }
        }
        free(body);
        json_decref(o);
    }
    char *s = d->state ? strdup(d->state) : NULL;
    *gen = d->generation;
    pthread_mutex_unlock(&d->st_lock);
    return s;
}

/* ---- responses ---- */

static void common_headers(struct MHD_Response *r, const char *type)
{
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                            "img-src 'self' data:; connect-src 'self'");
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *type,
                                char *buf, size_t len, bool nocache)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(buf);
        return MHD_NO;
    }
    common_headers(r, type);
    if (nocache)
        MHD_add_response_header(r, "Cache-Control", "no-store");
    if (status == 405)
        MHD_add_response_header(r, "Allow", "GET, HEAD");      /* RFC 9110, 15.5.6 */
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    char *b = NULL;
    if (asprintf(&b, "%u %s\n", status, msg) < 0)
        return MHD_NO;
    return send_buf(c, status, "text/plain; charset=utf-8", b, strlen(b), true);
}

static enum MHD_Result send_json(struct MHD_Connection *c, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        return send_error(c, 500, "out of memory");
    return send_buf(c, 200, "application/json", s, strlen(s), true);
}

static const char *type_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } t[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
        {".json", "application/json"},         {".jsonl", "application/x-ndjson"},
        {".txt", "text/plain; charset=utf-8"}, {".png", "image/png"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(t) / sizeof(t[0]); i++)
        if (!strcmp(dot, t[i].ext))
            return t[i].type;
    return "application/octet-stream";
}

/* A corpus (or front-end) file: one component, no dot first, a regular
 * file reached without a symlink. */
static bool good_name(const char *n)
{
    size_t l = strlen(n);
    return l > 0 && l <= DASH_MAX_NAME && n[0] != '.' && n[0] != '-' &&
           strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == l;
}

/* cache: the Cache-Control value, or NULL for none */
static enum MHD_Result send_file(struct MHD_Connection *c, int dirfd, const char *name,
                                 const char *cache)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        int e = fd < 0 ? errno : 0;
        if (fd >= 0)
            close(fd);
        return send_error(c, e == ENOENT || e == 0 || e == ELOOP ? 404 : 403,
                          e == ENOENT ? "no such file" : "not a readable regular file");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((size_t)sb.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    common_headers(r, type_of(name));
    if (cache)
        MHD_add_response_header(r, "Cache-Control", cache);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static const char no_web_page[] =
    "<!doctype html><meta charset=utf-8><title>ChaosControl dashboard</title>"
    "<h1>ChaosControl dashboard</h1><p>The front end is not built here (run "
    "<code>make</code>, or set CC_DASHBOARD_WEB to its directory). The data is at "
    "<a href=\"/api/state\">/api/state</a> and <a href=\"/files/report.txt\">report.txt</a>.";

static enum MHD_Result send_web(struct cc_dash *d, struct MHD_Connection *c, const char *name)
{
    if (d->webfd < 0) {
        if (strcmp(name, "index.html"))
            return send_error(c, 404, "no front end built");
        char *b = strdup(no_web_page);
        return b ? send_buf(c, 200, "text/html; charset=utf-8", b, strlen(b), true) : MHD_NO;
    }
    /* index.html names app.js and app.css with their hash (?v=), so only
     * it must be checked again after a rebuild */
    return send_file(c, d->webfd, name, !strcmp(name, "index.html") ? "no-cache" : NULL);
}

/* ---- the event stream ---- */

struct sse {
    struct cc_dash *d;
    char *buf;
    size_t len, off;
    uint64_t sent_gen, sent_prog;
    bool first;
    double last;
};

static void sse_set(struct sse *s, char *text)
{
    free(s->buf);
    s->buf = text;
    s->len = text ? strlen(text) : 0;
    s->off = 0;
    s->last = mono_s();
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct sse *s = cls;
    struct cc_dash *d = s->d;
    for (;;) {
        if (s->off < s->len) {
            size_t n = s->len - s->off < max ? s->len - s->off : max;
            memcpy(out, s->buf + s->off, n);
            s->off += n;
            return (ssize_t)n;
        }
        if (atomic_load(&d->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        uint64_t gen;
        char *st = state_get(d, &gen);
        if (st && (s->first || gen != s->sent_gen)) {
            char *ev = NULL;
            if (asprintf(&ev, "event: state\ndata: %s\n\n", st) < 0)
                ev = NULL;
            free(st);
            s->first = false;
            s->sent_gen = gen;
            sse_set(s, ev);
            continue;
        }
        free(st);
        char line[sizeof(d->progress)];
        pthread_mutex_lock(&d->p_lock);
        uint64_t pseq = d->progress_seq;
        memcpy(line, d->progress, sizeof(line));
        pthread_mutex_unlock(&d->p_lock);
        if (pseq != s->sent_prog) {
            s->sent_prog = pseq;
            json_t *o = json_pack("{s:s}", "line", line);
            char *js = o ? json_dumps(o, JSON_COMPACT) : NULL;
            json_decref(o);
            char *ev = NULL;
            if (js && asprintf(&ev, "event: progress\ndata: %s\n\n", js) < 0)
                ev = NULL;
            free(js);
            sse_set(s, ev);
            continue;
        }
        if (mono_s() - s->last >= DASH_KEEPALIVE_S) {
            sse_set(s, strdup(": keepalive\n\n"));
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += DASH_POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&d->wait_lock);
        if (!atomic_load(&d->stopping))
            pthread_cond_timedwait(&d->wait_cond, &d->wait_lock, &until);
        pthread_mutex_unlock(&d->wait_lock);
    }
}

static void sse_free(void *cls)
{
    struct sse *s = cls;
    atomic_fetch_sub(&s->d->clients, 1);
    free(s->buf);
    free(s);
}

static enum MHD_Result send_events(struct cc_dash *d, struct MHD_Connection *c)
{
    struct sse *s = calloc(1, sizeof(*s));
    if (!s)
        return MHD_NO;
    *s = (struct sse){.d = d, .first = true, .last = mono_s()};
    pthread_mutex_lock(&d->p_lock);
    s->sent_prog = d->progress_seq;     /* only lines from now on */
    pthread_mutex_unlock(&d->p_lock);
    atomic_fetch_add(&d->clients, 1);
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
                                                               sse_read, s, sse_free);
    if (!r) {
        sse_free(s);
        return MHD_NO;
    }
    common_headers(r, "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- routing ---- */

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    struct cc_dash *d = cls;
    if (!*con_cls) {
        /* first call: the headers; answer on the next (any body is read) */
        static int marker;
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;               /* a body: ignored, refused below */
        return MHD_YES;
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return send_error(c, 405, "only GET and HEAD");
    if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
        return send_web(d, c, "index.html");
    if (!strcmp(url, "/app.js") || !strcmp(url, "/app.css") || !strcmp(url, "/favicon.svg"))
        return send_web(d, c, url + 1);
    if (!strcmp(url, "/api/state")) {
        uint64_t gen;
        char *s = state_get(d, &gen);
        return s ? send_buf(c, 200, "application/json", s, strlen(s), true) :
                   send_error(c, 500, "out of memory");
    }
    if (!strcmp(url, "/api/events"))
        return send_events(d, c);
    if (!strncmp(url, "/api/bug/", 9)) {
        const char *n = url + 9;
        size_t l = strlen(n);
        if (l == 0 || l > 9 || strspn(n, "0123456789") != l)
            return send_error(c, 400, "a bug number is 1 to 9 digits");
        int status;
        json_t *o = dash_bug(d->corpus, d->dirfd, (unsigned)strtoul(n, NULL, 10), &status);
        if (!o)
            return send_error(c, status, status == 404 ? "no such bug" : "unreadable bug file");
        return send_json(c, o);
    }
    if (!strncmp(url, "/files/", 7)) {
        if (!good_name(url + 7))
            return send_error(c, 400, "a file name is one path component of letters, digits, "
                              "'.', '_' and '-', not starting with '.' or '-'");
        return send_file(c, d->dirfd, url + 7, "no-store");
    }
    return send_error(c, 404, "not found");
}

/* ---- start and stop ---- */

static int open_web(const char *given)
{
    char cand[SELFPATH_MAX][PATH_MAX];
    int n = 0;
    const char *env = getenv("CC_DASHBOARD_WEB");
    if (given)
        snprintf(cand[n++], PATH_MAX, "%s", given);
    else if (env && *env)
        snprintf(cand[n++], PATH_MAX, "%s", env);
    else
        n = selfpath_candidates("web", cand);  /* build/web, or the installed copy */
    for (int i = 0; i < n; i++) {
        int fd = open(cand[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat sb;
        if (fd >= 0 && fstatat(fd, "index.html", &sb, 0) == 0 && S_ISREG(sb.st_mode))
            return fd;
        if (fd >= 0)
            close(fd);
    }
    return -1;
}

static int listen_on(const char *bind_addr, unsigned port, struct cc_err *err)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, bind_addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        sl = sizeof(*v4);
    } else if (inet_pton(AF_INET6, bind_addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*v6);
    } else {
        return cc_err_set(err, EINVAL, "dashboard address '%s' is not an IPv4 or IPv6 address",
                          bind_addr);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cc_err_set(err, errno, "dashboard socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
        int e = errno;
        close(fd);
        return cc_err_set(err, e, "dashboard: cannot listen on %s port %u: %s", bind_addr, port,
                          strerror(e));
    }
    return fd;
}

int cc_dash_start(const struct cc_dash_opts *o, struct cc_dash **out, struct cc_err *err)
{
    *out = NULL;
    if (o->port > 65535)
        return cc_err_set(err, EINVAL, "dashboard port %u is not 0-65535", o->port);
    struct cc_dash *d = calloc(1, sizeof(*d));
    if (!d)
        return cc_err_set(err, ENOMEM, "out of memory");
    d->dirfd = d->webfd = -1;
    pthread_mutex_init(&d->wait_lock, NULL);
    pthread_cond_init(&d->wait_cond, NULL);
    pthread_mutex_init(&d->st_lock, NULL);
    pthread_mutex_init(&d->p_lock, NULL);
    atomic_store(&d->live, o->live);
    d->corpus = realpath(o->corpus, NULL);
    if (!d->corpus || (d->dirfd = open(d->corpus, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        int e = errno;
        cc_dash_stop(d);
        return cc_err_set(err, e, "dashboard: %s: %s", o->corpus, strerror(e));
    }
    d->webfd = open_web(o->web_dir);
    if (o->web_dir && d->webfd < 0) {
        cc_dash_stop(d);
        return cc_err_set(err, ENOENT, "dashboard: %s: no index.html there", o->web_dir);
    }
    const char *bind_addr = o->bind && *o->bind ? o->bind : "127.0.0.1";
    int lfd = listen_on(bind_addr, o->port, err);
    if (lfd < 0) {
        cc_dash_stop(d);
        return lfd;
    }
    bool v6 = strchr(bind_addr, ':') != NULL;
    d->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                              (v6 ? MHD_USE_IPv6 : 0),
                              0, NULL, NULL, handle, d,
                              MHD_OPTION_LISTEN_SOCKET, lfd,
                              MHD_OPTION_CONNECTION_LIMIT,
                              (unsigned)(o->max_clients ? o->max_clients : 32),
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
                              MHD_OPTION_END);
    if (!d->mhd) {
        close(lfd);
        cc_dash_stop(d);
        return cc_err_set(err, EIO, "dashboard: libmicrohttpd did not start on %s", bind_addr);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
    d->port = info ? info->port : o->port;
    snprintf(d->url, sizeof(d->url), v6 ? "http://[%s]:%u/" : "http://%s:%u/", bind_addr,
             d->port);
    *out = d;
    return 0;
}

unsigned cc_dash_port(const struct cc_dash *d)
{
    return d->port;
}

const char *cc_dash_url(const struct cc_dash *d)
{
    return d->url;
}

void cc_dash_notify(struct cc_dash *d)
{
    if (!d)
        return;
    atomic_fetch_add(&d->notify_seq, 1);
    pthread_cond_broadcast(&d->wait_cond);
}

void cc_dash_progress(struct cc_dash *d, const char *line)
{
    if (!d || !*line)
        return;
    pthread_mutex_lock(&d->p_lock);
    snprintf(d->progress, sizeof(d->progress), "%s", line);
    d->progress_seq++;
    pthread_mutex_unlock(&d->p_lock);
    pthread_cond_broadcast(&d->wait_cond);
}

void cc_dash_set_live(struct cc_dash *d, bool live)
{
    if (!d)
        return;
    atomic_store(&d->live, live);
    cc_dash_notify(d);
}

unsigned cc_dash_clients(const struct cc_dash *d)
{
    return atomic_load(&((struct cc_dash *)d)->clients);
}

void cc_dash_stop(struct cc_dash *d)
{
    if (!d)
        return;
    atomic_store(&d->stopping, true);
    pthread_mutex_lock(&d->wait_lock);
    pthread_cond_broadcast(&d->wait_cond);
    pthread_mutex_unlock(&d->wait_lock);
    if (d->mhd)
        MHD_stop_daemon(d->mhd);
    if (d->dirfd >= 0)
        close(d->dirfd);
    if (d->webfd >= 0)
        close(d->webfd);
    free(d->corpus);
    free(d->state);
    free(d->body);
    pthread_mutex_destroy(&d->wait_lock);
    pthread_cond_destroy(&d->wait_cond);
    pthread_mutex_destroy(&d->st_lock);
    pthread_mutex_destroy(&d->p_lock);
    free(d);
}
