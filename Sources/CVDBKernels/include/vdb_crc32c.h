#ifndef VDB_CRC32C_H
#define VDB_CRC32C_H
/*
 * CRC32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78), the checksum vdb stores with
 * every vector block, metadata record and index record (Docs/architecture.md, "Integrity").
 *
 * Standard framing (initial value and final XOR 0xFFFFFFFF) is applied inside, so
 * `vdb_crc32c(0, "123456789", 9) == 0xE3069283` and checksums chain:
 * `vdb_crc32c(vdb_crc32c(0, a, n), b, m)` is the checksum of a followed by b.
 *
 * Dispatched by the one CPU level (vdb_isa.h): the AVX2 and AVX-512 levels use the SSE4.2 crc32
 * instruction (every AVX2 CPU has SSE4.2; about 8 bytes per 3 cycles), the portable level a
 * slicing-by-8 table. Both give identical results.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** CRC32C of `n` bytes at `data`, continuing from `crc` (0 to start). */
uint32_t vdb_crc32c(uint32_t crc, const void *data, size_t n);

/** The same at an explicit level (tests compare levels); falls back to portable code when the
 *  level cannot run here. */
uint32_t vdb_crc32c_level(int isa, uint32_t crc, const void *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif
