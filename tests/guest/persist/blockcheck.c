/*
 * blockcheck: writes and checks 4 KiB blocks of a pattern that names its block and its seed,
 * for the power-cut scenario (tests/guest/scripts/persist.sh):
 *   blockcheck write DEV OFFSET LENGTH SEED [BS [STOP]]
 *                                                  O_DIRECT writes of BS bytes (4096), in order;
 *                                                  stops early once the file STOP exists and
 *                                                  prints "written BYTES" (those acknowledged)
 *   blockcheck check DEV OFFSET LENGTH OLD NEW     each block must hold seed OLD's or NEW's
 *                                                  pattern; prints "old N new N other N",
 *                                                  exits 1 if any block holds anything else
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 4096

static void fill(uint8_t *block, uint64_t number, uint64_t seed)
{
	uint64_t *w = (uint64_t *)block, state = seed * 0x9e3779b97f4a7c15ull ^ number;
	w[0] = 0x4b4c4255454d564eull; /* "NVEMUBLK" */
	w[1] = number;
	w[2] = seed;
	for (size_t i = 3; i < BLOCK / 8; i++) {
		uint64_t z = (state += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		w[i] = z ^ (z >> 31);
	}
}

static uint64_t number_arg(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end) {
		fprintf(stderr, "blockcheck: '%s' is not a number\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: blockcheck write DEV OFFSET LENGTH SEED [BS [STOP]] | "
				"check DEV OFFSET LENGTH OLD NEW\n");
		return 2;
	}
	bool write_mode = strcmp(argv[1], "write") == 0;
	uint64_t offset = number_arg(argv[3]), length = number_arg(argv[4]);
	uint64_t seed = number_arg(argv[5]);
	uint64_t bs = write_mode && argc > 6 ? number_arg(argv[6]) : BLOCK;
	int fd = open(argv[2], (write_mode ? O_WRONLY : O_RDONLY) | O_DIRECT);
	uint8_t *buf, *expect = malloc(BLOCK);
	if (fd < 0 || posix_memalign((void **)&buf, BLOCK, bs) || !expect) {
		perror(argv[2]);
		return 2;
	}
	const char *stop = write_mode && argc > 7 ? argv[7] : NULL;
	uint64_t counts[3] = {0}; /* old, new, other */
	uint64_t at;
	for (at = offset; at < offset + length; at += bs) {
		if (write_mode) {
			if (stop && access(stop, F_OK) == 0)
				break;
			for (uint64_t b = 0; b < bs; b += BLOCK)
				fill(buf + b, (at + b) / BLOCK, seed);
			if (pwrite(fd, buf, bs, (off_t)at) != (ssize_t)bs) {
				perror("pwrite");
				return 2;
			}
			continue;
		}
		if (pread(fd, buf, BLOCK, (off_t)at) != BLOCK) {
			perror("pread");
			return 2;
		}
		fill(expect, at / BLOCK, seed);
		if (memcmp(buf, expect, BLOCK) == 0) {
			counts[0]++;
			continue;
		}
		fill(expect, at / BLOCK, number_arg(argv[6]));
		counts[memcmp(buf, expect, BLOCK) == 0 ? 1 : 2]++;
	}
	if (write_mode)
		printf("written %llu\n", (unsigned long long)(at - offset));
	else
		printf("old %llu new %llu other %llu\n", (unsigned long long)counts[0],
		       (unsigned long long)counts[1], (unsigned long long)counts[2]);
	close(fd);
	return counts[2] ? 1 : 0;
}
