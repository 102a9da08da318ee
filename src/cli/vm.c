/*
 * `nvemu vm`: a Linux guest in QEMU with nvemu's subsystems already connected
 * over NVMe/TCP.  The guest itself is the reference guest of the guest tests
 * (tests/guest: Debian kernel, nvme-cli, fio, built from Debian packages and
 * cached by build-guest.sh, booted by run-guest.sh, whose /init connects every
 * subsystem); this command starts a daemon when none listens on the asked
 * port, runs the guest, and stops the daemon it started.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/options.h"
#include "util/util.h"

extern char **environ;

#define MAX_GUEST_ENV 64
#define MAX_NQNS 64
/* The host's loopback as a QEMU user-network guest sees it. */
#define HOST_FROM_GUEST "10.0.2.2"

struct vm_options {
	const char *script;
	char **script_args;
	int nscript_args;
	const char *share; /* NULL: no shared folder */
	const char *image;
	bool gdb;
	const char *accel;
	const char *kernel;
	uint64_t mem_bytes;
	unsigned smp;
	uint64_t timeout_s;
	const char *guest_env[MAX_GUEST_ENV];
	unsigned nguest_env;
	char **daemon_args;
	int ndaemon_args;
};

/* The daemon this command started (pid 0: it uses one already running). */
struct daemon {
	pid_t pid;
	uint16_t port;
	char log[PATH_MAX];
	char *nqns[MAX_NQNS];
	unsigned nnqns;
};

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t guest_pid;

static int add_guest_env(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct vm_options *o = ctx;
	if (!strchr(value, '=') || value[0] == '=')
		return errorf(err, errlen, "%s needs NAME=VALUE, not '%s'", name, value);
	if (o->nguest_env == MAX_GUEST_ENV)
		return errorf(err, errlen, "at most %d %s", MAX_GUEST_ENV, name);
	o->guest_env[o->nguest_env++] = value;
	return 0;
}

static int no_share(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct vm_options *o = ctx;
	(void)name, (void)value, (void)err, (void)errlen;
	o->share = NULL;
	return 0;
}

static int set_accel(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct vm_options *o = ctx;
	if (strcmp(value, "auto") && strcmp(value, "kvm") && strcmp(value, "tcg"))
		return errorf(err, errlen, "%s: '%s' is not auto, kvm or tcg", name, value);
	o->accel = value;
	return 0;
}

static int set_kernel(void *ctx, const char *name, const char *value, char *err, size_t errlen)
{
	struct vm_options *o = ctx;
	if (strcmp(value, "6.1") && strcmp(value, "6.12"))
		return errorf(err, errlen, "%s: '%s' is not 6.1 or 6.12", name, value);
	o->kernel = value;
	return 0;
}

#define FIELD(f) OPT_FIELD(struct vm_options, f)

static const struct opt vm_opts[] = {
    {OPT_TEXT, "run", 0, "SCRIPT", FIELD(script),
     .help = "run SCRIPT with sh in the guest, with the arguments after it, and exit with its "
	     "status (default: an interactive shell on this terminal)"},
    {OPT_TEXT, NULL, 'e', "NAME=VALUE", .flags = OPT_REPEATABLE, .apply = add_guest_env,
     .help = "export NAME in the guest"},
    {OPT_TEXT, "share", 0, "DIR", .def = ".", FIELD(share),
     .help = "host folder mounted read-write at /mnt/host (9p)"},
    {OPT_FLAG, "no-share", .apply = no_share, .help = "no shared folder"},
    {OPT_TEXT, "image", 0, "DISK", FIELD(image),
     .help = "boot this disk image instead of the reference guest (console on the serial port); "
	     "prints the nvme connect lines for it"},
    {OPT_FLAG, "gdb", FIELD(gdb),
     .help = "QEMU's gdb stub on port 1234 (-s -S): the guest waits for gdb"},
    {OPT_TEXT, "kernel", 0, "VERSION", .def = "6.1", .apply = set_kernel,
     .help = "the guest's Linux: Debian 12's 6.1, or 6.12 from bookworm-backports (in-band "
	     "authentication with nvme connect --dhchap-secret); each is built once and cached"},
    {OPT_TEXT, "accel", 0, "MODE", .def = "auto", .apply = set_accel,
     .help = "auto (KVM if a test boot works here, else TCG), kvm or tcg"},
    {OPT_NUMBER, "mem", 0, "SIZE", 128 << 20, 64ull << 30, 1 << 20, "1G", FIELD(mem_bytes),
     .help = "guest memory"},
    {OPT_NUMBER, "smp", 0, "N", 1, 256, .def = "2", FIELD(smp), .help = "guest CPUs"},
    {OPT_NUMBER, "timeout", 0, "SECONDS", 0, UINT32_MAX, .def = "0", FIELD(timeout_s),
     .help = "stop the guest after this long; 0: never"},
    {OPT_HELP, "help", 'h', .help = "this text"},
    {OPT_LIST, "list-options", .help = "list every option, tab-separated, for scripts"},
};

static const struct opt_table vm_table = {
    .command = "nvemu vm",
    .usage = "Usage: nvemu vm [options] [--run SCRIPT [ARGS...]] [-- daemon options]\n"
	     "Boot a Linux guest in QEMU (kernel, nvme-cli, fio, blkzone from Debian packages,\n"
	     "built once into ~/.cache/nvemu) with every subsystem of nvemu connected over\n"
	     "NVMe/TCP.  nvemu is started with the daemon options (nvemu --help) on a free\n"
	     "port and stopped on exit; with -p PORT among them, the nvemu already listening\n"
	     "there is used instead, if any.\n"
	     "\n",
    .epilog =
	"\n"
	"Examples:\n"
	"  nvemu vm -- --zoned\n"
	"  nvemu vm --run check.sh -- -n nqn.2026-11.dev.nvemu:a --ns ram:1G --ns zoned\n"
	"  nvemu vm --image debian.qcow2 -- -p 4420\n"
	"See docs/vm.md.  NVEMU_GUEST_DIR: the directory of run-guest.sh (default: the guest\n"
	"scripts installed with nvemu, share/nvemu/guest).\n",
    .opts = vm_opts,
    .count = ARRAY_SIZE(vm_opts),
};

/* argv up to the first "--" holds vm options, the rest daemon options. */
static int parse_options(int argc, char **argv, struct vm_options *o)
{
	int vm_argc = argc;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			vm_argc = i;
			o->daemon_args = argv + i + 1;
			o->ndaemon_args = argc - i - 1;
			break;
		}
	}
	char err[256];
	/* The script's arguments follow the options and are not options. */
	int operand = opt_parse(&vm_table, vm_argc, argv, o, true, err, sizeof(err));
	if (operand < 0) {
		fprintf(stderr, "nvemu vm: %s\n", err);
		return -1;
	}
	o->script_args = argv + operand;
	o->nscript_args = vm_argc - operand;
	if (o->nscript_args && !o->script) {
		fprintf(stderr, "nvemu vm: unexpected argument '%s' (daemon options go after --)\n",
			argv[operand]);
		return -1;
	}
	if (o->image && o->script) {
		fprintf(stderr, "nvemu vm: --run needs the reference guest, not --image\n");
		return -1;
	}
	const char *file = o->script ? o->script : o->image;
	if (file && access(file, R_OK)) {
		fprintf(stderr, "nvemu vm: %s: %s\n", file, strerror(errno));
		return -1;
	}
	return 0;
}

/* The port among the daemon options (-p PORT, -pPORT, --port PORT, --port=PORT),
 * 0 if none; *other_args counts the options that are not about the port. */
static int daemon_port(const struct vm_options *o, uint16_t *port, int *other_args)
{
	const char *text = NULL;
	*other_args = 0;
	for (int i = 0; i < o->ndaemon_args; i++) {
		const char *a = o->daemon_args[i];
		if ((strcmp(a, "-p") == 0 || strcmp(a, "--port") == 0) && i + 1 < o->ndaemon_args)
			text = o->daemon_args[++i];
		else if (strncmp(a, "--port=", 7) == 0)
			text = a + 7;
		else if (strncmp(a, "-p", 2) == 0 && a[2])
			text = a + 2;
		else
			++*other_args;
	}
	uint64_t v = 0;
	if (text && parse_u64(text, 1, 65535, &v, NULL, 0)) {
		fprintf(stderr, "nvemu vm: bad daemon port '%s'\n", text);
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

static struct sockaddr_in loopback(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static bool someone_listens(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = loopback(port);
	bool yes = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return yes;
}

/* A loopback port nobody listens on now (the kernel's pick). */
static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_in a = loopback(0);
	socklen_t len = sizeof(a);
	uint16_t port = 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* The whole daemon log, NUL-terminated (NULL if unreadable). */
static char *read_log(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *text = malloc(cap);
	while (text) {
		len += fread(text + len, 1, cap - len - 1, f);
		if (len < cap - 1)
			break;
		char *bigger = realloc(text, cap *= 2);
		if (!bigger)
			free(text);
		text = bigger;
	}
	fclose(f);
	if (text)
		text[len] = '\0';
	return text;
}

/* The subsystem NQNs of the banner's "connect:" lines. */
static void parse_nqns(struct daemon *d, const char *log)
{
	for (const char *line = strstr(log, "connect:  nvme connect "); line && d->nnqns < MAX_NQNS;
	     line = strstr(line + 1, "connect:  nvme connect ")) {
		const char *nqn = strstr(line, " -n ");
		const char *end = nqn ? strchr(nqn, '\n') : NULL;
		if (end)
			d->nqns[d->nnqns++] = strndup(nqn + 4, (size_t)(end - nqn - 4));
	}
}

/* Run /proc/self/exe as the daemon on d->port, output to d->log, in its own
 * process group so that the terminal's Ctrl-C does not reach it; wait for its
 * banner. */
static int start_daemon(const struct vm_options *o, bool port_given, struct daemon *d)
{
	snprintf(d->log, sizeof(d->log), "%s/nvemu-vm-%d-daemon.log",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	char port_text[8];
	snprintf(port_text, sizeof(port_text), "%u", d->port);
	char **argv = calloc((size_t)o->ndaemon_args + 5, sizeof(*argv));
	if (!argv)
		return -1;
	int n = 0;
	argv[n++] = "nvemu";
	argv[n++] = "serve";
	for (int i = 0; i < o->ndaemon_args; i++)
		argv[n++] = o->daemon_args[i];
	if (!port_given) {
		argv[n++] = "-p";
		argv[n++] = port_text;
	}
	posix_spawn_file_actions_t files;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&files);
	posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&files, 1, d->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&files, 1, 2);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	pid_t pid;
	int err = posix_spawn(&pid, "/proc/self/exe", &files, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&files);
	posix_spawnattr_destroy(&attr);
	free(argv);
	if (err) {
		fprintf(stderr, "nvemu vm: cannot start nvemu: %s\n", strerror(err));
		return -1;
	}
	d->pid = pid;
	/* Up to 60 s: a large configuration under ASan takes a while to set up. */
	for (int waited_ms = 0; waited_ms < 60000 && !stop_signal; waited_ms += 50) {
		char *log = read_log(d->log);
		if (log && strstr(log, "serving NVMe/TCP")) {
			parse_nqns(d, log);
			free(log);
			return 0;
		}
		free(log);
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			d->pid = 0;
			log = read_log(d->log);
			fprintf(stderr, "nvemu vm: nvemu did not start:\n%s", log ? log : "");
			free(log);
			return -1;
		}
		sleep_ms(50);
	}
	fprintf(stderr, "nvemu vm: nvemu did not start listening (log: %s)\n", d->log);
	return -1;
}

/* SIGTERM, then SIGKILL after 10 s; returns 0 when the daemon exited cleanly. */
static int stop_daemon(struct daemon *d)
{
	kill(d->pid, SIGTERM);
	int status = 0;
	for (int waited_ms = 0; waitpid(d->pid, &status, WNOHANG) == 0; waited_ms += 50) {
		if (waited_ms == 10000) {
			fprintf(stderr, "nvemu vm: nvemu did not stop on SIGTERM, killing it\n");
			kill(d->pid, SIGKILL);
		}
		sleep_ms(50);
	}
	d->pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fprintf(stderr, "nvemu vm: nvemu ended with %s %d (log: %s)\n",
		WIFEXITED(status) ? "status" : "signal",
		WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), d->log);
	return -1;
}

/* What to type in a guest this command cannot drive itself (--image). */
static void print_connect_help(const struct vm_options *o, const struct daemon *d)
{
	fprintf(stderr, "nvemu vm: in the guest (it needs the nvme-tcp module and nvme-cli):\n"
			"    modprobe nvme-tcp\n");
	for (unsigned i = 0; i < d->nnqns; i++)
		fprintf(stderr, "    nvme connect -t tcp -a " HOST_FROM_GUEST " -s %u -n %s\n",
			d->port, d->nqns[i]);
	/* The discovery log names the address the daemon listens on (loopback:
	 * the guest itself), so connect-all would not reach it. */
	fprintf(stderr,
		"  the subsystems: nvme discover -t tcp -a " HOST_FROM_GUEST " -s %u; connect each at "
		HOST_FROM_GUEST ", not at the address in the log\n", d->port);
	if (o->share)
		fprintf(stderr, "  the shared folder:\n    mkdir -p /mnt/host && mount -t 9p -o "
				"trans=virtio,version=9p2000.L host /mnt/host\n");
}

static void on_stop_signal(int sig)
{
	stop_signal = sig;
	/* The terminal sends SIGINT to the guest runner itself. */
	if (guest_pid > 0 && sig != SIGINT)
		kill(guest_pid, sig);
}

static void set_env(const char *name, const char *value)
{
	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
}

/* Run run-guest.sh in this process group (QEMU needs the terminal) and
 * return its exit status as a shell would. */
static int run_guest(const struct vm_options *o, const struct daemon *d, const char *runner)
{
	char name[32], port_env[32];
	snprintf(name, sizeof(name), "vm-%d", (int)getpid());
	snprintf(port_env, sizeof(port_env), "TARGET_PORT=%u", d->port);
	setenv("NVEMU_GUEST_NAME", name, 0);
	set_env("NVEMU_GUEST_ACCEL", o->accel);
	set_env("NVEMU_GUEST_KERNEL", o->kernel);
	set_env("NVEMU_GUEST_SHARE", o->share);
	set_env("NVEMU_GUEST_IMAGE", o->image);
	set_env("NVEMU_GUEST_GDB", o->gdb ? "1" : NULL);
	char mem[32], smp[16], timeout[32];
	snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)(o->mem_bytes >> 20));
	snprintf(smp, sizeof(smp), "%u", o->smp);
	snprintf(timeout, sizeof(timeout), "%llu", (unsigned long long)o->timeout_s);
	set_env("NVEMU_GUEST_MEM", mem);
	set_env("NVEMU_GUEST_SMP", smp);
	set_env("NVEMU_GUEST_TIMEOUT", timeout);

	char **argv = calloc(2 * o->nguest_env + (size_t)o->nscript_args + 8, sizeof(*argv));
	if (!argv)
		return 1;
	int n = 0;
	argv[n++] = (char *)runner;
	argv[n++] = "-e";
	argv[n++] = port_env;
	argv[n++] = "-e";
	argv[n++] = "NVEMU_CONNECT_ALL=1";
	for (unsigned i = 0; i < o->nguest_env; i++) {
		argv[n++] = "-e";
		argv[n++] = (char *)o->guest_env[i];
	}
	if (o->script) {
		argv[n++] = "--";
		argv[n++] = (char *)o->script;
		for (int i = 0; i < o->nscript_args; i++)
			argv[n++] = o->script_args[i];
	}
	pid_t pid;
	int err = posix_spawn(&pid, runner, NULL, NULL, argv, environ);
	free(argv);
	if (err) {
		fprintf(stderr, "nvemu vm: cannot run %s: %s\n", runner, strerror(err));
		return 1;
	}
	guest_pid = pid;
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "nvemu vm: waitpid: %s\n", strerror(errno));
			return 1;
		}
	}
	guest_pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int vm_main(int argc, char **argv)
{
	struct vm_options o = {0};
	opt_defaults(&vm_table, &o);
	if (parse_options(argc, argv, &o))
		return 2;
	char guest_dir[PATH_MAX], runner[PATH_MAX + 16];
	const char *env_dir = getenv("NVEMU_GUEST_DIR");
	if (env_dir && *env_dir) {
		snprintf(guest_dir, sizeof(guest_dir), "%s", env_dir);
	} else if (data_dir("guest", guest_dir, sizeof(guest_dir))) {
		fprintf(stderr, "nvemu vm: the guest scripts are not installed beside nvemu "
				"(NVEMU_GUEST_DIR names the directory of run-guest.sh)\n");
		return 2;
	}
	snprintf(runner, sizeof(runner), "%s/run-guest.sh", guest_dir);
	if (access(runner, X_OK)) {
		fprintf(stderr, "nvemu vm: no guest runner at %s (NVEMU_GUEST_DIR names its directory)\n",
			runner);
		return 2;
	}
	char share[PATH_MAX];
	if (o.share && !realpath(o.share, share)) {
		fprintf(stderr, "nvemu vm: --share %s: %s\n", o.share, strerror(errno));
		return 2;
	}
	if (o.share)
		o.share = share;

	struct sigaction sa = {.sa_handler = on_stop_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	struct daemon d = {0};
	int other_daemon_args;
	if (daemon_port(&o, &d.port, &other_daemon_args))
		return 2;
	bool port_given = d.port != 0;
	if (port_given && someone_listens(d.port)) {
		fprintf(stderr, "nvemu vm: using the nvemu listening on 127.0.0.1 port %u%s\n", d.port,
			other_daemon_args ? " (the other daemon options do not apply to it)" : "");
	} else {
		if (!port_given && !(d.port = free_port())) {
			fprintf(stderr, "nvemu vm: no free loopback port\n");
			return 1;
		}
		if (start_daemon(&o, port_given, &d)) {
			if (d.pid)
				stop_daemon(&d);
			return 1;
		}
		fprintf(stderr, "nvemu vm: started nvemu on 127.0.0.1 port %u (log: %s):", d.port,
			d.log);
		for (unsigned i = 0; i < d.nnqns; i++)
			fprintf(stderr, " %s", d.nqns[i]);
		fprintf(stderr, "\n");
	}
	if (o.image)
		print_connect_help(&o, &d);

	int rc = stop_signal ? 128 + stop_signal : run_guest(&o, &d, runner);
	if (d.pid && stop_daemon(&d) && rc == 0)
		rc = 1;
	for (unsigned i = 0; i < d.nnqns; i++)
		free(d.nqns[i]);
	return rc;
}
