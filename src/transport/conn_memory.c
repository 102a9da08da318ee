/* A connection's buffers: mapped, and kept by its reactor for the next connections (a bounded cache). */
#include <string.h>
#include <sys/mman.h>

#include "transport/conn.h"

/* ---- buffers, from the worker's spares when it has some ---- */

/* The staging buffer and, behind it, the buffer of the Connect's in-capsule data. */
static size_t staging_bytes(const struct tcp_conn *conn)
{
	return TCP_RX_STAGING + conn->limits.max_incapsule;
}

uint8_t *tcp_staging_take(struct tcp_conn *conn)
{
	struct tcp_worker *w = conn->worker;
	if (w->nspare_staging)
		return w->spare_staging[--w->nspare_staging];
	uint8_t *staging = mmap(NULL, staging_bytes(conn), PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return staging == MAP_FAILED ? NULL : staging;
}

void tcp_staging_give(struct tcp_conn *conn, uint8_t *staging)
{
	struct tcp_worker *w = conn->worker;
	if (w->nspare_staging < TCP_SPARES) {
		w->spare_staging[w->nspare_staging++] = staging;
		w->spare_staging_bytes = staging_bytes(conn);
	} else
		munmap(staging, staging_bytes(conn));
}

/* A pool of nreqs slots with zeroed requests, and its buffers; false if out of memory. */
bool tcp_pool_take(struct tcp_conn *conn, uint32_t nreqs, size_t pool_bytes, size_t reqs_bytes,
		   struct tcp_spare_pool *out)
{
	struct tcp_worker *w = conn->worker;
	for (unsigned i = 0; i < w->nspare_pools; i++) {
		if (w->spare_pools[i].nreqs != nreqs)
			continue;
		*out = w->spare_pools[i];
		w->spare_pools[i] = w->spare_pools[--w->nspare_pools];
		memset(out->pool, 0, reqs_bytes);
		return true;
	}
	*out = (struct tcp_spare_pool){
	    .nreqs = nreqs, .pool_bytes = pool_bytes, .buffers_bytes = conn->buffer_size * nreqs};
	out->pool =
	    mmap(NULL, pool_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* Buffers are reserved, not committed: pages appear as transfers touch them. */
	out->buffers = mmap(NULL, out->buffers_bytes, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (out->pool != MAP_FAILED && out->buffers != MAP_FAILED)
		return true;
	if (out->pool != MAP_FAILED)
		munmap(out->pool, pool_bytes);
	if (out->buffers != MAP_FAILED)
		munmap(out->buffers, out->buffers_bytes);
	return false;
}

/* reusable: no zero-copy send the kernel may still read from its buffers is pending. */
void tcp_pool_give(struct tcp_worker *w, const struct tcp_spare_pool *pool, bool reusable)
{
	if (reusable && w->nspare_pools < TCP_SPARES) {
		w->spare_pools[w->nspare_pools++] = *pool;
		return;
	}
	munmap(pool->pool, pool->pool_bytes);
	munmap(pool->buffers, pool->buffers_bytes);
}

void tcp_worker_drop_spares(struct tcp_worker *w)
{
	while (w->nspare_staging)
		munmap(w->spare_staging[--w->nspare_staging], w->spare_staging_bytes);
	while (w->nspare_pools) {
		struct tcp_spare_pool *p = &w->spare_pools[--w->nspare_pools];
		munmap(p->pool, p->pool_bytes);
		munmap(p->buffers, p->buffers_bytes);
	}
}
