/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SLUICE_VERSION_H
#define SLUICE_VERSION_H
/* sluice's release; bumped with each tagged release (sluice_build_info, /stats). */
#define SL_VERSION "0.7.0"
#endif
