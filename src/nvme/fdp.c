/*
 * Flexible Data Placement (TP4146) as the host sees it: endurance groups, the FDP log pages
 * (20h-23h) and the Endurance Group Information log (09h), Features FDP (1Dh) and FDP Events
 * (1Eh), I/O Management Receive/Send (Reclaim Unit Handle Status and Update), and the
 * placement of writes with DTYPE 2. The model behind it is the ssd kind's (ns_fdp_ops); here
 * are the protocol, the namespace's Placement Handle List and the event logs.
 *
 * Every namespace is an endurance group of its own (ENDGID = NSID): a namespace of the ssd kind
 * is a drive with its own flash. Endurance groups are reported only when some namespace of the
 * subsystem has FDP enabled, so without FDP the controller looks as it did before.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nvme/internal.h"
#include "util/util.h"

/* FDP Event types in the order of their bits (struct ns_fdp_events.disabled). */
static const uint8_t event_types[] = {
    NVME_FDP_EVENT_RUNFW, NVME_FDP_EVENT_RUTLE,   NVME_FDP_EVENT_RESET,
    NVME_FDP_EVENT_PID,   NVME_FDP_EVENT_REALLOC, NVME_FDP_EVENT_MODIFY,
};
_Static_assert(ARRAY_SIZE(event_types) == NS_FDP_EVENT_TYPES, "ns.h counts the event types");

struct nvme_fdp_eg {
	pthread_mutex_t lock; /* the logs and enables: any queue's thread writes events */
	struct ns_fdp_events *logs; /* the namespace's (kept in its drive directory, if any) */
};

static bool event_enabled(const struct nvme_fdp_eg *eg, uint32_t ruh, int bit)
{
	return !(eg->logs->disabled[ruh] & 1u << bit);
}

static int event_bit(uint8_t type)
{
	for (size_t i = 0; i < ARRAY_SIZE(event_types); i++)
		if (event_types[i] == type)
			return (int)i;
	return -1;
}

int nvme_fdp_slot_init(struct nvme_ns_slot *slot)
{
	if (!slot->ns->fdp || !slot->ns->fdp->config.enabled)
		return 0;
	if (!slot->ns->fdp_events || !(slot->fdp = calloc(1, sizeof(*slot->fdp))))
		return -1;
	pthread_mutex_init(&slot->fdp->lock, NULL);
	/* Every event type starts enabled (the specification leaves the default to the drive):
	 * the namespace's settings start as zeroes, nothing turned off. */
	slot->fdp->logs = slot->ns->fdp_events;
	return 0;
}

static void drain_model_events(struct nvme_ns_slot *slot, uint32_t nsid);

void nvme_fdp_slot_destroy(struct nvme_ns_slot *slot, uint32_t nsid)
{
	if (!slot->fdp)
		return;
	/* The model's own events are logged before it goes, so a drive directory keeps them. */
	pthread_mutex_lock(&slot->fdp->lock);
	drain_model_events(slot, nsid);
	pthread_mutex_unlock(&slot->fdp->lock);
	pthread_mutex_destroy(&slot->fdp->lock);
	free(slot->fdp);
	slot->fdp = NULL;
}

bool nvme_subsys_has_fdp(const struct nvme_subsys *subsys)
{
	for (uint32_t nsid = 1; nsid <= subsys->nn; nsid++)
		if (subsys->ns[nsid - 1].fdp)
			return true;
	return false;
}

/* Bits of a Placement Identifier that name the reclaim group (RGIF). */
static unsigned rgif(const struct ns_fdp *fdp)
{
	unsigned bits = 0;
	while ((1u << bits) < fdp->config.nrg)
		bits++;
	return bits;
}

static uint16_t make_pid(const struct ns_fdp *fdp, uint32_t rg, uint32_t ph)
{
	unsigned bits = rgif(fdp);
	return (uint16_t)(bits ? rg << (16 - bits) | ph : ph);
}

/* False when pid names no reclaim group or placement handle of the namespace. */
static bool parse_pid(const struct ns_fdp *fdp, uint16_t pid, uint32_t *ph, uint32_t *rg)
{
	unsigned bits = rgif(fdp);
	*rg = bits ? pid >> (16 - bits) : 0;
	*ph = pid & (0xFFFFu >> bits);
	return *rg < fdp->config.nrg && *ph < fdp->nph;
}

/* The placement handle naming ruh in the namespace's list, or -1. */
static int ph_of(const struct ns_fdp *fdp, uint32_t ruh)
{
	for (uint32_t ph = 0; ph < fdp->nph; ph++)
		if (fdp->ph_ruh[ph] == ruh)
			return (int)ph;
	return -1;
}

/* Wall-clock milliseconds of a monotonic clock_now_ns() time, for event timestamps. */
static uint64_t epoch_ms(uint64_t at_ns)
{
	struct timespec real;
	clock_gettime(CLOCK_REALTIME, &real);
	uint64_t now_ms = (uint64_t)real.tv_sec * 1000 + (uint64_t)real.tv_nsec / 1000000;
	uint64_t ago_ms = (clock_now_ns() - at_ns) / 1000000;
	return now_ms > ago_ms ? now_ms - ago_ms : 0;
}

/*
 * Logs an event of reclaim unit handle ruh (UINT32_MAX: none) if the handle has it enabled;
 * pid < 0 when there is none to report. Call with the endurance group's lock held.
 */
static void log_event(const struct nvme_ns_slot *slot, uint32_t nsid, uint8_t type, uint32_t ruh,
		      uint32_t rg, int pid, uint64_t at_ns)
{
	struct nvme_fdp_eg *eg = slot->fdp;
	int bit = event_bit(type);
	uint32_t filter_ruh = ruh != UINT32_MAX ? ruh : slot->ns->fdp->ph_ruh[0];
	if (bit < 0 || !event_enabled(eg, filter_ruh, bit))
		return;
	struct ns_fdp_event_log *log = type & 0x80 ? &eg->logs->ctrl : &eg->logs->host;
	/* The oldest gives way first, and the new entry counts once whole: a drive directory's
	 * log, cut short at any point, shows whole entries. */
	if (log->count == NVME_FDP_MAX_EVENTS) {
		log->count--;
		log->head = (log->head + 1) % NVME_FDP_MAX_EVENTS;
	}
	struct nvme_fdp_event *e = &log->ev[(log->head + log->count) % NVME_FDP_MAX_EVENTS];
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->flags = NVME_FDP_EVENT_F_NSIDV;
	e->nsid = nsid;
	if (pid >= 0) {
		e->flags |= NVME_FDP_EVENT_F_PIV;
		e->pid = (uint16_t)pid;
	}
	if (ruh != UINT32_MAX) {
		e->flags |= NVME_FDP_EVENT_F_LV;
		e->rgid = (uint16_t)rg;
		e->ruhid = (uint8_t)ruh;
	}
	uint64_t ms = epoch_ms(at_ns);
	memcpy(e->timestamp, &ms, sizeof(e->timestamp)); /* 48 bits, little-endian */
	atomic_signal_fence(memory_order_seq_cst);
	log->count++;
}

/* The model's own events (time limits) into the logs, in order. Lock held. */
static void drain_model_events(struct nvme_ns_slot *slot, uint32_t nsid)
{
	struct ns *ns = slot->ns;
	struct ssd_fdp_event ev[16];
	size_t n;
	while ((n = ns->ops->fdp->take_events(ns, clock_now_ns(), ev, ARRAY_SIZE(ev))) > 0) {
		for (size_t i = 0; i < n; i++) {
			int ph = ph_of(ns->fdp, ev[i].ruh);
			int pid = ph < 0 ? -1 : make_pid(ns->fdp, ev[i].rg, (uint32_t)ph);
			/* The drive closed the handle's unit on its own: a host event (the time
			 * limit passed) and a controller one (the handle now names another). */
			log_event(slot, nsid, NVME_FDP_EVENT_RUTLE, ev[i].ruh, ev[i].rg, pid,
				  ev[i].at_ns);
			log_event(slot, nsid, NVME_FDP_EVENT_MODIFY, ev[i].ruh, ev[i].rg, pid,
				  ev[i].at_ns);
		}
	}
}

/* ---- writes ---- */

static struct nvme_ns_slot *req_slot(const struct nvme_req *req)
{
	return &req->sq->ctrl->subsys->ns[req->cmd.nsid - 1];
}

uint16_t nvme_fdp_check_directive(struct nvme_req *req)
{
	uint8_t dtype =
	    (req->cmd.rw.control & NVME_RW_CONTROL_DTYPE_MASK) >> NVME_RW_CONTROL_DTYPE_SHIFT;
	if (dtype == 0 || (dtype == NVME_DIRECTIVE_DATA_PLACEMENT && req_slot(req)->fdp))
		return NVME_SC_SUCCESS;
	/* Streams are not supported, and Data Placement only where FDP is enabled. */
	return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
				 NVME_SQE_AT(rw.control));
}

void nvme_fdp_place(struct nvme_req *req, struct ns_io *io)
{
	struct nvme_ns_slot *slot = req_slot(req);
	const struct ns_fdp *fdp = slot->ns->fdp;
	if (!slot->fdp)
		return;
	uint32_t ph = 0, rg = 0;
	bool directed = (req->cmd.rw.control & NVME_RW_CONTROL_DTYPE_MASK) != 0;
	if (directed && !parse_pid(fdp, req->cmd.rw.dspec, &ph, &rg)) {
		/* The write goes where a write without placement would, and the host hears. */
		pthread_mutex_lock(&slot->fdp->lock);
		drain_model_events(slot, req->cmd.nsid);
		log_event(slot, req->cmd.nsid, NVME_FDP_EVENT_PID, UINT32_MAX, 0, req->cmd.rw.dspec,
			  clock_now_ns());
		pthread_mutex_unlock(&slot->fdp->lock);
		ph = rg = 0;
	}
	io->placed = true;
	io->ruh = fdp->ph_ruh[ph];
	io->rg = rg;
}

/* ---- I/O Management Receive and Send ---- */

static void execute_ruh_status(struct nvme_req *req)
{
	struct nvme_ns_slot *slot = req_slot(req);
	const struct ns_fdp *fdp = slot->ns->fdp;
	struct nvme_fdp_ruh_status hdr = {.nruhsd = (uint16_t)(fdp->nph * fdp->config.nrg)};
	uint64_t now = clock_now_ns();
	memset(req->buf, 0, req->data_len);
	req->data = req->buf;
	struct log_window w = {.out = req->buf, .len = req->data_len};
	window_put(&w, 0, &hdr, sizeof(hdr));
	uint64_t at = sizeof(hdr);
	for (uint32_t ph = 0; ph < fdp->nph; ph++) {
		for (uint32_t rg = 0; rg < fdp->config.nrg;
		     rg++, at += sizeof(struct nvme_fdp_ruh_status_desc)) {
			uint64_t available;
			uint32_t seconds;
			slot->ns->ops->fdp->ruh_status(slot->ns, fdp->ph_ruh[ph], rg, now,
						       &available, &seconds);
			struct nvme_fdp_ruh_status_desc d = {
			    .pid = make_pid(fdp, rg, ph),
			    .ruhid = fdp->ph_ruh[ph],
			    .earutr = seconds,
			    .ruamw = available,
			};
			window_put(&w, at, &d, sizeof(d));
		}
	}
	nvme_req_complete(req, NVME_SC_SUCCESS);
}

static void execute_ruh_update(struct nvme_req *req)
{
	struct nvme_ns_slot *slot = req_slot(req);
	const struct ns_fdp *fdp = slot->ns->fdp;
	uint32_t npid = req->cmd.io_mgmt.mos + 1u;
	const uint16_t *pids = req->buf;
	uint32_t ph, rg;
	for (uint32_t i = 0; i < npid; i++) /* all or nothing: check every one first */
		if (!parse_pid(fdp, pids[i], &ph, &rg)) {
			nvme_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
			return;
		}
	uint64_t now = clock_now_ns();
	pthread_mutex_lock(&slot->fdp->lock);
	drain_model_events(slot, req->cmd.nsid);
	for (uint32_t i = 0; i < npid; i++) {
		parse_pid(fdp, pids[i], &ph, &rg);
		if (slot->ns->ops->fdp->update(slot->ns, fdp->ph_ruh[ph], rg, now))
			log_event(slot, req->cmd.nsid, NVME_FDP_EVENT_RUNFW, fdp->ph_ruh[ph], rg,
				  pids[i], now);
	}
	pthread_mutex_unlock(&slot->fdp->lock);
	nvme_req_complete(req, NVME_SC_SUCCESS);
}

static void execute_nop(struct nvme_req *req)
{
	memset(req->buf, 0, req->data_len);
	req->data = req->buf;
	nvme_req_complete(req, NVME_SC_SUCCESS);
}

uint16_t nvme_parse_io_mgmt(struct nvme_req *req)
{
	const struct nvme_io_mgmt_fields *c = &req->cmd.io_mgmt;
	bool receive = req->cmd.opcode == nvme_cmd_io_mgmt_recv;
	if (!req_slot(req)->fdp)
		return nvme_req_error_at(req, NVME_SC_FDP_DISABLED | NVME_STATUS_DNR,
					 NVME_SQE_AT(opcode));
	if (receive) {
		if (c->mo != NVME_IO_MGMT_RECV_NOP && c->mo != NVME_IO_MGMT_RECV_RUH_STATUS)
			return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
						 NVME_SQE_AT(io_mgmt.mo));
		req->execute = c->mo ? execute_ruh_status : execute_nop;
		uint64_t len = ((uint64_t)c->numd + 1) * 4;
		return nvme_req_expect_data(req, NVME_XFER_C2H,
					    len > UINT32_MAX ? UINT32_MAX : (uint32_t)len);
	}
	if (c->mo == NVME_IO_MGMT_SEND_NOP) {
		req->execute = execute_nop;
		return nvme_req_expect_data(req, NVME_XFER_NONE, 0);
	}
	if (c->mo != NVME_IO_MGMT_SEND_RUH_UPDATE)
		return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
					 NVME_SQE_AT(io_mgmt.mo));
	/* The PIDs: NPID of them, in a buffer the host may round up (Linux sends what it has). */
	const struct ns_fdp *fdp = req->ns->fdp;
	uint32_t needed = (c->mos + 1u) * 2u, sent = req->cmd.dptr.length;
	if (c->mos + 1u > fdp->nph * fdp->config.nrg)
		return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
					 NVME_SQE_AT(io_mgmt.mos));
	if (sent < needed || sent > 4096)
		return nvme_req_error_at(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR,
					 NVME_SQE_AT(dptr.length));
	req->execute = execute_ruh_update;
	return nvme_req_expect_data(req, NVME_XFER_H2C, sent);
}

/* ---- log pages ---- */

/* The endurance group a log page names (LSI), or NULL having set the error. */
static struct nvme_ns_slot *log_group(struct nvme_req *req, uint16_t *status)
{
	const struct nvme_subsys *subsys = req->sq->ctrl->subsys;
	uint16_t endgid = req->cmd.get_log_page.lsi;
	if (!nvme_subsys_has_fdp(subsys) || endgid == 0 || endgid > subsys->nn ||
	    !subsys->ns[endgid - 1].ns) {
		*status = nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
					    NVME_SQE_AT(get_log_page.lsi));
		return NULL;
	}
	*status = NVME_SC_SUCCESS;
	return (struct nvme_ns_slot *)&subsys->ns[endgid - 1];
}

static size_t config_desc_size(const struct ns_fdp *fdp)
{
	size_t size = sizeof(struct nvme_fdp_config_desc) +
		      fdp->config.nruh * sizeof(struct nvme_fdp_ruh_desc);
	return (size + 7) & ~(size_t)7;
}

uint64_t nvme_fdp_log_size(const struct nvme_req *req, uint8_t lid)
{
	const struct nvme_subsys *subsys = req->sq->ctrl->subsys;
	uint16_t endgid = req->cmd.get_log_page.lsi;
	if (!nvme_subsys_has_fdp(subsys))
		return 0;
	const struct ns *ns = endgid && endgid <= subsys->nn ? subsys->ns[endgid - 1].ns : NULL;
	switch (lid) {
	case NVME_LOG_ENDURANCE_GROUP:
		return sizeof(struct nvme_endurance_group_log);
	case NVME_LOG_FDP_CONFIGS:
		return sizeof(struct nvme_fdp_config_log) +
		       (ns && ns->fdp ? config_desc_size(ns->fdp) : 0);
	case NVME_LOG_FDP_RUH_USAGE:
		return sizeof(struct nvme_fdp_ruhu_log) +
		       (ns && ns->fdp ? ns->fdp->config.nruh * sizeof(struct nvme_fdp_ruhu_desc)
				      : 0);
	case NVME_LOG_FDP_STATS:
		return sizeof(struct nvme_fdp_stats_log);
	case NVME_LOG_FDP_EVENTS:
		return sizeof(struct nvme_fdp_events_log);
	default:
		return 0;
	}
}

static void put_u128(uint8_t field[16], uint64_t value)
{
	memset(field, 0, 16);
	memcpy(field, &value, sizeof(value));
}

/* The host's writes to the endurance group over the drive's life (its earlier runs too). */
static void lifetime_io(const struct nvme_ns_slot *slot, struct nvme_io_totals *io)
{
	struct ns_lifetime power = {0};
	memset(io, 0, sizeof(*io));
	nvme_ns_activity(slot, io, &power);
}

static uint16_t endurance_group_log(struct nvme_req *req, struct nvme_ns_slot *slot,
				    struct log_window *w)
{
	struct nvme_io_totals io;
	lifetime_io(slot, &io);
	struct ns_model_counters model = {0};
	if (slot->ns->ops->model_counters)
		slot->ns->ops->model_counters(slot->ns, &model);
	struct nvme_endurance_group_log log;
	memset(&log, 0, sizeof(log));
	log.avl_spare = 100;
	log.avl_spare_threshold = 10;
	/* Data and media units are thousands of 512-byte units, rounded up. */
	put_u128(log.data_units_read, (io.read_bytes + 511999) / 512000);
	put_u128(log.data_units_written, (io.write_bytes + 511999) / 512000);
	put_u128(log.media_units_written, (model.media_bytes_written + 511999) / 512000);
	put_u128(log.host_read_cmds, io.read_cmds);
	put_u128(log.host_write_cmds, io.write_cmds);
	put_u128(log.total_end_grp_cap, slot->ns->nlbas << slot->ns->lba_shift);
	pthread_mutex_lock(&req->sq->ctrl->errors.lock);
	put_u128(log.num_err_info_log_entries, req->sq->ctrl->errors.count);
	pthread_mutex_unlock(&req->sq->ctrl->errors.lock);
	window_put(w, 0, &log, sizeof(log));
	return NVME_SC_SUCCESS;
}

static uint16_t configs_log(struct nvme_req *req, const struct ns_fdp *fdp, struct log_window *w)
{
	if (!fdp) /* an endurance group without FDP: it has no configuration to report */
		return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
					 NVME_SQE_AT(get_log_page.lsi));
	size_t desc_size = config_desc_size(fdp);
	struct nvme_fdp_config_log hdr = {.n = 0, .size = (uint32_t)(sizeof(hdr) + desc_size)};
	struct nvme_fdp_config_desc d = {
	    .size = (uint16_t)desc_size,
	    .fdpa = NVME_FDP_FDPA_VALID | NVME_FDP_FDPA_FDPVWC | rgif(fdp),
	    .nrg = fdp->config.nrg,
	    .nruh = (uint16_t)fdp->config.nruh,
	    .maxpids = (uint16_t)(fdp->config.nruh - 1),
	    .nnss = 1,
	    .runs = fdp->ru_bytes,
	    .erutl = fdp->config.time_limit_s,
	};
	window_put(w, 0, &hdr, sizeof(hdr));
	window_put(w, sizeof(hdr), &d, sizeof(d));
	for (uint32_t h = 0; h < fdp->config.nruh; h++) {
		struct nvme_fdp_ruh_desc ruh = {.ruht = fdp->config.persistent[h]
							    ? NVME_FDP_RUHT_PERSISTENTLY_ISOLATED
							    : NVME_FDP_RUHT_INITIALLY_ISOLATED};
		window_put(w, sizeof(hdr) + sizeof(d) + h * sizeof(ruh), &ruh, sizeof(ruh));
	}
	return NVME_SC_SUCCESS;
}

static void usage_log(const struct ns_fdp *fdp, struct log_window *w)
{
	struct nvme_fdp_ruhu_log hdr = {.nruh = (uint16_t)fdp->config.nruh};
	window_put(w, 0, &hdr, sizeof(hdr));
	for (uint32_t h = 0; h < fdp->config.nruh; h++) {
		struct nvme_fdp_ruhu_desc d = {.ruha = ph_of(fdp, h) >= 0 ? NVME_FDP_RUHA_HOST
									  : NVME_FDP_RUHA_UNUSED};
		window_put(w, sizeof(hdr) + h * sizeof(d), &d, sizeof(d));
	}
}

static void stats_log(struct nvme_ns_slot *slot, struct log_window *w)
{
	struct nvme_io_totals io;
	lifetime_io(slot, &io);
	struct ns_model_counters model = {0};
	slot->ns->ops->model_counters(slot->ns, &model);
	struct nvme_fdp_stats_log log;
	memset(&log, 0, sizeof(log));
	put_u128(log.hbmw, io.write_bytes);
	put_u128(log.mbmw, model.media_bytes_written);
	put_u128(log.mbe, model.media_bytes_erased);
	window_put(w, 0, &log, sizeof(log));
}

static void events_log(struct nvme_req *req, struct nvme_ns_slot *slot, uint32_t nsid,
		       struct log_window *w)
{
	struct nvme_fdp_eg *eg = slot->fdp;
	pthread_mutex_lock(&eg->lock);
	drain_model_events(slot, nsid);
	const struct ns_fdp_event_log *log =
	    req->cmd.get_log_page.lsp & NVME_FDP_EVENTS_LSP_HOST ? &eg->logs->host : &eg->logs->ctrl;
	struct nvme_fdp_events_log *page = calloc(1, sizeof(*page));
	if (page) {
		page->n = log->count;
		for (unsigned i = 0; i < log->count; i++)
			page->events[i] = log->ev[(log->head + i) % NVME_FDP_MAX_EVENTS];
		window_put(w, 0, page, sizeof(*page));
	}
	pthread_mutex_unlock(&eg->lock);
	free(page);
}

uint16_t nvme_fdp_log(struct nvme_req *req, uint8_t lid, struct log_window *w)
{
	uint16_t status;
	struct nvme_ns_slot *slot = log_group(req, &status);
	if (!slot)
		return status;
	uint32_t nsid = (uint32_t)(slot - req->sq->ctrl->subsys->ns) + 1;
	if (lid == NVME_LOG_ENDURANCE_GROUP)
		return endurance_group_log(req, slot, w);
	if (lid == NVME_LOG_FDP_CONFIGS)
		return configs_log(req, slot->ns->fdp, w);
	if (!slot->fdp)
		return nvme_req_error_at(req, NVME_SC_FDP_DISABLED | NVME_STATUS_DNR,
					 NVME_SQE_AT(get_log_page.lsi));
	if (lid == NVME_LOG_FDP_RUH_USAGE)
		usage_log(slot->ns->fdp, w);
	else if (lid == NVME_LOG_FDP_STATS)
		stats_log(slot, w);
	else
		events_log(req, slot, nsid, w);
	return NVME_SC_SUCCESS;
}

/* ---- features ---- */

static uint16_t bad_dword11(struct nvme_req *req)
{
	return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
				 NVME_SQE_AT(features.dword11));
}

/* The endurance group of Features FDP (CDW11 bits 15:0), NULL having set the error. */
static struct nvme_ns_slot *feature_group(struct nvme_req *req, uint16_t *status)
{
	const struct nvme_subsys *subsys = req->sq->ctrl->subsys;
	uint32_t endgid = req->cmd.features.dword11 & 0xFFFF;
	if (!nvme_subsys_has_fdp(subsys) || endgid == 0 || endgid > subsys->nn ||
	    !subsys->ns[endgid - 1].ns) {
		*status = bad_dword11(req);
		return NULL;
	}
	*status = NVME_SC_SUCCESS;
	return (struct nvme_ns_slot *)&subsys->ns[endgid - 1];
}

/* The namespace of Features FDP Events and its placement handle, NULL having set the error. */
static struct nvme_ns_slot *event_feature_slot(struct nvme_req *req, uint32_t *ruh,
					       uint16_t *status)
{
	const struct nvme_subsys *subsys = req->sq->ctrl->subsys;
	uint32_t nsid = req->cmd.nsid;
	if (nsid == 0 || nsid > subsys->nn || !subsys->ns[nsid - 1].ns) {
		*status =
		    nvme_req_error_at(req, NVME_SC_INVALID_NS | NVME_STATUS_DNR, NVME_SQE_AT(nsid));
		return NULL;
	}
	struct nvme_ns_slot *slot = (struct nvme_ns_slot *)&subsys->ns[nsid - 1];
	uint32_t ph = req->cmd.features.dword11 & 0xFFFF;
	if (!slot->fdp) {
		*status = nvme_req_error_at(req, NVME_SC_FDP_DISABLED | NVME_STATUS_DNR,
					    NVME_SQE_AT(nsid));
		return NULL;
	}
	if (ph >= slot->ns->fdp->nph) {
		*status = bad_dword11(req);
		return NULL;
	}
	*ruh = slot->ns->fdp->ph_ruh[ph];
	*status = NVME_SC_SUCCESS;
	return slot;
}

uint16_t nvme_fdp_parse_feature(struct nvme_req *req, bool set)
{
	if (req->cmd.features.fid == NVME_FEAT_FDP)
		return nvme_req_expect_data(req, NVME_XFER_NONE, 0);
	/* FDP Events: Set sends NOET event types, Get returns NOET descriptors; hosts size the
	 * buffer as they like (nvme-cli sends 255 bytes), so the buffer decides, within a page. */
	uint32_t noet = req->cmd.features.dword11 >> 16 & 0xFF;
	uint32_t needed = set ? noet : 0, len = req->cmd.dptr.length;
	if (noet == 0)
		return bad_dword11(req);
	if (len < needed || len > 4096)
		return nvme_req_error_at(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR,
					 NVME_SQE_AT(dptr.length));
	return nvme_req_expect_data(req, set ? NVME_XFER_H2C : NVME_XFER_C2H, len);
}

uint16_t nvme_fdp_get_feature(struct nvme_req *req)
{
	uint16_t status;
	uint32_t ruh;
	if (req->cmd.features.fid == NVME_FEAT_FDP) {
		struct nvme_ns_slot *slot = feature_group(req, &status);
		if (slot)
			req->cqe.result = slot->fdp ? NVME_FEAT_FDP_FDPE : 0; /* configuration 0 */
		return status;
	}
	struct nvme_ns_slot *slot = event_feature_slot(req, &ruh, &status);
	if (!slot)
		return status;
	uint32_t noet = req->cmd.features.dword11 >> 16 & 0xFF, n = 0;
	struct nvme_fdp_supported_event_desc d[ARRAY_SIZE(event_types)];
	pthread_mutex_lock(&slot->fdp->lock);
	for (; n < ARRAY_SIZE(event_types) && n < noet; n++)
		d[n] = (struct nvme_fdp_supported_event_desc){
		    .evt = event_types[n], .evta = event_enabled(slot->fdp, ruh, (int)n)};
	pthread_mutex_unlock(&slot->fdp->lock);
	nvme_req_copy_out(req, d, n * sizeof(d[0]));
	req->cqe.result = n;
	return NVME_SC_SUCCESS;
}

uint16_t nvme_fdp_set_feature(struct nvme_req *req)
{
	uint16_t status;
	uint32_t ruh;
	if (req->cmd.features.fid == NVME_FEAT_FDP) {
		struct nvme_ns_slot *slot = feature_group(req, &status);
		if (!slot)
			return status;
		uint32_t value = req->cmd.features.dword12[0];
		if (value >> NVME_FEAT_FDP_FDPCIDX_SHIFT & 0xFF) /* one configuration: index 0 */
			return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
						 NVME_SQE_AT(features.dword12));
		/* FDP can change only in an endurance group without namespaces, and every
		 * group here is a namespace: setting what is already set is all that works. */
		if (!(value & NVME_FEAT_FDP_FDPE) != !slot->fdp)
			return nvme_req_error_at(req, NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR,
						 NVME_SQE_AT(features.dword12));
		return NVME_SC_SUCCESS;
	}
	struct nvme_ns_slot *slot = event_feature_slot(req, &ruh, &status);
	if (!slot)
		return status;
	uint32_t noet = req->cmd.features.dword11 >> 16 & 0xFF;
	bool enable = req->cmd.features.dword12[0] & 1;
	const uint8_t *types = req->buf;
	uint8_t mask = 0;
	for (uint32_t i = 0; i < noet; i++) {
		int bit = event_bit(types[i]);
		if (bit < 0) /* the data holds the types: no SQE field to name */
			return NVME_SC_INVALID_FIELD | NVME_STATUS_DNR;
		mask |= (uint8_t)(1u << bit);
	}
	pthread_mutex_lock(&slot->fdp->lock);
	uint8_t *off = &slot->fdp->logs->disabled[ruh];
	*off = enable ? *off & (uint8_t)~mask : *off | mask;
	pthread_mutex_unlock(&slot->fdp->lock);
	return NVME_SC_SUCCESS;
}

/* ---- for the vendor log page ---- */

void nvme_fdp_records(struct nvme_ns_slot *slot, struct log_window *w, uint64_t at)
{
	const struct ns_fdp *fdp = slot->ns->fdp;
	uint32_t n = fdp->config.nruh + fdp->config.nrg;
	for (uint32_t i = 0; i < n; i++, at += sizeof(struct nvemu_model_log_fdp)) {
		struct ssd_fdp_counters c;
		uint32_t id = i < fdp->config.nruh ? i : i - fdp->config.nruh;
		if (i < fdp->config.nruh)
			slot->ns->ops->fdp->handle_counters(slot->ns, id, &c);
		else
			slot->ns->ops->fdp->group_counters(slot->ns, id, &c);
		struct nvemu_model_log_fdp rec = {
		    .id = id,
		    .host_pages_written = c.host_pages,
		    .nand_pages_written = c.nand_pages,
		    .gc_pages_moved = c.gc_pages,
		    .rus_opened = c.rus_opened,
		    .rus_erased = c.rus_erased,
		    .valid_pages = c.valid_pages,
		    .waf_milli =
			c.host_pages ? (c.nand_pages * 1000 + c.host_pages / 2) / c.host_pages : 0,
		};
		window_put(w, at, &rec, sizeof(rec));
	}
}
