"""The package's version: the one place it is written (``pyproject.toml`` reads it from here;
the tracers and meters report it as their scope's version). Imports nothing."""

__version__ = "0.1.0"
