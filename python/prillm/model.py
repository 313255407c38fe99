"""The whole-market model: price Jacobian, fit and predict
(include/prillm/market_model.h)."""

import ctypes
import os

import numpy as np

from . import _ffi, _options
from ._errors import Error, check
from ._owner import _Closable
from .elasticity import ElasticityResult
from .equilibrium import _status
from .market import Market, _c_doubles, _collect_warnings

FORWARD_DTYPE = np.dtype(
    [("name", "U48"), ("elasticity", "f8"), ("segments", "i4"), ("r2", "f8"), ("r2_log", "f8"),
     ("median_abs_log_error", "f8"), ("r2_changed", "f8"), ("cells", "i8"), ("changed_cells", "i8")]
)
HELDOUT_DTYPE = np.dtype([("shrinkage", "f8"), ("r2", "f8"), ("r2_log", "f8"), ("cells", "i8")])


def _ints(ptr, count):
    return np.array([ptr[k] for k in range(count)], dtype=np.int64) if count else np.empty(0, dtype=np.int64)


def _flags(ptr, count):
    if count == 0 or not ptr:
        return np.zeros(count, dtype=bool)
    return np.ctypeslib.as_array(ptr, shape=(count,)).astype(bool)


def price_jacobian(market, columns=None):
    """dF_k/dp_j at the market's equilibrium, exact on its active set
    (prillm_market_price_jacobian).

    Returns J with J[k, j] = dF_k / dp_j: row k is provider k's flow, column
    j the price moved. Total demand is fixed, so every column sums to ~0 and
    the diagonal (own-price derivatives) is <= 0. With columns (indexes or
    ids), only those prices: shape (m, len(columns)).
    """
    m = market.n_providers
    if columns is None:
        cols, n_cols, which = None, 0, list(range(m))
    else:
        which = [market._provider(c) for c in columns]
        cols, n_cols = (ctypes.c_int * max(len(which), 1))(*which), len(which)
    # the C library writes one row of m per requested price, in the order
    # asked: buffer[q*m + k] = dF_k/dp_(columns[q]) (all m prices without columns)
    buf = np.full(max(len(which), 1) * m, np.nan)
    err = _ffi.PrillmError()
    rc = _ffi.lib().prillm_market_price_jacobian(market._c, cols, n_cols, buf.ctypes.data_as(_ffi.c_double_p),
                                                  ctypes.byref(err))
    check(rc, err)
    rows = buf[: len(which) * m].reshape(len(which), m)
    return np.ascontiguousarray(rows.T)


class FitResult(_Closable):
    """prillm_fit_openrouter's answer (plain data; the C result is freed).

    status, market (a prillm.Market you own: the calibrated whole market),
    n_apps (users 0..n_apps-1 are apps, then the rest-of-market tiers, then
    one rest-of-market user per non-chat service class), segments,
    class_users, service_class [m] (0 chat, 1 input-only, 2 media), floor [m]
    (the price floor of the model's class), tier_edge, tier [m], elasticity,
    shrinkage,
    observed_flow, own_elasticity, implied_cost, throughput, latency,
    prompt_share, kappa [m], diversion_to [m, 3] (-1 = none), diversion [m, 3],
    entry_coef [6], entry_kappa, imputed [m] bool, settings (dict),
    max_total_error, max_cell_error, kkt_violation, stranded,
    forward (structured array: name, elasticity, segments, r2, r2_log,
    median_abs_log_error, r2_changed, cells, changed_cells), forward_days,
    heldout (structured: shrinkage, r2, r2_log, cells), listed_cells,
    dropped_models, measured (ElasticityResult or None), measured_model [m]
    (index into measured.models, -1 = none), seconds, warnings,
    calibrated_json (the market with its "calibration" object: what predict
    reads, prillm_fit_write_market), report_json (prillm_fit_write_json).
    """

    def __init__(self, r, ptr, warnings):
        L = _ffi.lib()
        mk = r.market.contents
        m = mk.n_providers
        self.status = _status(r.status)
        self.n_apps = r.n_apps
        self.segments = r.segments
        self.tier_edge = np.array(r.tier_edge[: max(r.segments, 0)])
        self.tier = _ints(r.tier, m) if r.tier else np.zeros(0, dtype=np.int64)
        self.class_users = r.class_users
        self.service_class = _ints(r.service_class, m) if r.service_class else np.zeros(m, dtype=np.int64)
        self.floor = _c_doubles(r.floor, m) if r.floor else np.full(m, np.nan)
        self.elasticity = r.elasticity
        self.shrinkage = r.shrinkage
        for name in ("observed_flow", "own_elasticity", "implied_cost", "throughput", "latency", "prompt_share", "kappa"):
            p = getattr(r, name)
            setattr(self, name, _c_doubles(p, m) if p else np.full(m, np.nan))
        self.diversion_to = _ints(r.diversion_to, 3 * m).reshape(m, 3) if r.diversion_to else np.full((m, 3), -1)
        self.diversion = _c_doubles(r.diversion, 3 * m).reshape(m, 3) if r.diversion else np.full((m, 3), np.nan)
        self.entry_coef = np.array(r.entry_coef[:])
        self.entry_kappa = r.entry_kappa
        self.settings = {f: getattr(r.settings, f) for f, _ in _ffi.PrillmFitSettings._fields_}
        self.imputed = _flags(r.imputed, m)
        for name in ("max_total_error", "max_cell_error", "kkt_violation", "stranded", "forward_days", "listed_cells",
                     "dropped_models", "seconds"):
            setattr(self, name, getattr(r, name))
        self.forward = np.zeros(r.n_forward, dtype=FORWARD_DTYPE)
        for k in range(r.n_forward):
            s = r.forward[k]
            self.forward[k] = (s.name.decode(), s.elasticity, s.segments, s.r2, s.r2_log, s.median_abs_log_error,
                               s.r2_changed, s.cells, s.changed_cells)
        self.heldout = np.zeros(r.n_heldout, dtype=HELDOUT_DTYPE)
        for k in range(r.n_heldout):
            s = r.heldout[k]
            self.heldout[k] = (s.shrinkage, s.r2, s.r2_log, s.cells)
        self.measured = ElasticityResult(r.measured) if r.have_measured else None
        self.measured_model = _ints(r.measured_model, m) if r.measured_model else np.full(m, -1)
        self.warnings = warnings
        try:
            self.calibrated_json = _ffi.write_to_string(
                lambda stream, err: L.prillm_fit_write_market(stream, ptr, err))
        except Error as e:
            if e.code != 8:  # UNAVAILABLE: a library without prillm_fit_write_market
                raise
            self.calibrated_json = None
        self.report_json = _ffi.write_to_string(lambda stream, err: L.prillm_fit_write_json(stream, ptr))
        err = _ffi.PrillmError()
        copy = L.prillm_market_copy(r.market, ctypes.byref(err))
        if not copy:
            check(err.code or 5, err)
        self.market = Market(copy)

    def close(self):
        """Free the calibrated market now (else when garbage collected)."""
        self.market.close()

    def __repr__(self):
        return "<prillm.FitResult %s: %d apps + %d tiers x %d models, elasticity %.3g>" % (
            self.status,
            self.n_apps,
            self.segments,
            len(self.observed_flow),
            self.elasticity,
        )


def fit_openrouter(data_dir, **options):
    """Calibrate the whole market in the OpenRouter tables (prillm fit).

    options: the fit option table as keywords (fit_end, fit_days,
    forward_end, flow_date, snapshot_start, snapshot_end, price, elasticity,
    price_floor, shrinkage, segments, entry_quality, classes, max_models,
    max_apps, verbose).
    Returns a FitResult; the assumptions the data forced are in .warnings.
    """
    st = _options.settings("fit", options)
    warnings, callback = _collect_warnings()
    L = _ffi.lib()
    out = ctypes.POINTER(_ffi.PrillmFitResult)()
    err = _ffi.PrillmError()
    rc = L.prillm_fit_openrouter(os.fsencode(data_dir), ctypes.byref(st), callback, None, ctypes.byref(out),
                                 ctypes.byref(err))
    check(rc, err)
    try:
        return FitResult(out.contents, out, warnings)
    finally:
        L.prillm_fit_result_free(out)


class Prediction(_Closable):
    """prillm_predict's answer (plain data).

    status, market (a prillm.Market you own: the period's market), flows
    [n, m], provider_flow [m] (Mtok/day), entrant [m], carried [m], new_app
    [n], app_carried [n] (bool arrays), scale, kkt_violation, date (yyyymmdd),
    warnings, user_ids, provider_ids.
    """

    def __init__(self, r, warnings):
        L = _ffi.lib()
        mk = r.market.contents
        n, m = mk.n_users, mk.n_providers
        self.status = _status(r.status)
        self.flows = _c_doubles(r.flows, n * m).reshape(n, m)
        self.provider_flow = _c_doubles(r.provider_flow, m)
        self.entrant = _flags(r.entrant, m)
        self.carried = _flags(r.carried, m)
        self.new_app = _flags(r.new_app, n)
        self.app_carried = _flags(r.app_carried, n)
        self.scale = r.scale
        self.kkt_violation = r.kkt_violation
        self.date = r.date
        self.warnings = warnings
        err = _ffi.PrillmError()
        copy = L.prillm_market_copy(r.market, ctypes.byref(err))
        if not copy:
            check(err.code or 5, err)
        self.market = Market(copy)
        self.user_ids = self.market.user_ids
        self.provider_ids = self.market.provider_ids

    def close(self):
        self.market.close()

    def __repr__(self):
        return "<prillm.Prediction %s %d: %d apps x %d models>" % ((self.status, self.date) + self.flows.shape)


def _date(date):
    if date is None:
        return 0
    if isinstance(date, int):
        return date
    if hasattr(date, "year"):
        return date.year * 10000 + date.month * 100 + date.day
    text = str(date).replace("-", "")
    if len(text) != 8 or not text.isdigit():
        raise Error(1, "date %r is not YYYY-MM-DD" % (date,))
    return int(text)


def predict(calibrated, data_dir, date=None):
    """Predict a period's flows on a calibrated whole market (prillm predict).

    calibrated  a FitResult, the calibrated market's JSON text, or the path
                of a file written by `prillm fit --out`
    data_dir    the period's data (OpenRouter or generic layout)
    date        "YYYY-MM-DD", yyyymmdd int, a datetime.date, or None (the
                data's last priced date)
    """
    if isinstance(calibrated, FitResult):
        if calibrated.calibrated_json is None:
            raise Error(8, "this libprillm cannot write the calibrated market (no prillm_fit_write_market)")
        text = calibrated.calibrated_json.encode("utf-8")
    elif isinstance(calibrated, (bytes, bytearray)):
        text = bytes(calibrated)
    elif isinstance(calibrated, str) and calibrated.lstrip().startswith("{"):
        text = calibrated.encode("utf-8")
    else:
        try:
            with open(os.fspath(calibrated), "rb") as f:
                text = f.read()
        except OSError as e:
            raise Error(4, "cannot read %s: %s" % (calibrated, e.strerror or e)) from None
    warnings, callback = _collect_warnings()
    L = _ffi.lib()
    out = ctypes.POINTER(_ffi.PrillmPrediction)()
    err = _ffi.PrillmError()
    rc = L.prillm_predict(text, len(text), os.fsencode(data_dir), _date(date), callback, None, ctypes.byref(out),
                          ctypes.byref(err))
    check(rc, err)
    try:
        return Prediction(out.contents, warnings)
    finally:
        L.prillm_prediction_free(out)
