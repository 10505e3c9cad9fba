"""Scenarios as data: JSON files under ``data/`` turned into frozen :class:`Scenario` records.

A scenario file may ``"extends"`` another (deep merge, the child wins); files whose name starts with
``_`` are bases, never listed. Every key is checked against the dataclass it fills, so a typo comes
back as an error naming the key, where it sits and the valid choices; every number is checked
against its field's range (:data:`RANGES`), and ``nominal`` must name a scenario of the same shape.
Whatever is wrong with a file (malformed JSON, not an object, an ``extends`` cycle, a value out of
range) is a :class:`ScenarioError` naming the file and the field.
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

from twm_gym.core.compiled import compile_scenario
from twm_gym.core.params import ZONES, Scenario

_DATA = "twm_gym.scenarios.data"

_INF = math.inf
RANGES: dict[str, tuple[float, float, bool]] = {
    # field path (list indices dropped): (low, high, low is exclusive); high is inclusive
    "city.size_m": (0, 1e6, True),
    "city.grid": (4, 128, False),
    "city.base_density": (0, 1e6, True),
    "city.zone_density": (0, 1e6, False),
    "city.zones.capsules.radius": (0, 1e6, False),
    "city.radio.bandwidth_mhz": (0, 1e4, True),
    "city.radio.tx_power_dbm": (-50, 100, False),
    "city.radio.noise_figure_db": (0, 50, False),
    "city.radio.pathloss_intercept_db": (0, 300, False),
    "city.radio.pathloss_slope_db": (0, 100, True),
    "city.radio.min_distance_m": (0, 1e4, True),
    "city.radio.shadowing_std_db": (0, 30, False),
    "city.radio.shadowing_corr_m": (0, 1e6, True),
    "city.radio.shadowing_seed": (0, 2**62, False),
    "city.radio.shannon_gap_db": (0, 30, False),
    "city.radio.se_max": (0, 30, True),
    "city.radio.min_activity": (0, 1, False),
    "transport.links.capacity_gbps": (0, 1e6, True),
    "transport.buffer_mbit": (0, 1e6, True),
    "transport.hop_latency_ms": (0, 1e4, False),
    "demand.base_mbps": (0, 1e6, False),
    "demand.zone_gain": (0, 1e3, False),
    "demand.profile_amplitude": (-1, 10, True),
    "demand.ar_rho": (0, 1 - 1e-9, False),
    "demand.ar_sigma": (0, 5, False),
    "demand.burst_sigma": (0, 3, False),
    "hotspot.rate": (0, 1, False),
    "hotspot.intensity": (0, 100, False),
    "hotspot.intensity_sigma": (0, 5, False),
    "hotspot.radius_m": (0, 1e6, True),
    "hotspot.center_sigma_m": (0, 1e6, False),
    "hotspot.duration_steps": (1, 1000, False),
    "hotspot.slice_gain": (0, 100, False),
    "hotspot.density_gain": (0, 1e3, False),
    "hotspot.fail_boost": (0, 1, False),
    "hotspot.start_step": (-1, 1000, False),
    "wave.rate": (0, 1, False),
    "wave.intensity": (0, 100, False),
    "wave.duration_steps": (1, 1000, False),
    "wave.width_m": (0, 1e6, True),
    "wave.cross_load": (0, 1, False),
    "wave.slice_gain": (0, 100, False),
    "wave.density_gain": (0, 1e3, False),
    "wave.fail_boost": (0, 1, False),
    "wave.path": (0, 1e6, False),
    "wave.start_step": (-1, 1000, False),
    "events.path": (0, 1e6, False),
    "events.start_step": (-1, 1000, False),
    "events.rate": (0, 1, False),
    "events.duration_steps": (1, 1000, False),
    "events.intensity": (0, 100, False),
    "events.intensity_sigma": (0, 5, False),
    "events.radius_m": (0, 1e6, True),
    "events.center_sigma_m": (0, 1e6, False),
    "events.slice_gain": (0, 100, False),
    "events.density_gain": (0, 1e3, False),
    "events.cross_load": (0, 1, False),
    "events.fail_boost": (0, 1, False),
    "failures.prob": (0, 1, False),
    "failures.repair_steps": (1, 1000, False),
    "failures.scheduled.start_step": (0, 1000, False),
    "failures.scheduled.duration_steps": (1, 1000, False),
    "failures.scheduled.capacity_factor": (0, 1, False),
    "sim.horizon": (1, 1000, False),
    "sim.substeps": (1, 1000, False),
    "sim.slow_step_s": (0, 86400, True),
    "sim.radio_buffer_mbit": (0, 1e6, True),
    "sim.radio_latency_ms": (0, 1e4, False),
    "sim.latency_cap_ms": (0, 1e6, True),
    "cost.radio_weight": (0, 100, False),
    "cost.transport_weight": (0, 100, False),
    "cost.switch_weight": (0, 100, False),
    "sla.loss_ceiling": (0, 1, True),
    "sla.d99_ceiling_ms": (0, 1e6, True),
}
"""The valid range of every bounded number of a scenario, by field path."""
MAX_CELLS = 256
MAX_EVENTS = 32


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
        return _load_file(path, check_nominal=True)
    return _load_registered(text)


def _load_file(path: Path, check_nominal: bool) -> Scenario:
    scenario = scenario_from_dict(_resolve(_read_json(path), path.parent, [path.resolve()]), origin=str(path))
    if check_nominal:
        _check_nominal(scenario, str(path), path.parent)
    target = _beside(path.parent, scenario.nominal)
    if target is not None:  # a file beside this one: kept as its absolute path (or as itself)
        nominal = scenario.name if target == path.resolve() else str(target)
        scenario = dataclasses.replace(scenario, nominal=nominal)
    return scenario


def _read_json(path: Path | Any) -> dict[str, Any]:
    """A scenario file's object, or :class:`ScenarioError` naming the file."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"scenario file {str(path)!r}: not readable JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"scenario file {str(path)!r}: top level is a {type(raw).__name__}, expected an object")
    return raw


def _check_nominal(scenario: Scenario, origin: str, folder: Path | None) -> None:
    """``nominal`` names an existing scenario with the same cells, links and horizon."""
    if scenario.nominal == scenario.name:
        return
    target: str | Path = _beside(folder, scenario.nominal) or scenario.nominal
    try:
        nominal = _load_registered(target) if isinstance(target, str) else _load_file(target, check_nominal=False)
    except ScenarioError as exc:
        raise ScenarioError(f"scenario {origin!r}: nominal {scenario.nominal!r} cannot be loaded ({exc})") from None
    for what, a, b in (
        ("cells", scenario.n_cells, nominal.n_cells),
        ("links", scenario.n_links, nominal.n_links),
        ("horizon", scenario.horizon, nominal.horizon),
    ):
        if a != b:
            raise ScenarioError(
                f"scenario {origin!r}: nominal {scenario.nominal!r} has {b} {what}, this scenario {a}; "
                "an agent's twin must have the episode's shape"
            )


@functools.cache
def _load_registered(name: str) -> Scenario:
    split, _, base = name.rpartition("/")
    if split:  # a generated split's scenario: "train/<name>"
        folder = resources.files(_DATA).joinpath(split)
        if not folder.is_dir() or not folder.joinpath(f"{base}.json").is_file():
            splits = sorted(p.name for p in resources.files(_DATA).iterdir() if p.is_dir() and p.name[0] != "_")
            raise ScenarioError(f"unknown scenario {name!r}; splits: {', '.join(splits)} (see twm-bench list --split)")
    elif name not in list_scenarios():
        raise ScenarioError(f"unknown scenario {name!r}; valid scenarios: {', '.join(list_scenarios())}")
    scenario = scenario_from_dict(_read_registered(name, []), origin=name)
    _check_nominal(scenario, name, None)
    return scenario


def _read_registered(name: str, chain: list[Any] | None = None) -> dict[str, Any]:
    path = resources.files(_DATA).joinpath(f"{name}.json")
    return _resolve(_read_json(path), None, [*(chain or []), path])


def _resolve(raw: dict[str, Any], folder: Path | None, chain: list[Any]) -> dict[str, Any]:
    """``raw`` merged over the chain of files it ``extends`` (``chain``: the files read so far)."""
    parent_name = raw.pop("extends", None)
    if parent_name is None:
        return raw
    if not isinstance(parent_name, str):
        raise ScenarioError(f"scenario file {str(chain[-1])!r}: 'extends' must be a name, got {parent_name!r}")
    path: Any = _beside(folder, parent_name)
    if path is not None:
        if any(str(path) == str(p) for p in chain):
            raise ScenarioError(f"'extends' cycle: {' -> '.join(str(p) for p in [*chain, path])}")
        parent = _resolve(_read_json(path), path.parent, [*chain, path])
    else:
        bases = [p.name[:-5] for p in resources.files(_DATA).iterdir() if p.name.endswith(".json")]
        if parent_name not in bases:
            raise ScenarioError(f"'extends': unknown base {parent_name!r}; valid: {', '.join(sorted(bases))}")
        if any(str(p).endswith(f"{parent_name}.json") and folder is None for p in chain):
            raise ScenarioError(f"'extends' cycle through {parent_name!r}")
        parent = _read_registered(parent_name, chain)
    return _merge(parent, raw)


def _beside(folder: Path | None, name: str) -> Path | None:
    """The scenario file ``name`` names relative to ``folder`` (``"base"`` or ``"sub/base.json"``), if it exists."""
    if folder is None:
        return None
    path = (folder / (name if name.endswith(".json") else f"{name}.json")).resolve()
    return path if path.is_file() else None


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
    try:  # what only the compiled model can tell (a node with no path to the hub, say)
        compile_scenario(scenario)
    except ValueError as exc:
        raise ScenarioError(f"scenario {origin!r}: {exc}") from None
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
        required = [
            f.name
            for f in dataclasses.fields(tp)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        missing = [name for name in required if name not in value]
        if missing:
            raise ScenarioError(f"{where}: required field(s) {missing} missing; required: {', '.join(required)}")
        kwargs = {k: _build(hints[k], v, f"{where}.{k}") for k, v in value.items()}
        return typing.cast(Any, tp)(**kwargs)
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
        return _in_range(float(value), where)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(f"{where}: expected an integer, got {value!r}")
        return _in_range(value, where)
    if tp is bool or tp is str:
        if not isinstance(value, tp):
            raise ScenarioError(f"{where}: expected {tp.__name__}, got {value!r}")
        return value
    raise ScenarioError(f"{where}: unsupported type {tp!r}")  # pragma: no cover - schema bug


def _in_range(value: Any, where: str) -> Any:
    """``value``, or :class:`ScenarioError` naming the field and its valid range (:data:`RANGES`)."""
    key = ".".join(part.split("[")[0] for part in where.split(".")[1:])
    bounds = RANGES.get(key)
    if bounds is not None:
        low, high, open_low = bounds
        if not ((low < value) if open_low else (low <= value)) or value > high:
            valid = f"{'(' if open_low else '['}{low:g}, {high:g}]"
            raise ScenarioError(f"{where}: {value!r} is out of range; valid: {valid}")
    return value


def _check(ok: bool, origin: str, where: str, message: str) -> None:
    if not ok:
        raise ScenarioError(f"scenario {origin!r}: {where} {message}")


def _validate(s: Scenario, origin: str) -> None:
    c, t = s.city, s.transport
    _check(bool(s.family.strip()), origin, "family", "is empty; any non-empty label is valid")
    for shock in ("hotspot", "wave"):
        start = getattr(s, shock).start_step
        _check(
            start < s.horizon, origin, f"{shock}.start_step", f"is {start}; valid: -1 (random) or 0..{s.horizon - 1}"
        )
    for i, (x, y) in enumerate(s.wave.path):
        _check(0 <= x <= c.size_m and 0 <= y <= c.size_m, origin, f"wave.path[{i}]", "lies outside the area")
    _check(len(s.wave.path) != 1, origin, "wave.path", "needs at least two points (or none: the corridor)")
    _check(len(s.events) <= MAX_EVENTS, origin, "events", f"has {len(s.events)} events; at most {MAX_EVENTS}")
    for i, ev in enumerate(s.events):
        valid = f"valid: -1 (random) or 0..{s.horizon - 1}"
        _check(ev.start_step < s.horizon, origin, f"events[{i}].start_step", f"is {ev.start_step}; {valid}")
        _check(len(ev.path) != 1, origin, f"events[{i}].path", "needs at least two points (or none: it sits at 'at')")
        for j, (x, y) in enumerate(ev.path):
            _check(0 <= x <= c.size_m and 0 <= y <= c.size_m, origin, f"events[{i}].path[{j}]", "lies outside the area")
    _check(1 <= len(c.cell_xy) <= MAX_CELLS, origin, "city.cell_xy", f"needs 1 to {MAX_CELLS} cells")
    for name, (x, y) in (
        ("hospital_center", c.hospital_center),
        *((f"corridor[{i}]", p) for i, p in enumerate(c.corridor)),
    ):
        _check(0 <= x <= c.size_m and 0 <= y <= c.size_m, origin, f"city.{name}", "lies outside the area")
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
    for zone_name, _gains in s.demand.zone_gain:
        _check(zone_name in ZONES, origin, "demand.zone_gain", f"names zone {zone_name!r}; valid: {ZONES}")
    _check(len(c.corridor) >= 2, origin, "city.corridor", "needs at least two points")
