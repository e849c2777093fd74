#ifndef CAMQCRC32C_H
#define CAMQCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has a CRC-32C instruction amq can use (x86-64 SSE 4.2, or ARMv8 CRC32).
int camq_crc32c_hardware_available(void);

/// Updates a CRC-32C register (already inverted by the caller) over `length` bytes with the
/// CPU's instruction. Only call when camq_crc32c_hardware_available() returned non-zero.
uint32_t camq_crc32c_hardware_update(uint32_t crc, const void *bytes, size_t length);

#endif
