/* placeholder until the plot is written */
#include "internal.h"
#include "prillm/calibration.h"
PrillmErrorCode prillm_calibration_write_svg(const PrillmObservations *obs, const PrillmCalibrationResult *result,
                                             FILE *out, PrillmError *err) {
    (void)obs, (void)result, (void)out;
    return prillm__fail(err, PRILLM_ERR_UNAVAILABLE, "plot not built yet");
}
