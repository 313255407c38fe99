"""prillm.Market: a PrillmMarket owned by Python."""

import ctypes
import os

import numpy as np

from . import _ffi
from ._errors import Error, check
from ._owner import _Owner

_INVALID_ARGUMENT = 1


def _c_doubles(ptr, count):
    """A copy of count doubles at ptr as a numpy array."""
    if count == 0:
        return np.empty(0)
    return np.ctypeslib.as_array(ptr, shape=(count,)).copy()


def _c_strings(ptr, count):
    return [ptr[k].decode("utf-8") if ptr[k] is not None else None for k in range(count)]


def _put_doubles(ptr, values, count):
    a = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    assert a.size == count
    if count:
        ctypes.memmove(ptr, a.ctypes.data, count * 8)


def _put_strings(ptr, strings):
    L = _ffi.lib()
    raw = ctypes.cast(ptr, ctypes.POINTER(ctypes.c_void_p))
    for k, s in enumerate(strings):
        b = bytes(s) if isinstance(s, (bytes, bytearray)) else str(s).encode("utf-8")
        if b"\0" in b:
            raise Error(_INVALID_ARGUMENT, "id %r contains a NUL character" % (s,))
        copy = L.libc.strdup(b)
        if not copy:
            raise MemoryError("strdup failed")
        raw[k] = copy


def _collect_warnings():
    """(list, callback) pair: the callback appends the library's warnings."""
    warnings = []

    def warn(_context, message):
        warnings.append(message.decode("utf-8", "replace") if message else "")

    return warnings, _ffi.WarnFn(warn)


class Market(_Owner):
    """A market: providers (models), users (apps) and the weights of the
    users' cost (docs/market-format.md). Owns its C object; free it with
    close() or a with block (it is also freed when garbage collected).

    Build one with Market.from_file, Market.from_json, Market.from_arrays or
    Market.random. Attributes are numpy copies: changing them changes
    nothing; use replace(...) for a changed market.
    """

    def __init__(self, pointer, warnings=None):
        """Take ownership of a PrillmMarket * (internal: use the from_* builders)."""
        if not pointer:
            raise ValueError("NULL market")
        self._ptr = pointer
        self.warnings = list(warnings or [])

    # ---- lifetime ---------------------------------------------------------

    _free = "prillm_market_free"
    _what = "the market"

    def close(self):
        """Free the C market (idempotent)."""
        super().close()

    @property
    def closed(self):
        return not self._ptr

    @property
    def _s(self):
        return self._c.contents

    # ---- builders ---------------------------------------------------------

    @classmethod
    def from_json(cls, text):
        """Parse and validate a market from JSON text (str or bytes).
        Warnings (unknown keys, delays filled from latency) land in .warnings."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        warnings, callback = _collect_warnings()
        out = _ffi.PrillmMarket_p()
        err = _ffi.PrillmError()
        rc = _ffi.lib().prillm_market_parse_json(data, len(data), callback, None, ctypes.byref(out), ctypes.byref(err))
        check(rc, err)
        return cls(out, warnings)

    @classmethod
    def from_binary(cls, data):
        """Read the compact binary form (docs/market-format.md, "Binary
        form"; prillm convert, to_binary) from bytes, with the C library's
        reader: the checksum, every length and the market are checked
        (prillm.Error PARSE names the field of a truncated or corrupted
        file, INVALID_DATA that of an invalid market)."""
        data = bytes(data)
        out = _ffi.PrillmMarket_p()
        err = _ffi.PrillmError()
        rc = _ffi.lib().prillm_market_parse_binary(data, len(data), ctypes.byref(out), ctypes.byref(err))
        check(rc, err)
        return cls(out)

    @classmethod
    def from_bytes(cls, data):
        """A market in either form, told apart by the binary form's magic
        bytes (prillm_market_parse): the binary reader or the JSON one."""
        data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        warnings, callback = _collect_warnings()
        out = _ffi.PrillmMarket_p()
        err = _ffi.PrillmError()
        rc = _ffi.lib().prillm_market_parse(data, len(data), callback, None, ctypes.byref(out), ctypes.byref(err))
        check(rc, err)
        return cls(out, warnings)

    @staticmethod
    def is_binary(data):
        """True when data (bytes) starts with the binary form's magic bytes."""
        data = bytes(data)
        return bool(_ffi.lib().prillm_market_is_binary(data, len(data)))

    @classmethod
    def from_file(cls, path):
        """Read a market file: JSON or the binary form (prillm convert), told
        apart by the binary form's magic bytes."""
        try:
            with open(os.fspath(path), "rb") as f:
                data = f.read()
        except OSError as e:
            raise Error(4, "cannot read %s: %s" % (path, e.strerror or e)) from None
        return cls.from_bytes(data)

    @classmethod
    def random(cls, n_users, n_providers, seed=1):
        """prillm_market_random: a reproducible random market."""
        err = _ffi.PrillmError()
        ptr = _ffi.lib().prillm_market_random(int(n_users), int(n_providers), int(seed), ctypes.byref(err))
        if not ptr:
            check(err.code or 5, err)
        return cls(ptr)

    @classmethod
    def from_arrays(
        cls,
        prices,
        capacities,
        values,
        demands,
        delay=None,
        *,
        latency=None,
        costs=None,
        affinity=None,
        provider_ids=None,
        user_ids=None,
        w_price=1.0,
        w_congestion=1.0,
        w_delay=1.0,
    ):
        """A market from numpy arrays (m providers, n users):

        prices, capacities, values   [m]
        demands                      [n]
        delay                        [n, m] seconds; NaN entries are filled
                                     from latency; None: every row = latency
        latency, costs               [m] or None (NaN = not given)
        affinity                     [n, m] or None (zeros)
        provider_ids, user_ids       lists of unique strings (default
                                     "provider-0", ..., "user-0", ...)
        w_price, w_congestion, w_delay  the weights of the users' cost

        The result is validated by the library (prillm_market_validate), so
        a bad value raises prillm.Error naming it (providers[0].capacity ...).
        """
        prices = np.asarray(prices, dtype=np.float64).reshape(-1)
        demands = np.asarray(demands, dtype=np.float64).reshape(-1)
        m, n = prices.size, demands.size

        def vector(name, a, size, what):
            if a is None:
                return np.full(size, np.nan)
            a = np.asarray(a, dtype=np.float64)
            if a.ndim != 1 or a.size != size:
                raise Error(_INVALID_ARGUMENT, "%s has shape %s but there are %d %s" % (name, a.shape, size, what))
            return a

        def matrix(name, a):
            a = np.asarray(a, dtype=np.float64)
            if a.shape != (n, m):
                raise Error(
                    _INVALID_ARGUMENT,
                    "%s has shape %s but the market has %d users x %d providers" % (name, a.shape, n, m),
                )
            return a

        capacities = vector("capacities", capacities, m, "providers")
        values = vector("values", values, m, "providers")
        latency = vector("latency", latency, m, "providers")
        costs = vector("costs", costs, m, "providers")
        if delay is None:
            if np.isnan(latency).any():
                raise Error(_INVALID_ARGUMENT, "delay is missing, so every provider needs a latency")
            delay = np.broadcast_to(latency, (n, m))
        delay = np.array(matrix("delay", delay), dtype=np.float64)
        holes = np.isnan(delay)
        if holes.any():
            fill = np.broadcast_to(latency, (n, m))
            bad = holes & np.isnan(fill)
            if bad.any():
                i, j = map(int, np.argwhere(bad)[0])
                raise Error(
                    _INVALID_ARGUMENT, "delay[%d][%d] is missing and providers[%d] has no latency to fill it" % (i, j, j)
                )
            delay[holes] = fill[holes]
        affinity = np.zeros((n, m)) if affinity is None else matrix("affinity", affinity)
        provider_ids = ["provider-%d" % j for j in range(m)] if provider_ids is None else list(provider_ids)
        user_ids = ["user-%d" % i for i in range(n)] if user_ids is None else list(user_ids)
        if len(provider_ids) != m:
            raise Error(_INVALID_ARGUMENT, "provider_ids has %d entries but there are %d providers" % (len(provider_ids), m))
        if len(user_ids) != n:
            raise Error(_INVALID_ARGUMENT, "user_ids has %d entries but there are %d users" % (len(user_ids), n))
        if m == 0 or n == 0:
            raise Error(3, "the market needs at least one provider and one user (got %d and %d)" % (m, n))

        L = _ffi.lib()
        err = _ffi.PrillmError()
        ptr = L.prillm_market_alloc(n, m, ctypes.byref(err))
        if not ptr:
            check(err.code or 5, err)
        try:
            s = ptr.contents
            s.w_price, s.w_congestion, s.w_delay = float(w_price), float(w_congestion), float(w_delay)
            _put_strings(s.provider_id, provider_ids)
            _put_strings(s.user_id, user_ids)
            _put_doubles(s.price, prices, m)
            _put_doubles(s.capacity, capacities, m)
            _put_doubles(s.value, values, m)
            _put_doubles(s.cost, costs, m)
            _put_doubles(s.latency, latency, m)
            _put_doubles(s.demand, demands, n)
            _put_doubles(s.delay, delay, n * m)
            _put_doubles(s.affinity, affinity, n * m)
            err = _ffi.PrillmError()
            check(L.prillm_market_validate(ptr, ctypes.byref(err)), err)
        except BaseException:
            L.prillm_market_free(ptr)
            raise
        return cls(ptr)

    def replace(self, **changes):
        """A new market with some arrays replaced: the keywords of
        from_arrays (prices=..., affinity=..., w_congestion=...)."""
        arrays = dict(
            prices=self.prices,
            capacities=self.capacities,
            values=self.values,
            demands=self.demands,
            delay=self.delay,
            latency=self.latency,
            costs=self.costs,
            affinity=self.affinity,
            provider_ids=self.provider_ids,
            user_ids=self.user_ids,
            w_price=self.w_price,
            w_congestion=self.w_congestion,
            w_delay=self.w_delay,
        )
        unknown = set(changes) - set(arrays)
        if unknown:
            raise TypeError("replace() got unknown field(s): %s" % ", ".join(sorted(unknown)))
        arrays.update(changes)
        return Market.from_arrays(**arrays)

    def copy(self):
        err = _ffi.PrillmError()
        ptr = _ffi.lib().prillm_market_copy(self._c, ctypes.byref(err))
        if not ptr:
            check(err.code or 5, err)
        return Market(ptr)

    def subset(self, users=None, providers=None):
        """The market restricted to some users and providers (indexes or ids,
        in the order given; None keeps all)."""

        def indexes(items, lookup, what):
            if items is None:
                return None, 0
            idx = []
            for it in items:
                if isinstance(it, str):
                    k = lookup(it)
                    if k < 0:
                        raise Error(_INVALID_ARGUMENT, "no %s %r in the market" % (what, it))
                    idx.append(k)
                else:
                    idx.append(int(it))
            return (ctypes.c_int * max(len(idx), 1))(*idx), len(idx)

        u, nu = indexes(users, self.user_index, "user")
        p, np_ = indexes(providers, self.provider_index, "provider")
        err = _ffi.PrillmError()
        ptr = _ffi.lib().prillm_market_subset(self._c, u, nu, p, np_, ctypes.byref(err))
        if not ptr:
            check(err.code or 1, err)
        return Market(ptr)

    # ---- output -----------------------------------------------------------

    def to_json(self):
        """The market as JSON text (prillm_market_write_json: reads back exactly)."""
        L = _ffi.lib()
        return _ffi.write_to_string(lambda stream, err: L.prillm_market_write_json(self._c, stream, err))

    def to_binary(self):
        """The market in the compact binary form, as bytes
        (prillm_market_write_binary: every double bit for bit, CRC-32)."""
        L = _ffi.lib()
        return _ffi.write_to_bytes(lambda stream, err: L.prillm_market_write_binary(self._c, stream, err))

    def to_file(self, path, binary=False):
        """Write the market to path: JSON, or with binary=True the compact
        binary form (which from_file and every prillm command read too)."""
        if binary:
            data = self.to_binary()
            with open(os.fspath(path), "wb") as f:
                f.write(data)
            return
        with open(os.fspath(path), "w", encoding="utf-8") as f:
            f.write(self.to_json())

    def validate(self):
        """Raise prillm.Error if the market is not valid (it always is when
        built by this package)."""
        err = _ffi.PrillmError()
        check(_ffi.lib().prillm_market_validate(self._c, ctypes.byref(err)), err)

    # ---- attributes -------------------------------------------------------

    @property
    def n_users(self):
        return self._s.n_users

    @property
    def n_providers(self):
        return self._s.n_providers

    @property
    def shape(self):
        """(n_users, n_providers)"""
        return (self._s.n_users, self._s.n_providers)

    @property
    def w_price(self):
        return self._s.w_price

    @property
    def w_congestion(self):
        return self._s.w_congestion

    @property
    def w_delay(self):
        return self._s.w_delay

    @property
    def weights(self):
        """(w_price, w_congestion, w_delay)"""
        s = self._s
        return (s.w_price, s.w_congestion, s.w_delay)

    @property
    def provider_ids(self):
        s = self._s
        return _c_strings(s.provider_id, s.n_providers)

    @property
    def user_ids(self):
        s = self._s
        return _c_strings(s.user_id, s.n_users)

    def _vec(self, name, users=False):
        s = self._s
        return _c_doubles(getattr(s, name), s.n_users if users else s.n_providers)

    def _mat(self, name):
        s = self._s
        return _c_doubles(getattr(s, name), s.n_users * s.n_providers).reshape(s.n_users, s.n_providers)

    prices = property(lambda self: self._vec("price"), doc="[m] USD/Mtok")
    capacities = property(lambda self: self._vec("capacity"), doc="[m] Mtok per period")
    values = property(lambda self: self._vec("value"), doc="[m] perceived value, USD/Mtok")
    costs = property(lambda self: self._vec("cost"), doc="[m] marginal cost, NaN = not given")
    latency = property(lambda self: self._vec("latency"), doc="[m] seconds, NaN = not given")
    demands = property(lambda self: self._vec("demand", users=True), doc="[n] Mtok per period")
    delay = property(lambda self: self._mat("delay"), doc="[n, m] seconds")
    affinity = property(lambda self: self._mat("affinity"), doc="[n, m] USD/Mtok")

    def provider_index(self, provider_id):
        """Index of the provider with this id, or -1."""
        return _ffi.lib().prillm_market_provider_index(self._c, provider_id.encode("utf-8"))

    def user_index(self, user_id):
        return _ffi.lib().prillm_market_user_index(self._c, user_id.encode("utf-8"))

    def _provider(self, target):
        """A provider index from an index or an id (prillm.Error if neither)."""
        if isinstance(target, str):
            k = self.provider_index(target)
            if k < 0:
                ids = self.provider_ids
                raise Error(
                    _INVALID_ARGUMENT,
                    'no provider "%s" in the market (%d providers, e.g. "%s")' % (target, len(ids), ids[0] if ids else ""),
                )
            return k
        k = int(target)
        if not 0 <= k < self.n_providers:
            raise Error(_INVALID_ARGUMENT, "provider index %d out of range (0..%d)" % (k, self.n_providers - 1))
        return k

    # ---- solvers (shortcuts) ----------------------------------------------

    def equilibrium(self, **options):
        """prillm.equilibrium(self, **options)"""
        from .equilibrium import equilibrium

        return equilibrium(self, **options)

    def price(self, target, method="exact", **options):
        """prillm.price(self, target, method, **options)"""
        from .pricing import price

        return price(self, target, method=method, **options)

    def price_jacobian(self, columns=None):
        """prillm.price_jacobian(self, columns)"""
        from .model import price_jacobian

        return price_jacobian(self, columns)

    def __repr__(self):
        if not self._ptr:
            return "<prillm.Market closed>"
        return "<prillm.Market %d users x %d providers>" % self.shape
