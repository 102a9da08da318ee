/*
 * A namespace's drive directory: the identity file (what the drive is: kind, size, LBA size,
 * data location, every model and zone key, its id), the state file (whether a run is going on,
 * on which boot, and the counters that outlive runs), the tables the kinds map and the data.
 */
#include "ns/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "ftl/ftl.h"
#include "media/media.h"
#include "ns/zoned.h"
#include "util/util.h"

#define IDENTITY_FILE "identity"
/* 2: drives with FDP on, which need its tables (fdp-*); others are still written as 1, so an
 * nvemu that reads only version 1 refuses just the drives it cannot serve. */
#define IDENTITY_VERSION 2
#define IDENTITY_VERSION_FDP 2
#define STATE_FILE "state"
#define STATE_VERSION 1
#define DATA_FILE "data"
#define MAX_TABLES 16

/* Keys that fix what the tables and the data mean: a kept drive refuses to change them. */
static const char *const ssd_layout_keys[] = {
    "channels", "luns_per_channel", "planes_per_lun", "blocks_per_plane", "pages_per_block",
    "sector_size", "sectors_per_page", "op_pcent", "gc_separate", NULL};
/* FDP keys that fix what the FDP tables mean (refused unless FDP stays off). */
static const char *const fdp_layout_keys[] = {
    "fdp", "fdp_nruh", "fdp_nrg", "fdp_runs", "fdp_initially_isolated", NULL};
static const char *const zoned_layout_keys[] = {
    "zone_size", "zone_cap", "conv_zones", "zone_channels", "zone_ways", "zde_size",
    "zrwa_size", "zrwa_fg", NULL};

struct ns_store {
	struct drive *drive;
	bool private_tables; /* a copy-on-write view: nothing reaches the files */
	enum ns_store_state state;
	struct ns_params params;
	struct ssd_params ssd;
	struct zoned_params zoned;
	char data_path[4096];
	bool identity_dirty;
	struct drive_kv *identity, *counters;
	struct {
		struct drive_table *table;
		void *mem;
	} tables[MAX_TABLES];
	unsigned ntables;
	uint64_t opened_at; /* CLOCK_MONOTONIC seconds, for power-on time */
};

static uint64_t monotonic_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static int unhex(const char *text, uint8_t *out, size_t n)
{
	if (strlen(text) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(text + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* ---- The identity file ---- */

static void put_table(struct drive_kv *kv, const char *prefix, const struct config_table *t,
		      const void *obj)
{
	for (size_t i = 0; i < t->count; i++) {
		char key[96], value[160];
		snprintf(key, sizeof(key), "%s.%s", prefix, t->keys[i].name);
		config_format_value(&t->keys[i], obj, value, sizeof(value));
		drive_kv_set(kv, key, value);
	}
}

static int write_identity(struct ns_store *s, char *err, size_t errlen)
{
	const struct ns_params *p = &s->params;
	struct drive_kv *kv = s->identity;
	char id[2 * DRIVE_ID_BYTES + 1];
	hex(drive_id(s->drive), DRIVE_ID_BYTES, id);
	drive_kv_init(kv, "identity", s->ssd.fdp ? IDENTITY_VERSION_FDP : 1);
	drive_kv_set(kv, "id", id);
	drive_kv_set(kv, "kind", ns_kind_name(p->kind));
	drive_kv_setf(kv, "bytes", "%" PRIu64, p->bytes);
	drive_kv_setf(kv, "lba_size", "%u", p->lba_size);
	drive_kv_set(kv, "data", s->data_path);
	drive_kv_set(kv, "power_loss_protection", p->plp > 0 ? "on" : "off");
	if (p->kind == NS_KIND_SSD || p->kind == NS_KIND_ZONED)
		put_table(kv, "model", &ssd_config_table, &s->ssd);
	if (p->kind == NS_KIND_ZONED)
		put_table(kv, "zone", &zoned_config_table, &s->zoned);
	if (drive_kv_write(s->drive, IDENTITY_FILE, kv, err, errlen))
		return -1;
	s->identity_dirty = false;
	return 0;
}

static int get_table(const struct drive_kv *kv, const char *file, const char *prefix,
		     const struct config_table *t, void *obj, char *err, size_t errlen)
{
	size_t plen = strlen(prefix);
	for (unsigned i = 0; i < kv->count; i++) {
		const char *key = kv->entry[i].key;
		if (strncmp(key, prefix, plen) != 0 || key[plen] != '.')
			continue;
		char msg[256];
		if (config_set_in(t, obj, key + plen + 1, kv->entry[i].value, msg, sizeof(msg)))
			return errorf(err, errlen, "%s: %s (written by another nvemu version?)", file, msg);
	}
	return 0;
}

/* A kept drive: its identity, checked, into s->params, s->ssd, s->zoned, s->data_path. */
static int read_identity(struct ns_store *s, char *err, size_t errlen)
{
	char file[4200];
	drive_file(s->drive, IDENTITY_FILE, file, sizeof(file));
	struct drive_kv *kv = s->identity;
	int rc = drive_kv_read(s->drive, IDENTITY_FILE, "identity", IDENTITY_VERSION, kv, err, errlen);
	if (rc)
		return rc > 0 ? errorf(err, errlen, "%s: missing", file) : -1;
	uint8_t id[DRIVE_ID_BYTES];
	const char *text = drive_kv_get(kv, "id"), *kind = drive_kv_get(kv, "kind");
	const char *data = drive_kv_get(kv, "data"), *plp = drive_kv_get(kv, "power_loss_protection");
	if (!text || unhex(text, id, sizeof(id)))
		return errorf(err, errlen, "%s: no drive id, or a malformed one", file);
	drive_set_id(s->drive, id);
	struct ns_params *p = &s->params;
	uint64_t bytes, lba;
	if (!kind || ns_kind_parse(kind, &p->kind))
		return errorf(err, errlen, "%s: kind '%s' is not ram, nossd, ssd or zoned", file,
			      kind ? kind : "");
	if (drive_kv_get_u64(kv, file, "bytes", &bytes, err, errlen) ||
	    drive_kv_get_u64(kv, file, "lba_size", &lba, err, errlen))
		return -1;
	if ((lba != 512 && lba != 4096) || !bytes || bytes % lba)
		return errorf(err, errlen, "%s: %" PRIu64 " bytes of %" PRIu64 "-byte LBAs cannot be",
			      file, bytes, lba);
	if (!data || !*data || strlen(data) >= sizeof(s->data_path))
		return errorf(err, errlen, "%s: no data location", file);
	if (!plp || (strcmp(plp, "on") && strcmp(plp, "off")))
		return errorf(err, errlen, "%s: power_loss_protection is not on or off", file);
	p->bytes = bytes;
	p->lba_size = (uint32_t)lba;
	p->plp = strcmp(plp, "on") == 0;
	snprintf(s->data_path, sizeof(s->data_path), "%s", data);
	ssd_params_defaults(&s->ssd);
	zoned_params_defaults(&s->zoned);
	if (get_table(kv, file, "model", &ssd_config_table, &s->ssd, err, errlen) ||
	    get_table(kv, file, "zone", &zoned_config_table, &s->zoned, err, errlen))
		return -1;
	return 0;
}

/* Formatting keeps what a drive is: another kind, size or geometry is another drive. */
#define ANOTHER_DRIVE " (that is another drive: give another path, or remove this one)"

/* A kept drive, and what the command line says of it: the keys apply, contradictions fail. */
static int reconcile(struct ns_store *s, const struct ns_params *given, char *err, size_t errlen)
{
	const char *dir = drive_path(s->drive);
	struct ns_params *p = &s->params;
	if (given->kind_given && given->kind != p->kind)
		return errorf(err, errlen, "%s holds a namespace of kind %s; kind %s was asked for%s", dir,
			      ns_kind_name(p->kind), ns_kind_name(given->kind), ANOTHER_DRIVE);
	if (given->bytes && given->bytes != p->bytes)
		return errorf(err, errlen, "%s holds a namespace of %" PRIu64 " bytes; size %" PRIu64
					   " was asked for%s", dir, p->bytes, given->bytes, ANOTHER_DRIVE);
	if (given->lba_size && given->lba_size != p->lba_size)
		return errorf(err, errlen, "%s has %u-byte LBAs; %u was asked for%s", dir, p->lba_size,
			      given->lba_size, ANOTHER_DRIVE);
	if (given->data && strcmp(given->data, s->data_path) != 0)
		return errorf(err, errlen, "%s keeps its data in %s; data = %s was asked for", dir,
			      s->data_path, given->data);
	if (given->plp >= 0 && given->plp != p->plp) {
		p->plp = given->plp;
		s->identity_dirty = true;
	}
	struct ssd_params ssd = s->ssd;
	struct zoned_params zoned = s->zoned;
	for (unsigned i = 0; i < given->nkeys; i++) {
		char key[128];
		snprintf(key, sizeof(key), "%.*s", (int)strcspn(given->keys[i], "="), given->keys[i]);
		bool zone_key = config_find(&zoned_config_table, key) != NULL;
		if (config_set_assignment(zone_key ? &zoned_config_table : &ssd_config_table,
					  zone_key ? (void *)&zoned : (void *)&ssd, given->keys[i], err,
					  errlen))
			return -1;
	}
	const struct {
		const struct config_table *table;
		const char *const *keys;
		const void *kept, *asked;
		const char *what;
	} layouts[] = {{&ssd_config_table, ssd_layout_keys, &s->ssd, &ssd, "geometry"},
		       {&ssd_config_table, fdp_layout_keys, &s->ssd, &ssd,
			"Flexible Data Placement configuration"},
		       {&zoned_config_table, zoned_layout_keys, &s->zoned, &zoned, "geometry"}};
	for (size_t l = 0; l < ARRAY_SIZE(layouts); l++) {
		if (l == 1 && (p->kind != NS_KIND_SSD || (!s->ssd.fdp && !ssd.fdp)))
			continue; /* FDP's keys mean nothing while it stays off */
		if (l == 2 && p->kind != NS_KIND_ZONED)
			break;
		if (p->kind != NS_KIND_SSD && p->kind != NS_KIND_ZONED)
			break;
		for (const char *const *k = layouts[l].keys; *k; k++) {
			const struct config_key *key = config_find(layouts[l].table, *k);
			char kept[160], asked[160];
			config_format_value(key, layouts[l].kept, kept, sizeof(kept));
			config_format_value(key, layouts[l].asked, asked, sizeof(asked));
			if (strcmp(kept, asked) != 0)
				return errorf(err, errlen,
					      "%s was made with %s=%s; %s=%s would change its %s%s",
					      dir, *k, kept, *k, asked, layouts[l].what, ANOTHER_DRIVE);
		}
	}
	if (memcmp(&ssd, &s->ssd, sizeof(ssd)) || memcmp(&zoned, &s->zoned, sizeof(zoned)))
		s->identity_dirty = true; /* timing or GC settings: served so, and remembered */
	s->ssd = ssd;
	s->zoned = zoned;
	return 0;
}

/* ---- The state file ---- */

uint64_t ns_store_counter(const struct ns_store *s, const char *name)
{
	const char *v = drive_kv_get(s->counters, name);
	return v ? strtoull(v, NULL, 10) : 0;
}

void ns_store_set_counter(struct ns_store *s, const char *name, uint64_t value)
{
	drive_kv_setf(s->counters, name, "%" PRIu64, value);
}

static int write_state(struct ns_store *s, bool running, char *err, size_t errlen)
{
	uint64_t now = monotonic_s();
	ns_store_set_counter(s, "power_on_seconds",
			     ns_store_counter(s, "power_on_seconds") + (now - s->opened_at));
	s->opened_at = now;
	drive_kv_set(s->counters, "running", running ? "1" : "0");
	drive_kv_set(s->counters, "boot_id", drive_boot_id());
	return drive_kv_write(s->drive, STATE_FILE, s->counters, err, errlen);
}

/* How the last run ended; this run's start is recorded before anything else changes. */
static int begin_run(struct ns_store *s, char *err, size_t errlen)
{
	char file[4200];
	drive_file(s->drive, STATE_FILE, file, sizeof(file));
	int rc = drive_kv_read(s->drive, STATE_FILE, "state", STATE_VERSION, s->counters, err, errlen);
	if (rc < 0)
		return -1;
	if (rc > 0) /* made by a run that died before its first state file: nothing ran on it */
		drive_kv_init(s->counters, "state", STATE_VERSION);
	const char *running = drive_kv_get(s->counters, "running");
	const char *boot = drive_kv_get(s->counters, "boot_id");
	if (rc == 0 && (!running || (strcmp(running, "0") && strcmp(running, "1"))))
		return errorf(err, errlen, "%s: 'running' is not 0 or 1", file);
	bool crashed = rc == 0 && strcmp(running, "1") == 0;
	s->state = !crashed ? NS_STORE_CLEAN
		   : boot && strcmp(boot, drive_boot_id()) == 0 ? NS_STORE_CRASHED
								: NS_STORE_MACHINE_CRASH;
	ns_store_set_counter(s, "power_cycles", ns_store_counter(s, "power_cycles") + 1);
	if (crashed)
		ns_store_set_counter(s, "unsafe_shutdowns", ns_store_counter(s, "unsafe_shutdowns") + 1);
	return write_state(s, true, err, errlen);
}

/* ---- Opening and closing ---- */

struct ns_store *ns_store_open(const struct ns_params *given, char *err, size_t errlen)
{
	struct ns_store *s = calloc(1, sizeof(*s));
	if (s) {
		s->identity = malloc(sizeof(*s->identity));
		s->counters = malloc(sizeof(*s->counters));
	}
	if (!s || !s->identity || !s->counters) {
		ns_store_close(s, false);
		errorf(err, errlen, "out of memory");
		return NULL;
	}
	s->opened_at = monotonic_s();
	s->params = *given;
	if (given->check_only && access(given->path, F_OK) != 0) {
		s->state = NS_STORE_NEW; /* would be made: nothing to compare with */
		goto resolved;
	}
	s->drive = drive_open(given->path, given->check_only ? DRIVE_EXISTING : DRIVE_CREATE, err,
			      errlen);
	if (!s->drive && given->check_only && strstr(err, "holds no drive")) {
		s->state = NS_STORE_NEW;
		goto resolved;
	}
	if (!s->drive)
		goto fail;
	if (given->check_only && !drive_is_new(s->drive)) {
		/* Read and compare, write nothing. */
		if (read_identity(s, err, errlen) || reconcile(s, given, err, errlen))
			goto fail;
		s->params.geometry_given = true;
		s->state = NS_STORE_CLEAN;
	} else if (drive_is_new(s->drive)) {
		s->state = NS_STORE_NEW;
		s->params.plp = given->plp > 0;
		snprintf(s->data_path, sizeof(s->data_path), "%s",
			 given->data ? given->data : DATA_FILE);
		drive_kv_init(s->counters, "state", STATE_VERSION);
		ns_store_set_counter(s, "power_cycles", 1);
		s->identity_dirty = true;
	} else if (read_identity(s, err, errlen) || reconcile(s, given, err, errlen) ||
		   begin_run(s, err, errlen)) {
		goto fail;
	} else {
		s->params.geometry_given = true; /* the drive's own geometry holds its size */
	}
	if (s->state == NS_STORE_NEW) {
	resolved:
		if (given->ssd)
			s->ssd = *given->ssd;
		if (given->zoned)
			s->zoned = *given->zoned;
	}
	s->params.ssd = &s->ssd;
	s->params.zoned = &s->zoned;
	s->params.keys = NULL;
	s->params.nkeys = 0;
	return s;
fail:
	ns_store_close(s, false);
	return NULL;
}

const struct ns_params *ns_store_params(const struct ns_store *s) { return &s->params; }

enum ns_store_state ns_store_state(const struct ns_store *s) { return s->state; }

const char *ns_store_path(const struct ns_store *s) { return drive_path(s->drive); }

const uint8_t *ns_store_id(const struct ns_store *s) { return drive_id(s->drive); }

const struct drive_table_spec ns_error_log_table = {"error-log", 1, sizeof(struct ns_error),
						     NS_ERRORS_KEPT};
const struct drive_table_spec ns_fdp_events_table = {"fdp-events", 1,
						      sizeof(struct ns_fdp_events), 1};

int ns_store_table(struct ns_store *s, const struct drive_table_spec *spec, void **mem, char *err,
		   size_t errlen)
{
	*mem = NULL;
	if (!spec->count)
		return 0;
	if (s->ntables == MAX_TABLES)
		return errorf(err, errlen, "too many tables");
	enum drive_table_mode mode = s->state == NS_STORE_NEW ? DRIVE_TABLE_CREATE
				     : s->private_tables	? DRIVE_TABLE_PRIVATE
								: DRIVE_TABLE_OPEN;
	struct drive_table *t = drive_table_open(s->drive, spec, mode, err, errlen);
	if (!t)
		return -1;
	if (drive_table_begin(t, err, errlen)) {
		drive_table_close(t, false, NULL, 0);
		return -1;
	}
	s->tables[s->ntables].table = t;
	s->tables[s->ntables++].mem = *mem = drive_table_data(t);
	return 0;
}

static struct drive_table *table_of(struct ns_store *s, const void *mem)
{
	for (unsigned i = 0; i < s->ntables; i++)
		if (s->tables[i].mem == mem)
			return s->tables[i].table;
	return NULL;
}

int ns_store_table_sync(struct ns_store *s, const void *mem, char *err, size_t errlen)
{
	struct drive_table *t = table_of(s, mem);
	return t ? drive_table_sync(t, 0, drive_table_bytes(t), err, errlen) : 0;
}

void ns_store_table_zero(struct ns_store *s, const void *mem)
{
	struct drive_table *t = table_of(s, mem);
	if (t)
		drive_table_zero(t, 0, drive_table_bytes(t), NULL, 0);
}

struct media *ns_store_media(struct ns_store *s, uint64_t bytes, char *err, size_t errlen)
{
	char path[4200];
	if (s->data_path[0] == '/')
		snprintf(path, sizeof(path), "%s", s->data_path);
	else
		drive_file(s->drive, s->data_path, path, sizeof(path));
	return media_file_open(path, bytes, s->state == NS_STORE_NEW, err, errlen);
}

uint64_t ns_store_power_on_seconds(const struct ns_store *s)
{
	return ns_store_counter(s, "power_on_seconds") + (monotonic_s() - s->opened_at);
}

int ns_store_save(struct ns_store *s, char *err, size_t errlen)
{
	return write_state(s, true, err, errlen);
}

int ns_store_commit(struct ns_store *s, const struct ns_params *served, char *err, size_t errlen)
{
	if (s->state == NS_STORE_NEW) {
		s->params.bytes = served->bytes;
		s->params.lba_size = served->lba_size;
		s->ssd = *served->ssd;
		s->zoned = *served->zoned;
	}
	if (s->state == NS_STORE_NEW && write_state(s, true, err, errlen))
		return -1;
	/* The identity comes last: until it is there, the directory holds no drive. */
	return s->identity_dirty ? write_identity(s, err, errlen) : 0;
}

void ns_store_close(struct ns_store *s, bool clean)
{
	if (!s)
		return;
	char err[512];
	bool ok = true;
	for (unsigned i = 0; i < s->ntables; i++) {
		if (drive_table_close(s->tables[i].table, clean, err, sizeof(err))) {
			fprintf(stderr, "nvemu: %s\n", err);
			ok = false;
		}
	}
	/* The state says the run ended only once every table is known to be clean. */
	if (clean && ok && s->drive && !drive_is_new(s->drive) && write_state(s, false, err, sizeof(err)))
		fprintf(stderr, "nvemu: %s\n", err);
	drive_close(s->drive);
	free(s->identity);
	free(s->counters);
	free(s);
}

/* ---- Drives nvemu sim makes and replays ---- */

struct ns_model_drive {
	struct ns_store *store;
	struct ssd *ssd;
};

static int read_state_only(struct ns_store *s, char *err, size_t errlen)
{
	int rc = drive_kv_read(s->drive, STATE_FILE, "state", STATE_VERSION, s->counters, err, errlen);
	if (rc < 0)
		return -1;
	const char *running = rc ? NULL : drive_kv_get(s->counters, "running");
	s->state = running && strcmp(running, "1") == 0 ? NS_STORE_CRASHED : NS_STORE_CLEAN;
	return 0;
}

struct ns_model_drive *ns_model_drive_load(const char *dir, const char *const *keys,
					   unsigned nkeys, char *err, size_t errlen)
{
	struct ns_model_drive *md = calloc(1, sizeof(*md));
	struct ns_store *s = calloc(1, sizeof(*s));
	if (s) {
		s->identity = malloc(sizeof(*s->identity));
		s->counters = malloc(sizeof(*s->counters));
	}
	if (!md || !s || !s->identity || !s->counters) {
		free(md);
		ns_store_close(s, false);
		errorf(err, errlen, "out of memory");
		return NULL;
	}
	md->store = s;
	s->private_tables = true;
	struct ns_params given = {.keys = keys, .nkeys = nkeys, .plp = -1};
	if (!(s->drive = drive_open(dir, DRIVE_EXISTING, err, errlen)) ||
	    read_identity(s, err, errlen) || reconcile(s, &given, err, errlen) ||
	    read_state_only(s, err, errlen))
		goto fail;
	if (s->params.kind != NS_KIND_SSD) {
		errorf(err, errlen, "%s holds a %s namespace; nvemu sim models ssd drives", dir,
		       ns_kind_name(s->params.kind));
		goto fail;
	}
	struct ssd_table_shape shapes[SSD_TABLES];
	void *tables[SSD_TABLES];
	if (ssd_table_shapes(&s->ssd, shapes, err, errlen))
		goto fail;
	for (int t = 0; t < SSD_TABLES; t++) {
		struct drive_table_spec spec = {shapes[t].name, shapes[t].version, shapes[t].elem_bytes,
						shapes[t].count};
		if (ns_store_table(s, &spec, &tables[t], err, errlen))
			goto fail;
	}
	int bad;
	char why[512];
	md->ssd = ssd_open(&s->ssd, tables, s->state == NS_STORE_CLEAN ? SSD_TABLES_CLEAN
								      : SSD_TABLES_CRASHED,
			   &bad, why, sizeof(why));
	if (!md->ssd) {
		errorf(err, errlen, "%s/%s", dir, why);
		goto fail;
	}
	return md;
fail:
	ns_model_drive_close(md);
	return NULL;
}

struct ssd *ns_model_drive_ssd(struct ns_model_drive *md) { return md->ssd; }

const struct ssd_params *ns_model_drive_params(const struct ns_model_drive *md)
{
	return &md->store->ssd;
}

void ns_model_drive_close(struct ns_model_drive *md)
{
	if (!md)
		return;
	ssd_destroy(md->ssd);
	ns_store_close(md->store, false);
	free(md);
}

/* Copies a table page by page, leaving pages of zeroes as holes in the sparse file. */
static void copy_sparse(uint8_t *to, const uint8_t *from, uint64_t bytes)
{
	static const uint8_t zeros[4096];
	for (uint64_t at = 0; at < bytes; at += sizeof(zeros)) {
		uint64_t n = bytes - at < sizeof(zeros) ? bytes - at : sizeof(zeros);
		if (memcmp(from + at, zeros, n) != 0)
			memcpy(to + at, from + at, n);
	}
}

int ns_model_drive_save(const char *dir, struct ssd *ssd, const struct ssd_params *params,
			char *err, size_t errlen)
{
	struct ns_params p = {.kind = NS_KIND_SSD, .lba_size = 4096, .ssd = params, .path = dir,
			      .plp = -1};
	p.bytes = ssd_logical_pages(ssd) * ssd_page_bytes(ssd) / 4096 * 4096;
	struct ns_store *s = ns_store_open(&p, err, errlen);
	if (!s)
		return -1;
	if (ns_store_state(s) != NS_STORE_NEW) {
		ns_store_close(s, false);
		return errorf(err, errlen, "%s holds a drive already: save to a new directory", dir);
	}
	ssd_checkpoint(ssd);
	struct ssd_table_shape shapes[SSD_TABLES];
	void *from[SSD_TABLES];
	ssd_tables(ssd, from);
	int rc = ssd_table_shapes(params, shapes, err, errlen);
	for (int t = 0; !rc && t < SSD_TABLES; t++) {
		struct drive_table_spec spec = {shapes[t].name, shapes[t].version, shapes[t].elem_bytes,
						shapes[t].count};
		void *to;
		if (!(rc = ns_store_table(s, &spec, &to, err, errlen)))
			copy_sparse(to, from[t], spec.count * spec.elem_bytes);
	}
	void *errors, *events;
	if (!rc)
		rc = ns_store_table(s, &ns_error_log_table, &errors, err, errlen);
	if (!rc && params->fdp) /* empty: the simulator logs no FDP events */
		rc = ns_store_table(s, &ns_fdp_events_table, &events, err, errlen);
	struct media *data = rc ? NULL : ns_store_media(s, p.bytes, err, errlen);
	if (!data)
		rc = -1;
	media_destroy(data);
	struct ssd_params served = *params;
	struct zoned_params zoned;
	zoned_params_defaults(&zoned);
	p.ssd = &served;
	p.zoned = &zoned;
	if (!rc)
		rc = ns_store_commit(s, &p, err, errlen);
	ns_store_close(s, rc == 0);
	return rc;
}
