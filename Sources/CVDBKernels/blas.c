/* vdb's OpenBLAS policy: one BLAS thread, vdb threads itself. See include/vdb_blas.h. */
#include "vdb_blas.h"

/* OpenBLAS (declared here so this target needs no OpenBLAS headers; the library is linked). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);

void vdb_blas_single_thread(void) {
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

const char *vdb_blas_core(void) {
    const char *core = openblas_get_corename();
    return core ? core : "unknown";
}
