"""Fast, never-raising reads of fields from LiteLLM's response objects, dicts and plain objects.

LiteLLM keeps many response fields in pydantic's ``__pydantic_extra__``; reaching them through
``getattr`` goes via pydantic's ``__getattr__`` (about 0.6 µs, and an exception when missing).
Reading the dictionaries directly costs a few tens of nanoseconds.
"""

from __future__ import annotations

from typing import Any

_MISSING: Any = object()


def field(obj: Any, name: str) -> Any:
    """``obj.name`` / ``obj[name]``, or None when absent. Never raises for ordinary objects."""
    if obj is None:
        return None
    if type(obj) is dict:
        return obj.get(name)
    try:
        values = obj.__dict__
    except AttributeError:
        values = None
    if values is not None:
        value = values.get(name, _MISSING)
        if value is not _MISSING:
            return value
    extra = getattr(obj, "__pydantic_extra__", None)
    if extra:
        value = extra.get(name, _MISSING)
        if value is not _MISSING:
            return value
    if isinstance(obj, dict):
        return obj.get(name)
    cls = type(obj)
    fields = getattr(cls, "__pydantic_fields__", None)
    # A pydantic model: a declared field missing from __dict__ was deleted (LiteLLM drops
    # unset optionals); only a class-level attribute (property, slot) is worth a getattr.
    if fields is not None and (name in fields or getattr(cls, name, _MISSING) is _MISSING):
        return None
    try:
        return getattr(obj, name, None)
    except Exception:
        return None
