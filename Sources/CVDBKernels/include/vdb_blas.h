#ifndef VDB_BLAS_H
#define VDB_BLAS_H
/*
 * vdb's one policy for OpenBLAS's process-wide state. Every vdb entry into BLAS (exact batch
 * search, IVF's coarse step and k-means, the CLIP towers, benchmark ground truth) calls
 * `vdb_blas_single_thread()` first.
 *
 * OpenBLAS runs on the calling thread only, and vdb splits the work on its own threads (query
 * ranges, row blocks, column panels). OpenBLAS's thread count is one process-wide setting: a
 * component that raised it would change the last bits of every other caller's results with
 * timing, and changing it while another thread is inside BLAS is a race.
 *
 * OpenBLAS's kernel family is OpenBLAS's own choice (by CPU model, or OPENBLAS_CORETYPE, read
 * when the library loads); vdb does not change it. `vdb_blas_core()` reports it, so benchmarks
 * can say what their matrix products ran on.
 */
#ifdef __cplusplus
extern "C" {
#endif

/** Sets OpenBLAS to one thread if it is not; one load and compare when it already is. */
void vdb_blas_single_thread(void);

/** OpenBLAS's kernel family in use ("Cooperlake", "Haswell", ...). */
const char *vdb_blas_core(void);

#ifdef __cplusplus
}
#endif
#endif
