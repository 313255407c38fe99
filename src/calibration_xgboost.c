/* placeholder, replaced below */
#include "calibration_internal.h"
PrillmErrorCode prillm__cal_xgboost(const PrillmObservations *obs, const unsigned char *train_mask, int rounds,
                                    int depth, unsigned long long seed, double *predicted, PrillmError *err) {
    (void)obs, (void)train_mask, (void)rounds, (void)depth, (void)seed, (void)predicted;
    return prillm__fail(err, PRILLM_ERR_UNAVAILABLE, "xgboost baseline not built yet");
}
