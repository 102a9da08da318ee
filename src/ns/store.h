/*
 * A namespace's drive directory (docs/persistence.md), for ns.c and the kinds: what the drive
 * is (its identity file), how its last run ended (its state file), its tables and its data.
 */
#ifndef NVEMU_NS_STORE_H
#define NVEMU_NS_STORE_H

#include "drive/drive.h"
#include "ns/ns.h"

struct ns_store;
struct media;

/* How the drive's last run ended, which decides how its tables are opened. */
enum ns_store_state {
	NS_STORE_NEW,		/* made by this run */
	NS_STORE_CLEAN,		/* closed cleanly */
	NS_STORE_CRASHED,	/* the process died; the page cache kept everything it wrote */
	NS_STORE_MACHINE_CRASH, /* the machine went down: only what was synced is there */
};

/*
 * Opens params->path. A new drive takes params as given; a kept one its identity, with the
 * model and zone keys of params->keys on top, and is refused (a message naming the field and
 * both values) when params contradict it: another kind, size, LBA size, data location or
 * geometry. The state file then says this run has begun (durably, before any table changes).
 */
struct ns_store *ns_store_open(const struct ns_params *params, char *err, size_t errlen);
/* The parameters the drive is served with (the kept drive's own, resolved). */
const struct ns_params *ns_store_params(const struct ns_store *s);
enum ns_store_state ns_store_state(const struct ns_store *s);
const char *ns_store_path(const struct ns_store *s);
const uint8_t *ns_store_id(const struct ns_store *s);

/*
 * Maps a table of the drive: created (zero-filled) for a new drive, checked for a kept one,
 * then marked in use. *mem is NULL for a table of count 0. Returns 0 or -1 with a message.
 */
int ns_store_table(struct ns_store *s, const struct drive_table_spec *spec, void **mem, char *err,
		   size_t errlen);
/* The error log every drive keeps (struct ns_error records), whatever its kind. */
extern const struct drive_table_spec ns_error_log_table;
/* The FDP events logs of a drive with FDP enabled (one struct ns_fdp_events). */
extern const struct drive_table_spec ns_fdp_events_table;
/* Makes a table's contents durable now (msync). */
int ns_store_table_sync(struct ns_store *s, const void *mem, char *err, size_t errlen);
/* Empties a table (holes in its file). */
void ns_store_table_zero(struct ns_store *s, const void *mem);
/* The drive's data: DIR/data or the file or block device its identity names. */
struct media *ns_store_media(struct ns_store *s, uint64_t bytes, char *err, size_t errlen);

/*
 * Counters kept in the state file (SMART and power-cut figures); set them before ns_store_close
 * or ns_store_save. Unknown names read 0.
 */
uint64_t ns_store_counter(const struct ns_store *s, const char *name);
void ns_store_set_counter(struct ns_store *s, const char *name, uint64_t value);
/* Power-on time: earlier runs' and this one's so far. */
uint64_t ns_store_power_on_seconds(const struct ns_store *s);
/* Writes the state file now (a checkpoint of the counters, the drive still running). */
int ns_store_save(struct ns_store *s, char *err, size_t errlen);

/*
 * The kind is up with `served` (a new drive's final size and geometry): writes the identity
 * (new drive, or changed settings).
 */
int ns_store_commit(struct ns_store *s, const struct ns_params *served, char *err, size_t errlen);
/*
 * Clean close (clean = true): tables written back and checksummed, the state file says the run
 * ended. Otherwise the files stay as a crash would leave them (a kind that failed to start).
 */
void ns_store_close(struct ns_store *s, bool clean);

#endif
