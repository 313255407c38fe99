"""The apps' equilibrium traffic split (include/prillm/equilibrium.h)."""

import ctypes

import numpy as np

from . import _ffi, _options
from ._errors import Error, check
from ._owner import _Owner
from .market import _c_doubles

_EQ_METHODS = {0: "exact", 1: "gauss-seidel", 2: "ipopt"}


def _status(code):
    return _ffi.lib().prillm_status_name(int(code)).decode()


class Equilibrium:
    """An equilibrium traffic split (plain data: numpy arrays and numbers).

    flows          [n, m] Mtok per period, user i to provider j
    provider_flow  [m]    F_j
    lambda_        [n]    marginal cost of each user's last token (also .multipliers)
    status         "solved", "inaccurate", ... (the solver's verdict)
    method         "exact", "gauss-seidel" or "ipopt"
    kkt_violation, demand_residual, potential, iterations, sweeps,
    active_pairs, seconds: the certificate (PrillmEquilibriumInfo)
    user_ids, provider_ids: the market's, in the same order
    """

    def __init__(self, sol, method, user_ids, provider_ids):
        n, m = sol.n_users, sol.n_providers
        self.flows = _c_doubles(sol.flows, n * m).reshape(n, m)
        self.provider_flow = _c_doubles(sol.provider_flow, m)
        self.lambda_ = _c_doubles(getattr(sol, "lambda"), n)
        info = sol.info
        self.status = _status(info.status)
        self.method = method
        self.kkt_violation = info.kkt_violation
        self.demand_residual = info.demand_residual
        self.potential = info.potential
        self.iterations = info.iterations
        self.sweeps = info.sweeps
        self.active_pairs = info.active_pairs
        self.seconds = info.seconds
        self.user_ids = user_ids
        self.provider_ids = provider_ids

    @property
    def multipliers(self):
        return self.lambda_

    def __repr__(self):
        return "<prillm.Equilibrium %s, kkt_violation %.3g, %d active pairs>" % (
            self.status,
            self.kkt_violation,
            self.active_pairs,
        )


class Solver(_Owner):
    """An equilibrium solver kept across price changes (setup once, then
    update_price + solve warm-starts from the last answer).

        with prillm.Solver(market, tolerance=1e-12) as s:
            eq = s.solve()
            s.update_price("openai/gpt-5", 2.0)
            eq2 = s.solve()

    Options are the equilibrium option table (prillm.options("equilibrium")).
    """

    _free = "prillm_equilibrium_cleanup"
    _what = "the solver"

    def __init__(self, market, **options):
        st = _options.settings("equilibrium", options)
        self._method = _EQ_METHODS.get(st.method, str(st.method))
        self._market = market
        self._user_ids = market.user_ids
        self._provider_ids = market.provider_ids
        self._ptr = ctypes.c_void_p()
        err = _ffi.PrillmError()
        rc = _ffi.lib().prillm_equilibrium_setup(ctypes.byref(self._ptr), market._c, ctypes.byref(st), ctypes.byref(err))
        if rc:
            self._ptr = None
            check(rc, err)

    def solve(self):
        """Solve; returns an Equilibrium (a copy: it outlives the solver)."""
        err = _ffi.PrillmError()
        L = _ffi.lib()
        check(L.prillm_equilibrium_solve(self._c, ctypes.byref(err)), err)
        return Equilibrium(L.prillm_equilibrium_solution(self._c).contents, self._method, self._user_ids, self._provider_ids)

    def update_price(self, provider, price):
        """Change one provider's price (index or id)."""
        k = self._market._provider(provider)
        err = _ffi.PrillmError()
        check(_ffi.lib().prillm_equilibrium_update_price(self._c, k, float(price), ctypes.byref(err)), err)


def equilibrium(market, **options):
    """The users' unique equilibrium traffic split at the market's prices.

    options: the equilibrium option table, as keywords (method="exact" |
    "gauss-seidel" | "ipopt", tolerance=1e-10, max_rounds=..., presweeps,
    max_sweeps, time_limit, verbose); validated by the library.
    """
    with Solver(market, **options) as s:
        return s.solve()


def certify(market, flows):
    """The certificate of any flows [n, m] for the market
    (prillm_equilibrium_certify): a dict kkt_violation, demand_residual,
    potential, active_pairs, lambda_."""
    n, m = market.shape
    f = np.ascontiguousarray(flows, dtype=np.float64)
    if f.shape != (n, m):
        raise Error(1, "flows has shape %s but the market has %d users x %d providers" % (f.shape, n, m))
    lam = np.empty(n)
    info = _ffi.PrillmEquilibriumInfo()
    err = _ffi.PrillmError()
    rc = _ffi.lib().prillm_equilibrium_certify(
        market._c,
        f.ctypes.data_as(_ffi.c_double_p),
        lam.ctypes.data_as(_ffi.c_double_p),
        ctypes.byref(info),
        ctypes.byref(err),
    )
    check(rc, err)
    return {
        "kkt_violation": info.kkt_violation,
        "demand_residual": info.demand_residual,
        "potential": info.potential,
        "active_pairs": info.active_pairs,
        "lambda_": lam,
    }
