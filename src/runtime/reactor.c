#include "runtime/reactor_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "util/log.h"
#include "util/util.h"

#define REACTOR_MAX_EVENTS 128

static __thread struct reactor *current_reactor;

struct reactor *reactor_current(void) { return current_reactor; }

unsigned reactor_id(const struct reactor *r) { return r->id; }

static void heap_swap(struct reactor *r, uint32_t a, uint32_t b)
{
	struct reactor_timer *t = r->heap[a];
	r->heap[a] = r->heap[b];
	r->heap[b] = t;
	r->heap[a]->heap_index = a;
	r->heap[b]->heap_index = b;
}

static void heap_sift_up(struct reactor *r, uint32_t i)
{
	while (i > 1 && r->heap[i / 2]->due_ns > r->heap[i]->due_ns) {
		heap_swap(r, i, i / 2);
		i /= 2;
	}
}

static void heap_sift_down(struct reactor *r, uint32_t i)
{
	for (;;) {
		uint32_t smallest = i, left = 2 * i, right = 2 * i + 1;
		if (left <= r->heap_len && r->heap[left]->due_ns < r->heap[smallest]->due_ns)
			smallest = left;
		if (right <= r->heap_len && r->heap[right]->due_ns < r->heap[smallest]->due_ns)
			smallest = right;
		if (smallest == i)
			return;
		heap_swap(r, i, smallest);
		i = smallest;
	}
}

void reactor_timer_arm(struct reactor *r, struct reactor_timer *timer, uint64_t due_ns)
{
	if (timer->heap_index) {
		uint64_t old = timer->due_ns;
		timer->due_ns = due_ns;
		if (due_ns < old)
			heap_sift_up(r, timer->heap_index);
		else
			heap_sift_down(r, timer->heap_index);
		return;
	}
	if (r->heap_len + 1 >= r->heap_cap) {
		uint32_t cap = r->heap_cap ? r->heap_cap * 2 : 256;
		struct reactor_timer **heap = realloc(r->heap, cap * sizeof(*heap));
		if (!heap) {
			/* Timers guard completions; losing one would hang a host. */
			log_error("reactor %u: out of memory for timers", r->id);
			abort();
		}
		r->heap = heap;
		r->heap_cap = cap;
	}
	timer->due_ns = due_ns;
	timer->heap_index = ++r->heap_len;
	r->heap[timer->heap_index] = timer;
	heap_sift_up(r, timer->heap_index);
}

void reactor_timer_cancel(struct reactor *r, struct reactor_timer *timer)
{
	uint32_t i = timer->heap_index;
	if (!i)
		return;
	uint32_t last = r->heap_len--;
	if (i != last) {
		heap_swap(r, i, last);
		heap_sift_down(r, i);
		heap_sift_up(r, i);
	}
	timer->heap_index = 0;
}

static void run_due_timers(struct reactor *r, uint64_t now)
{
	while (r->heap_len && r->heap[1]->due_ns <= now) {
		struct reactor_timer *t = r->heap[1];
		reactor_timer_cancel(r, t);
		t->fire(t);
	}
}

void reactor_defer(struct reactor *r, struct reactor_task *task)
{
	if (task->queued)
		return;
	task->queued = true;
	task->next = NULL;
	if (r->deferred_tail)
		r->deferred_tail->next = task;
	else
		r->deferred_head = task;
	r->deferred_tail = task;
}

static void run_deferred(struct reactor *r)
{
	/* Tasks may defer more tasks (or themselves); run until none is left. */
	while (r->deferred_head) {
		struct reactor_task *task = r->deferred_head;
		r->deferred_head = task->next;
		if (!r->deferred_head)
			r->deferred_tail = NULL;
		task->queued = false;
		task->run(task);
	}
}

int reactor_post(struct reactor *r, void (*fn)(void *arg), void *arg)
{
	struct posted_call *call = malloc(sizeof(*call));
	if (!call)
		return -ENOMEM;
	call->fn = fn;
	call->arg = arg;
	call->next = NULL;
	pthread_mutex_lock(&r->mailbox_lock);
	if (r->mailbox_tail)
		r->mailbox_tail->next = call;
	else
		r->mailbox_head = call;
	r->mailbox_tail = call;
	pthread_mutex_unlock(&r->mailbox_lock);
	uint64_t one = 1;
	if (write(r->mailbox.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static void mailbox_drain(struct reactor_fd *rfd, uint32_t events)
{
	(void)events;
	struct reactor *r = container_of(rfd, struct reactor, mailbox);
	uint64_t count;
	if (read(rfd->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("reactor %u: mailbox read: %s", r->id, strerror(errno));
	pthread_mutex_lock(&r->mailbox_lock);
	struct posted_call *call = r->mailbox_head;
	r->mailbox_head = r->mailbox_tail = NULL;
	pthread_mutex_unlock(&r->mailbox_lock);
	while (call) {
		struct posted_call *next = call->next;
		call->fn(call->arg);
		free(call);
		call = next;
	}
}

struct reactor *reactor_create(unsigned id, bool busy_poll)
{
	struct reactor *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->id = id;
	r->busy_poll = busy_poll;
	pthread_mutex_init(&r->mailbox_lock, NULL);
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	r->mailbox.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->mailbox.on_event = mailbox_drain;
	if (r->epfd < 0 || r->mailbox.fd < 0 || reactor_add_fd(r, &r->mailbox, EPOLLIN) < 0) {
		log_error("reactor %u: %s", id, strerror(errno));
		reactor_destroy(r);
		return NULL;
	}
	return r;
}

void reactor_set_timer_spin(struct reactor *r, uint64_t spin_ns) { r->timer_spin_ns = spin_ns; }

void reactor_set_idle_spin(struct reactor *r, uint64_t spin_ns) { r->idle_spin_ns = spin_ns; }

void reactor_destroy(struct reactor *r)
{
	if (!r)
		return;
	struct posted_call *call = r->mailbox_head;
	while (call) {
		struct posted_call *next = call->next;
		free(call);
		call = next;
	}
	if (r->mailbox.fd >= 0)
		close(r->mailbox.fd);
	reactor_ring_destroy(r);
	if (r->epfd >= 0)
		close(r->epfd);
	pthread_mutex_destroy(&r->mailbox_lock);
	free(r->heap);
	free(r);
}

int reactor_add_fd(struct reactor *r, struct reactor_fd *rfd, uint32_t epoll_events)
{
	struct epoll_event ev = {.events = epoll_events, .data.ptr = rfd};
	return epoll_ctl(r->epfd, EPOLL_CTL_ADD, rfd->fd, &ev);
}

int reactor_mod_fd(struct reactor *r, struct reactor_fd *rfd, uint32_t epoll_events)
{
	struct epoll_event ev = {.events = epoll_events, .data.ptr = rfd};
	return epoll_ctl(r->epfd, EPOLL_CTL_MOD, rfd->fd, &ev);
}

void reactor_del_fd(struct reactor *r, struct reactor_fd *rfd)
{
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, rfd->fd, NULL);
}

void reactor_stop(struct reactor *r)
{
	atomic_store_explicit(&r->stopping, true, memory_order_relaxed);
	uint64_t one = 1;
	/* Wakes a sleeping loop; a failure only delays the stop to the next event. */
	if (write(r->mailbox.fd, &one, sizeof(one)) < 0)
		return;
}

static struct timespec *sleep_timeout(struct reactor *r, uint64_t now, uint64_t max_wait_ns,
				      struct timespec *ts)
{
	uint64_t wait = max_wait_ns;
	if (r->had_events) { /* the clock read for this wait stamps the end of that pass */
		r->had_events = false;
		r->last_event_ns = now;
	}
	if (r->busy_poll || r->deferred_head || now - r->last_event_ns < r->idle_spin_ns) {
		wait = 0;
	} else if (r->heap_len) {
		/* Wake-ups overshoot; wake early and spin the last stretch to the due time. */
		uint64_t wake = r->heap[1]->due_ns > r->timer_spin_ns ? r->heap[1]->due_ns - r->timer_spin_ns : 0;
		wait = wake > now ? wake - now : 0;
	}
	if (wait > max_wait_ns)
		wait = max_wait_ns;
	if (wait == UINT64_MAX)
		return NULL;
	ts->tv_sec = (time_t)(wait / 1000000000ull);
	ts->tv_nsec = (long)(wait % 1000000000ull);
	return ts;
}

uint64_t reactor_now_ns(const struct reactor *r)
{
	return r && r->pass_ns ? r->pass_ns : clock_now_ns();
}

int reactor_poll(struct reactor *r, uint64_t max_wait_ns)
{
	struct epoll_event events[REACTOR_MAX_EVENTS];
	struct timespec ts;
	uint64_t looked_ns = clock_now_ns();
	struct timespec *timeout = sleep_timeout(r, looked_ns, max_wait_ns, &ts);
	int n = epoll_pwait2(r->epfd, events, REACTOR_MAX_EVENTS, timeout, NULL);
	if (n < 0) {
		if (errno != EINTR)
			return -errno;
		n = 0;
	}
	/* A wait that may have slept needs the clock again; a look that did not is that time. */
	if (!timeout || timeout->tv_sec || timeout->tv_nsec)
		looked_ns = clock_now_ns();
	r->pass_ns = looked_ns;
	r->had_events |= n > 0;
	for (int i = 0; i < n; i++) {
		struct reactor_fd *rfd = events[i].data.ptr;
		rfd->on_event(rfd, events[i].events);
	}
	if (r->heap_len) {
		if (n > 0)
			r->pass_ns = clock_now_ns(); /* handling the events took a while */
		run_due_timers(r, r->pass_ns);
	}
	run_deferred(r);
	r->pass_ns = 0;
	return n;
}

void reactor_run(struct reactor *r)
{
	current_reactor = r;
	/* The default 50 us slack would add to every modelled latency. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	while (!atomic_load_explicit(&r->stopping, memory_order_relaxed)) {
		int rc = reactor_poll(r, UINT64_MAX);
		if (rc < 0) {
			log_error("reactor %u: epoll: %s", r->id, strerror(-rc));
			break;
		}
	}
	/* The kernel may still be moving data into buffers their owners are about to free. */
	reactor_ring_drain(r);
	current_reactor = NULL;
}
