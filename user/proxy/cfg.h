/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Small JSON configuration readers shared by the gateway's modules. Errors name
 * the field by its path ("vips[0].l7.routes[1].limit.rate") and the fix. */
#ifndef SLUICE_PROXY_CFG_H
#define SLUICE_PROXY_CFG_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Refuse keys of @obj not in @known[@n], listing the known ones. 0 or -EINVAL. */
int sl_cfg_keys(const json_t *obj, const char *const *known, size_t n, const char *path,
		char *err, size_t errlen);

/* An optional integer member in @lo..@hi; *@out keeps its default when absent.
 * 0, -EINVAL (not an integer) or -ERANGE. */
int sl_cfg_u32(const json_t *obj, const char *name, uint32_t lo, uint32_t hi, uint32_t *out,
	       const char *path, char *err, size_t errlen);

#endif
