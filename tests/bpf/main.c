// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Runner for the BPF program tests: `test_bpf [FILTER]`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "harness.h"

static struct sl_test *tests, **tail = &tests;
static int cur_failed, cur_skipped;

void sl_test_register(struct sl_test *t)
{
	*tail = t;
	tail = &t->next;
}

void sl_test_fail(void)
{
	cur_failed = 1;
}

void sl_test_skip(const char *why)
{
	cur_skipped = 1;
	fprintf(stderr, "  skipped: %s\n", why);
}

int sl_mem_check(const void *got, size_t glen, const void *exp, size_t elen, const char *what,
		 const char *file, int line)
{
	const unsigned char *g = got, *e = exp;
	size_t i, n = glen < elen ? glen : elen;

	for (i = 0; i < n; i++)
		if (g[i] != e[i])
			break;
	if (i == n && glen == elen)
		return 1;
	fprintf(stderr, "  %s:%d: %s: ", file, line, what);
	if (i < n)
		fprintf(stderr, "byte %zu: got 0x%02x, expected 0x%02x", i, g[i], e[i]);
	else
		fprintf(stderr, "length: got %zu, expected %zu", glen, elen);
	fprintf(stderr, "\n");
	return 0;
}

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0, skipped = 0;
	const char *filter = argc > 1 ? argv[1] : NULL;
	struct sl_test *t;

	libbpf_set_print(quiet_libbpf);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (t = tests; t; t = t->next) {
		if (filter && !strstr(t->name, filter))
			continue;
		cur_failed = cur_skipped = 0;
		t->fn();
		if (cur_failed) {
			failed++;
			printf("FAIL %s\n", t->name);
		} else if (cur_skipped) {
			skipped++;
			printf("SKIP %s\n", t->name);
		} else {
			passed++;
			printf("ok   %s\n", t->name);
		}
	}
	printf("bpf: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
