/* Snapshots as JSON (the control socket, records) and as Prometheus text (/metrics). */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "stats/internal.h"
#include "util/util.h"

const char *stats_model_na_reason(const struct stats_ns_snapshot *ns)
{
	if (!ns->has_model)
		return "no flash model behind this namespace kind";
	if (!ns->model.host_pages_written)
		return "no host page written yet";
	return NULL;
}

const char *stats_zones_na_reason(const struct stats_ns_snapshot *ns)
{
	return ns->has_zones ? NULL : "not a zoned namespace";
}

const char *stats_breakdown_na_reason(const struct stats_ns_snapshot *ns)
{
	if (!ns->has_model)
		return "no flash model behind this namespace kind";
	if (!ns->parts_cmds)
		return "no command with a latency breakdown yet";
	return NULL;
}

const char *stats_fdp_na_reason(const struct stats_ns_snapshot *ns)
{
	if (ns->has_fdp)
		return NULL;
	return ns->has_model ? "FDP is off (model key fdp)"
			     : "no flash model behind this namespace kind";
}

const char *stats_write_buffer_na_reason(const struct stats_ns_snapshot *ns)
{
	return ns->has_model ? "the flash model does not report its write-buffer fill"
			     : "no flash model behind this namespace kind";
}

/* ---- JSON ---- */

static json_object *u64(uint64_t v) { return json_object_new_uint64(v); }

static void put(json_object *obj, const char *key, json_object *value)
{
	json_object_object_add(obj, key, value);
}

/* A field that does not apply: null, and the reason under "not_applicable". */
static void put_na(json_object *obj, json_object *na, const char *key, const char *reason)
{
	put(obj, key, NULL);
	put(na, key, json_object_new_string(reason));
}

static json_object *latency_json(const struct hist *h)
{
	json_object *lat = json_object_new_object();
	put(lat, "unit", json_object_new_string("ns"));
	put(lat, "count", u64(h->count));
	put(lat, "sum", u64(h->sum));
	put(lat, "min", u64(h->count ? h->min : 0));
	put(lat, "max", u64(h->max));
	put(lat, "mean", json_object_new_double(hist_mean(h)));
	static const struct { const char *name; double q; } quantiles[] = {
	    {"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p999", 0.999}};
	for (size_t i = 0; i < ARRAY_SIZE(quantiles); i++)
		put(lat, quantiles[i].name, u64(hist_quantile(h, quantiles[i].q)));
	/* Non-empty buckets as [lowest value, samples]; hist_index(low) gives the bucket back. */
	json_object *buckets = json_object_new_array();
	for (unsigned i = 0; i < HIST_BUCKETS && h->count; i++) {
		if (!h->buckets[i])
			continue;
		json_object *pair = json_object_new_array();
		json_object_array_add(pair, u64(hist_bucket_low(i)));
		json_object_array_add(pair, u64(h->buckets[i]));
		json_object_array_add(buckets, pair);
	}
	put(lat, "buckets", buckets);
	return lat;
}

static void rates_json(json_object *o, json_object *na, const struct stats_ns_snapshot *ns)
{
	static const char *const names[] = {"read_iops", "write_iops", "read_bytes_per_s",
					    "write_bytes_per_s"};
	const double values[] = {ns->read_iops, ns->write_iops, ns->read_bytes_per_s,
				 ns->write_bytes_per_s};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (ns->has_rates)
			put(o, names[i], json_object_new_double(values[i]));
		else
			put_na(o, na, names[i], "the daemon has not sampled for a whole second yet");
	}
}

static void model_json(json_object *o, json_object *na, const struct stats_ns_snapshot *ns)
{
	const char *reason = stats_model_na_reason(ns);
	if (!ns->has_model) {
		static const char *const fields[] = {"host_pages_written", "nand_pages_written", "waf",
						     "gc_runs", "gc_runs_per_s", "erase_count"};
		for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
			put_na(o, na, fields[i], reason);
		return;
	}
	put(o, "host_pages_written", u64(ns->model.host_pages_written));
	put(o, "nand_pages_written", u64(ns->model.nand_pages_written));
	if (reason)
		put_na(o, na, "waf", reason);
	else
		put(o, "waf", json_object_new_double((double)ns->model.nand_pages_written /
						     (double)ns->model.host_pages_written));
	put(o, "gc_runs", u64(ns->model.gc_runs));
	if (ns->has_rates)
		put(o, "gc_runs_per_s", json_object_new_double(ns->gc_runs_per_s));
	else
		put_na(o, na, "gc_runs_per_s", "the daemon has not sampled for a whole second yet");
	json_object *erase = json_object_new_object();
	put(erase, "min", u64(ns->model.erase_min));
	put(erase, "max", u64(ns->model.erase_max));
	put(erase, "mean", json_object_new_double(ns->model.erase_mean));
	put(o, "erase_count", erase);
	if (!ns->model.wear)
		return; /* blocks that never wear out: SMART's fixed 100 % spare says it */
	json_object *wear = json_object_new_object();
	put(wear, "retired_blocks", u64(ns->model.retired_blocks));
	put(wear, "available_spare_pcent", u64(ns->model.avail_spare_pcent));
	put(wear, "spare_threshold_pcent", u64(ns->model.spare_threshold_pcent));
	put(wear, "percent_used", json_object_new_double(ns->model.percent_used));
	put(wear, "read_only", json_object_new_boolean(ns->model.read_only));
	put(o, "wear", wear);
}

static json_object *fdp_counters_json(const char *id, uint32_t i, const struct ssd_fdp_counters *c)
{
	json_object *o = json_object_new_object();
	put(o, id, u64(i));
	put(o, "host_pages_written", u64(c->host_pages));
	put(o, "nand_pages_written", u64(c->nand_pages));
	put(o, "gc_pages_moved", u64(c->gc_pages));
	put(o, "waf",
	    c->host_pages ? json_object_new_double((double)c->nand_pages / (double)c->host_pages)
			  : NULL);
	put(o, "reclaim_units_opened", u64(c->rus_opened));
	put(o, "reclaim_units_erased", u64(c->rus_erased));
	put(o, "valid_pages", u64(c->valid_pages));
	return o;
}

/* Per reclaim unit handle (data its writes placed, wherever GC moved it) and per group. */
static json_object *fdp_json(const struct stats_ns_snapshot *ns)
{
	json_object *fdp = json_object_new_object();
	put(fdp, "reclaim_unit_bytes", u64(ns->fdp_ru_bytes));
	json_object *handles = json_object_new_array(), *groups = json_object_new_array();
	for (uint32_t h = 0; h < ns->fdp_nruh; h++)
		json_object_array_add(handles, fdp_counters_json("ruh", h, &ns->fdp_handles[h]));
	for (uint32_t g = 0; g < ns->fdp_nrg; g++)
		json_object_array_add(groups, fdp_counters_json("rg", g, &ns->fdp_groups[g]));
	put(fdp, "handles", handles);
	put(fdp, "groups", groups);
	return fdp;
}

static json_object *ns_json(const struct stats_ns_snapshot *ns)
{
	json_object *o = json_object_new_object();
	json_object *na = json_object_new_object();
	put(o, "subsys", json_object_new_string(ns->subsys_nqn));
	put(o, "nsid", u64(ns->nsid));
	put(o, "kind", json_object_new_string(ns->kind));
	put(o, "lba_size", u64(ns->lba_size));
	put(o, "capacity_bytes", u64(ns->capacity_bytes));
	put(o, "read_ios", u64(ns->read_ios));
	put(o, "write_ios", u64(ns->write_ios));
	put(o, "read_bytes", u64(ns->read_bytes));
	put(o, "write_bytes", u64(ns->write_bytes));
	put(o, "outstanding", u64(ns->outstanding));
	put(o, "power_cuts", u64(ns->power_cuts));
	put(o, "lbas_lost", u64(ns->lbas_lost));
	put(o, "attached", json_object_new_boolean(ns->attached));
	put(o, "media_errors", u64(ns->media_errors));
	rates_json(o, na, ns);
	model_json(o, na, ns);
	put_na(o, na, "write_buffer_fill", stats_write_buffer_na_reason(ns));
	if (ns->has_zones) {
		json_object *zones = json_object_new_object();
		for (unsigned s = 0; s < STATS_ZONE_STATES; s++)
			put(zones, stats_zone_state_names[s], u64(ns->zones[s]));
		put(o, "zones", zones);
	} else {
		put_na(o, na, "zones", stats_zones_na_reason(ns));
	}
	if (ns->has_fdp)
		put(o, "fdp", fdp_json(ns));
	else
		put_na(o, na, "fdp", stats_fdp_na_reason(ns));
	put(o, "latency", latency_json(&ns->latency));
	const char *no_breakdown = stats_breakdown_na_reason(ns);
	if (no_breakdown) {
		put_na(o, na, "breakdown", no_breakdown);
	} else {
		/* Per part, like "latency": its distribution over the commands with a breakdown. */
		json_object *breakdown = json_object_new_object();
		put(breakdown, "commands", u64(ns->parts_cmds));
		for (unsigned p = 0; p < LAT_PARTS; p++)
			put(breakdown, lat_part_names[p], latency_json(&ns->parts[p]));
		put(o, "breakdown", breakdown);
	}
	json_object *trace = json_object_new_object();
	put(trace, "active", json_object_new_boolean(ns->tracing));
	put(trace, "path", ns->trace_path ? json_object_new_string(ns->trace_path) : NULL);
	put(trace, "events", u64(ns->trace_events));
	put(trace, "dropped", u64(ns->trace_dropped));
	put(o, "trace", trace);
	put(o, "not_applicable", na);
	return o;
}

static json_object *health_json(const struct stats_health_snapshot *h)
{
	json_object *o = json_object_new_object();
	put(o, "subsys", json_object_new_string(h->subsys_nqn));
	put(o, "critical_warning", u64(h->health.critical_warning));
	put(o, "temperature_c", json_object_new_int(h->health.temperature_k - 273));
	put(o, "throttled", json_object_new_boolean(h->health.throttled));
	put(o, "available_spare", u64(h->health.avail_spare));
	put(o, "available_spare_threshold", u64(h->health.spare_thresh));
	put(o, "media_errors", u64(h->health.media_errors));
	return o;
}

static json_object *fault_json(const struct nvme_fault_status *f)
{
	json_object *o = json_object_new_object();
	char text[FAULT_TEXT_MAX];
	fault_spec_format(&f->spec, text, sizeof(text));
	put(o, "id", u64(f->id));
	put(o, "name", f->spec.name[0] ? json_object_new_string(f->spec.name) : NULL);
	put(o, "type", json_object_new_string(fault_type_name(f->spec.type)));
	put(o, "spec", json_object_new_string(text));
	put(o, "state", json_object_new_string(f->state));
	put(o, "matched", u64(f->matched));
	put(o, "injected", u64(f->injected));
	if (f->has_temp)
		put(o, "temperature_c", json_object_new_double(f->temp_c));
	return o;
}

char *stats_render_json(const struct stats_snapshot *snap, bool pretty)
{
	json_object *root = json_object_new_object();
	put(root, "version", u64(1));
	put(root, "unix_ms", u64(snap->unix_ms));
	put(root, "uptime_s", json_object_new_double(snap->uptime_s));
	json_object *list = json_object_new_array();
	for (unsigned i = 0; i < snap->nns; i++)
		json_object_array_add(list, ns_json(&snap->ns[i]));
	put(root, "namespaces", list);
	json_object *health = json_object_new_array();
	for (unsigned i = 0; i < snap->nhealth; i++)
		json_object_array_add(health, health_json(&snap->health[i]));
	put(root, "health", health);
	json_object *faults = json_object_new_array();
	for (size_t i = 0; i < snap->nfaults; i++)
		json_object_array_add(faults, fault_json(&snap->faults[i]));
	put(root, "faults", faults);
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
		    (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN);
	char *text = strdup(json_object_to_json_string_ext(root, flags));
	json_object_put(root);
	return text;
}

/* ---- Prometheus text format 0.0.4 ---- */

/* Upper bounds of the exported latency buckets, in ns: 1-2-5 steps from 1 us to 5 s. */
static const uint64_t latency_bounds_ns[] = {
    1000,      2000,      5000,	     10000,	 20000,	     50000,	 100000,
    200000,    500000,    1000000,    2000000,	 5000000,    10000000,	 20000000,
    50000000,  100000000, 200000000,  500000000, 1000000000, 2000000000, 5000000000,
};

static void label_value(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

/* The namespace's labels, and up to two more (a NULL value leaves one out). */
static void labels2(FILE *out, const struct stats_ns_snapshot *ns, const char *name1,
		    const char *value1, const char *name2, const char *value2)
{
	fputs("{subsys=\"", out);
	label_value(out, ns->subsys_nqn);
	fprintf(out, "\",nsid=\"%u\",kind=\"%s\"", ns->nsid, ns->kind);
	if (name1 && value1)
		fprintf(out, ",%s=\"%s\"", name1, value1);
	if (name2 && value2)
		fprintf(out, ",%s=\"%s\"", name2, value2);
	fputc('}', out);
}

static void labels(FILE *out, const struct stats_ns_snapshot *ns, const char *extra_name,
		   const char *extra_value)
{
	labels2(out, ns, extra_name, extra_value, NULL, NULL);
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

enum ns_value {
	READ_IOS,
	WRITE_IOS,
	READ_BYTES,
	WRITE_BYTES,
	OUTSTANDING,
	ATTACHED,
	MEDIA_ERRORS,
	TRACE_EVENTS,
	TRACE_DROPPED,
	POWER_CUTS,
	LBAS_LOST
};

static uint64_t ns_value(const struct stats_ns_snapshot *ns, enum ns_value v)
{
	switch (v) {
	case READ_IOS: return ns->read_ios;
	case WRITE_IOS: return ns->write_ios;
	case READ_BYTES: return ns->read_bytes;
	case WRITE_BYTES: return ns->write_bytes;
	case OUTSTANDING: return ns->outstanding;
	case ATTACHED: return ns->attached;
	case MEDIA_ERRORS: return ns->media_errors;
	case TRACE_EVENTS: return ns->trace_events;
	case TRACE_DROPPED: return ns->trace_dropped;
	case POWER_CUTS: return ns->power_cuts;
	case LBAS_LOST: return ns->lbas_lost;
	}
	return 0;
}

static void host_families(FILE *out, const struct stats_snapshot *snap)
{
	static const struct {
		const char *name, *type, *help;
		enum ns_value value;
	} families[] = {
	    {"nvemu_read_commands_total", "counter", "Read, Compare and Verify commands completed.", READ_IOS},
	    {"nvemu_write_commands_total", "counter", "Write and Write Zeroes commands completed.", WRITE_IOS},
	    {"nvemu_read_bytes_total", "counter", "Bytes read by the host.", READ_BYTES},
	    {"nvemu_write_bytes_total", "counter", "Bytes written by the host.", WRITE_BYTES},
	    {"nvemu_outstanding_commands", "gauge", "I/O commands received and not yet answered.", OUTSTANDING},
	    {"nvemu_namespace_attached", "gauge", "1 while attached, 0 while a fault detached it.", ATTACHED},
	    {"nvemu_media_errors_total", "counter", "Unrecovered read and write errors (SMART).", MEDIA_ERRORS},
	    {"nvemu_trace_events_total", "counter", "Commands written to the current or last trace.", TRACE_EVENTS},
	    {"nvemu_trace_dropped_total", "counter", "Trace events dropped because a ring was full.", TRACE_DROPPED},
	    {"nvemu_power_cuts_total", "counter", "Power cuts the namespace went through (nvemu power-cut).", POWER_CUTS},
	    {"nvemu_lbas_lost_total", "counter", "LBAs power cuts took back (writes not yet on NAND).", LBAS_LOST},
	};
	for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
		family(out, families[f].name, families[f].type, families[f].help);
		for (unsigned i = 0; i < snap->nns; i++) {
			fputs(families[f].name, out);
			labels(out, &snap->ns[i], NULL, NULL);
			fprintf(out, " %llu\n", (unsigned long long)ns_value(&snap->ns[i], families[f].value));
		}
	}
}

static bool any(const struct stats_snapshot *snap, bool (*has)(const struct stats_ns_snapshot *))
{
	for (unsigned i = 0; i < snap->nns; i++)
		if (has(&snap->ns[i]))
			return true;
	return false;
}

static bool has_model(const struct stats_ns_snapshot *ns) { return ns->has_model; }
static bool has_waf(const struct stats_ns_snapshot *ns) { return !stats_model_na_reason(ns); }
static bool has_wear(const struct stats_ns_snapshot *ns) { return ns->has_model && ns->model.wear; }
static bool has_zones(const struct stats_ns_snapshot *ns) { return ns->has_zones; }

/* Kinds without a flash model have no sample at all: absence, not a fake zero. */
static void model_families(FILE *out, const struct stats_snapshot *snap)
{
	if (!any(snap, has_model))
		return;
	static const struct { const char *name, *help; } counters[] = {
	    {"nvemu_host_pages_written_total", "Flash pages the host wrote (model namespaces)."},
	    {"nvemu_nand_pages_written_total", "Flash pages programmed, host and GC (model namespaces)."},
	    {"nvemu_gc_runs_total", "Erase units garbage-collected (model namespaces)."},
	};
	for (size_t f = 0; f < 3; f++) {
		family(out, counters[f].name, "counter", counters[f].help);
		for (unsigned i = 0; i < snap->nns; i++) {
			const struct stats_ns_snapshot *ns = &snap->ns[i];
			if (!ns->has_model)
				continue;
			uint64_t v = f == 0 ? ns->model.host_pages_written
				   : f == 1 ? ns->model.nand_pages_written : ns->model.gc_runs;
			fputs(counters[f].name, out);
			labels(out, ns, NULL, NULL);
			fprintf(out, " %llu\n", (unsigned long long)v);
		}
	}
	if (any(snap, has_waf)) {
		family(out, "nvemu_write_amplification", "gauge",
		       "NAND pages programmed per host page written, since start.");
		for (unsigned i = 0; i < snap->nns; i++) {
			const struct stats_ns_snapshot *ns = &snap->ns[i];
			if (!has_waf(ns))
				continue;
			fputs("nvemu_write_amplification", out);
			labels(out, ns, NULL, NULL);
			fprintf(out, " %.6g\n", (double)ns->model.nand_pages_written /
						   (double)ns->model.host_pages_written);
		}
	}
	family(out, "nvemu_erase_count", "gauge", "Erases per erase unit: min, mean and max.");
	for (unsigned i = 0; i < snap->nns; i++) {
		const struct stats_ns_snapshot *ns = &snap->ns[i];
		if (!ns->has_model)
			continue;
		const char *stat[] = {"min", "mean", "max"};
		double v[] = {(double)ns->model.erase_min, ns->model.erase_mean, (double)ns->model.erase_max};
		for (int s = 0; s < 3; s++) {
			fputs("nvemu_erase_count", out);
			labels(out, ns, "stat", stat[s]);
			fprintf(out, " %.6g\n", v[s]);
		}
	}
	if (!any(snap, has_wear))
		return;
	static const struct { const char *name, *help; } wear[] = {
	    {"nvemu_available_spare_ratio", "Spare left of the spare at the start, as SMART's."},
	    {"nvemu_percentage_used_ratio", "Mean erases per endurance (may pass 1)."},
	    {"nvemu_retired_blocks", "Erase units retired as grown bad blocks."},
	    {"nvemu_read_only", "1 once the drive wore out and refuses writes."},
	};
	for (size_t f = 0; f < ARRAY_SIZE(wear); f++) {
		family(out, wear[f].name, "gauge", wear[f].help);
		for (unsigned i = 0; i < snap->nns; i++) {
			const struct stats_ns_snapshot *ns = &snap->ns[i];
			if (!has_wear(ns))
				continue;
			double v[] = {ns->model.avail_spare_pcent / 100.0, ns->model.percent_used / 100,
				      (double)ns->model.retired_blocks, ns->model.read_only};
			fputs(wear[f].name, out);
			labels(out, ns, NULL, NULL);
			fprintf(out, " %.6g\n", v[f]);
		}
	}
}

static bool has_fdp(const struct stats_ns_snapshot *ns) { return ns->has_fdp; }

/* FDP namespaces: a sample per reclaim unit handle (label ruh) and per group (label rg). */
static void fdp_families(FILE *out, const struct stats_snapshot *snap)
{
	if (!any(snap, has_fdp))
		return;
	static const struct {
		const char *name, *type, *help;
	} f[] = {
	    {"nvemu_fdp_host_pages_written_total", "counter",
	     "Flash pages the host wrote, by FDP handle or group."},
	    {"nvemu_fdp_nand_pages_written_total", "counter",
	     "Flash pages programmed (host + GC), by FDP handle or group."},
	    {"nvemu_fdp_gc_pages_moved_total", "counter",
	     "Pages GC moved, by FDP handle or group."},
	    {"nvemu_fdp_reclaim_units_opened_total", "counter",
	     "Reclaim units started, by FDP handle or group."},
	    {"nvemu_fdp_reclaim_units_erased_total", "counter",
	     "Reclaim units collected, by FDP handle or group."},
	    {"nvemu_fdp_valid_pages", "gauge", "Pages of data on flash, by FDP handle or group."},
	    {"nvemu_fdp_write_amplification", "gauge",
	     "NAND pages per host page, by FDP handle or group."},
	};
	for (size_t k = 0; k < ARRAY_SIZE(f); k++) {
		family(out, f[k].name, f[k].type, f[k].help);
		for (unsigned i = 0; i < snap->nns; i++) {
			const struct stats_ns_snapshot *ns = &snap->ns[i];
			for (uint32_t j = 0; ns->has_fdp && j < ns->fdp_nruh + ns->fdp_nrg; j++) {
				bool group = j >= ns->fdp_nruh;
				const struct ssd_fdp_counters *c =
				    &ns->fdp_handles[j]; /* groups follow */
				uint64_t v[] = {c->host_pages, c->nand_pages, c->gc_pages,
						c->rus_opened, c->rus_erased, c->valid_pages};
				if (k == 6 && !c->host_pages)
					continue; /* no WAF before a write: absent, not zero */
				char id[16];
				snprintf(id, sizeof(id), "%u", group ? j - ns->fdp_nruh : j);
				fputs(f[k].name, out);
				labels(out, ns, group ? "rg" : "ruh", id);
				if (k == 6)
					fprintf(out, " %.6g\n",
						(double)c->nand_pages / (double)c->host_pages);
				else
					fprintf(out, " %llu\n", (unsigned long long)v[k]);
			}
		}
	}
}

static void zone_family(FILE *out, const struct stats_snapshot *snap)
{
	if (!any(snap, has_zones))
		return;
	family(out, "nvemu_zones", "gauge", "Zones of a zoned namespace by state.");
	for (unsigned i = 0; i < snap->nns; i++) {
		const struct stats_ns_snapshot *ns = &snap->ns[i];
		for (unsigned s = 0; ns->has_zones && s < STATS_ZONE_STATES; s++) {
			fputs("nvemu_zones", out);
			labels(out, ns, "state", stats_zone_state_names[s]);
			fprintf(out, " %llu\n", (unsigned long long)ns->zones[s]);
		}
	}
}

/* The series of one histogram `name` of a namespace, with one more label if `part` is set.
 * A sample counts under `le` when its whole bucket lies at or below it. */
static void histogram_series(FILE *out, const char *name, const struct stats_ns_snapshot *ns,
			     const char *part, const struct hist *h)
{
	char metric[96];
	uint64_t cumulative = 0;
	unsigned b = 0;
	snprintf(metric, sizeof(metric), "%s_bucket", name);
	for (size_t k = 0; k <= ARRAY_SIZE(latency_bounds_ns); k++) {
		char le[32] = "+Inf";
		if (k < ARRAY_SIZE(latency_bounds_ns)) {
			for (; b < HIST_BUCKETS &&
			       hist_bucket_low(b) + (hist_bucket_width(b) - 1) <= latency_bounds_ns[k]; b++)
				cumulative += h->buckets[b];
			snprintf(le, sizeof(le), "%g", (double)latency_bounds_ns[k] / 1e9);
		} else {
			cumulative = h->count;
		}
		fputs(metric, out);
		labels2(out, ns, "part", part, "le", le);
		fprintf(out, " %llu\n", (unsigned long long)cumulative);
	}
	snprintf(metric, sizeof(metric), "%s_sum", name);
	fputs(metric, out);
	labels2(out, ns, "part", part, NULL, NULL);
	fprintf(out, " %.9f\n", (double)h->sum / 1e9);
	snprintf(metric, sizeof(metric), "%s_count", name);
	fputs(metric, out);
	labels2(out, ns, "part", part, NULL, NULL);
	fprintf(out, " %llu\n", (unsigned long long)h->count);
}

static void latency_family(FILE *out, const struct stats_snapshot *snap)
{
	family(out, "nvemu_command_latency_seconds", "histogram",
	       "I/O command latency inside the target, from receipt to the response being queued.");
	for (unsigned i = 0; i < snap->nns; i++)
		histogram_series(out, "nvemu_command_latency_seconds", &snap->ns[i], NULL,
				 &snap->ns[i].latency);
}

static bool has_breakdown(const struct stats_ns_snapshot *ns)
{
	return !stats_breakdown_na_reason(ns);
}

/* One histogram per part of the breakdown, told apart by a `part` label. */
static void breakdown_family(FILE *out, const struct stats_snapshot *snap)
{
	if (!any(snap, has_breakdown))
		return;
	family(out, "nvemu_latency_part_seconds", "histogram",
	       "The flash model's latency breakdown: time each command spent in each part (model "
	       "namespaces; the parts add up to the modelled latency).");
	for (unsigned i = 0; i < snap->nns; i++) {
		const struct stats_ns_snapshot *ns = &snap->ns[i];
		for (unsigned p = 0; has_breakdown(ns) && p < LAT_PARTS; p++)
			histogram_series(out, "nvemu_latency_part_seconds", ns, lat_part_names[p],
					 &ns->parts[p]);
	}
}

static void health_families(FILE *out, const struct stats_snapshot *snap)
{
	if (!snap->nhealth)
		return;
	static const struct { const char *name, *help; } families[] = {
	    {"nvemu_temperature_celsius", "Composite temperature SMART reports."},
	    {"nvemu_critical_warning", "SMART Critical Warning bits."},
	    {"nvemu_available_spare_percent", "SMART Available Spare."},
	    {"nvemu_throttled", "1 while a thermal fault throttles commands."},
	};
	for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
		family(out, families[f].name, "gauge", families[f].help);
		for (unsigned i = 0; i < snap->nhealth; i++) {
			const struct nvme_health *h = &snap->health[i].health;
			int v = f == 0 ? h->temperature_k - 273 : f == 1 ? h->critical_warning
				: f == 2 ? h->avail_spare : h->throttled;
			fprintf(out, "%s{subsys=\"", families[f].name);
			label_value(out, snap->health[i].subsys_nqn);
			fprintf(out, "\"} %d\n", v);
		}
	}
}

static void fault_families(FILE *out, const struct stats_snapshot *snap)
{
	if (!snap->nfaults)
		return;
	static const char *const names[] = {"nvemu_fault_matched_total", "nvemu_fault_injected_total"};
	static const char *const helps[] = {"Commands in a fault's scope while it was active.",
					    "Commands a fault acted on, or events it caused."};
	for (size_t k = 0; k < 2; k++) {
		family(out, names[k], "counter", helps[k]);
		for (size_t i = 0; i < snap->nfaults; i++) {
			const struct nvme_fault_status *f = &snap->faults[i];
			fprintf(out, "%s{id=\"%u\",type=\"%s\",name=\"", names[k], f->id,
				fault_type_name(f->spec.type));
			label_value(out, f->spec.name);
			fprintf(out, "\"} %llu\n", (unsigned long long)(k ? f->injected : f->matched));
		}
	}
}

char *stats_render_prometheus(const struct stats_snapshot *snap)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (!out)
		return NULL;
	family(out, "nvemu_uptime_seconds", "gauge", "Seconds since the daemon started.");
	fprintf(out, "nvemu_uptime_seconds %.3f\n", snap->uptime_s);
	host_families(out, snap);
	model_families(out, snap);
	fdp_families(out, snap);
	zone_family(out, snap);
	latency_family(out, snap);
	breakdown_family(out, snap);
	health_families(out, snap);
	fault_families(out, snap);
	if (fclose(out)) {
		free(text);
		return NULL;
	}
	return text;
}
