"""Single-leader Stackelberg pricing (include/prillm/pricing.h)."""

import ctypes
import math
import os

import numpy as np

from . import _ffi, _loader, _options
from ._errors import Error, check
from .equilibrium import _status

SEGMENT_DTYPE = np.dtype(
    [("from", "f8"), ("to", "f8"), ("flow", "f8"), ("flow_slope", "f8"), ("best_price", "f8"), ("best_profit", "f8")]
)
BREAKPOINT_DTYPE = np.dtype([("price", "f8"), ("user", "i4"), ("provider", "i4"), ("enters", "?")])

_NUMBERS = [
    "price", "profit", "flow", "current_price", "current_profit", "current_flow", "uplift", "uplift_relative",
    "cost", "p_max", "model_profit", "kkt_violation", "curve_residual", "iterations", "equilibrium_solves",
    "exact_profit", "profit_ratio", "method_seconds", "seconds", "walked_fraction", "bound_solves",
]


class PriceResult:
    """What prillm.price returns (plain data).

    status           "solved", "inaccurate" or "failed"
    method, target   the method's name and the target's id (target_index: its index)
    price, profit, flow        in the true game at the returned price
    current_price, current_profit, current_flow   the market as given
    uplift, uplift_relative    profit - current_profit (and / current_profit)
    cost, p_max, model_profit, kkt_violation, curve_residual, iterations,
    equilibrium_solves, exact_profit, profit_ratio, method_seconds, seconds
    walked_fraction, bound_solves   exact: the share of the range walked (1:
                     the whole curve; less when pruned, the default above 50
                     app x model pairs) and the equilibrium solves that
                     certified the rest below the optimum
    warnings         the library's warnings in plain words (list of str)
    warning_names    their short names ("far_above", "sells_nothing", ...)
    segments         exact only: numpy structured array, one row per piece of
                     the profit curve, fields from, to, flow (at from),
                     flow_slope, best_price, best_profit (empty otherwise)
    breakpoints      exact only: structured array price, user, provider
                     (indexes into user_ids / provider_ids), enters (bool)
    """

    def __init__(self, r, market_ids):
        self.status = _status(r.status)
        L = _ffi.lib()
        self.method = L.prillm_price_method_name(r.method).decode()
        self.target_index = r.target
        self.user_ids, self.provider_ids = market_ids
        self.target = self.provider_ids[r.target]
        for name in _NUMBERS:
            setattr(self, name, getattr(r, name))
        self.warnings_mask = r.warnings
        self.warnings, self.warning_names = [], []
        buf = ctypes.create_string_buffer(512)
        for bit in _ffi.PRICE_WARN_BITS:
            if r.warnings & bit:
                self.warnings.append(L.prillm_price_warning_text(ctypes.byref(r), bit, buf, 512).decode())
                self.warning_names.append(L.prillm_price_warning_name(bit).decode())
        self.segments = np.zeros(r.n_segments, dtype=SEGMENT_DTYPE)
        for k in range(r.n_segments):
            g = r.segments[k]
            self.segments[k] = (getattr(g, "from"), g.to, g.flow_from, g.flow_slope, g.best_price, g.best_profit)
        self.breakpoints = np.zeros(r.n_breakpoints, dtype=BREAKPOINT_DTYPE)
        for k in range(r.n_breakpoints):
            b = r.breakpoints[k]
            self.breakpoints[k] = (b.price, b.user, b.provider, bool(b.enters))

    def profit_curve(self, prices):
        """The exact profit (price - cost) * F(price) at the given prices,
        from the segments (exact method only). NaN at a price no segment
        covers: a gap of a pruned curve (the default above 50 app x model
        pairs; prune=0 walks the whole range), or outside [0, p_max]."""
        if self.segments.size == 0:
            raise Error(1, "the profit curve exists only for method exact")
        p = np.asarray(prices, dtype=np.float64)
        s = self.segments
        k = np.clip(np.searchsorted(s["to"], p, side="left"), 0, s.size - 1)
        flow = s["flow"][k] + s["flow_slope"][k] * (p - s["from"][k])
        covered = (s["from"][k] <= p) & (p <= s["to"][k])
        cost = 0.0 if math.isnan(self.cost) else self.cost
        out = np.where(covered, (p - cost) * flow, np.nan)
        return out[()] if out.ndim == 0 else out  # a scalar for a scalar, as before

    def __repr__(self):
        return "<prillm.PriceResult %s %s: price %.6g, profit %.6g (current %.6g at %.6g)>" % (
            self.method,
            self.status,
            self.price,
            self.profit,
            self.current_profit,
            self.current_price,
        )


def _default_model():
    for repo in _loader._checkouts():
        path = os.path.join(repo, "data", "aggregator", "default_model.json")
        if os.path.isfile(path):
            return path
    return None


def _read_aggregator(path):
    L = _ffi.lib()
    stream = L.libc.fopen(os.fsencode(path), b"rb")
    if not stream:
        raise Error(4, "cannot open %s: %s" % (path, os.strerror(ctypes.get_errno())))
    model = ctypes.c_void_p()
    err = _ffi.PrillmError()
    try:
        rc = L.prillm_aggregator_read_json(stream, ctypes.byref(model), ctypes.byref(err))
    finally:
        L.libc.fclose(stream)
    check(rc, err)
    return model


def price(market, target, method="exact", *, compare=False, model=None, **options):
    """The target's profit-maximising price when the apps answer every price
    with their equilibrium (prillm_price).

    target    provider index or id
    method    "exact" (the global optimum and its profit curve: walked whole
              up to 50 app x model pairs, above that only where it can hold
              the optimum unless prune=0), or a
              baseline: grid, bf, spiter, pmpec, smooth, odca, spgce, da, min, avg
    compare   also price the true market exactly (exact_profit, profit_ratio)
    model     da only: the trained aggregation network's JSON file (default:
              data/aggregator/default_model.json of the source checkout)
    options   the price option table as keywords: pmax, grid_points,
              start_price, tolerance, bf_max_patterns, epsilon, time_limit,
              max_pieces, k, prune, verbose, ... (validated by the library)
    Returns a PriceResult; raises prillm.Error when the call fails.
    """
    options = dict(options)
    options["method"] = method
    st = _options.settings("price", options)
    st.compare = 1 if compare else 0
    k = market._provider(target)
    L = _ffi.lib()
    agg = None
    if st.method == _ffi.PRICE_DA:
        path = model or _default_model()
        if not path:
            raise Error(1, "method da needs the trained aggregation network: pass model=PATH")
        agg = _read_aggregator(path)
        st.model = agg
    elif model is not None:
        raise Error(1, "model is for method da")
    result = _ffi.PrillmPriceResult()
    err = _ffi.PrillmError()
    try:
        rc = L.prillm_price(market._c, k, ctypes.byref(st), ctypes.byref(result), ctypes.byref(err))
        check(rc, err)
        try:
            return PriceResult(result, (market.user_ids, market.provider_ids))
        finally:
            L.prillm_price_result_clear(ctypes.byref(result))
    finally:
        if agg:
            L.prillm_aggregator_free(agg)


def profit_at(market, target, price):
    """The true game at one price (prillm_price_profit_at): a dict profit,
    flow, kkt_violation."""
    k = market._provider(target)
    profit, flow, kkt = ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
    err = _ffi.PrillmError()
    rc = _ffi.lib().prillm_price_profit_at(
        market._c, k, float(price), ctypes.byref(profit), ctypes.byref(flow), ctypes.byref(kkt), ctypes.byref(err)
    )
    check(rc, err)
    return {"profit": profit.value, "flow": flow.value, "kkt_violation": kkt.value}


def default_pmax(market, target):
    """A price at which the target surely carries no traffic (NaN without rivals)."""
    return _ffi.lib().prillm_price_default_pmax(market._c, market._provider(target))


_EXPLAIN_WRITERS = {"html", "md", "json", "svg"}


def explain(market, target, format="html", method="exact", *, compare=False, model=None, **options):
    """The analyst's report on the target's price (prillm_explain, then its
    writer), as text: "html" (one self-contained page), "md" (Markdown, the
    curve embedded as SVG), "json" (every number; json.loads it) or "svg"
    (the profit curve alone). docs/explain.md says what each section means.

    method, compare, model and the price options (pmax, k, ...) are those of
    price(); the report's own options are sensitivities, step, breakpoints
    and far_below (prillm.options("explain")). Raises prillm.Error when the
    call fails.
    """
    if format not in _EXPLAIN_WRITERS:
        raise ValueError("format must be one of %s, got %r" % (", ".join(sorted(_EXPLAIN_WRITERS)), format))
    options = dict(options)
    options["method"] = method
    st = _options.settings("explain", options)
    st.price.compare = 1 if compare else 0
    k = market._provider(target)
    L = _ffi.lib()
    agg = None
    if st.price.method == _ffi.PRICE_DA:
        path = model or _default_model()
        if not path:
            raise Error(1, "method da needs the trained aggregation network: pass model=PATH")
        agg = _read_aggregator(path)
        st.price.model = agg
    elif model is not None:
        raise Error(1, "model is for method da")
    result = _ffi.PrillmExplainResult()
    err = _ffi.PrillmError()
    try:
        rc = L.prillm_explain(market._c, k, ctypes.byref(st), ctypes.byref(result), ctypes.byref(err))
        check(rc, err)
        ref = ctypes.byref(result)
        try:
            if format == "md":
                return _ffi.write_to_string(lambda out, e: L.prillm_explain_write_markdown(market._c, ref, None, out, e))
            write = {"html": L.prillm_explain_write_html, "json": L.prillm_explain_write_json,
                     "svg": L.prillm_explain_write_svg}[format]
            return _ffi.write_to_string(lambda out, e: write(market._c, ref, out, e))
        finally:
            L.prillm_explain_result_clear(ref)
    finally:
        if agg:
            L.prillm_aggregator_free(agg)
