// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * jsonpath: reads one JSON document on stdin and prints the value at PATH, so
 * the end-to-end scripts can read `sluicectl --json` output without jq.
 *
 *   jsonpath PATH
 *   PATH   := SEGMENT ( "." KEY | "[" N "]" | "[" KEY "=" TEXT "]" )*  [ "#" ]
 *   e.g.   drops.rl_conn
 *          vips[0].name
 *          vips[name=web].backends[address=198.18.11.2].state
 *          vips[name=web].backends#          (the number of elements)
 *
 * [KEY=TEXT] picks the first element of an array whose member KEY is TEXT (a
 * string compared without its quotes, or a number/literal as written). A
 * string is printed without quotes (simple escapes undone); any other value
 * is printed as it appears in the input. Exit status: 0 found, 1 not found,
 * 2 malformed JSON or usage.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* End of the string starting at the quote @p, just past the closing quote. */
static const char *skip_string(const char *p)
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && !*++p)
			return NULL;
	return *p == '"' ? p + 1 : NULL;
}

/* End of the value starting at @p (after white space), or NULL if malformed. */
static const char *skip_value(const char *p)
{
	p = skip_ws(p);
	if (*p == '"')
		return skip_string(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';

		p = skip_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (*p != '"' || !(p = skip_string(p)))
					return NULL;
				p = skip_ws(p);
				if (*p++ != ':')
					return NULL;
			}
			if (!(p = skip_value(p)))
				return NULL;
			p = skip_ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
			p = skip_ws(p);
		}
	}
	if (*p == '-' || isdigit((unsigned char)*p) || isalpha((unsigned char)*p)) {
		while (*p && (isalnum((unsigned char)*p) || strchr("+-.", *p)))
			p++;
		return p;
	}
	return NULL;
}

/* Does the scalar at @p equal @text (strings compared without quotes)? */
static int scalar_is(const char *p, const char *text, size_t tlen)
{
	const char *end = skip_value(p);

	if (!end)
		return 0;
	if (*p == '"') {
		p++;
		end--;
	}
	return (size_t)(end - p) == tlen && !memcmp(p, text, tlen);
}

/* The value of member @key (length @klen) of the object at @p, or NULL. */
static const char *member(const char *p, const char *key, size_t klen)
{
	p = skip_ws(p);
	if (*p != '{')
		return NULL;
	p = skip_ws(p + 1);
	while (*p == '"') {
		const char *kend = skip_string(p);
		int match;

		if (!kend)
			return NULL;
		match = (size_t)(kend - p - 2) == klen && !memcmp(p + 1, key, klen);
		p = skip_ws(kend);
		if (*p++ != ':')
			return NULL;
		p = skip_ws(p);
		if (match)
			return p;
		if (!(p = skip_value(p)))
			return NULL;
		p = skip_ws(p);
		if (*p == ',')
			p = skip_ws(p + 1);
	}
	return NULL;
}

/* Element @idx of the array at @p, or NULL. */
static const char *element(const char *p, long idx)
{
	p = skip_ws(p);
	if (*p != '[')
		return NULL;
	p = skip_ws(p + 1);
	while (*p && *p != ']') {
		if (idx-- == 0)
			return p;
		if (!(p = skip_value(p)))
			return NULL;
		p = skip_ws(p);
		if (*p == ',')
			p = skip_ws(p + 1);
	}
	return NULL;
}

/* Number of elements of the array or members of the object at @p, or -1. */
static long length(const char *p)
{
	const char *end = skip_value(p);
	long n = 0;

	p = skip_ws(p);
	if (!end || (*p != '[' && *p != '{'))
		return -1;
	if (*skip_ws(p + 1) == ']' || *skip_ws(p + 1) == '}')
		return 0;
	/* Count the commas at depth one. */
	for (p++; p < end - 1; p++) {
		if (*p == '"') {
			p = skip_string(p) - 1;
		} else if (*p == '[' || *p == '{') {
			p = skip_value(p) - 1;
		} else if (*p == ',') {
			n++;
		}
	}
	return n + 1;
}

static void print_value(const char *p)
{
	const char *end = skip_value(p);

	if (*p != '"') {
		printf("%.*s\n", (int)(end - p), p);
		return;
	}
	for (p++; p < end - 1; p++) {
		if (*p == '\\') {
			p++;
			putchar(*p == 'n' ? '\n' : *p == 't' ? '\t' : *p);
		} else {
			putchar(*p);
		}
	}
	putchar('\n');
}

int main(int argc, char **argv)
{
	size_t len = 0, cap = 1 << 16;
	char *doc = malloc(cap), *path, *seg;
	const char *v;
	int want_len = 0, rc;
	size_t n;

	if (argc != 2) {
		fprintf(stderr,
			"usage: jsonpath PATH < JSON   (e.g. vips[name=web].backends[0].weight)\n");
		return 2;
	}
	while (doc && (n = fread(doc + len, 1, cap - len - 1, stdin)) > 0) {
		len += n;
		if (len + 1 == cap) {
			char *bigger = realloc(doc, cap *= 2);

			if (!bigger)
				free(doc);
			doc = bigger;
		}
	}
	if (!doc)
		return 2;
	doc[len] = '\0';
	v = skip_ws(doc);
	if (!skip_value(v)) {
		fprintf(stderr, "jsonpath: input is not JSON\n");
		free(doc);
		return 2;
	}
	path = strdup(argv[1]);
	n = strlen(path);
	if (n && path[n - 1] == '#') {
		want_len = 1;
		path[n - 1] = '\0';
	}
	for (seg = path; *seg && v;) {
		if (*seg == '.') {
			seg++;
		} else if (*seg == '[') {
			char *close = strchr(seg, ']'), *eq;

			if (!close) {
				fprintf(stderr, "jsonpath: '[' without ']' in the path\n");
				free(path);
				free(doc);
				return 2;
			}
			*close = '\0';
			eq = strchr(seg + 1, '=');
			if (!eq) {
				v = element(v, strtol(seg + 1, NULL, 10));
			} else {
				const char *e;
				long i;

				for (i = 0; (e = element(v, i)); i++) {
					const char *m = member(e, seg + 1, (size_t)(eq - seg - 1));

					if (m && scalar_is(m, eq + 1, strlen(eq + 1)))
						break;
				}
				v = e;
			}
			seg = close + 1;
		} else {
			size_t klen = strcspn(seg, ".[");

			v = member(v, seg, klen);
			seg += klen;
		}
	}
	rc = 1;
	if (v && want_len) {
		long l = length(v);

		if (l >= 0) {
			printf("%ld\n", l);
			rc = 0;
		}
	} else if (v) {
		print_value(v);
		rc = 0;
	}
	free(path);
	free(doc);
	return rc;
}
