// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The status page (user/agent/status.html), built into sluiced as it is: one
 * self-contained file, no build step. The Makefile rebuilds this object when
 * the page changes.
 */
#include <stddef.h>

#include "status_page.h"

__asm__(".section .rodata\n"
	".balign 16\n"
	"sl_status_html_start:\n"
	".incbin \"user/agent/status.html\"\n"
	"sl_status_html_stop:\n"
	".byte 0\n"
	".previous\n");

extern const char sl_status_html_start[], sl_status_html_stop[];

const char *sl_status_page(size_t *len)
{
	*len = (size_t)(sl_status_html_stop - sl_status_html_start);
	return sl_status_html_start;
}
