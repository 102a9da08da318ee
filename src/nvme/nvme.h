/*
 * The NVMe controller core: subsystems, controllers, admin and I/O commands.
 *
 * It knows nothing of sockets.  A transport embeds a struct nvme_sq in each
 * of its queues and a struct nvme_req in each request slot, and drives them:
 *
 *   1. copy the SQE into req->cmd and call nvme_req_init(): it parses the
 *      command, checks it, and either returns a status (the transport then
 *      answers with it, after consuming any data the host already sent) or
 *      sets req->xfer, req->data_len and req->execute;
 *   2. for NVME_XFER_H2C, move data_len bytes from the host into req->buf, or
 *      leave in-capsule data where it arrived (req->incapsule_data) when
 *      nvme_req_uses_data_at_once() says so;
 *   3. call req->execute(req);
 *   4. the core calls ops->queue_response(req) exactly once, maybe later
 *      (a modelled latency, a held Asynchronous Event Request).  For
 *      NVME_XFER_C2H the data to send is req->data, req->data_len bytes,
 *      unless the status is an error.
 *
 * All calls for one queue come from the reactor thread that owns it.
 */
#ifndef NVEMU_NVME_NVME_H
#define NVEMU_NVME_NVME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "auth/dhchap.h"
#include "fault/fault.h"
#include "ns/ns.h"
#include "runtime/reactor.h"
#include "spec/nvme.h"
#include "flash/parts.h"
#include "util/hist.h"

struct nvme_target;
struct nvme_subsys;
struct nvme_ctrl;
struct nvme_sq;
struct nvme_req;
struct nvme_io_shard;

struct nvme_transport_ops {
	/* Send req's data (for C2H transfers) and its completion. */
	void (*queue_response)(struct nvme_req *req);
	/* Close the queue's connection; called on the queue's own thread. */
	void (*disconnect)(struct nvme_sq *sq);
};

enum nvme_xfer { NVME_XFER_NONE, NVME_XFER_H2C, NVME_XFER_C2H };

struct nvme_req {
	struct nvme_sqe cmd;
	struct nvme_cqe cqe;
	struct nvme_sq *sq;
	struct ns *ns;
	enum nvme_xfer xfer;
	uint32_t data_len;
	uint32_t incapsule_len; /* set by the transport before nvme_req_init() */
	void *buf;	  /* the transport's buffer, nvme_sq.max_data bytes */
	/* Set by the transport for the length of execute when nvme_req_uses_data_at_once():
	 * the in-capsule data where the transport received it, not copied into buf. */
	void *incapsule_data;
	/* C2H: the data to send is data_iov[0..data_iovcnt) when data_iovcnt is
	 * set (pieces of a namespace's storage, not copied), else at data. */
	const void *data;
	struct iovec *data_iov; /* the transport's array of data_iov_cap entries */
	uint32_t data_iov_cap;
	uint32_t data_iovcnt;
	/* Set by the transport before execute when it will send the data without
	 * copying it: a read then holds the pieces in data_iov (data_hold) until
	 * nvme_req_release_data().  Data at `data` needs no hold: it is the
	 * transport's buffer or storage that never changes. */
	bool hold_data;
	struct ns_hold data_hold;
	void (*execute)(struct nvme_req *req);
	struct reactor_timer due;
	uint16_t pending_status;
	/* The SQE byte a failed check named, for the error log (Parameter Error Location). */
	bool has_error_loc;
	uint8_t error_loc;
	/* Set while an I/O command of a recorded namespace is outstanding. */
	struct nvme_io_shard *io_shard;
	uint64_t submit_ns;
	/* A recorded command's latency breakdown, as its namespace's model gives it. */
	struct lat_parts parts;
	/* The namespace command; it may complete later (NS_IO_PENDING: data in a file). */
	struct ns_io io;
	void (*io_done)(struct nvme_req *req, uint16_t status);
	bool io_pending; /* the namespace has not called back yet */
	bool canceled;	 /* ...and the queue went away meanwhile: drop the answer */
	/* Set when the fault engine looked at the command (faults are set, docs/faults.md); the
	 * fault_ fields below mean something only then. */
	bool faulted;
	uint8_t fault_type;   /* the fault that acted: enum fault_type + 1; 0: none */
	uint8_t fault_action; /* what execute does (nvme/fault_io.c) */
	bool fault_heal;      /* a write over blocks a read-error fault watches */
	bool has_error_lba;   /* the error log names error_lba */
	uint16_t fault_status;
	uint32_t fault_id;
	uint32_t fault_factor; /* thermal slowdown of the modelled time, thousandths; 0: none */
	uint64_t fault_delay_ns;
	uint64_t error_lba;
	void (*fault_execute)(struct nvme_req *req); /* the command's own execute */
};

struct nvme_auth;

struct nvme_sq {
	struct nvme_target *target;
	const struct nvme_transport_ops *ops;
	struct reactor *reactor;
	/* Set by a successful Connect. */
	struct nvme_ctrl *ctrl;
	uint16_t qid;
	uint16_t size;
	uint16_t head;
	bool sqflow_disabled;
	/* DH-HMAC-CHAP: the Connect asked the host to authenticate (ATR); until it has, only
	 * Authentication Send/Receive are served.  A failed authentication orphans the queue. */
	bool auth_required, authenticated, auth_failed;
	struct nvme_auth *auth; /* the transaction in progress, NULL between them */
	/* Largest transfer the transport can buffer per request. */
	uint32_t max_data;
	/* The address the host reached us at, for the discovery log. */
	char local_addr[64];
	/* When the queue last received a command (coarse clock), for traffic-based
	 * keep-alive; written by the queue's thread, read by the admin queue's. */
	_Atomic uint64_t last_command_ns;
	/* Commands whose namespace has not called back yet (the queue's thread only). */
	uint32_t io_pending;
};

void nvme_sq_init(struct nvme_sq *sq, struct nvme_target *target,
		  const struct nvme_transport_ops *ops, struct reactor *reactor, uint32_t max_data);
/* The transport is closing the queue: every request was cancelled or answered. */
void nvme_sq_destroy(struct nvme_sq *sq);
/* True when the queue should close: its controller was torn down, or it failed to
 * authenticate. */
bool nvme_sq_orphaned(const struct nvme_sq *sq);
/*
 * True while a namespace may still write into a request buffer of the queue (file I/O in
 * flight, answered or cancelled): the transport frees the buffers only once it is false.
 */
bool nvme_sq_busy(const struct nvme_sq *sq);
/* True once the queue serves commands: connected and, if asked to, authenticated. */
bool nvme_sq_ready(const struct nvme_sq *sq);

uint16_t nvme_req_init(struct nvme_req *req, struct nvme_sq *sq);
/* After nvme_req_init(): whether execute reads all of the host's data before it returns (a
 * Write to a namespace in memory, whose kind never answers later), so that the transport may
 * pass in-capsule data where it is (incapsule_data) instead of copying it into buf. */
bool nvme_req_uses_data_at_once(const struct nvme_req *req);
/* Forget a request whose connection is going away (disarms its timer). */
void nvme_req_cancel(struct nvme_req *req);
/* The transport is done with the data of a read that held it (hold_data); no-op otherwise. */
void nvme_req_release_data(struct nvme_req *req);
/* Answer a request whose data transfer failed (e.g. a data digest error). */
void nvme_req_fail(struct nvme_req *req, uint16_t status);

/* In-capsule data limit the controller advertises (IOCCSZ) for I/O queues. */
uint32_t nvme_target_incapsule_size(const struct nvme_target *target);

/* ---- Building what a daemon serves ---- */

struct nvme_target_params {
	const char *listen_addr; /* for the discovery log */
	uint16_t port;
	uint8_t mdts;		   /* 2^mdts * 4 KiB */
	uint16_t max_io_queues;	   /* per controller */
	uint16_t io_queue_depth;   /* entries, MQES + 1 */
	uint32_t incapsule_size;   /* bytes of in-capsule data on I/O queues */
	/* Grace past KATO before a silent host is dropped: hosts in software-emulated
	 * VMs can stall for seconds under load. */
	uint32_t keep_alive_slack_ms;
	/* Every subsystem admits every host (hosts with a secret still authenticate). */
	bool allow_any_host;
	/* A subsystem that no allowed host names (neither its own nor an allowed-everywhere one)
	 * admits every host. */
	bool allow_unlisted;
	/* Controllers one host NQN may have at once, over all subsystems (0: no limit). */
	unsigned max_ctrls_per_host;
	/* DH-HMAC-CHAP: the hashes and DH groups the controller accepts, most preferred first;
	 * it picks the first that the host offers.  Empty lists mean the defaults. */
	struct dhchap_list dhchap_hashes;
	struct dhchap_list dhchap_dhgroups;
	/* Reactor ids run 0..nreactors-1: each namespace keeps one shard of counters per
	 * reactor (0 counts as 1). */
	unsigned nreactors;
};

struct nvme_subsys_params {
	const char *nqn;
	const char *serial;
	const char *model;
};

struct nvme_target *nvme_target_create(const struct nvme_target_params *params);
/* Disconnects nothing: stop every reactor first. */
void nvme_target_destroy(struct nvme_target *target);
/*
 * A host allowed in: to subsys, or to every subsystem when subsys is NULL.  Secrets are in
 * the DHHC-1 representation (nvme gen-dhchap-key), NULL for none: with dhchap_key the host
 * must authenticate with DH-HMAC-CHAP on every queue; with dhchap_ctrl_key as well it may
 * have the controller prove itself (bidirectional).  0, or -1 with a message that never
 * holds a secret.
 */
struct nvme_host_params {
	const char *nqn;
	const char *dhchap_key;
	const char *dhchap_ctrl_key;
};
int nvme_target_allow_host(struct nvme_target *target, struct nvme_subsys *subsys,
			   const struct nvme_host_params *host, char *err, size_t errlen);
struct nvme_subsys *nvme_target_add_subsys(struct nvme_target *target,
					   const struct nvme_subsys_params *params, char *err,
					   size_t errlen);
/* The subsystem takes ownership of ns; returns the NSID, or 0 on error. */
uint32_t nvme_subsys_add_ns(struct nvme_subsys *subsys, struct ns *ns, char *err, size_t errlen);
const char *nvme_subsys_nqn(const struct nvme_subsys *subsys);
uint32_t nvme_target_max_data(const struct nvme_target *target);
/*
 * A power cut at `now` of every namespace (ns_power_cut); the transport has dropped every
 * queue and no I/O is in flight. report (optional) hears of each namespace. Returns the LBAs
 * lost in all.
 */
uint64_t nvme_target_power_cut(struct nvme_target *target, uint64_t now,
			       void (*report)(const char *nqn, uint32_t nsid, uint64_t lost));

/* Commands a queue may have outstanding: the largest queue a host can get. */
uint32_t nvme_target_queue_slots(const struct nvme_target *target);

/* ---- Per-namespace I/O counters, latencies and tracing, recorded on the data path ---- */

/*
 * One reactor's share of a namespace's records.  Every namespace has one per
 * reactor, and each I/O command is counted once, in the shard of the reactor
 * that runs it.  Single writer: only that reactor writes a shard, each field
 * by a relaxed load and store (hist_shard_bump()), never a locked
 * read-modify-write, so reactors never contend for a cache line.  Relaxed is
 * enough: with one writer no increment can be lost, the atomic type only
 * keeps a reader from seeing half a value, and nothing else is published
 * through these fields, so no ordering is owed.  Any thread reads them
 * without a lock (see struct hist_shard) and sums the shards
 * (nvme_ns_recorder_totals()).
 */
struct nvme_io_shard {
	/* Host-visible activity (SMART, statistics): successful commands and their data.
	 * Verify and Compare count as reads, Write Zeroes and Zone Append as writes. */
	atomic_uint_fast64_t read_cmds, read_bytes;
	atomic_uint_fast64_t write_cmds, write_bytes;
	/* outstanding = received - answered (answered counts cancelled commands too) */
	atomic_uint_fast64_t received;
	atomic_uint_fast64_t answered;
	struct nvme_ns_recorder *owner;
	/* ns from nvme_req_init() to the response being queued */
	struct hist_shard latency;
	/* The model's latency breakdown (flash/parts.h): each part's nonzero values, and the
	 * commands that had one (the others' parts are zero). */
	atomic_uint_fast64_t parts_cmds;
	struct hist_shard parts[LAT_PARTS];
} __attribute__((aligned(64)));

/* One answered command, as a trace sees it. */
struct nvme_trace_event {
	uint64_t submit_ns;   /* nvme_req_init() */
	uint64_t done_ns;     /* the modelled completion (<= answered_ns) */
	uint64_t answered_ns; /* response queued (the connection's close when not answered) */
	uint64_t slba;
	uint64_t fault_ns; /* latency a fault added */
	uint32_t nsid;
	uint32_t nlb;	  /* 1's based; 0 for commands without an LBA range */
	uint32_t fault_id;
	uint16_t qid;
	uint16_t status; /* SCT/SC with DNR, as nvme_req_init() and execute return it */
	uint8_t opcode;
	struct lat_parts parts; /* all zero when the namespace has no model */
	uint8_t fault_type; /* enum fault_type + 1 of the fault that acted; 0: none */
	bool unanswered;    /* a fault held it and its connection closed */
};

struct nvme_trace_sink {
	/* Runs on the reactor that answered (its shard index): must not block. */
	void (*record)(struct nvme_trace_sink *sink, unsigned shard, const struct nvme_trace_event *ev);
};

/* What a namespace's I/O commands leave behind; it lives as long as the target. */
struct nvme_ns_recorder {
	struct nvme_io_shard *shards; /* indexed by reactor id */
	unsigned nshards; /* nvme_target_params.nreactors: a larger id shares the last shard */
	_Atomic(struct nvme_trace_sink *) trace; /* NULL: tracing off */
};

/* The namespace's recorder, or NULL if there is no such namespace. */
struct nvme_ns_recorder *nvme_subsys_ns_recorder(struct nvme_subsys *subsys, uint32_t nsid);

/* A namespace's counters summed over its shards. */
struct nvme_io_totals {
	uint64_t read_cmds, read_bytes, write_cmds, write_bytes;
	uint64_t received, answered;
};
/* Safe from any thread while reactors count; answered is read before received, so a
 * command answered meanwhile is still counted received. */
void nvme_ns_recorder_totals(const struct nvme_ns_recorder *rec, struct nvme_io_totals *out);

/* ---- Scripted faults (docs/faults.md; the specifications are fault/fault.h's) ---- */

/* What the controller core cannot do itself: the daemon's transport does it. */
struct nvme_fault_hooks {
	/* Drop every connection at once and refuse new ones for down_ms.  Called from any
	 * thread, a reactor's included: must not block. */
	void (*drop_connections)(void *ctx, uint64_t down_ms);
	void *ctx;
};
void nvme_target_set_fault_hooks(struct nvme_target *target, const struct nvme_fault_hooks *hooks);

/*
 * Adds a fault; its scope is resolved now (nqn, nsid, lba range or zone must exist).  From any
 * thread.  Returns 0 with *id, or -1 with err.
 */
int nvme_target_add_fault(struct nvme_target *target, const struct fault_spec *spec, uint32_t *id,
			  char *err, size_t errlen);
/* Clears fault id (0: every fault); returns how many, or -1 with err for an unknown id. */
int nvme_target_clear_faults(struct nvme_target *target, uint32_t id, char *err, size_t errlen);

struct nvme_fault_status {
	uint32_t id;
	struct fault_spec spec;
	const char *state; /* pending, active, ended, spent */
	uint64_t matched;  /* commands in its scope while active */
	uint64_t injected; /* commands it acted on, or events it caused */
	bool has_temp;	   /* thermal: the temperature now */
	double temp_c;
};
/* The faults set, oldest first, malloc'd (*count of them); NULL with *count 0 for none. */
struct nvme_fault_status *nvme_target_list_faults(struct nvme_target *target, size_t *count);

/* Something a fault did that no command's trace line shows (a controller made fatal, a
 * namespace detached, a warning raised), kept in a ring of the last NVME_FAULT_EVENTS. */
#define NVME_FAULT_EVENTS 256
struct nvme_fault_event {
	uint64_t seq; /* from 1 */
	uint64_t t_ns;
	uint32_t fault_id;
	enum fault_type type;
	const struct nvme_subsys *subsys; /* NULL: every subsystem */
	uint32_t nsid;			   /* 0: not about one namespace */
	char text[112];
};
/* Events after *cursor (a seq, 0 at first) into out; advances *cursor.  Returns how many.
 * out NULL: only moves *cursor past every event so far. */
size_t nvme_target_fault_events(struct nvme_target *target, uint64_t *cursor,
				struct nvme_fault_event *out, size_t max);

/* What SMART reports of a subsystem's health (nsid 0: all its namespaces). */
struct nvme_health {
	uint8_t critical_warning;
	uint16_t temperature_k;
	uint8_t avail_spare, spare_thresh;
	uint64_t media_errors;
	uint32_t warning_temp_minutes, critical_temp_minutes;
	bool throttled;
	uint16_t wctemp_k, cctemp_k;
};
void nvme_subsys_health(struct nvme_subsys *subsys, uint32_t nsid, struct nvme_health *out);
/* False when nsid is not attached (ns-remove) or not there at all. */
bool nvme_subsys_ns_attached(const struct nvme_subsys *subsys, uint32_t nsid);

#define NVME_MAX_NAMESPACES 1024
#define NVME_ADMIN_QUEUE_DEPTH 32

#endif
