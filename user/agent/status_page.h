/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SLUICED_STATUS_PAGE_H
#define SLUICED_STATUS_PAGE_H

#include <stddef.h>

/* The status page served at / (HTML, NUL-terminated; @len without the NUL). */
const char *sl_status_page(size_t *len);

#endif
