#include "ns/ns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "media/media.h"
#include "ns/kinds.h"
#include "ns/store.h"
#include "ns/undo.h"
#include "ns/zoned.h"
#include "spec/nvme.h"
#include "util/util.h"

const uint8_t ns_zero_buffer[NS_ZERO_BUFFER_SIZE];

static const char *const kind_names[] = {
    [NS_KIND_RAM] = "ram",
    [NS_KIND_NOSSD] = "nossd",
    [NS_KIND_SSD] = "ssd",
    [NS_KIND_ZONED] = "zoned",
};

const char *ns_kind_name(enum ns_kind kind) { return kind_names[kind]; }

int ns_kind_parse(const char *name, enum ns_kind *kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(kind_names); i++) {
		if (strcmp(name, kind_names[i]) == 0) {
			*kind = (enum ns_kind)i;
			return 0;
		}
	}
	return -1;
}

/* The state file's names of struct ns_lifetime's host totals, in ns->earlier's order. */
static const char *const host_counter_names[] = {"host_read_bytes", "host_write_bytes",
						   "host_read_commands", "host_write_commands"};

/* Is blocks_per_plane (or its FEMU name) among the keys given? */
static bool blocks_given(const struct ns_params *p)
{
	for (unsigned i = 0; i < p->nkeys; i++) {
		char key[128];
		snprintf(key, sizeof(key), "%.*s", (int)strcspn(p->keys[i], "="), p->keys[i]);
		const struct config_key *k = config_find(&ssd_config_table, key);
		if (k && strcmp(k->name, "blocks_per_plane") == 0)
			return true;
	}
	return false;
}

static int init_kind(struct ns *ns, const struct ns_params *params, char *err, size_t errlen)
{
	switch (params->kind) {
	case NS_KIND_RAM:
		return ns_ram_init(ns, params, err, errlen);
	case NS_KIND_NOSSD:
		return ns_nossd_init(ns, params, err, errlen);
	case NS_KIND_SSD:
		return ns_ssd_init(ns, params, err, errlen);
	case NS_KIND_ZONED:
		return ns_zoned_init(ns, params, err, errlen);
	}
	return errorf(err, errlen, "no such namespace kind");
}

void ns_describe_geometry(const struct ssd_params *p, bool op, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%u channels x %u dies x %u planes x %u blocks x %u pages of %u bytes",
			 p->channels, p->luns_per_channel, p->planes_per_lun, p->blocks_per_plane,
			 p->pages_per_block, p->sector_size * p->sectors_per_page);
	if (op && n > 0 && (size_t)n < outlen)
		snprintf(out + n, outlen - (size_t)n, ", op_pcent=%g", p->op_pcent);
}

/* A drive directory's identifiers: its id is the NGUID, and the UUID derives from it. */
static void take_drive_ids(struct ns *ns)
{
	const uint8_t *id = ns_store_id(ns->store);
	memcpy(ns->nguid, id, 16);
	for (int i = 0; i < 16; i++)
		ns->uuid[i] = (uint8_t)(id[15 - i] ^ 0x5a);
	ns->uuid[6] = (uint8_t)((ns->uuid[6] & 0x0F) | 0x80); /* version 8: custom */
	ns->uuid[8] = (uint8_t)((ns->uuid[8] & 0x3F) | 0x80); /* RFC 4122 variant */
	ns->has_ids = true;
}

/*
 * The error log's table. A record is trusted only in its own slot (number modulo the slots),
 * with a time, and with a number the counter can go on from: after a crash a half-written one
 * is dropped, never shown, and so is a damaged one.
 */
static int open_error_log(struct ns *ns, char *err, size_t errlen)
{
	void *mem;
	if (ns_store_table(ns->store, &ns_error_log_table, &mem, err, errlen))
		return -1;
	ns->errors = mem;
	for (unsigned i = 0; i < NS_ERRORS_KEPT; i++) {
		struct ns_error *e = &ns->errors[i];
		if (e->number && (e->number % NS_ERRORS_KEPT != i || !e->time_ns ||
				  e->number > UINT64_MAX / 2))
			memset(e, 0, sizeof(*e));
		ns->errors_total = max_u64(ns->errors_total, e->number);
	}
	return 0;
}

/*
 * The FDP events logs: a drive directory's table (checked: a crash never leaves an entry count
 * or a start out of range, since each is one store), else memory.
 */
static int open_fdp_events(struct ns *ns, char *err, size_t errlen)
{
	if (!ns->fdp || !ns->fdp->config.enabled)
		return 0;
	if (!ns->store) {
		ns->fdp_events = calloc(1, sizeof(*ns->fdp_events));
		return ns->fdp_events ? 0 : errorf(err, errlen, "out of memory");
	}
	void *mem;
	if (ns_store_table(ns->store, &ns_fdp_events_table, &mem, err, errlen))
		return -1;
	struct ns_fdp_events *e = mem;
	const struct ns_fdp_event_log *logs[] = {&e->host, &e->ctrl};
	for (int i = 0; i < 2; i++)
		if (logs[i]->head >= NVME_FDP_MAX_EVENTS || logs[i]->count > NVME_FDP_MAX_EVENTS)
			return errorf(err, errlen,
				      "fdp-events: the %s events log starts at entry %u and holds %u "
				      "of %u", i ? "controller" : "host", logs[i]->head,
				      logs[i]->count, NVME_FDP_MAX_EVENTS);
	for (uint32_t h = 0; h < SSD_FDP_MAX_HANDLES; h++)
		if (e->disabled[h] >> NS_FDP_EVENT_TYPES)
			return errorf(err, errlen,
				      "fdp-events: handle %u turns off event types %#x, of %u", h,
				      e->disabled[h], NS_FDP_EVENT_TYPES);
	ns->fdp_events = e;
	return 0;
}

uint16_t ns_format(struct ns *ns)
{
	uint16_t status = ns->ops->format(ns);
	if (!status && ns->fdp_events) {
		memset(&ns->fdp_events->host, 0, sizeof(ns->fdp_events->host));
		memset(&ns->fdp_events->ctrl, 0, sizeof(ns->fdp_events->ctrl));
	}
	return status;
}

void ns_record_error(struct ns *ns, const void *entry)
{
	if (!ns->errors)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&ns->errors_lock);
	uint64_t number = ++ns->errors_total;
	struct ns_error *e = &ns->errors[number % NS_ERRORS_KEPT];
	e->number = 0; /* the slot is empty until the record is whole */
	e->time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	memcpy(e->entry, entry, sizeof(e->entry));
	atomic_signal_fence(memory_order_seq_cst);
	e->number = number;
	pthread_mutex_unlock(&ns->errors_lock);
}

unsigned ns_kept_errors(struct ns *ns, struct ns_error *out, uint64_t *total)
{
	*total = 0;
	if (!ns->errors)
		return 0;
	pthread_mutex_lock(&ns->errors_lock);
	*total = ns->errors_total;
	unsigned n = 0;
	uint64_t first = ns->errors_total > NS_ERRORS_KEPT ? ns->errors_total - NS_ERRORS_KEPT + 1 : 1;
	for (uint64_t number = first; number <= ns->errors_total; number++) {
		const struct ns_error *e = &ns->errors[number % NS_ERRORS_KEPT];
		if (e->number == number)
			out[n++] = *e;
	}
	pthread_mutex_unlock(&ns->errors_lock);
	return n;
}

struct ns *ns_create(const struct ns_params *given, char *err, size_t errlen)
{
	struct ns_params params = *given;
	struct ssd_params ssd;
	struct zoned_params zoned;
	ssd_params_defaults(&ssd);
	zoned_params_defaults(&zoned);
	params.geometry_given = given->geometry_given || blocks_given(given);
	struct ns_store *store = NULL;
	struct ns *ns = NULL;
	if (given->path) {
		store = ns_store_open(&params, err, errlen);
		if (!store)
			return NULL;
		params = *ns_store_params(store);
	}
	/* Copies the size may change (blocks_per_plane); kinds that need none get none. */
	if (params.ssd) {
		ssd = *params.ssd;
		params.ssd = &ssd;
	}
	if (params.zoned) {
		zoned = *params.zoned;
		params.zoned = &zoned;
	}
	if (store && given->check_only) { /* checked: the namespace itself is built in memory */
		params.path = NULL;
		ns_store_close(store, false);
		store = NULL;
	}
	if (!params.lba_size)
		params.lba_size = 4096;
	if (!params.bytes && (params.kind == NS_KIND_RAM || params.kind == NS_KIND_NOSSD))
		params.bytes = 1ull << 30;
	if (params.lba_size != 512 && params.lba_size != 4096) {
		errorf(err, errlen, "LBA size %u is not 512 or 4096", params.lba_size);
		goto fail;
	}
	if (params.bytes % params.lba_size) {
		errorf(err, errlen, "namespace size %llu is not a multiple of the LBA size %u",
		       (unsigned long long)params.bytes, params.lba_size);
		goto fail;
	}
	/* A size of an ssd or zoned namespace chooses (or must agree with) its flash geometry. */
	if (params.bytes && params.kind == NS_KIND_SSD && params.ssd &&
	    ns_ssd_fit(&ssd, params.bytes, params.geometry_given, err, errlen))
		goto fail;
	if (params.bytes && params.kind == NS_KIND_ZONED && params.ssd && params.zoned &&
	    ns_zoned_fit(&ssd, &zoned, params.bytes, params.geometry_given, err, errlen))
		goto fail;
	if (!(ns = calloc(1, sizeof(*ns)))) {
		errorf(err, errlen, "out of memory");
		goto fail;
	}
	ns->lba_shift = params.lba_size == 512 ? 9 : 12;
	ns->nlbas = params.bytes >> ns->lba_shift;
	ns->transport_floor_ns = params.transport_floor_ns;
	ns->plp = params.plp > 0;
	ns->store = store;
	atomic_init(&ns->write_cache, true);
	if (store) {
		take_drive_ids(ns);
		atomic_store(&ns->write_cache, ns_store_counter(store, "write_cache_off") == 0);
		atomic_store(&ns->power_cuts, ns_store_counter(store, "power_cuts"));
		for (size_t i = 0; i < ARRAY_SIZE(ns->earlier); i++)
			ns->earlier[i] = ns_store_counter(store, host_counter_names[i]);
		atomic_store(&ns->lbas_lost, ns_store_counter(store, "lbas_lost"));
	}
	pthread_mutex_init(&ns->errors_lock, NULL);
	if (store && open_error_log(ns, err, errlen)) {
		pthread_mutex_destroy(&ns->errors_lock);
		free(ns);
		ns = NULL;
		goto fail;
	}
	if (init_kind(ns, &params, err, errlen)) {
		pthread_mutex_destroy(&ns->errors_lock);
		free(ns);
		ns = NULL;
		goto fail;
	}
	if (open_fdp_events(ns, err, errlen)) {
		ns->store = NULL; /* closed below, as a kind that failed to start leaves it */
		ns_destroy(ns);
		ns = NULL;
		goto fail;
	}
	if (store) {
		params.bytes = ns->nlbas << ns->lba_shift;
		if (ns_store_commit(store, &params, err, errlen)) {
			ns_destroy(ns);
			return NULL;
		}
	}
	return ns;
fail:
	if (store && err && errlen && !strstr(err, ns_store_path(store))) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s: %s", ns_store_path(store), err);
		snprintf(err, errlen, "%s", msg);
	}
	ns_store_close(store, false);
	return NULL;
}

void ns_destroy(struct ns *ns)
{
	if (!ns)
		return;
	ns->ops->destroy(ns);
	ns_store_close(ns->store, true);
	if (!ns->store)
		free(ns->fdp_events);
	pthread_mutex_destroy(&ns->errors_lock);
	free(ns);
}

void ns_lifetime(const struct ns *ns, struct ns_lifetime *out)
{
	*out = (struct ns_lifetime){.read_bytes = ns->earlier[0], .write_bytes = ns->earlier[1],
				    .read_cmds = ns->earlier[2], .write_cmds = ns->earlier[3],
				    .power_cycles = 1};
	if (!ns->store)
		return;
	out->power_cycles = ns_store_counter(ns->store, "power_cycles");
	out->unsafe_shutdowns = ns_store_counter(ns->store, "unsafe_shutdowns");
	out->power_on_seconds = ns_store_power_on_seconds(ns->store);
}

void ns_save_host_counters(struct ns *ns, uint64_t read_bytes, uint64_t write_bytes,
			   uint64_t read_cmds, uint64_t write_cmds)
{
	if (!ns->store)
		return;
	const uint64_t values[] = {read_bytes, write_bytes, read_cmds, write_cmds};
	for (size_t i = 0; i < ARRAY_SIZE(values); i++)
		ns_store_set_counter(ns->store, host_counter_names[i], values[i]);
}

uint64_t ns_power_cut(struct ns *ns, uint64_t now)
{
	uint64_t lost = ns->ops->power_cut ? ns->ops->power_cut(ns, now) : 0;
	atomic_fetch_add(&ns->power_cuts, 1);
	atomic_fetch_add(&ns->lbas_lost, lost);
	if (ns->store) {
		static const char *const bumped[] = {"power_cuts", "unsafe_shutdowns", "power_cycles"};
		for (size_t i = 0; i < ARRAY_SIZE(bumped); i++)
			ns_store_set_counter(ns->store, bumped[i], ns_store_counter(ns->store, bumped[i]) + 1);
		ns_store_set_counter(ns->store, "lbas_lost", atomic_load(&ns->lbas_lost));
		char err[256];
		if (ns_store_save(ns->store, err, sizeof(err)))
			fprintf(stderr, "nvemu: %s\n", err);
	}
	return lost;
}

void ns_set_write_cache(struct ns *ns, bool on)
{
	if (!on && atomic_load(&ns->write_cache)) {
		struct ns_io io = {.now_ns = 0}; /* no completion callback: synchronously */
		ns->ops->flush(ns, &io);
	}
	atomic_store(&ns->write_cache, on);
	if (ns->store) {
		ns_store_set_counter(ns->store, "write_cache_off", !on);
		char err[256];
		if (ns_store_save(ns->store, err, sizeof(err)))
			fprintf(stderr, "nvemu: %s\n", err);
	}
}

bool ns_key_is_own(const char *key)
{
	return strcmp(key, "path") == 0 || strcmp(key, "data") == 0 ||
	       strcmp(key, "power_loss_protection") == 0 || strcmp(key, "plp") == 0;
}

int ns_set_own_key(struct ns_params *p, const char *key, const char *value, char *err,
		   size_t errlen)
{
	if (!*value)
		return errorf(err, errlen, "%s: empty value", key);
	if (strcmp(key, "path") == 0) {
		p->path = value;
	} else if (strcmp(key, "data") == 0) {
		p->data = value;
	} else if (strcmp(value, "on") == 0 || strcmp(value, "1") == 0 || strcmp(value, "yes") == 0) {
		p->plp = 1;
	} else if (strcmp(value, "off") == 0 || strcmp(value, "0") == 0 || strcmp(value, "no") == 0) {
		p->plp = 0;
	} else {
		return errorf(err, errlen, "%s: '%s' is not on or off", key, value);
	}
	return 0;
}

static void read_done(struct media_io *mio, int err)
{
	struct ns_io *io = container_of(mio, struct ns_io, mio);
	io->data = io->buf;
	io->complete(io, err ? NVME_SC_READ_ERROR | NVME_STATUS_DNR : NVME_SC_SUCCESS);
}

uint16_t ns_media_fetch(const struct ns *ns, struct media *m, struct ns_io *io)
{
	uint64_t offset = io->slba << ns->lba_shift, len = (uint64_t)io->nlb << ns->lba_shift;
	if (io->iov && (io->iovcnt = media_map(m, offset, len, io->iov, io->iov_cap))) {
		/* Without the hold (no memory for it, or a file) the sender copies instead. */
		if (io->hold && !media_hold(m, offset, len))
			*io->hold = (struct ns_hold){m, offset, len};
		return NVME_SC_SUCCESS;
	}
	if (!io->buf)
		return NVME_SC_SUCCESS; /* Verify: the data need not move */
	if (!media_is_file(m) || !io->complete) {
		media_read(m, offset, io->buf, len);
		io->data = io->buf;
		return NVME_SC_SUCCESS;
	}
	/* From the page cache at once when it is all there; else the ring waits for the disk. */
	if (media_read_nowait(m, offset, io->buf, len) == 0) {
		io->data = io->buf;
		return NVME_SC_SUCCESS;
	}
	media_read_async(m, &io->mio, offset, io->buf, len, read_done);
	return NS_IO_PENDING;
}

/* ---- A write's data: old contents kept for a power cut, new ones stored, the model asked ---- */

static void write_placed(struct ns_io *io, uint16_t status)
{
	struct ns *ns = io->write.ns;
	uint64_t on_nand = 0;
	if (!status)
		on_nand = io->write.place(ns, io);
	else if (io->write.fail)
		io->write.fail(ns, io);
	if (io->write.rec && status)
		ns_undo_cancel(io->write.undo, io->write.rec);
	else if (io->write.rec)
		ns_undo_commit(io->write.undo, io->write.rec, on_nand);
	if (io->write.async)
		io->complete(io, status);
	else
		io->status = status;
}

static void new_data_stored(struct media_io *mio, int err)
{
	struct ns_io *io = container_of(mio, struct ns_io, mio);
	/* Memory runs out (CAP_EXCEEDED, as a full sparse store); a file fails to write. */
	uint16_t status = err == -ENOMEM ? NVME_SC_CAP_EXCEEDED : NVME_SC_WRITE_FAULT;
	write_placed(io, err ? status | NVME_STATUS_DNR : NVME_SC_SUCCESS);
}

static void store_new_data(struct ns_io *io)
{
	struct ns *ns = io->write.ns;
	uint64_t offset = io->slba << ns->lba_shift, len = (uint64_t)io->nlb << ns->lba_shift;
	if (!io->buf) { /* Write Zeroes */
		media_zero(io->write.media, offset, len);
		write_placed(io, NVME_SC_SUCCESS);
		return;
	}
	bool durable = io->fua || !atomic_load_explicit(&ns->write_cache, memory_order_relaxed);
	media_write_async(io->write.media, &io->mio, offset, io->buf, len, durable, new_data_stored);
}

static void old_data_kept(struct media_io *mio, int err)
{
	struct ns_io *io = container_of(mio, struct ns_io, mio);
	if (err) /* the old data could not be read: the write fails before anything changed */
		write_placed(io, NVME_SC_READ_ERROR | NVME_STATUS_DNR);
	else
		store_new_data(io);
}

uint16_t ns_write_data(struct ns *ns, struct media *m, struct ns_undo *undo, bool keep_old,
		       uint64_t tag, struct ns_io *io, uint64_t (*place)(struct ns *ns, struct ns_io *io),
		       void (*fail)(struct ns *ns, struct ns_io *io))
{
	io->write.ns = ns;
	io->write.media = m;
	io->write.undo = undo;
	io->write.place = place;
	io->write.fail = fail;
	io->write.rec = 0;
	io->write.async = media_is_file(m) && io->complete;
	io->status = NS_IO_PENDING;
	uint8_t *old = NULL;
	if (undo && !(io->write.rec = ns_undo_begin(undo, io->slba, io->nlb, keep_old, tag,
						    io->now_ns, &old)))
		return NVME_SC_INTERNAL;
	if (!io->write.async) {
		/* Memory, or a caller that needs the answer now: every step at once. */
		uint64_t offset = io->slba << ns->lba_shift, len = (uint64_t)io->nlb << ns->lba_shift;
		bool durable = io->fua || !atomic_load_explicit(&ns->write_cache, memory_order_relaxed);
		if (old)
			media_read(m, offset, old, len);
		int rc = 0;
		if (!io->buf)
			media_zero(m, offset, len);
		else if (!(rc = media_write(m, offset, io->buf, len)) && durable && media_is_file(m))
			rc = media_sync(m);
		uint16_t status = rc == -ENOMEM ? NVME_SC_CAP_EXCEEDED : NVME_SC_WRITE_FAULT;
		write_placed(io, rc ? status | NVME_STATUS_DNR : NVME_SC_SUCCESS);
		return io->status;
	}
	if (old) {
		media_read_async(m, &io->mio, io->slba << ns->lba_shift,
				 old, (uint64_t)io->nlb << ns->lba_shift, old_data_kept);
	} else {
		store_new_data(io);
	}
	return NS_IO_PENDING; /* a file completes the steps later, on this thread */
}

/* ---- Flush ---- */

static void data_synced(struct media_io *mio, int err)
{
	struct ns_io *io = container_of(mio, struct ns_io, mio);
	uint16_t status = err ? NVME_SC_WRITE_FAULT | NVME_STATUS_DNR : NVME_SC_SUCCESS;
	if (io->write.synced)
		status = io->write.synced(io->write.ns, io, status);
	io->complete(io, status);
}

uint16_t ns_flush_data(struct ns *ns, struct media *m, struct ns_io *io,
		       uint16_t (*synced)(struct ns *ns, struct ns_io *io, uint16_t status))
{
	if (!m || !media_is_file(m) || !io->complete) {
		uint16_t status = m && media_is_file(m) && media_sync(m) ? NVME_SC_WRITE_FAULT | NVME_STATUS_DNR
								       : NVME_SC_SUCCESS;
		return synced ? synced(ns, io, status) : status;
	}
	io->write.ns = ns;
	io->write.synced = synced;
	media_sync_async(m, &io->mio, data_synced);
	return NS_IO_PENDING;
}

void ns_release(struct ns_hold *hold)
{
	if (!hold->media)
		return;
	media_release(hold->media, hold->offset, hold->len);
	*hold = (struct ns_hold){0};
}

uint64_t ns_media_blocks_in_use(const struct ns *ns, const struct media *m)
{
	uint64_t blocks = (media_resident_pages(m) * MEDIA_PAGE_SIZE) >> ns->lba_shift;
	return blocks < ns->nlbas ? blocks : ns->nlbas;
}
