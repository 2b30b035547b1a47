"""Put first on PYTHONPATH by ``otel-bridge run``: configures the bridge at start-up."""

import importlib.machinery
import importlib.util
import os
import sys


def _configure() -> None:
    try:
        import otel_bridge

        otel_bridge.configure()
    except Exception as error:  # never stop the application from starting
        sys.stderr.write(f"otel-bridge: tracing is OFF in this process: {error}\n")


def _run_next_sitecustomize() -> None:
    """Keep the sitecustomize this one shadows (a virtualenv's, a distro's) working."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


_run_next_sitecustomize()
_configure()
