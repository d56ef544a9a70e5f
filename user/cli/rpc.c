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
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "ctl.h"

/* A reply larger than this is a runaway agent, not a configuration. */
#define CTL_REPLY_MAX (256u << 20)

void ctl_err(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	char *p;

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

/*
 * Read up to the first newline, growing the buffer as needed. On 0, *out
 * (malloc'd, the caller frees) holds *len bytes without the newline. A reply
 * that ends at EOF without its newline is accepted if it is whole JSON.
 */
static int recv_line(int fd, const char *path, char **out, size_t *len)
{
	size_t cap = 4096, used = 0;
	char *buf, *nl = NULL, *tmp;
	ssize_t n;

	buf = malloc(cap);
	if (!buf)
		ctl_oom();
	for (;;) {
		if (used == cap) {
			if (cap >= CTL_REPLY_MAX) {
				ctl_err("sluiced's reply is larger than %u MiB: %s (see its log)",
					CTL_REPLY_MAX >> 20, path);
				goto err_free;
			}
			cap *= 2;
			tmp = realloc(buf, cap);
			if (!tmp)
				ctl_oom();
			buf = tmp;
		}
		n = recv(fd, buf + used, cap - used, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ctl_err("sluiced did not answer within %d s: %s (is it stuck? see its log)",
				SL_CTL_TIMEOUT_S, path);
			goto err_free;
		}
		if (n < 0) {
			ctl_err("lost the connection to sluiced while waiting for its answer: %s: %s",
				path, strerror(errno));
			goto err_free;
		}
		if (n == 0)
			break;
		nl = memchr(buf + used, '\n', (size_t)n);
		used += (size_t)n;
		if (nl)
			break;
	}
	if (!nl && !used) {
		ctl_err("sluiced closed the connection without answering: %s (see its log)", path);
		goto err_free;
	}
	*len = nl ? (size_t)(nl - buf) : used;
	*out = buf;
	return SL_CTL_OK;

err_free:
	free(buf);
	return SL_CTL_UNREACHABLE;
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

int ctl_call(const char *path, json_t *req, json_t **reply)
{
	char *line, *buf = NULL;
	json_t *rep, *ok;
	json_error_t jerr;
	size_t len, n;
	int fd, ret;

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

	ret = conn_open(path, &fd);
	if (ret)
		goto out_line;
	ret = send_all(fd, path, line, n);
	if (!ret)
		ret = recv_line(fd, path, &buf, &len);
	close(fd);
	if (ret)
		goto out_line;

	rep = json_loadb(buf, len, 0, &jerr);
	free(buf);
	if (!rep) {
		ctl_err("sluiced answered something that is not JSON (%s, column %d): %s (see its log)",
			jerr.text, jerr.column, path);
		ret = SL_CTL_UNREACHABLE;
		goto out_line;
	}
	ok = json_object_get(rep, "ok");
	if (!json_is_object(rep) || !json_is_boolean(ok)) {
		ctl_err("sluiced answered a JSON %s without \"ok\": true or false: %s (see its log)",
			json_is_object(rep) ? "object" : "array", path);
		ret = SL_CTL_UNREACHABLE;
	} else if (json_is_false(ok)) {
		ret = refused(rep);
	} else {
		*reply = rep;
		rep = NULL;
	}
	json_decref(rep);

out_line:
	free(line);
	return ret;
}
