/*
 * Reactors: one event loop per thread, shared-nothing.
 *
 * A reactor owns file descriptors (epoll), timers (a min-heap ordered by due
 * time) and a list of tasks to run once the current batch of events has been
 * handled, which is where connections flush their batched output.  Other
 * threads talk to a reactor only through reactor_post(), which wakes it via
 * an eventfd; everything else about a reactor is touched by its own thread.
 *
 * The loop either sleeps until the next event or timer (saves CPU) or spins
 * without sleeping (lowest latency), chosen per reactor; a sleeping one may go
 * on spinning a while after traffic (reactor_set_idle_spin), so that a host
 * sending its next command soon finds it awake.
 */
#ifndef NVEMU_RUNTIME_REACTOR_H
#define NVEMU_RUNTIME_REACTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct reactor;

static inline uint64_t clock_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Millisecond-grained and much cheaper: for timeouts, not for latencies. */
static inline uint64_t clock_coarse_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The time of the pass r is in, read once when r looked for its events: every command of a
 * batch is stamped with it (they had all arrived by then), which saves two clock reads per
 * command (clock_gettime went from 5 % to under 1 % of a reactor's CPU on 4 KiB reads).
 * Outside a pass, or with no reactor, the clock. */
uint64_t reactor_now_ns(const struct reactor *r);

/* A file descriptor watched by a reactor; embed it in the owner. */
struct reactor_fd {
	int fd;
	void (*on_event)(struct reactor_fd *rfd, uint32_t epoll_events);
};

struct reactor_timer {
	uint64_t due_ns;
	void (*fire)(struct reactor_timer *timer);
	uint32_t heap_index; /* 0 when not armed */
};

/* Work run after the current batch of events; embed it in the owner. */
struct reactor_task {
	void (*run)(struct reactor_task *task);
	struct reactor_task *next;
	bool queued;
};

struct reactor *reactor_create(unsigned id, bool busy_poll);
/* A sleeping reactor wakes this long before its next timer and spins the rest. */
void reactor_set_timer_spin(struct reactor *r, uint64_t spin_ns);
/* A sleeping reactor goes on polling this long after the last pass that had events before it
 * sleeps: a host that sends again within it finds the reactor awake (no wake-up to pay), and
 * an idle reactor still sleeps. */
void reactor_set_idle_spin(struct reactor *r, uint64_t spin_ns);
void reactor_destroy(struct reactor *r);
unsigned reactor_id(const struct reactor *r);

/* Runs until reactor_stop(); call from the thread that owns it. */
void reactor_run(struct reactor *r);
/*
 * One pass of the loop: waits up to max_wait_ns (UINT64_MAX: until something
 * happens) for events, then handles them, due timers and deferred tasks.
 * Returns the number of events handled or a negative errno.
 */
int reactor_poll(struct reactor *r, uint64_t max_wait_ns);
/* Safe from any thread. */
void reactor_stop(struct reactor *r);

int reactor_add_fd(struct reactor *r, struct reactor_fd *rfd, uint32_t epoll_events);
int reactor_mod_fd(struct reactor *r, struct reactor_fd *rfd, uint32_t epoll_events);
void reactor_del_fd(struct reactor *r, struct reactor_fd *rfd);

void reactor_timer_arm(struct reactor *r, struct reactor_timer *timer, uint64_t due_ns);
void reactor_timer_cancel(struct reactor *r, struct reactor_timer *timer);
static inline bool reactor_timer_armed(const struct reactor_timer *timer)
{
	return timer->heap_index != 0;
}

void reactor_defer(struct reactor *r, struct reactor_task *task);

/*
 * ---- File I/O that never blocks the loop ----
 * Each reactor has an io_uring (made on first use) whose eventfd sits in its epoll set. I/O
 * queued during a loop pass is submitted with one system call at the end of the pass; reads
 * the page cache holds complete during that call, and misses, syncs and writes the file
 * system cannot do without blocking complete later from the kernel's workers, while the
 * loop goes on serving its other connections.
 */
enum reactor_io_op { REACTOR_IO_READ, REACTOR_IO_WRITE, REACTOR_IO_FDATASYNC, REACTOR_IO_PUNCH };

struct reactor_io {
	enum reactor_io_op op;
	int fd;
	void *buf;
	uint64_t len; /* REACTOR_IO_PUNCH: the range to turn into a hole */
	uint64_t offset;
	int rw_flags; /* e.g. RWF_DSYNC for a write */
	/*
	 * Called once on the reactor's thread with the bytes moved (all of len: short transfers
	 * are continued) or -errno. The caller keeps io and its buffer alive until then.
	 */
	void (*done)(struct reactor_io *io, int64_t result);
	uint64_t moved; /* private */
};

/*
 * Queues io; call on r's own thread. Returns 0, or -errno when the ring cannot be made
 * (io->done is then not called: do the I/O some other way).
 */
int reactor_io_submit(struct reactor *r, struct reactor_io *io);
/* I/O queued or in flight on r's ring. */
unsigned reactor_io_pending(const struct reactor *r);
/* Blocks r (on its own thread) until none is: every done call has run. */
void reactor_io_drain(struct reactor *r);

/* Runs fn(arg) on r's thread; the only call allowed from other threads. */
int reactor_post(struct reactor *r, void (*fn)(void *arg), void *arg);

/* The reactor whose loop runs on the calling thread, or NULL. */
struct reactor *reactor_current(void);

#endif
