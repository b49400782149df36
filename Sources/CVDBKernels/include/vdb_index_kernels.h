#ifndef VDB_INDEX_KERNELS_H
#define VDB_INDEX_KERNELS_H
/*
 * Helpers for the approximate indexes: list scans with prefetching, per-node spin locks and
 * atomics for the parallel HNSW build (Swift cannot place atomics in raw memory portably).
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Scores `n` float vectors stored contiguously (`d` floats each) against `q`; smaller is closer:
 * metric 0 = squared L2, metric 1 = negated inner product. One row after the other (best for
 * rows streamed from memory, e.g. inverted lists).
 */
void vdb_scan_f32(const float *q, const float *base, size_t n, size_t d, int metric, float *out);

/** Same as `vdb_scan_f32`, four rows at a time (best for rows in cache, e.g. coarse centroids). */
void vdb_scan4_f32(const float *q, const float *base, size_t n, size_t d, int metric, float *out);

/** Score of one pair, smaller is closer (metric 0 = squared L2, 1 = negated inner product). */
float vdb_score_f32(const float *a, const float *b, size_t d, int metric);

/** Spin lock on one byte (0 = free). */
static inline void vdb_spin_lock(uint8_t *l) {
    while (__atomic_exchange_n(l, (uint8_t)1, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(l, __ATOMIC_RELAXED)) {
#if defined(__x86_64__)
            __builtin_ia32_pause();
#elif defined(__aarch64__)
            __asm__ __volatile__("yield");
#endif
        }
    }
}
static inline void vdb_spin_unlock(uint8_t *l) { __atomic_store_n(l, (uint8_t)0, __ATOMIC_RELEASE); }

/** Atomic fetch-and-add on a shared counter; returns the previous value. */
static inline uint64_t vdb_atomic_fetch_add(uint64_t *p, uint64_t v) {
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
static inline uint64_t vdb_atomic_load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void vdb_atomic_store(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

#ifdef __cplusplus
}
#endif
#endif
