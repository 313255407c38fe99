"""Price sensitivity measured on the OpenRouter data (include/prillm/elasticity.h)."""

import ctypes
import os

import numpy as np

from . import _ffi
from ._errors import Error, check

_PRICES = {"effective": 0, "listed": 1}
_FIELDS = [f for f, _ in _ffi.PrillmElasticitySettings._fields_]
MODEL_DTYPE = np.dtype(
    [("providers", "i4"), ("n_obs", "i8"), ("n_groups", "i8"), ("raw", "f8"), ("raw_se", "f8"), ("shrunk", "f8"),
     ("shrunk_se", "f8")]
)


def _estimate(e):
    return {f: getattr(e, f) for f, _ in _ffi.PrillmElasticityEstimate._fields_}


class ElasticityResult:
    """prillm_elasticity_estimate's answer (plain data).

    across_providers, over_time   dicts: elasticity, se, lo, hi, se_analytic,
                                  r2_within, latency, throughput, n_obs,
                                  n_groups, n_models, n_days, bootstrap_ok
    models        per-model ids (list), model_estimates: structured array
                  providers, n_obs, n_groups, raw, raw_se, shrunk, shrunk_se
    between_sd, rows_read, share_fallbacks, controls_missing,
    over_time_candidates, seconds
    """

    def __init__(self, r):
        self.across_providers = _estimate(r.across_providers)
        self.over_time = _estimate(r.over_time)
        self.models = [r.models[k].model.decode() for k in range(r.n_models)]
        self.model_estimates = np.zeros(r.n_models, dtype=MODEL_DTYPE)
        for k in range(r.n_models):
            x = r.models[k]
            self.model_estimates[k] = (x.providers, x.n_obs, x.n_groups, x.raw, x.raw_se, x.shrunk, x.shrunk_se)
        for name in ("between_sd", "rows_read", "share_fallbacks", "controls_missing", "over_time_candidates",
                     "seconds"):
            setattr(self, name, getattr(r, name))

    def __repr__(self):
        return "<prillm.ElasticityResult across providers %.4g, over time %.4g, %d models>" % (
            self.across_providers["elasticity"],
            self.over_time["elasticity"],
            len(self.models),
        )


def elasticity_estimate(openrouter_dir, **options):
    """Measure the elasticity of tokens to price (prillm_elasticity_estimate).

    options (no option table in the C API: the settings struct's fields,
    checked by prillm_elasticity_check_settings): bootstrap=200, seed=1,
    level=0.9, price="effective"|"listed", controls=True, input_share=0.9,
    min_price_change=0.01, model_min_providers=3, model_min_obs=10.
    """
    L = _ffi.lib()
    st = _ffi.PrillmElasticitySettings()
    L.prillm_elasticity_default_settings(ctypes.byref(st))
    for name, value in options.items():
        if name not in _FIELDS:
            raise Error(1, 'unknown option "%s" (one of %s)' % (name, ", ".join(_FIELDS)))
        if name == "price" and isinstance(value, str):
            if value not in _PRICES:
                raise Error(1, 'price must be "effective" or "listed", got "%s"' % value)
            value = _PRICES[value]
        ctype = dict(_ffi.PrillmElasticitySettings._fields_)[name]
        setattr(st, name, float(value) if ctype is ctypes.c_double else int(value))
    err = _ffi.PrillmError()
    check(L.prillm_elasticity_check_settings(ctypes.byref(st), ctypes.byref(err)), err)
    result = _ffi.PrillmElasticityResult()
    err = _ffi.PrillmError()
    rc = L.prillm_elasticity_estimate(os.fsencode(openrouter_dir), ctypes.byref(st), ctypes.byref(result),
                                      ctypes.byref(err))
    check(rc, err)
    try:
        return ElasticityResult(result)
    finally:
        L.prillm_elasticity_result_free(ctypes.byref(result))
