/* The reactor's timer heap: due order, cancel and re-arm anywhere in the heap, growth, re-entry;
 * its idle spin (a sleeping reactor polls on for a while after traffic); and the time of a pass. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/reactor.h"

#define MANY 1000 /* past the heap's first allocation (256) */

struct probe {
	struct reactor_timer timer;
	unsigned fired;
	uint64_t fired_due; /* timer.due_ns when it fired */
};

/* The order timers fired in, checked against their due times. */
static struct probe *fired_order[MANY + 1];
static unsigned nfired;

static void on_fire(struct reactor_timer *timer)
{
	struct probe *p = (struct probe *)((char *)timer - offsetof(struct probe, timer));
	p->fired++;
	p->fired_due = timer->due_ns;
	fired_order[nfired++] = p;
}

static struct reactor *r;
static struct probe probes[MANY];

static int setup(void **state)
{
	(void)state;
	r = reactor_create(0, false);
	nfired = 0;
	for (unsigned i = 0; i < MANY; i++)
		probes[i] = (struct probe){.timer = {.fire = on_fire}};
	return r ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	reactor_destroy(r);
	return 0;
}

/* A deterministic scramble of due times in the past, with ties. */
static uint64_t past_due(uint64_t now, unsigned i)
{
	return now - 1000000000ull + (i * 7919u) % 509u * 1000u;
}

static void assert_fired_in_due_order(void)
{
	for (unsigned i = 1; i < nfired; i++)
		assert_true(fired_order[i - 1]->fired_due <= fired_order[i]->fired_due);
}

static void test_timers_fire_once_in_due_order(void **state)
{
	(void)state;
	uint64_t now = clock_now_ns();
	for (unsigned i = 0; i < MANY; i++) {
		reactor_timer_arm(r, &probes[i].timer, past_due(now, i));
		assert_true(reactor_timer_armed(&probes[i].timer));
	}
	assert_true(reactor_poll(r, 0) >= 0);
	assert_int_equal(nfired, MANY);
	assert_fired_in_due_order();
	for (unsigned i = 0; i < MANY; i++) {
		assert_int_equal(probes[i].fired, 1);
		assert_false(reactor_timer_armed(&probes[i].timer));
	}
	/* Nothing is left to fire. */
	assert_true(reactor_poll(r, 0) >= 0);
	assert_int_equal(nfired, MANY);
}

static void test_future_timers_wait(void **state)
{
	(void)state;
	uint64_t now = clock_now_ns();
	reactor_timer_arm(r, &probes[0].timer, now + 3600ull * 1000000000ull);
	reactor_timer_arm(r, &probes[1].timer, now - 1);
	assert_true(reactor_poll(r, 0) >= 0);
	assert_int_equal(probes[0].fired, 0);
	assert_int_equal(probes[1].fired, 1);
	assert_true(reactor_timer_armed(&probes[0].timer));
	reactor_timer_cancel(r, &probes[0].timer);
	assert_false(reactor_timer_armed(&probes[0].timer));
	reactor_timer_cancel(r, &probes[0].timer); /* cancelling a disarmed timer does nothing */
	assert_true(reactor_poll(r, 0) >= 0);
	assert_int_equal(probes[0].fired, 0);
}

/* Cancelling from the root, the middle and the last slot, and moving timers both ways. */
static void test_cancel_and_rearm_anywhere(void **state)
{
	(void)state;
	uint64_t now = clock_now_ns(), later = now + 3600ull * 1000000000ull;
	for (unsigned i = 0; i < MANY; i++)
		reactor_timer_arm(r, &probes[i].timer, past_due(now, i));
	/* Every third timer is cancelled, every fifth (not cancelled) moves to the future. */
	for (unsigned i = 0; i < MANY; i++) {
		if (i % 3 == 0)
			reactor_timer_cancel(r, &probes[i].timer);
		else if (i % 5 == 0)
			reactor_timer_arm(r, &probes[i].timer, later + i);
	}
	/* Some of the moved ones come back, earlier than anything else. */
	for (unsigned i = 0; i < MANY; i += 35)
		if (i % 3 && i % 5 == 0)
			reactor_timer_arm(r, &probes[i].timer, now - 2000000000ull);
	assert_true(reactor_poll(r, 0) >= 0);
	assert_fired_in_due_order();
	unsigned expected = 0;
	for (unsigned i = 0; i < MANY; i++) {
		bool back = i % 35 == 0 && i % 3 && i % 5 == 0;
		bool fires = i % 3 && (i % 5 || back);
		assert_int_equal(probes[i].fired, fires ? 1 : 0);
		assert_int_equal(reactor_timer_armed(&probes[i].timer), i % 3 && !fires);
		if (back)
			assert_int_equal(probes[i].fired_due, now - 2000000000ull);
		expected += fires;
	}
	assert_int_equal(nfired, expected);
	/* The ones that came back fired first. */
	assert_int_equal(fired_order[0]->fired_due, now - 2000000000ull);
	for (unsigned i = 0; i < MANY; i++)
		reactor_timer_cancel(r, &probes[i].timer);
}

/* A timer's callback may arm timers, itself included: what is due fires in the same pass. */
static void chain_fire(struct reactor_timer *timer)
{
	on_fire(timer);
	struct probe *p = (struct probe *)((char *)timer - offsetof(struct probe, timer));
	unsigned i = (unsigned)(p - probes);
	if (i + 1 < 10)
		reactor_timer_arm(r, &probes[i + 1].timer, timer->due_ns + 1);
	if (p->fired < 2)
		reactor_timer_arm(r, timer, clock_now_ns() + 3600ull * 1000000000ull);
}

static void test_callbacks_arm_timers(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 10; i++)
		probes[i].timer.fire = chain_fire;
	reactor_timer_arm(r, &probes[0].timer, clock_now_ns() - 1000);
	assert_true(reactor_poll(r, 0) >= 0);
	assert_int_equal(nfired, 10);
	for (unsigned i = 0; i < 10; i++) {
		assert_ptr_equal(fired_order[i], &probes[i]);
		assert_int_equal(probes[i].fired, 1);
		assert_true(reactor_timer_armed(&probes[i].timer)); /* re-armed for later */
		reactor_timer_cancel(r, &probes[i].timer);
	}
}

/* An eventfd that stays readable: every pass has an event until it is drained. */
struct ready_fd {
	struct reactor_fd rfd;
	unsigned events;
};

static void on_ready(struct reactor_fd *rfd, uint32_t epoll_events)
{
	(void)epoll_events;
	struct ready_fd *f = (struct ready_fd *)rfd;
	f->events++;
	uint64_t count;
	assert_int_equal(read(rfd->fd, &count, sizeof(count)), (ssize_t)sizeof(count));
}

/* How long one pass that has nothing to do takes when it may wait up to 100 ms. */
static uint64_t idle_pass_ns(void)
{
	uint64_t start = clock_now_ns();
	assert_int_equal(reactor_poll(r, 100000000ull), 0);
	return clock_now_ns() - start;
}

static void test_idle_spin(void **state)
{
	(void)state;
	struct ready_fd f = {.rfd = {.fd = eventfd(0, EFD_NONBLOCK), .on_event = on_ready}};
	assert_true(f.rfd.fd >= 0);
	assert_int_equal(reactor_add_fd(r, &f.rfd, EPOLLIN), 0);
	uint64_t one = 1;

	/* Without it, the pass after traffic sleeps its whole wait. */
	assert_int_equal(write(f.rfd.fd, &one, sizeof(one)), (ssize_t)sizeof(one));
	assert_int_equal(reactor_poll(r, 0), 1);
	assert_true(idle_pass_ns() >= 90000000ull);

	/* With 50 ms of it, the passes within 50 ms of the traffic do not sleep... */
	reactor_set_idle_spin(r, 50000000ull);
	assert_int_equal(write(f.rfd.fd, &one, sizeof(one)), (ssize_t)sizeof(one));
	assert_int_equal(reactor_poll(r, 0), 1);
	assert_true(idle_pass_ns() < 20000000ull);
	assert_true(idle_pass_ns() < 20000000ull);
	/* ...and once it has passed the reactor sleeps again. */
	usleep(60000);
	assert_true(idle_pass_ns() >= 90000000ull);
	assert_int_equal(f.events, 2);
	reactor_del_fd(r, &f.rfd);
	close(f.rfd.fd);
}

/* Records the pass time an event's handler sees, before and after a 2 ms stretch of work. */
struct stamped_fd {
	struct ready_fd ready;
	uint64_t seen_first, seen_after_work;
	ssize_t written; /* by write_later, checked on the test's own thread */
};

static void on_stamped(struct reactor_fd *rfd, uint32_t epoll_events)
{
	on_ready(rfd, epoll_events);
	struct stamped_fd *f = (struct stamped_fd *)rfd;
	f->seen_first = reactor_now_ns(r);
	uint64_t until = clock_now_ns() + 2000000ull;
	while (clock_now_ns() < until)
		;
	f->seen_after_work = reactor_now_ns(r);
}

/* Writes to the eventfd 5 ms after it starts: an event that comes while the reactor sleeps. */
static void *write_later(void *arg)
{
	struct stamped_fd *f = arg;
	struct timespec nap = {.tv_nsec = 5000000};
	nanosleep(&nap, NULL);
	uint64_t one = 1;
	f->written = write(f->ready.rfd.fd, &one, sizeof(one));
	return NULL;
}

static void test_pass_time(void **state)
{
	(void)state;
	struct stamped_fd f = {
	    .ready = {.rfd = {.fd = eventfd(0, EFD_NONBLOCK), .on_event = on_stamped}}};
	assert_true(f.ready.rfd.fd >= 0);
	assert_int_equal(reactor_add_fd(r, &f.ready.rfd, EPOLLIN), 0);
	for (int sleeps = 0; sleeps < 2; sleeps++) {
		/* A pass that finds the event at once, then one that sleeps until it comes. */
		uint64_t before = clock_now_ns();
		pthread_t writer;
		assert_int_equal(pthread_create(&writer, NULL, write_later, &f), 0);
		if (!sleeps)
			pthread_join(writer, NULL);
		assert_int_equal(reactor_poll(r, 100000000ull), 1);
		uint64_t after = clock_now_ns();
		if (sleeps)
			pthread_join(writer, NULL);
		assert_int_equal(f.written, (ssize_t)sizeof(uint64_t));
		/* Every call within the pass gives the time the pass looked, not the clock's... */
		assert_int_equal(f.seen_first, f.seen_after_work);
		assert_true(f.seen_first + 2000000ull <= after);
		/* ...and after a sleep, the time it woke. */
		assert_true(f.seen_first >= before + (sleeps ? 5000000ull : 0));
	}
	/* Outside a pass (and with no reactor) it is the clock. */
	uint64_t before = clock_now_ns();
	assert_true(reactor_now_ns(r) >= before && reactor_now_ns(NULL) >= before);
	assert_int_equal(f.ready.events, 2);
	reactor_del_fd(r, &f.ready.rfd);
	close(f.ready.rfd.fd);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_timers_fire_once_in_due_order),
	    T(test_future_timers_wait),
	    T(test_cancel_and_rearm_anywhere),
	    T(test_callbacks_arm_timers),
	    T(test_idle_spin),
	    T(test_pass_time),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
