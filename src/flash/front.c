/* Firmware cores (a busy-until per core) and the host link (a transfer calendar per direction). */
#include "flash/front.h"

#include <math.h>
#include <stdlib.h>

#include "util/util.h"

/*
 * Data rate of one lane in bytes per second, after line encoding: 2.5 and 5 GT/s with 8b/10b
 * (PCIe 1.x, 2.x), 8, 16, 32 GT/s with 128b/130b (3.x, 4.0, 5.0).
 */
static double lane_bytes_per_s(uint32_t gen)
{
	static const double gts[] = {0, 2.5, 5, 8, 16, 32};
	double encoding = gen <= 2 ? 8.0 / 10 : 128.0 / 130;
	return gts[gen] * 1e9 / 8 * encoding;
}

struct front *front_create(const struct ssd_params *p, uint32_t page_bytes, char *err,
			   size_t errlen)
{
	struct front *fr = calloc(1, sizeof(*fr));
	if (!fr)
		goto oom;
	fr->controller_ns = p->controller_ns;
	fr->core_ns = p->fw_core_ns;
	fr->cores = p->fw_cores;
	fr->core_free_at = calloc(fr->cores ? fr->cores : 1, sizeof(*fr->core_free_at));
	if (!fr->core_free_at)
		goto oom;
	double efficiency[2] = {
	    [LINK_TO_DRIVE] =
		p->link_write_efficiency ? p->link_write_efficiency : p->link_efficiency,
	    [LINK_TO_HOST] = p->link_efficiency,
	};
	for (int dir = 0; dir < 2; dir++) {
		uint64_t xfer_ns = 0;
		if (p->link_gen) {
			double rate =
			    lane_bytes_per_s(p->link_gen) * p->link_lanes * efficiency[dir];
			if (dir == LINK_TO_HOST)
				fr->link_bytes_per_s = rate;
			xfer_ns = (uint64_t)llround(page_bytes * 1e9 / rate);
			if (xfer_ns == 0 || xfer_ns >= UINT32_MAX) {
				errorf(err, errlen,
				       "host link: %u-byte pages take %llu ns to cross", page_bytes,
				       (unsigned long long)xfer_ns);
				front_destroy(fr);
				return NULL;
			}
		}
		if (calendar_init(&fr->link[dir], 1, xfer_ns) != 0)
			goto oom;
	}
	return fr;
oom:
	front_destroy(fr);
	errorf(err, errlen, "out of memory");
	return NULL;
}

void front_destroy(struct front *fr)
{
	if (!fr)
		return;
	calendar_free(&fr->link[0]);
	calendar_free(&fr->link[1]);
	free(fr->core_free_at);
	free(fr);
}

uint32_t front_first_core(const struct front *fr)
{
	uint32_t best = 0;
	for (uint32_t c = 1; c < fr->cores; c++)
		if (fr->core_free_at[c] < fr->core_free_at[best])
			best = c;
	return best;
}

double front_link_bytes_per_s(const struct front *fr) { return fr->link_bytes_per_s; }

void front_advance(struct front *fr, uint64_t now)
{
	calendar_advance(&fr->link[0], now);
	calendar_advance(&fr->link[1], now);
}

void front_power_loss(struct front *front, uint64_t now)
{
	for (uint32_t c = 0; c < front->cores; c++)
		if (front->core_free_at[c] > now)
			front->core_free_at[c] = now;
	for (int dir = 0; dir < 2; dir++)
		if (front->link[dir].lane)
			calendar_drop(&front->link[dir]);
}
