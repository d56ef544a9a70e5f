// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The client side of the control protocol (docs/api.md): one JSON object and
 * a newline out, one JSON object and a newline back, over a unix stream socket.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "ctl.h"

/* A reply larger than this is a runaway agent, not a configuration. */
#define CTL_REPLY_MAX (256u << 20)

static void (*err_hook)(void);

void ctl_set_err_hook(void (*fn)(void))
{
	err_hook = fn;
}

void ctl_err(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	char *p;

	if (err_hook)
		err_hook();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line, whatever the agent or a file name put in it. */
	for (p = msg; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	fprintf(stderr, "sluicectl: %s\n", msg);
}

void ctl_oom(void)
{
	ctl_err("out of memory");
	exit(SL_CTL_REFUSED);
}

/* Connect to @path with send and receive timeouts. Returns an exit status. */
static int conn_open(const char *path, int *out)
{
	struct timeval tv = { .tv_sec = SL_CTL_TIMEOUT_S };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		ctl_err("socket path '%s' is too long (at most %zu bytes): use a shorter --socket",
			path, sizeof(sa.sun_path) - 1);
		return SL_CTL_USAGE;
	}
	strcpy(sa.sun_path, path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ctl_err("cannot create a unix socket to reach sluiced: %s", strerror(errno));
		return SL_CTL_UNREACHABLE;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))) {
		ctl_err("cannot set a %d s timeout on the socket to sluiced: %s", SL_CTL_TIMEOUT_S,
			strerror(errno));
		close(fd);
		return SL_CTL_UNREACHABLE;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = errno;
		close(fd);
		if (err == ENOENT || err == ECONNREFUSED)
			ctl_err("sluiced is not running: %s: %s", path, strerror(err));
		else if (err == EACCES || err == EPERM)
			ctl_err("cannot connect to sluiced: %s: %s (run as root or as the socket's owner)",
				path, strerror(err));
		else if (err == EAGAIN || err == EINPROGRESS)
			ctl_err("sluiced did not accept the connection within %d s: %s (is it stuck? see its log)",
				SL_CTL_TIMEOUT_S, path);
		else
			ctl_err("cannot connect to sluiced: %s: %s", path, strerror(err));
		return SL_CTL_UNREACHABLE;
	}
	*out = fd;
	return SL_CTL_OK;
}

static int send_all(int fd, const char *path, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ctl_err("sluiced did not take the request within %d s: %s (is it stuck? see its log)",
				SL_CTL_TIMEOUT_S, path);
			return SL_CTL_UNREACHABLE;
		}
		if (n < 0) {
			ctl_err("lost the connection to sluiced while sending: %s: %s (see its log)",
				path, strerror(errno));
			return SL_CTL_UNREACHABLE;
		}
		buf += n;
		len -= (size_t)n;
	}
	return SL_CTL_OK;
}

/* A connection to sluiced and the bytes read from it but not yet returned. */
struct ctl_stream {
	const char *path;
	int fd;
	int sigfd;	   /* -1, or a signalfd for SIGINT and SIGTERM (closed with @s) */
	const int *intr;   /* the caller's fds that end a wait when readable */
	int nintr;	   /* how many (at most CTL_INTR_MAX) */
	int timeout_ms;	   /* how long to wait for a line; -1: as long as it takes */
	char *buf;
	size_t cap, start, used; /* unread bytes are buf[start..used) */
	int eof;
};

/*
 * Wait until @s->fd is readable. Returns 0, CTL_STREAM_SIGNAL (the signalfd
 * or one of the caller's fds is readable) or an exit status.
 */
static int wait_readable(struct ctl_stream *s)
{
	struct pollfd p[2 + CTL_INTR_MAX] = { { .fd = s->fd, .events = POLLIN } };
	nfds_t np = 1, i;
	int n;

	if (s->sigfd >= 0)
		p[np++] = (struct pollfd){ .fd = s->sigfd, .events = POLLIN };
	for (n = 0; n < s->nintr && n < CTL_INTR_MAX; n++)
		p[np++] = (struct pollfd){ .fd = s->intr[n], .events = POLLIN };
	for (;;) {
		n = poll(p, np, s->timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ctl_err("cannot wait for sluiced's answer: %s", strerror(errno));
			return SL_CTL_UNREACHABLE;
		}
		if (n == 0) {
			ctl_err("sluiced did not answer within %d s: %s (is it stuck? see its log)",
				SL_CTL_TIMEOUT_S, s->path);
			return SL_CTL_UNREACHABLE;
		}
		for (i = 1; i < np; i++)
			if (p[i].revents)
				return CTL_STREAM_SIGNAL;
		return SL_CTL_OK;
	}
}

/*
 * The next line from @s, without its newline: on 0, *line points to *len
 * bytes inside @s's buffer, valid until the next call. A last line that ends
 * at EOF without its newline is returned as it is (the caller checks it is
 * whole JSON). Returns 0, CTL_STREAM_END at EOF with nothing left,
 * CTL_STREAM_SIGNAL, or an exit status after printing why.
 */
static int recv_line(struct ctl_stream *s, char **line, size_t *len)
{
	size_t scanned = 0;
	char *nl, *tmp;
	ssize_t n;
	int ret;

	for (;;) {
		nl = NULL;
		if (s->used > s->start + scanned)
			nl = memchr(s->buf + s->start + scanned, '\n',
				    s->used - s->start - scanned);
		if (nl || (s->eof && s->used > s->start)) {
			*line = s->buf + s->start;
			*len = nl ? (size_t)(nl - *line) : s->used - s->start;
			s->start = nl ? (size_t)(nl - s->buf) + 1 : s->used;
			return SL_CTL_OK;
		}
		if (s->eof)
			return CTL_STREAM_END;
		scanned = s->used - s->start;
		if (s->start) {
			memmove(s->buf, s->buf + s->start, scanned);
			s->used = scanned;
			s->start = 0;
		}
		if (s->used == s->cap) {
			if (s->cap >= CTL_REPLY_MAX) {
				ctl_err("sluiced's reply is larger than %u MiB: %s (see its log)",
					CTL_REPLY_MAX >> 20, s->path);
				return SL_CTL_UNREACHABLE;
			}
			s->cap = s->cap ? 2 * s->cap : 4096;
			tmp = realloc(s->buf, s->cap);
			if (!tmp)
				ctl_oom();
			s->buf = tmp;
		}
		ret = wait_readable(s);
		if (ret)
			return ret;
		n = recv(s->fd, s->buf + s->used, s->cap - s->used, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n < 0) {
			ctl_err("lost the connection to sluiced while waiting for its answer: %s: %s",
				s->path, strerror(errno));
			return SL_CTL_UNREACHABLE;
		}
		if (n == 0)
			s->eof = 1;
		s->used += (size_t)n;
	}
}

/* A refusal: print its error, return its exit status (2 for malformed input, else 1). */
static int refused(const json_t *reply)
{
	const json_t *error = json_object_get(reply, "error");
	const json_t *code = json_object_get(reply, "exit");

	if (json_is_string(error) && json_string_length(error))
		ctl_err("%s", json_string_value(error));
	else
		ctl_err("sluiced refused the request without saying why (see its log)");
	if (json_is_integer(code) && json_integer_value(code) == SL_CTL_USAGE)
		return SL_CTL_USAGE;
	return SL_CTL_REFUSED;
}

/*
 * Connect to @path, send @req and read the reply line. Returns 0 with *reply
 * set (a reply with "ok": true) and the connection in *out, or an exit status
 * after printing why, or CTL_STREAM_SIGNAL. @sigfd is the stream's signalfd
 * or -1; @intr the caller's @nintr fds that end the wait for the reply.
 */
static int call_open(const char *path, json_t *req, int sigfd, const int *intr, int nintr,
		     json_t **reply, struct ctl_stream **out)
{
	struct ctl_stream *s;
	char *line, *buf;
	json_t *rep, *ok;
	json_error_t jerr;
	size_t len, n;
	int ret;

	line = json_dumps(req, JSON_COMPACT);
	if (!line)
		ctl_oom();
	n = strlen(line);
	/* json_dumps' buffer is exactly n + 1 bytes: make room for the newline. */
	buf = realloc(line, n + 2);
	if (!buf)
		ctl_oom();
	line = buf;
	line[n++] = '\n';
	line[n] = 0;

	s = calloc(1, sizeof(*s));
	if (!s)
		ctl_oom();
	s->path = path;
	s->sigfd = sigfd;
	s->intr = intr;
	s->nintr = nintr;
	s->timeout_ms = SL_CTL_TIMEOUT_S * 1000;
	ret = conn_open(path, &s->fd);
	if (ret) {
		s->fd = -1;
		goto err;
	}
	ret = send_all(s->fd, path, line, n);
	if (!ret)
		ret = recv_line(s, &buf, &len);
	if (ret == CTL_STREAM_END) {
		ctl_err("sluiced closed the connection without answering: %s (see its log)", path);
		ret = SL_CTL_UNREACHABLE;
	}
	if (ret)
		goto err;

	rep = json_loadb(buf, len, 0, &jerr);
	if (!rep) {
		ctl_err("sluiced answered something that is not JSON (%s, column %d): %s (see its log)",
			jerr.text, jerr.column, path);
		ret = SL_CTL_UNREACHABLE;
		goto err;
	}
	ok = json_object_get(rep, "ok");
	if (!json_is_object(rep) || !json_is_boolean(ok)) {
		ctl_err("sluiced answered a JSON %s without \"ok\": true or false: %s (see its log)",
			json_is_object(rep) ? "object" : "array", path);
		ret = SL_CTL_UNREACHABLE;
	} else if (json_is_false(ok)) {
		ret = refused(rep);
	}
	if (ret) {
		json_decref(rep);
		goto err;
	}
	free(line);
	*reply = rep;
	*out = s;
	return SL_CTL_OK;

err:
	s->sigfd = -1; /* the caller's */
	ctl_stream_close(s);
	free(line);
	return ret;
}

int ctl_call(const char *path, json_t *req, json_t **reply)
{
	struct ctl_stream *s;
	int ret;

	ret = call_open(path, req, -1, NULL, 0, reply, &s);
	if (!ret)
		ctl_stream_close(s);
	return ret;
}

int ctl_call_intr(const char *path, json_t *req, const int *intr, int nintr, json_t **reply)
{
	struct ctl_stream *s;
	int ret;

	ret = call_open(path, req, -1, intr, nintr, reply, &s);
	if (!ret)
		ctl_stream_close(s);
	return ret;
}

int ctl_stream_open(const char *path, json_t *req, json_t **reply, struct ctl_stream **out)
{
	struct ctl_stream *s;
	sigset_t mask;
	int sigfd, ret;

	/* Ctrl-C ends a follow cleanly: take SIGINT and SIGTERM as readable bytes. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL)) {
		ctl_err("cannot block SIGINT and SIGTERM: %s", strerror(errno));
		return SL_CTL_REFUSED;
	}
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sigfd < 0) {
		ctl_err("cannot create a signalfd for SIGINT and SIGTERM: %s", strerror(errno));
		return SL_CTL_REFUSED;
	}
	ret = call_open(path, req, sigfd, NULL, 0, reply, &s);
	if (ret) {
		close(sigfd);
		return ret;
	}
	/* The first line answers at once; events may not come for hours. */
	s->timeout_ms = -1;
	*out = s;
	return SL_CTL_OK;
}

int ctl_stream_next(struct ctl_stream *s, json_t **obj)
{
	json_error_t jerr;
	char *line;
	size_t len;
	json_t *o;
	int ret;

	ret = recv_line(s, &line, &len);
	if (ret)
		return ret;
	o = json_loadb(line, len, 0, &jerr);
	if (!json_is_object(o)) {
		if (o)
			ctl_err("sluiced sent a stream line that is not a JSON object: %s (see its log)",
				s->path);
		else
			ctl_err("sluiced sent a stream line that is not JSON (%s, column %d): %s (see its log)",
				jerr.text, jerr.column, s->path);
		json_decref(o);
		return SL_CTL_UNREACHABLE;
	}
	*obj = o;
	return SL_CTL_OK;
}

void ctl_stream_close(struct ctl_stream *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->sigfd >= 0)
		close(s->sigfd);
	free(s->buf);
	free(s);
}
