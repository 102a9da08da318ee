/* The connections' TCP congestion control (--tcp-congestion): set on the listening socket,
 * inherited by what it accepts; "system" leaves the kernel's default; a name the kernel does
 * not have is refused when the transport starts. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/reactor.h"
#include "transport/conn.h"
#include "transport/tcp.h"

static void congestion_of(int fd, char *name, size_t len)
{
	socklen_t got = (socklen_t)len;
	memset(name, 0, len);
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, &got), 0);
}

static void system_default(char *name, size_t len)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_congestion_control", "r");
	assert_non_null(f);
	assert_non_null(fgets(name, (int)len, f));
	fclose(f);
	name[strcspn(name, "\n")] = 0;
}

/* A transport on a free port of 127.0.0.1 with that congestion control (its reactor never runs:
 * connections are accepted by hand). */
static struct tcp_transport *start(struct reactor *r, const char *congestion, char *err,
				   size_t errlen)
{
	struct reactor *reactors[] = {r};
	struct tcp_transport_params p = {.addr = "127.0.0.1", .port = 0, .reactors = reactors,
					 .nreactors = 1, .congestion = congestion};
	return tcp_transport_create(&p, err, errlen);
}

static void expect_connections_use(const char *congestion, const char *want)
{
	struct reactor *r = reactor_create(0, false);
	assert_non_null(r);
	char err[256] = "";
	struct tcp_transport *t = start(r, congestion, err, sizeof(err));
	assert_non_null(t);
	char name[32];
	congestion_of(t->listener.fd, name, sizeof(name));
	assert_string_equal(name, want);
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	assert_int_equal(getsockname(t->listener.fd, (struct sockaddr *)&addr, &len), 0);
	int client = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(client, (struct sockaddr *)&addr, len), 0);
	int accepted = accept(t->listener.fd, NULL, NULL);
	assert_true(accepted >= 0);
	congestion_of(accepted, name, sizeof(name));
	assert_string_equal(name, want);
	close(accepted);
	close(client);
	tcp_transport_destroy(t);
	reactor_destroy(r);
}

static void test_reno_is_inherited(void **state)
{
	(void)state;
	expect_connections_use("reno", "reno"); /* built into every kernel */
}

static void test_system_keeps_the_default(void **state)
{
	(void)state;
	char def[32];
	system_default(def, sizeof(def));
	expect_connections_use("system", def);
	expect_connections_use(NULL, def);
}

static void test_unknown_name_refused(void **state)
{
	(void)state;
	struct reactor *r = reactor_create(0, false);
	assert_non_null(r);
	char err[256] = "";
	assert_null(start(r, "no-such-cc", err, sizeof(err)));
	assert_non_null(strstr(err, "'no-such-cc'"));
	reactor_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reno_is_inherited),
	    cmocka_unit_test(test_system_keeps_the_default),
	    cmocka_unit_test(test_unknown_name_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
