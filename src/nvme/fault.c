/*
 * The faults set on a target: adding one (its scope resolved against the
 * subsystems and namespaces that exist), clearing, listing, the event log that
 * traces read, the thread that starts and ends faults on time, what faults do
 * to controllers and namespaces when they fire, and the health SMART reports.
 * What faults do to single commands is fault_io.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ns/zoned.h"
#include "nvme/internal.h"
#include "util/log.h"
#include "util/util.h"

#define NS_PER_MS 1000000ull
#define KELVIN 273

void nvme_faults_init(struct nvme_faults *fs)
{
	pthread_mutex_init(&fs->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&fs->wake, &attr);
	pthread_condattr_destroy(&attr);
	atomic_init(&fs->active, NULL);
	atomic_init(&fs->attention, 0);
	atomic_init(&fs->walkers, 0);
	fs->next_id = 1;
}

static void fault_free(struct nvme_fault *f)
{
	if (f->bits)
		munmap((void *)f->bits, f->bits_bytes);
	pthread_mutex_destroy(&f->state_lock);
	free(f);
}

/*
 * Why a walker never stands on a freed fault: every access here is seq-cst.  A clear unlinks
 * (store), then reads walkers; a walker adds itself (read-modify-write), then reads links.
 * Either the clear sees the walker and frees nothing, or the walker's reads come after the
 * unlink in the single order and cannot reach the fault.
 */
struct nvme_fault *nvme_faults_walk_begin(struct nvme_faults *fs)
{
	atomic_fetch_add(&fs->walkers, 1);
	return atomic_load(&fs->active);
}

void nvme_faults_walk_end(struct nvme_faults *fs) { atomic_fetch_sub(&fs->walkers, 1); }

/* Under the lock: frees what was cleared when nobody walks the list (else later). */
static void reclaim_locked(struct nvme_faults *fs)
{
	if (!fs->retired || atomic_load(&fs->walkers))
		return;
	struct nvme_fault *next;
	for (struct nvme_fault *f = fs->retired; f; f = next) {
		next = f->next_retired;
		fault_free(f);
	}
	fs->retired = NULL;
}

void nvme_faults_destroy(struct nvme_faults *fs)
{
	pthread_mutex_lock(&fs->lock);
	fs->stopping = true;
	pthread_cond_signal(&fs->wake);
	pthread_mutex_unlock(&fs->lock);
	if (fs->timer_running)
		pthread_join(fs->timer, NULL);
	struct nvme_fault *next;
	for (struct nvme_fault *f = atomic_load(&fs->active); f; f = next) {
		next = atomic_load(&f->next);
		fault_free(f);
	}
	for (struct nvme_fault *f = fs->retired; f; f = next) {
		next = f->next_retired;
		fault_free(f);
	}
	pthread_cond_destroy(&fs->wake);
	pthread_mutex_destroy(&fs->lock);
}

/* ---- the event log ---- */

static void log_event_locked(struct nvme_faults *fs, const struct nvme_fault *f,
			     const struct nvme_subsys *subsys, uint32_t nsid, const char *text)
{
	struct nvme_fault_event *e = &fs->events[fs->nevents % NVME_FAULT_EVENTS];
	memset(e, 0, sizeof(*e));
	e->seq = ++fs->nevents;
	e->t_ns = clock_now_ns();
	e->fault_id = f->id;
	e->type = f->spec.type;
	e->subsys = subsys;
	e->nsid = nsid;
	snprintf(e->text, sizeof(e->text), "%s", text);
	log_info("fault %u (%s): %s", f->id, fault_type_name(f->spec.type), text);
}

void nvme_fault_log(struct nvme_target *target, const struct nvme_fault *f,
		    const struct nvme_subsys *subsys, uint32_t nsid, const char *fmt, ...)
{
	char text[sizeof(((struct nvme_fault_event *)0)->text)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&target->faults.lock);
	log_event_locked(&target->faults, f, subsys, nsid, text);
	pthread_mutex_unlock(&target->faults.lock);
}

size_t nvme_target_fault_events(struct nvme_target *target, uint64_t *cursor,
				struct nvme_fault_event *out, size_t max)
{
	struct nvme_faults *fs = &target->faults;
	size_t n = 0;
	pthread_mutex_lock(&fs->lock);
	if (!out)
		*cursor = fs->nevents;
	uint64_t oldest = fs->nevents > NVME_FAULT_EVENTS ? fs->nevents - NVME_FAULT_EVENTS : 0;
	uint64_t seq = *cursor > oldest ? *cursor : oldest;
	for (; seq < fs->nevents && n < max; seq++)
		out[n++] = fs->events[seq % NVME_FAULT_EVENTS];
	*cursor = seq;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

/* ---- adding: the scope resolved ---- */

static struct nvme_subsys *subsys_with_ns(struct nvme_target *target, uint32_t nsid)
{
	for (size_t i = 0; i < target->nsubsys; i++)
		if (nsid <= target->subsys[i]->nn)
			return target->subsys[i];
	return NULL;
}

static int resolve_range(struct nvme_fault *f, struct ns *ns, char *err, size_t errlen)
{
	const struct fault_spec *s = &f->spec;
	f->has_range = true;
	if (s->has_zone) {
		const struct ns_zone_ops *z = ns->ops->zone;
		if (!z)
			return errorf(err, errlen, "zone=: namespace %llu is not zoned",
				      (unsigned long long)s->nsid);
		uint64_t size = z->config(ns)->zone_size;
		if (s->zone >= ns->nlbas / size)
			return errorf(err, errlen, "zone %llu: namespace %llu has %llu zones",
				      (unsigned long long)s->zone, (unsigned long long)s->nsid,
				      (unsigned long long)(ns->nlbas / size));
		f->first_lba = s->zone * size;
		f->end_lba = f->first_lba + size;
		return 0;
	}
	if (s->lba >= ns->nlbas || (s->count && s->count > ns->nlbas - s->lba))
		return errorf(err, errlen, "lba %llu + count %llu is past namespace %llu's %llu blocks",
			      (unsigned long long)s->lba, (unsigned long long)s->count,
			      (unsigned long long)s->nsid, (unsigned long long)ns->nlbas);
	f->first_lba = s->lba;
	f->end_lba = s->count ? s->lba + s->count : ns->nlbas;
	return 0;
}

static int resolve_scope(struct nvme_target *target, struct nvme_fault *f, char *err, size_t errlen)
{
	const struct fault_spec *s = &f->spec;
	if (s->nqn[0]) {
		f->subsys = nvme_target_find_subsys(target, s->nqn);
		if (!f->subsys || f->subsys->discovery)
			return errorf(err, errlen, "nqn: no subsystem %s", s->nqn);
	}
	if (!s->nsid) {
		if (s->type == FAULT_READ_ERROR)
			return errorf(err, errlen, "read-error needs nsid (its blocks are one namespace's)");
		return 0;
	}
	if (!f->subsys)
		f->subsys = subsys_with_ns(target, (uint32_t)s->nsid);
	if (!f->subsys || s->nsid > f->subsys->nn)
		return errorf(err, errlen, "nsid: no namespace %llu%s%s", (unsigned long long)s->nsid,
			      s->nqn[0] ? " in " : "", s->nqn);
	struct ns *ns = f->subsys->ns[s->nsid - 1].ns;
	f->ns = ns;
	if (s->type == FAULT_DIE_OFFLINE && !ns->ops->set_die_offline)
		return errorf(err, errlen,
			      "die-offline: namespace %llu (%s) has no flash dies (an ssd "
			      "namespace has)",
			      (unsigned long long)s->nsid, ns->ops->kind);
	bool range = s->has_zone || s->lba || s->count;
	if (s->type == FAULT_READ_ERROR || range)
		return resolve_range(f, ns, err, errlen);
	return 0;
}

/* The read-error map: a bit per block of the range, in pages that cost memory once written. */
static int map_bits(struct nvme_fault *f, char *err, size_t errlen)
{
	uint64_t words = (f->end_lba - f->first_lba + 63) / 64;
	f->bits_bytes = words * sizeof(uint64_t);
	void *bits = mmap(NULL, f->bits_bytes, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (bits == MAP_FAILED)
		return errorf(err, errlen, "no memory for a map of %llu blocks",
			      (unsigned long long)(f->end_lba - f->first_lba));
	f->bits = bits;
	/* Plain after/probability/times: blocks go bad as reads fire it; none of them: all at once. */
	f->range_bad = f->spec.after == 0 && f->spec.probability == FAULT_PROBABILITY_ONE &&
		       f->spec.times == 0;
	return 0;
}

/* t plus ms, saturating: a far-away start or end is "never", not a wrapped past. */
static uint64_t later(uint64_t t, uint64_t ms)
{
	return ms > (UINT64_MAX - t) / NS_PER_MS ? UINT64_MAX : t + ms * NS_PER_MS;
}

/* Whether the data path must look at commands for this fault. */
static bool acts_on_commands(const struct nvme_fault *f)
{
	switch (f->spec.type) {
	case FAULT_READ_ONLY:
	case FAULT_THERMAL:
	case FAULT_DIE_OFFLINE:
		return true;
	case FAULT_SPARE_LOW:
		return false;
	default:
		return fault_spec_command_triggered(&f->spec);
	}
}

/* Starts and ends happen on the adding thread (at_ms 0) or the timer thread. */
static bool needs_timer(const struct nvme_fault *f) { return f->spec.at_ms || f->spec.for_ms; }

static void *timer_main(void *arg);

static void wake_timer_locked(struct nvme_target *target)
{
	struct nvme_faults *fs = &target->faults;
	if (!fs->timer_running) {
		if (pthread_create(&fs->timer, NULL, timer_main, target)) {
			log_error("faults: cannot start the timer thread: %s", strerror(errno));
			return;
		}
		fs->timer_running = true;
	}
	pthread_cond_signal(&fs->wake);
}

/* die-offline: takes its die offline unless cleared or done already; 0 or -1 with err. */
static int die_start(struct nvme_fault *f, char *err, size_t errlen)
{
	int rc = 0;
	pthread_mutex_lock(&f->state_lock);
	if (!atomic_load(&f->cleared) && !atomic_load(&f->die_down)) {
		rc = f->ns->ops->set_die_offline(f->ns, (uint32_t)f->spec.die, true, err, errlen);
		atomic_store(&f->die_down, rc == 0);
	}
	pthread_mutex_unlock(&f->state_lock);
	return rc;
}

/* die-offline ended or cleared: its die back online, if this fault took it offline. */
static void die_stop(struct nvme_fault *f)
{
	if (f->spec.type != FAULT_DIE_OFFLINE)
		return;
	pthread_mutex_lock(&f->state_lock);
	if (atomic_exchange(&f->die_down, false))
		f->ns->ops->set_die_offline(f->ns, (uint32_t)f->spec.die, false, NULL, 0);
	pthread_mutex_unlock(&f->state_lock);
}

int nvme_target_add_fault(struct nvme_target *target, const struct fault_spec *spec, uint32_t *id,
			  char *err, size_t errlen)
{
	if (fault_spec_check(spec, err, errlen))
		return -1;
	struct nvme_fault *f = calloc(1, sizeof(*f));
	if (!f)
		return errorf(err, errlen, "out of memory");
	f->spec = *spec;
	f->target = target;
	pthread_mutex_init(&f->state_lock, NULL);
	if (resolve_scope(target, f, err, errlen) ||
	    (spec->type == FAULT_READ_ERROR && map_bits(f, err, errlen))) {
		fault_free(f);
		return -1;
	}
	/* A die that cannot go offline now is the adder's error; later, the event log's. */
	if (spec->type == FAULT_DIE_OFFLINE && !spec->at_ms && die_start(f, err, errlen)) {
		fault_free(f);
		return -1;
	}
	uint64_t now = clock_now_ns();
	f->start_ns = later(now, spec->at_ms);
	f->end_ns = spec->for_ms ? later(f->start_ns, spec->for_ms) : UINT64_MAX;
	f->temp_c = spec->has_temp ? (double)spec->temp_c : (double)spec->ambient_c;
	f->temp_ns = f->start_ns;

	struct nvme_faults *fs = &target->faults;
	char text[FAULT_TEXT_MAX];
	fault_spec_format(spec, text, sizeof(text));
	pthread_mutex_lock(&fs->lock);
	reclaim_locked(fs);
	f->id = fs->next_id++;
	atomic_store_explicit(&f->next, atomic_load(&fs->active), memory_order_relaxed);
	/* Release: a reactor that sees the fault sees it whole. */
	atomic_store_explicit(&fs->active, f, memory_order_release);
	if (acts_on_commands(f))
		atomic_fetch_add(&fs->attention, 1);
	char added[sizeof(((struct nvme_fault_event *)0)->text)];
	snprintf(added, sizeof(added), "added: %.90s", text);
	log_event_locked(fs, f, f->subsys, (uint32_t)spec->nsid, added);
	if (needs_timer(f))
		wake_timer_locked(target);
	/* Started here unless its time is later: as a walker, so a clear cannot free it meanwhile. */
	bool start = !spec->at_ms && !atomic_exchange(&f->started, true);
	if (start)
		nvme_faults_walk_begin(fs);
	*id = f->id;
	pthread_mutex_unlock(&fs->lock);
	if (start) {
		nvme_fault_start(f);
		nvme_faults_walk_end(fs);
	}
	return 0;
}

int nvme_target_clear_faults(struct nvme_target *target, uint32_t id, char *err, size_t errlen)
{
	struct nvme_faults *fs = &target->faults;
	int cleared = 0;
	pthread_mutex_lock(&fs->lock);
	_Atomic(struct nvme_fault *) *link = &fs->active;
	for (struct nvme_fault *f = atomic_load(link); f; f = atomic_load(link)) {
		if (id && f->id != id) {
			link = &f->next;
			continue;
		}
		/* Unlinked but kept whole: a reactor standing on it walks on from its next. */
		atomic_store(link, atomic_load(&f->next));
		atomic_store(&f->cleared, true);
		die_stop(f);
		f->next_retired = fs->retired;
		fs->retired = f;
		if (acts_on_commands(f))
			atomic_fetch_sub(&fs->attention, 1);
		log_event_locked(fs, f, f->subsys, (uint32_t)f->spec.nsid, "cleared");
		cleared++;
	}
	reclaim_locked(fs);
	pthread_mutex_unlock(&fs->lock);
	if (id && !cleared)
		return errorf(err, errlen, "no fault %u", id);
	return cleared;
}

static const char *fault_state(const struct nvme_fault *f, uint64_t now)
{
	if (now < f->start_ns)
		return "pending";
	if (f->spec.times && fault_spec_command_triggered(&f->spec) &&
	    atomic_load(&f->fired) >= f->spec.times)
		return "spent";
	if (fault_class_of(f->spec.type) == FAULT_CLASS_EVENT && !fault_spec_command_triggered(&f->spec))
		return now >= f->end_ns ? "ended" : "fired";
	return now >= f->end_ns ? "ended" : "active";
}

struct nvme_fault_status *nvme_target_list_faults(struct nvme_target *target, size_t *count)
{
	struct nvme_faults *fs = &target->faults;
	uint64_t now = clock_now_ns();
	*count = 0;
	pthread_mutex_lock(&fs->lock);
	size_t n = 0;
	for (struct nvme_fault *f = atomic_load(&fs->active); f; f = atomic_load(&f->next))
		n++;
	struct nvme_fault_status *list = n ? calloc(n, sizeof(*list)) : NULL;
	size_t i = n;
	for (struct nvme_fault *f = atomic_load(&fs->active); list && f; f = atomic_load(&f->next)) {
		struct nvme_fault_status *st = &list[--i]; /* the list is newest first */
		st->id = f->id;
		st->spec = f->spec;
		st->state = fault_state(f, now);
		st->matched = atomic_load(&f->matched);
		st->injected = atomic_load(&f->injected);
		if (f->spec.type == FAULT_THERMAL) {
			st->has_temp = true;
			st->temp_c = nvme_fault_temperature_peek(f, now);
		}
	}
	pthread_mutex_unlock(&fs->lock);
	*count = list ? n : 0;
	return list;
}

void nvme_target_set_fault_hooks(struct nvme_target *target, const struct nvme_fault_hooks *hooks)
{
	pthread_mutex_lock(&target->faults.lock);
	target->faults.hooks = *hooks;
	pthread_mutex_unlock(&target->faults.lock);
}

/* ---- the timer: starts and ends on time ---- */

static void *timer_main(void *arg)
{
	struct nvme_target *target = arg;
	struct nvme_faults *fs = &target->faults;
	pthread_mutex_lock(&fs->lock);
	while (!fs->stopping) {
		uint64_t now = clock_now_ns(), next = UINT64_MAX;
		struct nvme_fault *due = NULL;
		bool ending = false;
		for (struct nvme_fault *f = atomic_load(&fs->active); f && !due; f = atomic_load(&f->next)) {
			if (!atomic_load(&f->started)) {
				if (f->start_ns <= now)
					due = f;
				else if (f->start_ns < next)
					next = f->start_ns;
			} else if (f->end_ns != UINT64_MAX && !atomic_load(&f->ended)) {
				if (f->end_ns <= now)
					due = f, ending = true;
				else if (f->end_ns < next)
					next = f->end_ns;
			}
		}
		if (due) {
			/* Start or end it without the lock (both log and reach controllers), as a
			 * walker, so that it is not freed meanwhile if cleared. */
			bool done = atomic_exchange(ending ? &due->ended : &due->started, true);
			nvme_faults_walk_begin(fs);
			pthread_mutex_unlock(&fs->lock);
			if (!done)
				ending ? nvme_fault_end(due) : nvme_fault_start(due);
			nvme_faults_walk_end(fs);
			pthread_mutex_lock(&fs->lock);
			continue;
		}
		if (next == UINT64_MAX) {
			pthread_cond_wait(&fs->wake, &fs->lock);
			continue;
		}
		struct timespec ts = {.tv_sec = (time_t)(next / 1000000000ull),
				      .tv_nsec = (long)(next % 1000000000ull)};
		pthread_cond_timedwait(&fs->wake, &fs->lock, &ts);
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

/* ---- what firing does to controllers and namespaces ---- */

static void make_fatal(struct nvme_ctrl *ctrl, uint64_t fault_id)
{
	if (atomic_load(&ctrl->fatal))
		return;
	ctrl->fatal_fault_id = (uint32_t)fault_id;
	atomic_store(&ctrl->fatal, true);
	atomic_fetch_add(&ctrl->subsys->target->faults.attention, 1);
	atomic_fetch_or(&ctrl->csts, NVME_CSTS_CFS);
	log_warn("controller %u: Controller Fatal Status set by fault %u; it answers nothing but "
		 "property commands until the host resets it", ctrl->cntlid, (unsigned)fault_id);
}

/* On the admin-queue thread: log 04h gains nsid, and the event goes out unless masked. */
static void ns_changed(struct nvme_ctrl *ctrl, uint64_t nsid)
{
	unsigned cap = ARRAY_SIZE(ctrl->changed_ns);
	bool listed = false;
	for (unsigned i = 0; i < ctrl->nchanged_ns && i < cap; i++)
		listed |= ctrl->changed_ns[i] == nsid;
	if (!listed && ctrl->nchanged_ns < cap)
		ctrl->changed_ns[ctrl->nchanged_ns] = (uint32_t)nsid;
	if (!listed)
		ctrl->nchanged_ns++; /* past cap: the log says "more than it holds" */
	if (ctrl->ns_change_masked || !(ctrl->async_event_config & NVME_CTRL_OAES_NS_ATTR))
		return;
	ctrl->ns_change_masked = true;
	nvme_ctrl_post_event(ctrl, NVME_AER_RESULT(NVME_AER_TYPE_NOTICE, NVME_AER_NOTICE_NS_CHANGED,
						   NVME_LOG_CHANGED_NS));
}

static void set_attached(struct nvme_fault *f, bool attach)
{
	struct nvme_subsys *subsys = f->subsys;
	uint32_t nsid = (uint32_t)f->spec.nsid;
	struct nvme_ns_slot *slot = &subsys->ns[nsid - 1];
	struct ns *want = attach ? slot->ns : NULL;
	if (atomic_exchange(&slot->active, want) == want)
		return;
	atomic_fetch_add(&f->injected, 1);
	nvme_fault_log(f->target, f, subsys, nsid, "namespace %u %s", nsid,
		       attach ? "attached" : "detached");
	nvme_subsys_for_each_ctrl(subsys, 0, ns_changed, nsid);
}

static void for_each_subsys(struct nvme_fault *f, void (*fn)(struct nvme_fault *, struct nvme_subsys *))
{
	struct nvme_target *target = f->target;
	for (size_t i = 0; i < target->nsubsys; i++)
		if (!f->subsys || f->subsys == target->subsys[i])
			fn(f, target->subsys[i]);
}

static void fatal_subsys(struct nvme_fault *f, struct nvme_subsys *subsys)
{
	nvme_fault_log(f->target, f, subsys, 0, "Controller Fatal Status set (%s)",
		       f->spec.cntlid ? "one controller" : "every controller");
	nvme_subsys_for_each_ctrl(subsys, (uint16_t)f->spec.cntlid, make_fatal, f->id);
}

static void warn_subsys(struct nvme_fault *f, struct nvme_subsys *subsys)
{
	(void)f;
	nvme_fault_warnings_changed(subsys);
}

/* An event fault fires: on a command, when it becomes active, or at its start time. */
void nvme_fault_fire(struct nvme_fault *f)
{
	switch (f->spec.type) {
	case FAULT_CFS:
		atomic_fetch_add(&f->injected, 1);
		for_each_subsys(f, fatal_subsys);
		break;
	case FAULT_LINK_DROP: {
		struct nvme_fault_hooks hooks;
		pthread_mutex_lock(&f->target->faults.lock);
		hooks = f->target->faults.hooks;
		pthread_mutex_unlock(&f->target->faults.lock);
		atomic_fetch_add(&f->injected, 1);
		nvme_fault_log(f->target, f, NULL, 0, "every connection dropped; refused for %llu ms",
			       (unsigned long long)f->spec.down_ms);
		if (hooks.drop_connections)
			hooks.drop_connections(hooks.ctx, f->spec.down_ms);
		else
			log_warn("fault %u: no transport to drop connections of", f->id);
		break;
	}
	case FAULT_NS_ADD:
	case FAULT_NS_REMOVE:
		set_attached(f, f->spec.type == FAULT_NS_ADD);
		break;
	default:
		break;
	}
}

void nvme_fault_start(struct nvme_fault *f)
{
	if (f->spec.at_ms)
		nvme_fault_log(f->target, f, f->subsys, (uint32_t)f->spec.nsid, "active");
	switch (fault_class_of(f->spec.type)) {
	case FAULT_CLASS_EVENT:
		if (!fault_spec_command_triggered(&f->spec))
			nvme_fault_fire(f);
		break;
	case FAULT_CLASS_STATE:
		if (f->spec.type == FAULT_DIE_OFFLINE) {
			char why[200];
			if (die_start(f, why, sizeof(why))) {
				nvme_fault_log(f->target, f, f->subsys, (uint32_t)f->spec.nsid,
					       "die %llu stays online: %s",
					       (unsigned long long)f->spec.die, why);
				break;
			}
			nvme_fault_log(f->target, f, f->subsys, (uint32_t)f->spec.nsid,
				       "die %llu offline", (unsigned long long)f->spec.die);
		}
		if (f->spec.type != FAULT_THERMAL) {
			atomic_fetch_add(&f->injected, 1);
		} else {
			/* Commands may heat it already (it is listed before it starts): its
			 * temperature is read under its lock. */
			double temp_c = nvme_fault_temperature_peek(f, clock_now_ns());
			if (temp_c >= (double)f->spec.threshold_c)
				nvme_fault_log(f->target, f, f->subsys, 0,
					       "throttling: %.1f C (threshold %llu C)", temp_c,
					       (unsigned long long)f->spec.threshold_c);
		}
		for_each_subsys(f, warn_subsys);
		break;
	case FAULT_CLASS_COMMAND:
		break;
	}
}

void nvme_fault_end(struct nvme_fault *f)
{
	nvme_fault_log(f->target, f, f->subsys, (uint32_t)f->spec.nsid, "ended");
	die_stop(f);
	/* A namespace removed or added for a while comes back as it was. */
	if (f->spec.type == FAULT_NS_ADD || f->spec.type == FAULT_NS_REMOVE)
		set_attached(f, f->spec.type == FAULT_NS_REMOVE);
}

/* ---- health: what SMART and the statistics report ---- */

static bool in_window(const struct nvme_fault *f, uint64_t now)
{
	return now >= f->start_ns && now < f->end_ns;
}

void nvme_subsys_health(struct nvme_subsys *subsys, uint32_t nsid, struct nvme_health *out)
{
	memset(out, 0, sizeof(*out));
	double temp = 35.0, warning_s = 0, critical_s = 0;
	uint64_t threshold = 70, critical = 85;
	out->avail_spare = 100;
	out->spare_thresh = 10;
	for (uint32_t i = nsid ? nsid : 1; i <= (nsid ? nsid : subsys->nn); i++) {
		struct ns *ns = subsys->ns[i - 1].ns;
		out->media_errors += atomic_load_explicit(&subsys->ns[i - 1].media_errors,
							  memory_order_relaxed);
		uint32_t wear = ns->ops->wear_warnings ? ns->ops->wear_warnings(ns) : 0;
		if (wear & NS_WEAR_SPARE_LOW)
			out->critical_warning |= NVME_SMART_CRIT_SPARE;
		if (wear & NS_WEAR_READ_ONLY)
			out->critical_warning |= NVME_SMART_CRIT_MEDIA;
	}
	uint64_t now = clock_now_ns();
	struct nvme_faults *fs = &subsys->target->faults;
	for (struct nvme_fault *f = nvme_faults_walk_begin(fs); f; f = atomic_load(&f->next)) {
		if (atomic_load(&f->cleared) || (f->subsys && f->subsys != subsys) ||
		    !in_window(f, now))
			continue;
		switch (f->spec.type) {
		case FAULT_READ_ONLY:
			if (!nsid || !f->spec.nsid || f->spec.nsid == nsid)
				out->critical_warning |= NVME_SMART_CRIT_MEDIA;
			break;
		case FAULT_DIE_OFFLINE:
			if (atomic_load(&f->die_down))
				out->critical_warning |= NVME_SMART_CRIT_RELIABILITY;
			break;
		case FAULT_SPARE_LOW:
			out->critical_warning |= NVME_SMART_CRIT_SPARE;
			if (f->spec.spare < out->avail_spare)
				out->avail_spare = (uint8_t)f->spec.spare;
			break;
		case FAULT_THERMAL: {
			double t = nvme_fault_temperature(f, now);
			pthread_mutex_lock(&f->state_lock);
			warning_s += f->warning_s;
			critical_s += f->critical_s;
			pthread_mutex_unlock(&f->state_lock);
			if (t >= (double)f->spec.threshold_c) {
				out->critical_warning |= NVME_SMART_CRIT_TEMPERATURE;
				out->throttled = true;
			}
			if (t > temp || temp == 35.0) {
				temp = t;
				threshold = f->spec.threshold_c;
				critical = f->spec.critical_c;
			}
			break;
		}
		default:
			break;
		}
	}
	nvme_faults_walk_end(fs);
	out->temperature_k = (uint16_t)(temp + KELVIN + 0.5);
	out->wctemp_k = (uint16_t)(threshold + KELVIN);
	out->cctemp_k = (uint16_t)(critical + KELVIN);
	out->warning_temp_minutes = (uint32_t)(warning_s / 60);
	out->critical_temp_minutes = (uint32_t)(critical_s / 60);
}

bool nvme_subsys_ns_attached(const struct nvme_subsys *subsys, uint32_t nsid)
{
	return nvme_subsys_ns(subsys, nsid) != NULL;
}

/* On the admin-queue thread: an event per newly raised bit the host enabled, then masked. */
static void smart_event(struct nvme_ctrl *ctrl, uint64_t warning)
{
	static const struct { uint8_t bit, info;
	} events[] = {
	    {NVME_SMART_CRIT_SPARE, NVME_AER_SMART_SPARE_BELOW},
	    {NVME_SMART_CRIT_TEMPERATURE, NVME_AER_SMART_TEMP_THRESH},
	    {NVME_SMART_CRIT_MEDIA, NVME_AER_SMART_RELIABILITY},
	    {NVME_SMART_CRIT_RELIABILITY, NVME_AER_SMART_RELIABILITY},
	};
	uint8_t enabled = (uint8_t)(ctrl->async_event_config & 0xFF);
	for (size_t i = 0; i < ARRAY_SIZE(events); i++) {
		uint8_t bit = events[i].bit;
		if (!(warning & bit) || !(enabled & bit) || (ctrl->smart_events_masked & bit))
			continue;
		ctrl->smart_events_masked |= bit;
		nvme_ctrl_post_event(ctrl, NVME_AER_RESULT(NVME_AER_TYPE_SMART, events[i].info,
							   NVME_LOG_SMART));
	}
}

static void announce(struct nvme_subsys *subsys, uint8_t warning)
{
	if (warning)
		nvme_subsys_for_each_ctrl(subsys, 0, smart_event, warning);
}

void nvme_wear_check(struct nvme_subsys *subsys, uint32_t nsid)
{
	struct nvme_ns_slot *slot = &subsys->ns[nsid - 1];
	if (!slot->ns->ops->wear_warnings)
		return;
	uint32_t raised = slot->ns->ops->wear_warnings(slot->ns);
	if (!(raised & ~atomic_load_explicit(&slot->wear_announced, memory_order_relaxed)))
		return;
	/* Of writes on several queues that see it at once, one announces it; only what is new
	 * (a drive turning read-only does not announce its low spare again). */
	uint32_t fresh = raised & ~atomic_fetch_or(&slot->wear_announced, raised);
	announce(subsys, (uint8_t)((fresh & NS_WEAR_SPARE_LOW ? NVME_SMART_CRIT_SPARE : 0) |
				   (fresh & NS_WEAR_READ_ONLY ? NVME_SMART_CRIT_MEDIA : 0)));
}

void nvme_fault_warnings_changed(struct nvme_subsys *subsys)
{
	struct nvme_health health;
	nvme_subsys_health(subsys, 0, &health);
	announce(subsys, health.critical_warning);
}
