"""prillm: prices LLM services with a data-calibrated Stackelberg routing game.

Python bindings (ctypes, no compiled extension) over the C library
libprillm.so; see docs/python.md. Units as in the C library: prices, values,
costs and affinities in USD per million tokens; demands, capacities and flows
in millions of tokens per period; delays in seconds.
"""

from ._errors import Error
from .competition import compete
from .calibration import CalibrationResult, Observations, calibrate, read_observations, synthetic_observations
from .elasticity import ElasticityResult, elasticity_estimate
from .equilibrium import Equilibrium, Solver, certify, equilibrium
from .market import Market
from .model import FitResult, Prediction, fit_openrouter, predict, price_jacobian
from .pricing import PriceResult, default_pmax, explain, price, profit_at

__version__ = "0.1.0"

__all__ = [
    "Error",
    "Market",
    "Equilibrium",
    "Solver",
    "equilibrium",
    "certify",
    "PriceResult",
    "price",
    "profit_at",
    "default_pmax",
    "explain",
    "compete",
    "price_jacobian",
    "Observations",
    "read_observations",
    "synthetic_observations",
    "CalibrationResult",
    "calibrate",
    "FitResult",
    "fit_openrouter",
    "Prediction",
    "predict",
    "ElasticityResult",
    "elasticity_estimate",
    "options",
    "library_version",
    "library_path",
    "has_component",
    "set_blas_threads",
]


def options(kind):
    """The option table of "equilibrium", "price", "calibration", "fit",
    "compete" or "explain" (the report's own options; it also takes every
    price option):
    a list of dicts name, keyword, type, default, min, max, choices, help.
    Every keyword argument of the solvers is one of these (keyword form)."""
    from ._options import describe

    return describe(kind)


def library_version():
    """The version of the loaded libprillm ("0.1.0")."""
    from ._ffi import lib

    return lib().prillm_version().decode()


def library_path():
    """Where the loaded libprillm.so came from."""
    from ._ffi import lib

    return lib().path


def has_component(name):
    """Whether the library was built with an optional component ("glpk",
    "xgboost", "ipopt", "openmp"); True for builds that predate optional
    components (they have every one)."""
    from ._ffi import lib

    fn = lib().prillm_has_component
    return True if fn is None else bool(fn(name.encode()))


def set_blas_threads(threads):
    """Set how many threads OpenBLAS uses for the library's dense algebra;
    returns the count before. The library is pinned to PRILLM_BLAS_THREADS
    (default 1) when it loads, as the command line is: OpenBLAS splits some
    sums between its threads, so the last digits of a solve depend on the
    count. threads must be an integer >= 1."""
    from ._ffi import lib

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise Error(1, "threads must be an integer >= 1, got %r" % (threads,))
    fn = lib().prillm_set_blas_threads
    if fn is None:
        raise Error(8, "%s does not export prillm_set_blas_threads" % lib().path)
    return int(fn(int(min(threads, 1 << 30))))
