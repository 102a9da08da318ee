/*
 * Wear: each erase unit has its own endurance (P/E cycles, drawn around `endurance` from the
 * seed), reads of worn units need read retries more often, a unit that reaches its endurance is
 * retired at that erase as a grown bad block, and once the spare is gone the drive turns
 * read-only. Wear levelling chooses which free unit a write stream takes and, with the static
 * policy, moves cold data off young units.
 *
 * The spare is what the drive can lose and still hold its whole logical capacity plus, on every
 * die, the free units GC keeps and an open unit per write stream (the rule ssd_create checks):
 * the over-provisioning left over. Each retired unit takes one from it, so OP and with it the
 * GC's headroom shrink and WAF rises as the drive ages. The FTL never runs out of free units
 * because of a retirement: a unit is retired only if its die keeps a free unit for GC (else at
 * its next erase), and from read-only on nothing is retired any more, so a caller that writes
 * anyway gets the drive as it was.
 */
#include <inttypes.h>
#include <math.h>

#include "ftl/ftl_internal.h"
#include "util/util.h"

/* Uniform in (0, 1). */
static double unit_interval(uint64_t *state)
{
	return ((double)(splitmix64(state) >> 11) + 0.5) * 0x1.0p-53;
}

/* A standard normal draw (Box-Muller), clipped to +-3 so that no block is absurd. */
static double normal(uint64_t *state)
{
	double z = sqrt(-2 * log(unit_interval(state))) * cos(2 * M_PI * unit_interval(state));
	return z < -3 ? -3 : z > 3 ? 3 : z;
}

int wear_init(struct ssd *s, bool fresh, char *err, size_t errlen)
{
	const struct ssd_params *p = &s->params;
	for (uint32_t d = 0; d < s->geo.dies; d++)
		s->dies[d].cold_unit = s->dies[d].cold_moving = NO_UNIT;
	/* The same rule as check_spare in ftl.c: per die, the data's share, the GC reserve, an
	 * open unit per stream and one more. */
	uint64_t ppu = s->geo.pages_per_unit, dies = s->geo.dies;
	uint64_t data_units_per_die = (s->logical_pages + ppu * dies - 1) / (ppu * dies);
	uint64_t needed = (uint64_t)s->fg_limit + wear_streams(p) + 1;
	s->spare_units = dies * (s->geo.units_per_die - data_units_per_die - needed);
	s->wear_on = p->endurance > 0;
	/* Reclaim units are erased by fdp.c, which neither retires nor levels (not yet). */
	if (p->fdp && (s->wear_on || p->wear_levelling != WEAR_LEVELLING_NONE))
		return errorf(err, errlen, "endurance and wear_levelling are not modelled with fdp=on");
	/* Wear is physical: units retired while wear was modelled stay retired without it. */
	for (uint64_t u = 0; !fresh && u < s->geo.units; u++)
		s->retired_units += s->units[u].state == UNIT_RETIRED;
	if (!s->wear_on)
		return 0;
	if (s->spare_units == 0)
		return errorf(err, errlen,
			      "endurance=%u: op_pcent=%g leaves no spare block to retire worn ones",
			      p->endurance, p->op_pcent);
	/* Their own generator, so that the other draws (victims, retries) stay as they were. A
	 * kept device keeps the endurance it drew; one kept without wear draws it now. */
	uint64_t rng = p->seed ^ 0x5eedbadb10c5ULL;
	for (uint64_t u = 0; u < s->geo.units; u++) {
		struct unit *unit = &s->units[u];
		double e = p->endurance * (1 + p->endurance_spread_pcent / 100 * normal(&rng));
		if (fresh || !unit->endurance)
			unit->endurance = e < 1            ? 1
					  : e > UINT32_MAX ? UINT32_MAX
							   : (uint32_t)lround(e);
		/* Worn units still serving were retirements deferred (their die had no free unit). */
		s->deferred_retirements +=
		    !fresh && unit->state != UNIT_RETIRED && unit->erases >= unit->endurance;
	}
	if (s->retired_units >= s->spare_units)
		s->read_only = true;
	if (p->read_retry_worn_pcent > 0)
		s->worn_retry_below = p->read_retry_worn_pcent >= 100
					  ? UINT64_MAX
					  : (uint64_t)(p->read_retry_worn_pcent / 100 * 0x1p64);
	return 0;
}

uint64_t wear_retry_below(const struct ssd *s, uint32_t u)
{
	const struct unit *unit = &s->units[u];
	double worn = (double)unit->erases / unit->endurance;
	if (worn > 1)
		worn = 1;
	double below =
	    (double)s->retry_below + ((double)s->worn_retry_below - (double)s->retry_below) * worn;
	return below >= 0x1p64 ? UINT64_MAX : (uint64_t)below;
}

uint32_t wear_streams(const struct ssd_params *params)
{
	return (params->gc_separate ? 2 : 1) + (params->wear_levelling == WEAR_LEVELLING_STATIC);
}

struct stream *wear_stream(struct ssd *s, uint32_t d, const struct relocation *r)
{
	return r->unit == s->dies[d].cold_moving ? &s->cold : s->gc_stream;
}

uint32_t wear_take_free(struct ssd *s, uint32_t d, const struct stream *stream)
{
	uint32_t *stack = &s->free_stack[(uint64_t)d * s->geo.units_per_die];
	uint32_t top = --s->dies[d].free_count, pick = top;
	if (s->params.wear_levelling != WEAR_LEVELLING_NONE) {
		/* Cold data moved off a young unit goes to the most worn one, where it will stay a
		 * long time (in a stream of its own, not to mix it with GC's warmer data);
		 * everything else to the least worn. */
		bool most_worn = stream == &s->cold;
		for (uint32_t i = 0; i < top; i++) {
			uint32_t e = s->units[stack[i]].erases, best = s->units[stack[pick]].erases;
			if (most_worn ? e > best : e < best)
				pick = i;
		}
	}
	uint32_t u = stack[pick];
	stack[pick] = stack[top];
	return u;
}

/* Static wear levelling: the least worn closed unit of die d, if it is `gap` erases behind. */
static void find_cold_unit(struct ssd *s, uint32_t d, uint32_t erases)
{
	uint64_t first = (uint64_t)d * s->geo.units_per_die;
	uint32_t coldest = NO_UNIT;
	for (uint64_t u = first; u < first + s->geo.units_per_die; u++)
		if (s->units[u].state == UNIT_CLOSED &&
		    (coldest == NO_UNIT || s->units[u].erases < s->units[coldest].erases))
			coldest = (uint32_t)u;
	if (coldest != NO_UNIT && s->units[coldest].erases + s->params.wear_gap <= erases)
		s->dies[d].cold_unit = coldest;
}

bool wear_erased(struct ssd *s, uint32_t d, uint32_t u)
{
	struct unit *unit = &s->units[u];
	if (s->dies[d].cold_moving == u)
		s->dies[d].cold_moving = NO_UNIT;
	if (s->params.wear_levelling == WEAR_LEVELLING_STATIC && s->dies[d].cold_unit == NO_UNIT)
		find_cold_unit(s, d, unit->erases);
	/* A die must keep a free unit for GC: when GC just took its last one, the worn unit
	 * serves once more and is retired at its next erase. */
	if (!s->wear_on || s->read_only || unit->erases < unit->endurance ||
	    s->dies[d].free_count == 0) {
		s->deferred_retirements +=
		    s->wear_on && !s->read_only && unit->erases >= unit->endurance;
		return false;
	}
	unit->state = UNIT_RETIRED;
	/* Both read without the lock (ssd_read_only, ssd_avail_spare_pcent). */
	__atomic_store_n(&s->retired_units, s->retired_units + 1, __ATOMIC_RELAXED);
	if (s->retired_units == s->spare_units)
		__atomic_store_n(&s->read_only, true, __ATOMIC_RELAXED);
	return true;
}

/* Rounded up, so that 0 % means none left. */
static uint32_t spare_pcent(uint64_t retired, uint64_t spare_units, bool read_only)
{
	return read_only     ? 0
	       : spare_units ? (uint32_t)((100 * (spare_units - retired) + spare_units - 1) /
					  spare_units)
			     : 100;
}

uint32_t ssd_avail_spare_pcent(struct ssd *s)
{
	return spare_pcent(__atomic_load_n(&s->retired_units, __ATOMIC_RELAXED), s->spare_units,
			   ssd_read_only(s));
}

uint32_t wear_victim(struct ssd *s, uint32_t d)
{
	uint32_t u = s->dies[d].cold_unit;
	if (u == NO_UNIT)
		return NO_UNIT;
	s->dies[d].cold_unit = NO_UNIT;
	/* GC may have taken it meanwhile, or it was closed again with new data. */
	if (s->units[u].state != UNIT_CLOSED)
		return NO_UNIT;
	s->cold_moves++;
	s->dies[d].cold_moving = u;
	return u;
}

void wear_counters(const struct ssd *s, struct ssd_counters *out)
{
	out->retired_blocks = s->retired_units;
	out->spare_blocks = s->spare_units - s->retired_units;
	out->read_only = s->read_only;
	out->cold_moves = s->cold_moves;
	out->avail_spare_pcent = spare_pcent(s->retired_units, s->spare_units, s->read_only);
	out->percent_used = s->wear_on ? out->erase_mean * 100 / s->params.endurance : 0;
}

int wear_check(struct ssd *s, char *err, size_t errlen)
{
	uint64_t retired = 0, worn_in_service = 0;
	for (uint32_t u = 0; u < s->geo.units; u++) {
		const struct unit *unit = &s->units[u];
		if (unit->state == UNIT_RETIRED) {
			retired++;
			if (unit->valid || unit->erases < unit->endurance || !unit->endurance)
				return errorf(err, errlen,
					      "retired unit %u: %u valid pages, %u of %u erases", u,
					      unit->valid, unit->erases, unit->endurance);
		} else {
			worn_in_service += s->wear_on && unit->erases >= unit->endurance;
		}
	}
	/* A unit is retired at the erase that reaches its endurance, unless that was deferred.
	 * Read-only follows from the unit records (the spare is gone), so it can be rebuilt. */
	if (!s->read_only && worn_in_service > s->deferred_retirements)
		return errorf(err, errlen,
			      "%" PRIu64 " worn units in service, %" PRIu64 " retirements deferred",
			      worn_in_service, s->deferred_retirements);
	if (retired != s->retired_units || retired > s->spare_units ||
	    (s->wear_on && (retired == s->spare_units) != s->read_only))
		return errorf(err, errlen,
			      "%" PRIu64 " units retired, counter %" PRIu64 ", spare %" PRIu64
			      ", read-only %d",
			      retired, s->retired_units, s->spare_units, s->read_only);
	for (uint32_t d = 0; d < s->geo.dies; d++) {
		uint32_t c = s->dies[d].cold_unit, m = s->dies[d].cold_moving;
		if ((c != NO_UNIT && flash_unit_die(&s->geo, c) != d) ||
		    (m != NO_UNIT && (s->dies[d].victim.unit != m)))
			return errorf(err, errlen, "die %u: cold unit %u, moving %u (victim %u)", d,
				      c, m, s->dies[d].victim.unit);
	}
	return 0;
}
