// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cfg.h"

int sl_cfg_keys(const json_t *obj, const char *const *known, size_t n, const char *path,
		char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	size_t i, pos;

	json_object_foreach((json_t *)obj, k, v) {
		for (i = 0; i < n; i++)
			if (!strcmp(k, known[i]))
				break;
		if (i < n)
			continue;
		pos = (size_t)snprintf(err, errlen, "%s: unknown key \"%s\"; known keys: ", path, k);
		for (i = 0; i < n && pos < errlen; i++)
			pos += (size_t)snprintf(err + pos, errlen - pos, "%s%s", i ? ", " : "",
						known[i]);
		return -EINVAL;
	}
	return 0;
}

int sl_cfg_u32(const json_t *obj, const char *name, uint32_t lo, uint32_t hi, uint32_t *out,
	       const char *path, char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, name);
	json_int_t x;

	if (!v)
		return 0;
	if (!json_is_integer(v)) {
		snprintf(err, errlen, "%s.%s: must be an integer in %u..%u", path, name, lo, hi);
		return -EINVAL;
	}
	x = json_integer_value(v);
	if (x < lo || x > hi) {
		snprintf(err, errlen, "%s.%s: %" JSON_INTEGER_FORMAT " is out of range; use %u..%u",
			 path, name, x, lo, hi);
		return -ERANGE;
	}
	*out = (uint32_t)x;
	return 0;
}
