/* TEMPORARY (removed when the baselines branch lands). */
#include "pricing_internal.h"
#define PENDING(fn) \
    PrillmErrorCode fn(const PrillmPriceProblem *pb, PrillmPriceCandidate *out, PrillmError *err) { \
        (void)pb; (void)out; return prillm__fail(err, PRILLM_ERR_UNAVAILABLE, #fn " is not built yet"); }
PENDING(prillm__price_pmpec)
PENDING(prillm__price_smooth)
PENDING(prillm__price_odca)
PENDING(prillm__price_spgce)
