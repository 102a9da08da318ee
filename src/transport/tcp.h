/*
 * The NVMe/TCP transport: listens, accepts, and runs each connection (one
 * NVMe queue) on one of the given reactors, chosen round-robin.  It turns
 * PDUs into requests for the controller core and responses back into PDUs.
 */
#ifndef NVEMU_TRANSPORT_TCP_H
#define NVEMU_TRANSPORT_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "nvme/nvme.h"
#include "runtime/reactor.h"

struct tcp_transport;

struct tcp_transport_params {
	const char *addr;
	uint16_t port;
	struct nvme_target *target;
	struct reactor **reactors;
	unsigned nreactors;
	/* Read data this large or larger goes out with MSG_ZEROCOPY; 0: never. */
	uint32_t zerocopy_min;
	/* The connections' TCP congestion control (TCP_CONGESTION, set on the listening socket,
	 * which its connections inherit); NULL, "" or "system": the kernel's default. */
	const char *congestion;
	/* Limits, each enforced when nonzero. */
	unsigned max_connections;             /* open connections in all */
	unsigned max_unconnected_per_address; /* from one peer address, without a usable queue */
	uint32_t pdu_timeout_ms;              /* no byte for this long in the middle of a PDU */
	uint32_t setup_timeout_ms;            /* after the ICReq, no usable queue yet */
};

/* Binds and listens; returns NULL with a message in err. */
struct tcp_transport *tcp_transport_create(const struct tcp_transport_params *params, char *err,
					   size_t errlen);
/* Closes every connection; the reactors must have stopped. */
void tcp_transport_destroy(struct tcp_transport *transport);

/*
 * Power cut: every connection drops at once and connections are refused until up_ns
 * (CLOCK_MONOTONIC). Returns once no reactor has a connection or file I/O left, so the
 * namespaces can be cut. Call from a thread that is not a reactor's, with the reactors running.
 */
void tcp_transport_power_cut(struct tcp_transport *transport, uint64_t up_ns);

/*
 * Every connection drops (each reactor closes its own, soon after) and connections are refused
 * for down_ms.  From any thread; does not wait.
 */
void tcp_transport_drop_connections(struct tcp_transport *transport, uint64_t down_ms);

#endif
