"""Strict JSON for every file the project writes: NaN and infinities become ``null``.

Python's ``json`` writes bare ``NaN``/``Infinity`` by default, which strict parsers (browsers' ``JSON.parse``, jq,
most other languages) reject. Converting before encoding, and encoding with ``allow_nan=False``, makes that impossible.
NumPy scalars and arrays become plain numbers and lists on the way.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping


def strict(value: Any) -> Any:
    """``value`` with non-finite floats replaced by ``None`` and NumPy values by plain Python ones."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if hasattr(value, "tolist") and callable(value.tolist):  # NumPy scalars and arrays
        return strict(value.tolist())
    return value


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` that writes NaN/inf as ``null`` (``allow_nan`` cannot be switched back on)."""
    kwargs.pop("allow_nan", None)
    return json.dumps(strict(obj), allow_nan=False, **kwargs)


def dump(obj: Any, path: str | Path, *, indent: int | None = 2, sort_keys: bool = False, **kwargs: Any) -> Path:
    """Write ``obj`` as strict JSON to ``path`` atomically (a reader never sees half a file); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dumps(obj, indent=indent, sort_keys=sort_keys, **kwargs) + "\n"
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def from_object(cls: Any, data: Any, *, name: str) -> Any:
    """``cls(**data)`` for a dataclass read back from JSON; a non-object, an unknown key or a missing field raises
    ``ValueError`` naming ``name``."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{name} must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - {field.name for field in dataclasses.fields(cls)})
    if unknown:
        raise ValueError(f"{name} has unknown keys {unknown}")
    try:
        return cls(**dict(data))
    except TypeError as error:
        raise ValueError(f"{name}: {error}") from None
