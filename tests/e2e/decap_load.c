// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * decap_load: runs sluice's IPIP decapsulation program on a lab backend.
 * `decap_load IFACE ADDR [ADDR...]` loads sl_decap (.output/decap.skel.h),
 * fills sl_decap_dst with the ADDRs (IPv4 or IPv6: the backend's own
 * addresses, i.e. the outer destinations the balancer encapsulates to), and
 * attaches it in native mode to IFACE of the current network namespace
 * through a BPF link, then stays in the foreground.
 *
 * Nothing is pinned: the link belongs to this process, so the program is
 * detached when the process ends, however it ends. Prints
 * "decap_load IFACE: ready" on stdout once attached; on SIGTERM or SIGINT
 * prints how many tunnel packets were stripped and exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "decap.skel.h"
#include "sluice/abi.h"

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

/* Sum of a per-CPU counter. */
static unsigned long long percpu_sum(int map_fd, __u32 idx)
{
	int n = libbpf_num_possible_cpus(), i;
	unsigned long long sum = 0;
	__u64 *vals;

	if (n <= 0)
		return 0;
	vals = calloc((size_t)n, sizeof(*vals));
	if (vals && !bpf_map_lookup_elem(map_fd, &idx, vals))
		for (i = 0; i < n; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts, .flags = XDP_FLAGS_DRV_MODE);
	struct decap_bpf *skel = NULL;
	int ifindex, link_fd = -1, i, sig, rc = 1;
	const char *ifname;
	sigset_t mask;

	if (argc < 3) {
		fprintf(stderr, "usage: decap_load IFACE ADDR [ADDR...]\n");
		return 2;
	}
	ifname = argv[1];
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "decap_load: interface %s: %s\n", ifname, strerror(errno));
		return 1;
	}
	/* Block the signals before anything can go wrong, wait for them below. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	libbpf_set_print(libbpf_quiet);

	skel = decap_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "decap_load: cannot load sl_decap: %s\n", strerror(errno));
		goto out;
	}
	for (i = 2; i < argc; i++) {
		struct sl_addr_key key = { .family = 0 };
		__u32 one = 1;

		if (inet_pton(AF_INET, argv[i], key.addr) == 1) {
			key.family = SL_AF_INET;
		} else if (inet_pton(AF_INET6, argv[i], key.addr) == 1) {
			key.family = SL_AF_INET6;
		} else {
			fprintf(stderr, "decap_load: '%s' is not an IPv4 or IPv6 address\n",
				argv[i]);
			rc = 2;
			goto out;
		}
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.sl_decap_dst), &key, &one,
					BPF_ANY)) {
			fprintf(stderr, "decap_load: sl_decap_dst: %s: %s\n", argv[i],
				strerror(errno));
			goto out;
		}
	}
	link_fd = bpf_link_create(bpf_program__fd(skel->progs.sl_decap), ifindex, BPF_XDP, &lopts);
	if (link_fd < 0) {
		fprintf(stderr, "decap_load: attach sl_decap to %s (native): %s\n", ifname,
			strerror(-link_fd));
		goto out;
	}
	printf("decap_load %s: ready\n", ifname);
	fflush(stdout);

	if (sigwait(&mask, &sig) == 0) {
		printf("decap_load %s: %llu packets decapsulated, %llu dropped\n", ifname,
		       percpu_sum(bpf_map__fd(skel->maps.sl_dcounters), SL_C_DECAP),
		       percpu_sum(bpf_map__fd(skel->maps.sl_ddrops), SL_DROP_DECAP));
		rc = 0;
	}
out:
	if (link_fd >= 0)
		close(link_fd);
	decap_bpf__destroy(skel);
	return rc;
}
