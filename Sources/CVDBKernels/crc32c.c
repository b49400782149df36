/* CRC32C: portable slicing-by-8 and the SSE4.2 instruction. See include/vdb_crc32c.h. */
#include "internal.h"
#include "vdb_crc32c.h"
#include <string.h>
#ifdef VDB_X86_64
#include <immintrin.h>
#endif

static uint32_t table[8][256];

/* Built once at load time (like the level in isa.c); the table is read-only afterwards. */
__attribute__((constructor)) static void crc32c_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++) table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xFF];
}

static uint32_t crc32c_portable(uint32_t crc, const uint8_t *p, size_t n) {
    uint32_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) { c = (c >> 8) ^ table[0][(c ^ *p++) & 0xFF]; n--; }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= c; /* little-endian: the low 4 bytes take the running CRC */
        c = table[7][w & 0xFF] ^ table[6][(w >> 8) & 0xFF] ^ table[5][(w >> 16) & 0xFF] ^
            table[4][(w >> 24) & 0xFF] ^ table[3][(w >> 32) & 0xFF] ^ table[2][(w >> 40) & 0xFF] ^
            table[1][(w >> 48) & 0xFF] ^ table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ table[0][(c ^ *p++) & 0xFF];
    return ~c;
}

#ifdef VDB_X86_64
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p, size_t n) {
    uint64_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) { c = _mm_crc32_u8((uint32_t)c, *p++); n--; }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    while (n--) c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}
#endif

uint32_t vdb_crc32c_level(int isa, uint32_t crc, const void *data, size_t n) {
#ifdef VDB_X86_64
    if (isa >= VDB_ISA_AVX2 && vdb_isa_supported(isa)) return crc32c_sse42(crc, (const uint8_t *)data, n);
#endif
    (void)isa;
    return crc32c_portable(crc, (const uint8_t *)data, n);
}

uint32_t vdb_crc32c(uint32_t crc, const void *data, size_t n) {
    return vdb_crc32c_level(__atomic_load_n(&vdb_isa_level_, __ATOMIC_RELAXED), crc, data, n);
}
