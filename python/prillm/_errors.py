"""prillm.Error: a failed call, with the library's code and message."""


class Error(Exception):
    """A prillm call failed.

    code       the library's PrillmErrorCode (int), e.g. 3
    code_name  its symbolic name, e.g. "INVALID_DATA"
    message    the library's message, naming the field and index
               (e.g. "providers[0].capacity must be > 0, got -1")
    """

    def __init__(self, code, message):
        from ._ffi import ERROR_NAMES

        self.code = int(code)
        self.code_name = ERROR_NAMES.get(self.code, "UNKNOWN")
        self.message = message
        super().__init__("%s (%s)" % (message, self.code_name))


def check(rc, err):
    """Raise Error if rc is not PRILLM_OK; err is a PrillmError (or a pointer
    to one, or a byref of one)."""
    if rc == 0:
        return
    raise error_from(rc, err)


def error_from(rc, err):
    from ._ffi import lib

    e = getattr(err, "_obj", err)  # byref(...) -> the structure
    if hasattr(e, "contents"):
        e = e.contents
    message = e.message.decode("utf-8", "replace") if e is not None else ""
    if not message:
        message = lib().prillm_error_text(int(rc)).decode()
    return Error(rc, message)
