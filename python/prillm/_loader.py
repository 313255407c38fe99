"""Find and load libprillm.so.

Order (the first that exists wins):
  1. the PRILLM_LIBRARY environment variable: the full path of the library
     (an error if it is set but the file cannot be loaded: no silent fallback);
  2. libprillm.so next to this package (a wheel or an install that bundles it);
  3. build/libprillm.so of a source checkout: the repository that holds this
     package (python/prillm/ inside it), then the current directory and its
     parents (any folder with include/prillm/prillm.h);
  4. the system loader: ctypes.util.find_library("prillm") (ldconfig's cache,
     LD_LIBRARY_PATH), e.g. after `cmake --install`.
"""

import ctypes
import ctypes.util
import os

ENV = "PRILLM_LIBRARY"
SONAME = "libprillm.so"


def _checkouts():
    """Source checkouts this package may run from, nearest first."""
    seen = []
    starts = [os.path.dirname(os.path.abspath(__file__)), os.getcwd()]
    for start in starts:
        d = start
        while True:
            if os.path.isfile(os.path.join(d, "include", "prillm", "prillm.h")) and d not in seen:
                seen.append(d)
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
    return seen


def candidates():
    """(description, path) of every place looked at, in order."""
    out = []
    env = os.environ.get(ENV)
    if env:
        out.append(("$" + ENV, env))
    here = os.path.dirname(os.path.abspath(__file__))
    out.append(("next to the package", os.path.join(here, SONAME)))
    for repo in _checkouts():
        out.append(("build tree", os.path.join(repo, "build", SONAME)))
    return out


def load_library():
    """Return (path, ctypes.CDLL); raise OSError naming every place tried."""
    tried = []
    env = os.environ.get(ENV)
    if env:
        try:
            return env, ctypes.CDLL(env)
        except OSError as e:
            raise OSError("%s=%s cannot be loaded: %s" % (ENV, env, e)) from None
    for what, path in candidates():
        if what.startswith("$"):
            continue
        if os.path.isfile(path):
            try:
                return path, ctypes.CDLL(path)
            except OSError as e:
                tried.append("%s (%s): %s" % (path, what, e))
                continue
        tried.append("%s (%s): not found" % (path, what))
    found = ctypes.util.find_library("prillm")
    if found:
        try:
            return found, ctypes.CDLL(found)
        except OSError as e:
            tried.append("%s (system loader): %s" % (found, e))
    else:
        tried.append('ctypes.util.find_library("prillm") (system loader): not found')
    raise OSError(
        "cannot find the prillm shared library (libprillm.so). Looked at:\n  "
        + "\n  ".join(tried)
        + "\nSet %s to its full path, build it (cmake --build build), or install it." % ENV
    )
