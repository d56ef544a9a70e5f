/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sluicectl's parts: talking to sluiced (rpc.c) and printing its results for
 * people (print.c). Functions return an exit status (enum sl_ctl_exit) and
 * have printed the one-line reason on stderr when it is not 0.
 */
#ifndef SLUICE_CTL_H
#define SLUICE_CTL_H

#include <jansson.h>

/*
 * Exit statuses, as documented in the usage text and docs/api.md. events
 * --follow ends with 0 on SIGINT/SIGTERM (the way to stop it), 1 when sluiced
 * cuts it off as too slow (a refusal: it says how to resume), 3 when sluiced
 * closes the stream (it stopped: no more answers from it).
 */
enum sl_ctl_exit {
	SL_CTL_OK = 0,		/* done */
	SL_CTL_REFUSED = 1,	/* sluiced refused the change, or a local file is bad */
	SL_CTL_USAGE = 2,	/* malformed command line (or sluiced says malformed input) */
	SL_CTL_UNREACHABLE = 3, /* no usable answer from sluiced */
};

#define SL_CTL_DEFAULT_SOCKET "/run/sluice/sluiced.sock"
#define SL_CTL_TIMEOUT_S 10

/* "sluicectl: <message>" on stderr, on one line. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Call @fn before printing each message from here on (NULL: none): stats
 * --watch gives the terminal back before an error is printed on it.
 */
void ctl_set_err_hook(void (*fn)(void));
/* Allocation failed: say so and exit 1. */
void __attribute__((noreturn)) ctl_oom(void);

/*
 * Send @req (one JSON object) to sluiced at @path and wait for the reply.
 * Returns 0 with *reply set to the whole reply object ("ok": true; the caller
 * json_decref()s it), or an exit status after printing why: the reply's own
 * "exit" (1 or 2) when sluiced refused, 3 when it could not be reached or
 * answered something that is not a reply.
 */
int ctl_call(const char *path, json_t *req, json_t **reply);
/*
 * ctl_call() that gives up waiting for the reply, and returns
 * CTL_STREAM_SIGNAL, as soon as one of @intr (@nintr fds, at most
 * CTL_INTR_MAX) is readable; it does not read them.
 */
#define CTL_INTR_MAX 4
int ctl_call_intr(const char *path, json_t *req, const int *intr, int nintr, json_t **reply);

/*
 * A reply followed by a stream of lines (events --follow). ctl_stream_open()
 * sends @req and reads the first reply like ctl_call() (10 s at most); on 0,
 * *reply is that reply and *s the open stream, which then waits for lines as
 * long as it takes. It blocks SIGINT and SIGTERM and reports them as
 * CTL_STREAM_SIGNAL from here on, so that Ctrl-C ends a follow cleanly.
 */
struct ctl_stream;
#define CTL_STREAM_END (-1)	/* sluiced closed the stream */
#define CTL_STREAM_SIGNAL (-2) /* SIGINT or SIGTERM arrived (ctl_call_intr(): an fd is readable) */
int ctl_stream_open(const char *path, json_t *req, json_t **reply, struct ctl_stream **s);
/*
 * The next line, which must be a JSON object: 0 with *obj set (json_decref()
 * it), CTL_STREAM_END, CTL_STREAM_SIGNAL, or an exit status after printing why.
 */
int ctl_stream_next(struct ctl_stream *s, json_t **obj);
/* Close the connection; accepts NULL. */
void ctl_stream_close(struct ctl_stream *s);

/* Human output of vip.list, backend.list and stats results. Return an exit status. */
int ctl_print_vips(const json_t *result);
int ctl_print_backends(const json_t *result);
int ctl_print_stats(const json_t *result);
/* Human output of health.show. */
int ctl_print_health(const json_t *result);
/* One event envelope on one line: OFFSET  TS  TYPE  VIP  BACKEND  key=value ... */
void ctl_print_event(const json_t *ev);

/*
 * stats --watch (watch.c): the stats of every VIP, or of @vip (NULL: all),
 * redrawn every second on the terminal until q, Ctrl-C or SIGTERM (exit 0);
 * an exit status after printing why when sluiced goes away or refuses, or
 * standard output fails. stdin and stdout must be a terminal (the caller
 * checks: it is a usage error).
 */
int ctl_watch(const char *path, const char *vip);

#endif
