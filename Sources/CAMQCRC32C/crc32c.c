// Hardware CRC-32C for record batch validation: the agent checks the CRC of every produced batch,
// and the table-driven Swift code (~1 GB/s) was a third of an agent's CPU at full load. The CPU's
// instruction does 8 bytes per step. Swift cannot reach these intrinsics itself, hence this shim;
// callers fall back to the Swift tables where it is not available.
#include "CAMQCRC32C.h"
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

int camq_crc32c_hardware_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2")))
uint32_t camq_crc32c_hardware_update(uint32_t crc, const void *bytes, size_t length) {
    const unsigned char *p = (const unsigned char *)bytes;
    uint64_t c = crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
        p += 8;
        length -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (length > 0) {
        c32 = _mm_crc32_u8(c32, *p);
        p++;
        length--;
    }
    return c32;
}

#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#include <asm/hwcap.h>

int camq_crc32c_hardware_available(void) {
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
}

__attribute__((target("crc")))
uint32_t camq_crc32c_hardware_update(uint32_t crc, const void *bytes, size_t length) {
    const unsigned char *p = (const unsigned char *)bytes;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        crc = __builtin_arm_crc32cd(crc, word);
        p += 8;
        length -= 8;
    }
    while (length > 0) {
        crc = __builtin_arm_crc32cb(crc, *p);
        p++;
        length--;
    }
    return crc;
}

#else

int camq_crc32c_hardware_available(void) { return 0; }

uint32_t camq_crc32c_hardware_update(uint32_t crc, const void *bytes, size_t length) {
    (void)bytes;
    (void)length;
    return crc;
}

#endif
