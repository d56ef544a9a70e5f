/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Leveled logging to stderr: "sluiced: warn: ...". libbpf's own log goes one level down. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

enum sl_log_level { SL_LOG_ERROR, SL_LOG_WARN, SL_LOG_INFO, SL_LOG_DEBUG };

/* Set the program name and the most verbose level printed. Routes libbpf's log. */
void sl_log_init(const char *prog, enum sl_log_level max);
void sl_log(enum sl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) sl_log(SL_LOG_WARN, __VA_ARGS__)
#define pr_info(...) sl_log(SL_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)

#endif
