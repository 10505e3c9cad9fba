"""Scenarios as data: JSON files under ``data/`` turned into frozen :class:`Scenario` records.

A scenario file may ``"extends"`` another (deep merge, the child wins); files whose name starts with
``_`` are bases, never listed. Every key is checked against the dataclass it fills, so a typo comes
back as an error naming the key, where it sits and the valid choices.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Any

from twm_gym.core.params import SLICES, ZONES, Scenario

_DATA = "twm_gym.scenarios.data"


class ScenarioError(ValueError):
    """A scenario name, file or parameter is invalid; the message names it."""


def list_scenarios() -> tuple[str, ...]:
    """Names of the registered scenarios, sorted (bases starting with ``_`` excluded)."""
    names = [
        p.name[: -len(".json")]
        for p in resources.files(_DATA).iterdir()
        if p.name.endswith(".json") and not p.name.startswith("_")
    ]
    return tuple(sorted(names))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """The scenario of a registered name (``"hotspot-id"``) or of a JSON file path.

    Raises:
        ScenarioError: unknown name (the message lists the valid ones) or an invalid file.
    """
    text = str(name_or_path)
    if text.endswith(".json"):
        path = Path(text)
        if not path.is_file():
            raise ScenarioError(f"scenario file {text!r} does not exist")
        return scenario_from_dict(_resolve(json.loads(path.read_text()), path.parent), origin=text)
    return _load_registered(text)


@functools.cache
def _load_registered(name: str) -> Scenario:
    if name not in list_scenarios():
        raise ScenarioError(f"unknown scenario {name!r}; valid scenarios: {', '.join(list_scenarios())}")
    return scenario_from_dict(_read_registered(name), origin=name)


def _read_registered(name: str) -> dict[str, Any]:
    raw = json.loads(resources.files(_DATA).joinpath(f"{name}.json").read_text())
    return _resolve(raw, None)


def _resolve(raw: dict[str, Any], folder: Path | None) -> dict[str, Any]:
    parent_name = raw.pop("extends", None)
    if parent_name is None:
        return raw
    if folder is not None and (folder / f"{parent_name}.json").is_file():
        parent = _resolve(json.loads((folder / f"{parent_name}.json").read_text()), folder)
    else:
        bases = [p.name[:-5] for p in resources.files(_DATA).iterdir() if p.name.endswith(".json")]
        if parent_name not in bases:
            raise ScenarioError(f"'extends': unknown base {parent_name!r}; valid: {', '.join(sorted(bases))}")
        parent = _read_registered(parent_name)
    return _merge(parent, raw)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def scenario_from_dict(data: dict[str, Any], origin: str = "<dict>") -> Scenario:
    """Build and validate a :class:`Scenario` from nested plain data (as in the JSON files)."""
    scenario: Scenario = _build(Scenario, data, "scenario")
    _validate(scenario, origin)
    return scenario


def _build(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ScenarioError(f"{where}: expected an object, got {type(value).__name__}")
        hints = typing.get_type_hints(tp)
        names = [f.name for f in dataclasses.fields(tp)]
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ScenarioError(f"{where}: unknown field {unknown[0]!r}; valid fields: {', '.join(names)}")
        kwargs = {k: _build(hints[k], v, f"{where}.{k}") for k, v in value.items()}
        try:
            return typing.cast(Any, tp)(**kwargs)
        except TypeError as exc:  # a required field is missing
            raise ScenarioError(f"{where}: {exc}") from None
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ScenarioError(f"{where}: expected a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_build(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ScenarioError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_build(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=False)))
    if origin in (typing.Union, types.UnionType):
        raise ScenarioError(f"{where}: unions are not supported in scenario files")
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ScenarioError(f"{where}: expected a finite number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool or tp is str:
        if not isinstance(value, tp):
            raise ScenarioError(f"{where}: expected {tp.__name__}, got {value!r}")
        return value
    raise ScenarioError(f"{where}: unsupported type {tp!r}")  # pragma: no cover - schema bug


def _check(ok: bool, origin: str, where: str, message: str) -> None:
    if not ok:
        raise ScenarioError(f"scenario {origin!r}: {where} {message}")


def _validate(s: Scenario, origin: str) -> None:
    c, t = s.city, s.transport
    _check(s.family in ("hotspot", "wave", "none"), origin, "family", f"is {s.family!r}; valid: hotspot, wave, none")
    _check(len(c.cell_xy) >= 1, origin, "city.cell_xy", "needs at least one cell")
    _check(c.size_m > 0 and c.grid >= 4, origin, "city", "needs size_m > 0 and grid >= 4")
    for i, (x, y) in enumerate(c.cell_xy):
        _check(0 <= x <= c.size_m and 0 <= y <= c.size_m, origin, f"city.cell_xy[{i}]", "lies outside the area")
    for i, z in enumerate(c.zones):
        _check(z.name in ZONES, origin, f"city.zones[{i}].name", f"is {z.name!r}; valid: {', '.join(ZONES)}")
    _check(t.hub in t.nodes, origin, "transport.hub", f"is {t.hub!r}; valid: {', '.join(t.nodes)}")
    _check(len(t.cell_node) == len(c.cell_xy), origin, "transport.cell_node", "needs one node per cell")
    for i, n in enumerate(t.cell_node):
        _check(n in t.nodes and n != t.hub, origin, f"transport.cell_node[{i}]", f"is {n!r}; valid: {t.nodes[1:]}")
    _check(1 <= len(t.links) <= 16, origin, "transport.links", "needs between 1 and 16 links")
    for i, link in enumerate(t.links):
        for end in (link.src, link.dst):
            _check(end in t.nodes, origin, f"transport.links[{i}]", f"names node {end!r}; valid: {t.nodes}")
        _check(link.capacity_gbps > 0, origin, f"transport.links[{i}].capacity_gbps", "must be > 0")
    for zone_name, gains in s.demand.zone_gain:
        _check(zone_name in ZONES, origin, "demand.zone_gain", f"names zone {zone_name!r}; valid: {ZONES}")
        _check(min(gains) >= 0, origin, f"demand.zone_gain[{zone_name}]", "must be >= 0")
    _check(min(s.demand.base_mbps) >= 0, origin, "demand.base_mbps", "must be >= 0")
    _check(0 <= s.demand.ar_rho < 1, origin, "demand.ar_rho", "must be in [0, 1)")
    for name, p in (
        ("hotspot.rate", s.hotspot.rate),
        ("wave.rate", s.wave.rate),
        ("failures.prob", s.failures.prob),
        ("wave.cross_load", s.wave.cross_load),
        ("hotspot.fail_boost", s.hotspot.fail_boost),
        ("wave.fail_boost", s.wave.fail_boost),
    ):
        _check(0.0 <= p <= 1.0, origin, name, f"is {p}; must be a probability in [0, 1]")
    for key, steps in (
        ("hotspot.duration_steps", s.hotspot.duration_steps),
        ("wave.duration_steps", s.wave.duration_steps),
        ("failures.repair_steps", s.failures.repair_steps),
        ("sim.horizon", s.sim.horizon),
        ("sim.substeps", s.sim.substeps),
    ):
        _check(steps >= 1, origin, key, f"is {steps}; must be >= 1")
    _check(len(c.corridor) >= 2, origin, "city.corridor", "needs at least two points")
    _check(all(v > 0 for v in s.sla.loss_ceiling), origin, "sla.loss_ceiling", f"must be > 0 for {SLICES}")
