// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bulk: a byte-exact bulk transfer through an HTTP gateway, both ends.
 *
 *   bulk serve PORT
 *	The backend. Listens on [::]:PORT (dual stack); for every connection
 *	reads an HTTP/1.1 request head, which must carry "X-Bulk-Bytes: N".
 *	With an Upgrade header it answers "101 Switching Protocols" with
 *	"Connection: Upgrade" and the same Upgrade value; otherwise "200 OK"
 *	with "Connection: close" and no length (a close-delimited body). Then,
 *	full duplex: it sends N bytes of stream 2 and shuts its write side,
 *	while it reads the client's bytes until EOF and compares them with
 *	stream 1 as they arrive. One line per connection on stdout (see below).
 *	Prints "bulk: listening on PORT" once listening. Runs until killed.
 *
 *   bulk [-w] upgrade|stream HOST PORT N [PATH]
 *	The client. Sends "GET PATH" (default "/") with X-Bulk-Bytes: N, and
 *	for upgrade "Connection: Upgrade" + "Upgrade: bulk"; the answer must be
 *	101 (upgrade) or 200 (stream). Then, full duplex: it sends N bytes of
 *	stream 1 and shuts its write side (SHUT_WR) while it reads until EOF and
 *	compares with stream 2. Exits 0 only if it sent N bytes and received
 *	exactly the N expected bytes; 1 otherwise (2: usage). With -w the
 *	request carries "X-Bulk-Wait-Eof: 1": the server sends nothing until the
 *	client's EOF, so every byte it sends crosses a half-closed connection.
 *	The client says how many bytes it received after its SHUT_WR.
 *
 * Stream S: four xorshift64* generators seeded from splitmix64(S) take
 * turns, each step's output as 8 little-endian bytes, cut to N bytes. Both ends print
 *
 *   bulk: sent N sha256 HEX received M sha256 HEX ok
 *
 * where the status is "ok", "MISMATCH at OFFSET", "SHORT" (EOF before N
 * bytes), "LONG" (more than N) or "ERROR what"; the client adds a line with
 * the time and throughput. So a script can compare each side's "sent" hash
 * with the other side's "received" hash.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <openssl/evp.h>

#define HEAD_MAX 16384
#define CHUNK (256 * 1024) /* bytes per send() / recv() and per generated block */
#define BURST 4		   /* at most this many CHUNKs each way per poll round, so
			    * that a fast peer cannot keep one direction waiting */
#define IDLE_MS 60000	   /* no progress for this long: give up */
#define SEED_C2S 1	   /* the client's stream */
#define SEED_S2C 2	   /* the server's stream */

/* ---- the deterministic streams ---- */

#define LANES 4 /* independent generators, interleaved word by word: 4x the ILP */

struct gen {
	uint64_t x[LANES];	     /* xorshift64* states */
	unsigned char buf[CHUNK];    /* the current block of the stream */
	size_t len, off;	     /* bytes in buf, bytes of buf already used */
};

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void gen_init(struct gen *g, uint64_t seed)
{
	int i;

	for (i = 0; i < LANES; i++)
		g->x[i] = splitmix64(&seed) | 1; /* never the stuck state 0 */
	g->len = g->off = 0;
}

static inline uint64_t xs_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static inline void put_le64(unsigned char *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &v, 8);
#else
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
#endif
}

static void gen_fill(struct gen *g)
{
	uint64_t a = g->x[0], b = g->x[1], c = g->x[2], d = g->x[3];
	size_t i;

	_Static_assert(LANES == 4 && CHUNK % 32 == 0, "gen_fill writes 4 words a step");
	for (i = 0; i < CHUNK; i += 32) {
		put_le64(g->buf + i, xs_next(&a));
		put_le64(g->buf + i + 8, xs_next(&b));
		put_le64(g->buf + i + 16, xs_next(&c));
		put_le64(g->buf + i + 24, xs_next(&d));
	}
	g->x[0] = a;
	g->x[1] = b;
	g->x[2] = c;
	g->x[3] = d;
	g->len = CHUNK;
	g->off = 0;
}

/* ---- one transfer, either end ---- */

struct xfer {
	int fd;
	uint64_t n;		/* bytes each way */
	uint64_t sent, rcvd;
	uint64_t bad_at;	/* first mismatching offset; UINT64_MAX none */
	int long_rx;		/* more than n bytes arrived */
	int rx_eof, tx_shut;
	int tx_after_eof;	/* send nothing before the peer's EOF */
	uint64_t rcvd_at_shut;	/* t->rcvd when our write side was shut */
	const char *error;	/* set when the socket failed */
	int err;		/* errno of that failure */
	struct gen tx, rx;
	EVP_MD_CTX *htx, *hrx;
	unsigned char *in;	/* CHUNK bytes */
};

static int xfer_init(struct xfer *t, int fd, uint64_t n, uint64_t tx_seed, uint64_t rx_seed)
{
	memset(t, 0, sizeof(*t));
	t->fd = fd;
	t->n = n;
	t->bad_at = UINT64_MAX;
	gen_init(&t->tx, tx_seed);
	gen_init(&t->rx, rx_seed);
	t->htx = EVP_MD_CTX_new();
	t->hrx = EVP_MD_CTX_new();
	t->in = malloc(CHUNK);
	if (!t->htx || !t->hrx || !t->in || !EVP_DigestInit_ex(t->htx, EVP_sha256(), NULL) ||
	    !EVP_DigestInit_ex(t->hrx, EVP_sha256(), NULL))
		return -1;
	return 0;
}

static void xfer_free(struct xfer *t)
{
	EVP_MD_CTX_free(t->htx);
	EVP_MD_CTX_free(t->hrx);
	free(t->in);
}

/* Received bytes: hash them and compare them with the expected stream. */
static void xfer_got(struct xfer *t, const unsigned char *p, size_t len)
{
	EVP_DigestUpdate(t->hrx, p, len);
	while (len) {
		size_t k;

		if (t->rcvd >= t->n) {
			t->long_rx = 1;
			t->rcvd += len;
			return;
		}
		if (t->rx.off == t->rx.len)
			gen_fill(&t->rx);
		k = t->rx.len - t->rx.off;
		if (k > len)
			k = len;
		if (k > t->n - t->rcvd)
			k = (size_t)(t->n - t->rcvd);
		if (t->bad_at == UINT64_MAX && memcmp(p, t->rx.buf + t->rx.off, k)) {
			size_t i = 0;

			while (p[i] == t->rx.buf[t->rx.off + i])
				i++;
			t->bad_at = t->rcvd + i;
		}
		t->rx.off += k;
		t->rcvd += k;
		p += k;
		len -= k;
	}
}

/* Send what the socket takes, up to a burst. Returns 0, or -1 on a socket error. */
static int xfer_send(struct xfer *t)
{
	uint64_t stop = t->sent + (uint64_t)BURST * CHUNK;

	while (t->sent < t->n) {
		if (t->sent >= stop)
			return 0;
		size_t k;
		ssize_t w;

		if (t->tx.off == t->tx.len) {
			gen_fill(&t->tx);
			k = t->tx.len;
			if (k > t->n - t->sent)
				k = (size_t)(t->n - t->sent);
			/* hash each stream byte once, when its block is made */
			EVP_DigestUpdate(t->htx, t->tx.buf, k);
			t->tx.len = k;
		}
		w = send(t->fd, t->tx.buf + t->tx.off, t->tx.len - t->tx.off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			t->err = errno;
			t->error = "send failed";
			return -1;
		}
		t->tx.off += (size_t)w;
		t->sent += (uint64_t)w;
	}
	if (!t->tx_shut) {
		if (shutdown(t->fd, SHUT_WR) < 0) {
			t->err = errno;
			t->error = "shutdown failed";
			return -1;
		}
		t->tx_shut = 1;
		t->rcvd_at_shut = t->rcvd;
	}
	return 0;
}

/* Read what is there, up to a burst. Returns 0, or -1 on a socket error. */
static int xfer_recv(struct xfer *t)
{
	int i;

	for (i = 0; i < BURST; i++) {
		ssize_t r = recv(t->fd, t->in, CHUNK, 0);

		if (r > 0) {
			xfer_got(t, t->in, (size_t)r);
			continue;
		}
		if (r == 0) {
			t->rx_eof = 1;
			return 0;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		t->err = errno;
		t->error = "recv failed";
		return -1;
	}
	return 0;
}

/* Both directions at once until both are done. Returns 0, or -1 with t->error set. */
static int xfer_run(struct xfer *t)
{
	int fl = fcntl(t->fd, F_GETFL);

	if (fl < 0 || fcntl(t->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		t->err = errno;
		t->error = "fcntl failed";
		return -1;
	}
	while (!t->rx_eof || !t->tx_shut) {
		struct pollfd p = { .fd = t->fd };
		int n, may_tx = !t->tx_shut && (!t->tx_after_eof || t->rx_eof);

		if (may_tx && xfer_send(t))
			return -1;
		may_tx = !t->tx_shut && (!t->tx_after_eof || t->rx_eof);
		if (!t->rx_eof)
			p.events |= POLLIN;
		if (may_tx)
			p.events |= POLLOUT;
		if (!p.events)
			break;
		n = poll(&p, 1, IDLE_MS);
		if (n < 0 && errno != EINTR) {
			t->err = errno;
			t->error = "poll failed";
			return -1;
		}
		if (n == 0) {
			t->err = ETIMEDOUT;
			t->error = "no progress for 60 s";
			return -1;
		}
		/* a pending socket error comes out of recv() or the next send() */
		if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && !t->rx_eof && xfer_recv(t))
			return -1;
	}
	return 0;
}

static void hex(EVP_MD_CTX *h, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	EVP_DigestFinal_ex(h, md, &len);
	for (i = 0; i < len && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[2 * i] = '\0';
}

/* The result line; returns 1 when everything matched, 0 otherwise. */
static int xfer_report(struct xfer *t, FILE *f)
{
	char htx[65], hrx[65], status[80];
	int ok = 0;

	hex(t->htx, htx);
	hex(t->hrx, hrx);
	if (t->error)
		snprintf(status, sizeof(status), "ERROR %s: %s", t->error, strerror(t->err));
	else if (t->bad_at != UINT64_MAX)
		snprintf(status, sizeof(status), "MISMATCH at %" PRIu64, t->bad_at);
	else if (t->long_rx)
		snprintf(status, sizeof(status), "LONG");
	else if (t->rcvd < t->n)
		snprintf(status, sizeof(status), "SHORT");
	else if (t->sent != t->n)
		snprintf(status, sizeof(status), "UNSENT");
	else {
		snprintf(status, sizeof(status), "ok");
		ok = 1;
	}
	fprintf(f, "bulk: sent %" PRIu64 " sha256 %s received %" PRIu64 " sha256 %s %s\n", t->sent,
		htx, t->rcvd, hrx, status);
	fflush(f);
	return ok;
}

/* ---- HTTP heads ---- */

/*
 * Read up to and including the blank line ending a head into @buf (NUL
 * terminated); bytes after it stay in buf[*head_len, *got). Returns 0, or -1 on
 * EOF, error, timeout or a head over HEAD_MAX.
 */
static int read_head(int fd, char *buf, size_t *head_len, size_t *got)
{
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char *end;
		ssize_t r;

		if (poll(&p, 1, IDLE_MS) <= 0)
			return -1;
		r = recv(fd, buf + len, HEAD_MAX - 1 - len, 0);
		if (r <= 0)
			return -1;
		len += (size_t)r;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end) {
			*head_len = (size_t)(end + 4 - buf);
			*got = len;
			return 0;
		}
		if (len >= HEAD_MAX - 1)
			return -1;
	}
}

/* The value of header @name in @head (NUL terminated in @out), or NULL. */
static char *header(const char *head, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = strstr(head, "\r\n");

	while (p && p[2] != '\r') {
		const char *line = p + 2, *eol = strstr(line, "\r\n"), *v;
		size_t k;

		if (!eol)
			return NULL;
		if ((size_t)(eol - line) > nl && line[nl] == ':' && !strncasecmp(line, name, nl)) {
			v = line + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			k = (size_t)(eol - v);
			while (k && (v[k - 1] == ' ' || v[k - 1] == '\t'))
				k--;
			if (k >= outlen)
				k = outlen - 1;
			memcpy(out, v, k);
			out[k] = '\0';
			return out;
		}
		p = eol;
	}
	return NULL;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || *s == '-')
		return -1;
	*out = v;
	return 0;
}

/* ---- the server ---- */

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void *serve_one(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(HEAD_MAX), upg[256], nb[32];
	size_t head_len, got;
	struct xfer t;
	uint64_t n;
	int upgrade, wait_eof, ok;

	if (!buf)
		goto out_close;
	if (read_head(fd, buf, &head_len, &got)) {
		/* a probe or a client that gave up: not a transfer, no result line */
		fprintf(stderr, "bulk: a connection closed before a complete request head\n");
		goto out_free;
	}
	if (!header(buf, "X-Bulk-Bytes", nb, sizeof(nb)) || parse_u64(nb, &n)) {
		static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
					  "Connection: close\r\n\r\n";

		fprintf(stderr, "bulk: request without a valid X-Bulk-Bytes header:\n%.*s",
			(int)head_len, buf);
		send_all(fd, bad, sizeof(bad) - 1);
		goto out_free;
	}
	upgrade = header(buf, "Upgrade", upg, sizeof(upg)) != NULL;
	wait_eof = header(buf, "X-Bulk-Wait-Eof", nb, sizeof(nb)) != NULL;
	{
		char resp[512];
		int len;

		if (upgrade)
			len = snprintf(resp, sizeof(resp),
				       "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
				       "Upgrade: %s\r\n\r\n",
				       upg);
		else
			len = snprintf(resp, sizeof(resp),
				       "HTTP/1.1 200 OK\r\nConnection: close\r\n"
				       "Content-Type: application/octet-stream\r\n\r\n");
		if (send_all(fd, resp, (size_t)len)) {
			fprintf(stderr, "bulk: cannot send the response head: %s\n",
				strerror(errno));
			goto out_free;
		}
	}
	if (xfer_init(&t, fd, n, SEED_S2C, SEED_C2S)) {
		fprintf(stderr, "bulk: out of memory\n");
		xfer_free(&t);
		goto out_free;
	}
	t.tx_after_eof = wait_eof;
	/* bytes that came with the head are the start of the client's stream */
	if (got > head_len)
		xfer_got(&t, (unsigned char *)buf + head_len, got - head_len);
	xfer_run(&t);
	pthread_mutex_lock(&out_lock);
	ok = xfer_report(&t, stdout);
	pthread_mutex_unlock(&out_lock);
	(void)ok;
	xfer_free(&t);
out_free:
	free(buf);
out_close:
	close(fd);
	return NULL;
}

static int serve(const char *port_s)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	int one = 1, zero = 0, lfd;
	uint64_t port;

	if (parse_u64(port_s, &port) || port < 1 || port > 65535) {
		fprintf(stderr, "bulk: port '%s' is not in 1..65535\n", port_s);
		return 2;
	}
	lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero))) {
		perror("bulk: socket");
		return 1;
	}
	sa.sin6_port = htons((uint16_t)port);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 128)) {
		perror("bulk: bind/listen");
		return 1;
	}
	printf("bulk: listening on %" PRIu64 "\n", port);
	fflush(stdout);
	for (;;) {
		pthread_attr_t at;
		pthread_t th;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("bulk: accept");
			return 1;
		}
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&th, &at, serve_one, (void *)(intptr_t)fd)) {
			fprintf(stderr, "bulk: cannot start a thread\n");
			close(fd);
		}
		pthread_attr_destroy(&at);
	}
}

/* ---- the client ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, rc;

	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		fprintf(stderr, "bulk: %s port %s: %s\n", host, port, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		fprintf(stderr, "bulk: cannot connect to %s port %s: %s\n", host, port,
			strerror(errno));
	freeaddrinfo(res);
	return fd;
}

static int client(int upgrade, int wait_eof, const char *host, const char *port,
		  const char *n_s, const char *path)
{
	char req[1024], *buf = NULL;
	size_t head_len, got;
	struct xfer t;
	double t0, secs;
	int fd, len, ok = 0, want = upgrade ? 101 : 200, status;
	uint64_t n;

	if (parse_u64(n_s, &n)) {
		fprintf(stderr, "bulk: byte count '%s' is not a number\n", n_s);
		return 2;
	}
	fd = dial(host, port);
	if (fd < 0)
		return 1;
	len = snprintf(req, sizeof(req),
		       "GET %s HTTP/1.1\r\nHost: %s\r\nX-Bulk-Bytes: %" PRIu64 "\r\n%s%s\r\n",
		       path, host, n, upgrade ? "Connection: Upgrade\r\nUpgrade: bulk\r\n" : "",
		       wait_eof ? "X-Bulk-Wait-Eof: 1\r\n" : "");
	buf = malloc(HEAD_MAX);
	if (!buf || send_all(fd, req, (size_t)len)) {
		fprintf(stderr, "bulk: cannot send the request head: %s\n", strerror(errno));
		goto out;
	}
	errno = 0;
	if (read_head(fd, buf, &head_len, &got)) {
		fprintf(stderr, "bulk: no complete response head (%s)\n",
			errno ? strerror(errno) : "EOF or timeout");
		goto out;
	}
	if (sscanf(buf, "HTTP/1.%*1[01] %3d", &status) != 1 || status != want) {
		fprintf(stderr, "bulk: expected status %d, got the head:\n%.*s", want,
			(int)head_len, buf);
		goto out;
	}
	if (xfer_init(&t, fd, n, SEED_C2S, SEED_S2C)) {
		fprintf(stderr, "bulk: out of memory\n");
		xfer_free(&t);
		goto out;
	}
	t0 = now_s();
	/* bytes that came with the head are the start of the server's stream */
	if (got > head_len)
		xfer_got(&t, (unsigned char *)buf + head_len, got - head_len);
	xfer_run(&t);
	secs = now_s() - t0;
	ok = xfer_report(&t, stdout);
	printf("bulk: received %" PRIu64 " bytes after shutting down the write side\n",
	       t.tx_shut ? t.rcvd - t.rcvd_at_shut : 0);
	printf("bulk: %.3f s, %.1f MB/s each way\n", secs,
	       secs > 0 ? (double)(t.sent < t.rcvd ? t.sent : t.rcvd) / secs / 1e6 : 0.0);
	xfer_free(&t);
out:
	free(buf);
	close(fd);
	return ok ? 0 : 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: bulk serve PORT\n"
			"       bulk [-w] upgrade|stream HOST PORT BYTES [PATH]\n");
	return 2;
}

int main(int argc, char **argv)
{
	int wait_eof = 0;

	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(argv[2]);
	if (argc > 1 && !strcmp(argv[1], "-w")) {
		wait_eof = 1;
		argc--;
		argv++;
	}
	if ((argc == 5 || argc == 6) &&
	    (!strcmp(argv[1], "upgrade") || !strcmp(argv[1], "stream")))
		return client(!strcmp(argv[1], "upgrade"), wait_eof, argv[2], argv[3], argv[4],
			      argc == 6 ? argv[5] : "/");
	return usage();
}
