/* The exploration dashboard: an HTTP server (libmicrohttpd) that serves
 * the web page of an exploration directory and its state, live over
 * Server-Sent Events (docs/dashboard.md has the API).
 *
 * It reads only the files the explorer writes atomically after every round
 * (checkpoint.json, bug_N.json, ...), never the explorer's memory, so the
 * same server serves a running exploration in-process (explore run
 * --dashboard), a running one in another process, or a finished one
 * (chaoscontrol serve). Its threads are its own: the explorer's only calls
 * are cc_dash_notify and cc_dash_progress, which take no lock another
 * thread holds across I/O and never wait for a client. */
#ifndef CHAOSCONTROL_DASH_H
#define CHAOSCONTROL_DASH_H

#include <stdbool.h>
#include <stdint.h>

#include "chaoscontrol/err.h"

struct cc_dash_opts {
    const char *corpus;         /* the exploration's output directory */
    const char *bind;           /* address to listen on (default 127.0.0.1) */
    unsigned port;              /* 0: any free port */
    const char *web_dir;        /* the built front end (NULL: found, see below) */
    bool live;                  /* an explorer in this process writes the corpus */
    unsigned max_clients;       /* connections at once (default 32) */
};

struct cc_dash;

/* Start serving. The front end comes from o->web_dir, else $CC_DASHBOARD_WEB,
 * else web/ beside the executable (a build directory), else
 * ../share/chaoscontrol/web from it (an installation); without one the
 * page is a short notice and the API still works. Errors: the corpus is
 * not a directory, the address is not an IPv4/IPv6 literal, the port is
 * taken. */
int cc_dash_start(const struct cc_dash_opts *o, struct cc_dash **out, struct cc_err *err);
/* The port it listens on, and the page's URL ("http://ADDR:PORT/"). */
unsigned cc_dash_port(const struct cc_dash *d);
const char *cc_dash_url(const struct cc_dash *d);
/* The corpus changed (a round, a bug): clients get the new state now
 * rather than at the next poll of the files. Never blocks. */
void cc_dash_notify(struct cc_dash *d);
/* The explorer's status line, sent to clients as a progress event. */
void cc_dash_progress(struct cc_dash *d, const char *line);
/* Live no more (the exploration ended); clients see "live": false. */
void cc_dash_set_live(struct cc_dash *d, bool live);
/* Event-stream clients connected now. */
unsigned cc_dash_clients(const struct cc_dash *d);
/* Stop (ends every event stream) and free. NULL is fine. */
void cc_dash_stop(struct cc_dash *d);

/* The dashboard state of a corpus as /api/state returns it (malloc'd JSON;
 * generation 0), or NULL with err set. */
char *cc_dash_state_json(const char *corpus, bool live, struct cc_err *err);

#endif
