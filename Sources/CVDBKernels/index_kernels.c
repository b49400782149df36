/* List scans for the IVF indexes. See include/vdb_index_kernels.h. */
#include "vdb_index_kernels.h"
#include "vdb_kernels.h"

float vdb_score_f32(const float *a, const float *b, size_t d, int metric) {
    return metric == 0 ? vdb_l2sq(a, b, d) : -vdb_ip(a, b, d);
}

void vdb_scan_f32(const float *q, const float *base, size_t n, size_t d, int metric, float *out) {
    const size_t bytes = d * sizeof(float);
    for (size_t i = 0; i < n; i++) {
        if (i + 2 < n) vdb_prefetch(base + (i + 2) * d, bytes);
        const float *x = base + i * d;
        out[i] = metric == 0 ? vdb_l2sq(q, x, d) : -vdb_ip(q, x, d);
    }
}
