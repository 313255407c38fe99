"""Finding libprillm.so: $PRILLM_LIBRARY, next to the package, the build
tree, the system loader; a clear error listing where it looked."""

import os
import subprocess
import sys

import prillm
from prillm import _loader


def run_python(code, env):
    # the same prillm as this process (installed or the source folder)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(prillm.__file__)))
    env = dict(env, PYTHONPATH=package_parent + os.pathsep + env.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd="/")


def test_env_var_wins_and_a_bad_one_is_an_error():
    env = dict(os.environ, PRILLM_LIBRARY=prillm.library_path())
    out = run_python("import prillm; print(prillm.library_path())", env)
    assert out.returncode == 0 and out.stdout.strip() == prillm.library_path()
    env["PRILLM_LIBRARY"] = "/nonexistent/libprillm.so"
    out = run_python("import prillm; prillm.library_version()", env)
    assert out.returncode != 0
    assert "PRILLM_LIBRARY=/nonexistent/libprillm.so cannot be loaded" in out.stderr


def test_error_lists_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.delenv("PRILLM_LIBRARY", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(_loader, "_checkouts", lambda: [str(tmp_path)])
    monkeypatch.setattr(_loader.ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(_loader, "__file__", str(tmp_path / "pkg" / "_loader.py"))
    try:
        _loader.load_library()
    except OSError as e:
        text = str(e)
    else:
        raise AssertionError("expected OSError")
    assert "Looked at" in text
    assert str(tmp_path / "pkg" / "libprillm.so") in text
    assert str(tmp_path / "build" / "libprillm.so") in text
    assert 'find_library("prillm")' in text and "PRILLM_LIBRARY" in text


def test_build_tree_and_next_to_package(monkeypatch, tmp_path):
    monkeypatch.delenv("PRILLM_LIBRARY", raising=False)
    monkeypatch.setattr(_loader.ctypes.util, "find_library", lambda name: None)
    repo = tmp_path / "repo"
    (repo / "include" / "prillm").mkdir(parents=True)
    (repo / "include" / "prillm" / "prillm.h").write_text("")
    (repo / "build").mkdir()
    os.symlink(prillm.library_path(), repo / "build" / "libprillm.so")
    monkeypatch.chdir(repo)
    monkeypatch.setattr(_loader, "__file__", str(tmp_path / "site" / "prillm" / "_loader.py"))
    path, _ = _loader.load_library()
    assert path == str(repo / "build" / "libprillm.so")
    (tmp_path / "site" / "prillm").mkdir(parents=True)
    os.symlink(prillm.library_path(), tmp_path / "site" / "prillm" / "libprillm.so")
    path, _ = _loader.load_library()
    assert path == str(tmp_path / "site" / "prillm" / "libprillm.so")


def test_a_function_the_library_lacks_raises_unavailable():
    from prillm import _ffi

    stub = _ffi._unavailable("/some/libprillm.so", "prillm_predict")
    try:
        stub(b"{}", 2, b"dir", 0, None, None, None, None)
    except prillm.Error as e:
        assert e.code_name == "UNAVAILABLE" and "prillm_predict" in e.message
    else:
        raise AssertionError("expected prillm.Error")
    # the library under test exports everything the package wraps
    assert _ffi.lib().missing == []
