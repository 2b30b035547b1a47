"""Span exporters and the wrappers each destination's pipeline is built from.

Nothing here imports LiteLLM: exporters move spans, whatever made them.
"""
