"""Fixtures of the security tests: the instrumentation tests' in-memory exporter behind an
instrumented LiteLLM (``exporter``, ``provider``, ``instrument``), shared, not copied."""

from tests.instrumentation.conftest import exporter, instrument, provider

__all__ = ["exporter", "instrument", "provider"]
