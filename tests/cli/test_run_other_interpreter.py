"""`otel-bridge run -- python app.py` where that `python` is not the one otel-bridge is installed
for: the app still runs, and one line says which interpreter lacks the bridge and what to do."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.apps import REPO_ROOT, base_env

# The `otel-bridge` command, run with this worktree's code and no PYTHONPATH: the app's
# interpreter then finds otel_bridge only where the test puts it.
WRAPPER = [
    sys.executable,
    "-c",
    f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); "
    "from otel_bridge.cli import main; sys.exit(main(sys.argv[1:]))",
]
APP = "print('app ran')"


def _pyenv_root() -> Path | None:
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    done = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
    return Path(done.stdout.strip()) if done.returncode == 0 else None


def _other_python() -> str | None:
    """A Python 3.10+ of another minor version than this one (pyenv's), if there is one."""
    root = _pyenv_root()
    if root is None:
        return None
    this = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in sorted(root.glob("versions/3.*/bin/python")):
        version = candidate.parent.parent.name
        minor = int(version.split(".")[1]) if version.count(".") >= 1 else 0
        if minor >= 10 and not version.startswith(this + "."):
            return str(candidate)
    return None


OTHER_PYTHON = _other_python()
needs_other_python = pytest.mark.skipif(
    OTHER_PYTHON is None, reason="no other Python 3.10+ interpreter (pyenv) on this machine"
)


def _env(**extra: str) -> dict[str, str]:
    """base_env() puts this checkout on PYTHONPATH; here the app finds otel_bridge only where
    the test says."""
    env = {k: v for k, v in base_env().items() if k != "PYTHONPATH"}
    return {**env, **extra}


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    assert OTHER_PYTHON is not None
    return subprocess.run(
        [*WRAPPER, "run", "--", OTHER_PYTHON, "-c", APP],
        cwd=tmp_path,
        env=_env(OTEL_TRACES_EXPORTER="console", **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@needs_other_python
def test_an_interpreter_without_the_bridge_is_named_with_the_way_out(tmp_path):
    assert OTHER_PYTHON is not None
    probe = subprocess.run(
        [OTHER_PYTHON, "-c", "import otel_bridge"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
    )
    if probe.returncode == 0:
        pytest.skip(f"{OTHER_PYTHON} can import otel_bridge")

    done = _run(tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "app ran"
    assert done.stderr.splitlines() == [
        f"otel-bridge: tracing is OFF: {OTHER_PYTHON} cannot import otel_bridge (otel-bridge is "
        f"installed for {sys.executable}); install it there (`{OTHER_PYTHON} -m pip install "
        f"otel-bridge`) or run the app with {sys.executable}"
    ]


@needs_other_python
def test_a_missing_dependency_is_named_too(tmp_path):
    """A source checkout on PYTHONPATH: otel_bridge imports, OpenTelemetry does not."""
    done = _run(tmp_path, PYTHONPATH=str(REPO_ROOT))

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "app ran"
    [line] = done.stderr.splitlines()
    # the first dependency the interpreter lacks (wrapt, opentelemetry, ...), named as such
    assert re.match(
        rf"otel-bridge: tracing is OFF: {re.escape(OTHER_PYTHON)} cannot import \w+, which "
        rf"otel_bridge needs \(otel-bridge is installed for {re.escape(sys.executable)}\)",
        line,
    ), line
    assert line.endswith(f"or run the app with {sys.executable}")
