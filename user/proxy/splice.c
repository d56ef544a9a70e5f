/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Sockmap splice (see splice.h and bpf/sockmap.bpf.c).
 *
 * A flow has two directions, d[0] = a->b and d[1] = b->a. sl_splice_start()
 * first reads each source dry and writes what it read to the other side
 * (waiting up to SPLICE_FLUSH_MS for room): a source left with a half-read
 * skb would have that skb redirected whole again. Then both sockets enter the
 * map and the verdict is kicked (setting SO_RCVLOWAT runs sk_data_ready) over
 * whatever arrived in between, so those whole skbs follow in order.
 *
 * A FIN is not redirected. When a source has its peer's FIN, every byte
 * before it has been through the verdict (the kick waits for the socket lock
 * held by a softirq still at work); the FIN is forwarded once every
 * redirected byte is in the destination's send queue: "handed", measured as
 * tcpi_bytes_acked + SIOCOUTQ (= write_seq) minus its value at start.
 *
 * If a destination stays full during the start-up drain, the flow is not
 * put in the map; this file then copies it (driven by sl_splice_poll).
 *
 * Backpressure. Every spliced socket sits in sl_splice_dst (the redirect
 * target) for the whole flow; a direction is "kernel" while its source is
 * also in sl_splice_socks, where the verdict is attached. backlog =
 * redirected - handed is what waits in the destination's psock queue. When
 * it exceeds SL_SPLICE_BACKLOG_CAP the direction PAUSES: the source leaves
 * sl_splice_socks only (a single map would drop the source's psock, and with
 * it the skbs of the other direction queued toward it), its new bytes stay in
 * its TCP receive queue, and the window closes on the sender. It RESUMES when
 * handed == redirected: the source goes back in and is kicked, so whatever
 * waited in its receive queue runs through the verdict, in order, behind
 * bytes that are all in the destination's send queue. Nothing is read from a
 * paused source, so no half-read skb exists and no drain is needed. A FIN
 * that arrives while paused cannot go back in (a sockmap takes established
 * sockets only): the direction is then copied here to EOF (COPY), its bytes
 * written once the destination's backlog is empty.
 *
 * The delete is not synchronized with a verdict running on another CPU:
 * removal clears psock->progs (sk_psock_stop_verdict, under sk_callback_lock
 * only), and sk_psock_verdict_recv() drops, as __SK_DROP, an skb that
 * tcp_read_skb() had already taken off the queue when it finds no program.
 * Loss, never reordering: skbs before the clear were redirected, the rest of
 * that loop is dropped, later ones stay queued. Two measures: the pause first
 * raises SO_RCVLOWAT to half the receive buffer (tcp_set_rcvlowat runs under
 * the socket lock, so no verdict is running when it returns, and
 * tcp_data_ready calls the verdict again only once that much is queued or the
 * window is nearly shut), which leaves a race only if that much arrives
 * between two syscalls; and at the source's FIN the bytes it received
 * (tcpi_bytes_received) must equal those redirected plus those read here,
 * else the destination gets an RST, not a FIN (stats.broken).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "splice.h"
#include "sockmap.skel.h"

/* Mirrors of the map values in bpf/sockmap.bpf.c. */
struct sl_splice_peer {
	uint64_t peer;
};
struct sl_splice_cnt {
	uint64_t bytes;
};
_Static_assert(sizeof(struct sl_splice_peer) == 8, "sl_splice_peer layout");
_Static_assert(sizeof(struct sl_splice_cnt) == 8, "sl_splice_cnt layout");
enum { SL_SPLICE_G_BYTES = 0 };

#define SPLICE_SNDBUF (8 << 20) /* SO_SNDBUFFORCE: the kernel doubles it */
#define SPLICE_BUF (256 * 1024)
#define SPLICE_FLUSH_MS 2000
#define SPLICE_WAIT_MIN_MS 1
#define SPLICE_WAIT_MAX_MS 32
/* Above this backlog, or while bytes move, a kernel direction is polled every SPLICE_WAIT_MIN_MS. */
#define SPLICE_WATCH (SL_SPLICE_BACKLOG_CAP / 8)

struct sl_splice {
	struct sockmap_bpf *skel;
	int socks_fd;
	int dst_fd;
	int peer_fd;
	int cnt_fd;
	int stat_fd;
	int ncpu;
	uint64_t *pc;	 /* SL_SPLICE_CELLS (own or bound): flows, ubytes, pauses, broken */
	uint64_t own[SL_SPLICE_CELLS];
	uint64_t active;
};

enum dir_state {
	DS_KERNEL = 0, /* src in sl_splice_socks: the verdict moves its bytes */
	DS_PAUSED = 1, /* src out of sl_splice_socks until dst has taken the backlog */
	DS_COPY = 2,   /* this file copies src to dst (to EOF once it leaves KERNEL) */
};

struct splice_dir {
	int src, dst;
	int si, di;		/* index of src and dst in flow->sock[] */
	uint64_t uwritten;	/* bytes this file wrote to dst */
	uint64_t uread;		/* bytes this file read from src */
	uint64_t peak;		/* largest backlog sampled */
	uint64_t last_c;	/* c.bytes at the previous step */
	char *buf;
	size_t len, off;
	enum dir_state state;
	bool eof;		/* src's FIN reached us: no byte will come after */
	bool fin_sent;		/* dst's write side is shut down */
	struct sl_splice_cnt c; /* last read of sl_splice_cnt */
};

struct sl_splice_flow {
	struct sl_splice *s;
	struct splice_dir d[2];
	int fd[2];
	uint64_t cookie[2];
	bool counted;	   /* sl_splice_cnt and sl_splice_peer hold both cookies */
	bool in_dst[2];	   /* in sl_splice_dst */
	bool in_verd[2];   /* in sl_splice_socks */
	uint64_t base[2];  /* write_seq of each socket at start (acked + outq) */
	uint64_t rbase[2]; /* bytes each socket had received and handed out at start */
	int wait_ms;
	bool watch;	   /* a backlog nears the cap: poll every SPLICE_WAIT_MIN_MS */
	bool over;
};

enum { STEP_IDLE = 0, STEP_WAIT = 1 };

/* tcpi_state values (include/net/tcp_states.h; not in the UAPI headers). */
enum {
	SL_TCP_ESTABLISHED = 1,
	SL_TCP_TIME_WAIT = 6,
	SL_TCP_CLOSE = 7,
	SL_TCP_CLOSE_WAIT = 8,
	SL_TCP_LAST_ACK = 9,
	SL_TCP_CLOSING = 11,
};

static int get_cookie(int fd, uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);

	return getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookie, &len) ? -errno : 0;
}

static int tcp_info_get(int fd, struct tcp_info *ti)
{
	socklen_t len = sizeof(*ti);

	memset(ti, 0, sizeof(*ti));
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len) ? -errno : 0;
}

/*
 * Bytes ever queued for sending on @fd, up to a constant: acked + unacked.
 * Acked is read first, so a concurrent ACK makes the sum smaller, never larger.
 */
static int write_seq(int fd, uint64_t *out)
{
	struct tcp_info ti;
	int outq, err;

	err = tcp_info_get(fd, &ti);
	if (err)
		return err;
	if (ioctl(fd, SIOCOUTQ, &outq))
		return -errno;
	*out = ti.tcpi_bytes_acked + (uint64_t)outq;
	return 0;
}

/* The exact value at start: nobody writes then, so retry until no ACK raced. */
static int write_seq_exact(int fd, uint64_t *out)
{
	struct tcp_info t1, t2;
	int outq, i, err;

	for (i = 0; i < 1000; i++) {
		err = tcp_info_get(fd, &t1);
		if (!err && ioctl(fd, SIOCOUTQ, &outq))
			err = -errno;
		if (!err)
			err = tcp_info_get(fd, &t2);
		if (err)
			return err;
		if (t1.tcpi_bytes_acked == t2.tcpi_bytes_acked) {
			*out = t1.tcpi_bytes_acked + (uint64_t)outq;
			return 0;
		}
	}
	return -EAGAIN;
}

/*
 * Bytes @fd has received and handed out (to a reader or the verdict), before
 * it enters a map (FIONREAD counts the TCP queue only then): retried until no
 * segment arrived in between.
 */
static int consumed_exact(int fd, uint64_t *out)
{
	struct tcp_info t1, t2;
	int inq, i, err;

	for (i = 0; i < 1000; i++) {
		err = tcp_info_get(fd, &t1);
		if (!err && ioctl(fd, FIONREAD, &inq))
			err = -errno;
		if (!err)
			err = tcp_info_get(fd, &t2);
		if (err)
			return err;
		if (t1.tcpi_bytes_received == t2.tcpi_bytes_received) {
			*out = t1.tcpi_bytes_received - (uint64_t)inq;
			return 0;
		}
	}
	return -EAGAIN;
}

/* Bytes queued on @d's destination since start, a lower bound. */
static int handed(struct sl_splice_flow *f, struct splice_dir *d, uint64_t *out)
{
	uint64_t ws = 0;
	int err;

	err = write_seq(d->dst, &ws);
	if (!err)
		*out = ws - f->base[d->di];
	return err;
}

/* Run the verdict over skbs that wait in @fd's receive queue (tcp_set_rcvlowat). */
static int kick(int fd)
{
	int one = 1;

	return setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one)) ? -errno : 0;
}

static int read_cnt(struct sl_splice_flow *f, struct splice_dir *d)
{
	if (!f->counted)
		return 0;
	if (bpf_map_lookup_elem(f->s->cnt_fd, &f->cookie[d->si], &d->c))
		return -errno;
	return 0;
}

static bool fin_received(int state)
{
	return state == SL_TCP_CLOSE_WAIT || state == SL_TCP_LAST_ACK || state == SL_TCP_CLOSING ||
	       state == SL_TCP_TIME_WAIT || state == SL_TCP_CLOSE;
}

/* Write @d's buffer out; STEP_WAIT if dst is full. */
static int flush(struct sl_splice_flow *f, struct splice_dir *d)
{
	while (d->off < d->len) {
		ssize_t n = send(d->dst, d->buf + d->off, d->len - d->off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return STEP_WAIT;
			return -errno;
		}
		d->off += n;
		d->uwritten += n;
		__atomic_add_fetch(&f->s->pc[1], n, __ATOMIC_RELAXED);
	}
	d->off = d->len = 0;
	return STEP_IDLE;
}

/*
 * May user space write to @d's destination now? Only once every byte the
 * kernel redirected there (counted before the bytes we hold were passed to
 * us) is in its send queue. 1 yes, 0 not yet, or -errno.
 */
static int may_write(struct sl_splice_flow *f, struct splice_dir *d)
{
	uint64_t h;
	int err;

	if (!f->counted)
		return 1;
	err = read_cnt(f, d);
	if (!err)
		err = handed(f, d, &h);
	if (err)
		return err;
	return h >= d->uwritten + d->c.bytes;
}

/*
 * Copy src to dst until src is dry (or at EOF) with nothing left buffered.
 * Returns STEP_IDLE then, STEP_WAIT when dst is full or still receiving
 * redirected bytes, or a negative errno.
 */
static int copy(struct sl_splice_flow *f, struct splice_dir *d)
{
	for (;;) {
		ssize_t n;
		int ret;

		if (d->len) {
			ret = may_write(f, d);
			if (ret <= 0)
				return ret < 0 ? ret : STEP_WAIT;
			ret = flush(f, d);
			if (ret)
				return ret;
		}
		if (d->eof)
			return STEP_IDLE;
		n = recv(d->src, d->buf, SPLICE_BUF, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return STEP_IDLE;
			return -errno;
		}
		if (n == 0) {
			/*
			 * tcp_bpf_recvmsg (the socket still has a psock) may
			 * see its queue empty, then take the lock after data
			 * and FIN arrived, and report EOF: the FIN is in now,
			 * so a second read returns what came before it.
			 */
			n = recv(d->src, d->buf, SPLICE_BUF, MSG_DONTWAIT);
			if (n <= 0) {
				d->eof = true;
				return STEP_IDLE;
			}
		}
		d->len = n;
		d->uread += n;
	}
}

/*
 * Put @d's source in sl_splice_socks and kick the verdict over what waits in
 * its receive queue. Used at start and on resume; the caller guarantees that
 * every byte read from src is in dst's send queue and that no redirected
 * byte is still on its way (so the queued bytes go out right behind).
 */
static int dir_insert(struct sl_splice_flow *f, struct splice_dir *d)
{
	__u64 fd = d->src;

	if (bpf_map_update_elem(f->s->socks_fd, &f->cookie[d->si], &fd, BPF_NOEXIST))
		return -errno;
	f->in_verd[d->si] = true;
	d->state = DS_KERNEL;
	return kick(d->src);
}

/* Take @d's source out of the verdict map (see the top comment on the race). */
static int dir_pause(struct sl_splice_flow *f, struct splice_dir *d)
{
	socklen_t len = sizeof(int);
	int rcvbuf = 0, lowat;

	if (getsockopt(d->src, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len))
		return -errno;
	lowat = rcvbuf / 2 > 1 ? rcvbuf / 2 : 1;
	if (setsockopt(d->src, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)))
		return -errno;
	if (bpf_map_delete_elem(f->s->socks_fd, &f->cookie[d->si]))
		return -errno;
	f->in_verd[d->si] = false;
	d->state = DS_PAUSED;
	__atomic_add_fetch(&f->s->pc[2], 1, __ATOMIC_RELAXED);
	return 0;
}

/*
 * redirected - handed for a direction whose source is or was in the maps,
 * sampled into d->peak. Reads d->c. 0 or -errno.
 */
static int backlog(struct sl_splice_flow *f, struct splice_dir *d, uint64_t *out)
{
	uint64_t h = 0, sent;
	int err;

	err = read_cnt(f, d);
	if (!err)
		err = handed(f, d, &h);
	if (err)
		return err;
	sent = d->c.bytes + d->uwritten;
	*out = sent > h ? sent - h : 0;
	if (*out > d->peak)
		d->peak = *out;
	return 0;
}

/*
 * At src's FIN: did every byte src received reach dst's path (redirected or
 * read here)? Bytes a racing pause dropped make this fail. 0 or -EIO.
 */
static int stream_whole(struct sl_splice_flow *f, struct splice_dir *d,
			const struct tcp_info *src_ti)
{
	/* the FIN takes one sequence number, and tcpi_bytes_received counts it */
	uint64_t got = src_ti->tcpi_bytes_received - f->rbase[d->si] - 1;

	if (got == d->c.bytes + d->uread)
		return 0;
	__atomic_add_fetch(&f->s->pc[3], 1, __ATOMIC_RELAXED);
	return -EIO;
}

/* Move one direction along. STEP_IDLE, STEP_WAIT (call again soon) or -errno. */
static int dir_step(struct sl_splice_flow *f, struct splice_dir *d, const struct tcp_info *src_ti)
{
	uint64_t bl;
	int ret;

	if (d->fin_sent)
		return STEP_IDLE;
	if (d->state == DS_PAUSED) {
		if (fin_received(src_ti->tcpi_state)) {
			/* no way back into the map: copy the rest to EOF */
			d->state = DS_COPY;
			ret = kick(d->src); /* SO_RCVLOWAT back to 1 for epoll */
			if (ret)
				return ret;
		} else {
			ret = backlog(f, d, &bl);
			if (ret)
				return ret;
			if (bl) {
				f->watch = true;
				return STEP_WAIT;
			}
			ret = dir_insert(f, d);
			if (ret == -EOPNOTSUPP) {
				/* the FIN came in between: copy the rest to EOF */
				d->state = DS_COPY;
				ret = kick(d->src);
			}
			if (ret)
				return ret;
		}
	}
	if (d->state == DS_COPY) {
		ret = copy(f, d);
		if (ret || !d->eof)
			return ret;
	} else if (!d->eof) {
		if (!fin_received(src_ti->tcpi_state)) {
			if (!f->counted)
				return STEP_IDLE;
			ret = backlog(f, d, &bl);
			if (ret)
				return ret;
			if (bl > SL_SPLICE_BACKLOG_CAP) {
				ret = dir_pause(f, d);
				if (ret)
					return ret;
			}
			/*
			 * Keep polling while the flow lives: no event tells of a
			 * burst (the verdict empties the receive queue before
			 * epoll looks). Idle flows back off to SPLICE_WAIT_MAX_MS.
			 */
			if (bl > SPLICE_WATCH || d->c.bytes != d->last_c)
				f->watch = true;
			d->last_c = d->c.bytes;
			return STEP_WAIT;
		}
		/*
		 * The FIN is in. The verdict may still be busy with the bytes
		 * before it (softirq on another CPU): the kick waits for the
		 * socket lock and runs it over anything left in the queue.
		 */
		ret = kick(d->src);
		if (ret)
			return ret;
		d->eof = true;
	}
	ret = may_write(f, d);
	if (ret <= 0)
		return ret < 0 ? ret : STEP_WAIT;
	if (f->counted) {
		struct tcp_info ti;

		/* after the kick (or our read to EOF) every byte before the FIN
		 * has been counted */
		ret = tcp_info_get(d->src, &ti);
		if (!ret)
			ret = stream_whole(f, d, &ti);
		if (ret)
			return ret;
	}
	if (shutdown(d->dst, SHUT_WR) && errno != ENOTCONN)
		return -errno;
	d->fin_sent = true;
	return STEP_IDLE;
}

static void set_rst(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/*
 * A socket that closed without both FINs, or reports an error, was reset.
 * @fin_out: we shut its write side. A CLOSE before that is a reset even when
 * SO_ERROR reads 0: the psock's send on it may have consumed the error.
 */
static bool sock_failed(int fd, const struct tcp_info *ti, bool check_err, bool fin_out)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (ti->tcpi_state != SL_TCP_CLOSE && !check_err)
		return false;
	if (ti->tcpi_state == SL_TCP_CLOSE && !fin_out)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return true;
	/* EPIPE shows up on healthy transfers (the psock's send after a shutdown). */
	return err && err != EPIPE;
}

/* One pass over both directions; 1 when the flow is over. */
static int flow_step(struct sl_splice_flow *f, uint32_t err_mask)
{
	struct tcp_info ti[2];
	bool wait = false;
	int i, ret;

	if (f->over)
		return 1;
	f->watch = false;
	for (i = 0; i < 2; i++) {
		if (tcp_info_get(f->fd[i], &ti[i]) ||
		    sock_failed(f->fd[i], &ti[i], err_mask & (1u << i), f->d[!i].fin_sent)) {
			set_rst(f->fd[!i]);
			goto over;
		}
	}
	for (i = 0; i < 2; i++) {
		struct splice_dir *d = &f->d[i];

		ret = dir_step(f, d, &ti[d->si]);
		if (ret < 0) {
			/* a write failed: dst is gone; a read failed: src is;
			 * -EIO: bytes are missing, dst must not see a clean end */
			set_rst(ret == -EPIPE || ret == -ECONNRESET ? d->src : d->dst);
			goto over;
		}
		if (ret == STEP_WAIT)
			wait = true;
	}
	if (f->d[0].fin_sent && f->d[1].fin_sent)
		goto over;
	if (!wait)
		f->wait_ms = 0;
	else if (!f->wait_ms || f->watch)
		f->wait_ms = SPLICE_WAIT_MIN_MS;
	return 0;
over:
	f->over = true;
	return 1;
}

int sl_splice_event(struct sl_splice_flow *f, int fd, uint32_t events)
{
	uint32_t mask = 0;

	if (events & EPOLLERR)
		mask = fd == f->fd[0] ? 1 : 2;
	return flow_step(f, mask);
}

int sl_splice_poll(struct sl_splice_flow *f, int *next_ms)
{
	int prev = f->wait_ms, ret;

	ret = flow_step(f, 0);
	if (ret || !f->wait_ms) {
		*next_ms = -1;
		return ret;
	}
	/* back off while the same wait goes on, unless a backlog nears the cap */
	if (prev && !f->watch && f->wait_ms < SPLICE_WAIT_MAX_MS)
		f->wait_ms *= 2;
	*next_ms = f->wait_ms;
	return 0;
}

/*
 * Read @d's source dry and write it all to dst, waiting for room up to
 * *left_ms. 0 when done, STEP_WAIT when dst stayed full, or -errno.
 */
static int drain_before_insert(struct sl_splice_flow *f, struct splice_dir *d, int *left_ms)
{
	for (;;) {
		struct pollfd pfd = { .fd = d->dst, .events = POLLOUT };
		struct timespec t0, t1;
		int ret = copy(f, d);

		if (ret != STEP_WAIT)
			return ret;
		if (*left_ms <= 0)
			return STEP_WAIT;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (poll(&pfd, 1, *left_ms) < 0 && errno != EINTR)
			return -errno;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		*left_ms -= (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	}
}

static void unmap(struct sl_splice_flow *f)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (f->in_verd[i])
			bpf_map_delete_elem(f->s->socks_fd, &f->cookie[i]);
		f->in_verd[i] = false;
	}
	for (i = 0; i < 2; i++) {
		if (f->in_dst[i])
			bpf_map_delete_elem(f->s->dst_fd, &f->cookie[i]);
		bpf_map_delete_elem(f->s->peer_fd, &f->cookie[i]);
		bpf_map_delete_elem(f->s->cnt_fd, &f->cookie[i]);
		f->in_dst[i] = false;
	}
	f->counted = false;
}

static void flow_free(struct sl_splice_flow *f)
{
	free(f->d[0].buf);
	free(f->d[1].buf);
	free(f);
}

struct sl_splice_flow *sl_splice_start(struct sl_splice *s, int fd_a, int fd_b)
{
	int i, err = 0, left_ms = SPLICE_FLUSH_MS, sndbuf = SPLICE_SNDBUF;
	struct sl_splice_cnt c0 = {};
	struct sl_splice_flow *f;
	struct tcp_info ti;

	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->s = s;
	f->fd[0] = fd_a;
	f->fd[1] = fd_b;
	for (i = 0; i < 2; i++) {
		struct splice_dir *d = &f->d[i];

		d->si = i;
		d->di = !i;
		d->src = f->fd[i];
		d->dst = f->fd[!i];
		d->buf = malloc(SPLICE_BUF);
		if (!d->buf) {
			err = -ENOMEM;
			goto err_free;
		}
		err = get_cookie(f->fd[i], &f->cookie[i]);
		if (!err)
			err = tcp_info_get(f->fd[i], &ti);
		if (!err && ti.tcpi_state != SL_TCP_ESTABLISHED)
			err = -ENOTCONN;
		if (!err)
			err = write_seq_exact(f->fd[i], &f->base[i]);
		if (!err)
			err = consumed_exact(f->fd[i], &f->rbase[i]);
		if (err)
			goto err_free;
		/*
		 * A redirect that finds the destination's send buffer full is
		 * retried by the kernel only a tick later (sk_psock_backlog), so a
		 * flow moves about one send buffer per tick: give spliced sockets a
		 * large one (best effort: SO_SNDBUFFORCE needs CAP_NET_ADMIN).
		 */
		setsockopt(f->fd[i], SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
	}
	for (i = 0; i < 2; i++) {
		struct sl_splice_peer p = { .peer = f->cookie[!i] };

		if (bpf_map_update_elem(s->cnt_fd, &f->cookie[i], &c0, BPF_NOEXIST) ||
		    bpf_map_update_elem(s->peer_fd, &f->cookie[i], &p, BPF_NOEXIST)) {
			err = -errno;
			goto err_unmap;
		}
	}
	f->counted = true;
	for (i = 0; i < 2; i++) {
		err = drain_before_insert(f, &f->d[i], &left_ms);
		if (err < 0)
			goto err_unmap;
		/* dst full, or src half-closed (a sockmap takes established sockets only) */
		f->d[i].state = err == STEP_WAIT || f->d[i].eof ? DS_COPY : DS_KERNEL;
	}
	/* redirect targets first: no program runs on them, nothing moves yet */
	err = 0;
	for (i = 0; i < 2 && !err; i++) {
		__u64 fd = f->fd[i];

		if (bpf_map_update_elem(s->dst_fd, &f->cookie[i], &fd, BPF_NOEXIST))
			err = -errno;
		else
			f->in_dst[i] = true;
	}
	if (err) {
		for (i = 0; i < 2; i++) {
			if (f->in_dst[i])
				bpf_map_delete_elem(s->dst_fd, &f->cookie[i]);
			f->in_dst[i] = false;
		}
		if (!f->d[0].uwritten && !f->d[1].uwritten && !f->d[0].len && !f->d[1].len &&
		    !f->d[0].eof && !f->d[1].eof)
			goto err_unmap; /* nothing moved: the caller keeps copying */
		f->d[0].state = f->d[1].state = DS_COPY;
	}
	/* a direction the verdict map refuses (full) is copied; the other may stay */
	for (i = 0; i < 2; i++) {
		struct splice_dir *d = &f->d[i];

		if (d->state == DS_KERNEL && dir_insert(f, d) && !f->in_verd[i])
			d->state = DS_COPY;
	}
	__atomic_add_fetch(&s->pc[0], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->active, 1, __ATOMIC_RELAXED);
	flow_step(f, 0);
	return f;
err_unmap:
	unmap(f);
err_free:
	flow_free(f);
	errno = -err;
	return NULL;
}

void sl_splice_end(struct sl_splice_flow *f)
{
	if (!f)
		return;
	unmap(f);
	__atomic_sub_fetch(&f->s->active, 1, __ATOMIC_RELAXED);
	flow_free(f);
}

void sl_splice_flow_bytes(const struct sl_splice_flow *f, uint64_t *a_to_b, uint64_t *b_to_a)
{
	struct sl_splice_cnt c[2] = {};
	int i;

	for (i = 0; i < 2; i++) {
		c[i] = f->d[i].c;
		if (f->counted)
			bpf_map_lookup_elem(f->s->cnt_fd, &f->cookie[i], &c[i]);
	}
	*a_to_b = c[0].bytes + f->d[0].uwritten;
	*b_to_a = c[1].bytes + f->d[1].uwritten;
}

void sl_splice_flow_backlog(const struct sl_splice_flow *f, uint64_t *peak_a_to_b,
			    uint64_t *peak_b_to_a)
{
	*peak_a_to_b = f->d[0].peak;
	*peak_b_to_a = f->d[1].peak;
}

static uint64_t gstat(struct sl_splice *s, uint32_t key)
{
	uint64_t *v = calloc(s->ncpu, sizeof(*v)), sum = 0;
	int i;

	if (!v)
		return 0;
	if (!bpf_map_lookup_elem(s->stat_fd, &key, v))
		for (i = 0; i < s->ncpu; i++)
			sum += v[i];
	free(v);
	return sum;
}

void sl_splice_get_stats(struct sl_splice *s, struct sl_splice_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->flows = __atomic_load_n(&s->pc[0], __ATOMIC_RELAXED);
	out->active = __atomic_load_n(&s->active, __ATOMIC_RELAXED);
	out->kernel_bytes = gstat(s, SL_SPLICE_G_BYTES);
	out->bytes = out->kernel_bytes + __atomic_load_n(&s->pc[1], __ATOMIC_RELAXED);
	out->pauses = __atomic_load_n(&s->pc[2], __ATOMIC_RELAXED);
	out->broken = __atomic_load_n(&s->pc[3], __ATOMIC_RELAXED);
}

void sl_splice_bind_counters(struct sl_splice *s, uint64_t *cells)
{
	s->pc = cells ? cells : s->own;
}

struct sl_splice *sl_splice_open(const char *pin_dir, char *err, size_t errlen)
{
	struct sl_splice *s;
	char pin[512];
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "splice: out of memory");
		return NULL;
	}
	s->ncpu = libbpf_num_possible_cpus();
	if (s->ncpu <= 0) {
		snprintf(err, errlen, "splice: cannot count CPUs: %s", strerror(-s->ncpu));
		goto err_free;
	}
	s->pc = s->own;
	s->skel = sockmap_bpf__open();
	if (s->skel && pin_dir) {
		/* the byte counters outlive sluiced: adopted at the next start */
		snprintf(pin, sizeof(pin), "%s/sl_splice_stat", pin_dir);
		bpf_map__set_pin_path(s->skel->maps.sl_splice_stat, pin);
	}
	if (s->skel && sockmap_bpf__load(s->skel)) {
		sockmap_bpf__destroy(s->skel);
		s->skel = NULL;
	}
	if (!s->skel) {
		snprintf(err, errlen,
			 "splice: loading the sockmap program failed: %s (kernel needs sockhash and sk_skb verdict programs, 5.10 or later, and CAP_BPF)",
			 strerror(errno));
		goto err_free;
	}
	s->socks_fd = bpf_map__fd(s->skel->maps.sl_splice_socks);
	s->dst_fd = bpf_map__fd(s->skel->maps.sl_splice_dst);
	s->peer_fd = bpf_map__fd(s->skel->maps.sl_splice_peer);
	s->cnt_fd = bpf_map__fd(s->skel->maps.sl_splice_cnt);
	s->stat_fd = bpf_map__fd(s->skel->maps.sl_splice_stat);
	ret = bpf_prog_attach(bpf_program__fd(s->skel->progs.sl_splice_verdict), s->socks_fd,
			      BPF_SK_SKB_VERDICT, 0);
	if (ret) {
		snprintf(err, errlen,
			 "splice: attaching the sk_skb verdict to sl_splice_socks failed: %s (needs BPF_SK_SKB_VERDICT, 5.13 or later)",
			 strerror(errno));
		goto err_skel;
	}
	return s;
err_skel:
	sockmap_bpf__destroy(s->skel);
err_free:
	free(s);
	return NULL;
}

void sl_splice_close(struct sl_splice *s)
{
	if (!s)
		return;
	sockmap_bpf__destroy(s->skel);
	free(s);
}
