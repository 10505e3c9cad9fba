"""``key=value`` overrides for the training configs (frozen dataclasses), with errors naming the field."""

from __future__ import annotations

import dataclasses
from typing import Any


def apply_overrides(config: Any, overrides: dict[str, str]) -> dict[str, Any]:
    """Typed values for ``dataclasses.replace(config, **...)`` from ``key=value`` strings.

    Types come from the current values: tuples split on commas, booleans accept 1/true/yes.
    """
    known = {f.name for f in dataclasses.fields(config)}
    name = type(config).__name__
    values: dict[str, Any] = {}
    for key, raw in overrides.items():
        if key not in known:
            raise ValueError(f"unknown {name} field {key!r}; valid fields: {sorted(known)}")
        current = getattr(config, key)
        try:
            if isinstance(current, tuple):
                values[key] = tuple(v for v in raw.split(",") if v)
            elif isinstance(current, bool):
                values[key] = raw.lower() in ("1", "true", "yes")
            else:
                values[key] = type(current)(raw)
        except ValueError as exc:
            raise ValueError(f"{name}.{key}: cannot read {raw!r} as {type(current).__name__}") from exc
    return values
