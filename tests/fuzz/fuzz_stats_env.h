/* The controller harness with a statistics server over its namespaces, as the fuzz targets of
 * the control socket, the HTTP endpoint and the fault commands use it. */
#ifndef NVEMU_FUZZ_STATS_ENV_H
#define NVEMU_FUZZ_STATS_ENV_H

#include "stats/internal.h"
#include "target_harness.h"

/* Creates the harness (any host allowed) and a statistics server without a control socket,
 * with namespaces 1..nns of the harness added; aborts on failure; logs errors only. */
struct stats *fuzz_stats_env(struct th_env **env, uint32_t nns);

#endif
