"""Overhead and throughput benchmarks of otel-bridge against bare LiteLLM and its peers.

``python -m benchmarks --help``; see ``benchmarks/README.md``.
"""
