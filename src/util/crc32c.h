/* CRC32C (Castagnoli) as NVMe/TCP digests use it, computed by ISA-L. */
#ifndef NVEMU_UTIL_CRC32C_H
#define NVEMU_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define CRC32C_INIT 0xFFFFFFFFu

/* Feed more bytes into a running CRC started at CRC32C_INIT. */
uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len);

/* The digest value: the running CRC with its final inversion. */
static inline uint32_t crc32c_final(uint32_t crc) { return crc ^ 0xFFFFFFFFu; }

static inline uint32_t crc32c(const void *buf, size_t len)
{
	return crc32c_final(crc32c_update(CRC32C_INIT, buf, len));
}

uint32_t crc32c_iov(const struct iovec *iov, int iovcnt);

#endif
