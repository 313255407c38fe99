"""Private: the lifetime plumbing shared by the classes that hold C objects."""

from . import _ffi


class _Closable:
    """close() in a with block."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Owner(_Closable):
    """Owns one C object in self._ptr: close() frees it with the library
    function named _free (idempotent), as do a with block and garbage
    collection; _c is the pointer, a ValueError "<_what> is closed" once
    closed."""

    _free = None  # name of the prillm_*_free / _cleanup function
    _what = None  # "the market", ... for the closed error

    def close(self):
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr:
            getattr(_ffi.lib(), self._free)(ptr)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    @property
    def _c(self):
        if not self._ptr:
            raise ValueError("%s is closed" % self._what)
        return self._ptr
