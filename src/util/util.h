/*
 * Small helpers every layer uses: the struct around a member, array lengths, the later of two
 * times, a random number generator, error messages into a caller's buffer, and the one number syntax of every command line,
 * config file and preset.
 */
#ifndef NVEMU_UTIL_UTIL_H
#define NVEMU_UTIL_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The struct that holds `ptr` as its `member` (an embedded timer, task or list entry). */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Elements of an array (not of a pointer: the compiler cannot tell, so take care). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for the model's draws and
 * the workloads' addresses; `state` is the seed and advances. */
static inline uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * Writes a printf-style message into err (errlen bytes; nothing when err is NULL or errlen 0)
 * and returns -1, so that a failing check reads `return errorf(err, errlen, "...", ...);`.
 */
int errorf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Sets a TCP socket's congestion control (TCP_CONGESTION) unless name is NULL, "" or "system"
 * (the kernel's default). Returns 0 when set or left alone; 1 when this user may not choose it
 * (EPERM: not in net.ipv4.tcp_allowed_congestion_control), the kernel's default then staying;
 * else -errno (-ENOENT: the kernel has no such congestion control). The daemon, nvemu perf and
 * the NVMe/TCP floor all follow this one rule.
 */
int socket_set_congestion(int fd, const char *name);

/*
 * The number syntax of every nvemu command, option, config key and preset:
 *   decimal          4096 (leading zeros are decimal: 010 is ten, never octal)
 *   hexadecimal      0x1000 or 0X1000 (no suffix)
 *   binary suffix    after a decimal number: k, m, g or t in either case, alone or followed by
 *                    B or iB (either case): 4k = 4K = 4KB = 4KiB = 4096, 1M = 1MiB = 2^20.
 *                    KB is 1024 like K and KiB, as in fio and nvme-cli: there is no decimal kilo.
 * No sign, no spaces, no fractions. Returns 0 with *out set, or -1 with err holding one of
 *   '<text>' is not a non-negative integer
 *   <text> is out of range [<min>, <max>]      (also for numbers past 2^64 - 1)
 * and *out untouched.
 */
int parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out, char *err,
	      size_t errlen);

/*
 * The directory of nvemu's data `what` ("presets", "guest"): share/nvemu/WHAT beside the bin/ of
 * the running binary (an installed tree wherever it was moved to, or the build tree, which meson
 * lays out the same way with links to the sources), else below the data directory nvemu was
 * configured to install to. Returns 0 with the path of an existing directory, or -1.
 */
int data_dir(const char *what, char *out, size_t outlen);

/* A growing list of strings, NULL-terminated like argv (the expanded command line, key lists). */
struct arg_list {
	char **argv;
	int argc, cap;
};
/* Appends a copy of arg; -1 when out of memory. */
int arg_list_push(struct arg_list *list, const char *arg);
void arg_list_free(struct arg_list *list);

#endif
