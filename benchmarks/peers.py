"""``benchmarks/.venv-peers``: the peers, installed for the benchmark only.

The venv sees the project's own venv (the same LiteLLM, OpenTelemetry, MLflow and otel-bridge,
so every row runs on the same versions) through a ``.pth`` line, and gets only the peers and
their missing dependencies installed into itself from ``requirements-peers.txt``. The project's
venv is never written to.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS_VENV = HERE / ".venv-peers"
REQUIREMENTS = HERE / "requirements-peers.txt"
_MARKER = "otel-bridge-benchmarks.pth"


def peers_python(venv: Path = PEERS_VENV) -> Path:
    return venv / "bin" / "python"


def _site_packages(python: Path | str) -> str:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def ensure_peers_venv(venv: Path = PEERS_VENV, base_python: str | None = None) -> Path:
    """Create (or update) the peers' venv; returns its python. Idempotent."""
    base_python = base_python or sys.executable
    python = peers_python(venv)
    if not python.exists():
        subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    project_site = sysconfig.get_paths()["purelib"] if base_python == sys.executable else None
    project_site = project_site or _site_packages(base_python)
    pth = Path(_site_packages(python)) / _MARKER
    # addsitedir also runs the project venv's own .pth files (the editable otel-bridge install)
    pth.write_text(f"import site; site.addsitedir({project_site!r})\n")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
        check=True,
        env=env,
    )
    return python


def missing_peers(python: Path | str) -> list[str]:
    """The peer modes whose package ``python`` cannot import."""
    probes = {
        "openinference": "openinference.instrumentation.litellm",
        "openllmetry": "opentelemetry.instrumentation.litellm",
        "util_genai": "opentelemetry.util.genai.handler",
        "litellm_otel": "litellm.integrations.opentelemetry",
        "mlflow_autolog": "mlflow.litellm",
    }
    missing = []
    for mode, module in probes.items():
        done = subprocess.run(
            [str(python), "-c", f"import importlib.util as u; import {module}"],
            capture_output=True,
            env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
            timeout=120,
        )
        if done.returncode != 0:
            missing.append(mode)
    return missing
