/* The drive layer: one process per directory, checksummed files, table files and their CRCs. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "drive/drive.h"
#include "util/crc32c.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/nvemu-test-drive.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static struct drive *open_drive(enum drive_mode mode)
{
	char err[512];
	struct drive *d = drive_open(dir, mode, err, sizeof(err));
	if (!d)
		fail_msg("drive_open: %s", err);
	return d;
}

static void flip_byte(const char *name, long offset)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b;
	if (offset < 0)
		offset += lseek(fd, 0, SEEK_END);
	assert_int_equal(pread(fd, &b, 1, offset), 1);
	b ^= 0x20;
	assert_int_equal(pwrite(fd, &b, 1, offset), 1);
	close(fd);
}

static void test_lock_is_exclusive(void **state)
{
	(void)state;
	struct drive *d = open_drive(DRIVE_CREATE);
	assert_true(drive_is_new(d));
	/* flock locks belong to open files: a second open, even in this process, is refused. */
	char err[512];
	assert_null(drive_open(dir, DRIVE_CREATE, err, sizeof(err)));
	assert_non_null(strstr(err, "in use by another process"));
	drive_close(d);
	d = open_drive(DRIVE_CREATE);
	drive_close(d);
	assert_null(drive_open("/nonexistent/x", DRIVE_EXISTING, err, sizeof(err)));
}

static void test_kv_round_trip_and_refusals(void **state)
{
	(void)state;
	struct drive *d = open_drive(DRIVE_CREATE);
	char err[512];
	struct drive_kv *kv = malloc(sizeof(*kv)), *back = malloc(sizeof(*back));
	drive_kv_init(kv, "identity", 1);
	assert_int_equal(drive_kv_set(kv, "kind", "ssd"), 0);
	assert_int_equal(drive_kv_setf(kv, "size", "%llu", 1ull << 40), 0);
	assert_int_equal(drive_kv_set(kv, "empty", ""), 0);
	assert_int_equal(drive_kv_set(kv, "kind", "zoned"), 0); /* replaces */
	assert_int_equal(drive_kv_set(kv, "bad key", "x"), -1);
	assert_int_equal(drive_kv_set(kv, "k", "two\nlines"), -1);
	assert_int_equal(drive_kv_write(d, "identity", kv, err, sizeof(err)), 0);
	assert_false(drive_is_new(d));

	assert_int_equal(drive_kv_read(d, "identity", "identity", 1, back, err, sizeof(err)), 0);
	assert_int_equal(back->count, 3);
	assert_string_equal(drive_kv_get(back, "kind"), "zoned");
	assert_string_equal(drive_kv_get(back, "empty"), "");
	uint64_t size;
	assert_int_equal(drive_kv_get_u64(back, "f", "size", &size, err, sizeof(err)), 0);
	assert_int_equal(size, 1ull << 40);
	assert_int_equal(drive_kv_get_u64(back, "f", "kind", &size, err, sizeof(err)), -1);
	assert_int_equal(drive_kv_read(d, "missing", "identity", 1, back, err, sizeof(err)), 1);

	/* Another type, a newer version, a corrupt byte, a truncation: each named. */
	assert_int_equal(drive_kv_read(d, "identity", "state", 1, back, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "of type 'identity', expected 'state'"));
	drive_kv_init(kv, "identity", 7);
	drive_kv_set(kv, "kind", "ssd");
	assert_int_equal(drive_kv_write(d, "identity", kv, err, sizeof(err)), 0);
	assert_int_equal(drive_kv_read(d, "identity", "identity", 1, back, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "format version 7"));
	flip_byte("identity", 80);
	assert_int_equal(drive_kv_read(d, "identity", "identity", 9, back, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "checksum mismatch"));
	assert_non_null(strstr(err, dir));
	char path[512];
	snprintf(path, sizeof(path), "%s/identity", dir);
	assert_int_equal(truncate(path, 60), 0);
	assert_int_equal(drive_kv_read(d, "identity", "identity", 9, back, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no checksum line"));
	free(kv);
	free(back);
	drive_close(d);
}

static const struct drive_table_spec spec = {"units", 3, 32, 100000};

/* Every key of a full file is found by its hash index; one more is refused, a known one
 * still replaced; a parsed file with a key twice is refused. */
static void test_kv_holds_its_maximum(void **state)
{
	(void)state;
	struct drive_kv *kv = malloc(sizeof(*kv));
	char key[32], value[32], err[256];
	drive_kv_init(kv, "identity", 1);
	for (unsigned i = 0; i < DRIVE_KV_MAX_ENTRIES; i++) {
		snprintf(key, sizeof(key), "model.key%u", i);
		snprintf(value, sizeof(value), "%u", i * 7);
		assert_int_equal(drive_kv_set(kv, key, value), 0);
	}
	assert_int_equal(kv->count, DRIVE_KV_MAX_ENTRIES);
	assert_int_equal(drive_kv_set(kv, "one.more", "1"), -1);
	assert_int_equal(drive_kv_set(kv, "model.key17", "changed"), 0);
	assert_int_equal(kv->count, DRIVE_KV_MAX_ENTRIES);
	for (unsigned i = 0; i < DRIVE_KV_MAX_ENTRIES; i++) {
		snprintf(key, sizeof(key), "model.key%u", i);
		snprintf(value, sizeof(value), "%u", i * 7);
		assert_string_equal(drive_kv_get(kv, key), i == 17 ? "changed" : value);
	}
	assert_null(drive_kv_get(kv, "one.more"));
	static const char twice[] = "format = identity 1\na = 1\nb = 2\na = 3\n";
	char text[128];
	int n =
	    snprintf(text, sizeof(text), "%scrc32c = %08x\n", twice, crc32c(twice, strlen(twice)));
	assert_int_equal(drive_kv_parse(text, (size_t)n, "f", "identity", 1, kv, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "'a' appears twice"));
	free(kv);
}

static void test_table_clean_close_and_checks(void **state)
{
	(void)state;
	char err[512];
	struct drive *d = open_drive(DRIVE_CREATE);
	struct drive_table *t = drive_table_open(d, &spec, DRIVE_TABLE_CREATE, err, sizeof(err));
	assert_non_null(t);
	assert_false(drive_table_was_clean(t));
	uint8_t *data = drive_table_data(t);
	for (int i = 0; i < 1000; i++)
		data[(uint64_t)i * 3001 % drive_table_bytes(t)] = (uint8_t)i;
	assert_int_equal(drive_table_close(t, true, err, sizeof(err)), 0);
	const uint8_t *id = drive_id(d);
	uint8_t saved_id[DRIVE_ID_BYTES];
	memcpy(saved_id, id, sizeof(saved_id));

	/* Reopened clean: same bytes. */
	t = drive_table_open(d, &spec, DRIVE_TABLE_OPEN, err, sizeof(err));
	assert_non_null(t);
	assert_true(drive_table_was_clean(t));
	data = drive_table_data(t);
	assert_int_equal(data[(uint64_t)999 * 3001 % drive_table_bytes(t)], (uint8_t)999);
	/* A private map's changes never reach the file. */
	drive_table_close(t, false, NULL, 0);
	t = drive_table_open(d, &spec, DRIVE_TABLE_PRIVATE, err, sizeof(err));
	assert_non_null(t);
	memset(drive_table_data(t), 0x55, 4096);
	drive_table_close(t, true, NULL, 0);
	t = drive_table_open(d, &spec, DRIVE_TABLE_OPEN, err, sizeof(err));
	assert_non_null(t);
	assert_true(drive_table_was_clean(t));
	assert_int_equal(((uint8_t *)drive_table_data(t))[0], 0);
	drive_table_close(t, false, NULL, 0);

	/* A flipped body byte of a clean table is caught. */
	flip_byte("units", 4096 + 3001 * 5);
	assert_null(drive_table_open(d, &spec, DRIVE_TABLE_OPEN, err, sizeof(err)));
	assert_non_null(strstr(err, "do not match the checksum"));
	flip_byte("units", 4096 + 3001 * 5);

	/* In use (begin) then "crashed" (closed without clean): opens as not clean. */
	t = drive_table_open(d, &spec, DRIVE_TABLE_OPEN, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(drive_table_begin(t, err, sizeof(err)), 0);
	((uint8_t *)drive_table_data(t))[7] = 7;
	drive_table_close(t, false, NULL, 0);
	t = drive_table_open(d, &spec, DRIVE_TABLE_OPEN, err, sizeof(err));
	assert_non_null(t);
	assert_false(drive_table_was_clean(t));
	assert_int_equal(((uint8_t *)drive_table_data(t))[7], 7);
	/* Zeroing a range: partial pages in place, whole pages as a hole. */
	memset(drive_table_data(t), 0xff, 3 * 4096);
	assert_int_equal(drive_table_zero(t, 100, 2 * 4096, err, sizeof(err)), 0);
	uint8_t *z = drive_table_data(t);
	assert_int_equal(z[99], 0xff);
	assert_int_equal(z[100], 0);
	assert_int_equal(z[4096 + 5], 0);
	assert_int_equal(z[2 * 4096 + 99], 0);
	assert_int_equal(z[2 * 4096 + 100], 0xff);
	assert_int_equal(drive_table_close(t, true, err, sizeof(err)), 0);

	/* Another shape, another drive, a bad header, a truncated file. */
	struct drive_table_spec other = spec;
	other.count = 99999;
	assert_null(drive_table_open(d, &other, DRIVE_TABLE_OPEN, err, sizeof(err)));
	assert_non_null(strstr(err, "this drive needs 'units' of 99999"));
	other = spec;
	other.version = 4;
	assert_null(drive_table_open(d, &other, DRIVE_TABLE_OPEN, err, sizeof(err)));
	assert_non_null(strstr(err, "table format 1.3"));
	uint8_t foreign[DRIVE_ID_BYTES] = {1};
	drive_set_id(d, foreign);
	assert_null(drive_table_open(d, &spec, DRIVE_TABLE_OPEN, err, sizeof(err)));
	assert_non_null(strstr(err, "not to this drive"));
	drive_set_id(d, saved_id);
	flip_byte("units", 20);
	assert_null(drive_table_open(d, &spec, DRIVE_TABLE_OPEN, err, sizeof(err)));
	assert_non_null(strstr(err, "header checksum"));
	flip_byte("units", 20);
	char path[512];
	snprintf(path, sizeof(path), "%s/units", dir);
	assert_int_equal(truncate(path, 8192), 0);
	assert_null(drive_table_open(d, &spec, DRIVE_TABLE_OPEN, err, sizeof(err)));
	assert_non_null(strstr(err, "truncated"));
	drive_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lock_is_exclusive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kv_round_trip_and_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kv_holds_its_maximum, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_clean_close_and_checks, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
