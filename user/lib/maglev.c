// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Weighted Maglev table.
 *
 * As in the paper (section 3.4), every backend has its own permutation of the
 * slots, offset + j * skip (mod size), with offset and skip hashed from its
 * name, and backends take turns claiming the next still-empty slot of their
 * permutation until the table is full.
 *
 * The paper's turns go round-robin, which gives every backend the same share
 * whatever its weight. Here backend i takes its turns at the virtual times
 * (k + 1/2) / w_i, k = 0, 1, ..., all backends' turns merged in time order,
 * ties going to the name that sorts first. Why this schedule:
 *
 * - When the table fills at virtual time T, backend i has had round(T * w_i)
 *   turns (Sainte-Lague apportionment), so its share is w_i / sum to within
 *   about one slot, whatever the weights.
 * - A backend's turn times depend on its own weight only. Removing a backend
 *   drops its turns and leaves everybody else's in the same order, so only
 *   its slots and the contested slots downstream of them change, as in the
 *   unweighted algorithm.
 * - With equal weights it is exactly the paper's round-robin.
 *
 * The next turn is the top of a heap, so the cost is O(size log n) plus the
 * permutation walks (about size ln size in all), independent of the weights.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "sluice/select.h"

/* Two independent hashes of a name: the paper's h1 (offset) and h2 (skip). */
#define MG_SEED_OFFSET 0x6d61676cu /* "magl" */
#define MG_SEED_SKIP 0x736b6970u   /* "skip" */

struct mg_node {
	__u32 name[5]; /* address words and port << 16 | family, host order */
	__u32 weight;
	__u32 id;
	__u32 pos;   /* next slot of the permutation to try */
	__u32 skip;  /* permutation step, in [1, size) */
	__u32 turns; /* slots claimed so far */
};

static int is_prime(__u32 v)
{
	__u32 d;

	if (v < 2)
		return 0;
	if (v % 2 == 0)
		return v == 2;
	for (d = 3; (__u64)d * d <= v; d += 2)
		if (v % d == 0)
			return 0;
	return 1;
}

/*
 * Names are compared and hashed as host-order numbers so that nodes of either
 * byte order agree; the unused words of an IPv4 address are ignored.
 */
static void mg_node_init(struct mg_node *nd, const struct sl_mg_backend *b)
{
	int i, words = b->family == SL_AF_INET ? 1 : 4;

	memset(nd, 0, sizeof(*nd));
	for (i = 0; i < words; i++)
		nd->name[i] = ntohl(b->addr[i]);
	nd->name[4] = (__u32)ntohs(b->port) << 16 | b->family;
	nd->weight = b->weight;
	nd->id = b->id;
}

static __u32 mg_name_hash(const struct mg_node *nd, __u32 seed)
{
	__u32 h = seed;
	int i;

	for (i = 0; i < 5; i++)
		h = sl_hash_mix(h, nd->name[i]);
	return sl_hash_final(h, sizeof(nd->name));
}

/* Name order; id and weight only break ties between duplicate names. */
static int mg_node_cmp(const void *pa, const void *pb)
{
	const struct mg_node *a = pa, *b = pb;
	int i;

	for (i = 0; i < 5; i++)
		if (a->name[i] != b->name[i])
			return a->name[i] < b->name[i] ? -1 : 1;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	if (a->weight != b->weight)
		return a->weight < b->weight ? -1 : 1;
	return 0;
}

/*
 * True if node @a's next turn, at (2 * turns + 1) / (2 * weight), comes before
 * node @b's. Exact: 128-bit cross products cannot overflow for any size.
 */
static int mg_turn_before(const struct mg_node *nodes, __u32 a, __u32 b)
{
	unsigned __int128 ta = (unsigned __int128)(2ull * nodes[a].turns + 1) * nodes[b].weight;
	unsigned __int128 tb = (unsigned __int128)(2ull * nodes[b].turns + 1) * nodes[a].weight;

	if (ta != tb)
		return ta < tb;
	return a < b;
}

static void mg_heap_down(__u32 *heap, __u32 n, const struct mg_node *nodes, __u32 i)
{
	for (;;) {
		__u32 l = 2 * i + 1, r = l + 1, top = i, t;

		if (l < n && mg_turn_before(nodes, heap[l], heap[top]))
			top = l;
		if (r < n && mg_turn_before(nodes, heap[r], heap[top]))
			top = r;
		if (top == i)
			return;
		t = heap[i];
		heap[i] = heap[top];
		heap[top] = t;
		i = top;
	}
}

static __u32 mg_step(__u32 pos, __u32 skip, __u32 size)
{
	__u64 p = (__u64)pos + skip;

	return (__u32)(p >= size ? p - size : p);
}

int sl_maglev_build(__u32 *table, __u32 size, const struct sl_mg_backend *b, __u32 n)
{
	struct mg_node *nodes = NULL;
	__u64 *used = NULL;
	__u32 *heap = NULL;
	__u32 i, filled;
	int err = 0;

	if (!is_prime(size) || n > size)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (b[i].weight == 0)
			return -EINVAL;
	if (n == 0) {
		for (i = 0; i < size; i++)
			table[i] = SL_BE_NONE;
		return 0;
	}

	nodes = calloc(n, sizeof(*nodes));
	heap = calloc(n, sizeof(*heap));
	/* A bitmap, not SL_BE_NONE in the table: an id may take any value. */
	used = calloc(size / 64 + 1, sizeof(*used));
	if (!nodes || !heap || !used) {
		err = -ENOMEM;
		goto out_free;
	}

	for (i = 0; i < n; i++)
		mg_node_init(&nodes[i], &b[i]);
	/* Name order fixes who wins ties, so input order cannot matter. */
	qsort(nodes, n, sizeof(*nodes), mg_node_cmp);
	for (i = 0; i < n; i++) {
		nodes[i].pos = mg_name_hash(&nodes[i], MG_SEED_OFFSET) % size;
		nodes[i].skip = mg_name_hash(&nodes[i], MG_SEED_SKIP) % (size - 1) + 1;
		heap[i] = i;
	}
	for (i = n / 2; i-- > 0;)
		mg_heap_down(heap, n, nodes, i);

	/* From here on nothing fails, so the table can be written in place. */
	for (filled = 0; filled < size; filled++) {
		struct mg_node *nd = &nodes[heap[0]];
		__u32 pos = nd->pos;

		/* size is prime, so the walk visits every slot and finds a free one. */
		while (used[pos / 64] & (1ull << (pos % 64)))
			pos = mg_step(pos, nd->skip, size);
		used[pos / 64] |= 1ull << (pos % 64);
		table[pos] = nd->id;
		nd->pos = mg_step(pos, nd->skip, size);
		nd->turns++;
		mg_heap_down(heap, n, nodes, 0);
	}

out_free:
	free(used);
	free(heap);
	free(nodes);
	return err;
}
