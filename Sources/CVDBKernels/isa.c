/* CPU detection, VDB_FORCE_ISA, the active level and the dispatch tables. See include/vdb_isa.h. */
#include "internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VDB_TABLE(level, sfx)                                                                         \
    {                                                                                                 \
        level, vdb_l2sq_##sfx, vdb_ip_##sfx, vdb_l2sq_batch_##sfx, vdb_ip_batch_##sfx,                \
        vdb_norm_sq_batch_##sfx, vdb_select_scores_from_ip_##sfx, vdb_scan_f32_##sfx,                 \
        vdb_scan4_f32_##sfx, vdb_sq8_scan_##sfx                                                       \
    }

/* Levels this build has no code for stay zeroed; `vdb_isa_best` never returns them. */
VDB_HIDDEN const vdb_kernel_table vdb_kernel_tables_[VDB_ISA_COUNT] = {
    VDB_TABLE(VDB_ISA_SCALAR, scalar),
#ifdef VDB_X86_64
    VDB_TABLE(VDB_ISA_AVX2, avx2),
    VDB_TABLE(VDB_ISA_AVX512, avx512),
#endif
};

VDB_HIDDEN int vdb_isa_level_ = VDB_ISA_SCALAR;
static int g_chosen = 0; /* whether init_level has run (or vdb_isa_set has chosen) */
static int g_best = -1;

static int detect(void) {
#ifdef VDB_X86_64
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl"))
        return VDB_ISA_AVX512;
    if (avx2) return VDB_ISA_AVX2;
#endif
    return VDB_ISA_SCALAR;
}

int vdb_isa_best(void) {
    int b = __atomic_load_n(&g_best, __ATOMIC_RELAXED);
    if (b < 0) {
        b = detect();
        __atomic_store_n(&g_best, b, __ATOMIC_RELAXED);
    }
    return b;
}

int vdb_isa_supported(int isa) { return isa >= 0 && isa <= vdb_isa_best(); }

const char *vdb_isa_name(int isa) {
    switch (isa) {
    case VDB_ISA_SCALAR: return "scalar";
    case VDB_ISA_AVX2: return "avx2";
    case VDB_ISA_AVX512: return "avx512";
    default: return "unknown";
    }
}

int vdb_isa_resolve(const char *request, int best, int *level) {
    if (!request || !*request) { *level = best; return VDB_ISA_REQUEST_NONE; }
    int want = -1;
    for (int i = 0; i < VDB_ISA_COUNT; i++)
        if (strcmp(request, vdb_isa_name(i)) == 0) want = i;
    if (want < 0) { *level = best; return VDB_ISA_REQUEST_UNKNOWN; }
    if (want > best) { *level = best; return VDB_ISA_REQUEST_UNSUPPORTED; }
    *level = want;
    return VDB_ISA_REQUEST_OK;
}

/* Chooses the level once (VDB_FORCE_ISA or the best); only the thread that claims the choice
   installs it and prints the warning. */
static void init_level(void) {
    int expected = 0;
    if (!__atomic_compare_exchange_n(&g_chosen, &expected, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return;
    const char *request = getenv("VDB_FORCE_ISA");
    int best = vdb_isa_best(), level = best;
    int outcome = vdb_isa_resolve(request, best, &level);
    __atomic_store_n(&vdb_isa_level_, level, __ATOMIC_RELAXED);
    if (outcome == VDB_ISA_REQUEST_UNSUPPORTED)
        fprintf(stderr, "vdb: VDB_FORCE_ISA=%s is not supported by this CPU; using %s\n", request,
                vdb_isa_name(level));
    else if (outcome == VDB_ISA_REQUEST_UNKNOWN)
        fprintf(stderr, "vdb: ignoring VDB_FORCE_ISA=%s (expected scalar, avx2 or avx512); using %s\n", request,
                vdb_isa_name(level));
}

__attribute__((constructor)) static void vdb_isa_ctor(void) { init_level(); }

int vdb_isa_active(void) {
    if (!__atomic_load_n(&g_chosen, __ATOMIC_ACQUIRE)) init_level();
    return __atomic_load_n(&vdb_isa_level_, __ATOMIC_RELAXED);
}

int vdb_isa_set(int isa) {
    if (!vdb_isa_supported(isa)) return -1;
    init_level(); /* a later first use must not overwrite this choice */
    __atomic_store_n(&vdb_isa_level_, isa, __ATOMIC_RELAXED);
    return 0;
}

const vdb_kernel_table *vdb_kernel_table_for(int isa) {
    return vdb_isa_supported(isa) ? &vdb_kernel_tables_[isa] : NULL;
}

const char *vdb_kernels_isa(void) { return vdb_isa_name(vdb_isa_active()); }
