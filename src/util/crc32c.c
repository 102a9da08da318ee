#include "util/crc32c.h"

#include <isa-l/crc.h>
#include <nmmintrin.h>
#include <stdbool.h>
#include <string.h>

/*
 * ISA-L folds with carry-less multiplies, which wins on data but has a setup
 * cost that dominates the 24- and 72-byte PDU headers digested on every I/O;
 * there the CPU's CRC32 instruction is several times faster.
 */
#define CRC32C_SHORT 256

__attribute__((target("sse4.2"))) static uint32_t crc32c_short(uint32_t crc, const uint8_t *p,
								size_t len)
{
	uint64_t c = crc;
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;
		memcpy(&v, p, sizeof(v));
		c = _mm_crc32_u64(c, v);
	}
	uint32_t c32 = (uint32_t)c;
	while (len--)
		c32 = _mm_crc32_u8(c32, *p++);
	return c32;
}

static bool have_sse42(void)
{
	static int known; /* 0 unknown, 1 yes, -1 no; a race only repeats the check */
	if (!known)
		known = __builtin_cpu_supports("sse4.2") ? 1 : -1;
	return known > 0;
}

uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	if (len < CRC32C_SHORT && have_sse42())
		return crc32c_short(crc, buf, len);
	/* ISA-L picks the SSE4.2/PCLMUL kernel at run time. */
	return crc32_iscsi((unsigned char *)buf, (int)len, crc);
}

uint32_t crc32c_iov(const struct iovec *iov, int iovcnt)
{
	uint32_t crc = CRC32C_INIT;
	for (int i = 0; i < iovcnt; i++)
		crc = crc32c_update(crc, iov[i].iov_base, iov[i].iov_len);
	return crc32c_final(crc);
}
