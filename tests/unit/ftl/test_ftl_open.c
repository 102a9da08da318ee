/*
 * The FTL across runs: reopening clean tables, recovering tables a killed process left (the
 * process is really killed, at random instants), tables of different ages as a machine crash
 * leaves them, corrupt tables refused, format; the same with FDP (reclaim units, handles,
 * isolation).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ftl/ftl.h"

struct tables {
	void *t[SSD_TABLES];
	uint64_t bytes[SSD_TABLES];
};

static struct ssd_params params(enum gc_policy policy)
{
	struct ssd_params p;
	ssd_params_defaults(&p);
	p.channels = 2;
	p.luns_per_channel = 2;
	p.planes_per_lun = 2;
	p.blocks_per_plane = 24;
	p.pages_per_block = 16;
	p.op_pcent = 25;
	p.write_buffer_kib = 64;
	p.gc_policy = policy;
	p.seed = 3;
	return p;
}

/* Shared anonymous memory behaves as a file's page cache does when a process is killed. */
static void tables_alloc(struct tables *tb, const struct ssd_params *p)
{
	struct ssd_table_shape shapes[SSD_TABLES];
	char err[256];
	assert_int_equal(ssd_table_shapes(p, shapes, err, sizeof(err)), 0);
	for (int i = 0; i < SSD_TABLES; i++) {
		tb->bytes[i] = shapes[i].count * shapes[i].elem_bytes;
		tb->t[i] = NULL; /* a table this device does not use (FDP's without FDP) */
		if (!tb->bytes[i])
			continue;
		tb->t[i] = mmap(NULL, tb->bytes[i], PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				-1, 0);
		assert_true(tb->t[i] != MAP_FAILED);
	}
}

static void tables_free(struct tables *tb)
{
	for (int i = 0; i < SSD_TABLES; i++)
		if (tb->t[i])
			munmap(tb->t[i], tb->bytes[i]);
}

static void tables_copy(struct tables *to, const struct tables *from)
{
	for (int t = 0; t < SSD_TABLES; t++)
		if (from->bytes[t])
			memcpy(to->t[t], from->t[t], from->bytes[t]);
}

static struct ssd *open_on(const struct ssd_params *p, struct tables *tb, enum ssd_tables_state st)
{
	char err[256];
	int bad;
	struct ssd *s = ssd_open(p, tb->t, st, &bad, err, sizeof(err));
	if (!s)
		fail_msg("ssd_open: %s (table %d)", err, bad);
	return s;
}

static void assert_consistent(struct ssd *s)
{
	char err[256];
	if (ssd_check(s, err, sizeof(err)) != 0)
		fail_msg("ssd_check: %s", err);
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * Random writes of 1-4 pages and some trims; returns the clock. With FDP the writes go to
 * random handles and groups, and now and then a handle starts a new reclaim unit.
 */
static uint64_t workload(struct ssd *s, uint64_t *rng, int ops, uint64_t now)
{
	uint64_t logical = ssd_logical_pages(s);
	struct ssd_fdp_config fdp;
	bool placed = ssd_fdp_config(s, &fdp) && fdp.enabled;
	for (int op = 0; op < ops; op++) {
		uint64_t r = xorshift(rng);
		uint32_t n = 1 + (uint32_t)(r >> 60) % 4;
		uint64_t lpn = (r >> 8) % (logical - n + 1);
		uint32_t ruh = placed ? (uint32_t)(r >> 40) % fdp.nruh : 0;
		uint32_t rg = placed ? (uint32_t)(r >> 48) % fdp.nrg : 0;
		now += 2000;
		if (placed && r % 128 == 3)
			ssd_fdp_update(s, ruh, rg, now);
		else if (r % 16)
			ssd_write_placed(s, lpn, n, ruh, rg, r % 32 == 1, now, NULL);
		else
			ssd_trim(s, lpn, n, now, NULL);
	}
	return now;
}

static void test_clean_reopen_continues(void **state)
{
	(void)state;
	struct ssd_params p = params(GC_GREEDY);
	struct tables tb;
	tables_alloc(&tb, &p);
	struct ssd *s = open_on(&p, &tb, SSD_TABLES_ZERO);
	uint64_t rng = 99;
	uint64_t now = workload(s, &rng, 20000, 0);
	ssd_checkpoint(s);
	struct ssd_counters before, after;
	ssd_get_counters(s, &before);
	ssd_destroy(s);
	s = open_on(&p, &tb, SSD_TABLES_CLEAN);
	assert_consistent(s);
	ssd_get_counters(s, &after);
	assert_int_equal(after.host_pages_written, before.host_pages_written);
	assert_int_equal(after.nand_pages_written, before.nand_pages_written);
	assert_int_equal(after.erase_max, before.erase_max);
	assert_int_equal(after.free_blocks, before.free_blocks);
	workload(s, &rng, 20000, now);
	assert_consistent(s);
	ssd_destroy(s);
	tables_free(&tb);
}

/* A child writes until it is killed; the tables it leaves must reopen consistent. */
static void kill_and_recover_on(const struct ssd_params *given, int rounds)
{
	struct ssd_params p = *given;
	struct tables tb;
	tables_alloc(&tb, &p);
	enum ssd_tables_state st = SSD_TABLES_ZERO;
	uint64_t seed = 12345 + p.gc_policy;
	for (int round = 0; round < rounds; round++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct ssd *s = open_on(&p, &tb, st);
			uint64_t rng = seed + (uint64_t)round;
			for (uint64_t now = 0;;)
				now = workload(s, &rng, 1000, now);
		}
		/* Killed somewhere between its first thousand writes and a few hundred thousand. */
		struct timespec nap = {0, (long)(1000000 + xorshift(&seed) % 20000000)};
		nanosleep(&nap, NULL);
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		assert_true(WIFSIGNALED(status));
		struct ssd *s = open_on(&p, &tb, SSD_TABLES_CRASHED);
		assert_consistent(s);
		uint64_t rng = seed;
		workload(s, &rng, 2000, 0); /* and it keeps working */
		assert_consistent(s);
		ssd_destroy(s);
		st = SSD_TABLES_CRASHED;
	}
	tables_free(&tb);
}

static void kill_and_recover(enum gc_policy policy, bool separate, int rounds)
{
	struct ssd_params p = params(policy);
	p.gc_separate = separate;
	kill_and_recover_on(&p, rounds);
}

static void test_killed_greedy(void **state)
{
	(void)state;
	kill_and_recover(GC_GREEDY, true, 40);
}

static void test_killed_other_policies(void **state)
{
	(void)state;
	kill_and_recover(GC_FIFO, false, 15);
	kill_and_recover(GC_COST_BENEFIT, true, 15);
	kill_and_recover(GC_DCHOICE, true, 10);
}

/* A machine crash: every page of every table may come from a different moment. */
/* Returns how many of the mixes opened. */
static int different_ages(const struct ssd_params *given)
{
	int opened = 0;
	struct ssd_params p = *given;
	struct tables tb, snap[3];
	tables_alloc(&tb, &p);
	for (int i = 0; i < 3; i++)
		tables_alloc(&snap[i], &p);
	struct ssd *s = open_on(&p, &tb, SSD_TABLES_ZERO);
	uint64_t rng = 5, now = 0;
	for (int i = 0; i < 3; i++) {
		now = workload(s, &rng, 3000, now);
		tables_copy(&snap[i], &tb);
	}
	ssd_destroy(s);
	for (int trial = 0; trial < 30; trial++) {
		for (int t = 0; t < SSD_TABLES; t++)
			for (uint64_t off = 0; off < tb.bytes[t]; off += 4096) {
				int from = (int)(xorshift(&rng) % 3);
				uint64_t len = tb.bytes[t] - off < 4096 ? tb.bytes[t] - off : 4096;
				memcpy((char *)tb.t[t] + off, (char *)snap[from].t[t] + off, len);
			}
		char err[256];
		s = ssd_open(&p, tb.t, SSD_TABLES_CRASHED, NULL, err, sizeof(err));
		if (!s) /* a clear refusal is allowed; it must say why */
			assert_true(strlen(err) > 10);
		if (!s)
			continue;
		opened++;
		assert_consistent(s);
		workload(s, &rng, 1000, 0);
		assert_consistent(s);
		ssd_destroy(s);
	}
	for (int i = 0; i < 3; i++)
		tables_free(&snap[i]);
	tables_free(&tb);
	return opened;
}

static void test_tables_of_different_ages(void **state)
{
	(void)state;
	struct ssd_params p = params(GC_GREEDY);
	different_ages(&p);
}

static void test_corrupt_tables_refused(void **state)
{
	(void)state;
	struct ssd_params p = params(GC_GREEDY);
	struct tables tb;
	tables_alloc(&tb, &p);
	struct ssd *s = open_on(&p, &tb, SSD_TABLES_ZERO);
	uint64_t rng = 8;
	workload(s, &rng, 5000, 0);
	ssd_destroy(s);
	char err[256];
	int bad;
	uint32_t *l2p = tb.t[SSD_TABLE_L2P];
	uint32_t saved = l2p[3];
	l2p[3] = 0xFFFFFFF0u;
	assert_null(ssd_open(&p, tb.t, SSD_TABLES_CRASHED, &bad, err, sizeof(err)));
	assert_int_equal(bad, SSD_TABLE_L2P);
	assert_non_null(strstr(err, "l2p: entry 3 maps to page"));
	l2p[3] = saved;
	/* Records of 40 bytes (UNITS_VERSION 2): the state is byte 24. */
	uint8_t *unit = (uint8_t *)tb.t[SSD_TABLE_UNITS] + 40 * 5;
	unit[24] = 9; /* state */
	assert_null(ssd_open(&p, tb.t, SSD_TABLES_CLEAN, &bad, err, sizeof(err)));
	assert_int_equal(bad, SSD_TABLE_UNITS);
	assert_non_null(strstr(err, "units: entry 5"));
	/* Retired without wear drawing an endurance (fuzz_drive found it accepted). */
	unit[24] = 4;
	assert_null(ssd_open(&p, tb.t, SSD_TABLES_CRASHED, &bad, err, sizeof(err)));
	assert_int_equal(bad, SSD_TABLE_UNITS);
	assert_non_null(strstr(err, "units: entry 5 is retired after"));
	unit[24] = 2;
	/* A clean table whose counts disagree with the mapping is refused, not trusted. */
	uint32_t *valid = (uint32_t *)((uint8_t *)tb.t[SSD_TABLE_UNITS] + 40 * 6);
	*valid += 1;
	assert_null(ssd_open(&p, tb.t, SSD_TABLES_CLEAN, &bad, err, sizeof(err)));
	assert_non_null(strstr(err, "units: entry 6"));
	/* The same tables after a crash are reconciled instead. */
	s = open_on(&p, &tb, SSD_TABLES_CRASHED);
	assert_consistent(s);
	ssd_destroy(s);
	tables_free(&tb);
}

static void test_format_keeps_wear(void **state)
{
	(void)state;
	struct ssd_params p = params(GC_GREEDY);
	struct ssd *s;
	char err[256];
	assert_non_null(s = ssd_create(&p, err, sizeof(err)));
	uint64_t rng = 77;
	workload(s, &rng, 30000, 0);
	struct ssd_counters c;
	ssd_get_counters(s, &c);
	uint64_t erase_max = c.erase_max;
	double erase_mean = c.erase_mean;
	assert_true(c.gc_runs > 0);
	assert_int_equal(ssd_format(s, NULL, NULL), 0);
	assert_consistent(s);
	ssd_get_counters(s, &c);
	assert_int_equal(c.host_pages_written, 0);
	assert_int_equal(c.gc_runs, 0);
	assert_true(c.erase_max >= erase_max);
	assert_true(c.erase_mean > erase_mean); /* units that held something were erased */
	/* Nothing is mapped: a read costs the unmapped-read time. */
	assert_int_equal(ssd_read(s, 10, 1, 1000000000, NULL), 1000000000 + p.controller_ns + p.unmapped_read_ns);
	workload(s, &rng, 5000, 2000000000);
	assert_consistent(s);
	ssd_destroy(s);
}

static void test_capacity_sets_geometry(void **state)
{
	(void)state;
	struct ssd_params p;
	ssd_params_defaults(&p);
	char err[256];
	assert_int_equal(ssd_fit_capacity(&p, 2ull << 40, err, sizeof(err)), 0);
	assert_true(ssd_capacity(&p) >= 2ull << 40);
	p.blocks_per_plane--;
	assert_true(ssd_capacity(&p) < 2ull << 40);
	assert_int_equal(ssd_fit_capacity(&p, 20ull << 40, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "2^32 - 2"));
}

/* Format's zeroing of the caller's tables (the daemon punches holes in its files). */
static void zero_table(void *ctx, enum ssd_table table)
{
	struct tables *tb = ctx;
	memset(tb->t[table], 0, tb->bytes[table]);
}

/*
 * Wear is physical: a reopened device keeps each block's endurance and the blocks it retired
 * (clean or crashed), format keeps them too, and static levelling's cold stream reopens.
 */
static void test_wear_kept(void **state)
{
	(void)state;
	struct ssd_params p = params(GC_GREEDY);
	p.blocks_per_plane = 48;
	p.endurance = 20;
	p.endurance_spread_pcent = 30;
	p.wear_levelling = WEAR_LEVELLING_STATIC;
	struct tables tb;
	tables_alloc(&tb, &p);
	struct ssd *s = open_on(&p, &tb, SSD_TABLES_ZERO);
	uint64_t rng = 11, now = 0;
	struct ssd_counters before, after;
	for (int i = 0; i < 200; i++) {
		now = workload(s, &rng, 1000, now);
		ssd_get_counters(s, &before);
		if (before.retired_blocks >= 2)
			break;
	}
	assert_true(before.retired_blocks >= 2);
	assert_consistent(s);
	ssd_checkpoint(s);
	ssd_destroy(s);
	s = open_on(&p, &tb, SSD_TABLES_CLEAN);
	ssd_get_counters(s, &after);
	assert_int_equal(after.retired_blocks, before.retired_blocks);
	assert_int_equal(after.spare_blocks, before.spare_blocks);
	assert_true(after.percent_used == before.percent_used);
	assert_int_equal(after.read_only, before.read_only);
	assert_consistent(s);
	now = workload(s, &rng, 2000, now);
	assert_consistent(s);
	ssd_destroy(s);
	s = open_on(&p, &tb, SSD_TABLES_CRASHED);
	assert_consistent(s);
	ssd_get_counters(s, &before);
	assert_int_equal(ssd_format(s, zero_table, &tb), 0);
	assert_consistent(s);
	ssd_get_counters(s, &after);
	assert_int_equal(after.retired_blocks, before.retired_blocks);
	assert_true(after.percent_used >= before.percent_used);
	now = workload(s, &rng, 2000, now);
	assert_consistent(s);
	ssd_checkpoint(s);
	ssd_destroy(s);
	/* Without wear the retired blocks stay out of service; with it again, each block keeps
	 * the endurance it drew. */
	struct ssd_params off = p;
	off.endurance = 0;
	off.wear_levelling = WEAR_LEVELLING_NONE;
	s = open_on(&off, &tb, SSD_TABLES_CLEAN);
	ssd_get_counters(s, &before);
	assert_int_equal(before.retired_blocks, after.retired_blocks);
	now = workload(s, &rng, 2000, now);
	assert_consistent(s);
	ssd_checkpoint(s);
	ssd_destroy(s);
	s = open_on(&p, &tb, SSD_TABLES_CLEAN);
	ssd_get_counters(s, &before);
	assert_true(before.retired_blocks >= after.retired_blocks);
	assert_consistent(s);
	ssd_destroy(s);
	tables_free(&tb);
}

/*
 * A device made without wear and reopened with it draws each block's endurance then: no block
 * is taken for worn out by an endurance of 0 that was never drawn.
 */
static void test_wear_turned_on_later(void **state)
{
	(void)state;
	struct ssd_params p = params(GC_GREEDY);
	p.blocks_per_plane = 48;
	struct tables tb;
	tables_alloc(&tb, &p);
	struct ssd *s = open_on(&p, &tb, SSD_TABLES_ZERO);
	uint64_t rng = 12;
	uint64_t now = workload(s, &rng, 20000, 0);
	struct ssd_counters c;
	ssd_get_counters(s, &c);
	assert_true(c.erase_max > 0);
	ssd_checkpoint(s);
	ssd_destroy(s);
	p.endurance = 1000;
	s = open_on(&p, &tb, SSD_TABLES_CLEAN);
	workload(s, &rng, 20000, now);
	ssd_get_counters(s, &c);
	assert_int_equal(c.retired_blocks, 0);
	assert_false(c.read_only);
	assert_consistent(s);
	ssd_destroy(s);
	tables_free(&tb);
}

/* ---- FDP: reclaim units, their owners, each page's handle ---- */

static struct ssd_params fdp_params(enum gc_policy policy, uint32_t nrg)
{
	struct ssd_params p = params(policy);
	p.blocks_per_plane = 64;
	p.op_pcent = 40;
	p.fdp = true;
	p.fdp_nruh = 4;
	p.fdp_nrg = nrg;
	snprintf(p.fdp_initially_isolated, sizeof(p.fdp_initially_isolated), "2-3");
	return p;
}

/* What FDP shows of a device: each page's reclaim unit owner, the handles' and groups'
 * counters, the room left in each handle's reclaim units. */
struct fdp_view {
	int *owner;
	struct ssd_fdp_counters handle[4], group[2];
	uint64_t room[4][2];
};

static void fdp_look(struct ssd *s, struct fdp_view *v)
{
	memset(v, 0, sizeof(*v));
	uint64_t n = ssd_logical_pages(s);
	v->owner = malloc(n * sizeof(*v->owner));
	assert_non_null(v->owner);
	for (uint64_t lpn = 0; lpn < n; lpn++)
		v->owner[lpn] = ssd_fdp_owner(s, lpn);
	struct ssd_fdp_config c;
	assert_true(ssd_fdp_config(s, &c) && c.enabled);
	for (uint32_t h = 0; h < c.nruh; h++)
		ssd_fdp_handle_counters(s, h, &v->handle[h]);
	for (uint32_t g = 0; g < c.nrg; g++)
		ssd_fdp_group_counters(s, g, &v->group[g]);
	for (uint32_t h = 0; h < c.nruh; h++)
		for (uint32_t g = 0; g < c.nrg; g++) {
			uint32_t left;
			ssd_fdp_ruh_status(s, h, g, 0, &v->room[h][g], &left);
		}
}

static void assert_same_view(struct ssd *s, const struct fdp_view *before)
{
	struct fdp_view after;
	fdp_look(s, &after);
	uint64_t n = ssd_logical_pages(s);
	for (uint64_t lpn = 0; lpn < n; lpn++)
		if (after.owner[lpn] != before->owner[lpn])
			fail_msg("lpn %lu: owner %d, was %d", (unsigned long)lpn, after.owner[lpn],
				 before->owner[lpn]);
	assert_memory_equal(after.handle, before->handle, sizeof(after.handle));
	assert_memory_equal(after.group, before->group, sizeof(after.group));
	assert_memory_equal(after.room, before->room, sizeof(after.room));
	free(after.owner);
}

/*
 * A clean stop keeps FDP exactly: every page's owner, counters, the room in every open
 * reclaim unit; the same tables opened as crashed ones (a kill right after a checkpoint) give
 * the same. The time limit of the open units restarts with the new run's clock.
 */
static void test_fdp_clean_reopen(void **state)
{
	(void)state;
	struct ssd_params p = fdp_params(GC_GREEDY, 2);
	p.fdp_time_limit_s = 1;
	struct tables tb;
	tables_alloc(&tb, &p);
	struct ssd *s = open_on(&p, &tb, SSD_TABLES_ZERO);
	uint64_t rng = 31;
	uint64_t now = workload(s, &rng, 20000, 0);
	assert_consistent(s);
	ssd_checkpoint(s);
	struct fdp_view before;
	fdp_look(s, &before);
	assert_true(before.group[0].gc_pages > 0 && before.group[1].gc_pages > 0);
	struct ssd_counters c0, c1;
	ssd_get_counters(s, &c0);
	ssd_destroy(s);
	for (int round = 0; round < 2; round++) {
		s = open_on(&p, &tb, round ? SSD_TABLES_CRASHED : SSD_TABLES_CLEAN);
		assert_consistent(s);
		assert_same_view(s, &before);
		ssd_get_counters(s, &c1);
		assert_int_equal(c1.nand_pages_written, c0.nand_pages_written);
		assert_int_equal(c1.free_blocks, c0.free_blocks);
		ssd_destroy(s);
	}
	s = open_on(&p, &tb, SSD_TABLES_CLEAN);
	/* Seven seconds later by another clock: the open units have a second left, not expired. */
	for (uint32_t h = 0; h < 4; h++) {
		uint64_t room;
		uint32_t left;
		ssd_fdp_ruh_status(s, h, 0, 7000000000ull, &room, &left);
		assert_int_equal(room, before.room[h][0]);
		assert_int_equal(left, 1);
	}
	struct ssd_fdp_event ev[4];
	assert_int_equal(ssd_fdp_take_events(s, 7000000000ull, ev, 4), 0);
	workload(s, &rng, 20000, now);
	assert_consistent(s);
	ssd_destroy(s);
	free(before.owner);
	tables_free(&tb);
}

static void test_fdp_killed(void **state)
{
	(void)state;
	struct ssd_params p = fdp_params(GC_GREEDY, 2);
	kill_and_recover_on(&p, 30);
	p = fdp_params(GC_COST_BENEFIT, 1);
	kill_and_recover_on(&p, 10);
	p = fdp_params(GC_FIFO, 2);
	kill_and_recover_on(&p, 10);
}

static void test_fdp_tables_of_different_ages(void **state)
{
	(void)state;
	struct ssd_params p = fdp_params(GC_GREEDY, 2);
	int opened = different_ages(&p);
	print_message("%d of 30 mixes opened\n", opened);
	assert_true(opened >= 10); /* reconciled, not refused wholesale */
}

/* A new device on tables of its own, after `ops` operations of the workload seeded *rng. */
static struct ssd *written(const struct ssd_params *p, struct tables *tb, uint64_t *rng, int ops)
{
	tables_alloc(tb, p);
	struct ssd *s = open_on(p, tb, SSD_TABLES_ZERO);
	workload(s, rng, ops, 0);
	return s;
}

/* Damage no run can leave is refused naming the table and entry; a page whose handle
 * disagrees with its reclaim unit's owner is refused clean and reconciled after a crash. */
static void test_fdp_corrupt_tables(void **state)
{
	(void)state;
	struct ssd_params p = fdp_params(GC_GREEDY, 1);
	struct tables tb;
	uint64_t rng = 8;
	struct ssd *s = written(&p, &tb, &rng, 5000);
	uint64_t lpn = 0;
	while (ssd_fdp_owner(s, lpn) != 0) /* a page of persistently isolated handle 0 */
		lpn++;
	ssd_checkpoint(s);
	ssd_destroy(s);
	char err[256];
	int bad;
	/* Records of 32 bytes: the owner is bytes 4-5. */
	uint16_t *owner = (uint16_t *)((uint8_t *)tb.t[SSD_TABLE_FDP_RUS] + 32 * 3 + 4);
	uint16_t kept = *owner;
	*owner = 500;
	assert_null(ssd_open(&p, tb.t, SSD_TABLES_CRASHED, &bad, err, sizeof(err)));
	assert_int_equal(bad, SSD_TABLE_FDP_RUS);
	assert_non_null(strstr(err, "fdp-rus: entry 3"));
	*owner = kept;
	uint8_t *tag = (uint8_t *)tb.t[SSD_TABLE_FDP_TAGS] + lpn;
	*tag = 9;
	assert_null(ssd_open(&p, tb.t, SSD_TABLES_CLEAN, &bad, err, sizeof(err)));
	assert_int_equal(bad, SSD_TABLE_FDP_TAGS);
	assert_non_null(strstr(err, "names handle 9"));
	*tag = 1; /* persistently isolated handle 1's data in handle 0's unit */
	assert_null(ssd_open(&p, tb.t, SSD_TABLES_CLEAN, &bad, err, sizeof(err)));
	assert_int_equal(bad, SSD_TABLE_FDP_TAGS);
	assert_non_null(strstr(err, "is handle 1's"));
	s = open_on(&p, &tb, SSD_TABLES_CRASHED);
	assert_consistent(s);
	assert_int_equal(ssd_fdp_owner(s, lpn), 0);
	assert_int_equal(*tag, 0);
	ssd_destroy(s);
	/* One erase unit of a closed reclaim unit says VICTIM, the others CLOSED. */
	uint8_t *unit0 = tb.t[SSD_TABLE_UNITS];
	uint64_t u = 0;
	while (unit0[40 * u + 24] != 2)
		u++;
	unit0[40 * u + 24] = 3;
	assert_null(ssd_open(&p, tb.t, SSD_TABLES_CLEAN, &bad, err, sizeof(err)));
	assert_int_equal(bad, SSD_TABLE_UNITS);
	assert_non_null(strstr(err, "different states"));
	s = open_on(&p, &tb, SSD_TABLES_CRASHED);
	assert_consistent(s);
	workload(s, &rng, 3000, 0);
	assert_consistent(s);
	ssd_destroy(s);
	tables_free(&tb);
}

/* Format empties FDP's tables too: reopened, nothing is owned and nothing counted. */
static void test_fdp_format(void **state)
{
	(void)state;
	struct ssd_params p = fdp_params(GC_GREEDY, 2);
	struct tables tb;
	uint64_t rng = 4;
	struct ssd *s = written(&p, &tb, &rng, 8000);
	ssd_checkpoint(s);
	assert_int_equal(ssd_format(s, zero_table, &tb), 0);
	assert_consistent(s);
	ssd_checkpoint(s);
	ssd_destroy(s);
	s = open_on(&p, &tb, SSD_TABLES_CLEAN);
	assert_consistent(s);
	struct fdp_view v;
	fdp_look(s, &v);
	for (uint64_t lpn = 0; lpn < ssd_logical_pages(s); lpn++)
		assert_int_equal(v.owner[lpn], -1);
	for (uint32_t h = 0; h < 4; h++)
		assert_int_equal(v.handle[h].host_pages + v.handle[h].rus_opened, 0);
	free(v.owner);
	workload(s, &rng, 3000, 0);
	assert_consistent(s);
	ssd_destroy(s);
	tables_free(&tb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_reopen_continues),
		cmocka_unit_test(test_killed_greedy),
		cmocka_unit_test(test_killed_other_policies),
		cmocka_unit_test(test_tables_of_different_ages),
		cmocka_unit_test(test_corrupt_tables_refused),
		cmocka_unit_test(test_format_keeps_wear),
		cmocka_unit_test(test_capacity_sets_geometry),
		cmocka_unit_test(test_wear_kept),
		cmocka_unit_test(test_wear_turned_on_later),
		cmocka_unit_test(test_fdp_clean_reopen),
		cmocka_unit_test(test_fdp_killed),
		cmocka_unit_test(test_fdp_tables_of_different_ages),
		cmocka_unit_test(test_fdp_corrupt_tables),
		cmocka_unit_test(test_fdp_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
