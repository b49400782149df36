#ifndef VDB_KERNELS_INTERNAL_H
#define VDB_KERNELS_INTERNAL_H
/*
 * Private to CVDBKernels: the per-level implementations that isa.c collects into the dispatch
 * tables, and the attributes every SIMD function carries.
 *
 * x86 code is compiled only for x86-64 and only with per-function target attributes (no global
 * -m flags), so the same object runs on any x86-64 CPU and the dispatch picks what is used.
 * The portable ("scalar") functions are compiled everywhere.
 */
#include "vdb_isa.h"
#include "vdb_kernels.h"
#include "vdb_index_kernels.h"
#include "vdb_sq8.h"

#define VDB_HIDDEN __attribute__((visibility("hidden")))

#if defined(__x86_64__)
#define VDB_X86_64 1
/* AVX2 level: AVX2 + FMA. AVX-512 level: F + BW + VL on top (every AVX-512 CPU since Skylake-SP). */
#define VDB_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define VDB_TARGET_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl")))
#endif

/* Active level: always a valid index. It starts at scalar and isa.c's load-time constructor sets
   the chosen level before main, so the hot path needs no initialization check (code running in
   an earlier constructor would get the portable kernels: slower, same contracts). */
extern VDB_HIDDEN int vdb_isa_level_;
extern VDB_HIDDEN const vdb_kernel_table vdb_kernel_tables_[VDB_ISA_COUNT];

/* The table of the active level (one relaxed load: the tables themselves are constant). */
static inline const vdb_kernel_table *vdb_active_table(void) {
    return &vdb_kernel_tables_[__atomic_load_n(&vdb_isa_level_, __ATOMIC_RELAXED)];
}

/* Declares one level's implementations, named NAME_SUFFIX (defined in kernels.c, index_kernels.c
   and sq8.c). */
#define VDB_DECLARE_LEVEL(sfx)                                                                          \
    VDB_HIDDEN float vdb_l2sq_##sfx(const float *a, const float *b, size_t d);                          \
    VDB_HIDDEN float vdb_ip_##sfx(const float *a, const float *b, size_t d);                            \
    VDB_HIDDEN void vdb_l2sq_batch_##sfx(const float *q, const float *base, size_t n, size_t d, float *out); \
    VDB_HIDDEN void vdb_ip_batch_##sfx(const float *q, const float *base, size_t n, size_t d, float *out);   \
    VDB_HIDDEN void vdb_norm_sq_batch_##sfx(const float *base, size_t n, size_t d, float *out);          \
    VDB_HIDDEN size_t vdb_select_scores_from_ip_##sfx(const float *c, size_t n, float qnorm,            \
        const float *xnorms, int l2, float threshold, uint32_t *out_idx, float *out_score);             \
    VDB_HIDDEN void vdb_scan_f32_##sfx(const float *q, const float *base, size_t n, size_t d, int metric, float *out); \
    VDB_HIDDEN void vdb_scan4_f32_##sfx(const float *q, const float *base, size_t n, size_t d, int metric, float *out); \
    VDB_HIDDEN void vdb_sq8_scan_##sfx(const vdb_sq8_query *st, const uint8_t *entries, size_t n, int metric, \
                                       float bias, float *out);

VDB_DECLARE_LEVEL(scalar)
#ifdef VDB_X86_64
VDB_DECLARE_LEVEL(avx2)
VDB_DECLARE_LEVEL(avx512)
#endif

#endif
