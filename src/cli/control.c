/* The client side of a running daemon's control socket (docs/stats.md), for its subcommands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"

/* One request line, the whole answer (cli/cli.h). */
char *cli_control_request(const char *path, const char *line)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		fprintf(stderr, "nvemu: cannot reach %s: %s (is nvemu running? --control, -p)\n",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	size_t len = strlen(line);
	if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len) {
		close(fd);
		return NULL;
	}
	size_t cap = 1 << 16, have = 0;
	char *buf = malloc(cap);
	for (ssize_t n = 1; buf && n > 0;) {
		if (have + 1 == cap) {
			char *grown = realloc(buf, cap *= 2);
			if (!grown) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = grown;
		}
		n = recv(fd, buf + have, cap - 1 - have, 0);
		if (n > 0)
			have += (size_t)n;
	}
	close(fd);
	if (buf)
		buf[have] = '\0';
	return buf;
}

