/* placeholder, replaced below */
#include <math.h>
#include "calibration_internal.h"
double prillm__cal_a2c(PrillmCalProblem *pb, double *theta, const double *scale, const unsigned char *free_mask,
                       int updates, unsigned long long seed, int *iterations) {
    (void)scale, (void)free_mask, (void)updates, (void)seed;
    *iterations = 0;
    return prillm__cal_loss(pb, theta, NULL, NULL);
}
