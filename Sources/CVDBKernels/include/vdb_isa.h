#ifndef VDB_ISA_H
#define VDB_ISA_H
/*
 * The one CPU dispatch of vdb's C kernels (vector distances, SQ8 scans, IVF list scans here;
 * the CLIP nn kernels of CVDBNN use the same level).
 *
 * An instruction-set level is chosen once per process, at load time: the widest level the CPU
 * supports, unless the environment variable VDB_FORCE_ISA asks for another:
 *
 *   VDB_FORCE_ISA=scalar   portable C (auto-vectorized for the baseline of the target: SSE2 on
 *                          x86-64, NEON on arm64); the only level on non-x86 CPUs
 *   VDB_FORCE_ISA=avx2     AVX2 + FMA
 *   VDB_FORCE_ISA=avx512   AVX-512 F + BW + VL (and AVX2 + FMA)
 *
 * A level the CPU lacks is never used: such a request falls back to the widest supported level
 * below it, and an unknown value is ignored; both print one warning line on stderr. Every kernel
 * reads the level at each call, so `vdb_isa_set` takes effect for the next call on every thread.
 *
 * Each level has one table of function pointers (`vdb_kernel_table_for`) holding every
 * ISA-dependent kernel; the public functions (`vdb_l2sq`, `vdb_sq8_scan`, ...) call through the
 * table of the active level. Tests call each table directly to check every path in one process
 * without changing the process-wide level.
 */
#include <stddef.h>
#include <stdint.h>
#include "vdb_sq8.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Instruction-set levels, ordered: a CPU that supports a level supports those below it. */
enum {
    VDB_ISA_SCALAR = 0,
    VDB_ISA_AVX2 = 1,
    VDB_ISA_AVX512 = 2,
    VDB_ISA_COUNT = 3,
};

/** The widest level this CPU and this build support (ignores VDB_FORCE_ISA). */
int vdb_isa_best(void);

/** Whether `isa` can run here (a known level not above `vdb_isa_best()`). */
int vdb_isa_supported(int isa);

/** The level the kernels use now. */
int vdb_isa_active(void);

/** Makes `isa` the active level for every thread. Returns 0, or -1 (and changes nothing) when
 *  `isa` is unknown or not supported by this CPU. */
int vdb_isa_set(int isa);

/** "scalar", "avx2", "avx512", or "unknown". */
const char *vdb_isa_name(int isa);

/** Outcome of reading a VDB_FORCE_ISA value (`vdb_isa_resolve`). */
enum {
    VDB_ISA_REQUEST_NONE = 0,        /* no request (NULL or empty): the best level */
    VDB_ISA_REQUEST_OK = 1,          /* the requested level */
    VDB_ISA_REQUEST_UNSUPPORTED = 2, /* the CPU lacks it: the widest supported level below it */
    VDB_ISA_REQUEST_UNKNOWN = 3,     /* not a level name: ignored, the best level */
};

/** Resolves a VDB_FORCE_ISA value against `best` (the widest supported level): stores the level
 *  to use in `*level` and returns one of the VDB_ISA_REQUEST_* outcomes. Pure; prints nothing. */
int vdb_isa_resolve(const char *request, int best, int *level);

/** Every ISA-dependent vector kernel, for one level. Same contracts as the public functions of
 *  the same name in vdb_kernels.h, vdb_index_kernels.h and vdb_sq8.h. */
typedef struct vdb_kernel_table {
    int isa;
    float (*l2sq)(const float *a, const float *b, size_t d);
    float (*ip)(const float *a, const float *b, size_t d);
    void (*l2sq_batch)(const float *q, const float *base, size_t n, size_t d, float *out);
    void (*ip_batch)(const float *q, const float *base, size_t n, size_t d, float *out);
    void (*norm_sq_batch)(const float *base, size_t n, size_t d, float *out);
    size_t (*select_scores_from_ip)(const float *c, size_t n, float qnorm, const float *xnorms, int l2,
                                    float threshold, uint32_t *out_idx, float *out_score);
    void (*scan_f32)(const float *q, const float *base, size_t n, size_t d, int metric, float *out);
    void (*scan4_f32)(const float *q, const float *base, size_t n, size_t d, int metric, float *out);
    void (*sq8_scan)(const vdb_sq8_query *st, const uint8_t *entries, size_t n, int metric, float bias, float *out);
} vdb_kernel_table;

/** The table of level `isa`, or NULL when that level cannot run here. */
const vdb_kernel_table *vdb_kernel_table_for(int isa);

#ifdef __cplusplus
}
#endif
#endif
