#include "util/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

enum log_level log_threshold = LOG_INFO;

static void log_line(enum log_level level, const char *suffix, const char *fmt, va_list ap)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char line[1024];
	int n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld nvemu %s: ", tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, names[level]);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* One fputs per line keeps lines from different reactors whole. */
	fprintf(stderr, "%s%s\n", line, suffix);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level > log_threshold)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_line(level, "", fmt, ap);
	va_end(ap);
}

#define LOG_ONCE_INTERVAL_NS (60ull * 1000000000ull)

void log_once(struct log_once *once, const char *fmt, ...)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	unsigned long long now =
	    (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
	unsigned long long next = atomic_load_explicit(&once->next_ns, memory_order_relaxed);
	/* One thread wins the slot; the others only count. */
	if (now < next ||
	    !atomic_compare_exchange_strong(&once->next_ns, &next, now + LOG_ONCE_INTERVAL_NS)) {
		atomic_fetch_add_explicit(&once->unlogged, 1, memory_order_relaxed);
		return;
	}
	unsigned long long unlogged =
	    atomic_exchange_explicit(&once->unlogged, 0, memory_order_relaxed);
	char suffix[96] = " (further occurrences are logged at most once a minute)";
	if (next && unlogged)
		snprintf(suffix, sizeof(suffix), " (and %llu more since the last report)",
			 unlogged);
	else if (next)
		suffix[0] = '\0';
	va_list ap;
	va_start(ap, fmt);
	log_line(LOG_WARN, suffix, fmt, ap);
	va_end(ap);
}
