/*
 * The reactor's file I/O ring (see reactor.h). Submissions wait in the submission queue until
 * the end of the loop pass (a deferred task), so that a pass's I/O costs one system call; the
 * completions that call already produced (page cache hits) are handled right away, the rest
 * when the ring's eventfd wakes the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "runtime/reactor_internal.h"
#include "util/log.h"
#include "util/util.h"

#define RING_ENTRIES 256

static void reap(struct reactor_ring *ring);

static void prep(struct io_uring_sqe *sqe, struct reactor_io *io)
{
	uint8_t *buf = (uint8_t *)io->buf + io->moved;
	uint64_t left = io->len - io->moved, at = io->offset + io->moved;
	switch (io->op) {
	case REACTOR_IO_READ:
		io_uring_prep_read(sqe, io->fd, buf, (unsigned)left, at);
		break;
	case REACTOR_IO_WRITE:
		io_uring_prep_write(sqe, io->fd, buf, (unsigned)left, at);
		sqe->rw_flags = io->rw_flags;
		break;
	case REACTOR_IO_FDATASYNC:
		io_uring_prep_fsync(sqe, io->fd, IORING_FSYNC_DATASYNC);
		break;
	case REACTOR_IO_PUNCH:
		io_uring_prep_fallocate(sqe, io->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)io->offset, (off_t)io->len);
		break;
	}
	io_uring_sqe_set_data(sqe, io);
}

static void submit_now(struct reactor_ring *ring)
{
	int rc = io_uring_submit(&ring->ring);
	if (rc < 0 && rc != -EAGAIN && rc != -EBUSY)
		log_warn("io ring: submit: %s", strerror(-rc));
	reap(ring);
}

static void submit_task_run(struct reactor_task *task)
{
	submit_now(container_of(task, struct reactor_ring, submit_task));
}

static void queue(struct reactor_ring *ring, struct reactor_io *io)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->ring);
	if (!sqe) { /* a full submission queue goes now, to make room */
		submit_now(ring);
		sqe = io_uring_get_sqe(&ring->ring);
	}
	while (!sqe) { /* still full: the kernel has them all; wait for one to finish */
		struct io_uring_cqe *cqe;
		io_uring_wait_cqe(&ring->ring, &cqe);
		reap(ring);
		sqe = io_uring_get_sqe(&ring->ring);
	}
	prep(sqe, io);
	reactor_defer(ring->reactor, &ring->submit_task);
}

static void complete(struct reactor_ring *ring, struct reactor_io *io, int res)
{
	if (res > 0 && (io->op == REACTOR_IO_READ || io->op == REACTOR_IO_WRITE)) {
		io->moved += (uint64_t)res;
		if (io->moved < io->len) { /* a short transfer: go on from where it stopped */
			queue(ring, io);
			return;
		}
	}
	ring->pending--;
	int64_t result = res < 0 ? res : (int64_t)io->moved;
	if (res == 0 && (io->op == REACTOR_IO_READ || io->op == REACTOR_IO_WRITE) && io->moved < io->len)
		result = -EIO; /* past the end of the file */
	io->done(io, result);
}

static void reap(struct reactor_ring *ring)
{
	struct io_uring_cqe *cqe;
	while (io_uring_peek_cqe(&ring->ring, &cqe) == 0) {
		struct reactor_io *io = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&ring->ring, cqe);
		complete(ring, io, res);
	}
}

static void on_eventfd(struct reactor_fd *rfd, uint32_t events)
{
	(void)events;
	struct reactor_ring *ring = container_of(rfd, struct reactor_ring, event);
	uint64_t count;
	if (read(rfd->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("io ring: eventfd: %s", strerror(errno));
	reap(ring);
}

static struct reactor_ring *ring_create(struct reactor *r)
{
	struct reactor_ring *ring = calloc(1, sizeof(*ring));
	if (!ring)
		return NULL;
	ring->reactor = r;
	ring->submit_task.run = submit_task_run;
	/* Completions run only when the loop asks for them: no interrupting task work. */
	int rc = io_uring_queue_init(RING_ENTRIES, &ring->ring,
				     IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER);
	if (rc == -EINVAL)
		rc = io_uring_queue_init(RING_ENTRIES, &ring->ring, 0);
	if (rc < 0) {
		free(ring);
		errno = -rc;
		return NULL;
	}
	ring->event.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ring->event.on_event = on_eventfd;
	if (ring->event.fd < 0 || io_uring_register_eventfd(&ring->ring, ring->event.fd) ||
	    reactor_add_fd(r, &ring->event, EPOLLIN)) {
		int saved = errno;
		if (ring->event.fd >= 0)
			close(ring->event.fd);
		io_uring_queue_exit(&ring->ring);
		free(ring);
		errno = saved;
		return NULL;
	}
	return ring;
}

int reactor_io_submit(struct reactor *r, struct reactor_io *io)
{
	if (!r->ring && !(r->ring = ring_create(r)))
		return -errno;
	io->moved = 0;
	r->ring->pending++;
	queue(r->ring, io);
	return 0;
}

unsigned reactor_io_pending(const struct reactor *r) { return r->ring ? r->ring->pending : 0; }

void reactor_io_drain(struct reactor *r) { reactor_ring_drain(r); }

void reactor_ring_drain(struct reactor *r)
{
	struct reactor_ring *ring = r->ring;
	if (!ring)
		return;
	while (ring->pending) {
		submit_now(ring);
		struct io_uring_cqe *cqe;
		if (ring->pending && io_uring_wait_cqe(&ring->ring, &cqe) == 0)
			reap(ring);
	}
}

void reactor_ring_destroy(struct reactor *r)
{
	struct reactor_ring *ring = r->ring;
	if (!ring)
		return;
	reactor_del_fd(r, &ring->event);
	close(ring->event.fd);
	io_uring_queue_exit(&ring->ring);
	free(ring);
	r->ring = NULL;
}
