// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The persistent counter store (user/lib/cstore.c): blocks by key, stable
 * pointers, histograms, and — as root on a bpffs — values that survive
 * closing and reopening the pins (what a restart of sluiced does), a grown
 * block keeping its values, and a pin of another layout refused by name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>

#include "check.h"
#include "../../user/lib/cstore.h"

static char g_dir[128];

static int bpffs_dir(void)
{
	struct statfs sfs;

	if (geteuid() || statfs("/sys/fs/bpf", &sfs) || sfs.f_type != BPF_FS_MAGIC)
		return -1;
	snprintf(g_dir, sizeof(g_dir), "/sys/fs/bpf/sl-test-cstore-%d", (int)getpid());
	return mkdir(g_dir, 0700) && errno != EEXIST ? -1 : 0;
}

static void rm_pins(void)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/sl_agent_ctrs", g_dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sl_agent_cdir", g_dir);
	unlink(p);
	rmdir(g_dir);
}

static void same_key_same_block_other_keys_apart(void **state)
{
	char err[256];
	struct sl_cstore *s = sl_cstore_open(NULL, NULL, err, sizeof(err));
	uint64_t *a, *b, *a2, used, cap, lost;

	(void)state;
	assert_non_null(s);
	a = sl_cstore_get(s, "l7/web", 23);
	b = sl_cstore_get(s, "l7/api", 23);
	a2 = sl_cstore_get(s, "l7/web", 23);
	ASSERT_TRUE(a == a2, "the same key gives the same block");
	ASSERT_TRUE(b >= a + 23 || a >= b + 23, "two keys' blocks do not overlap");
	sl_ctr_add(&a[3], 5);
	ASSERT_EQ(sl_ctr_get(&a2[3]), 5, "a count through one pointer shows through the other");
	ASSERT_EQ(sl_ctr_get(&b[3]), 0, "the other key's block is untouched");
	sl_cstore_usage(s, &used, &cap, &lost);
	ASSERT_EQ(used, 46, "cells handed out");
	ASSERT_EQ(lost, 0, "nothing lost");
	sl_cstore_close(s);
}

static void too_long_a_key_still_counts_and_is_reported(void **state)
{
	char err[256], key[300];
	struct sl_cstore *s = sl_cstore_open(NULL, NULL, err, sizeof(err));
	uint64_t *c, used, cap, lost;

	(void)state;
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = 0;
	c = sl_cstore_get(s, key, 4);
	assert_non_null(c);
	sl_ctr_add(&c[3], 1);
	ASSERT_EQ(sl_ctr_get(&c[3]), 1, "a process-local block still counts");
	ASSERT_TRUE(sl_cstore_get(s, key, 4) == c, "and is the same block the next time");
	sl_cstore_usage(s, &used, &cap, &lost);
	ASSERT_EQ(lost, 1, "the miss is counted");
	ASSERT_EQ(used, 0, "no store cells were used for it");
	sl_cstore_close(s);
}

static void histogram_buckets_by_upper_bound(void **state)
{
	uint64_t h[SL_HIST_CELLS] = { 0 };

	(void)state;
	sl_hist_observe(h, 500);	/* 0.0005 s: on the first bound, so in it */
	sl_hist_observe(h, 501);	/* just over: the second bucket */
	sl_hist_observe(h, 10000000);	/* 10 s: the last finite bucket */
	sl_hist_observe(h, 10000001);	/* over 10 s: +Inf */
	ASSERT_EQ(h[0], 1, "le 0.0005");
	ASSERT_EQ(h[1], 1, "le 0.001");
	ASSERT_EQ(h[SL_HIST_BUCKETS - 2], 1, "le 10");
	ASSERT_EQ(h[SL_HIST_BUCKETS - 1], 1, "+Inf");
	ASSERT_EQ(h[SL_HIST_BUCKETS], 500 + 501 + 10000000 + 10000001, "sum in microseconds");
}

static void values_survive_reopening_the_pins(void **state)
{
	char err[256];
	struct sl_cstore *s;
	uint64_t *a, *g;
	int adopted = -1;

	(void)state;
	if (bpffs_dir()) {
		skip();
		return;
	}
	s = sl_cstore_open(g_dir, &adopted, err, sizeof(err));
	if (!s)
		fail_msg("open: %s", err);
	ASSERT_EQ(adopted, 0, "a first open creates the pins");
	a = sl_cstore_get(s, "l7/web", 23);
	g = sl_cstore_get(s, "grow", 2);
	sl_ctr_add(&a[2], 41);
	sl_ctr_add(&g[1], 7);
	sl_cstore_close(s);

	s = sl_cstore_open(g_dir, &adopted, err, sizeof(err));
	if (!s)
		fail_msg("reopen: %s", err);
	ASSERT_EQ(adopted, 1, "the second open adopts them");
	sl_cstore_get(s, "other", 3); /* allocation order must not matter */
	a = sl_cstore_get(s, "l7/web", 23);
	ASSERT_EQ(sl_ctr_get(&a[2]), 41, "the count made before the reopen");
	g = sl_cstore_get(s, "grow", 5);
	ASSERT_EQ(sl_ctr_get(&g[1]), 7, "a grown block keeps its values");
	ASSERT_EQ(sl_ctr_get(&g[4]), 0, "and its new cells start at 0");
	sl_cstore_close(s);
	s = sl_cstore_open(g_dir, &adopted, err, sizeof(err));
	assert_non_null(s);
	g = sl_cstore_get(s, "grow", 5);
	ASSERT_EQ(sl_ctr_get(&g[1]), 7, "the grown block is the one found after another reopen");
	sl_cstore_close(s);
	rm_pins();
}

static void a_pin_of_another_layout_is_refused_by_name(void **state)
{
	char err[256], p[256];
	struct sl_cstore *s;
	int fd;

	(void)state;
	if (bpffs_dir()) {
		skip();
		return;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sl_agent_ctrs", 4, 8, 16, NULL);
	assert_true(fd >= 0);
	snprintf(p, sizeof(p), "%s/sl_agent_ctrs", g_dir);
	assert_int_equal(bpf_obj_pin(fd, p), 0);
	close(fd);
	err[0] = 0;
	s = sl_cstore_open(g_dir, NULL, err, sizeof(err));
	ASSERT_TRUE(s == NULL, "opening over a foreign pin fails");
	ASSERT_TRUE(strstr(err, p) != NULL, "the error names the pin: %s", err);
	ASSERT_TRUE(strstr(err, "rm ") != NULL, "and says how to fix it: %s", err);
	rm_pins();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_key_same_block_other_keys_apart),
		cmocka_unit_test(too_long_a_key_still_counts_and_is_reported),
		cmocka_unit_test(histogram_buckets_by_upper_bound),
		cmocka_unit_test(values_survive_reopening_the_pins),
		cmocka_unit_test(a_pin_of_another_layout_is_refused_by_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
