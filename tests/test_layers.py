"""The rooms' import rules, checked in a fresh interpreter: the instrumentation (and the
``otel_bridge.trace`` decorator) stands on the OpenTelemetry API and the shared attribute
contracts alone, and importing any module of the package changes nothing in the process."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap

from tests.conftest import REPO_ROOT

# What the instrumentation must never bring in: the SDK and its exporters, the bridge's
# pipeline, settings, destinations and spool, an HTTP client, MLflow, LiteLLM itself.
FORBIDDEN = (
    "opentelemetry.sdk",
    "opentelemetry.exporter",
    "otel_bridge.pipeline",
    "otel_bridge.config",
    "otel_bridge.exporters",
    "otel_bridge.spool",
    "requests",
    "grpc",
    "mlflow",
    "litellm",
)


def _run(code: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO_ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _loaded_after(statement: str) -> list[str]:
    return _run(
        f"""
        import json, sys
        {statement}
        forbidden = {FORBIDDEN!r}
        print(json.dumps(sorted(
            m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in forbidden)
        )))
        """
    )


def test_the_instrumentation_loads_no_sdk_exporter_spool_requests_or_mlflow():
    assert _loaded_after("import otel_bridge.instrumentation") == []


def test_the_trace_decorator_from_the_top_level_loads_none_of_them_either():
    assert _loaded_after("from otel_bridge import trace") == []
    assert _loaded_after("import otel_bridge; otel_bridge.trace") == []


def test_the_instrumentor_entry_point_loads_none_of_them():
    """What ``opentelemetry-instrument`` does: load the ``opentelemetry_instrumentor`` entry."""
    statement = (
        "from importlib.metadata import EntryPoint; "
        "EntryPoint('litellm', 'otel_bridge.instrumentation:LiteLLMInstrumentor', "
        "'opentelemetry_instrumentor').load()"
    )
    assert _loaded_after(statement) == []


def test_the_top_level_is_lazy_and_still_serves_its_names():
    found = _run(
        """
        import json, sys
        import otel_bridge
        before = "otel_bridge.pipeline" in sys.modules
        names = [otel_bridge.configure.__name__, otel_bridge.Bridge.__name__,
                 otel_bridge.ConfigError.__name__, otel_bridge.trace.__name__]
        from otel_bridge.config import ConfigError
        print(json.dumps({"before": before, "names": names,
                          "same_error": otel_bridge.ConfigError is ConfigError}))
        """
    )
    assert found == {
        "before": False,
        "names": ["configure", "Bridge", "ConfigError", "trace"],
        "same_error": True,
    }


def test_importing_any_module_of_the_package_has_no_side_effect():
    """No log-record factory, tracer provider, signal handler or environment change at import
    (``otel-bridge run``'s ``sitecustomize`` exists to configure, and ``__main__`` to run: left
    out)."""
    found = _run(
        """
        import json, logging, os, pkgutil, signal, importlib
        from opentelemetry import trace
        import otel_bridge

        factory = logging.getLogRecordFactory()
        handler = signal.getsignal(signal.SIGTERM)
        environ = dict(os.environ)
        provider = trace.get_tracer_provider()
        imported = []
        for info in pkgutil.walk_packages(otel_bridge.__path__, "otel_bridge."):
            if info.name.endswith(("sitecustomize", "__main__")):
                continue
            importlib.import_module(info.name)
            imported.append(info.name)
        print(json.dumps({
            "imported": len(imported),
            "factory": logging.getLogRecordFactory() is factory,
            "sigterm": signal.getsignal(signal.SIGTERM) is handler,
            "environ": {k: v for k, v in os.environ.items() if environ.get(k) != v},
            "provider": trace.get_tracer_provider() is provider,
        }))
        """
    )
    assert found["imported"] > 40
    assert found["factory"] is True
    assert found["sigterm"] is True
    assert found["provider"] is True
    assert found["environ"] == {}


def test_log_scrubbing_is_installed_by_configure_not_by_import():
    found = _run(
        """
        import json, logging
        import otel_bridge.redaction
        untouched = logging.getLogRecordFactory() is logging.LogRecord
        otel_bridge.redaction.install_log_scrubbing()
        print(json.dumps({"untouched": untouched,
                          "installed": logging.getLogRecordFactory() is not logging.LogRecord}))
        """
    )
    assert found == {"untouched": True, "installed": True}


def test_the_spool_sits_below_the_destinations():
    """The destinations use the spool; the spool knows nothing of them (its own payload type and
    counting protocol), at run time and in its source (``TYPE_CHECKING`` imports too)."""
    loaded = _run(
        """
        import json, sys
        import otel_bridge.spool
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("otel_bridge."))))
        """
    )
    assert [m for m in loaded if m.startswith("otel_bridge.exporters")] == []
    assert "otel_bridge.spool.payload" in loaded
    imported = []
    for path in (REPO_ROOT / "otel_bridge" / "spool").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.append(node.module)
            elif isinstance(node, ast.Import):
                imported += [alias.name for alias in node.names]
    assert "otel_bridge.spool.payload" in imported
    assert [m for m in imported if m.startswith("otel_bridge.exporters")] == []
