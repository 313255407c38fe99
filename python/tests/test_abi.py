"""The ctypes mirrors match the C structs: every field's offset and every
struct's size, measured by a small C program compiled against the headers
(skipped without a C compiler or the headers), plus known values read back."""

import ctypes
import os
import shutil
import subprocess

import pytest

import prillm
from prillm import _ffi, _options


def include_dirs(repo):
    dirs = [os.path.join(repo, "include")]
    lib_dir = os.path.dirname(prillm.library_path())
    dirs += [os.path.join(lib_dir, "include"), os.path.join(repo, "build", "include")]  # generated headers, if any
    return [d for d in dirs if os.path.isdir(d)]


def test_layout_matches_headers(repo, tmp_path):
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler to measure the structs")
    if not os.path.isfile(os.path.join(repo, "include", "prillm", "prillm.h")):
        pytest.skip("the C headers are not available")
    lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "prillm/prillm.h"',
             '#include "prillm/market_model.h"', "int main(void) {"]
    expected = []
    for cls, cname in _ffi.C_NAMES.items():
        lines.append('printf("%%zu\\n", sizeof(%s));' % cname)
        expected.append(("sizeof(%s)" % cname, ctypes.sizeof(cls)))
        for field, _ in cls._fields_:
            lines.append('printf("%%zu\\n", offsetof(%s, %s));' % (cname, field))
            expected.append(("%s.%s" % (cname, field), getattr(cls, field).offset))
    lines.append("return 0; }")
    src = tmp_path / "abi.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "abi"
    cmd = [cc, "-std=c11", "-o", str(exe), str(src)] + ["-I" + d for d in include_dirs(repo)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    measured = [int(x) for x in subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()]
    assert len(measured) == len(expected)
    wrong = ["%s: C %d, ctypes %d" % (name, c, py) for (name, py), c in zip(expected, measured) if c != py]
    assert not wrong, "\n".join(wrong)


def test_known_defaults_read_back():
    # fields read through the mirrors equal the option tables' defaults
    for kind in ("equilibrium", "price", "calibration", "fit"):
        st = _options.settings(kind, {})
        table = {o["name"].replace("-", "_"): o for o in prillm.options(kind)}
        for field, _ in type(st)._fields_:
            key = {"p_max": "pmax"}.get(field, field)
            if key not in table:
                continue
            o = table[key]
            value = getattr(st, field)
            if o["type"] == "choice":
                assert o["choices"][value] == o["default"], (kind, field)
            else:
                assert value == o["default"], (kind, field)


def test_price_result_fields_line_up(default_market_path):
    market = prillm.Market.from_file(default_market_path)
    r = market.price(1, prune=0)  # the whole curve
    # the target and the current price come from different parts of the struct
    assert r.target_index == 1 and r.current_price == market.prices[1]
    assert r.segments["from"][0] == 0.0 and r.segments["to"][-1] == r.p_max
    assert r.cost == (0.0 if market.costs[1] != market.costs[1] else market.costs[1])
