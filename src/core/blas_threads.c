/* The linked OpenBLAS's thread count. OpenBLAS splits some reductions
 * (dot products, matrix-vector products, the blocks of a Cholesky factor)
 * between its threads, so the last bits of a solve depend on how many there
 * are; the command-line tools pin it to make their output reproducible. */
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "prillm/prillm.h"

int prillm_set_blas_threads(int threads) {
    if (threads < 1) return -1;
    int before = openblas_get_num_threads();
#ifdef _OPENMP
    /* an OpenMP build of OpenBLAS sets OpenMP's own thread count too, which
     * would make the library's parallel loops (price --all, training)
     * serial: keep it as it was */
    int omp_threads = omp_get_max_threads();
#endif
    openblas_set_num_threads(threads);
#ifdef _OPENMP
    omp_set_num_threads(omp_threads);
#endif
    return before;
}
