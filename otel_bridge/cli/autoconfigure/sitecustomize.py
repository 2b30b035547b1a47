"""Put first on PYTHONPATH by ``otel-bridge run``: configures the bridge at start-up."""

import importlib.machinery
import importlib.util
import os
import sys

# Set by `otel-bridge run` to the interpreter it runs on (otel_bridge.cli.run.RUN_PYTHON_VAR;
# spelled out here because this file must work where otel_bridge cannot be imported).
_RUN_PYTHON_VAR = "OTEL_BRIDGE_RUN_PYTHON"


def _configure() -> None:
    try:
        import otel_bridge

        # the package's top level is lazy: a missing dependency shows up here
        otel_bridge.configure()
    except ImportError as error:  # never stop the application from starting
        sys.stderr.write(_cannot_import(error) + "\n")
    except Exception as error:
        sys.stderr.write(f"otel-bridge: tracing is OFF in this process: {error}\n")


def _cannot_import(error: ImportError) -> str:
    """One line: which interpreter lacks the bridge, and the two ways out."""
    here = sys.executable or "this Python"
    name = error.name if isinstance(error, ModuleNotFoundError) and error.name else None
    if name is None:
        what = f"otel_bridge ({error})"
    elif name.split(".")[0] == "otel_bridge":
        what = name
    else:
        what = f"{name}, which otel_bridge needs"
    line = f"otel-bridge: tracing is OFF: {here} cannot import {what}"
    wrapper = os.environ.get(_RUN_PYTHON_VAR, "")
    # Not realpath: a virtualenv's python is a symlink to the very binary it does not share.
    elsewhere = bool(wrapper) and os.path.abspath(wrapper) != os.path.abspath(here)
    if elsewhere:
        line += f" (otel-bridge is installed for {wrapper})"
    line += f"; install it there (`{here} -m pip install otel-bridge`)"
    if elsewhere:
        line += f" or run the app with {wrapper}"
    return line


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
