"""Fixtures of the security tests: the instrumentation tests' in-memory exporter behind an
instrumented LiteLLM (``exporter``, ``provider``, ``instrument``, run with content serialised
during the call and in the exporter's thread), shared, not copied."""

from tests.instrumentation.conftest import content_registry, exporter, instrument, provider

__all__ = ["content_registry", "exporter", "instrument", "provider"]
