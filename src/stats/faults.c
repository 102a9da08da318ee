/* Faults over the control socket (`fault add|list|clear`) and in snapshots (docs/faults.md). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "stats/internal.h"
#include "util/util.h"

static char *add(struct stats *st, const char *text)
{
	struct fault_spec spec;
	char err[512];
	uint32_t id;
	if (fault_spec_parse(text, &spec, err, sizeof(err)) ||
	    nvme_target_add_fault(st->target, &spec, &id, err, sizeof(err)))
		return stats_printed("error: %s\n", err);
	char normal[FAULT_TEXT_MAX];
	fault_spec_format(&spec, normal, sizeof(normal));
	return stats_printed("ok fault %u: %s\n", id, normal);
}

static char *list(struct stats *st)
{
	size_t n;
	struct nvme_fault_status *faults = nvme_target_list_faults(st->target, &n);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (!out) {
		free(faults);
		return NULL;
	}
	fprintf(out, "%4s %-8s %10s %10s  %s\n", "ID", "STATE", "MATCHED", "INJECTED", "FAULT");
	for (size_t i = 0; i < n; i++) {
		char spec[FAULT_TEXT_MAX];
		fault_spec_format(&faults[i].spec, spec, sizeof(spec));
		fprintf(out, "%4u %-8s %10" PRIu64 " %10" PRIu64 "  %s", faults[i].id, faults[i].state,
			faults[i].matched, faults[i].injected, spec);
		if (faults[i].has_temp)
			fprintf(out, "  (%.1f C)", faults[i].temp_c);
		fputc('\n', out);
	}
	free(faults);
	if (fclose(out)) {
		free(text);
		return NULL;
	}
	return text;
}

static char *clear(struct stats *st, const char *arg)
{
	uint64_t id = 0;
	char err[160];
	while (*arg == ' ' || *arg == '\t')
		arg++;
	if (*arg && parse_u64(arg, 1, UINT32_MAX, &id, err, sizeof(err)))
		return stats_printed("error: fault clear ID: %s\n", err);
	int n = nvme_target_clear_faults(st->target, (uint32_t)id, err, sizeof(err));
	if (n < 0)
		return stats_printed("error: %s\n", err);
	return stats_printed("ok cleared %d fault%s\n", n, n == 1 ? "" : "s");
}

char *stats_fault_command(struct stats *st, char *args)
{
	if (!st->target)
		return stats_printed("error: no target to set faults on\n");
	if (strncmp(args, "add ", 4) == 0)
		return add(st, args + 4);
	if (strcmp(args, "list") == 0)
		return list(st);
	if (strcmp(args, "clear") == 0 || strncmp(args, "clear ", 6) == 0)
		return clear(st, args + 5);
	return stats_printed("error: fault add TYPE [KEY=VALUE...] | fault list | fault clear [ID]\n");
}

int stats_snapshot_faults(struct stats *st, struct stats_snapshot *snap)
{
	if (!st->target)
		return 0;
	snap->faults = nvme_target_list_faults(st->target, &snap->nfaults);
	/* One health per subsystem, in the order their namespaces were added. */
	snap->health = calloc(st->nns ? st->nns : 1, sizeof(*snap->health));
	if (!snap->health)
		return -1;
	for (unsigned i = 0; i < st->nns; i++) {
		bool seen = false;
		for (unsigned k = 0; k < snap->nhealth && !seen; k++)
			seen = snap->health[k].subsys_nqn == st->ns[i]->subsys_nqn;
		if (seen)
			continue;
		struct stats_health_snapshot *h = &snap->health[snap->nhealth++];
		h->subsys_nqn = st->ns[i]->subsys_nqn;
		nvme_subsys_health(st->ns[i]->subsys, 0, &h->health);
	}
	return 0;
}
