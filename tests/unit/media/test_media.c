/*
 * The sparse RAM store: residency, zero reads, discard, partial zeroing, concurrency, and holds
 * that keep bytes a zero-copy send was given; the store in a file, synchronous and on a reactor.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "media/media.h"

#define PAGE 4096u
#define SECTOR 512u

static void fill(uint8_t *buf, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

static bool all_zero(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return false;
	return true;
}

static void write_sector(struct media *m, uint64_t sector, uint8_t seed)
{
	uint8_t buf[SECTOR];
	fill(buf, sizeof(buf), seed);
	assert_int_equal(media_write(m, sector * SECTOR, buf, SECTOR), 0);
}

static void expect_sector(struct media *m, uint64_t sector, uint8_t seed)
{
	uint8_t want[SECTOR], got[SECTOR];
	fill(want, sizeof(want), seed);
	media_read(m, sector * SECTOR, got, SECTOR);
	assert_memory_equal(got, want, SECTOR);
}

static void expect_sector_zero(struct media *m, uint64_t sector)
{
	uint8_t got[SECTOR];
	memset(got, 0xAA, sizeof(got));
	media_read(m, sector * SECTOR, got, SECTOR);
	assert_true(all_zero(got, SECTOR));
}

static void test_new_store_is_empty_and_reads_zero(void **state)
{
	(void)state;
	struct media *m = media_ram_create(1ull << 30);
	assert_non_null(m);
	assert_int_equal(media_size(m), 1ull << 30);
	assert_int_equal(media_resident_pages(m), 0);
	uint8_t *buf = malloc(3 * PAGE);
	memset(buf, 0xAA, 3 * PAGE);
	media_read(m, (1ull << 30) - 3 * PAGE, buf, 3 * PAGE);
	assert_true(all_zero(buf, 3 * PAGE));
	assert_null(media_page(m, 12345));
	/* Reading does not allocate. */
	assert_int_equal(media_resident_pages(m), 0);
	free(buf);
	media_destroy(m);
}

static void test_writes_make_only_their_pages_resident(void **state)
{
	(void)state;
	struct media *m = media_ram_create(64ull << 20);
	uint8_t buf[PAGE + 100];
	fill(buf, sizeof(buf), 3);
	/* 100 bytes straddling pages 9 and 10, then one whole far-away page. */
	assert_int_equal(media_write(m, 10 * PAGE - 50, buf, 100), 0);
	assert_int_equal(media_resident_pages(m), 2);
	assert_int_equal(media_write(m, 5000ull * PAGE, buf, PAGE), 0);
	assert_int_equal(media_resident_pages(m), 3);
	/* Rewriting a resident page takes no new memory. */
	assert_int_equal(media_write(m, 5000ull * PAGE + 8, buf, 16), 0);
	assert_int_equal(media_resident_pages(m), 3);
	assert_non_null(media_page(m, 9));
	assert_non_null(media_page(m, 10));
	assert_null(media_page(m, 11));

	uint8_t got[PAGE + 100];
	media_read(m, 10 * PAGE - 50, got, 100);
	assert_memory_equal(got, buf, 100);
	/* The rest of a partially written page reads as zero. */
	media_read(m, 9 * PAGE, got, PAGE - 50);
	assert_true(all_zero(got, PAGE - 50));
	media_read(m, 5000ull * PAGE, got, PAGE);
	assert_memory_equal(got, buf, 8);
	assert_memory_equal(got + 8, buf, 16);
	assert_memory_equal(got + 24, buf + 24, PAGE - 24);
	media_destroy(m);
}

static void test_writes_past_the_end_are_refused(void **state)
{
	(void)state;
	struct media *m = media_ram_create(8 * PAGE);
	uint8_t buf[PAGE] = {1};
	assert_int_equal(media_write(m, 7 * PAGE, buf, PAGE), 0);
	assert_int_not_equal(media_write(m, 8 * PAGE, buf, PAGE), 0);
	assert_null(media_page_for_write(m, 8));
	assert_int_equal(media_resident_pages(m), 1);
	media_destroy(m);
}

static void test_discard_frees_and_reads_zero(void **state)
{
	(void)state;
	struct media *m = media_ram_create(16ull << 20);
	uint8_t buf[PAGE];
	for (uint64_t p = 0; p < 1100; p++) { /* spans three 512-page leaves */
		fill(buf, sizeof(buf), (uint8_t)p);
		assert_int_equal(media_write(m, p * PAGE, buf, PAGE), 0);
	}
	assert_int_equal(media_resident_pages(m), 1100);
	media_discard_pages(m, 100, 900);
	assert_int_equal(media_resident_pages(m), 200);
	uint8_t got[PAGE];
	for (uint64_t p = 0; p < 1100; p += 37) {
		media_read(m, p * PAGE, got, PAGE);
		if (p >= 100 && p < 1000) {
			assert_true(all_zero(got, PAGE));
			assert_null(media_page(m, p));
		} else {
			fill(buf, sizeof(buf), (uint8_t)p);
			assert_memory_equal(got, buf, PAGE);
		}
	}
	/* Discarding holes and the tail past the end is harmless. */
	media_discard_pages(m, 100, 900);
	media_discard_pages(m, 4000, 1u << 30);
	assert_int_equal(media_resident_pages(m), 200);
	/* A page written again after a discard starts from zeroes. */
	assert_int_equal(media_write(m, 500 * PAGE + 4, "x", 1), 0);
	media_read(m, 500 * PAGE, got, PAGE);
	assert_int_equal(got[4], 'x');
	got[4] = 0;
	assert_true(all_zero(got, PAGE));
	assert_int_equal(media_resident_pages(m), 201);
	media_destroy(m);
}

static void test_zero_whole_pages_frees_them(void **state)
{
	(void)state;
	struct media *m = media_ram_create(1ull << 20);
	uint8_t buf[4 * PAGE];
	fill(buf, sizeof(buf), 9);
	assert_int_equal(media_write(m, 0, buf, sizeof(buf)), 0);
	media_zero(m, PAGE, 2 * PAGE);
	assert_int_equal(media_resident_pages(m), 2);
	uint8_t got[4 * PAGE];
	media_read(m, 0, got, sizeof(got));
	assert_memory_equal(got, buf, PAGE);
	assert_true(all_zero(got + PAGE, 2 * PAGE));
	assert_memory_equal(got + 3 * PAGE, buf + 3 * PAGE, PAGE);
	media_destroy(m);
}

/*
 * 512-byte blocks: zeroing sectors 7 and 8 covers the last sector of page 0
 * and the first of page 1 without a whole page in between.  The pages are
 * written out of order (1, 0, 5) so that a write past the end of page 0 would
 * land in page 5's memory instead of accidentally zeroing page 1.
 */
static void test_zero_sectors_straddling_a_page_boundary(void **state)
{
	(void)state;
	struct media *m = media_ram_create(1ull << 20);
	for (uint64_t s = 8; s < 16; s++)
		write_sector(m, s, (uint8_t)s);
	for (uint64_t s = 0; s < 8; s++)
		write_sector(m, s, (uint8_t)s);
	for (uint64_t s = 40; s < 48; s++)
		write_sector(m, s, (uint8_t)s);
	assert_int_equal(media_resident_pages(m), 3);

	media_zero(m, 7 * SECTOR, 2 * SECTOR);

	for (uint64_t s = 0; s < 7; s++)
		expect_sector(m, s, (uint8_t)s);
	expect_sector_zero(m, 7);
	expect_sector_zero(m, 8);
	for (uint64_t s = 9; s < 16; s++)
		expect_sector(m, s, (uint8_t)s);
	for (uint64_t s = 40; s < 48; s++)
		expect_sector(m, s, (uint8_t)s);
	/* Partly zeroed pages keep their memory. */
	assert_int_equal(media_resident_pages(m), 3);
	media_destroy(m);
}

static void test_zero_sectors_inside_one_page(void **state)
{
	(void)state;
	struct media *m = media_ram_create(1ull << 20);
	for (uint64_t s = 0; s < 16; s++)
		write_sector(m, s, (uint8_t)(s + 100));
	media_zero(m, 2 * SECTOR, 3 * SECTOR); /* sectors 2..4 */
	media_zero(m, 8 * SECTOR, SECTOR);     /* first sector of page 1 */
	media_zero(m, 15 * SECTOR, SECTOR);    /* last sector of page 1 */
	for (uint64_t s = 0; s < 16; s++) {
		if ((s >= 2 && s <= 4) || s == 8 || s == 15)
			expect_sector_zero(m, s);
		else
			expect_sector(m, s, (uint8_t)(s + 100));
	}
	/* Head, whole pages and tail in one call: sectors 3..(8*3+2) */
	for (uint64_t s = 0; s < 32; s++)
		write_sector(m, s, (uint8_t)(s + 50));
	media_zero(m, 3 * SECTOR, (26 - 3 + 1) * SECTOR);
	for (uint64_t s = 0; s < 32; s++) {
		if (s >= 3 && s <= 26)
			expect_sector_zero(m, s);
		else
			expect_sector(m, s, (uint8_t)(s + 50));
	}
	assert_null(media_page(m, 1));
	assert_null(media_page(m, 2));
	assert_int_equal(media_resident_pages(m), 2);
	/* Zeroing never-written space allocates nothing. */
	media_zero(m, 100 * PAGE + SECTOR, 3 * SECTOR);
	assert_int_equal(media_resident_pages(m), 2);
	media_destroy(m);
}

#define WRITER_PAGES 3000

struct writer {
	struct media *m;
	unsigned parity;
};

static void *write_every_other_page(void *arg)
{
	struct writer *w = arg;
	uint8_t buf[PAGE];
	for (uint64_t p = w->parity; p < WRITER_PAGES; p += 2) {
		fill(buf, sizeof(buf), (uint8_t)(p * 31));
		memcpy(buf, &p, sizeof(p));
		if (media_write(w->m, p * PAGE, buf, PAGE))
			return (void *)1;
	}
	return NULL;
}

static void test_concurrent_writers_lose_no_page(void **state)
{
	(void)state;
	/* Interleaved pages make both threads allocate leaves and slab pages at once. */
	struct media *m = media_ram_create((uint64_t)WRITER_PAGES * PAGE);
	struct writer w[2] = {{m, 0}, {m, 1}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, write_every_other_page, &w[i]), 0);
	for (int i = 0; i < 2; i++) {
		void *rc;
		assert_int_equal(pthread_join(t[i], &rc), 0);
		assert_null(rc);
	}
	assert_int_equal(media_resident_pages(m), WRITER_PAGES);
	uint8_t want[PAGE], got[PAGE];
	for (uint64_t p = 0; p < WRITER_PAGES; p++) {
		fill(want, sizeof(want), (uint8_t)(p * 31));
		memcpy(want, &p, sizeof(p));
		media_read(m, p * PAGE, got, PAGE);
		assert_memory_equal(got, want, PAGE);
	}
	media_destroy(m);
}

/* ---- holds: a real MSG_ZEROCOPY send over loopback, overwritten while it waits ---- */

#define HELD_BYTES (16 * PAGE)
#define FILLER_BYTES (256u * 1024)

static void connected_pair(int *sender, int *receiver)
{
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);
	/* A tiny receive window, set before the handshake, keeps sends waiting in the sender. */
	int small = 4096, large = 4 << 20, one = 1;
	assert_int_equal(setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	assert_int_equal(bind(listener, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(listener, 1), 0);
	assert_int_equal(getsockname(listener, (struct sockaddr *)&addr, &len), 0);
	*sender = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(setsockopt(*sender, SOL_SOCKET, SO_SNDBUF, &large, sizeof(large)), 0);
	assert_int_equal(setsockopt(*sender, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)), 0);
	assert_int_equal(connect(*sender, (struct sockaddr *)&addr, sizeof(addr)), 0);
	*receiver = accept(listener, NULL, NULL);
	assert_true(*receiver >= 0);
	close(listener);
}

static void send_all(int fd, const struct iovec *pieces, unsigned n, int flags)
{
	size_t total = 0;
	for (unsigned i = 0; i < n; i++)
		total += pieces[i].iov_len;
	struct msghdr msg = {.msg_iov = (struct iovec *)pieces, .msg_iovlen = n};
	/* One call: the sender has room for all of it, only the receiver's window is closed. */
	assert_int_equal(sendmsg(fd, &msg, flags | MSG_DONTWAIT), (ssize_t)total);
}

static void receive_exactly(int fd, uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = recv(fd, buf, len, 0);
		assert_true(n > 0);
		buf += n;
		len -= (size_t)n;
	}
}

static void test_held_pages_keep_the_bytes_a_zero_copy_send_took(void **state)
{
	(void)state;
	struct media *m = media_ram_create(4 * HELD_BYTES);
	static uint8_t old_bytes[HELD_BYTES], new_bytes[HELD_BYTES], got[HELD_BYTES];
	static uint8_t filler[FILLER_BYTES];
	fill(old_bytes, sizeof(old_bytes), 1);
	fill(new_bytes, sizeof(new_bytes), 2);
	/* Region 0 is held while its send waits; region 1 is the control, sent unheld. */
	for (uint64_t region = 0; region < 2; region++)
		assert_int_equal(media_write(m, region * HELD_BYTES, old_bytes, HELD_BYTES), 0);
	int sender, receiver;
	connected_pair(&sender, &receiver);

	/* Fill the receiver's window so that what follows waits in the sender's queue. */
	struct iovec filler_piece = {filler, sizeof(filler)};
	send_all(sender, &filler_piece, 1, 0);
	struct iovec pieces[2][HELD_BYTES / PAGE];
	unsigned npieces[2];
	assert_int_equal(media_hold(m, 0, HELD_BYTES), 0);
	for (uint64_t region = 0; region < 2; region++) {
		npieces[region] = media_map(m, region * HELD_BYTES, HELD_BYTES, pieces[region],
					    HELD_BYTES / PAGE);
		assert_true(npieces[region] > 0);
		send_all(sender, pieces[region], npieces[region], MSG_ZEROCOPY);
	}

	/* Overwrite both regions: whole pages, and sectors inside one page (the kept-bytes path). */
	for (uint64_t region = 0; region < 2; region++) {
		assert_int_equal(media_write(m, region * HELD_BYTES, new_bytes, HELD_BYTES - PAGE),
				 0);
		uint64_t last = region * HELD_BYTES + HELD_BYTES - PAGE;
		assert_int_equal(media_write(m, last + SECTOR,
					     new_bytes + HELD_BYTES - PAGE + SECTOR, 2 * SECTOR),
				 0);
	}

	receive_exactly(receiver, filler, sizeof(filler));
	/* The held region arrives as it was when the send took it... */
	receive_exactly(receiver, got, HELD_BYTES);
	assert_memory_equal(got, old_bytes, HELD_BYTES);
	/* ...while the unheld one shows the send really was still reading the pages (else this
	 * test could not tell a hold from a send that had copied already). */
	receive_exactly(receiver, got, HELD_BYTES);
	assert_memory_equal(got, new_bytes, HELD_BYTES - PAGE);
	assert_memory_equal(got + HELD_BYTES - PAGE + SECTOR,
			    new_bytes + HELD_BYTES - PAGE + SECTOR, 2 * SECTOR);
	assert_memory_equal(got + HELD_BYTES - PAGE, old_bytes + HELD_BYTES - PAGE, SECTOR);

	/* The store itself has the new bytes (and the kept ones) in both regions. */
	for (uint64_t region = 0; region < 2; region++) {
		media_read(m, region * HELD_BYTES, got, HELD_BYTES);
		assert_memory_equal(got, new_bytes, HELD_BYTES - PAGE);
		assert_memory_equal(got + HELD_BYTES - PAGE, old_bytes + HELD_BYTES - PAGE, SECTOR);
		assert_memory_equal(got + HELD_BYTES - PAGE + SECTOR,
				    new_bytes + HELD_BYTES - PAGE + SECTOR, 2 * SECTOR);
		assert_memory_equal(got + HELD_BYTES - PAGE + 3 * SECTOR,
				    old_bytes + HELD_BYTES - PAGE + 3 * SECTOR, PAGE - 3 * SECTOR);
	}
	media_release(m, 0, HELD_BYTES);
	/* Released: a write goes in place again, keeping the page's other bytes. */
	assert_int_equal(media_write(m, 0, old_bytes, SECTOR), 0);
	media_read(m, 0, got, PAGE);
	assert_memory_equal(got, old_bytes, SECTOR);
	assert_memory_equal(got + SECTOR, new_bytes + SECTOR, PAGE - SECTOR);
	close(sender);
	close(receiver);
	media_destroy(m);
}

/* ---- Data in a file ---- */

static char file_path[64];

static struct media *file_media(uint64_t bytes)
{
	snprintf(file_path, sizeof(file_path), "/tmp/nvemu-test-media.XXXXXX");
	int fd = mkstemp(file_path);
	assert_true(fd >= 0);
	close(fd);
	char err[256];
	struct media *m = media_file_open(file_path, bytes, true, err, sizeof(err));
	if (!m)
		fail_msg("media_file_open: %s", err);
	return m;
}

static void test_file_store_reads_writes_and_punches(void **state)
{
	(void)state;
	struct media *m = file_media(64ull << 30); /* sparse: costs nothing */
	assert_true(media_is_file(m));
	assert_int_equal(media_resident_pages(m), 0);
	uint8_t in[3 * PAGE], out[3 * PAGE];
	fill(in, sizeof(in), 3);
	assert_int_equal(media_write(m, (32ull << 30) + 100, in, sizeof(in)), 0);
	media_read(m, (32ull << 30) + 100, out, sizeof(out));
	assert_memory_equal(in, out, sizeof(out));
	assert_true(media_resident_pages(m) >= 3);
	struct iovec iov[4];
	assert_int_equal(media_map(m, 0, PAGE, iov, 4), 0); /* not in the page cache: copy */
	media_zero(m, (32ull << 30) + 100 + SECTOR, PAGE);
	media_read(m, (32ull << 30) + 100, out, sizeof(out));
	assert_memory_equal(in, out, SECTOR);
	assert_true(all_zero(out + SECTOR, PAGE));
	assert_memory_equal(in + SECTOR + PAGE, out + SECTOR + PAGE, sizeof(out) - SECTOR - PAGE);
	media_destroy(m);
	/* Reopened: the same bytes; another size is refused. */
	char err[256];
	assert_null(media_file_open(file_path, 1ull << 30, false, err, sizeof(err)));
	assert_non_null(strstr(err, "the drive has"));
	m = media_file_open(file_path, 64ull << 30, false, err, sizeof(err));
	assert_non_null(m);
	media_read(m, (32ull << 30) + 100, out, SECTOR);
	assert_memory_equal(in, out, SECTOR);
	media_destroy(m);
	unlink(file_path);
}

/* Reads from 2 MiB chunks the page cache holds whole are lent from the file's mapping; reads
 * from others are not (a page mincore calls resident may still be on its way in). */
static void test_file_store_lends_resident_pages(void **state)
{
	(void)state;
	struct media *m = file_media(16ull << 20);
	uint8_t in[2 * PAGE], out[2 * PAGE];
	fill(in, sizeof(in), 5);
	uint64_t evicted = 4ull << 20, partly = 8ull << 20, whole = 12ull << 20;
	assert_int_equal(media_write(m, evicted, in, sizeof(in)), 0);
	assert_int_equal(media_write(m, whole, in, sizeof(in)), 0);
	int fd = open(file_path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fsync(fd), 0);
	assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	struct iovec iov[4];
	assert_int_equal(media_map(m, evicted, sizeof(in), iov, 4), 0); /* evicted: read it */
	media_read(m, evicted, out, sizeof(out));
	assert_memory_equal(in, out, sizeof(out));
	assert_int_equal(media_read_nowait(m, evicted, out, sizeof(out)), 0); /* cached now */
	/* Two cached pages of a chunk otherwise not cached: copied, not lent. */
	assert_int_equal(media_write(m, partly, in, sizeof(in)), 0);
	assert_int_equal(media_map(m, partly, sizeof(in), iov, 4), 0);
	assert_int_equal(media_read_nowait(m, partly, out, sizeof(out)), 0);
	assert_memory_equal(in, out, sizeof(out));
	/* A chunk read whole is lent. */
	uint8_t *chunk = malloc(2u << 20);
	assert_non_null(chunk);
	media_read(m, whole, chunk, 2u << 20);
	free(chunk);
	assert_int_equal(media_map(m, whole, sizeof(in), iov, 4), 1);
	assert_int_equal(iov[0].iov_len, sizeof(in));
	assert_memory_equal(iov[0].iov_base, in, sizeof(in));
	/* A write shows through the mapping (one page cache). */
	fill(in, PAGE, 6);
	assert_int_equal(media_write(m, whole, in, PAGE), 0);
	assert_int_equal(media_map(m, whole, PAGE, iov, 4), 1);
	assert_memory_equal(iov[0].iov_base, in, PAGE);
	close(fd);
	media_destroy(m);
	unlink(file_path);
}

struct async_test {
	struct media *m;
	struct media_io mio;
	struct reactor *r;
	uint8_t buf[2 * PAGE];
	int step, err;
	bool on_loop;
};

static void async_done(struct media_io *mio, int err);

/* write (durable), read back, sync: each step on the reactor's ring. */
static void async_step(void *arg)
{
	struct async_test *t = arg;
	t->on_loop = reactor_current() == t->r;
	switch (t->step) {
	case 0:
		fill(t->buf, sizeof(t->buf), 9);
		media_write_async(t->m, &t->mio, PAGE, t->buf, sizeof(t->buf), true, async_done);
		break;
	case 1:
		memset(t->buf, 0, sizeof(t->buf));
		media_read_async(t->m, &t->mio, PAGE, t->buf, sizeof(t->buf), async_done);
		break;
	case 2:
		media_sync_async(t->m, &t->mio, async_done);
		break;
	default:
		reactor_stop(t->r);
	}
}

static void async_done(struct media_io *mio, int err)
{
	struct async_test *t = (struct async_test *)((char *)mio - offsetof(struct async_test, mio));
	t->err |= err;
	t->step++;
	async_step(t);
}

static int sync_done_calls;

static void sync_done(struct media_io *mio, int err)
{
	(void)mio;
	assert_int_equal(err, 0);
	sync_done_calls++;
}

static void *run_loop(void *arg)
{
	reactor_run(arg);
	return NULL;
}

static void test_file_store_async_on_a_reactor(void **state)
{
	(void)state;
	struct async_test *t = calloc(1, sizeof(*t));
	t->m = file_media(1ull << 20);
	t->r = reactor_create(0, false);
	assert_non_null(t->r);
	pthread_t thread;
	assert_int_equal(reactor_post(t->r, async_step, t), 0);
	pthread_create(&thread, NULL, run_loop, t->r);
	pthread_join(thread, NULL);
	assert_int_equal(t->err, 0);
	assert_int_equal(t->step, 3);
	assert_true(t->on_loop);
	uint8_t want[2 * PAGE];
	fill(want, sizeof(want), 9);
	assert_memory_equal(t->buf, want, sizeof(want));
	reactor_destroy(t->r);
	/* Off a reactor the same calls run at once: done has run when the call returns. */
	memset(t->buf, 0, sizeof(t->buf));
	media_read_async(t->m, &t->mio, PAGE, t->buf, sizeof(t->buf), sync_done);
	assert_int_equal(sync_done_calls, 1);
	assert_memory_equal(t->buf, want, sizeof(want));
	media_destroy(t->m);
	unlink(file_path);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_store_is_empty_and_reads_zero),
	    cmocka_unit_test(test_writes_make_only_their_pages_resident),
	    cmocka_unit_test(test_writes_past_the_end_are_refused),
	    cmocka_unit_test(test_discard_frees_and_reads_zero),
	    cmocka_unit_test(test_zero_whole_pages_frees_them),
	    cmocka_unit_test(test_zero_sectors_straddling_a_page_boundary),
	    cmocka_unit_test(test_zero_sectors_inside_one_page),
	    cmocka_unit_test(test_concurrent_writers_lose_no_page),
	    cmocka_unit_test(test_held_pages_keep_the_bytes_a_zero_copy_send_took),
	    cmocka_unit_test(test_file_store_reads_writes_and_punches),
	    cmocka_unit_test(test_file_store_lends_resident_pages),
	    cmocka_unit_test(test_file_store_async_on_a_reactor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
