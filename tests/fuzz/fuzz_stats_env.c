#include <stdlib.h>

#include "fuzz_stats_env.h"
#include "util/log.h"

struct stats *fuzz_stats_env(struct th_env **env, uint32_t nns)
{
	struct th_env_params params = {.allow_any_host = true};
	*env = th_env_create(&params);
	struct stats_params sp = {.control_path = "none"};
	struct stats *stats = stats_create(&sp);
	if (!*env || !stats)
		abort();
	struct ns *ns[] = {(*env)->ns1, (*env)->ns2};
	char err[256];
	for (uint32_t i = 0; i < nns; i++)
		if (stats_add_ns(stats, (*env)->subsys, i + 1, ns[i], err, sizeof(err)))
			abort();
	log_threshold = LOG_ERROR;
	return stats;
}
