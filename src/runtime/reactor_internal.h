/* Shared by reactor.c and io.c. */
#ifndef NVEMU_RUNTIME_REACTOR_INTERNAL_H
#define NVEMU_RUNTIME_REACTOR_INTERNAL_H

#include <liburing.h>
#include <pthread.h>
#include <sys/epoll.h>

#include "runtime/reactor.h"

struct reactor_ring {
	struct io_uring ring;
	struct reactor *reactor;
	struct reactor_fd event;	 /* the ring's eventfd in the reactor's epoll set */
	struct reactor_task submit_task; /* submits what the pass queued */
	unsigned pending;		 /* queued or in flight */
};

struct posted_call {
	void (*fn)(void *arg);
	void *arg;
	struct posted_call *next;
};

struct reactor {
	unsigned id;
	bool busy_poll;
	uint64_t timer_spin_ns;
	uint64_t idle_spin_ns;
	uint64_t last_event_ns; /* when the loop last went back to waiting after a pass with events */
	bool had_events;	/* the last pass had events (its end is stamped at the next wait) */
	uint64_t pass_ns;	/* reactor_now_ns() within a pass; 0 outside one */
	/* Set by reactor_stop() from any thread, read by the loop: relaxed is enough, the
	 * eventfd write that follows wakes the loop to look. */
	_Atomic bool stopping;
	int epfd;

	struct reactor_fd mailbox;
	pthread_mutex_t mailbox_lock;
	struct posted_call *mailbox_head, *mailbox_tail;

	/* 1-based binary min-heap of armed timers */
	struct reactor_timer **heap;
	uint32_t heap_len, heap_cap;

	struct reactor_task *deferred_head, *deferred_tail;
	struct reactor_ring *ring; /* NULL until the first file I/O */
};

/* io.c: waits for every I/O in flight (their done calls run); on the reactor's thread. */
void reactor_ring_drain(struct reactor *r);
void reactor_ring_destroy(struct reactor *r);

#endif
