/* Logging to stderr with a level threshold; cheap when filtered out. */
#ifndef NVEMU_UTIL_LOG_H
#define NVEMU_UTIL_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_threshold >= LOG_DEBUG)                                                    \
			log_msg(LOG_DEBUG, __VA_ARGS__);                                           \
	} while (0)

/*
 * For an event that may repeat fast, such as a limit refusing hosts: the first occurrence is
 * logged (as a warning), later ones at most once a minute, each such line saying how many
 * occurrences went unlogged since the last.  Safe from any thread; zero-initialise.
 */
struct log_once {
	_Atomic unsigned long long next_ns; /* before this, occurrences are only counted */
	_Atomic unsigned long long unlogged;
};
void log_once(struct log_once *once, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
