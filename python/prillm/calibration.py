"""Calibration: learn the apps' preferences from observed traffic
(include/prillm/calibration.h, observations.h)."""

import ctypes
import os

import numpy as np

from . import _ffi, _options
from ._errors import check
from ._owner import _Owner
from .equilibrium import _status
from .market import Market, _c_doubles, _c_strings, _collect_warnings


class Observations(_Owner):
    """Observed markets: one or more periods over one provider list and one
    user list (PrillmObservations). Owns its C object: close() or a with block.

    n_periods, n_users, n_providers, layout, labels, user_ids, provider_ids,
    observed [T, n, m] (NaN = censored), upper [T, n, m], throughput [T, m],
    tokens [T, m], observed_cells, censored_cells, bounded_cells, warnings,
    market(period) -> the period's Market (a copy).
    """

    def __init__(self, pointer, warnings=None):
        self._ptr = pointer
        self.warnings = list(warnings or [])

    _free = "prillm_observations_free"
    _what = "the observations"

    @property
    def _s(self):
        return self._c.contents

    n_periods = property(lambda self: self._s.n_periods)
    n_users = property(lambda self: self._s.n_users)
    n_providers = property(lambda self: self._s.n_providers)
    layout = property(lambda self: self._s.layout.decode())
    observed_cells = property(lambda self: self._s.observed_cells)
    censored_cells = property(lambda self: self._s.censored_cells)
    bounded_cells = property(lambda self: self._s.bounded_cells)

    @property
    def labels(self):
        s = self._s
        return [s.periods[t].label.decode() if s.periods[t].label else "" for t in range(s.n_periods)]

    @property
    def user_ids(self):
        mk = self._s.periods[0].market.contents
        return _c_strings(mk.user_id, mk.n_users)

    @property
    def provider_ids(self):
        mk = self._s.periods[0].market.contents
        return _c_strings(mk.provider_id, mk.n_providers)

    def _stack(self, name, per_cell):
        s = self._s
        n, m = s.n_users, s.n_providers
        size = n * m if per_cell else m
        rows = []
        for t in range(s.n_periods):
            p = getattr(s.periods[t], name)
            rows.append(_c_doubles(p, size) if p else np.full(size, np.nan))
        a = np.array(rows).reshape((s.n_periods, n, m) if per_cell else (s.n_periods, m))
        return a

    observed = property(lambda self: self._stack("observed", True), doc="[T, n, m], NaN = censored")
    upper = property(lambda self: self._stack("upper", True), doc="[T, n, m] bound on censored cells")
    throughput = property(lambda self: self._stack("throughput", False))
    tokens = property(lambda self: self._stack("tokens", False))

    def market(self, period=-1):
        """The market the users faced in a period (a copy you own)."""
        s = self._s
        t = range(s.n_periods)[period]
        err = _ffi.PrillmError()
        ptr = _ffi.lib().prillm_market_copy(s.periods[t].market, ctypes.byref(err))
        if not ptr:
            check(err.code or 5, err)
        return Market(ptr)

    def __repr__(self):
        if not self._ptr:
            return "<prillm.Observations closed>"
        return "<prillm.Observations %s: %d periods x %d users x %d providers, %d observed cells>" % (
            self.layout,
            self.n_periods,
            self.n_users,
            self.n_providers,
            self.observed_cells,
        )


def read_observations(directory, **options):
    """Read observations (prillm_observations_read): the OpenRouter layout
    (models.csv + flows.csv) or the generic one (providers.csv + flows.csv
    [+ delays.csv, demands.csv]). options: the calibration option table's
    ingest keywords (models, apps, capacity, price, flow_date, price_date,
    window_start, window_end, window_scale)."""
    st = _options.settings("calibration", options)
    warnings, callback = _collect_warnings()
    out = ctypes.POINTER(_ffi.PrillmObservations)()
    err = _ffi.PrillmError()
    rc = _ffi.lib().prillm_observations_read(os.fsencode(directory), ctypes.byref(st), callback, None,
                                              ctypes.byref(out), ctypes.byref(err))
    check(rc, err)
    return Observations(out, warnings)


def synthetic_observations(n_users, n_providers, n_periods, w_congestion=0.8, w_delay=0.5, values=None, noise=0.0,
                           listed=0, seed=1):
    """Observations generated from the model itself (prillm_observations_synthetic)."""
    vals = None
    if values is not None:
        v = np.ascontiguousarray(values, dtype=np.float64)
        if v.shape != (n_providers,):
            from ._errors import Error

            raise Error(1, "values has shape %s but there are %d providers" % (v.shape, n_providers))
        vals = v.ctypes.data_as(_ffi.c_double_p)
    out = ctypes.POINTER(_ffi.PrillmObservations)()
    err = _ffi.PrillmError()
    rc = _ffi.lib().prillm_observations_synthetic(int(n_users), int(n_providers), int(n_periods), float(w_congestion),
                                                   float(w_delay), vals, float(noise), int(listed), int(seed),
                                                   ctypes.byref(out), ctypes.byref(err))
    check(rc, err)
    return Observations(out)


class CalibrationResult(_Owner):
    """prillm_calibrate's answer. The numbers are copied out:

    status, method, w_congestion, w_delay, values [m], iterations,
    evaluations, seconds, seconds_total, loss_initial, loss_final, lp_slack,
    lp_slack_relative, lp_seconds, r2, mae, r2_heldout, mae_heldout, cells,
    predicted [T, n, m], predicted_heldout [T, n, m], progress (lines).

    It keeps the C result (and the observations) for market(period) and
    diagnose(); close() or a with block frees it.
    """

    def __init__(self, pointer, observations, progress):
        self._ptr = pointer
        self._obs = observations
        r = pointer.contents
        T, n, m = r.n_periods, r.n_users, r.n_providers
        self.status = _status(r.status)
        self.method = _ffi.lib().prillm_calibration_method_name(r.method).decode()
        self.w_congestion = r.w_congestion
        self.w_delay = r.w_delay
        self.values = _c_doubles(r.value, m) if r.value else np.full(m, np.nan)
        for name in ("iterations", "evaluations", "seconds", "seconds_total", "loss_initial", "loss_final", "lp_slack",
                     "lp_slack_relative", "lp_seconds", "r2", "mae", "r2_heldout", "mae_heldout", "cells",
                     "n_periods", "n_users", "n_providers"):
            setattr(self, name, getattr(r, name))
        size = T * n * m
        self.predicted = (_c_doubles(r.predicted, size) if r.predicted else np.full(size, np.nan)).reshape(T, n, m)
        self.predicted_heldout = (
            _c_doubles(r.predicted_heldout, size) if r.predicted_heldout else np.full(size, np.nan)
        ).reshape(T, n, m)
        self.progress = progress

    _free = "prillm_calibration_result_free"

    def close(self):
        super().close()
        self._obs = None

    @property
    def _c(self):
        if not self._ptr or self._obs is None or not self._obs._ptr:
            raise ValueError("the calibration result (or its observations) is closed")
        return self._ptr

    def market(self, period=-1):
        """The calibrated market of one period (prillm_calibration_market)."""
        res = self._c  # raises when closed
        t = range(self.n_periods)[period]
        out = _ffi.PrillmMarket_p()
        err = _ffi.PrillmError()
        rc = _ffi.lib().prillm_calibration_market(self._obs._c, t, res, ctypes.byref(out), ctypes.byref(err))
        check(rc, err)
        return Market(out)

    def diagnose(self):
        """prillm_calibration_diagnose: a dict stranded [m] bool, n_stranded,
        own_elasticity [m], implied_cost [m], paid, paid_nonnegative_cost."""
        res = self._c  # raises when closed
        d = _ffi.PrillmCalibrationDiagnostics()
        err = _ffi.PrillmError()
        L = _ffi.lib()
        check(L.prillm_calibration_diagnose(self._obs._c, res, ctypes.byref(d), ctypes.byref(err)), err)
        try:
            m = d.n_providers
            return {
                "stranded": np.ctypeslib.as_array(d.stranded, shape=(m,)).astype(bool) if m else np.zeros(0, bool),
                "n_stranded": d.n_stranded,
                "own_elasticity": _c_doubles(d.own_elasticity, m),
                "implied_cost": _c_doubles(d.implied_cost, m),
                "paid": d.paid,
                "paid_nonnegative_cost": d.paid_nonnegative_cost,
            }
        finally:
            L.prillm_calibration_diagnostics_free(ctypes.byref(d))

    def __repr__(self):
        return "<prillm.CalibrationResult %s %s: R2 %.4g, held-out R2 %.4g>" % (
            self.method,
            self.status,
            self.r2,
            self.r2_heldout,
        )


def calibrate(observations, **options):
    """Fit the apps' weights and the models' values to observed traffic
    (prillm_calibrate). options: the calibration option table as keywords
    (method="prillm"|"npm"|"noq"|"fd"|"xgboost"|"a2c", iterations,
    learning_rate, init, slack_weight, folds, seed, censoring, xgb_rounds,
    xgb_depth, verbose). Progress lines (verbose > 0) land in .progress."""
    st = _options.settings("calibration", options)
    progress, callback = _collect_warnings()
    out = ctypes.POINTER(_ffi.PrillmCalibrationResult)()
    err = _ffi.PrillmError()
    rc = _ffi.lib().prillm_calibrate(observations._c, ctypes.byref(st), callback, None,
                                      ctypes.byref(out), ctypes.byref(err))
    check(rc, err)
    try:
        return CalibrationResult(out, observations, progress)
    except BaseException:
        _ffi.lib().prillm_calibration_result_free(out)
        raise
