// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pktgen: one measured run of the real-traffic benchmark (bench_pps.sh).
 *
 * Sends UDP frames out of a veth of the current network namespace with
 * BPF_PROG_RUN in live-frames mode (pps_gen in pps_xdp.bpf.o returns XDP_TX,
 * which that mode turns into a transmit out of the veth given as the
 * context's ingress interface), and counts at the far end, with pps_sink
 * attached natively to the backend's veth, the frames that arrive there
 * addressed as expected. With --floor it also attaches fwd_floor.bpf.o to
 * the balancer's ingress veth for the run; without, the balancer runs
 * whatever is attached there (sluice).
 *
 * The generator runs for --warmup seconds, then --seconds measured, on
 * --cpu. Everything it attaches is a BPF link owned by this process: it is
 * gone when the process ends, however it ends. Prints "key value" lines on
 * stdout (see print_result()), messages on stderr. Exits 0 when it measured,
 * 1 when it could not (and says why), 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#define PG_TMPL_LEN 48 /* bytes of the frame pps_gen writes (gen_tmpl) */
#define PG_SPORT_SPAN 32768
#define PG_MAX_CPUS 256

struct pg_ep {
	struct in_addr addr;
	unsigned short port; /* host order */
};

struct pg_opts {
	const char *iface;	/* the client's veth (current netns) */
	unsigned char dmac[6];	/* its peer's MAC */
	struct pg_ep src, dst;	/* the first flow */
	unsigned long long flows; /* 0: a new flow per frame */
	unsigned int len;	/* frame length, FCS excluded */
	double seconds, warmup;
	int cpu;		/* generator CPU, -1: not pinned */
	unsigned int batch;	/* live-frames batch size */
	double rate;		/* frames a second; 0: as fast as it can */
	const char *sink_ns, *sink_if;
	struct pg_ep expect;
	const char *lb_ns, *lb_in, *lb_out;
	int floor;		/* attach fwd_floor to lb_in */
	unsigned char floor_dmac[6];
	const char *obj_dir;
	int fwd_tid;		/* the balancer's receive thread (threaded NAPI), 0: none */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

__attribute__((format(printf, 1, 2))) static void pr_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pktgen: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- arguments ---- */

static int parse_mac(const char *s, unsigned char *mac)
{
	unsigned int b[6];
	char end;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -EINVAL;
		mac[i] = (unsigned char)b[i];
	}
	return 0;
}

/* ADDR:PORT, IPv4. */
static int parse_ep(const char *s, struct pg_ep *ep)
{
	const char *colon = strrchr(s, ':');
	char addr[INET_ADDRSTRLEN];
	unsigned long port;
	char *end;

	if (!colon || (size_t)(colon - s) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, (size_t)(colon - s));
	addr[colon - s] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port == 0 || port > 65535 || inet_pton(AF_INET, addr, &ep->addr) != 1)
		return -EINVAL;
	ep->port = (unsigned short)port;
	return 0;
}

/* A "A:B[:C]" argument split in place into up to @n fields. Returns the count. */
static int split(char *s, char **f, int n)
{
	int i = 0;

	while (i < n) {
		f[i++] = s;
		s = strchr(s, ':');
		if (!s)
			break;
		*s++ = '\0';
	}
	return s ? -1 : i;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: pktgen --iface IF --dmac MAC --src ADDR:PORT --dst ADDR:PORT\n"
		"              --sink NETNS:IF --expect ADDR:PORT --lb NETNS:IN:OUT\n"
		"              [--floor BACKEND_MAC] [--flows N] [--len BYTES] [--seconds S]\n"
		"              [--warmup S] [--cpu N] [--batch N] [--rate PPS] [--obj DIR]\n"
		"              [--fwd-tid TID]\n"
		"Sends from IF (this netns) towards MAC; --flows 0 makes every frame a new\n"
		"flow (default 1); NETNS is a name under /run/netns or a path. TID: the\n"
		"NAPI thread of the balancer's veth, whose CPU time is reported. --rate:\n"
		"frames a second (default: as many as it can).\n");
}

static int parse_args(int argc, char **argv, struct pg_opts *o)
{
	static const struct option lo[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "dmac", required_argument, NULL, 'm' },
		{ "src", required_argument, NULL, 's' },
		{ "dst", required_argument, NULL, 'd' },
		{ "flows", required_argument, NULL, 'f' },
		{ "len", required_argument, NULL, 'l' },
		{ "seconds", required_argument, NULL, 't' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "batch", required_argument, NULL, 'b' },
		{ "rate", required_argument, NULL, 'r' },
		{ "sink", required_argument, NULL, 'k' },
		{ "expect", required_argument, NULL, 'e' },
		{ "lb", required_argument, NULL, 'L' },
		{ "floor", required_argument, NULL, 'F' },
		{ "obj", required_argument, NULL, 'o' },
		{ "fwd-tid", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c, li = 0, have_dmac = 0, have_src = 0, have_dst = 0, have_expect = 0;
	char *f[3], *end;

	*o = (struct pg_opts){ .flows = 1, .len = 60, .seconds = 10, .warmup = 1, .cpu = -1,
			       .batch = 64, .obj_dir = ".output/bench" };
	while ((c = getopt_long(argc, argv, "", lo, &li)) != -1) {
		errno = 0;
		end = NULL;
		switch (c) {
		case 'i':
			o->iface = optarg;
			break;
		case 'm':
			if (parse_mac(optarg, o->dmac))
				goto bad;
			have_dmac = 1;
			break;
		case 's':
			if (parse_ep(optarg, &o->src))
				goto bad;
			have_src = 1;
			break;
		case 'd':
			if (parse_ep(optarg, &o->dst))
				goto bad;
			have_dst = 1;
			break;
		case 'e':
			if (parse_ep(optarg, &o->expect))
				goto bad;
			have_expect = 1;
			break;
		case 'f':
			o->flows = strtoull(optarg, &end, 10);
			break;
		case 'l':
			o->len = (unsigned int)strtoul(optarg, &end, 10);
			if (o->len < 60 || o->len > 1514)
				goto bad;
			break;
		case 't':
			o->seconds = strtod(optarg, &end);
			if (o->seconds <= 0)
				goto bad;
			break;
		case 'w':
			o->warmup = strtod(optarg, &end);
			if (o->warmup < 0)
				goto bad;
			break;
		case 'c':
			o->cpu = (int)strtol(optarg, &end, 10);
			if (o->cpu < 0 || o->cpu >= PG_MAX_CPUS)
				goto bad;
			break;
		case 'b':
			o->batch = (unsigned int)strtoul(optarg, &end, 10);
			if (o->batch < 1 || o->batch > 256)
				goto bad;
			break;
		case 'r':
			o->rate = strtod(optarg, &end);
			if (o->rate < 0)
				goto bad;
			break;
		case 'k':
			if (split(optarg, f, 2) != 2)
				goto bad;
			o->sink_ns = f[0];
			o->sink_if = f[1];
			break;
		case 'L':
			if (split(optarg, f, 3) != 3)
				goto bad;
			o->lb_ns = f[0];
			o->lb_in = f[1];
			o->lb_out = f[2];
			break;
		case 'F':
			if (parse_mac(optarg, o->floor_dmac))
				goto bad;
			o->floor = 1;
			break;
		case 'o':
			o->obj_dir = optarg;
			break;
		case 'T':
			o->fwd_tid = (int)strtol(optarg, &end, 10);
			if (o->fwd_tid <= 0)
				goto bad;
			break;
		default:
			usage();
			return -EINVAL;
		}
		if (errno || (end && *end))
			goto bad;
	}
	if (optind != argc || !o->iface || !have_dmac || !have_src || !have_dst || !have_expect ||
	    !o->sink_ns || !o->lb_ns) {
		usage();
		return -EINVAL;
	}
	if ((unsigned int)o->src.port + PG_SPORT_SPAN - 1 > 65535) {
		pr_err("--src port %u: flows use ports up to port + %u; take one <= %u",
		       o->src.port, PG_SPORT_SPAN - 1, 65536 - PG_SPORT_SPAN);
		return -EINVAL;
	}
	return 0;
bad:
	pr_err("option --%s: '%s' is not valid", lo[li].name, optarg);
	usage();
	return -EINVAL;
}

/* ---- network namespaces ---- */

/* Open NETNS: a name under /run/netns, or a path. Returns an fd or -errno. */
static int netns_open(const char *ns)
{
	char path[256];
	int fd;

	if (strchr(ns, '/'))
		snprintf(path, sizeof(path), "%s", ns);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fd = -errno;
		pr_err("netns %s: %s", path, strerror(errno));
	}
	return fd;
}

static int netns_enter(int fd, const char *what)
{
	if (setns(fd, CLONE_NEWNET)) {
		pr_err("setns into %s: %s", what, strerror(errno));
		return -errno;
	}
	return 0;
}

/* ---- interfaces: index, MAC, ethtool counters ---- */

struct pg_if {
	const char *name;
	int ifindex;
	int sock; /* a socket in the interface's netns: ioctls reach it from anywhere */
	unsigned char mac[6];
};

/* Fill @i for interface @name of the current netns. Returns 0 or -errno. */
static int if_open(struct pg_if *i, const char *name)
{
	struct ifreq ifr = {};

	i->name = name;
	i->sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (i->sock < 0)
		return -errno;
	i->ifindex = (int)if_nametoindex(name);
	if (!i->ifindex) {
		pr_err("interface %s: %s", name, strerror(errno));
		return -ENODEV;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(i->sock, SIOCGIFHWADDR, &ifr)) {
		pr_err("interface %s: no MAC address: %s", name, strerror(errno));
		return -errno;
	}
	memcpy(i->mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

static void if_close(struct pg_if *i)
{
	if (i->sock >= 0)
		close(i->sock);
	i->sock = -1;
}

/* Which of a veth's ethtool counters we sum (over its queues). */
enum pg_stat {
	PG_XDP_XMIT,	 /* tx_queue_N_xdp_xmit: frames its peer's ring took */
	PG_XDP_XMIT_ERR, /* tx_queue_N_xdp_xmit_errors: frames it refused (full) */
	PG_RX_XDP,	 /* rx_queue_N_xdp_packets: frames its XDP program ran on */
	PG_RX_REDIRECT,	 /* rx_queue_N_xdp_redirect */
	PG_RX_XDP_DROPS, /* rx_queue_N_xdp_drops */
	PG_STAT__MAX,
};

static const char *const pg_stat_suffix[PG_STAT__MAX] = {
	[PG_XDP_XMIT] = "_xdp_xmit",	   [PG_XDP_XMIT_ERR] = "_xdp_xmit_errors",
	[PG_RX_XDP] = "_xdp_packets",	   [PG_RX_REDIRECT] = "_xdp_redirect",
	[PG_RX_XDP_DROPS] = "_xdp_drops",
};

static int stat_of(const char *name)
{
	const char *rest;
	int s, tx;

	tx = !strncmp(name, "tx_queue_", 9);
	if (!tx && strncmp(name, "rx_queue_", 9))
		return -1;
	rest = name + 9;
	while (*rest >= '0' && *rest <= '9')
		rest++;
	for (s = 0; s < PG_STAT__MAX; s++)
		if (!strcmp(rest, pg_stat_suffix[s]) && tx == (s <= PG_XDP_XMIT_ERR))
			return s;
	return -1;
}

/* The interface's counters of enum pg_stat into @out. Returns 0 or -errno. */
static int if_stats(const struct pg_if *i, unsigned long long *out)
{
	struct ethtool_sset_info *si = NULL;
	struct ethtool_gstrings *gs = NULL;
	struct ethtool_stats *st = NULL;
	struct ifreq ifr = {};
	unsigned int n, k;
	int err = -ENOMEM, s;

	memset(out, 0, PG_STAT__MAX * sizeof(*out));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->name);
	si = calloc(1, sizeof(*si) + sizeof(__u32));
	if (!si)
		goto out;
	si->cmd = ETHTOOL_GSSET_INFO;
	si->sset_mask = 1ULL << ETH_SS_STATS;
	ifr.ifr_data = (void *)si;
	if (ioctl(i->sock, SIOCETHTOOL, &ifr)) {
		err = -errno;
		goto out;
	}
	n = si->sset_mask ? si->data[0] : 0;
	gs = calloc(1, sizeof(*gs) + (size_t)n * ETH_GSTRING_LEN);
	st = calloc(1, sizeof(*st) + (size_t)n * sizeof(__u64));
	if (!gs || !st)
		goto out;
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = ETH_SS_STATS;
	gs->len = n;
	ifr.ifr_data = (void *)gs;
	if (ioctl(i->sock, SIOCETHTOOL, &ifr)) {
		err = -errno;
		goto out;
	}
	st->cmd = ETHTOOL_GSTATS;
	st->n_stats = n;
	ifr.ifr_data = (void *)st;
	if (ioctl(i->sock, SIOCETHTOOL, &ifr)) {
		err = -errno;
		goto out;
	}
	for (k = 0; k < n && k < gs->len && k < st->n_stats; k++) {
		char name[ETH_GSTRING_LEN + 1];

		memcpy(name, gs->data + (size_t)k * ETH_GSTRING_LEN, ETH_GSTRING_LEN);
		name[ETH_GSTRING_LEN] = '\0';
		s = stat_of(name);
		if (s >= 0)
			out[s] += st->data[k];
	}
	err = 0;
out:
	if (err)
		pr_err("interface %s: ethtool statistics: %s", i->name, strerror(-err));
	free(st);
	free(gs);
	free(si);
	return err;
}

/* ---- BPF objects ---- */

/*
 * Set the rodata variable @name of @obj (opened, not loaded) to @size bytes
 * at @val, finding its offset in the object's BTF. Returns 0 or -errno.
 */
static int rodata_set(struct bpf_object *obj, const char *name, const void *val, size_t size)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, ".rodata");
	struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	const void *init;
	size_t msize;
	char *buf;
	int id, k, err;

	if (!map || !btf)
		return -ENOENT;
	init = bpf_map__initial_value(map, &msize);
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (!init || id < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, (__u32)id);
	vs = btf_var_secinfos(sec);
	for (k = 0; k < btf_vlen(sec); k++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name))
			continue;
		if (vs->size != size || vs->offset + size > msize)
			return -EINVAL;
		buf = malloc(msize);
		if (!buf)
			return -ENOMEM;
		memcpy(buf, init, msize);
		memcpy(buf + vs->offset, val, size);
		err = bpf_map__set_initial_value(map, buf, msize);
		free(buf);
		return err;
	}
	return -ENOENT;
}

static struct bpf_object *obj_open(const char *dir, const char *file)
{
	struct bpf_object *obj;
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		pr_err("%s: %s (run make)", path, strerror(errno));
		return NULL;
	}
	return obj;
}

static int obj_load(struct bpf_object *obj)
{
	int err = bpf_object__load(obj);

	if (err)
		pr_err("%s: load failed: %s", bpf_object__name(obj), strerror(-err));
	return err;
}

/* Attach @prog natively to @ifindex of the current netns. Returns a link fd or -errno. */
static int xdp_link(struct bpf_program *prog, const struct pg_if *i)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = XDP_FLAGS_DRV_MODE);
	int fd = bpf_link_create(bpf_program__fd(prog), i->ifindex, BPF_XDP, &lo);

	if (fd < 0) {
		fd = -errno;
		pr_err("%s: native XDP attach of %s failed: %s%s", i->name,
		       bpf_program__name(prog), strerror(errno),
		       errno == EBUSY ? " (another program is attached: detach it first)" : "");
	}
	return fd;
}

static unsigned long long percpu_sum(int map_fd, __u32 idx)
{
	int n = libbpf_num_possible_cpus(), k;
	unsigned long long sum = 0;
	__u64 *vals;

	if (n <= 0)
		return 0;
	vals = calloc((size_t)n, sizeof(*vals));
	if (vals && !bpf_map_lookup_elem(map_fd, &idx, vals))
		for (k = 0; k < n; k++)
			sum += vals[k];
	free(vals);
	return sum;
}

/* ---- the frame ---- */

static __u16 csum_fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

static __u32 csum_add(__u32 s, const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t k;

	for (k = 0; k + 1 < len; k += 2)
		s += (__u32)(b[k] << 8 | b[k + 1]);
	if (len & 1)
		s += (__u32)b[len - 1] << 8;
	return s;
}

/* The first frame: Ethernet, IPv4 (DF), UDP with a zero payload, both checksums. */
static void frame_build(unsigned char *f, const struct pg_opts *o, const unsigned char *smac)
{
	unsigned int ip_len = o->len - 14, udp_len = ip_len - 20;
	unsigned char *ip = f + 14, *udp = ip + 20;
	__u16 sum;
	__u32 s;

	memset(f, 0, o->len);
	memcpy(f, o->dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08; /* ETH_P_IP */
	ip[0] = 0x45;
	ip[2] = (unsigned char)(ip_len >> 8);
	ip[3] = (unsigned char)ip_len;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;   /* TTL */
	ip[9] = 17;   /* UDP */
	memcpy(ip + 12, &o->src.addr, 4);
	memcpy(ip + 16, &o->dst.addr, 4);
	sum = csum_fold(csum_add(0, ip, 20));
	ip[10] = (unsigned char)(sum >> 8);
	ip[11] = (unsigned char)sum;
	udp[0] = (unsigned char)(o->src.port >> 8);
	udp[1] = (unsigned char)o->src.port;
	udp[2] = (unsigned char)(o->dst.port >> 8);
	udp[3] = (unsigned char)o->dst.port;
	udp[4] = (unsigned char)(udp_len >> 8);
	udp[5] = (unsigned char)udp_len;
	/* pseudo-header: addresses, protocol, UDP length */
	s = csum_add(0, ip + 12, 8) + 17 + udp_len;
	sum = csum_fold(csum_add(s, udp, udp_len));
	if (!sum)
		sum = 0xffff;
	udp[6] = (unsigned char)(sum >> 8);
	udp[7] = (unsigned char)sum;
}

/* ---- CPU time ---- */

struct pg_cpu {
	unsigned long long busy, total;
};

/* Per-CPU busy and total jiffies from /proc/stat. Returns the CPU count seen. */
static int cpu_read(struct pg_cpu *c, int max)
{
	unsigned long long v[10];
	char line[512];
	int n = 0, cpu, k, got;
	FILE *f = fopen("/proc/stat", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "cpu", 3) || line[3] < '0' || line[3] > '9')
			continue;
		memset(v, 0, sizeof(v));
		got = sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0],
			     &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
		if (got < 5 || cpu < 0 || cpu >= max)
			continue;
		c[cpu].total = 0;
		for (k = 0; k < 8; k++)
			c[cpu].total += v[k];
		c[cpu].busy = c[cpu].total - v[3] - v[4]; /* less idle and iowait */
		if (cpu + 1 > n)
			n = cpu + 1;
	}
	fclose(f);
	return n;
}

/*
 * A thread's time on a CPU and waiting for one, in ns, from
 * /proc/TID/schedstat (tid 0: this thread). Returns 0 or -errno.
 */
static int sched_read(int tid, unsigned long long *run, unsigned long long *wait)
{
	char path[64];
	FILE *f;
	int n;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/schedstat", tid);
	else
		snprintf(path, sizeof(path), "/proc/thread-self/schedstat");
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fscanf(f, "%llu %llu", run, wait);
	fclose(f);
	return n == 2 ? 0 : -EINVAL;
}

/* ---- the run ---- */

struct pg_count {
	unsigned long long generated, ok, other;
	unsigned long long gen_run, gen_wait, fwd_run, fwd_wait; /* ns */
	unsigned long long gen_if[PG_STAT__MAX], in_if[PG_STAT__MAX], out_if[PG_STAT__MAX];
};

/* pps_gen_st's value, as in pps_xdp.bpf.c */
struct pg_gen_state {
	__u64 sent, gap_ns, next_ns;
};

struct pg_run {
	struct pg_if gen, in, out, sink;
	int sink_map;
	int gen_prog, gen_map;
	struct xdp_md md;
	unsigned char *frame;
};

static int counts_read(const struct pg_run *r, const struct pg_opts *o, struct pg_count *c)
{
	if (o->fwd_tid && sched_read(o->fwd_tid, &c->fwd_run, &c->fwd_wait)) {
		pr_err("thread %d: no /proc/%d/schedstat", o->fwd_tid, o->fwd_tid);
		return -ESRCH;
	}
	struct pg_gen_state gs;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(r->gen_map, &zero, &gs))
		return -errno;
	c->generated = gs.sent;
	sched_read(0, &c->gen_run, &c->gen_wait);
	c->ok = percpu_sum(r->sink_map, 0);
	c->other = percpu_sum(r->sink_map, 1);
	if (if_stats(&r->gen, c->gen_if) || if_stats(&r->in, c->in_if) ||
	    if_stats(&r->out, c->out_if))
		return -EIO;
	return 0;
}

/* Set the generator's pace: one frame every 1/@rate s (0: unpaced). */
static int pace_set(const struct pg_run *r, double rate)
{
	struct pg_gen_state gs;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(r->gen_map, &zero, &gs))
		return -errno;
	gs.gap_ns = rate > 0 ? (__u64)(1e9 / rate) : 0;
	if (bpf_map_update_elem(r->gen_map, &zero, &gs, BPF_ANY))
		return -errno;
	return 0;
}

/*
 * Generate for @secs seconds (or until a signal): live-frames runs of about
 * 50 ms each. Returns 0 or -errno.
 */
static int generate(const struct pg_run *r, const struct pg_opts *o, double secs)
{
	double t0 = now_s(), t, end = t0 + secs;
	__u32 repeat = 4096;
	int err;

	while (!stop && (t = now_s()) < end) {
		LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = r->frame,
			    .data_size_in = o->len, .ctx_in = &r->md,
			    .ctx_size_in = sizeof(r->md), .repeat = repeat,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = o->batch);

		if (bpf_prog_test_run_opts(r->gen_prog, &topts)) {
			err = errno;
			if (err == EINTR || stop)
				break;
			pr_err("BPF_PROG_RUN (live frames) on %s: %s%s", o->iface, strerror(err),
			       err == EINVAL || err == EOPNOTSUPP
				       ? " (BPF_F_TEST_XDP_LIVE_FRAMES needs Linux 5.18 or later)"
				       : "");
			return -err;
		}
		/* aim at ~50 ms a call: long enough to amortise the call's setup
		 * (a page pool), short enough to stop on time */
		t = now_s() - t;
		if (t < 0.025 && repeat < (1u << 24))
			repeat *= 2;
		else if (t > 0.1 && repeat > 1024)
			repeat /= 2;
	}
	return 0;
}

static void print_result(const struct pg_opts *o, double secs, const struct pg_count *a,
			 const struct pg_count *b, const struct pg_cpu *c0,
			 const struct pg_cpu *c1, int ncpu)
{
	int k;

#define D(f) (b->f - a->f)
	printf("seconds %.3f\n", secs);
	/* frames the generator made, and what the balancer's ring took/refused */
	printf("generated %llu\n", D(generated));
	printf("offered %llu\n", D(gen_if[PG_XDP_XMIT]));
	printf("refused %llu\n", D(gen_if[PG_XDP_XMIT_ERR]));
	/* on the balancer: frames its XDP program saw, redirected, dropped */
	printf("lb_xdp %llu\n", D(in_if[PG_RX_XDP]));
	printf("lb_redirect %llu\n", D(in_if[PG_RX_REDIRECT]));
	printf("lb_xdp_drops %llu\n", D(in_if[PG_RX_XDP_DROPS]));
	/* balancer -> backend: what the backend's ring took/refused */
	printf("fwd_xmit %llu\n", D(out_if[PG_XDP_XMIT]));
	printf("fwd_refused %llu\n", D(out_if[PG_XDP_XMIT_ERR]));
	/* at the backend's XDP sink */
	printf("delivered %llu\n", D(ok));
	printf("stray %llu\n", D(other));
	printf("generated_pps %.0f\n", D(generated) / secs);
	printf("offered_pps %.0f\n", D(gen_if[PG_XDP_XMIT]) / secs);
	printf("delivered_pps %.0f\n", D(ok) / secs);
	printf("taken_pps %.0f\n", D(gen_if[PG_XDP_XMIT]) / secs);
	/* CPU time (ms) of the generator's thread and of the balancer's NAPI
	 * thread (which also runs the backend's receive: raised from it, run
	 * in its softirq), and how long each waited for its CPU while runnable
	 * (others' load); that thread's time per frame its XDP program ran on */
	printf("gen_cpu_ms %.1f\n", D(gen_run) / 1e6);
	printf("gen_wait_ms %.1f\n", D(gen_wait) / 1e6);
	if (o->fwd_tid) {
		printf("fwd_cpu_ms %.1f\n", D(fwd_run) / 1e6);
		printf("fwd_wait_ms %.1f\n", D(fwd_wait) / 1e6);
		if (D(in_if[PG_RX_XDP]))
			printf("fwd_ns_per_pkt %.1f\n",
			       (double)D(fwd_run) / (double)D(in_if[PG_RX_XDP]));
	}
#undef D
	for (k = 0; k < ncpu; k++) {
		unsigned long long tot = c1[k].total - c0[k].total;

		printf("cpu%d_busy %.1f\n", k,
		       tot ? 100.0 * (double)(c1[k].busy - c0[k].busy) / (double)tot : 0.0);
	}
}

int main(int argc, char **argv)
{
	struct bpf_object *gen_obj = NULL, *floor_obj = NULL;
	int self_ns = -1, sink_ns = -1, lb_ns = -1, err, ncpu;
	int sink_link = -1, floor_link = -1, gen_link = -1, rc = 1;
	struct pg_cpu cpu0[PG_MAX_CPUS] = {}, cpu1[PG_MAX_CPUS] = {};
	struct pg_count before = {}, after = {};
	struct pg_run r = { .sink_map = -1, .gen = { .sock = -1 }, .in = { .sock = -1 },
			    .out = { .sock = -1 }, .sink = { .sock = -1 } };
	struct bpf_program *prog, *gen_prog;
	struct pg_opts o;
	double t0, secs;
	__u64 tmpl[PG_TMPL_LEN / 8];

	if (parse_args(argc, argv, &o))
		return 2;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	libbpf_set_print(libbpf_quiet);
	if (o.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			pr_err("cannot run on CPU %d: %s", o.cpu, strerror(errno));
			return 1;
		}
	}

	/* The interfaces, each looked up in its own namespace. */
	self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	sink_ns = netns_open(o.sink_ns);
	lb_ns = netns_open(o.lb_ns);
	if (self_ns < 0 || sink_ns < 0 || lb_ns < 0)
		goto out;
	if (if_open(&r.gen, o.iface))
		goto out;
	if (netns_enter(lb_ns, o.lb_ns) || if_open(&r.in, o.lb_in) || if_open(&r.out, o.lb_out) ||
	    netns_enter(sink_ns, o.sink_ns) || if_open(&r.sink, o.sink_if) ||
	    netns_enter(self_ns, "the starting netns"))
		goto out;

	/* The generator and the sink. */
	gen_obj = obj_open(o.obj_dir, "pps_xdp.bpf.o");
	if (!gen_obj)
		goto out;
	{
		unsigned char *f = calloc(1, o.len);
		__be32 daddr = o.expect.addr.s_addr;
		__be16 dport = htons(o.expect.port);
		__u64 flows = o.flows;

		if (!f)
			goto out;
		r.frame = f;
		frame_build(f, &o, r.gen.mac);
		memcpy(tmpl, f, sizeof(tmpl));
		err = rodata_set(gen_obj, "gen_tmpl", tmpl, sizeof(tmpl));
		err = err ?: rodata_set(gen_obj, "gen_flows", &flows, sizeof(flows));
		err = err ?: rodata_set(gen_obj, "sink_daddr", &daddr, sizeof(daddr));
		err = err ?: rodata_set(gen_obj, "sink_dport", &dport, sizeof(dport));
		if (err) {
			pr_err("pps_xdp.bpf.o: cannot set its rodata: %s", strerror(-err));
			goto out;
		}
	}
	if (obj_load(gen_obj))
		goto out;
	gen_prog = bpf_object__find_program_by_name(gen_obj, "pps_gen");
	prog = bpf_object__find_program_by_name(gen_obj, "pps_sink");
	r.sink_map = bpf_object__find_map_fd_by_name(gen_obj, "pps_sink_cnt");
	if (!gen_prog || !prog || r.sink_map < 0) {
		pr_err("pps_xdp.bpf.o: pps_gen, pps_sink or pps_sink_cnt missing");
		goto out;
	}
	r.gen_prog = bpf_program__fd(gen_prog);
	r.gen_map = bpf_object__find_map_fd_by_name(gen_obj, "pps_gen_st");
	if (r.gen_map < 0) {
		pr_err("pps_xdp.bpf.o: pps_gen_st missing");
		goto out;
	}
	if (netns_enter(sink_ns, o.sink_ns))
		goto out;
	sink_link = xdp_link(prog, &r.sink);
	if (netns_enter(self_ns, "the starting netns") || sink_link < 0)
		goto out;

	/* The floor, in place of the balancer's own program. */
	if (o.floor) {
		__u32 macs[3], egress = (__u32)r.out.ifindex;
		int map;

		floor_obj = obj_open(o.obj_dir, "fwd_floor.bpf.o");
		if (!floor_obj)
			goto out;
		memcpy(macs, o.floor_dmac, 6);
		memcpy((unsigned char *)macs + 6, r.out.mac, 6);
		err = rodata_set(floor_obj, "fl_macs", macs, sizeof(macs));
		err = err ?: rodata_set(floor_obj, "fl_egress", &egress, sizeof(egress));
		if (err) {
			pr_err("fwd_floor.bpf.o: cannot set its rodata: %s", strerror(-err));
			goto out;
		}
		if (obj_load(floor_obj))
			goto out;
		map = bpf_object__find_map_fd_by_name(floor_obj, "fl_tx_ports");
		prog = bpf_object__find_program_by_name(floor_obj, "fwd_floor");
		if (map < 0 || !prog) {
			pr_err("fwd_floor.bpf.o: fwd_floor or fl_tx_ports missing");
			goto out;
		}
		/* A devmap resolves its ifindex in the netns of the update. */
		if (netns_enter(lb_ns, o.lb_ns))
			goto out;
		if (bpf_map_update_elem(map, &egress, &egress, BPF_ANY)) {
			pr_err("fl_tx_ports: cannot add %s: %s", o.lb_out, strerror(errno));
			netns_enter(self_ns, "the starting netns");
			goto out;
		}
		floor_link = xdp_link(prog, &r.in);
		if (netns_enter(self_ns, "the starting netns") || floor_link < 0)
			goto out;
	}

	/*
	 * Every BPF_PROG_RUN of an XDP program adds it to the kernel's XDP
	 * dispatcher and removes it again, each change waiting for an RCU grace
	 * period (milliseconds, in which nothing is sent), unless the program
	 * is already there because it is attached somewhere. So it is attached
	 * to the sending veth too, where nothing arrives in this topology.
	 */
	gen_link = xdp_link(gen_prog, &r.gen);
	if (gen_link < 0)
		goto out;

	/* live frames: the context names the interface the frames go out of */
	r.md.data_end = o.len;
	r.md.ingress_ifindex = (__u32)r.gen.ifindex;

	if (pace_set(&r, o.rate) || generate(&r, &o, o.warmup))
		goto out;
	usleep(100000); /* let the warm-up's frames land */
	if (counts_read(&r, &o, &before))
		goto out;
	cpu_read(cpu0, PG_MAX_CPUS);
	t0 = now_s();
	if (generate(&r, &o, o.seconds))
		goto out;
	secs = now_s() - t0;
	ncpu = cpu_read(cpu1, PG_MAX_CPUS);
	usleep(100000); /* frames still in the rings are counted too */
	if (stop) {
		pr_err("stopped by signal %d", (int)stop);
		goto out;
	}
	if (counts_read(&r, &o, &after))
		goto out;
	print_result(&o, secs, &before, &after, cpu0, cpu1, ncpu);
	if (after.ok == before.ok) {
		pr_err("nothing reached %s with destination %s:%u (%llu frames elsewhere): is the "
		       "balancer attached to %s with that VIP?",
		       o.sink_if, inet_ntoa(o.expect.addr), o.expect.port,
		       after.other - before.other, o.lb_in);
		goto out;
	}
	rc = 0;
out:
	if (gen_link >= 0)
		close(gen_link);
	if (floor_link >= 0)
		close(floor_link);
	if (sink_link >= 0)
		close(sink_link);
	bpf_object__close(floor_obj);
	bpf_object__close(gen_obj);
	free(r.frame);
	if_close(&r.gen);
	if_close(&r.in);
	if_close(&r.out);
	if_close(&r.sink);
	if (lb_ns >= 0)
		close(lb_ns);
	if (sink_ns >= 0)
		close(sink_ns);
	if (self_ns >= 0)
		close(self_ns);
	return rc;
}
