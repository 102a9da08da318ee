/* The namespaces being watched, their recorders, and snapshots of what they hold. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ns/zoned.h"
#include "runtime/reactor.h"
#include "stats/internal.h"
#include "util/util.h"

const char *const stats_zone_state_names[STATS_ZONE_STATES] = {
    [STATS_ZONE_EMPTY] = "empty",	  [STATS_ZONE_IMP_OPEN] = "implicitly_open",
    [STATS_ZONE_EXP_OPEN] = "explicitly_open", [STATS_ZONE_CLOSED] = "closed",
    [STATS_ZONE_FULL] = "full",		  [STATS_ZONE_READ_ONLY] = "read_only",
    [STATS_ZONE_OFFLINE] = "offline",
};

/* The Zone Management Receive filter that selects each state. */
static const uint8_t zone_state_filters[STATS_ZONE_STATES] = {
    [STATS_ZONE_EMPTY] = NVME_ZRASF_EMPTY,	 [STATS_ZONE_IMP_OPEN] = NVME_ZRASF_IMP_OPEN,
    [STATS_ZONE_EXP_OPEN] = NVME_ZRASF_EXP_OPEN, [STATS_ZONE_CLOSED] = NVME_ZRASF_CLOSED,
    [STATS_ZONE_FULL] = NVME_ZRASF_FULL,	 [STATS_ZONE_READ_ONLY] = NVME_ZRASF_READ_ONLY,
    [STATS_ZONE_OFFLINE] = NVME_ZRASF_OFFLINE,
};

struct stats *stats_create(const struct stats_params *params)
{
	struct stats *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->params = *params;
	if (!st->params.record_interval_ms)
		st->params.record_interval_ms = 1000;
	st->start_ns = clock_now_ns();
	st->wake_fd = st->control_fd = st->http_fd = -1;
	return st;
}

int stats_add_ns(struct stats *st, struct nvme_subsys *subsys, uint32_t nsid, struct ns *ns,
		 char *err, size_t errlen)
{
	if (st->nns == st->ns_cap) {
		unsigned cap = st->ns_cap ? st->ns_cap * 2 : 8;
		struct stats_ns **grown = realloc(st->ns, cap * sizeof(*grown));
		if (!grown)
			goto oom;
		st->ns = grown;
		st->ns_cap = cap;
	}
	struct nvme_ns_recorder *recorder = nvme_subsys_ns_recorder(subsys, nsid);
	if (!recorder)
		return errorf(err, errlen, "statistics: no namespace %u in %s", nsid,
			      nvme_subsys_nqn(subsys));
	struct stats_ns *sns = calloc(1, sizeof(*sns));
	if (!sns)
		goto oom;
	sns->owner = st;
	sns->subsys = subsys;
	sns->subsys_nqn = nvme_subsys_nqn(subsys);
	sns->nsid = nsid;
	sns->ns = ns;
	sns->recorder = recorder;
	st->ns[st->nns++] = sns;
	return 0;
oom:
	return errorf(err, errlen, "statistics: out of memory");
}

void stats_destroy(struct stats *st)
{
	if (!st)
		return;
	if (st->started) {
		uint64_t one = 1;
		if (write(st->wake_fd, &one, sizeof(one)) < 0)
			abort(); /* an eventfd write cannot fail short of a bug */
		pthread_join(st->thread, NULL);
	}
	if (st->wake_fd >= 0)
		close(st->wake_fd);
	for (unsigned i = 0; i < st->nns; i++) {
		struct stats_ns *sns = st->ns[i];
		stats_trace_destroy(sns->trace);
		free(sns);
	}
	free(st->ns);
	free(st);
}

const char *stats_control_path(const struct stats *st) { return st->control_path; }

void stats_set_target(struct stats *st, struct nvme_target *target) { st->target = target; }

struct stats_ns *stats_find_ns(struct stats *st, uint32_t nsid, const char *nqn)
{
	for (unsigned i = 0; i < st->nns; i++)
		if (st->ns[i]->nsid == nsid && (!nqn || strcmp(nqn, st->ns[i]->subsys_nqn) == 0))
			return st->ns[i];
	return NULL;
}

static bool read_model(struct ns *ns, struct ns_model_counters *out)
{
	memset(out, 0, sizeof(*out));
	return ns->ops->model_counters && ns->ops->model_counters(ns, out);
}

/* One header-only report per state: without Partial, its count is every matching zone. */
static bool read_zones(struct ns *ns, uint64_t counts[STATS_ZONE_STATES])
{
	if (!ns->ops->zone)
		return false;
	struct nvme_zone_report_hdr hdr;
	for (unsigned s = 0; s < STATS_ZONE_STATES; s++) {
		struct zone_report rep = {.filter = zone_state_filters[s], .buf = &hdr, .len = sizeof(hdr)};
		if (ns->ops->zone->report(ns, &rep))
			return false;
		counts[s] = hdr.nr_zones;
	}
	return true;
}

/* The FDP counters of every handle and group; false when FDP is off (or out of memory). */
static bool read_fdp(struct ns *ns, struct stats_ns_snapshot *out)
{
	if (!ns->fdp || !ns->fdp->config.enabled)
		return false;
	out->fdp_nruh = ns->fdp->config.nruh;
	out->fdp_nrg = ns->fdp->config.nrg;
	out->fdp_ru_bytes = ns->fdp->ru_bytes;
	out->fdp_handles = calloc(out->fdp_nruh + out->fdp_nrg, sizeof(*out->fdp_handles));
	if (!out->fdp_handles)
		return false;
	out->fdp_groups = out->fdp_handles + out->fdp_nruh;
	for (uint32_t h = 0; h < out->fdp_nruh; h++)
		ns->ops->fdp->handle_counters(ns, h, &out->fdp_handles[h]);
	for (uint32_t g = 0; g < out->fdp_nrg; g++)
		ns->ops->fdp->group_counters(ns, g, &out->fdp_groups[g]);
	return true;
}

static void take_ns(struct stats_ns *sns, struct stats_ns_snapshot *out)
{
	struct ns *ns = sns->ns;
	out->subsys_nqn = sns->subsys_nqn;
	out->nsid = sns->nsid;
	out->kind = ns->ops->kind;
	out->lba_size = 1u << ns->lba_shift;
	out->capacity_bytes = ns->nlbas << ns->lba_shift;
	struct nvme_io_totals totals;
	nvme_ns_recorder_totals(sns->recorder, &totals);
	out->read_ios = totals.read_cmds;
	out->write_ios = totals.write_cmds;
	out->read_bytes = totals.read_bytes;
	out->write_bytes = totals.write_bytes;
	out->outstanding =
	    totals.received > totals.answered ? totals.received - totals.answered : 0;
	hist_init(&out->latency);
	for (unsigned p = 0; p < LAT_PARTS; p++)
		hist_init(&out->parts[p]);
	out->parts_cmds = 0;
	for (unsigned i = 0; i < sns->recorder->nshards; i++) {
		const struct nvme_io_shard *shard = &sns->recorder->shards[i];
		hist_merge_shard(&out->latency, &shard->latency);
		/* The command count before the parts (a reactor adds them in the other order): a
		 * command counted here has its parts in what is read next. */
		out->parts_cmds += atomic_load_explicit(&shard->parts_cmds, memory_order_relaxed);
		for (unsigned p = 0; p < LAT_PARTS; p++)
			hist_merge_shard(&out->parts[p], &shard->parts[p]);
	}
	/* A command records only its nonzero parts: the rest of the count is zeros (none when a
	 * command's parts arrived after the count was read). */
	for (unsigned p = 0; p < LAT_PARTS; p++) {
		struct hist *h = &out->parts[p];
		if (h->count >= out->parts_cmds)
			continue;
		h->buckets[0] += out->parts_cmds - h->count;
		h->count = out->parts_cmds;
		h->min = 0;
	}
	out->power_cuts = atomic_load_explicit(&ns->power_cuts, memory_order_relaxed);
	out->lbas_lost = atomic_load_explicit(&ns->lbas_lost, memory_order_relaxed);
	out->has_model = read_model(ns, &out->model);
	out->has_zones = read_zones(ns, out->zones);
	out->has_fdp = read_fdp(ns, out);
	out->attached = nvme_subsys_ns_attached(sns->subsys, sns->nsid);
	struct nvme_health health;
	nvme_subsys_health(sns->subsys, sns->nsid, &health);
	out->media_errors = health.media_errors;
	out->tracing = stats_trace_active(sns, &out->trace_path, &out->trace_events, &out->trace_dropped);
	if (sns->nsamples == 2) {
		const struct stats_rate_sample *a = &sns->samples[0], *b = &sns->samples[1];
		double dt = (double)(b->t_ns - a->t_ns) / 1e9;
		out->has_rates = true;
		out->read_iops = (double)(b->read_ios - a->read_ios) / dt;
		out->write_iops = (double)(b->write_ios - a->write_ios) / dt;
		out->read_bytes_per_s = (double)(b->read_bytes - a->read_bytes) / dt;
		out->write_bytes_per_s = (double)(b->write_bytes - a->write_bytes) / dt;
		out->gc_runs_per_s = (double)(b->gc_runs - a->gc_runs) / dt;
	}
}

int stats_snapshot_take(struct stats *st, struct stats_snapshot *snap)
{
	memset(snap, 0, sizeof(*snap));
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	snap->unix_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
	snap->uptime_s = (double)(clock_now_ns() - st->start_ns) / 1e9;
	snap->nns = st->nns;
	snap->ns = calloc(st->nns ? st->nns : 1, sizeof(*snap->ns));
	if (!snap->ns)
		return -1;
	for (unsigned i = 0; i < st->nns; i++)
		take_ns(st->ns[i], &snap->ns[i]);
	return stats_snapshot_faults(st, snap);
}

void stats_snapshot_free(struct stats_snapshot *snap)
{
	for (unsigned i = 0; snap->ns && i < snap->nns; i++)
		free(snap->ns[i].fdp_handles);
	free(snap->ns);
	free(snap->health);
	free(snap->faults);
	snap->ns = NULL;
	snap->health = NULL;
	snap->faults = NULL;
}

void stats_sample_rates(struct stats *st, uint64_t now_ns)
{
	for (unsigned i = 0; i < st->nns; i++) {
		struct stats_ns *sns = st->ns[i];
		struct ns *ns = sns->ns;
		struct ns_model_counters model;
		read_model(ns, &model);
		struct nvme_io_totals totals;
		nvme_ns_recorder_totals(sns->recorder, &totals);
		struct stats_rate_sample s = {
		    .t_ns = now_ns,
		    .read_ios = totals.read_cmds,
		    .write_ios = totals.write_cmds,
		    .read_bytes = totals.read_bytes,
		    .write_bytes = totals.write_bytes,
		    .gc_runs = model.gc_runs,
		};
		sns->samples[0] = sns->samples[1];
		sns->samples[1] = s;
		if (sns->nsamples < 2)
			sns->nsamples++;
	}
}
