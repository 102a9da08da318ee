/* What a daemon serves: subsystems, their namespaces, and who may connect. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "auth/dhchap.h"
#include "nvme/internal.h"
#include "util/crc32c.h"
#include "util/util.h"

static void copy_padded(char *dst, size_t len, const char *src)
{
	/* Identify strings are ASCII, space-padded, not NUL-terminated. */
	size_t n = strlen(src);
	if (n > len)
		n = len;
	memset(dst, ' ', len);
	memcpy(dst, src, n);
}

static void subsys_init(struct nvme_subsys *subsys, struct nvme_target *target, const char *nqn)
{
	subsys->target = target;
	snprintf(subsys->nqn, sizeof(subsys->nqn), "%s", nqn);
	pthread_mutex_init(&subsys->lock, NULL);
}

static void host_list_free(struct nvme_host_list *list)
{
	/* Secrets do not stay behind in freed memory. */
	if (list->hosts)
		dhchap_wipe(list->hosts, list->count * sizeof(*list->hosts));
	free(list->hosts);
	list->hosts = NULL;
	list->count = 0;
}

static size_t shards_bytes(unsigned nshards) { return nshards * sizeof(struct nvme_io_shard); }

/* A drive directory keeps the host's totals for SMART (earlier runs' and this one's). */
static void save_host_counters(const struct nvme_ns_slot *slot)
{
	struct ns_lifetime life;
	struct nvme_io_totals now;
	ns_lifetime(slot->ns, &life);
	nvme_ns_recorder_totals(&slot->recorder, &now);
	ns_save_host_counters(slot->ns, life.read_bytes + now.read_bytes,
			      life.write_bytes + now.write_bytes, life.read_cmds + now.read_cmds,
			      life.write_cmds + now.write_cmds);
}

static void subsys_destroy(struct nvme_subsys *subsys)
{
	for (uint32_t nsid = 1; nsid <= subsys->nn; nsid++) {
		struct nvme_ns_slot *slot = &subsys->ns[nsid - 1];
		nvme_fdp_slot_destroy(slot, nsid);
		save_host_counters(slot);
		ns_destroy(slot->ns);
		munmap(slot->recorder.shards, shards_bytes(slot->recorder.nshards));
	}
	host_list_free(&subsys->hosts);
	pthread_mutex_destroy(&subsys->lock);
}

struct nvme_target *nvme_target_create(const struct nvme_target_params *params)
{
	struct nvme_target *target = calloc(1, sizeof(*target));
	if (!target)
		return NULL;
	target->params = *params;
	nvme_faults_init(&target->faults);
	snprintf(target->listen_addr, sizeof(target->listen_addr), "%s", params->listen_addr);
	target->params.listen_addr = target->listen_addr;
	target->start_ns = clock_now_ns();
	/*
	 * Hosts keep discovery controllers of every target in one subsystem and
	 * reject duplicate IDs there, so two daemons must not both start at 1.
	 */
	uint16_t seed = 0;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint16_t)clock_now_ns();
	atomic_init(&target->next_cntlid, 1u + seed % NVMF_CNTLID_MAX);
	/* Challenges' sequence numbers start anywhere, as the specification suggests. */
	unsigned seq = 0;
	if (getrandom(&seq, sizeof(seq), 0) != sizeof(seq))
		seq = (unsigned)clock_now_ns();
	atomic_init(&target->auth_seqnum, seq);
	subsys_init(&target->discovery, target, NVME_NQN_DISC);
	target->discovery.discovery = true;
	copy_padded(target->discovery.serial, sizeof(target->discovery.serial), "nvemu-discovery");
	copy_padded(target->discovery.model, sizeof(target->discovery.model), "nvemu discovery");
	return target;
}

void nvme_target_destroy(struct nvme_target *target)
{
	if (!target)
		return;
	nvme_faults_destroy(&target->faults);
	for (size_t i = 0; i < target->nsubsys; i++) {
		subsys_destroy(target->subsys[i]);
		free(target->subsys[i]);
	}
	subsys_destroy(&target->discovery);
	host_list_free(&target->hosts);
	free(target->subsys);
	free(target);
}

static const struct nvme_host *host_list_find(const struct nvme_host_list *list, const char *nqn)
{
	for (size_t i = 0; i < list->count; i++)
		if (strcmp(list->hosts[i].nqn, nqn) == 0)
			return &list->hosts[i];
	return NULL;
}

int nvme_target_allow_host(struct nvme_target *target, struct nvme_subsys *subsys,
			   const struct nvme_host_params *params, char *err, size_t errlen)
{
	struct nvme_host_list *list = subsys ? &subsys->hosts : &target->hosts;
	if (strlen(params->nqn) == 0 || strlen(params->nqn) >= NVMF_NQN_SIZE)
		return errorf(err, errlen, "host NQN '%s' must have 1..255 bytes", params->nqn);
	if (host_list_find(list, params->nqn))
		return errorf(err, errlen, "host %s is allowed twice%s%s", params->nqn,
			      subsys ? " in " : "", subsys ? subsys->nqn : "");
	if (params->dhchap_ctrl_key && !params->dhchap_key)
		return errorf(err, errlen, "host %s: a controller secret needs a host secret too",
			      params->nqn);
	struct nvme_host host = {0};
	snprintf(host.nqn, sizeof(host.nqn), "%s", params->nqn);
	char why[160];
	if (params->dhchap_key) {
		if (dhchap_key_parse(params->dhchap_key, &host.key, why, sizeof(why)))
			return errorf(err, errlen, "host %s: DH-HMAC-CHAP secret: %s", params->nqn,
				      why);
		host.has_key = true;
	}
	if (params->dhchap_ctrl_key) {
		int rc =
		    dhchap_key_parse(params->dhchap_ctrl_key, &host.ctrl_key, why, sizeof(why));
		if (rc) {
			dhchap_wipe(&host, sizeof(host));
			return errorf(err, errlen, "host %s: DH-HMAC-CHAP controller secret: %s",
				      params->nqn, why);
		}
		host.has_ctrl_key = true;
	}
	struct nvme_host *hosts = malloc((list->count + 1) * sizeof(*hosts));
	if (!hosts) {
		dhchap_wipe(&host, sizeof(host));
		return errorf(err, errlen, "out of memory");
	}
	if (list->count)
		memcpy(hosts, list->hosts, list->count * sizeof(*hosts));
	hosts[list->count] = host;
	dhchap_wipe(&host, sizeof(host));
	size_t count = list->count + 1;
	host_list_free(list);
	list->hosts = hosts;
	list->count = count;
	return 0;
}

bool nvme_subsys_admits(const struct nvme_subsys *subsys, const char *hostnqn,
			const struct nvme_host **host)
{
	const struct nvme_target *target = subsys->target;
	/* The subsystem's own entry first: it may carry other secrets than the global one. */
	*host = host_list_find(&subsys->hosts, hostnqn);
	if (!*host)
		*host = host_list_find(&target->hosts, hostnqn);
	if (*host || subsys->discovery || target->params.allow_any_host)
		return true;
	/* A subsystem no --allow-host names, directly or for all, is open where that is allowed. */
	return target->params.allow_unlisted && !subsys->hosts.count && !target->hosts.count;
}

static bool nqn_valid(const char *nqn)
{
	size_t len = strlen(nqn);
	return len > 0 && len < NVMF_NQN_SIZE && strncmp(nqn, "nqn.", 4) == 0;
}

struct nvme_subsys *nvme_target_add_subsys(struct nvme_target *target,
					   const struct nvme_subsys_params *params, char *err,
					   size_t errlen)
{
	if (!nqn_valid(params->nqn) || strcmp(params->nqn, NVME_NQN_DISC) == 0) {
		snprintf(err, errlen, "subsystem NQN '%s' must start with 'nqn.', be under 256 bytes "
			 "and not be the discovery NQN", params->nqn);
		return NULL;
	}
	if (nvme_target_find_subsys(target, params->nqn)) {
		snprintf(err, errlen, "subsystem NQN '%s' is used twice", params->nqn);
		return NULL;
	}
	struct nvme_subsys **list = realloc(target->subsys, (target->nsubsys + 1) * sizeof(*list));
	struct nvme_subsys *subsys = calloc(1, sizeof(*subsys));
	if (list)
		target->subsys = list;
	if (!list || !subsys) {
		free(subsys);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	subsys_init(subsys, target, params->nqn);
	copy_padded(subsys->serial, sizeof(subsys->serial), params->serial);
	copy_padded(subsys->model, sizeof(subsys->model), params->model);
	target->subsys[target->nsubsys++] = subsys;
	return subsys;
}

/*
 * Hosts drop a namespace whose identifiers change across reconnects and
 * reject duplicates, so derive them from the subsystem NQN and the NSID:
 * stable across restarts, distinct between subsystems.
 */
static void derive_ns_ids(struct nvme_ns_slot *slot, const char *nqn, uint32_t nsid)
{
	uint8_t bytes[32];
	for (unsigned word = 0; word < 8; word++) {
		uint32_t crc = crc32c_update(CRC32C_INIT, nqn, strlen(nqn));
		crc = crc32c_update(crc, &nsid, sizeof(nsid));
		crc = crc32c_final(crc32c_update(crc, &word, sizeof(word)));
		memcpy(bytes + 4 * word, &crc, sizeof(crc));
	}
	memcpy(slot->nguid, bytes, 16);
	memcpy(slot->uuid, bytes + 16, 16);
	slot->uuid[6] = (uint8_t)((slot->uuid[6] & 0x0F) | 0x80); /* version 8: custom */
	slot->uuid[8] = (uint8_t)((slot->uuid[8] & 0x3F) | 0x80); /* RFC 4122 variant */
}

uint32_t nvme_subsys_add_ns(struct nvme_subsys *subsys, struct ns *ns, char *err, size_t errlen)
{
	if (subsys->nn == NVME_MAX_NAMESPACES) {
		snprintf(err, errlen, "subsystem %s has %u namespaces already", subsys->nqn,
			 NVME_MAX_NAMESPACES);
		return 0;
	}
	/* Zero pages: a shard costs memory only once its reactor records into it. */
	unsigned nshards = subsys->target->params.nreactors ? subsys->target->params.nreactors : 1;
	struct nvme_io_shard *shards = mmap(NULL, shards_bytes(nshards), PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (shards == MAP_FAILED) {
		snprintf(err, errlen, "out of memory for the counters of a namespace");
		return 0;
	}
	struct nvme_ns_slot *slot = &subsys->ns[subsys->nn];
	slot->ns = ns;
	if (nvme_fdp_slot_init(slot)) {
		slot->ns = NULL;
		munmap(shards, shards_bytes(nshards));
		snprintf(err, errlen, "out of memory for the FDP state of a namespace");
		return 0;
	}
	uint32_t nsid = ++subsys->nn;
	atomic_init(&slot->active, ns);
	atomic_init(&slot->media_errors, 0);
	slot->recorder.shards = shards;
	slot->recorder.nshards = nshards;
	for (unsigned i = 0; i < nshards; i++)
		shards[i].owner = &slot->recorder;
	atomic_init(&slot->recorder.trace, NULL);
	derive_ns_ids(slot, subsys->nqn, nsid);
	if (ns->has_ids) { /* a drive directory keeps its own, whatever subsystem serves it */
		memcpy(slot->nguid, ns->nguid, sizeof(slot->nguid));
		memcpy(slot->uuid, ns->uuid, sizeof(slot->uuid));
	}
	return nsid;
}

const char *nvme_subsys_nqn(const struct nvme_subsys *subsys) { return subsys->nqn; }

struct nvme_subsys *nvme_target_find_subsys(struct nvme_target *target, const char *nqn)
{
	if (strcmp(nqn, NVME_NQN_DISC) == 0)
		return &target->discovery;
	for (size_t i = 0; i < target->nsubsys; i++)
		if (strcmp(target->subsys[i]->nqn, nqn) == 0)
			return target->subsys[i];
	return NULL;
}

struct ns *nvme_subsys_ns(const struct nvme_subsys *subsys, uint32_t nsid)
{
	if (nsid == 0 || nsid > subsys->nn)
		return NULL;
	/* Acquire pairs with the release of a namespace attached at run time (ns-add). */
	return atomic_load_explicit(&subsys->ns[nsid - 1].active, memory_order_acquire);
}

static bool cntlid_in_use(struct nvme_target *target, uint16_t cntlid)
{
	for (size_t i = 0; i <= target->nsubsys; i++) {
		struct nvme_subsys *subsys = i < target->nsubsys ? target->subsys[i] : &target->discovery;
		pthread_mutex_lock(&subsys->lock);
		bool found = false;
		for (struct nvme_ctrl *c = subsys->ctrls; c && !found; c = c->next_in_subsys)
			found = c->cntlid == cntlid;
		pthread_mutex_unlock(&subsys->lock);
		if (found)
			return true;
	}
	return false;
}

uint16_t nvme_target_alloc_cntlid(struct nvme_target *target)
{
	/* A counter, not the lowest free ID: hosts dislike an ID reused at once. */
	for (unsigned tries = 0; tries < NVMF_CNTLID_MAX; tries++) {
		unsigned id = atomic_fetch_add(&target->next_cntlid, 1);
		uint16_t cntlid = (uint16_t)(1 + (id - 1) % NVMF_CNTLID_MAX);
		if (!cntlid_in_use(target, cntlid))
			return cntlid;
	}
	return 0;
}

uint64_t nvme_target_power_cut(struct nvme_target *target, uint64_t now,
			       void (*report)(const char *nqn, uint32_t nsid, uint64_t lost))
{
	uint64_t total = 0;
	for (size_t i = 0; i < target->nsubsys; i++) {
		struct nvme_subsys *subsys = target->subsys[i];
		for (uint32_t nsid = 1; nsid <= subsys->nn; nsid++) {
			uint64_t lost = ns_power_cut(subsys->ns[nsid - 1].ns, now);
			total += lost;
			if (report)
				report(subsys->nqn, nsid, lost);
		}
	}
	return total;
}

uint32_t nvme_target_incapsule_size(const struct nvme_target *target)
{
	return target->params.incapsule_size;
}

uint32_t nvme_target_max_data(const struct nvme_target *target)
{
	uint32_t mdts_bytes = 4096u << target->params.mdts;
	uint32_t need = target->params.incapsule_size > NVME_IDENTIFY_DATA_SIZE
			    ? target->params.incapsule_size
			    : NVME_IDENTIFY_DATA_SIZE;
	/* Admin commands may carry 8 KiB in-capsule whatever IOCCSZ says. */
	if (need < 8192)
		need = 8192;
	return mdts_bytes > need ? mdts_bytes : need;
}

uint32_t nvme_target_queue_slots(const struct nvme_target *target)
{
	uint32_t io = target->params.io_queue_depth;
	return io > NVME_ADMIN_QUEUE_DEPTH ? io : NVME_ADMIN_QUEUE_DEPTH;
}

struct nvme_ns_recorder *nvme_subsys_ns_recorder(struct nvme_subsys *subsys, uint32_t nsid)
{
	return nsid && nsid <= subsys->nn ? &subsys->ns[nsid - 1].recorder : NULL;
}

static uint64_t load(const atomic_uint_fast64_t *counter)
{
	return atomic_load_explicit(counter, memory_order_relaxed);
}

void nvme_ns_recorder_totals(const struct nvme_ns_recorder *rec, struct nvme_io_totals *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < rec->nshards; i++) {
		const struct nvme_io_shard *shard = &rec->shards[i];
		out->answered += load(&shard->answered);
		out->received += load(&shard->received);
		out->read_cmds += load(&shard->read_cmds);
		out->read_bytes += load(&shard->read_bytes);
		out->write_cmds += load(&shard->write_cmds);
		out->write_bytes += load(&shard->write_bytes);
	}
}
