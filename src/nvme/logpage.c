/* Get Log Page: error, SMART / health, firmware slot, effects, changed namespaces, discovery. */
#include <stdio.h>
#include <string.h>

#include "nvme/internal.h"
#include "util/util.h"

void window_put(struct log_window *w, uint64_t at, const void *src, size_t size)
{
	uint64_t start = at > w->offset ? at : w->offset;
	uint64_t end = at + size < w->offset + w->len ? at + size : w->offset + w->len;
	if (start >= end)
		return;
	memcpy(w->out + (start - w->offset), (const uint8_t *)src + (start - at), end - start);
}

uint32_t nvme_get_log_len(const struct nvme_req *req)
{
	const struct nvme_get_log_page_fields *c = &req->cmd.get_log_page;
	uint64_t numd = ((uint64_t)c->numdu << 16 | c->numdl) + 1;
	uint64_t bytes = numd * 4;
	/* An absurd length fails the SGL length check rather than wrapping. */
	return bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
}

static void put_u128(uint8_t field[16], uint64_t value)
{
	memset(field, 0, 16);
	memcpy(field, &value, sizeof(value));
}

void nvme_ns_activity(const struct nvme_ns_slot *slot, struct nvme_io_totals *sum,
		      struct ns_lifetime *power)
{
	struct nvme_io_totals ns;
	struct ns_lifetime life;
	nvme_ns_recorder_totals(&slot->recorder, &ns);
	if (slot->ns)
		ns_lifetime(slot->ns, &life);
	else
		life = (struct ns_lifetime){0}; /* detached (ns-remove) */
	sum->read_bytes += life.read_bytes + ns.read_bytes;
	sum->write_bytes += life.write_bytes + ns.write_bytes;
	sum->read_cmds += life.read_cmds + ns.read_cmds;
	sum->write_cmds += life.write_cmds + ns.write_cmds;
	power->power_cycles = max_u64(power->power_cycles, life.power_cycles);
	power->unsafe_shutdowns = max_u64(power->unsafe_shutdowns, life.unsafe_shutdowns);
	power->power_on_seconds = max_u64(power->power_on_seconds, life.power_on_seconds);
}

/* The wear of the namespaces whose model has it, combined: the worst of each. */
struct model_wear {
	bool any, read_only;
	uint32_t avail_spare, spare_thresh;
	double percent_used;
	uint64_t retired_blocks;
};

static void add_wear(struct model_wear *w, const struct ns_model_counters *c)
{
	if (!c->wear)
		return;
	if (!w->any || c->avail_spare_pcent < w->avail_spare) {
		w->avail_spare = c->avail_spare_pcent;
		w->spare_thresh = c->spare_threshold_pcent;
	}
	if (c->percent_used > w->percent_used)
		w->percent_used = c->percent_used;
	w->read_only |= c->read_only;
	w->retired_blocks += c->retired_blocks;
	w->any = true;
}

/* Namespaces first..last (nsid 0 or FFFFFFFFh: all of them). */
static void ns_range(const struct nvme_subsys *subsys, uint32_t nsid, uint32_t *first,
		     uint32_t *last)
{
	*first = *last = nsid;
	if (nsid == 0 || nsid == 0xFFFFFFFF) {
		*first = 1;
		*last = subsys->nn;
	}
}

static bool model_counters(const struct nvme_subsys *subsys, uint32_t nsid,
			   struct ns_model_counters *c)
{
	struct ns *ns = nvme_subsys_ns(subsys, nsid);
	return ns && ns->ops->model_counters && ns->ops->model_counters(ns, c);
}

/* SMART's wear fields and critical warning bits from the models' wear (spare, read-only). */
static void smart_wear(const struct nvme_subsys *subsys, uint32_t nsid, struct nvme_smart_log *log)
{
	struct model_wear wear = {0};
	uint32_t first, last;
	ns_range(subsys, nsid, &first, &last);
	for (uint32_t i = first; i <= last; i++) {
		struct ns_model_counters c;
		if (model_counters(subsys, i, &c))
			add_wear(&wear, &c);
	}
	if (!wear.any)
		return;
	/* A spare-low fault set beside the wear model: the lower spare is the one reported. */
	if (wear.avail_spare < log->avail_spare)
		log->avail_spare = (uint8_t)wear.avail_spare;
	log->spare_thresh = (uint8_t)wear.spare_thresh;
	/* Past 254 % it reads 255. */
	log->percent_used = wear.percent_used > 255 ? 255 : (uint8_t)wear.percent_used;
	if (wear.avail_spare < wear.spare_thresh)
		log->critical_warning |= NVME_SMART_CRIT_SPARE;
	if (wear.read_only)
		log->critical_warning |= NVME_SMART_CRIT_MEDIA;
}

static uint16_t smart_log(struct nvme_req *req, struct log_window *w)
{
	struct nvme_ctrl *ctrl = req->sq->ctrl;
	struct nvme_subsys *subsys = ctrl->subsys;
	uint32_t nsid = req->cmd.nsid;
	struct nvme_io_totals totals = {0};
	struct ns_lifetime power = {.power_cycles = 1};
	if (nsid == 0 || nsid == 0xFFFFFFFF) {
		for (uint32_t i = 1; i <= subsys->nn; i++)
			nvme_ns_activity(&subsys->ns[i - 1], &totals, &power);
	} else {
		if (!nvme_subsys_ns(subsys, nsid))
			return nvme_req_error_at(req, NVME_SC_INVALID_NS | NVME_STATUS_DNR,
						 NVME_SQE_AT(nsid));
		nvme_ns_activity(&subsys->ns[nsid - 1], &totals, &power);
	}
	/* A namespace in memory has been on as long as the daemon. */
	uint64_t uptime_s = (clock_now_ns() - subsys->target->start_ns) / 1000000000ull;
	struct nvme_health health;
	nvme_subsys_health(ctrl->subsys, nsid == 0xFFFFFFFF ? 0 : nsid, &health);
	struct nvme_smart_log log;
	memset(&log, 0, sizeof(log));
	log.critical_warning = health.critical_warning;
	log.temperature = health.temperature_k;
	log.temp_sensor[0] = health.temperature_k;
	log.avail_spare = health.avail_spare;
	log.spare_thresh = health.spare_thresh;
	log.warning_temp_time = health.warning_temp_minutes;
	log.critical_comp_time = health.critical_temp_minutes;
	put_u128(log.media_errors, health.media_errors);
	/* Data units are thousands of 512-byte units, rounded up. */
	put_u128(log.data_units_read, (totals.read_bytes + 511999) / 512000);
	put_u128(log.data_units_written, (totals.write_bytes + 511999) / 512000);
	put_u128(log.host_reads, totals.read_cmds);
	put_u128(log.host_writes, totals.write_cmds);
	smart_wear(subsys, nsid, &log);
	put_u128(log.power_cycles, power.power_cycles);
	put_u128(log.power_on_hours, max_u64(power.power_on_seconds, uptime_s) / 3600);
	put_u128(log.unsafe_shutdowns, power.unsafe_shutdowns);
	pthread_mutex_lock(&ctrl->errors.lock);
	put_u128(log.num_err_log_entries, ctrl->errors.count);
	pthread_mutex_unlock(&ctrl->errors.lock);
	window_put(w, 0, &log, sizeof(log));
	return NVME_SC_SUCCESS;
}

static void model_log(struct nvme_req *req, struct log_window *w)
{
	const struct nvme_subsys *subsys = req->sq->ctrl->subsys;
	uint32_t first, last;
	ns_range(subsys, req->cmd.nsid, &first, &last);
	struct nvemu_model_log log;
	memset(&log, 0, sizeof(log));
	log.version = NVEMU_MODEL_LOG_VERSION;
	double erase_sum = 0;
	unsigned models = 0;
	struct model_wear wear = {0};
	for (uint32_t i = first; i <= last; i++) {
		struct ns_model_counters c;
		if (!model_counters(subsys, i, &c))
			continue;
		add_wear(&wear, &c);
		log.host_pages_written += c.host_pages_written;
		log.nand_pages_written += c.nand_pages_written;
		log.gc_runs += c.gc_runs;
		if (!models || c.erase_min < log.erase_count_min)
			log.erase_count_min = c.erase_min;
		if (c.erase_max > log.erase_count_max)
			log.erase_count_max = c.erase_max;
		erase_sum += c.erase_mean;
		models++;
	}
	if (models)
		log.erase_count_mean_milli = (uint64_t)(erase_sum / models * 1000.0 + 0.5);
	if (log.host_pages_written)
		log.waf_milli = (uint64_t)((double)log.nand_pages_written * 1000.0 /
					   (double)log.host_pages_written + 0.5);
	/* FDP records describe one drive: a single namespace's, with FDP. */
	uint32_t nsid = req->cmd.nsid;
	struct nvme_ns_slot *slot = nsid && nsid != 0xFFFFFFFF && nvme_subsys_ns(subsys, nsid)
					? (struct nvme_ns_slot *)&subsys->ns[nsid - 1]
					: NULL;
	if (slot && slot->fdp) {
		log.fdp_handles = slot->ns->fdp->config.nruh;
		log.fdp_groups = slot->ns->fdp->config.nrg;
		nvme_fdp_records(slot, w, sizeof(log));
	}
	if (wear.any) {
		log.retired_blocks = wear.retired_blocks;
		log.avail_spare_pcent = wear.avail_spare;
		log.percent_used_milli = (uint64_t)(wear.percent_used * 1000.0 + 0.5);
		log.read_only = wear.read_only;
	}
	window_put(w, 0, &log, sizeof(log));
}

static uint64_t model_log_size(const struct nvme_req *req)
{
	const struct nvme_subsys *subsys = req->sq->ctrl->subsys;
	uint32_t nsid = req->cmd.nsid;
	const struct ns *ns = nsid && nsid <= subsys->nn ? subsys->ns[nsid - 1].ns : NULL;
	uint64_t records = ns && subsys->ns[nsid - 1].fdp ? ns->fdp->config.nruh + ns->fdp->config.nrg
							  : 0;
	return sizeof(struct nvemu_model_log) + records * sizeof(struct nvemu_model_log_fdp);
}

/* Namespaces attached or detached since the last read (faults ns-add, ns-remove). */
static void changed_ns_log(struct nvme_ctrl *ctrl, bool retain, struct log_window *w)
{
	uint32_t list[NVME_CHANGED_NS_LOG_SIZE / 4];
	memset(list, 0, sizeof(list));
	if (ctrl->nchanged_ns > ARRAY_SIZE(list))
		list[0] = 0xFFFFFFFF; /* more changed than the log holds */
	else
		memcpy(list, ctrl->changed_ns, ctrl->nchanged_ns * sizeof(list[0]));
	window_put(w, 0, list, sizeof(list));
	if (retain)
		return;
	ctrl->nchanged_ns = 0;
	ctrl->ns_change_masked = false;
}

static void error_log(struct nvme_ctrl *ctrl, struct log_window *w)
{
	struct nvme_error_log *log = &ctrl->errors;
	pthread_mutex_lock(&log->lock);
	uint64_t count = log->count;
	uint64_t kept = count < NVME_ERROR_LOG_ENTRIES ? count : NVME_ERROR_LOG_ENTRIES;
	/* Newest first, as the specification orders them. */
	for (uint64_t i = 0; i < kept; i++) {
		const struct nvme_error_log_page *e = &log->entry[(count - 1 - i) % NVME_ERROR_LOG_ENTRIES];
		window_put(w, i * sizeof(*e), e, sizeof(*e));
	}
	pthread_mutex_unlock(&log->lock);
}

static void firmware_slot_log(struct log_window *w)
{
	struct nvme_fw_slot_info_log log;
	memset(&log, 0, sizeof(log));
	log.afi = 1;
	memset(log.frs[0], ' ', sizeof(log.frs[0]));
	memcpy(log.frs[0], NVME_FIRMWARE_REVISION, strlen(NVME_FIRMWARE_REVISION));
	window_put(w, 0, &log, sizeof(log));
}

static void effects_log(uint8_t csi, bool fdp, struct log_window *w)
{
	static const uint8_t admin[] = {
	    nvme_admin_get_log_page, nvme_admin_identify,     nvme_admin_abort_cmd,
	    nvme_admin_set_features, nvme_admin_get_features, nvme_admin_async_event,
	    nvme_admin_keep_alive,
	};
	static const uint8_t io_reads[] = {nvme_cmd_flush, nvme_cmd_read, nvme_cmd_compare,
					   nvme_cmd_verify};
	static const uint8_t io_writes[] = {nvme_cmd_write, nvme_cmd_write_zeroes, nvme_cmd_dsm};
	struct nvme_effects_log log;
	memset(&log, 0, sizeof(log));
	for (size_t i = 0; i < sizeof(admin); i++)
		log.acs[admin[i]] = NVME_CMD_EFFECTS_CSUPP;
	/* The Zoned Namespace command set includes the NVM command set. */
	if (csi == NVME_CSI_NVM || csi == NVME_CSI_ZNS) {
		for (size_t i = 0; i < sizeof(io_reads); i++)
			log.iocs[io_reads[i]] = NVME_CMD_EFFECTS_CSUPP;
		for (size_t i = 0; i < sizeof(io_writes); i++)
			log.iocs[io_writes[i]] = NVME_CMD_EFFECTS_CSUPP | NVME_CMD_EFFECTS_LBCC;
		if (fdp) {
			log.iocs[nvme_cmd_io_mgmt_recv] = NVME_CMD_EFFECTS_CSUPP;
			log.iocs[nvme_cmd_io_mgmt_send] = NVME_CMD_EFFECTS_CSUPP;
		}
	}
	if (csi == NVME_CSI_ZNS) {
		/* Linux forces a zoned namespace read-only without Zone Append here. */
		log.iocs[nvme_cmd_zone_mgmt_send] = NVME_CMD_EFFECTS_CSUPP | NVME_CMD_EFFECTS_LBCC;
		log.iocs[nvme_cmd_zone_mgmt_recv] = NVME_CMD_EFFECTS_CSUPP;
		log.iocs[nvme_cmd_zone_append] = NVME_CMD_EFFECTS_CSUPP | NVME_CMD_EFFECTS_LBCC;
	}
	window_put(w, 0, &log, sizeof(log));
}

static void fill_disc_entry(struct nvmf_disc_log_entry *e, const struct nvme_target *target,
			    const char *traddr, const char *nqn, uint8_t subtype)
{
	memset(e, 0, sizeof(*e));
	e->trtype = NVMF_TRTYPE_TCP;
	e->adrfam = strchr(traddr, ':') ? NVMF_ADDR_FAMILY_IP6 : NVMF_ADDR_FAMILY_IP4;
	e->subtype = subtype;
	e->treq = NVMF_TREQ_NOT_SPECIFIED;
	e->portid = 1;
	e->cntlid = NVMF_CNTLID_DYNAMIC;
	e->asqsz = NVME_ADMIN_QUEUE_DEPTH;
	/* Fixed-width fields, space-padded as libnvme accepts. */
	memset(e->trsvcid, ' ', sizeof(e->trsvcid));
	memset(e->traddr, ' ', sizeof(e->traddr));
	char port[8];
	int n = snprintf(port, sizeof(port), "%u", target->params.port);
	memcpy(e->trsvcid, port, (size_t)n);
	memcpy(e->traddr, traddr, strnlen(traddr, sizeof(e->traddr)));
	snprintf(e->subnqn, sizeof(e->subnqn), "%s", nqn);
	e->tsas[0] = NVMF_TCP_SECTYPE_NONE;
}

static void discovery_log(struct nvme_req *req, struct log_window *w)
{
	const struct nvme_target *target = req->sq->target;
	const struct nvme_ctrl *ctrl = req->sq->ctrl;
	const char *traddr = req->sq->local_addr[0] ? req->sq->local_addr : target->listen_addr;
	struct nvmf_disc_log_entry entry;
	uint64_t records = 0;
	for (size_t i = 0; i < target->nsubsys; i++) {
		const struct nvme_host *host;
		if (!nvme_subsys_admits(target->subsys[i], ctrl->hostnqn, &host))
			continue;
		fill_disc_entry(&entry, target, traddr, target->subsys[i]->nqn, NVME_NQN_NVM);
		window_put(w, sizeof(struct nvmf_disc_log_page_hdr) + records++ * sizeof(entry), &entry,
			   sizeof(entry));
	}
	fill_disc_entry(&entry, target, traddr, NVME_NQN_DISC, NVME_NQN_CURR_DISC);
	window_put(w, sizeof(struct nvmf_disc_log_page_hdr) + records++ * sizeof(entry), &entry,
		   sizeof(entry));

	struct nvmf_disc_log_page_hdr hdr;
	memset(&hdr, 0, sizeof(hdr));
	/* Nothing changes while the daemon runs, so the generation stays put. */
	hdr.genctr = 1;
	hdr.numrec = records;
	window_put(w, 0, &hdr, sizeof(hdr));
}

static uint64_t log_size(const struct nvme_req *req, uint8_t lid)
{
	switch (lid) {
	case NVME_LOG_ERROR:
		return NVME_ERROR_LOG_ENTRIES * sizeof(struct nvme_error_log_page);
	case NVME_LOG_SMART:
		return sizeof(struct nvme_smart_log);
	case NVME_LOG_FW_SLOT:
		return sizeof(struct nvme_fw_slot_info_log);
	case NVME_LOG_CHANGED_NS:
		return NVME_CHANGED_NS_LOG_SIZE;
	case NVME_LOG_CMD_EFFECTS:
		return sizeof(struct nvme_effects_log);
	case NVME_LOG_VENDOR_NVEMU:
		return model_log_size(req);
	case NVME_LOG_ZONE_CHANGED_LIST:
		return 4096;
	default:
		return nvme_fdp_log_size(req, lid);
	}
}

static uint16_t bad_offset(struct nvme_req *req)
{
	return nvme_req_error_at(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR,
				 NVME_SQE_AT(get_log_page.lpo));
}

static uint16_t bad_log_id(struct nvme_req *req)
{
	return nvme_req_error_at(req, NVME_SC_INVALID_LOG_PAGE | NVME_STATUS_DNR,
				 NVME_SQE_AT(get_log_page.lid));
}

void nvme_execute_get_log_page(struct nvme_req *req)
{
	struct nvme_ctrl *ctrl = req->sq->ctrl;
	uint8_t lid = req->cmd.get_log_page.lid;
	uint64_t offset = req->cmd.get_log_page.lpo;
	/* Retain Asynchronous Event: without it, reading the log re-arms its event. */
	bool retain = req->cmd.get_log_page.lsp & NVME_GET_LOG_RAE;
	struct log_window w = {.out = req->buf, .offset = offset, .len = req->data_len};
	uint16_t status = NVME_SC_SUCCESS;
	memset(req->buf, 0, req->data_len);
	req->data = req->buf;

	if (offset & 3) {
		nvme_req_complete(req, bad_offset(req));
		return;
	}
	if (ctrl->subsys->discovery) {
		/* libnvme reads the page in chunks past its end: zeroes there. */
		if (lid == NVME_LOG_DISC)
			discovery_log(req, &w);
		else
			status = bad_log_id(req);
		nvme_req_complete(req, status);
		return;
	}
	uint64_t size = log_size(req, lid);
	if (!size) {
		nvme_req_complete(req, bad_log_id(req));
		return;
	}
	if (offset >= size) {
		nvme_req_complete(req, bad_offset(req));
		return;
	}
	switch (lid) {
	case NVME_LOG_ERROR:
		error_log(ctrl, &w);
		break;
	case NVME_LOG_SMART:
		status = smart_log(req, &w);
		if (!retain)
			ctrl->smart_events_masked = 0; /* read: warnings may be reported again */
		break;
	case NVME_LOG_FW_SLOT:
		firmware_slot_log(&w);
		break;
	case NVME_LOG_CHANGED_NS:
		changed_ns_log(ctrl, retain, &w);
		break;
	case NVME_LOG_CMD_EFFECTS:
		effects_log(req->cmd.get_log_page.csi, nvme_subsys_has_fdp(ctrl->subsys), &w);
		break;
	case NVME_LOG_VENDOR_NVEMU:
		model_log(req, &w);
		break;
	case NVME_LOG_ZONE_CHANGED_LIST: {
		uint8_t page[4096];
		status = nvme_zns_changed_zone_log(req, page);
		window_put(&w, 0, page, sizeof(page));
		break;
	}
	default:
		status = nvme_fdp_log(req, lid, &w);
	}
	nvme_req_complete(req, status);
}
