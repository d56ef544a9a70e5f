// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "log.h"

static const char *prog_name = "sluice";
static enum sl_log_level max_level = SL_LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

static void vlog(enum sl_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void vlog(enum sl_log_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	if (level > max_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = 0;
	fprintf(stderr, "%s: %s: %s\n", prog_name, level_names[level], msg);
}

void sl_log(enum sl_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

/* libbpf warnings are ours at info, its info at debug, its debug not at all. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	vlog(level == LIBBPF_WARN ? SL_LOG_INFO : SL_LOG_DEBUG, fmt, ap);
	return 0;
}

void sl_log_init(const char *prog, enum sl_log_level max)
{
	prog_name = prog;
	max_level = max;
	libbpf_set_print(libbpf_print);
}
