/* Helpers the model's unit tests share: make a device or fail, check it, a small generator. */
#ifndef NVEMU_TESTS_MODEL_TEST_H
#define NVEMU_TESTS_MODEL_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ftl/ftl.h"

static inline struct ssd *make_ssd(const struct ssd_params *p)
{
	char err[256];
	struct ssd *s = ssd_create(p, err, sizeof(err));
	if (!s)
		fail_msg("ssd_create: %s", err);
	return s;
}

static inline void assert_consistent(struct ssd *s)
{
	char err[256];
	if (ssd_check(s, err, sizeof(err)) != 0)
		fail_msg("ssd_check: %s", err);
}

static inline uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

#endif
