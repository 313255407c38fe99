"""Keyword arguments -> the library's option tables.

Each keyword becomes one prillm_X_set_option(settings, name, text) call: the
name with '_' turned into '-' (tolerance, max_rounds -> max-rounds, pmax), the
value as text (floats in their shortest exact form, True/False as 1/0). So the
library validates every value and its error text is what you get.
"""

import ctypes

from . import _ffi
from ._errors import check

_KINDS = {
    "equilibrium": ("prillm_equilibrium_options", "prillm_equilibrium_set_option", "prillm_equilibrium_default_settings",
                    _ffi.PrillmEquilibriumSettings),
    "price": ("prillm_price_options", "prillm_price_set_option", "prillm_price_default_settings",
              _ffi.PrillmPriceSettings),
    "calibration": ("prillm_calibration_options", "prillm_calibration_set_option",
                    "prillm_calibration_default_settings", _ffi.PrillmCalibrationSettings),
    "fit": ("prillm_fit_options", "prillm_fit_set_option", "prillm_fit_default_settings", _ffi.PrillmFitSettings),
    "compete": ("prillm_compete_options", "prillm_compete_set_option", "prillm_compete_default_settings",
                _ffi.PrillmCompeteSettings),
    # the explain-only options; prillm_explain_set_option also takes every price option
    "explain": ("prillm_explain_options", "prillm_explain_set_option", "prillm_explain_default_settings",
                _ffi.PrillmExplainSettings),
}

_TYPES = {_ffi.OPTION_DOUBLE: "double", _ffi.OPTION_INT: "int", _ffi.OPTION_CHOICE: "choice"}


def option_text(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if hasattr(value, "item"):  # numpy scalars
        return option_text(value.item())
    return str(value)


def settings(kind, options):
    """Default settings of `kind` with every keyword of `options` applied."""
    table, setter, defaults, struct = _KINDS[kind]
    L = _ffi.lib()
    st = struct()
    getattr(L, defaults)(ctypes.byref(st))
    set_fn = getattr(L, setter)
    for name, value in options.items():
        err = _ffi.PrillmError()
        rc = set_fn(ctypes.byref(st), name.replace("_", "-").encode(), option_text(value).encode(), ctypes.byref(err))
        check(rc, err)
    return st


def describe(kind):
    """The option table of `kind` ("equilibrium", "price", "calibration",
    "fit"): a list of dicts name, keyword, type, default, min, max, choices,
    help."""
    if kind not in _KINDS:
        raise ValueError("unknown option table %r (one of %s)" % (kind, ", ".join(sorted(_KINDS))))
    L = _ffi.lib()
    count = ctypes.c_int()
    info = getattr(L, _KINDS[kind][0])(ctypes.byref(count))
    out = []
    for k in range(count.value):
        o = info[k]
        choices = o.choices.decode().split("|") if o.choices else None
        default = o.default_value
        if o.type == _ffi.OPTION_CHOICE:
            default = choices[int(default)]
        elif o.type == _ffi.OPTION_INT:
            default = int(default)
        out.append(
            {
                "name": o.name.decode(),
                "keyword": o.name.decode().replace("-", "_"),
                "type": _TYPES.get(o.type, "?"),
                "default": default,
                "min": o.min_value,
                "max": o.max_value,
                "choices": choices,
                "help": o.help.decode() if o.help else "",
            }
        )
    return out
