// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * rawhttp: a raw HTTP client for the L7 gateway's tests.
 *
 *   rawhttp [-t SECONDS] [-f FILE] [-s] HOST PORT
 *
 * Reads the bytes to send from stdin (or FILE) first, all of them, then opens
 * one TCP connection to HOST (an IPv4 or IPv6 literal) PORT and sends them
 * exactly as given, in one write where the kernel allows. Then reads until the
 * server closes the connection or -t SECONDS (default 3) pass without it,
 * copies what it received to stdout, and ends with a line of its own:
 *
 *   closed: yes            the server closed (FIN) after what was printed
 *   closed: reset          the server reset the connection
 *   closed: no (timeout)   still open when the time ran out
 *
 * (preceded by a newline when the received bytes did not end with one). -s
 * half-closes the sending side once everything is sent. Exits 0 once it has
 * printed that line, 1 when it could not connect or send.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static char *slurp(int fd, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *b = malloc(cap);

	for (;;) {
		ssize_t r;

		if (!b)
			return NULL;
		if (n == cap) {
			char *nb = realloc(b, cap * 2);

			if (!nb) {
				free(b);
				return NULL;
			}
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(b);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return b;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	const char *file = NULL, *verdict = "no (timeout)";
	int opt, fd, in = 0, half = 0, one = 1, last_nl = 1;
	long long deadline;
	struct addrinfo *ai;
	double secs = 3;
	size_t len, off;
	char *data;

	while ((opt = getopt(argc, argv, "t:f:s")) != -1) {
		switch (opt) {
		case 't':
			secs = atof(optarg);
			break;
		case 'f':
			file = optarg;
			break;
		case 's':
			half = 1;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2 || secs <= 0)
		goto usage;
	if (file) {
		in = open(file, O_RDONLY | O_CLOEXEC);
		if (in < 0) {
			fprintf(stderr, "rawhttp: %s: %s\n", file, strerror(errno));
			return 1;
		}
	}
	data = slurp(in, &len);
	if (!data) {
		fprintf(stderr, "rawhttp: reading the request: %s\n", strerror(errno));
		return 1;
	}
	if (getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai)) {
		fprintf(stderr, "rawhttp: '%s' '%s' is not an address and port\n", argv[optind],
			argv[optind + 1]);
		return 1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		fprintf(stderr, "rawhttp: connect %s port %s: %s\n", argv[optind], argv[optind + 1],
			strerror(errno));
		return 1;
	}
	freeaddrinfo(ai);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	deadline = now_ms() + (long long)(secs * 1000);
	/* Send everything while also reading: a server may answer (and close)
	 * before it has read all of a large request. */
	off = 0;
	if (len == 0 && half)
		shutdown(fd, SHUT_WR);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		char buf[65536];
		ssize_t n;

		if (off < len)
			pf.events |= POLLOUT;
		if (left <= 0)
			break;
		if (poll(&pf, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			perror("rawhttp: poll");
			return 1;
		}
		if (pf.revents & POLLOUT) {
			n = send(fd, data + off, len - off, MSG_NOSIGNAL);
			if (n > 0) {
				off += (size_t)n;
				if (off == len && half)
					shutdown(fd, SHUT_WR);
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				/* the server may have closed on us: read what it said */
				len = off;
			}
		}
		if (!(pf.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n > 0) {
			fwrite(buf, 1, (size_t)n, stdout);
			last_nl = buf[n - 1] == '\n';
			continue;
		}
		if (n == 0) {
			verdict = "yes";
			break;
		}
		if (errno == EAGAIN || errno == EINTR)
			continue;
		verdict = errno == ECONNRESET ? "reset" : strerror(errno);
		break;
	}
	printf("%sclosed: %s\n", last_nl ? "" : "\n", verdict);
	close(fd);
	free(data);
	return 0;
usage:
	fprintf(stderr, "usage: rawhttp [-t SECONDS] [-f FILE] [-s] HOST PORT  (sends stdin)\n");
	return 2;
}
