// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sl_maglev_build (user/lib/maglev.c): weighted Maglev lookup tables. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "check.h"
#include "../../user/lib/maglev.h"

#define M SL_MAGLEV_SIZE
#define POISON 0xa5a5a5a5u
#define MAX_BE 1000

/* Backend i: 198.18.x.y:8080 (or 2001:db8::x:y for odd i when @mixed), id 100 + i. */
static void set_backend(struct sl_mg_backend *b, __u32 i, __u32 weight, int mixed)
{
	memset(b, 0, sizeof(*b));
	if (mixed && i % 2) {
		b->family = SL_AF_INET6;
		b->addr[0] = htonl(0x20010db8);
		b->addr[3] = htonl(i);
	} else {
		b->family = SL_AF_INET;
		b->addr[0] = htonl(0xc6120000u | i); /* 198.18.0.0/15 */
	}
	b->port = htons(8080);
	b->weight = weight;
	b->id = 100 + i;
}

static __u32 *new_table(void)
{
	__u32 *t = test_malloc(M * sizeof(*t));
	__u32 i;

	for (i = 0; i < M; i++)
		t[i] = POISON;
	return t;
}

static void build_ok(__u32 *t, const struct sl_mg_backend *b, __u32 n)
{
	ASSERT_EQ(sl_maglev_build(t, M, b, n), 0, "build of %u backends", n);
}

/* Slots per id, for ids 100 .. 100 + MAX_BE; anything else fails. */
static void count_slots(const __u32 *t, __u32 size, __u32 *cnt, __u32 n)
{
	__u32 s;

	memset(cnt, 0, MAX_BE * sizeof(*cnt));
	for (s = 0; s < size; s++) {
		ASSERT_TRUE(t[s] >= 100 && t[s] < 100 + n, "slot %u holds id %u, not an input id",
			    s, t[s]);
		cnt[t[s] - 100]++;
	}
}

/* Every backend's slots within 2% of weight / sum of the table. */
static void check_shares(const struct sl_mg_backend *b, __u32 n, const char *what)
{
	__u32 *t = new_table(), *cnt = test_calloc(MAX_BE, sizeof(*cnt)), i;
	double sum = 0;

	build_ok(t, b, n);
	count_slots(t, M, cnt, n);
	for (i = 0; i < n; i++)
		sum += b[i].weight;
	for (i = 0; i < n; i++) {
		double want = M * (double)b[i].weight / sum, got = cnt[b[i].id - 100];

		ASSERT_TRUE(got >= want * 0.98 && got <= want * 1.02,
			    "%s: backend %u (weight %u) got %.0f slots, expected %.1f +- 2%%", what,
			    i, b[i].weight, got, want);
	}
	test_free(cnt);
	test_free(t);
}

static void test_equal_weights_share_within_2pct(void **state)
{
	struct sl_mg_backend *b = test_calloc(MAX_BE, sizeof(*b));
	__u32 i;

	for (i = 0; i < MAX_BE; i++)
		set_backend(&b[i], i, 1, 1);
	check_shares(b, 10, "10 equal");
	check_shares(b, 100, "100 equal");
	check_shares(b, MAX_BE, "1000 equal");
	for (i = 0; i < MAX_BE; i++)
		b[i].weight = 7;
	check_shares(b, 100, "100 equal at weight 7");
	test_free(b);
}

static void test_weights_1_to_10_share_within_2pct(void **state)
{
	struct sl_mg_backend b[4];

	set_backend(&b[0], 0, 1, 0);
	set_backend(&b[1], 1, 10, 0);
	check_shares(b, 2, "1:10");
	b[0].weight = 10;
	b[1].weight = 1;
	check_shares(b, 2, "10:1");
	/* Weights near 2^32: same ratio, and nothing overflows on the way. */
	b[0].weight = 400000000;
	b[1].weight = 4000000000u;
	check_shares(b, 2, "4e8:4e9");
	set_backend(&b[2], 2, 1, 0);
	set_backend(&b[3], 3, 10, 0);
	b[0].weight = b[2].weight = 1;
	b[1].weight = b[3].weight = 10;
	check_shares(b, 4, "1:10:1:10");
}

static void test_mixed_weights_share_within_2pct(void **state)
{
	static const __u32 w[] = { 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 100, 7, 250, 1, 4 };
	struct sl_mg_backend *b = test_calloc(MAX_BE, sizeof(*b));
	__u32 i, s = 0xc0ffee;

	for (i = 0; i < 15; i++)
		set_backend(&b[i], i, w[i], 1);
	check_shares(b, 15, "fibonacci-ish, v4 and v6");
	/* 200 backends, weights 1..10: the lightest still has ~60 slots. */
	for (i = 0; i < 200; i++)
		set_backend(&b[i], i, rng_next(&s) % 10 + 1, 1);
	check_shares(b, 200, "200 of weights 1..10");
	for (i = 0; i < 50; i++)
		set_backend(&b[i], i, 0xffffffffu - rng_next(&s) % 0x7fffffff, 0);
	check_shares(b, 50, "50 of weights in [2^31, 2^32)");
	test_free(b);
}

/*
 * Removes backend @rm of @n and counts the slots that changed: at most the
 * removed backend's share plus 2 points, and of those, the slots moving
 * between surviving backends under 2% of the table.
 */
static void check_removal(struct sl_mg_backend *b, __u32 n, __u32 rm, const char *what)
{
	__u32 *before = new_table(), *after = new_table(), s, changed = 0, others = 0;
	struct sl_mg_backend *rest = test_calloc(n, sizeof(*rest));
	double sum = 0, share;

	for (s = 0; s < n; s++)
		sum += b[s].weight;
	share = b[rm].weight / sum;
	memcpy(rest, b, rm * sizeof(*b));
	memcpy(rest + rm, b + rm + 1, (n - rm - 1) * sizeof(*b));
	build_ok(before, b, n);
	build_ok(after, rest, n - 1);
	for (s = 0; s < M; s++) {
		ASSERT_TRUE(after[s] != b[rm].id, "%s: slot %u still holds the removed id", what,
			    s);
		if (before[s] == after[s])
			continue;
		changed++;
		if (before[s] != b[rm].id)
			others++;
	}
	ASSERT_TRUE((double)changed / M <= share + 0.02,
		    "%s: %u slots (%.2f%%) changed, expected at most %.2f%%", what, changed,
		    100.0 * changed / M, 100 * (share + 0.02));
	ASSERT_TRUE((double)others / M <= 0.02,
		    "%s: %u slots (%.2f%%) moved between surviving backends, expected at most 2%%",
		    what, others, 100.0 * others / M);
	test_free(rest);
	test_free(after);
	test_free(before);
}

static void test_removing_one_of_n_moves_about_1_over_n(void **state)
{
	struct sl_mg_backend *b = test_calloc(MAX_BE, sizeof(*b));
	__u32 i;

	for (i = 0; i < MAX_BE; i++)
		set_backend(&b[i], i, 1, 0);
	check_removal(b, 10, 0, "1 of 10, first");
	check_removal(b, 10, 4, "1 of 10, middle");
	check_removal(b, 10, 9, "1 of 10, last");
	check_removal(b, 100, 0, "1 of 100, first");
	check_removal(b, 100, 42, "1 of 100, middle");
	check_removal(b, 100, 99, "1 of 100, last");
	check_removal(b, MAX_BE, 500, "1 of 1000");
	test_free(b);
}

static void test_removing_weighted_backend_moves_about_its_share(void **state)
{
	static const __u32 w[] = { 1, 2, 3, 5, 8, 13, 21, 34, 55, 89 };
	struct sl_mg_backend b[10];
	__u32 i;

	for (i = 0; i < 10; i++)
		set_backend(&b[i], i, w[i], 1);
	check_removal(b, 10, 0, "lightest of 10 weighted");
	check_removal(b, 10, 5, "middle of 10 weighted");
	check_removal(b, 10, 9, "heaviest of 10 weighted");
}

static void shuffle(struct sl_mg_backend *b, __u32 n, __u32 *s)
{
	__u32 i;

	for (i = n - 1; i > 0; i--) {
		__u32 j = rng_next(s) % (i + 1);
		struct sl_mg_backend t = b[i];

		b[i] = b[j];
		b[j] = t;
	}
}

static void test_input_order_does_not_change_table(void **state)
{
	struct sl_mg_backend *b = test_calloc(MAX_BE, sizeof(*b));
	__u32 *ref = new_table(), *t = new_table(), i, s = 0xdecaf, round, slot;

	for (i = 0; i < 300; i++)
		set_backend(&b[i], i, i % 5 + 1, 1);
	build_ok(ref, b, 300);
	for (round = 0; round < 5; round++) {
		shuffle(b, 300, &s);
		build_ok(t, b, 300);
		for (slot = 0; slot < M; slot++)
			ASSERT_EQ(t[slot], ref[slot], "shuffle %u: slot %u", round, slot);
	}
	test_free(t);
	test_free(ref);
	test_free(b);
}

/* Ids only label slots: giving the same names other ids relabels the same table. */
static void test_placement_follows_name_not_id(void **state)
{
	struct sl_mg_backend b[20];
	__u32 *ref = new_table(), *t = new_table(), i, slot;

	for (i = 0; i < 20; i++)
		set_backend(&b[i], i, i % 3 + 1, 1);
	build_ok(ref, b, 20);
	for (i = 0; i < 20; i++)
		b[i].id = 100 + 19 - i; /* reversed ids, hence reversed id order too */
	build_ok(t, b, 20);
	for (slot = 0; slot < M; slot++)
		ASSERT_EQ(t[slot], 100 + 19 - (ref[slot] - 100), "slot %u", slot);
	test_free(t);
	test_free(ref);
}

/* Port and family are part of the name; the unused words of an IPv4 address are not. */
static void test_name_is_address_port_and_family(void **state)
{
	__u32 *ref = new_table(), *t = new_table(), slot, moved;
	struct sl_mg_backend b[10];
	int i;

	for (i = 0; i < 10; i++)
		set_backend(&b[i], i, 1, 0);
	build_ok(ref, b, 10);

	b[3].addr[1] = htonl(0xdeadbeef);
	b[3].addr[3] = htonl(1);
	build_ok(t, b, 10);
	for (slot = 0; slot < M; slot++)
		ASSERT_EQ(t[slot], ref[slot], "IPv4 with junk in addr[1..3]: slot %u", slot);

	b[3].addr[1] = b[3].addr[3] = 0;
	b[3].port = htons(8081);
	build_ok(t, b, 10);
	for (moved = 0, slot = 0; slot < M; slot++)
		moved += (t[slot] == 103) != (ref[slot] == 103);
	ASSERT_TRUE(moved > M / 20, "changing a port moved only %u slots of its backend", moved);

	b[3].port = htons(8080);
	b[3].family = SL_AF_INET6;
	build_ok(t, b, 10);
	for (moved = 0, slot = 0; slot < M; slot++)
		moved += (t[slot] == 103) != (ref[slot] == 103);
	ASSERT_TRUE(moved > M / 20, "changing the family moved only %u slots of its backend",
		    moved);
	test_free(t);
	test_free(ref);
}

static void assert_untouched(const __u32 *t, __u32 size, const char *what)
{
	__u32 i;

	for (i = 0; i < size; i++)
		ASSERT_EQ(t[i], POISON, "%s: slot %u", what, i);
}

static void test_bad_size_is_einval_and_table_untouched(void **state)
{
	static const __u32 bad[] = { 0, 1, 4, 9, 65535, 65536, 65541 /* 3 * 21847 */ };
	__u32 *t = new_table(), i;
	struct sl_mg_backend b[3];

	for (i = 0; i < 3; i++)
		set_backend(&b[i], i, 1, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(sl_maglev_build(t, bad[i], b, 1), -EINVAL, "size %u", bad[i]);
		assert_untouched(t, M, "after a bad size");
		ASSERT_EQ(sl_maglev_build(t, bad[i], b, 0), -EINVAL, "size %u, no backends",
			  bad[i]);
		assert_untouched(t, M, "after a bad size, no backends");
	}
	/* More backends than slots. */
	ASSERT_EQ(sl_maglev_build(t, 2, b, 3), -EINVAL, "3 backends in 2 slots");
	assert_untouched(t, M, "after n > size");
	test_free(t);
}

static void test_weight_zero_is_einval_and_table_untouched(void **state)
{
	__u32 *t = new_table(), i;
	struct sl_mg_backend b[5];

	for (i = 0; i < 5; i++)
		set_backend(&b[i], i, 3, 0);
	b[4].weight = 0;
	ASSERT_EQ(sl_maglev_build(t, M, b, 5), -EINVAL, "weight 0 last");
	assert_untouched(t, M, "after weight 0 last");
	b[4].weight = 3;
	b[0].weight = 0;
	ASSERT_EQ(sl_maglev_build(t, M, b, 5), -EINVAL, "weight 0 first");
	assert_untouched(t, M, "after weight 0 first");
	test_free(t);
}

static void test_no_backends_fills_every_slot_with_none(void **state)
{
	__u32 *t = new_table(), i;

	ASSERT_EQ(sl_maglev_build(t, M, NULL, 0), 0, "build of 0 backends");
	for (i = 0; i < M; i++)
		ASSERT_EQ(t[i], SL_BE_NONE, "slot %u", i);
	test_free(t);
}

/* Small prime sizes work too, up to one backend per slot. */
static void test_small_prime_sizes_fill_every_slot(void **state)
{
	__u32 t[13], cnt[MAX_BE], i;
	struct sl_mg_backend b[13];

	for (i = 0; i < 13; i++)
		set_backend(&b[i], i, 1, 0);
	ASSERT_EQ(sl_maglev_build(t, 2, b, 1), 0, "size 2, 1 backend");
	ASSERT_EQ(t[0], 100, "size 2 slot 0");
	ASSERT_EQ(t[1], 100, "size 2 slot 1");
	ASSERT_EQ(sl_maglev_build(t, 13, b, 13), 0, "size 13, 13 backends");
	count_slots(t, 13, cnt, 13);
	for (i = 0; i < 13; i++)
		ASSERT_EQ(cnt[i], 1, "size 13: slots of backend %u", i);
}

/*
 * Every slot holds an input id, and every backend heavy enough to own a slot
 * does, even with ids that look like SL_BE_NONE or 0.
 */
static void test_table_holds_only_input_ids(void **state)
{
	struct sl_mg_backend *b = test_calloc(MAX_BE, sizeof(*b));
	__u32 *t = new_table(), *cnt = test_calloc(MAX_BE, sizeof(*cnt)), i, slot;

	for (i = 0; i < MAX_BE; i++)
		set_backend(&b[i], i, i % 4 + 1, 1);
	build_ok(t, b, MAX_BE);
	count_slots(t, M, cnt, MAX_BE);
	for (i = 0; i < MAX_BE; i++)
		ASSERT_TRUE(cnt[i] > 0, "backend %u (weight %u) owns no slot", i, b[i].weight);

	b[0].id = SL_BE_NONE;
	b[1].id = 0;
	b[0].weight = b[1].weight = 1;
	build_ok(t, b, 2);
	for (i = 0, slot = 0; slot < M; slot++) {
		ASSERT_TRUE(t[slot] == SL_BE_NONE || t[slot] == 0, "slot %u holds %u", slot,
			    t[slot]);
		i += t[slot] == 0;
	}
	ASSERT_TRUE(i > M / 3 && i < 2 * M / 3, "id 0 owns %u of %u slots", i, M);
	test_free(cnt);
	test_free(t);
	test_free(b);
}

/*
 * The whole table for a small mixed set, as computed by an independent
 * Python implementation of the algorithm described in maglev.c (hashes,
 * seeds, name order, turn order and tie-break). Nodes running different
 * builds must build the same table, so any change here is a compatibility
 * break, not a test to update lightly.
 */
static void test_matches_reference_table(void **state)
{
	static const __u32 want[251] = {
		12, 14, 13, 13, 12, 13, 11, 15, 12, 13, 14, 12, 14, 12, 14, 12, 13, 12, 15, 12, 14,
		12, 14, 13, 11, 12, 13, 15, 15, 15, 14, 14, 14, 14, 12, 14, 12, 13, 12, 14, 12, 14,
		12, 14, 13, 13, 12, 15, 11, 14, 14, 14, 14, 14, 14, 14, 14, 12, 13, 12, 11, 12, 14,
		12, 14, 13, 11, 15, 14, 14, 14, 14, 13, 14, 14, 14, 14, 14, 11, 13, 12, 13, 12, 12,
		12, 12, 13, 15, 14, 14, 14, 14, 14, 13, 14, 14, 11, 14, 15, 14, 13, 13, 11, 12, 12,
		12, 12, 14, 14, 14, 14, 14, 14, 14, 11, 12, 14, 12, 15, 12, 11, 13, 13, 12, 11, 11,
		14, 15, 14, 14, 12, 14, 11, 14, 12, 13, 12, 11, 11, 14, 12, 14, 13, 13, 11, 13, 14,
		14, 14, 12, 11, 12, 14, 12, 14, 12, 11, 12, 15, 12, 15, 12, 15, 13, 13, 14, 14, 14,
		14, 14, 12, 14, 12, 14, 12, 14, 12, 13, 15, 11, 12, 14, 12, 13, 14, 14, 14, 14, 14,
		14, 13, 13, 14, 12, 14, 12, 14, 13, 15, 12, 15, 12, 15, 14, 13, 14, 14, 14, 14, 14,
		14, 13, 13, 14, 14, 11, 12, 12, 13, 13, 12, 11, 12, 14, 14, 13, 14, 14, 14, 15, 14,
		14, 13, 13, 12, 13, 12, 14, 15, 12, 15, 12, 14, 14, 14, 14, 13, 14, 14, 12, 14,
	};
	static const struct {
		__u32 addr0, addr3; /* host order */
		__u16 port;
		__u8 family;
		__u32 weight, id;
	} in[5] = {
		{ 0xc6120001, 0, 8080, SL_AF_INET, 1, 11 }, /* 198.18.0.1:8080 */
		{ 0xc6120002, 0, 8080, SL_AF_INET, 3, 12 }, /* 198.18.0.2:8080 */
		{ 0xc6120002, 0, 8081, SL_AF_INET, 2, 13 }, /* 198.18.0.2:8081 */
		{ 0xc6120003, 0, 80, SL_AF_INET, 1, 15 },   /* 198.18.0.3:80 */
		{ 0x20010db8, 1, 443, SL_AF_INET6, 5, 14 }, /* [2001:db8::1]:443 */
	};
	struct sl_mg_backend b[5];
	__u32 t[251], i;

	memset(b, 0, sizeof(b));
	for (i = 0; i < 5; i++) {
		b[i].addr[0] = htonl(in[i].addr0);
		b[i].addr[3] = htonl(in[i].addr3);
		b[i].port = htons(in[i].port);
		b[i].family = in[i].family;
		b[i].weight = in[i].weight;
		b[i].id = in[i].id;
	}
	ASSERT_EQ(sl_maglev_build(t, 251, b, 5), 0, "build");
	for (i = 0; i < 251; i++)
		ASSERT_EQ(t[i], want[i], "slot %u", i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal_weights_share_within_2pct),
		cmocka_unit_test(test_weights_1_to_10_share_within_2pct),
		cmocka_unit_test(test_mixed_weights_share_within_2pct),
		cmocka_unit_test(test_removing_one_of_n_moves_about_1_over_n),
		cmocka_unit_test(test_removing_weighted_backend_moves_about_its_share),
		cmocka_unit_test(test_input_order_does_not_change_table),
		cmocka_unit_test(test_placement_follows_name_not_id),
		cmocka_unit_test(test_name_is_address_port_and_family),
		cmocka_unit_test(test_bad_size_is_einval_and_table_untouched),
		cmocka_unit_test(test_weight_zero_is_einval_and_table_untouched),
		cmocka_unit_test(test_no_backends_fills_every_slot_with_none),
		cmocka_unit_test(test_small_prime_sizes_fill_every_slot),
		cmocka_unit_test(test_table_holds_only_input_ids),
		cmocka_unit_test(test_matches_reference_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
