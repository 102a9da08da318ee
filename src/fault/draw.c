/* The pure pieces of fault behaviour: seeded draws, latency distributions, the thermal model. */
#include <math.h>

#include "fault/fault.h"

uint64_t fault_draw(uint64_t seed, uint64_t n)
{
	/* splitmix64: the n-th output of the generator started at seed, without its history. */
	uint64_t z = seed + (n + 1) * 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

bool fault_draw_hits(uint64_t draw, uint64_t probability)
{
	if (probability >= FAULT_PROBABILITY_ONE)
		return true;
	/* The draw's top 64 bits scaled to [0, 10^9): unbiased enough for 30-bit probabilities. */
	uint64_t billionths = (uint64_t)(((unsigned __int128)draw * FAULT_PROBABILITY_ONE) >> 64);
	return billionths < probability;
}

/* A draw as a double in (0, 1]. */
static double unit(uint64_t draw) { return ((double)(draw >> 11) + 1.0) / 9007199254740992.0; }

uint64_t fault_latency_ns(const struct fault_spec *spec, uint64_t draw)
{
	uint64_t base_ns = spec->latency_us * 1000;
	uint64_t max_ns = (spec->max_us ? spec->max_us : spec->latency_us * 10) * 1000;
	switch (spec->dist) {
	case FAULT_DIST_FIXED:
		break;
	case FAULT_DIST_UNIFORM:
		if (max_ns > base_ns)
			return base_ns + draw % (max_ns - base_ns + 1);
		break;
	case FAULT_DIST_EXPONENTIAL: {
		double v = -log(unit(draw)) * (double)base_ns;
		return v < (double)max_ns ? (uint64_t)v : max_ns;
	}
	}
	return base_ns;
}

double fault_thermal_step(const struct fault_spec *spec, double temp_c, uint64_t dt_ns,
			  uint64_t bytes)
{
	if (spec->has_temp)
		return (double)spec->temp_c;
	double ambient = (double)spec->ambient_c;
	double cooled = ambient + (temp_c - ambient) * exp(-(double)dt_ns / 1e6 / (double)spec->tau_ms);
	return cooled + (double)spec->heat / FAULT_MILLI * (double)bytes / (1024.0 * 1024 * 1024);
}
