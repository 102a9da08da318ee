/* Shared by the files of the controller core; not part of its contract. */
#ifndef NVEMU_NVME_INTERNAL_H
#define NVEMU_NVME_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "auth/dhchap.h"
#include "nvme/nvme.h"
#include "util/log.h"

#define NVME_ERROR_LOG_ENTRIES 64
#define NVME_AER_LIMIT 4
#define NVME_FIRMWARE_REVISION "0.1.0"
#define NVME_IEEE_OUI 0x0  /* no registered OUI */

struct nvme_fdp_eg;

/* A host let in by --allow-host, and the secrets it authenticates with. */
struct nvme_host {
	char nqn[NVMF_NQN_SIZE];
	bool has_key, has_ctrl_key;
	struct dhchap_key key;      /* the host proves it knows this */
	struct dhchap_key ctrl_key; /* bidirectional: the controller proves it knows this */
};

struct nvme_host_list {
	struct nvme_host *hosts;
	size_t count;
};

struct nvme_ns_slot {
	struct ns *ns;
	struct nvme_fdp_eg *fdp; /* fdp.c: the endurance group's FDP state when enabled, or NULL */
	/* ns while attached, NULL while detached (ns-remove): what commands see.  The namespace
	 * itself stays until the target goes, so a command in flight never loses it. */
	_Atomic(struct ns *) active;
	/* Unrecovered read and write errors of its commands (SMART Media and Data Integrity
	 * Errors): only faults cause them, so a locked add costs nothing on the common path. */
	atomic_uint_fast64_t media_errors;
	/* NS_WEAR_* warnings already announced to the controllers (never cleared: they stay). */
	atomic_uint wear_announced;
	struct nvme_ns_recorder recorder;
	uint8_t nguid[16];
	uint8_t eui64[8];
	uint8_t uuid[16];
};

struct nvme_subsys {
	struct nvme_target *target;
	bool discovery;
	char nqn[NVMF_NQN_SIZE];
	char serial[20];
	char model[40];
	struct nvme_host_list hosts; /* allowed in this subsystem alone */
	uint32_t nn; /* highest NSID */
	struct nvme_ns_slot ns[NVME_MAX_NAMESPACES];

	pthread_mutex_t lock; /* guards ctrls */
	struct nvme_ctrl *ctrls;
};

/* One fault as the controller core keeps it (nvme/fault.c). */
struct nvme_fault {
	struct fault_spec spec;
	uint32_t id;
	struct nvme_target *target;
	/* The scope resolved: nqn= or the subsystem of nsid=; NULL: every subsystem. */
	struct nvme_subsys *subsys;
	bool has_range; /* blocks [first_lba, end_lba) of namespace spec.nsid */
	uint64_t first_lba, end_lba;
	uint64_t start_ns, end_ns; /* active window; end_ns UINT64_MAX: until cleared */
	_Atomic(struct nvme_fault *) next; /* the active list; kept when cleared, see fault.c */
	struct nvme_fault *next_retired;
	atomic_bool cleared;
	atomic_uint_fast64_t matched, injected, fired, draws;
	/* read-error: a bit per block of the range, set where the block differs from range_bad
	 * (true: the whole range went bad when the fault became active, bits are blocks written
	 * since; false: bits are blocks that went bad) */
	bool range_bad;
	_Atomic uint64_t *bits;
	size_t bits_bytes;
	/* Transitions the timer thread (or the adding thread) made: fired at start, undone at end. */
	atomic_bool started, ended;
	/* Guards the state below: thermal, the drive's temperature under this fault; die-offline,
	 * whether it holds its die offline. */
	pthread_mutex_t state_lock;
	struct ns *ns; /* the namespace of nsid=, when given */
	atomic_bool die_down;
	double temp_c;
	uint64_t temp_ns;
	double warning_s, critical_s; /* time spent at or above each threshold */
};

struct nvme_faults {
	pthread_mutex_t lock; /* adding, clearing, listing, the event log, the timer */
	/* The faults set, newest first.  Readers walk it without a lock between
	 * nvme_faults_walk_begin() and _end(); clearing a fault unlinks it. */
	_Atomic(struct nvme_fault *) active;
	/* Cleared faults, freed once no thread walks the list (walkers is 0 after they were
	 * unlinked: a walk that starts later cannot reach them). */
	struct nvme_fault *retired;
	atomic_uint walkers;
	/* Why the data path must look, counted: faults that act on commands, fatal controllers.
	 * Zero means no fault: the only cost on the data path is one relaxed load of it. */
	atomic_uint attention;
	uint32_t next_id;
	struct nvme_fault_hooks hooks;
	/* Transitions at a time (at_ms, for_ms): a thread started with the first that needs one. */
	pthread_t timer;
	pthread_cond_t wake;
	bool timer_running, stopping;
	struct nvme_fault_event events[NVME_FAULT_EVENTS];
	uint64_t nevents;
};

struct nvme_target {
	struct nvme_target_params params;
	struct nvme_faults faults;
	char listen_addr[NVMF_DISC_ENTRY_TRADDR_LEN];
	uint64_t start_ns;
	atomic_uint next_cntlid;
	struct nvme_subsys discovery;
	struct nvme_subsys **subsys;
	size_t nsubsys;
	struct nvme_host_list hosts; /* allowed in every subsystem */
	/* DH-HMAC-CHAP sequence numbers the controller's challenges carry (never 0). */
	atomic_uint auth_seqnum;
	struct log_once ctrl_limit_logged;
};

struct nvme_error_log {
	pthread_mutex_t lock;
	uint64_t count;
	struct nvme_error_log_page entry[NVME_ERROR_LOG_ENTRIES];
};

struct nvme_ctrl {
	struct nvme_subsys *subsys;
	struct nvme_ctrl *next_in_subsys;
	uint16_t cntlid;
	char hostnqn[NVMF_NQN_SIZE];
	uint8_t hostid[16];
	/* The host's --allow-host entry (NULL when an open subsystem let it in): its queues
	 * authenticate when it has a secret. */
	const struct nvme_host *host;
	atomic_int refs;
	atomic_bool dead;

	/* Admin-queue thread only */
	struct nvme_sq *admin_sq;
	uint32_t cc;
	atomic_uint csts;
	uint32_t kato_ms;
	uint64_t last_keep_alive_ns;
	struct reactor_timer kato_timer;
	uint32_t async_event_config;
	struct nvme_req *aer[NVME_AER_LIMIT];
	unsigned naer;
	uint32_t pending_events[NVME_AER_LIMIT];
	unsigned npending_events;
	/* Namespaces attached or detached since the host last read log 04h; the event is
	 * masked until it does (more than the log holds: the first entry is FFFFFFFFh). */
	uint32_t changed_ns[NVME_CHANGED_NS_LOG_SIZE / 4];
	unsigned nchanged_ns;
	bool ns_change_masked;
	/* SMART critical warning bits already reported by an event, masked until the SMART
	 * log is read without RAE. */
	uint8_t smart_events_masked;
	/* CSTS.CFS set by a fault (fault_id), counted in the target's attention until reset. */
	atomic_bool fatal;
	uint32_t fatal_fault_id;

	pthread_mutex_t lock; /* guards io_sq and io_queues_granted */
	uint16_t io_queues_granted;
	struct nvme_sq **io_sq; /* by qid, 1-based */

	struct nvme_error_log errors;
};

/* target.c */
struct nvme_subsys *nvme_target_find_subsys(struct nvme_target *target, const char *nqn);
/* May hostnqn connect to subsys?  *host gets its --allow-host entry, if any. */
bool nvme_subsys_admits(const struct nvme_subsys *subsys, const char *hostnqn,
			const struct nvme_host **host);
struct ns *nvme_subsys_ns(const struct nvme_subsys *subsys, uint32_t nsid);
uint16_t nvme_target_alloc_cntlid(struct nvme_target *target);

/* ctrl.c */
struct nvme_ctrl *nvme_ctrl_create(struct nvme_subsys *subsys, struct nvme_sq *admin_sq,
				   const struct nvmf_connect_data *data, uint32_t kato_ms,
				   const struct nvme_host *host);
/* Live controllers of hostnqn in every subsystem, discovery included. */
unsigned nvme_target_count_ctrls(struct nvme_target *target, const char *hostnqn);
struct nvme_ctrl *nvme_ctrl_get_by_id(struct nvme_subsys *subsys, uint16_t cntlid);
void nvme_ctrl_put(struct nvme_ctrl *ctrl);
void nvme_ctrl_teardown(struct nvme_ctrl *ctrl);
void nvme_ctrl_keep_alive(struct nvme_ctrl *ctrl);
void nvme_ctrl_set_kato(struct nvme_ctrl *ctrl, uint32_t kato_ms);
uint64_t nvme_ctrl_cap(const struct nvme_ctrl *ctrl);
void nvme_ctrl_write_cc(struct nvme_ctrl *ctrl, uint32_t cc);
void nvme_ctrl_record_error(struct nvme_ctrl *ctrl, const struct nvme_req *req, uint16_t status);
void nvme_ctrl_queue_aer(struct nvme_ctrl *ctrl, struct nvme_req *req);
/* On the admin-queue thread: completes a held AER with the event, or keeps it for the next. */
void nvme_ctrl_post_event(struct nvme_ctrl *ctrl, uint32_t event);
/*
 * Runs fn(ctrl, arg) on the admin-queue thread of every live controller of subsys (cntlid 0:
 * all of them), holding a reference meanwhile.  From any thread.
 */
void nvme_subsys_for_each_ctrl(struct nvme_subsys *subsys, uint16_t cntlid,
			       void (*fn)(struct nvme_ctrl *ctrl, uint64_t arg), uint64_t arg);
/* A controller stops being fatal (reset or gone): its share of the attention is given back. */
void nvme_ctrl_clear_fatal(struct nvme_ctrl *ctrl);

/* req.c */
/*
 * A check failed on the SQE field at byte sqe_byte (NVME_SQE_AT(rw.slba)):
 * returns status, and the error log entry of the answer will name that byte,
 * as the specification's Parameter Error Location asks.
 */
uint16_t nvme_req_error_at(struct nvme_req *req, uint16_t status, size_t sqe_byte);
#define NVME_SQE_AT(field) offsetof(struct nvme_sqe, field)
void nvme_req_complete(struct nvme_req *req, uint16_t status);
/*
 * Answers when the model says: done_ns is the namespace kind's pure model time
 * for work that started at start_ns.  The one place the transport floor of
 * req->ns comes off (the host's own round trip already costs that much); a
 * request without a namespace (Flush of every namespace) passes a time
 * nvme_model_due() already gave.
 */
void nvme_req_complete_at(struct nvme_req *req, uint16_t status, uint64_t start_ns,
			  uint64_t done_ns);
/* done_ns less ns's transport floor, never before start_ns. */
uint64_t nvme_model_due(const struct ns *ns, uint64_t start_ns, uint64_t done_ns);
uint16_t nvme_req_expect_data(struct nvme_req *req, enum nvme_xfer xfer, uint32_t len);
void nvme_req_copy_out(struct nvme_req *req, const void *src, size_t len);
/* A namespace answered NS_IO_PENDING: the queue stays busy until it calls back. */
void nvme_req_io_wait(struct nvme_req *req);
/* The namespace called back: false when the request was cancelled meanwhile (drop it). */
bool nvme_req_io_back(struct nvme_req *req);

/* fabrics.c */
uint16_t nvme_parse_fabrics(struct nvme_req *req);

/* auth.c: DH-HMAC-CHAP on one queue */
/* A Connect succeeded for a host with a secret: the queue accepts nothing but
 * Authentication Send/Receive until the host has authenticated. */
void nvme_auth_require(struct nvme_sq *sq);
uint16_t nvme_parse_auth(struct nvme_req *req);
/* The queue is going away: forget its transaction (and the key material in it). */
void nvme_auth_free(struct nvme_sq *sq);

/* admin.c */
uint16_t nvme_parse_admin(struct nvme_req *req);
uint16_t nvme_parse_discovery_admin(struct nvme_req *req);

/* identify.c */
void nvme_execute_identify(struct nvme_req *req);

/* fault.c */
/*
 * Walking the active faults without the lock: begin returns the first (follow f->next with
 * seq-cst loads); after end no fault of the walk may be touched.  A cleared fault is freed
 * only when its clear, or a later add or clear, sees no walker.
 */
struct nvme_fault *nvme_faults_walk_begin(struct nvme_faults *faults);
void nvme_faults_walk_end(struct nvme_faults *faults);
void nvme_faults_init(struct nvme_faults *faults);
void nvme_faults_destroy(struct nvme_faults *faults);
void nvme_fault_log(struct nvme_target *target, const struct nvme_fault *f,
		    const struct nvme_subsys *subsys, uint32_t nsid, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* An event fault fires (on a command, or when it becomes active). */
void nvme_fault_fire(struct nvme_fault *f);
/* A subsystem's critical warning bits went up: tell the controllers that asked (SMART AER). */
void nvme_fault_warnings_changed(struct nvme_subsys *subsys);
/* After a write to namespace nsid: a wear warning its model newly raised is announced. */
void nvme_wear_check(struct nvme_subsys *subsys, uint32_t nsid);

/* fault_io.c */
/* Called by I/O parsing when faults are set, the command checked: decides what faults do to it. */
void nvme_fault_command(struct nvme_req *req);
/* The answer is about to be queued: heal blocks a write rewrote. */
void nvme_fault_answered(struct nvme_req *req, uint16_t status);
/* Admin commands of a controller a fault made fatal are held; true when req is. */
bool nvme_fault_hold_admin(struct nvme_req *req);
/* A command a fault holds: never answered, forgotten when its connection goes. */
bool nvme_fault_held(const struct nvme_req *req);
/* The completion time once the faults that delay or throttle it are added. */
uint64_t nvme_fault_due(struct nvme_req *req, uint64_t start_ns, uint64_t done_ns);
/* A fault's effect when it becomes active or ends (timer thread, or the one adding it). */
void nvme_fault_start(struct nvme_fault *f);
void nvme_fault_end(struct nvme_fault *f);
/* thermal: the temperature now (advanced to now with nothing moved; logs a crossing and
 * warns the controllers, so never under the faults lock). */
double nvme_fault_temperature(struct nvme_fault *f, uint64_t now_ns);
/* The same without advancing or logging anything: for a listing under the faults lock. */
double nvme_fault_temperature_peek(struct nvme_fault *f, uint64_t now_ns);

/* logpage.c */
void nvme_execute_get_log_page(struct nvme_req *req);
uint32_t nvme_get_log_len(const struct nvme_req *req);
/* The part of a log page (or other returned structure) the host asked for: [offset, offset + len). */
struct log_window {
	uint8_t *out;
	uint64_t offset;
	uint32_t len;
};
/* Copies whatever part of [at, at + size) falls inside the window. */
void window_put(struct log_window *w, uint64_t at, const void *src, size_t size);

/* io.c */
uint16_t nvme_parse_io(struct nvme_req *req);
/*
 * Runs a namespace op on req->io (filled by the caller); done() finishes the command, at once
 * or when the namespace calls back (a file's I/O), on the queue's thread either way.
 */
void nvme_run_io(struct nvme_req *req, uint16_t (*op)(struct ns *ns, struct ns_io *io),
		 void (*done)(struct nvme_req *req, uint16_t status));
/* LBA Out of Range, naming SLBA, unless the command's SLBA and NLB fit req->ns. */
uint16_t nvme_check_rw_range(struct nvme_req *req);
/* The LBA range a command names, for traces: nlb 0 when it names none. */
void nvme_io_cmd_range(const struct nvme_sqe *cmd, uint64_t *slba, uint32_t *nlb);
/* A successful I/O command of a namespace, counted in its reactor's shard (req->io_shard). */
void nvme_req_count_read(struct nvme_req *req, uint64_t bytes);
void nvme_req_count_write(struct nvme_req *req, uint64_t bytes);

/* fdp.c */
int nvme_fdp_slot_init(struct nvme_ns_slot *slot);
/*
 * logpage.c: adds a namespace's host activity over its lifetime (earlier runs of a drive
 * directory included) to *sum, and takes the highest of its power figures into *power (the
 * drive's are those of its namespaces taken together).
 */
void nvme_ns_activity(const struct nvme_ns_slot *slot, struct nvme_io_totals *sum,
		      struct ns_lifetime *power);
/* Logs the model's pending events (time limits) first. */
void nvme_fdp_slot_destroy(struct nvme_ns_slot *slot, uint32_t nsid);
/* Some namespace has FDP enabled: the controller reports endurance groups and FDP. */
bool nvme_subsys_has_fdp(const struct nvme_subsys *subsys);
/* A write's DTYPE: none, or Data Placement where FDP is enabled. */
uint16_t nvme_fdp_check_directive(struct nvme_req *req);
/* Where a write goes (its DSPEC, or placement handle 0); an invalid PID is logged as an event. */
void nvme_fdp_place(struct nvme_req *req, struct ns_io *io);
uint16_t nvme_parse_io_mgmt(struct nvme_req *req);
/* Log pages 09h and 20h-23h: their size (0: not offered) and content. */
uint64_t nvme_fdp_log_size(const struct nvme_req *req, uint8_t lid);
uint16_t nvme_fdp_log(struct nvme_req *req, uint8_t lid, struct log_window *w);
/* Features FDP (1Dh) and FDP Events (1Eh). */
uint16_t nvme_fdp_parse_feature(struct nvme_req *req, bool set);
uint16_t nvme_fdp_get_feature(struct nvme_req *req);
uint16_t nvme_fdp_set_feature(struct nvme_req *req);
/* nvemu's vendor log: a record per reclaim unit handle, then per group, from `at` on. */
void nvme_fdp_records(struct nvme_ns_slot *slot, struct log_window *w, uint64_t at);

/* zns.c */
/* OAES and Asynchronous Event Configuration bit: Zone Descriptor Changed Notices. */
#define NVME_CTRL_OAES_ZONE_DESC_CHANGED (1u << 27)
uint16_t nvme_parse_zns(struct nvme_req *req);
bool nvme_subsys_has_zoned(const struct nvme_subsys *subsys);
void nvme_zns_identify_ctrl(const struct nvme_subsys *subsys, struct nvme_id_ctrl_zns *id);
uint16_t nvme_zns_identify_ns(struct ns *ns, struct nvme_id_ns_zns *id);
uint16_t nvme_zns_changed_zone_log(struct nvme_req *req, uint8_t page[4096]);

#endif
