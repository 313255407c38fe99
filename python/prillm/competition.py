"""Price competition among leaders (prillm_compete): iterated exact best
responses, owners pricing their lines, and the certificate; see
docs/competition.md."""

import ctypes

from . import _ffi, _options
from ._errors import check


def _array(ptr, count):
    return [ptr[k] for k in range(count)] if ptr and count > 0 else []


def compete(market, leaders=None, **options):
    """The leaders' price equilibrium on `market` (a prillm.Market).

    leaders: provider ids or indices (None = every provider). Floors, caps
    and owners come from the market (price_min, price_max, owner). options
    are the compete option table's (prillm.options("compete")): order
    ("gauss-seidel" or "jacobi"), damping, max_rounds, time_limit,
    tolerance, certificate, ...

    Returns a dict: status ("converged", "cycle", "round_limit",
    "time_limit", "failed"), certified, exact, rounds, best_responses,
    equilibrium_solves, residual, seconds, max_gain_relative; prices,
    profits and flows of every provider at the final prices ({id: value});
    leaders, a list of dicts (id, group, price, price_min, price_max,
    deviation_price, gain, gain_relative); groups ({name: value}); and
    cycle, the leaders' prices round by round when the status is "cycle"
    (else []). Raises prillm.Error when the call fails.
    """
    st = _options.settings("compete", options)
    ids = market.provider_ids
    if leaders is None:
        chosen, n = None, 0
    else:
        idx = [market._provider(x) for x in leaders]
        n = len(idx)
        chosen = (ctypes.c_int * max(n, 1))(*idx)
    L = _ffi.lib()
    res = _ffi.PrillmCompeteResult()
    err = _ffi.PrillmError()
    rc = L.prillm_compete(market._c, chosen, n if chosen is not None else market.n_providers, ctypes.byref(st),
                          ctypes.byref(res), ctypes.byref(err))
    check(rc, err)
    try:
        m = res.n_providers
        price, profit, flow = _array(res.price, m), _array(res.profit, m), _array(res.flow, m)
        leader = _array(res.leader, res.n_leaders)
        group = _array(res.group, res.n_leaders)
        names = [res.group_name[g].decode() for g in range(res.n_groups)] if res.group_name else []
        fields = ("price_min", "price_max", "deviation_price", "gain", "gain_relative")
        columns = {f: _array(getattr(res, f), res.n_leaders) for f in fields}
        out = {
            "status": L.prillm_compete_status_name(res.status).decode(),
            "certified": bool(res.certified),
            "exact": bool(res.exact),
            "rounds": res.rounds,
            "best_responses": res.best_responses,
            "equilibrium_solves": res.equilibrium_solves,
            "residual": res.residual,
            "seconds": res.seconds,
            "max_gain_relative": res.max_gain_relative,
            "prices": dict(zip(ids, price)),
            "profits": dict(zip(ids, profit)),
            "flows": dict(zip(ids, flow)),
            "leaders": [
                dict({"id": ids[j], "group": names[group[k]] if names else None, "price": price[j]},
                     **{f: columns[f][k] for f in fields})
                for k, j in enumerate(leader)
            ],
            "groups": dict(zip(names, _array(res.group_value, res.n_groups))),
            "cycle": [
                _array(res.cycle, res.cycle_length * res.n_leaders)[r * res.n_leaders:(r + 1) * res.n_leaders]
                for r in range(res.cycle_length)
            ],
        }
    finally:
        L.prillm_compete_result_clear(ctypes.byref(res))
    return out
