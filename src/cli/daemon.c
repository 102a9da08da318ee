/* `nvemu` with no subcommand: serve NVMe/TCP until SIGINT or SIGTERM. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/daemon.h"
#include "runtime/reactor.h"
#include "stats/stats.h"
#include "transport/tcp.h"
#include "util/log.h"
#include "util/util.h"

static bool is_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	       strcmp(addr, "localhost") == 0;
}

/* What the control socket's power-cut command acts on. */
struct power {
	struct tcp_transport *transport;
	struct nvme_target *target;
	pthread_mutex_t lock; /* one cut at a time */
};

static void report_loss(const char *nqn, uint32_t nsid, uint64_t lost)
{
	log_warn("power cut: %s namespace %u lost %llu LBAs", nqn, nsid, (unsigned long long)lost);
}

static char *power_cut(void *ctx, uint64_t down_ms)
{
	struct power *p = ctx;
	pthread_mutex_lock(&p->lock);
	if (!p->transport) {
		pthread_mutex_unlock(&p->lock);
		return strdup("error: not serving\n");
	}
	uint64_t now = clock_now_ns();
	log_warn("power cut: every connection drops, the drive is back in %llu ms",
		 (unsigned long long)down_ms);
	tcp_transport_power_cut(p->transport, now + down_ms * 1000000ull);
	uint64_t lost = nvme_target_power_cut(p->target, now, report_loss);
	pthread_mutex_unlock(&p->lock);
	char *text = NULL;
	if (asprintf(&text, "ok power cut: %llu LBAs lost; back in %llu ms\n",
		     (unsigned long long)lost, (unsigned long long)down_ms) < 0)
		text = NULL;
	return text;
}

static void describe_ns(unsigned subsys, unsigned index, struct ns *ns)
{
	char what[512] = "";
	if (ns->ops->describe)
		ns->ops->describe(ns, what, sizeof(what));
	printf("subsystem %u namespace %u: %s, %llu bytes in %u-byte LBAs%s%s\n", subsys + 1,
	       index + 1, ns->ops->kind, (unsigned long long)ns->nlbas << ns->lba_shift,
	       1u << ns->lba_shift, *what ? "; " : "", what);
}

static int add_subsystems(struct daemon_options *o, struct nvme_target *target, struct stats *stats,
			  struct nvme_subsys **subsystems, char *err, size_t errlen);

static int build_target(struct daemon_options *o, struct nvme_target **out, struct stats *stats,
			char *err, size_t errlen)
{
	if (!o->nsubsys)
		o->nqns[o->nsubsys++] = DEFAULT_NQN;
	bool global_hosts = false;
	for (unsigned h = 0; h < o->nhosts; h++)
		global_hosts |= o->hosts[h].subsys < 0;
	for (unsigned s = 0;
	     s < o->nsubsys && !is_loopback(o->listen) && !o->allow_any_host && !global_hosts;
	     s++) {
		bool named = false;
		for (unsigned h = 0; h < o->nhosts; h++)
			named |= o->hosts[h].subsys == (int)s;
		if (!named)
			return errorf(
			    err, errlen,
			    "listening on %s (not loopback): subsystem %s needs an --allow-host "
			    "NQN (or --allow-any-host)",
			    o->listen, o->nqns[s]);
	}
	o->target.listen_addr = o->listen;
	o->target.port = o->port;
	o->target.allow_any_host = o->allow_any_host;
	o->target.allow_unlisted = is_loopback(o->listen);
	struct nvme_target *target = nvme_target_create(&o->target);
	if (!target)
		return errorf(err, errlen, "out of memory");
	*out = target;
	stats_set_target(stats, target);
	struct nvme_subsys **subsystems = calloc(o->nsubsys, sizeof(*subsystems));
	if (!subsystems)
		return errorf(err, errlen, "out of memory");
	int rc = add_subsystems(o, target, stats, subsystems, err, errlen);
	for (unsigned h = 0; h < o->nhosts && !rc; h++) {
		const struct host_spec *spec = &o->hosts[h];
		struct nvme_host_params host = {.nqn = spec->nqn,
						.dhchap_key = spec->dhchap_key,
						.dhchap_ctrl_key = spec->dhchap_ctrl_key};
		rc = nvme_target_allow_host(
		    target, spec->subsys < 0 ? NULL : subsystems[spec->subsys], &host, err, errlen);
	}
	free(subsystems);
	return rc;
}

static int add_subsystems(struct daemon_options *o, struct nvme_target *target, struct stats *stats,
			  struct nvme_subsys **subsystems, char *err, size_t errlen)
{
	for (unsigned s = 0; s < o->nsubsys; s++) {
		const char *base_serial = o->serial ? o->serial : "NVEMU0001";
		char serial[32];
		if (s == 0)
			snprintf(serial, sizeof(serial), "%.20s", base_serial);
		else
			snprintf(serial, sizeof(serial), "%.14s-%u", base_serial, (s + 1) % 100000);
		struct nvme_subsys_params sp = {.nqn = o->nqns[s], .serial = serial,
						.model = o->model ? o->model : "nvemu NVMe/TCP SSD"};
		struct nvme_subsys *subsys = nvme_target_add_subsys(target, &sp, err, errlen);
		if (!subsys)
			return -1;
		subsystems[s] = subsys;
		bool explicit_ns = false;
		for (unsigned i = 0; i < o->nns; i++)
			explicit_ns |= o->ns[i].subsys == s;
		for (unsigned i = 0; i < (explicit_ns ? o->nns : o->namespaces); i++) {
			if (explicit_ns && o->ns[i].subsys != s)
				continue;
			struct ns_params params = explicit_ns ? o->ns[i].params : o->default_ns;
			params.ssd = &o->ssd;
			params.zoned = &o->zoned;
			if (explicit_ns && daemon_ns_keys(o, &o->ns[i], &params, err, errlen))
				return -1;
			params.transport_floor_ns = o->default_ns.transport_floor_ns;
			params.check_only = o->check_only;
			if (!explicit_ns && i > 0 && params.path)
				return errorf(err, errlen, "--path names one drive: use --ns and --ns-o "
							   "path=DIR for more namespaces");
			struct arg_list keys = {0};
			if (daemon_ns_assignments(o, explicit_ns ? &o->ns[i] : NULL, &keys, err,
						  errlen)) {
				arg_list_free(&keys);
				return -1;
			}
			params.keys = (const char *const *)keys.argv;
			params.nkeys = (unsigned)keys.argc;
			struct ns *ns = ns_create(&params, err, errlen);
			arg_list_free(&keys);
			if (!ns)
				return -1;
			if (o->check_only)
				describe_ns(s, i, ns);
			uint32_t nsid = nvme_subsys_add_ns(subsys, ns, err, errlen);
			if (!nsid) {
				ns_destroy(ns);
				return -1;
			}
			if (stats_add_ns(stats, subsys, nsid, ns, err, errlen))
				return -1;
		}
	}
	return 0;
}

/* Room for --max-connections descriptors, and a few for everything else: raise the soft
 * limit as far as the hard one allows, and lower the connection limit below it if need be. */
static void fit_descriptors(struct tcp_transport_params *tp)
{
	const unsigned other_fds = 64;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	rlim_t want = (rlim_t)tp->max_connections + other_fds;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want) {
		unsigned fit = rl.rlim_cur > other_fds ? (unsigned)(rl.rlim_cur - other_fds) : 1;
		log_warn("--max-connections %u lowered to %u: the file descriptor limit is %llu",
			 tp->max_connections, fit, (unsigned long long)rl.rlim_cur);
		tp->max_connections = fit;
	}
}

/* The --fault specifications, once the namespaces they name exist. */
static int add_faults(const struct daemon_options *o, struct nvme_target *target, char *err,
		      size_t errlen)
{
	for (unsigned i = 0; i < o->nfaults; i++) {
		struct fault_spec spec;
		uint32_t id;
		char why[400];
		if (fault_spec_parse(o->faults[i], &spec, why, sizeof(why)) ||
		    nvme_target_add_fault(target, &spec, &id, why, sizeof(why)))
			return errorf(err, errlen, "--fault '%s': %s", o->faults[i], why);
	}
	return 0;
}

static void drop_connections(void *ctx, uint64_t down_ms)
{
	tcp_transport_drop_connections(ctx, down_ms);
}

static void *reactor_thread(void *arg)
{
	reactor_run(arg);
	return NULL;
}

static void print_banner(const struct daemon_options *o, const struct stats *stats)
{
	printf("nvemu: serving NVMe/TCP on %s port %u (%u reactor%s, %s)\n", o->listen, o->port,
	       o->reactors, o->reactors == 1 ? "" : "s", o->busy_poll ? "polling" : "sleeping");
	for (unsigned s = 0; s < o->nsubsys; s++)
		printf("  connect:  nvme connect -t tcp -a %s -s %u -n %s\n",
		       is_loopback(o->listen) ? "127.0.0.1" : o->listen, o->port, o->nqns[s]);
	printf("  discover: nvme discover -t tcp -a %s -s %u\n",
	       is_loopback(o->listen) ? "127.0.0.1" : o->listen, o->port);
	printf("  (a QEMU guest with user networking reaches this host's loopback as 10.0.2.2)\n");
	if (*stats_control_path(stats))
		printf("  stats:    nvemu stats --control %s\n", stats_control_path(stats));
	if (o->stats.http_port)
		printf("  metrics:  http://127.0.0.1:%u/metrics\n", o->stats.http_port);
	fflush(stdout);
}

int daemon_main(int argc, char **argv)
{
	struct daemon_options o;
	char err[512] = "";
	if (daemon_options_parse(&o, argc, argv, err, sizeof(err))) {
		fprintf(stderr, "nvemu: %s\n", err);
		daemon_options_free(&o);
		return 2;
	}
	o.target.nreactors = o.reactors;
	o.stats.port = o.port;
	struct power power = {.lock = PTHREAD_MUTEX_INITIALIZER};
	o.stats.power_cut = power_cut;
	o.stats.power_cut_ctx = &power;
	struct stats *stats = stats_create(&o.stats);
	struct nvme_target *target = NULL;
	if (!stats || build_target(&o, &target, stats, err, sizeof(err)) ||
	    (o.check_only && add_faults(&o, target, err, sizeof(err))) || o.check_only) {
		bool failed = !stats || !o.check_only || err[0];
		if (failed)
			fprintf(stderr, "nvemu: %s\n", stats ? err : "out of memory");
		else
			printf("nvemu: configuration is valid (%u subsystem%s)\n", o.nsubsys,
			       o.nsubsys == 1 ? "" : "s");
		stats_destroy(stats);
		nvme_target_destroy(target);
		daemon_options_free(&o);
		return failed ? 2 : 0;
	}

	/* Only the main thread takes signals; reactors inherit the blocked mask. */
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct reactor **reactors = calloc(o.reactors, sizeof(*reactors));
	pthread_t *threads = calloc(o.reactors, sizeof(*threads));
	int rc = 1;
	struct tcp_transport *transport = NULL;
	unsigned started = 0;
	if (!reactors || !threads)
		goto out;
	for (unsigned i = 0; i < o.reactors; i++) {
		if (!(reactors[i] = reactor_create(i, o.busy_poll)))
			goto out;
		reactor_set_timer_spin(reactors[i], o.timer_spin_ns);
		reactor_set_idle_spin(reactors[i], o.idle_spin_ns);
	}
	struct tcp_transport_params tp = o.transport;
	tp.addr = o.listen;
	tp.port = o.port;
	tp.target = target;
	tp.reactors = reactors;
	tp.nreactors = o.reactors;
	fit_descriptors(&tp);
	transport = tcp_transport_create(&tp, err, sizeof(err));
	if (!transport) {
		fprintf(stderr, "nvemu: %s\n", err);
		rc = 2;
		goto out;
	}
	power.transport = transport;
	power.target = target;
	nvme_target_set_fault_hooks(target, &(struct nvme_fault_hooks){drop_connections, transport});
	if (add_faults(&o, target, err, sizeof(err))) {
		fprintf(stderr, "nvemu: %s\n", err);
		rc = 2;
		goto out;
	}
	if (stats_start(stats, err, sizeof(err))) {
		fprintf(stderr, "nvemu: %s\n", err);
		rc = 2;
		goto out;
	}
	for (; started < o.reactors; started++) {
		if (pthread_create(&threads[started], NULL, reactor_thread, reactors[started]))
			goto out;
		/* Shown by gdb's "info threads" and top -H. */
		char name[16];
		snprintf(name, sizeof(name), "reactor-%u", started % 10000);
		pthread_setname_np(threads[started], name);
	}
	print_banner(&o, stats);
	int sig = 0;
	sigwait(&stop_signals, &sig);
	log_info("%s: stopping", strsignal(sig));
	rc = 0;
out:
	/* A power cut in progress needs the reactors: let it end, and start no other. */
	pthread_mutex_lock(&power.lock);
	power.transport = NULL;
	pthread_mutex_unlock(&power.lock);
	for (unsigned i = 0; i < started; i++)
		reactor_stop(reactors[i]);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	stats_destroy(stats);
	tcp_transport_destroy(transport);
	for (unsigned i = 0; reactors && i < o.reactors; i++)
		reactor_destroy(reactors[i]);
	free(reactors);
	free(threads);
	nvme_target_destroy(target);
	/* Options point into the expanded arguments until here. */
	daemon_options_free(&o);
	return rc;
}
