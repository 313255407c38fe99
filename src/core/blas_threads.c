/* The linked OpenBLAS's thread count. OpenBLAS splits some reductions
 * (dot products, matrix-vector products, the blocks of a Cholesky factor)
 * between its threads, so the last bits of a solve depend on how many there
 * are; the command-line tools pin it to make their output reproducible. */
#include <cblas.h>

#include "prillm/prillm.h"

int prillm_set_blas_threads(int threads) {
    if (threads < 1) return -1;
    int before = openblas_get_num_threads();
    openblas_set_num_threads(threads);
    return before;
}
