"""The library is pinned to PRILLM_BLAS_THREADS (default 1) OpenBLAS threads
when it loads, as the command line is, so Python prints the same numbers
whatever OPENBLAS_NUM_THREADS says (OpenBLAS splits some sums between its
threads; unpinned, a 3000 x 300 equilibrium differs in the last digits
between 1 and 2 threads on a 2-core machine)."""

import os
import subprocess
import sys

import pytest

import prillm

SOLVE = r"""
import hashlib, sys
import prillm
m = prillm.Market.random(3000, 300, seed=3)
eq = prillm.equilibrium(m)
print(prillm.set_blas_threads(1), hashlib.sha256(eq.flows.tobytes()).hexdigest(), repr(float(eq.flows.sum())))
"""


def _run(code, **env):
    full = dict(os.environ)
    full.pop("PRILLM_BLAS_THREADS", None)
    full.update(env)
    here = os.path.dirname(os.path.dirname(os.path.abspath(prillm.__file__)))
    full["PYTHONPATH"] = here + os.pathsep + full.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full)


def test_pinned_on_load_whatever_openblas_says():
    out = {}
    for threads in ("1", "2"):
        proc = _run(SOLVE, OPENBLAS_NUM_THREADS=threads)
        assert proc.returncode == 0, proc.stderr
        pinned, digest, total = proc.stdout.split()
        assert pinned == "1", "OPENBLAS_NUM_THREADS=%s: the library ran with %s threads, not the pinned 1" % (
            threads,
            pinned,
        )
        out[threads] = (digest, total)
    assert out["1"] == out["2"], "the same equilibrium differs between OPENBLAS_NUM_THREADS 1 and 2"


def test_environment_sets_the_pin():
    proc = _run("import prillm; prillm.library_version(); print(prillm.set_blas_threads(1))", PRILLM_BLAS_THREADS="2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["2"]


@pytest.mark.parametrize("bad", ["zero", "0", "-1", "1025", " 2", "1.5"])
def test_bad_environment_names_the_variable(bad):
    proc = _run("import prillm; prillm.library_version()", PRILLM_BLAS_THREADS=bad)
    assert proc.returncode != 0
    assert "PRILLM_BLAS_THREADS" in proc.stderr and "INVALID_ARGUMENT" in proc.stderr, proc.stderr


def test_set_blas_threads_returns_the_count_before():
    before = prillm.set_blas_threads(2)
    try:
        assert before >= 1
        assert prillm.set_blas_threads(before) == 2
    finally:
        prillm.set_blas_threads(before)


@pytest.mark.parametrize("bad", [0, -3, 1.5, "2", True, None])
def test_set_blas_threads_rejects_non_counts(bad):
    with pytest.raises(prillm.Error) as info:
        prillm.set_blas_threads(bad)
    assert info.value.code_name == "INVALID_ARGUMENT"
