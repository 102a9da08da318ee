/* The zone state machine; see zone_state.h for the locking story. */
#include "ns/zone_state.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns/zone_state_internal.h"
#include "spec/nvme.h"

#define DNR NVME_STATUS_DNR

static void lru_remove(struct zones *z, uint64_t idx)
{
	for (uint32_t i = 0; i < z->nlru; i++) {
		if (z->lru[i] == idx) {
			memmove(&z->lru[i], &z->lru[i + 1], (z->nlru - i - 1) * sizeof(*z->lru));
			z->nlru--;
			return;
		}
	}
}

/* Every state change goes through here, so the counts cannot drift. */
void zone_set_state(struct zones *z, uint64_t idx, uint8_t to)
{
	struct zone *zn = &z->zone[idx];
	uint8_t from = zn->state;
	z->nopen -= is_open(from);
	z->nactive -= is_active(from);
	if (from == NVME_ZS_IMP_OPEN && z->lru)
		lru_remove(z, idx);
	z->nopen += is_open(to);
	z->nactive += is_active(to);
	if (to == NVME_ZS_IMP_OPEN && z->lru)
		z->lru[z->nlru++] = idx;
	/* A ZRWA belongs to an active zone only. */
	if (!is_active(to) && (zn->attrs & NVME_ZA_ZRWAV)) {
		zn->attrs &= (uint8_t)~NVME_ZA_ZRWAV;
		z->nzrwa--;
	}
	zn->state = to;
}

/* A write just used an implicitly open zone: it becomes the last victim. */
static void lru_touch(struct zones *z, uint64_t idx)
{
	if (z->lru && z->nlru && z->lru[z->nlru - 1] != idx) {
		lru_remove(z, idx);
		z->lru[z->nlru++] = idx;
	}
}

/*
 * Lists a zone in the Changed Zone List.  Returns true when the list was
 * empty: the host hears of changes once, then reads the log to see them all.
 */
static bool note_changed(struct zones *z, uint64_t idx)
{
	bool first = !z->nchanged && !z->changed_overflow;
	for (uint32_t i = 0; i < z->nchanged; i++)
		if (z->changed[i] == idx)
			return false;
	if (z->nchanged == ZONE_CHANGED_LIST_MAX)
		z->changed_overflow = true;
	else
		z->changed[z->nchanged++] = idx;
	return first;
}

/*
 * Close: an open zone that holds nothing (write pointer at ZSLBA, no
 * extension, no ZRWA that might hold data) has nothing to keep active and
 * goes back to Empty, as a ZBC zone does.
 */
void zone_close(struct zones *z, uint64_t idx)
{
	struct zone *zn = &z->zone[idx];
	bool holds_nothing = zn->wp == 0 && !(zn->attrs & (NVME_ZA_ZDEV | NVME_ZA_ZRWAV));
	zone_set_state(z, idx, holds_nothing ? NVME_ZS_EMPTY : NVME_ZS_CLOSED);
}

/*
 * Room for one more active (activate) and/or open (open) zone.  When only the
 * open limit is in the way, the least recently written implicitly open zone
 * is closed, as the specification allows the controller to do.
 */
static uint16_t make_room(struct zones *z, bool activate, bool open)
{
	const struct zone_config *c = &z->cfg;
	if (activate && c->max_active && z->nactive >= c->max_active)
		return NVME_SC_ZONE_TOO_MANY_ACTIVE | DNR;
	if (open && c->max_open && z->nopen >= c->max_open) {
		if (!z->nlru)
			return NVME_SC_ZONE_TOO_MANY_OPEN | DNR;
		zone_close(z, z->lru[0]);
	}
	return NVME_SC_SUCCESS;
}

static uint16_t open_implicitly(struct zones *z, uint64_t idx)
{
	uint16_t status;
	switch (z->zone[idx].state) {
	case NVME_ZS_EMPTY:
	case NVME_ZS_CLOSED:
		status = make_room(z, z->zone[idx].state == NVME_ZS_EMPTY, true);
		if (!status)
			zone_set_state(z, idx, NVME_ZS_IMP_OPEN);
		return status;
	case NVME_ZS_IMP_OPEN:
		lru_touch(z, idx);
		return NVME_SC_SUCCESS;
	default:
		return NVME_SC_SUCCESS;
	}
}

static uint16_t write_refused(uint8_t state)
{
	switch (state) {
	case NVME_ZS_FULL:
		return NVME_SC_ZONE_FULL | DNR;
	case NVME_ZS_READ_ONLY:
		return NVME_SC_ZONE_READ_ONLY | DNR;
	case NVME_ZS_OFFLINE:
		return NVME_SC_ZONE_OFFLINE | DNR;
	default:
		return NVME_SC_SUCCESS;
	}
}

/* Moves the write pointer to `to`; a zone filled to its capacity is Full. */
static void advance_wp(struct zones *z, uint64_t idx, uint64_t to)
{
	struct zone *zn = &z->zone[idx];
	zn->wp = to;
	if (zn->wp >= z->cfg.zone_cap) {
		zn->wp = z->cfg.zone_cap;
		zone_set_state(z, idx, NVME_ZS_FULL);
	}
}

const struct zone_config *zones_config(const struct zones *z) { return &z->cfg; }

/* ---- Data path ---- */

static uint16_t reserve_sequential(struct zones *z, struct zone_write *w, uint64_t off)
{
	const struct zone_config *c = &z->cfg;
	struct zone *zn = &z->zone[w->zone];
	bool zrwa = zn->attrs & NVME_ZA_ZRWAV;
	uint16_t status = write_refused(zn->state);
	if (status)
		return status;
	if (w->append) {
		if (off != 0)
			return NVME_SC_INVALID_FIELD | DNR;
		if (zrwa)
			return ZNS_SC_INVALID_ZONE_OP | DNR;
		off = zn->wp;
	} else if (zrwa) {
		/* Inside the ZRWA or the ZRWA-sized window after it (implicit flush). */
		if (off < zn->wp || off + w->nlb > zn->wp + 2ull * c->zrwa_size)
			return NVME_SC_ZONE_INVALID_WRITE | DNR;
	} else if (off != zn->wp) {
		return NVME_SC_ZONE_INVALID_WRITE | DNR;
	}
	if (off + w->nlb > c->zone_cap)
		return NVME_SC_ZONE_BOUNDARY_ERROR | DNR;
	status = open_implicitly(z, w->zone);
	if (status)
		return status;

	w->committed_from = zn->wp;
	uint64_t end = off + w->nlb;
	if (!zrwa) {
		advance_wp(z, w->zone, end);
	} else if (end > zn->wp + c->zrwa_size) {
		/* Implicit ZRWA flush: commit whole granules until the write fits. */
		uint64_t over = end - (zn->wp + c->zrwa_size);
		uint64_t granules = (over + c->zrwa_fg - 1) / c->zrwa_fg;
		advance_wp(z, w->zone, zn->wp + granules * c->zrwa_fg);
	}
	w->committed_to = zn->state == NVME_ZS_FULL ? c->zone_cap : zn->wp;
	w->slba = (w->zone << z->shift) + off;
	w->resets = zn->resets;
	zn->inflight++;
	return NVME_SC_SUCCESS;
}

uint16_t zones_write_begin(struct zones *z, struct zone_write *w)
{
	const struct zone_config *c = &z->cfg;
	w->zone = w->slba >> z->shift;
	uint64_t off = w->slba & (c->zone_size - 1);
	w->conventional = is_conventional(z, w->zone);
	if (w->conventional) {
		if (w->append)
			return ZNS_SC_INVALID_ZONE_OP | DNR;
		if (off + w->nlb > c->zone_size)
			return NVME_SC_ZONE_BOUNDARY_ERROR | DNR;
		w->committed_from = off;
		w->committed_to = off + w->nlb;
		return NVME_SC_SUCCESS;
	}
	pthread_mutex_lock(&z->lock);
	uint16_t status = reserve_sequential(z, w, off);
	pthread_mutex_unlock(&z->lock);
	return status;
}

void zones_write_end(struct zones *z, const struct zone_write *w)
{
	if (w->conventional)
		return;
	pthread_mutex_lock(&z->lock);
	if (--z->zone[w->zone].inflight == 0)
		pthread_cond_broadcast(&z->quiet);
	pthread_mutex_unlock(&z->lock);
}

uint16_t zones_check_read(struct zones *z, uint64_t slba, uint32_t nlb)
{
	uint64_t first = slba >> z->shift, last = (slba + nlb - 1) >> z->shift;
	if (first != last && !z->cfg.cross_zone_read)
		return NVME_SC_ZONE_BOUNDARY_ERROR | DNR;
	uint16_t status = NVME_SC_SUCCESS;
	pthread_mutex_lock(&z->lock);
	for (uint64_t i = first; i <= last && !status; i++)
		if (z->zone[i].state == NVME_ZS_OFFLINE)
			status = NVME_SC_ZONE_OFFLINE | DNR;
	pthread_mutex_unlock(&z->lock);
	return status;
}

/* ---- Zone Management Send ---- */

static void wait_quiet(struct zones *z, uint64_t idx)
{
	while (z->zone[idx].inflight)
		pthread_cond_wait(&z->quiet, &z->lock);
}

static uint16_t reset_zone(struct zones *z, uint64_t idx, struct zone_send *cmd,
			   const struct zone_hooks *h)
{
	struct zone *zn = &z->zone[idx];
	wait_quiet(z, idx); /* the state may have changed while we waited */
	switch (zn->state) {
	case NVME_ZS_EMPTY:
		return NVME_SC_SUCCESS;
	case NVME_ZS_IMP_OPEN:
	case NVME_ZS_EXP_OPEN:
	case NVME_ZS_CLOSED:
	case NVME_ZS_FULL:
		break;
	default:
		return NVME_SC_ZONE_INVALID_TRANSITION | DNR;
	}
	/* Data a ZRWA holds above the write pointer goes too. */
	uint64_t written = zn->wp;
	if (zn->attrs & NVME_ZA_ZRWAV)
		written += 2ull * z->cfg.zrwa_size;
	if (written > z->cfg.zone_cap)
		written = z->cfg.zone_cap;
	h->erase(h->ctx, idx, written, cmd->now_ns, &cmd->done_ns);
	zn->resets++;
	zone_set_state(z, idx, NVME_ZS_EMPTY);
	zn->attrs = 0;
	zn->wp = 0;
	zone_forget_durable(z, idx);
	if (z->cfg.reset_limit && zn->resets >= z->cfg.reset_limit) {
		zone_set_state(z, idx, NVME_ZS_READ_ONLY);
		cmd->zones_changed |= note_changed(z, idx);
	}
	return NVME_SC_SUCCESS;
}

static uint16_t open_zone(struct zones *z, uint64_t idx, bool zrwa)
{
	const struct zone_config *c = &z->cfg;
	struct zone *zn = &z->zone[idx];
	uint8_t state = zn->state;
	if (state != NVME_ZS_EMPTY && state != NVME_ZS_CLOSED && !is_open(state))
		return NVME_SC_ZONE_INVALID_TRANSITION | DNR;
	bool want_zrwa = zrwa && !(zn->attrs & NVME_ZA_ZRWAV);
	if (want_zrwa && (z->nzrwa >= c->zrwa_resources || zn->wp % c->zrwa_fg))
		return ZNS_SC_ZRWA_UNAVAILABLE | DNR;
	if (!is_open(state)) {
		uint16_t status = make_room(z, state == NVME_ZS_EMPTY, true);
		if (status)
			return status;
	}
	zone_set_state(z, idx, NVME_ZS_EXP_OPEN);
	if (want_zrwa) {
		zn->attrs |= NVME_ZA_ZRWAV;
		z->nzrwa++;
	}
	return NVME_SC_SUCCESS;
}

static uint16_t flush_zrwa(struct zones *z, uint64_t idx, uint64_t elba_off,
			   struct zone_send *cmd, const struct zone_hooks *h)
{
	const struct zone_config *c = &z->cfg;
	struct zone *zn = &z->zone[idx];
	if (!(zn->attrs & NVME_ZA_ZRWAV))
		return NVME_SC_INVALID_FIELD | DNR;
	if (elba_off < zn->wp || elba_off >= zn->wp + c->zrwa_size || elba_off >= c->zone_cap)
		return NVME_SC_ZONE_BOUNDARY_ERROR | DNR;
	uint64_t nlb = elba_off - zn->wp + 1;
	if (nlb % c->zrwa_fg && elba_off + 1 != c->zone_cap)
		return NVME_SC_INVALID_FIELD | DNR;
	uint16_t status = open_implicitly(z, idx);
	if (status)
		return status;
	uint64_t from = zn->wp;
	h->commit(h->ctx, idx, from, elba_off + 1, cmd->now_ns, &cmd->done_ns);
	advance_wp(z, idx, elba_off + 1);
	return NVME_SC_SUCCESS;
}

/* One zone, one action; the lock is held. */
static uint16_t act(struct zones *z, uint64_t idx, struct zone_send *cmd, const struct zone_hooks *h)
{
	struct zone *zn = &z->zone[idx];
	switch (cmd->action) {
	case NVME_ZONE_CLOSE:
		if (is_open(zn->state))
			zone_close(z, idx);
		else if (zn->state != NVME_ZS_CLOSED)
			return NVME_SC_ZONE_INVALID_TRANSITION | DNR;
		return NVME_SC_SUCCESS;
	case NVME_ZONE_FINISH:
		if (zn->state == NVME_ZS_FULL)
			return NVME_SC_SUCCESS;
		if (zn->state != NVME_ZS_EMPTY && !is_active(zn->state))
			return NVME_SC_ZONE_INVALID_TRANSITION | DNR;
		h->finish(h->ctx, idx, zn->wp, cmd->now_ns, &cmd->done_ns);
		advance_wp(z, idx, z->cfg.zone_cap);
		return NVME_SC_SUCCESS;
	case NVME_ZONE_OPEN:
		return open_zone(z, idx, cmd->zrwa_alloc);
	case NVME_ZONE_RESET:
		return reset_zone(z, idx, cmd, h);
	case NVME_ZONE_OFFLINE:
		if (zn->state == NVME_ZS_OFFLINE)
			return NVME_SC_SUCCESS;
		if (zn->state != NVME_ZS_READ_ONLY)
			return NVME_SC_ZONE_INVALID_TRANSITION | DNR;
		h->discard(h->ctx, idx);
		zone_set_state(z, idx, NVME_ZS_OFFLINE);
		zn->attrs = 0;
		zn->wp = 0;
		zone_forget_durable(z, idx);
		return NVME_SC_SUCCESS;
	case NVME_ZONE_SET_DESC_EXT: {
		if (zn->state != NVME_ZS_EMPTY)
			return NVME_SC_ZONE_INVALID_TRANSITION | DNR;
		uint16_t status = make_room(z, true, false);
		if (status)
			return status;
		memcpy(z->extensions + idx * z->cfg.zde_bytes, cmd->extension, z->cfg.zde_bytes);
		zn->attrs |= NVME_ZA_ZDEV;
		zone_set_state(z, idx, NVME_ZS_CLOSED);
		return NVME_SC_SUCCESS;
	}
	case NVME_ZONE_ZRWA_FLUSH:
		return flush_zrwa(z, idx, cmd->slba & (z->cfg.zone_size - 1), cmd, h);
	default:
		return NVME_SC_INVALID_FIELD | DNR;
	}
}

/* Which zones Select All acts on: those the action can move (not no-ops). */
static bool selected(uint8_t action, uint8_t state)
{
	switch (action) {
	case NVME_ZONE_CLOSE:
		return is_open(state);
	case NVME_ZONE_FINISH:
		return is_active(state);
	case NVME_ZONE_OPEN:
		return state == NVME_ZS_CLOSED;
	case NVME_ZONE_RESET:
		return is_active(state) || state == NVME_ZS_FULL;
	case NVME_ZONE_OFFLINE:
		return state == NVME_ZS_READ_ONLY;
	default:
		return false;
	}
}

static uint16_t send_all(struct zones *z, struct zone_send *cmd, const struct zone_hooks *h)
{
	const struct zone_config *c = &z->cfg;
	if (cmd->action == NVME_ZONE_OPEN) {
		/* All or nothing: every closed zone must fit under the open limit. */
		uint32_t closed = 0;
		for (uint64_t i = c->nr_conv; i < c->nzones; i++)
			closed += z->zone[i].state == NVME_ZS_CLOSED;
		if (c->max_open && z->nopen + closed > c->max_open)
			return NVME_SC_ZONE_TOO_MANY_OPEN | DNR;
	}
	for (uint64_t i = c->nr_conv; i < c->nzones; i++) {
		if (!selected(cmd->action, z->zone[i].state))
			continue;
		uint16_t status = act(z, i, cmd, h);
		if (status)
			return status;
	}
	return NVME_SC_SUCCESS;
}

uint16_t zones_send(struct zones *z, struct zone_send *cmd, const struct zone_hooks *h)
{
	const struct zone_config *c = &z->cfg;
	cmd->done_ns = cmd->now_ns;
	cmd->zones_changed = false;
	switch (cmd->action) {
	case NVME_ZONE_CLOSE:
	case NVME_ZONE_FINISH:
	case NVME_ZONE_RESET:
	case NVME_ZONE_OFFLINE:
		break;
	case NVME_ZONE_OPEN:
		if (cmd->zrwa_alloc && (!c->zrwa_size || cmd->select_all))
			return ZNS_SC_INVALID_ZONE_OP | DNR;
		break;
	case NVME_ZONE_SET_DESC_EXT:
		if (!c->zde_bytes || cmd->select_all)
			return NVME_SC_INVALID_FIELD | DNR;
		break;
	case NVME_ZONE_ZRWA_FLUSH:
		if (!c->zrwa_size)
			return ZNS_SC_INVALID_ZONE_OP | DNR;
		if (cmd->select_all)
			return NVME_SC_INVALID_FIELD | DNR;
		break;
	default:
		return NVME_SC_INVALID_FIELD | DNR;
	}
	uint16_t status;
	pthread_mutex_lock(&z->lock);
	if (cmd->select_all) {
		status = send_all(z, cmd, h);
	} else if (cmd->slba >= c->nzones << z->shift) {
		status = NVME_SC_LBA_RANGE | DNR;
	} else {
		uint64_t idx = cmd->slba >> z->shift;
		if (is_conventional(z, idx))
			status = ZNS_SC_INVALID_ZONE_OP | DNR;
		else if (cmd->action != NVME_ZONE_ZRWA_FLUSH && (cmd->slba & (c->zone_size - 1)))
			status = NVME_SC_INVALID_FIELD | DNR;
		else
			status = act(z, idx, cmd, h);
	}
	pthread_mutex_unlock(&z->lock);
	return status;
}

/* ---- Zone Management Receive ---- */

static bool matches(const struct zones *z, uint64_t idx, uint8_t filter)
{
	static const uint8_t state_of_filter[] = {
	    [NVME_ZRASF_EMPTY] = NVME_ZS_EMPTY,	     [NVME_ZRASF_IMP_OPEN] = NVME_ZS_IMP_OPEN,
	    [NVME_ZRASF_EXP_OPEN] = NVME_ZS_EXP_OPEN,   [NVME_ZRASF_CLOSED] = NVME_ZS_CLOSED,
	    [NVME_ZRASF_FULL] = NVME_ZS_FULL,	     [NVME_ZRASF_READ_ONLY] = NVME_ZS_READ_ONLY,
	    [NVME_ZRASF_OFFLINE] = NVME_ZS_OFFLINE,
	};
	if (filter == NVME_ZRASF_ALL)
		return true;
	return !is_conventional(z, idx) && z->zone[idx].state == state_of_filter[filter];
}

static void describe(const struct zones *z, uint64_t idx, struct nvme_zone_descriptor *d)
{
	const struct zone_config *c = &z->cfg;
	const struct zone *zn = &z->zone[idx];
	uint64_t zslba = idx << z->shift;
	memset(d, 0, sizeof(*d));
	d->zslba = zslba;
	if (is_conventional(z, idx)) {
		d->zt = ZONE_TYPE_CONVENTIONAL;
		d->zcap = c->zone_size;
		d->wp = UINT64_MAX;
		return;
	}
	d->zt = NVME_ZONE_TYPE_SEQWRITE_REQ;
	d->zs = (uint8_t)(zn->state << 4);
	d->za = zn->attrs;
	d->zcap = c->zone_cap;
	/* The write pointer is not valid in Read Only and Offline zones. */
	bool valid_wp = zn->state != NVME_ZS_READ_ONLY && zn->state != NVME_ZS_OFFLINE;
	d->wp = valid_wp ? zslba + zn->wp : UINT64_MAX;
}

uint16_t zones_report(struct zones *z, const struct zone_report *rep)
{
	const struct zone_config *c = &z->cfg;
	if (rep->slba >= c->nzones << z->shift)
		return NVME_SC_LBA_RANGE | DNR;
	if (rep->filter > NVME_ZRASF_OFFLINE || (rep->extended && !c->zde_bytes))
		return NVME_SC_INVALID_FIELD | DNR;
	uint8_t *out = rep->buf;
	uint64_t entry = sizeof(struct nvme_zone_descriptor) + (rep->extended ? c->zde_bytes : 0);
	uint64_t matching = 0, written = 0;
	memset(out, 0, rep->len);
	pthread_mutex_lock(&z->lock);
	for (uint64_t i = rep->slba >> z->shift; i < c->nzones; i++) {
		if (!matches(z, i, rep->filter))
			continue;
		matching++;
		uint64_t at = sizeof(struct nvme_zone_report_hdr) + written * entry;
		if (at + entry <= rep->len) {
			struct nvme_zone_descriptor d;
			describe(z, i, &d);
			memcpy(out + at, &d, sizeof(d));
			if (rep->extended && (z->zone[i].attrs & NVME_ZA_ZDEV))
				memcpy(out + at + sizeof(d), z->extensions + i * c->zde_bytes, c->zde_bytes);
			written++;
		} else if (rep->partial) {
			break; /* nothing more to count */
		}
	}
	pthread_mutex_unlock(&z->lock);
	/* Partial: descriptors returned; otherwise every matching zone from SLBA on. */
	struct nvme_zone_report_hdr hdr = {.nr_zones = rep->partial ? written : matching};
	memcpy(out, &hdr, rep->len < sizeof(hdr) ? rep->len : sizeof(hdr));
	return NVME_SC_SUCCESS;
}

void zones_changed_list(struct zones *z, uint8_t page[4096])
{
	memset(page, 0, 4096);
	pthread_mutex_lock(&z->lock);
	uint16_t count = z->changed_overflow ? 0xFFFF : (uint16_t)z->nchanged;
	memcpy(page, &count, sizeof(count));
	for (uint32_t i = 0; !z->changed_overflow && i < z->nchanged; i++) {
		uint64_t zid = z->changed[i] << z->shift; /* a zone is named by its ZSLBA */
		memcpy(page + 8 + 8 * i, &zid, sizeof(zid));
	}
	z->nchanged = 0;
	z->changed_overflow = false;
	pthread_mutex_unlock(&z->lock);
}

/* ---- For tests and statistics ---- */

void zones_get(struct zones *z, uint64_t zone, struct zone_info *out)
{
	pthread_mutex_lock(&z->lock);
	const struct zone *zn = &z->zone[zone];
	*out = (struct zone_info){.state = zn->state, .attrs = zn->attrs, .wp = zn->wp,
				  .durable_wp = zn->durable_wp, .resets = zn->resets};
	pthread_mutex_unlock(&z->lock);
}

void zones_counts(struct zones *z, uint32_t *open, uint32_t *active, uint32_t *zrwa)
{
	pthread_mutex_lock(&z->lock);
	*open = z->nopen;
	*active = z->nactive;
	*zrwa = z->nzrwa;
	pthread_mutex_unlock(&z->lock);
}

bool zones_fail(struct zones *z, uint64_t zone)
{
	bool first = false;
	pthread_mutex_lock(&z->lock);
	wait_quiet(z, zone);
	uint8_t state = z->zone[zone].state;
	if (!is_conventional(z, zone) && state != NVME_ZS_READ_ONLY && state != NVME_ZS_OFFLINE) {
		zone_set_state(z, zone, NVME_ZS_READ_ONLY);
		first = note_changed(z, zone);
	}
	pthread_mutex_unlock(&z->lock);
	return first;
}
