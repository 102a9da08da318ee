/*
 * An in-process NVMe target driven without sockets: a fake transport that
 * records every completion, queues built on struct nvme_sq, and helpers that
 * build the SQEs a Linux host sends.  Shared by the cmocka tests and the
 * fuzz_command fuzzer, so it must not depend on cmocka.
 */
#ifndef NVEMU_TESTS_TARGET_HARNESS_H
#define NVEMU_TESTS_TARGET_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "nvme/nvme.h"

#define TH_SUBNQN "nqn.2024-01.io.nvemu:harness"
#define TH_SUBNQN2 "nqn.2024-01.io.nvemu:second"
#define TH_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:harness-host"
/* Namespace 1: 4 KiB blocks; namespace 2: 512-byte blocks. */
#define TH_NS1_BYTES (16ull << 20)
#define TH_NS2_BYTES (1ull << 20)
#define TH_MDTS 5
#define TH_MAX_IO_QUEUES 4
#define TH_IO_DEPTH 64
#define TH_INCAPSULE 8192
#define TH_PORT 4420

/* What queue_response was called with, per request. */
struct th_req {
	struct nvme_req nvme;
	unsigned completions;
	struct nvme_cqe cqe;
	uint8_t *c2h;	  /* copy of the C2H data, when the command sent any */
	uint32_t c2h_len;
	/* Its in-capsule data was passed where it arrived (nvme_req_uses_data_at_once). */
	bool data_in_place;
	struct th_req *next_pending;
};

struct th_env {
	struct nvme_target *target;
	struct nvme_subsys *subsys;
	struct reactor *reactor;
	uint32_t max_data;
	struct ns *ns1, *ns2, *ns3; /* owned by the subsystem; ns3 only with fdp_ns */
	struct th_req *spare;        /* freed requests, kept with their buffers for reuse */
	uint8_t *staging;            /* where in-capsule data "arrives", as a transport's */
};

/*
 * Namespace 3 (th_env_params.fdp_ns): an ssd with FDP, 4 KiB blocks, 4 dies of 64 erase units
 * of 16 pages split into 2 reclaim groups (reclaim units of 2 x 16 pages, 128 KiB), 4 handles
 * of which 2 and 3 are initially isolated, and the Placement Handle List 3,1,0. Its flash
 * takes no time, so its commands complete at once.
 */
#define TH_FDP_NSID 3
#define TH_FDP_RU_BYTES (128u << 10)

struct th_queue {
	struct nvme_sq sq;
	struct th_env *env;
	struct th_req *pending; /* submitted and not completed (held AERs) */
	bool disconnect_requested;
};

struct th_env_params {
	bool allow_any_host;
	const char *allowed_host; /* NULL: none */
	/* allowed_host's DH-HMAC-CHAP secrets (NULL: none) */
	const char *dhchap_key, *dhchap_ctrl_key;
	unsigned max_ctrls_per_host;
	struct dhchap_list dhchap_hashes, dhchap_dhgroups; /* empty: the defaults */
	unsigned nreactors;	  /* reactor ids the target counts by (0: one); queues use id 0 */
	bool fdp_ns;              /* add namespace 3 (TH_FDP_NSID) */
	const char *ns1_path;	  /* namespace 1 kept in this drive directory; NULL: in memory */
	const char *fdp_path;	  /* the same for namespace 3 */
};

struct th_env *th_env_create(const struct th_env_params *params);
void th_env_destroy(struct th_env *env);
/*
 * Adds namespace 3, an ssd one with a small flash model: 2 channels x 2 dies of 32 blocks x 16
 * 4 KiB pages, 60 % over-provisioned so that a die can go offline (die-offline faults); its
 * flash a thousand times faster than the defaults.
 * Returns it (owned by the subsystem), or NULL with a message in err.
 */
struct ns *th_add_ssd_ns(struct th_env *env, char *err, size_t errlen);

void th_queue_init(struct th_queue *q, struct th_env *env);
/* What a transport does when the connection closes: cancel, then destroy. */
void th_queue_close(struct th_queue *q);

/*
 * Runs one command the way the TCP transport does.  Data travels in-capsule
 * when the SGL says so (h2c copied into env->staging before nvme_req_init, then
 * passed there or copied into the request's buffer as nvme_req_uses_data_at_once
 * says, and the staging overwritten once execute returns, as the next capsules
 * would), otherwise it is copied in after a successful nvme_req_init, like
 * H2CData after an R2T.  The request stays owned by the queue until th_req_free().
 */
struct th_req *th_submit(struct th_queue *q, const struct nvme_sqe *sqe, const void *h2c,
			 uint32_t h2c_len);
void th_req_free(struct th_queue *q, struct th_req *req);
/* The status field (CQE status >> 1) of a completed request. */
uint16_t th_status(const struct th_req *req);

/*
 * Submit, expect exactly one completion, copy up to c2h_len bytes of its
 * data into c2h, return the status; *result gets DW0-1 when not NULL.
 * Returns 0xFFFF if the command did not complete exactly once.
 */
uint16_t th_exec(struct th_queue *q, const struct nvme_sqe *sqe, const void *h2c,
		 uint32_t h2c_len, void *c2h, uint32_t c2h_len, uint64_t *result);

/* ---- SQE builders (PSDT 01b, as Linux sends them) ---- */
struct nvme_sqe th_sqe(uint8_t opcode, uint32_t nsid);
/* A data transfer moved by R2T/C2HData (SGL type 5Ah). */
void th_sgl_transport(struct nvme_sqe *sqe, uint32_t len);
/* In-capsule data at offset 0 (SGL type 01h). */
void th_sgl_incapsule(struct nvme_sqe *sqe, uint32_t len);
struct nvme_sqe th_connect_sqe(uint16_t qid, uint16_t sqsize, uint32_t kato);
void th_connect_data(struct nvmf_connect_data *data, uint16_t cntlid, const char *subnqn,
		     const char *hostnqn);
struct nvme_sqe th_property_get_sqe(uint32_t offset, bool eight_bytes);
struct nvme_sqe th_property_set_sqe(uint32_t offset, uint64_t value);
struct nvme_sqe th_rw_sqe(uint8_t opcode, uint32_t nsid, uint64_t slba, uint32_t nlb,
			  uint32_t lba_bytes);
struct nvme_sqe th_get_log_sqe(uint8_t lid, uint32_t nsid, uint32_t len, uint64_t offset);
struct nvme_sqe th_identify_sqe(uint8_t cns, uint32_t nsid);

/* The Parameter Error Location of the newest error log entry (read on the admin queue):
 * the SQE byte a failed check named, FFFFh for none; UINT32_MAX if the log cannot be read. */
uint32_t th_newest_error_location(struct th_queue *admin);

/* CC as Linux writes it to enable: EN, CSS from the argument, IOSQES 6, IOCQES 4. */
uint32_t th_cc_enable(uint32_t css);

/* ---- Whole steps ---- */
/* Admin Connect to subnqn; returns the status, *cntlid from the result. */
uint16_t th_connect_admin(struct th_queue *q, const char *subnqn, const char *hostnqn,
			  uint16_t *cntlid);
uint16_t th_connect_io(struct th_queue *q, uint16_t qid, uint16_t cntlid, const char *hostnqn);
/* Property Set CC.EN (NVM command set); returns the status. */
uint16_t th_enable(struct th_queue *q);
uint16_t th_set_num_queues(struct th_queue *q, uint16_t nsqr0, uint16_t ncqr0, uint64_t *result);
/* ---- DH-HMAC-CHAP, as a host runs it ---- */
struct nvme_sqe th_auth_sqe(bool send, uint32_t len);
/* Authentication Send of msg (in-capsule), Receive of al bytes into out; status returned. */
uint16_t th_auth_send(struct th_queue *q, const void *msg, uint32_t len);
uint16_t th_auth_receive(struct th_queue *q, void *out, uint32_t al);

/* What a host offers and knows; keys NULL for none. */
struct th_auth_host {
	const char *hostnqn, *subnqn;
	const char *key, *ctrl_key; /* DHHC-1 representation */
	uint8_t hash, dhgroup;      /* the one hash and DH group offered */
	uint16_t tid;
};
/*
 * The whole exchange on a connected queue.  Returns 0 when the host authenticated (and the
 * controller, with ctrl_key), else the failure explanation the controller sent in its
 * AUTH_Failure1, or 0x100 + explanation when the host itself refused the controller (it then
 * sent AUTH_Failure2), or 0xFFFF when a command failed.
 */
unsigned th_authenticate(struct th_queue *q, const struct th_auth_host *host);

/* Connect, enable and grant TH_MAX_IO_QUEUES queues on admin; connect io as qid 1 when non-NULL. */
uint16_t th_bring_up(struct th_queue *admin, struct th_queue *io, uint16_t *cntlid);

#endif
