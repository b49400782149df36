#include <cblas.h>
/* OpenBLAS thread control (declared in OpenBLAS's cblas.h on Debian; repeated for other builds). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

/*
 * vdb's one BLAS threading policy: OpenBLAS runs on the calling thread only, and vdb splits work
 * across its own threads (search blocks, CLIP's column panels). OpenBLAS's thread count is
 * process-wide: a component that raised it would change the last bits of every other caller's
 * results (embeddings would depend on what else runs in the process), and changing it while
 * another thread is inside BLAS is a race. Every vdb entry into BLAS calls this first; it only
 * writes when the count is not already 1.
 */
static inline void vdb_blas_single_thread(void) {
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}
