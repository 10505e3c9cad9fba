"""The JSON Schema of a scenario file, derived from the parameter records that the loader fills.

One definition serves both: :func:`scenario_schema` walks the same dataclasses (``core/params.py``)
and ranges (:data:`~twm_gym.scenarios.registry.RANGES`) that ``scenario_from_dict`` checks a file
against, and takes each field's description from its comment there. The published copy is
``docs/reference/scenario.schema.json`` (``twm-bench scenarios schema``); a test keeps it equal to this.

What the schema cannot say and the loader checks: cross-field rules (a cell inside the area, a link
between known nodes, ``nominal`` of the same shape, a step inside the horizon). A file that
``extends`` another may leave out anything its base gives; a file that does not must give every
required field.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import types
import typing
from typing import Any

from twm_gym.core.compiled import PLACES
from twm_gym.core.params import Scenario
from twm_gym.scenarios.registry import RANGES

SCHEMA_ID = "https://twm-gym.org/schemas/scenario.schema.json"
PLACE_PATTERN = r"^(|cell:\d+|cells:\d+(,\d+)*|zone:[A-Za-z0-9_-]+|point:-?[0-9.eE+-]+,-?[0-9.eE+-]+)$"
_EXTRA: dict[str, dict[str, Any]] = {
    "hotspot.at": {"pattern": PLACE_PATTERN, "description": f"where the surge is centred: {PLACES}"},
    "events.at": {"pattern": PLACE_PATTERN},
    "failures.scheduled.link": {"pattern": r"^[^-]+->.+$"},
}


def scenario_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a scenario file."""
    body = _object(Scenario, "", partial=True)
    body["properties"] = {
        "extends": {
            "type": "string",
            "description": "a base scenario: a registered name, or a file path relative to this file",
        },
        **body["properties"],
    }
    required = [f.name for f in dataclasses.fields(Scenario) if _required(f)]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "twm-gym scenario",
        "description": (
            "A network-slicing scenario of twm-gym: city, transport, exogenous world (demand, shocks, "
            "link events) and KPI constants. Units in each field's description."
        ),
        **body,
        "if": {"not": {"required": ["extends"]}},
        "then": {"required": required},
    }


def _required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _object(tp: Any, path: str, partial: bool) -> dict[str, Any]:
    """An object of dataclass ``tp``; ``partial``: its fields may come from a base file (none required)."""
    hints = typing.get_type_hints(tp)
    notes = _comments(tp)
    props = {}
    for f in dataclasses.fields(tp):
        sub = f"{path}.{f.name}" if path else f.name
        prop = _type(hints[f.name], sub, partial)
        if f.name in notes and "description" not in prop:
            prop["description"] = notes[f.name]
        if not _required(f):
            default = f.default if f.default is not dataclasses.MISSING else None
            if isinstance(default, (int, float, str, bool, tuple)) and not isinstance(default, type):
                prop["default"] = _plain(default)
        props[f.name] = prop
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    doc = inspect.getdoc(tp)
    if doc and path:
        out["description"] = doc.split("\n\n")[0].replace("\n", " ")
    if not partial:
        out["required"] = [f.name for f in dataclasses.fields(tp) if _required(f)]
    return out


def _type(tp: Any, path: str, partial: bool) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _object(tp, path, partial)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:  # items of a list replace the base's: complete
            return {"type": "array", "items": _type(args[0], path, partial=False)}
        items = [_type(a, path, partial=False) for a in args]
        return {"type": "array", "prefixItems": items, "items": False, "minItems": len(items)}
    if origin in (typing.Union, types.UnionType):  # pragma: no cover - the loader refuses unions too
        raise TypeError(f"{path}: unions are not part of the scenario format")
    out: dict[str, Any] = {}
    if tp is float or tp is int:
        out["type"] = "number" if tp is float else "integer"
        bounds = RANGES.get(path)
        if bounds is not None:
            low, high, open_low = bounds
            out["exclusiveMinimum" if open_low else "minimum"] = low
            out["maximum"] = high
    elif tp is str:
        out["type"] = "string"
    elif tp is bool:
        out["type"] = "boolean"
    else:  # pragma: no cover - schema bug
        raise TypeError(f"{path}: unsupported type {tp!r}")
    out.update(_EXTRA.get(path, {}))
    return out


@functools.cache
def _comments(tp: Any) -> dict[str, str]:
    """``field -> its trailing comment`` in the dataclass's source (units live there)."""
    out = {}
    for line in inspect.getsource(tp).splitlines():
        m = re.match(r"\s+(\w+): [^#]+#\s*(.+)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
