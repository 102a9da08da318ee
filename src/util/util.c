#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int errorf(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int socket_set_congestion(int fd, const char *name)
{
	if (!name || !*name || !strcmp(name, "system"))
		return 0;
	if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, (socklen_t)strlen(name)) == 0)
		return 0;
	return errno == EPERM ? 1 : -errno;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Digits in `base` from *p on into *v; false on overflow. Leaves *p past the digits. */
static bool digits(const char **p, unsigned base, uint64_t *v, bool *overflow)
{
	const char *start = *p;
	int d;
	for (*v = 0; (d = hex_digit(**p)) >= 0 && (unsigned)d < base; ++*p) {
		if (*v > (UINT64_MAX - (unsigned)d) / base)
			*overflow = true;
		*v = *v * base + (unsigned)d;
	}
	return *p != start;
}

/* k, m, g or t, alone or followed by B or iB: the shift; 0 for no suffix; -1 for anything else. */
static int suffix_shift(const char *s)
{
	static const char units[] = "kmgt";
	if (!*s)
		return 0;
	const char *unit = strchr(units, tolower((unsigned char)*s));
	if (!unit || !*unit)
		return -1;
	s++;
	if (tolower((unsigned char)s[0]) == 'i' && tolower((unsigned char)s[1]) == 'b')
		s += 2;
	else if (tolower((unsigned char)s[0]) == 'b')
		s++;
	return *s ? -1 : 10 * (int)(unit - units + 1);
}

int parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	const char *p = text;
	bool hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
	bool overflow = false;
	uint64_t v;
	if (hex)
		p += 2;
	if (!digits(&p, hex ? 16 : 10, &v, &overflow))
		return errorf(err, errlen, "'%s' is not a non-negative integer", text);
	int shift = hex ? (*p ? -1 : 0) : suffix_shift(p);
	if (shift < 0)
		return errorf(err, errlen, "'%s' is not a non-negative integer", text);
	if (overflow || v > (UINT64_MAX >> shift) || (v << shift) < min || (v << shift) > max)
		return errorf(err, errlen, "%s is out of range [%" PRIu64 ", %" PRIu64 "]", text,
			      min, max);
	*out = v << shift;
	return 0;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int data_dir(const char *what, char *out, size_t outlen)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(out, outlen, "%s/../share/nvemu/%s", exe, what);
			if (is_dir(out))
				return 0;
		}
	}
	snprintf(out, outlen, "%s/%s", NVEMU_INSTALLED_DATA_DIR, what);
	return is_dir(out) ? 0 : -1;
}

int arg_list_push(struct arg_list *list, const char *arg)
{
	if (list->argc + 2 > list->cap) {
		int cap = list->cap ? list->cap * 2 : 16;
		char **argv = realloc(list->argv, (size_t)cap * sizeof(*argv));
		if (!argv)
			return -1;
		list->argv = argv;
		list->cap = cap;
	}
	if (!(list->argv[list->argc] = strdup(arg)))
		return -1;
	list->argv[++list->argc] = NULL;
	return 0;
}

void arg_list_free(struct arg_list *list)
{
	/* Arguments may be secrets (--dhchap-key): none stays behind in freed memory. */
	for (int i = 0; i < list->argc; i++) {
		explicit_bzero(list->argv[i], strlen(list->argv[i]));
		free(list->argv[i]);
	}
	free(list->argv);
	memset(list, 0, sizeof(*list));
}
