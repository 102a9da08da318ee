#include "util/crc32c.h"

#include <isa-l/crc.h>

uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len)
{
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
