/* One NVMe/TCP connection: shared by conn.c and tcp.c only. */
#ifndef NVEMU_TRANSPORT_CONN_H
#define NVEMU_TRANSPORT_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "nvme/nvme.h"
#include "transport/pdu.h"
#include "transport/tcp.h"
#include "util/log.h"

/* MAXH2CDATA: what one H2CData PDU may carry. */
#define TCP_MAX_H2C_DATA (128u * 1024)
#define TCP_RX_STAGING (64u * 1024)
/* Before the ICReq nothing but an ICReq may come: a small buffer in the connection does. */
#define TCP_RX_FIRST 256u
/* Transmit entries before Connect: ICResp, the Connect's response, a termination request. */
#define TCP_TX_FIRST 8u
/* Data this large skips the staging buffer when nothing else is queued. */
#define TCP_DIRECT_RECV_MIN (16u * 1024)
#define TCP_ICREQ_TIMEOUT_NS (10ull * 1000000000ull)
/* How long a host that caused a fatal error gets to read our termination request. */
#define TCP_TERM_TIMEOUT_NS (1ull * 1000000000ull)
/* Zero-copy sends the kernel may still be reading at once; past that, sends copy. */
#define TCP_ZC_WINDOW 1024u
/* The TTAG of the request that carries the Connect (any other is an index into reqs). */
#define TCP_BOOTSTRAP_TTAG 0xFFFFu

/* What a closed connection leaves for the next one of its reactor (conn.c): a bounded cache,
 * so that connection churn costs neither map/unmap calls nor page faults.  Everything past it
 * goes back to the system. */
#define TCP_SPARES 4
struct tcp_spare_pool {
	uint8_t *pool, *buffers;
	size_t pool_bytes, buffers_bytes;
	uint32_t nreqs;
};

struct tcp_worker {
	struct tcp_transport *transport;
	struct reactor *reactor;
	struct tcp_conn *conns;
	/* Closed, waiting to be freed (file I/O or a held command still in flight): freed by
	 * tcp_transport_destroy if the reactors stop first. */
	struct tcp_conn *closing;
	struct reactor_timer sweep;
	uint8_t *spare_staging[TCP_SPARES];
	unsigned nspare_staging;
	size_t spare_staging_bytes;
	struct tcp_spare_pool spare_pools[TCP_SPARES];
	unsigned nspare_pools;
};

/* Connections per peer address that have no usable queue yet (tcp.c). */
struct tcp_peer;

struct tcp_transport {
	struct tcp_transport_params params;
	struct reactor_fd listener;
	struct tcp_worker *workers;
	unsigned next_worker;
	atomic_uint nconns; /* open connections: counted by reactor 0, uncounted by any */
	pthread_mutex_t peers_lock;
	struct tcp_peer **peers; /* hash buckets */
	int spare_fd; /* given up to accept (and close) a connection when out of descriptors */
	struct log_once conn_limit_logged, peer_limit_logged, fd_limit_logged;
	/* Connections are refused until then (CLOCK_MONOTONIC ns): a dropped link or a power cut. */
	_Atomic uint64_t down_until_ns;
};

/* Only the states something tests: the rest of a request's life needs no name. */
enum tcp_req_state {
	REQ_FREE,      /* on the connection's free list */
	REQ_AWAIT_H2C, /* its R2T is out: H2CData PDUs naming its tag are accepted */
	REQ_IN_USE,    /* receiving in-capsule data, executing, or its response not yet sent */
};

/* Outgoing headers keep their digest right behind them: one iovec each. */
struct tcp_c2h_out {
	struct nvme_tcp_data_pdu pdu;
	uint32_t hdgst;
} __attribute__((packed));

struct tcp_r2t_out {
	struct nvme_tcp_r2t_pdu pdu;
	uint32_t hdgst;
} __attribute__((packed));

struct tcp_rsp_out {
	struct nvme_tcp_rsp_pdu pdu;
	uint32_t hdgst;
} __attribute__((packed));

struct tcp_req {
	struct nvme_req nvme;
	struct tcp_conn *conn;
	enum tcp_req_state state;
	uint16_t ttag;
	uint32_t h2c_received;
	bool data_digest_failed;
	/* Its data went out in zero-copy sends, the last numbered zc_send: it is
	 * reused only once the kernel says it is done with that send. */
	bool zc_pending;
	uint32_t zc_send;
	struct tcp_req *next_free; /* also the link of the held list */
	struct tcp_c2h_out c2h;
	uint32_t c2h_ddgst;
	struct tcp_r2t_out r2t;
	struct tcp_rsp_out rsp;
};

/* A zero-copy send pins every byte it carries, not only the data that asked for it: each
 * entry names whose memory it is, so that request is kept until the kernel is done. */
enum tcp_tx_flags {
	TX_RELEASES = 1, /* the owner is free for the next command once this is sent */
	TX_ZEROCOPY = 2, /* may go without a copy, when the connection allows */
};

struct tcp_tx_entry {
	struct iovec iov;
	struct tcp_req *owner; /* whose memory this is; NULL: the connection's own */
	unsigned flags;        /* enum tcp_tx_flags */
};

enum conn_state { CONN_AWAIT_ICREQ, CONN_LIVE, CONN_CLOSED };
enum rx_state { RX_HEADER, RX_PAD, RX_DATA, RX_DDGST };

struct tcp_conn {
	struct reactor_fd rfd;
	struct tcp_worker *worker;
	struct tcp_conn *prev, *next;
	enum conn_state state;
	struct nvme_sq sq;
	struct pdu_limits limits;
	uint64_t accepted_ns;
	char peer[64];
	/* Counted among its address's connections without a usable queue (tcp_peer_*). */
	struct tcp_peer *unconnected_of;
	/* For the PDU timeout: bytes received, and what the sweep saw last and since when. */
	uint64_t rx_bytes, sweep_rx_bytes, stalled_since_ns;

	/* receive: rx is rx_first until the ICReq, then TCP_RX_STAGING bytes of its own */
	uint8_t *rx;
	uint32_t rx_cap;
	uint32_t rx_start, rx_end;
	enum rx_state rx_state;
	uint8_t hdr[sizeof(struct nvme_tcp_icreq_pdu) + NVME_TCP_DIGEST_LEN];
	uint32_t hdr_have, hdr_need;
	struct pdu_layout layout;
	struct tcp_req *rx_req; /* whose data is arriving; NULL: discard it */
	uint8_t *data_dst;
	uint32_t data_left, pad_left;
	uint32_t data_crc;
	uint8_t ddgst[NVME_TCP_DIGEST_LEN];
	uint32_t ddgst_have;

	/*
	 * requests: until Connect, only `bootstrap` (nvmet-tcp's way: the queue's size is not
	 * known before), with a buffer for in-capsule data behind the staging buffer; then a
	 * pool of as many as the Connect's SQSIZE asked for (pool_create), reqs[0..nreqs).
	 */
	struct tcp_req bootstrap;
	struct tcp_req *reqs;
	uint32_t nreqs;
	struct iovec *data_iovs; /* data_iov_cap per request, for zero-copy reads */
	uint32_t data_iov_cap;
	struct tcp_req *free_reqs;
	uint8_t *buffers;
	size_t buffer_size;
	void *pool; /* one mapping: reqs, data_iovs and tx */
	size_t pool_bytes;

	/* transmit: a ring of iovecs, flushed once per reactor pass */
	struct tcp_tx_entry *tx;
	uint32_t tx_cap, tx_head, tx_count;
	size_t tx_head_sent;
	bool pollout;
	/* A command waits for a request slot that zero-copy sends still hold: nothing more is
	 * read until the kernel releases one (resume_task). */
	bool rx_parked;
	bool close_when_sent;
	uint64_t fatal_at_ns;
	/* zero-copy sends (MSG_ZEROCOPY), numbered by the kernel from 0 per socket */
	uint32_t zc_min;                          /* data this large goes zero-copy; 0: never */
	uint32_t zc_next;                         /* the number of our next zero-copy send */
	uint32_t zc_done;                         /* every send numbered below this is done */
	uint64_t zc_complete[TCP_ZC_WINDOW / 64]; /* done out of order, by number % window */
	struct tcp_req *zc_held, *zc_held_tail;   /* sent, waiting for the kernel, in order */
	bool zc_copied_logged;
	struct reactor_task flush_task;
	struct reactor_task resume_task;
	struct reactor_task free_task;
	struct reactor_timer free_timer; /* retries the free while file I/O is in flight */
	struct tcp_tx_entry tx_first[TCP_TX_FIRST]; /* tx until the pool exists */
	struct nvme_tcp_icresp_pdu icresp;
	uint8_t term[sizeof(struct nvme_tcp_term_pdu) + NVME_TCP_TERM_MAX_HDR_ERR];
	uint8_t rx_first[TCP_RX_FIRST];
};

/* conn.c */
/* Frees a closed connection still waiting to be freed, once the reactors have stopped. */
void tcp_conn_free_closing(struct tcp_conn *conn);
/* Adopts fd; peer (NULL: none) counts it among its address's unconnected connections. */
struct tcp_conn *tcp_conn_create(struct tcp_worker *worker, int fd, struct tcp_peer *peer);
/* In the middle of a PDU from the host (the PDU timeout applies). */
bool tcp_conn_mid_pdu(const struct tcp_conn *conn);
/* The connection has a usable queue: it no longer counts as unconnected. */
void tcp_conn_connected(struct tcp_conn *conn);

/* conn_send.c: the transmit ring, flushed once per reactor pass. */
/* Queues len bytes at base, memory of owner (NULL: of the connection); flags: enum tcp_tx_flags. */
void tcp_tx_push(struct tcp_conn *conn, void *base, size_t len, struct tcp_req *owner,
		 unsigned flags);
/* The request's slot is free for the next command. */
void tcp_req_release(struct tcp_req *req);
/* Reads the kernel's zero-copy notifications from the socket's error queue. */
void tcp_zc_read_notifications(struct tcp_conn *conn);
void tcp_conn_flush(struct tcp_conn *conn);
/* Sets the socket's epoll interest from rx_parked and pollout. */
void tcp_conn_watch(struct tcp_conn *conn);
/* The reactor task that flushes (deferred once per pass by tcp_tx_push). */
void tcp_conn_flush_task(struct reactor_task *task);

/* conn_memory.c: buffers from the worker's spares when it has some, else mapped. */
/* The staging buffer and, behind it, the buffer of the Connect's in-capsule data. */
uint8_t *tcp_staging_take(struct tcp_conn *conn);
void tcp_staging_give(struct tcp_conn *conn, uint8_t *staging);
/* A pool of nreqs slots with zeroed requests, and its buffers; false if out of memory. */
bool tcp_pool_take(struct tcp_conn *conn, uint32_t nreqs, size_t pool_bytes, size_t reqs_bytes,
		   struct tcp_spare_pool *out);
/* reusable: no zero-copy send the kernel may still read from its buffers is pending. */
void tcp_pool_give(struct tcp_worker *w, const struct tcp_spare_pool *pool, bool reusable);
/* Returns the worker's cached buffers to the system (at shutdown). */
void tcp_worker_drop_spares(struct tcp_worker *worker);

/* tcp.c: connections of a peer address without a usable queue; callable from any reactor. */
void tcp_peer_release(struct tcp_transport *t, struct tcp_peer *peer);
void tcp_conn_close(struct tcp_conn *conn, const char *why);
/* At shutdown, with the reactor stopped: close and free at once. */
void tcp_conn_destroy_now(struct tcp_conn *conn);

#endif
