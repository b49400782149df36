#include <cblas.h>
/* OpenBLAS thread control (declared in OpenBLAS's cblas.h on Debian; repeated for other builds). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

/* vdb's policy for OpenBLAS's process-wide state: vdb_blas_single_thread() in CVDBKernels. */
