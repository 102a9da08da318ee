/*
 * host.h - a small NVMe/TCP initiator (host side).
 *
 * It follows NVMe/TCP 1.0, NVMe-oF 1.1 and NVMe base 2.0, not any one
 * target's habits, so it can be used to test targets as well as to load them.
 *
 * Model:
 *   - A controller (struct host_ctrl) owns the admin queue.  Every admin call
 *     is synchronous and belongs to one thread at a time.
 *   - An I/O queue pair (struct host_qpair) is one TCP connection.  It is
 *     connected synchronously, then driven without blocking by one thread:
 *     submit commands, call host_qpair_process() whenever the socket is
 *     readable (or writable while host_qpair_send_pending()), and completion
 *     callbacks run from inside host_qpair_process().
 *   - Nothing allocates memory on the I/O path.  Command slots, the send
 *     staging buffer and the receive buffer are sized when a queue connects.
 *   - Data buffers belong to the caller and must stay untouched from submit
 *     until the completion callback: writes are sent straight from them and
 *     reads land straight in them.
 *
 * Errors are negative errno values.  A failed connection completes every
 * outstanding command with a transport error and stays failed; the caller
 * disconnects it.
 */
#ifndef NVEMU_HOST_HOST_H
#define NVEMU_HOST_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/dhchap.h"
#include "spec/nvme.h"

/* Where to connect: parsed from an SPDK-style transport ID string. */
struct host_target {
	char traddr[NVMF_DISC_ENTRY_TRADDR_LEN];
	char trsvcid[NVMF_DISC_ENTRY_TRSVCID_LEN];
	char subnqn[NVMF_NQN_SIZE]; /* empty: use the first NVM subsystem discovery reports */
};

/*
 * Parse "trtype:TCP traddr:127.0.0.1 trsvcid:4420 [subnqn:NQN]".  Keys are
 * case-insensitive and separated by blanks; trtype must be TCP and adrfam, if
 * given, IPv4.  trsvcid defaults to 4420.  On failure returns -EINVAL and
 * puts a message naming the bad key in err.
 */
int host_target_parse(struct host_target *target, const char *str, char *err, size_t errlen);

struct host_opts {
	char hostnqn[NVMF_NQN_SIZE]; /* empty: a uuid-based NQN made from hostid */
	uint8_t hostid[16];          /* all zero: random, fixed for this process */
	bool header_digest;          /* ask for HDGST; failing if the controller declines */
	bool data_digest;            /* ask for DDGST; the same */
	uint32_t kato_ms;            /* keep-alive timeout sent in the admin Connect; 0 = off */
	bool disable_sqflow;         /* Connect CATTR bit 2: no SQ flow control */
	bool no_incapsule;           /* send every write's data after an R2T */
	/* TCP congestion control of the queues' sockets; "system": the kernel's default.
	 * cubic by default: BBR's pacing holds large transfers back on a local link. */
	char congestion[16];
	int admin_timeout_ms;        /* for each synchronous admin command */
	/*
	 * DH-HMAC-CHAP, for queues whose Connect asks for it: the host's secret, and the
	 * controller's for bidirectional authentication; the hashes and DH groups offered
	 * (empty: all of them).
	 */
	bool has_dhchap_key, has_dhchap_ctrl_key;
	struct dhchap_key dhchap_key, dhchap_ctrl_key;
	struct dhchap_list dhchap_hashes, dhchap_dhgroups;
};

/* Defaults: no digests, KATO 10 s, SQ flow control on, in-capsule writes, cubic. */
void host_opts_init(struct host_opts *opts);

/* How a command moves data. */
enum host_xfer {
	HOST_XFER_NONE,
	HOST_XFER_H2C, /* host to controller: writes, Connect data */
	HOST_XFER_C2H, /* controller to host: reads, Identify, logs */
};

/* Transport-level failures reported in host_cpl.xport_error. */
#define HOST_ERR_DATA_DIGEST (-EBADMSG) /* this command's data digest did not match */
#define HOST_ERR_PROTOCOL (-EPROTO)     /* the controller broke the protocol; queue failed */
#define HOST_ERR_CONNECTION (-ECONNRESET)

struct host_cpl {
	uint64_t result;   /* CQE DW0-DW1 */
	uint16_t status;   /* CQE status field (SC | SCT << 8 | ... | DNR << 14); 0 = success */
	int xport_error;   /* 0, or a HOST_ERR_* value; then status means nothing */
};

static inline bool host_cpl_ok(const struct host_cpl *cpl)
{
	return cpl->xport_error == 0 && (cpl->status & 0x7FF) == 0;
}

typedef void (*host_cb)(void *cb_arg, const struct host_cpl *cpl);

struct host_ctrl;
struct host_qpair;

struct host_ctrl_info {
	char subnqn[NVMF_NQN_SIZE];
	uint16_t cntlid;
	uint64_t cap;
	uint32_t vs;
	uint16_t max_queue_entries;  /* CAP.MQES + 1 */
	uint16_t io_queues;          /* granted by Set Features Number of Queues */
	uint32_t max_transfer;       /* bytes, from MDTS; 0 = unlimited */
	uint32_t incapsule_max;      /* bytes of write data that may go in-capsule */
	uint32_t nn;
	uint16_t maxcmd;
	uint16_t kas;                /* 100 ms units */
	char mn[41], sn[21], fr[9];  /* trimmed */
};

struct host_ns_info {
	uint32_t nsid;
	uint64_t nsze;     /* blocks */
	uint32_t lba_size; /* bytes */
};

/*
 * Bring up a controller: discovery first when target->subnqn is empty, then
 * ICReq/ICResp, admin Connect, CAP/VS, the CC enable handshake, Identify
 * Controller and Set Features Number of Queues (asking for io_queues).
 * Blocks; messages about failures go to the log.
 */
int host_ctrl_connect(struct host_ctrl **ctrl, const struct host_target *target,
		      const struct host_opts *opts, uint16_t io_queues);
const struct host_ctrl_info *host_ctrl_get_info(const struct host_ctrl *ctrl);

/* Identify Namespace; -ENODEV for an inactive namespace or one with metadata. */
int host_ctrl_identify_ns(struct host_ctrl *ctrl, uint32_t nsid, struct host_ns_info *ns);

/* Any admin command, synchronously.  Fills the CID and the SGL. */
int host_ctrl_admin(struct host_ctrl *ctrl, struct nvme_sqe *sqe, void *buf, uint32_t len,
		    enum host_xfer xfer, struct host_cpl *cpl);

/* Send a Keep Alive when half of KATO has passed since the last one.  Cheap to call often. */
int host_ctrl_keep_alive_tick(struct host_ctrl *ctrl);

/*
 * Orderly end: CC.SHN = normal, wait for CSTS.SHST complete (up to 5 s), close.
 * Disconnect every I/O queue first.  Frees ctrl; returns the first error seen.
 */
int host_ctrl_disconnect(struct host_ctrl *ctrl);

/* Connect I/O queue qid (1..io_queues) allowing `depth` commands outstanding. */
int host_qpair_connect(struct host_ctrl *ctrl, uint16_t qid, uint16_t depth,
		       struct host_qpair **qpair);

/*
 * Queue a command.  The library sets CID, PSDT and the SGL; everything else
 * comes from sqe.  Nothing is written to the socket until host_qpair_process()
 * (or host_qpair_flush()), so many submissions leave in one writev.
 * Returns -EBUSY when `depth` commands are outstanding, -ENOTCONN after failure.
 */
int host_qpair_submit(struct host_qpair *qp, const struct nvme_sqe *sqe, void *buf, uint32_t len,
		      enum host_xfer xfer, host_cb cb, void *cb_arg);

/* Read or Write of nlb blocks (1's based here) at slba; len must be nlb * lba size. */
int host_qpair_rw(struct host_qpair *qp, bool write, uint32_t nsid, uint64_t slba, uint32_t nlb,
		  void *buf, uint32_t len, host_cb cb, void *cb_arg);
/* The same with a directive: DTYPE (2 = Data Placement) and DSPEC (its Placement Identifier). */
int host_qpair_rw_directed(struct host_qpair *qp, bool write, uint32_t nsid, uint64_t slba,
			   uint32_t nlb, uint8_t dtype, uint16_t dspec, void *buf, uint32_t len,
			   host_cb cb, void *cb_arg);

/* Write out what is queued, as far as the socket takes it.  Returns 0 or -errno. */
int host_qpair_flush(struct host_qpair *qp);

/*
 * Flush, then read everything the socket holds and handle it, running the
 * completion callbacks.  Never blocks.  Returns the number of commands
 * completed, or -errno once the connection has failed.
 */
int host_qpair_process(struct host_qpair *qp);

int host_qpair_fd(const struct host_qpair *qp);
bool host_qpair_send_pending(const struct host_qpair *qp); /* wait for POLLOUT too */
unsigned host_qpair_outstanding(const struct host_qpair *qp);

/* Times the controller set C2HData SUCCESS although SQ flow control was on. */
uint64_t host_qpair_success_flag_violations(const struct host_qpair *qp);

/* Close the connection; outstanding commands complete with HOST_ERR_CONNECTION. */
void host_qpair_disconnect(struct host_qpair *qp);

#endif
