"""Shared fixtures: the repository, the command-line tool, the data."""

import json
import os
import subprocess

import pytest

import prillm

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_MARKET = os.path.join(REPO, "data", "default_market.json")


def _cli_path():
    """The prillm command built from the same sources: $PRILLM_CLI, else next
    to the loaded library, else the checkout's build/prillm."""
    env = os.environ.get("PRILLM_CLI")
    if env:
        return env
    for path in (os.path.join(os.path.dirname(prillm.library_path()), "prillm"), os.path.join(REPO, "build", "prillm")):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def default_market_path():
    if not os.path.isfile(DEFAULT_MARKET):
        pytest.skip("data/default_market.json not found (tests run from a source checkout)")
    return DEFAULT_MARKET


@pytest.fixture(scope="session")
def cli():
    """Run the command line: cli("equilibrium", path) -> parsed JSON stdout."""
    path = _cli_path()
    if not path:
        pytest.skip("the prillm command is not built (set PRILLM_CLI or build build/prillm)")

    def run(*args, parse=True):
        proc = subprocess.run([path, *args], capture_output=True, text=True, cwd=REPO)
        assert proc.returncode == 0, "prillm %s failed (%d): %s" % (" ".join(args), proc.returncode, proc.stderr)
        return json.loads(proc.stdout) if parse else proc.stdout

    return run


@pytest.fixture(scope="session")
def openrouter_dir():
    path = os.environ.get("PRILLM_OPENROUTER_DATA") or os.path.join(REPO, "..", "shared", "data", "openrouter")
    if not (os.path.isfile(os.path.join(path, "models.csv")) and os.path.isfile(os.path.join(path, "flows.csv"))):
        pytest.skip("OpenRouter data not found at %s (set PRILLM_OPENROUTER_DATA)" % path)
    return os.path.abspath(path)


def nums(values):
    """JSON numbers (null -> NaN) as floats."""
    import numpy as np

    return np.array([np.nan if v is None else v for v in values], dtype=float)
