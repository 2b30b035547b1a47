"""Fast, never-raising reads of fields from LiteLLM's response objects, dicts and plain objects.

LiteLLM keeps many response fields in pydantic's ``__pydantic_extra__`` and deletes unset ones;
``getattr`` then goes through pydantic's ``__getattr__`` (about 0.6 µs, and 1.5 µs with an
exception when missing). Reading the dictionaries directly costs a few tens of nanoseconds; a
per-class cache tells when a miss there means the field is simply absent.
"""

from __future__ import annotations

from typing import Any

_MISSING: Any = object()
_CACHE_LIMIT = 4096
_absent_means_none: dict[tuple[type, str], bool] = {}


def _decide(cls: type, name: str) -> bool:
    """True when ``name`` missing from an instance's ``__dict__``/extras means it is absent."""
    if any(name in vars(klass) for klass in cls.__mro__):
        return False  # a property, slot or class attribute: ask getattr
    if getattr(cls, "__pydantic_fields__", None) is not None:
        return True  # pydantic's __getattr__ serves only extras and private attributes
    return not any("__getattr__" in vars(klass) for klass in cls.__mro__ if klass is not object)


def field(obj: Any, name: str) -> Any:
    """``obj.name`` / ``obj[name]``, or None when absent. Never raises for ordinary objects."""
    if obj is None:
        return None
    cls = type(obj)
    if cls is dict:
        return obj.get(name)
    try:
        values = obj.__dict__
    except AttributeError:
        values = None
    if values is not None:
        value = values.get(name, _MISSING)
        if value is not _MISSING:
            return value
    try:
        extra = getattr(obj, "__pydantic_extra__", None) if values is not None else None
    except Exception:  # a __getattr__ that raises something else than AttributeError
        return None
    if extra:
        value = extra.get(name, _MISSING)
        if value is not _MISSING:
            return value
    if isinstance(obj, dict):
        return obj.get(name)
    if values is not None:
        key = (cls, name)
        absent = _absent_means_none.get(key)
        if absent is None:
            absent = _decide(cls, name)
            if len(_absent_means_none) >= _CACHE_LIMIT:
                _absent_means_none.clear()
            _absent_means_none[key] = absent
        if absent:
            return None
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what an OTLP int attribute holds


def as_int64(value: Any) -> int | None:
    """``value`` as an int an OTLP attribute can hold; None otherwise (bools and None too)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except Exception:
        return None
    return number if INT64_MIN <= number <= INT64_MAX else None
