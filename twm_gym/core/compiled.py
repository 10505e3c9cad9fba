"""Everything static about a scenario, computed once and cached: the arrays the hot path reads."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twm_gym.core.field import StaticField, cell_capacity, compile_field
from twm_gym.core.geometry import zone_mask, zone_membership
from twm_gym.core.params import ZONES, CityParams, Scenario, SurgeEvent
from twm_gym.core.rng import normal_table
from twm_gym.core.transport import RoutingTable

HOTSPOT, WAVE = 0, 1
"""Slots of the paper's two shock families in :attr:`Compiled.shocks` (``Scenario.shocks``)."""


@dataclass(frozen=True, eq=False)
class Compiled:
    """Static arrays of one scenario. ``C`` cells, ``S`` = 3 slices, ``L`` links, ``N`` source nodes."""

    scenario: Scenario
    field: StaticField
    routing: RoutingTable
    zones: NDArray[np.bool_]  # (Z, C) zone membership of the cells, Z = len(ZONES)
    base_demand: NDArray[np.float32]  # (C, S) mean offered load before profile and shocks, Mbps
    profile: NDArray[np.float32]  # (T, S) time-of-horizon multiplier of demand
    cell_xy: NDArray[np.float32]  # (C, 2), m
    cell_node: NDArray[np.int64]  # (C,) index of each cell's node on the source-node axis
    node_cell: NDArray[np.float32]  # (C, N) one-hot cell -> node aggregation matrix
    node_xy: NDArray[np.float32]  # (N, 2) node positions (centroid of their cells), m
    link_src: NDArray[np.int64]  # (L,) source-node index of each link (-1 for the hub)
    link_mbps: NDArray[np.float32]  # (L,) link capacity, Mbps
    base_density: NDArray[np.float32]  # (X,) user density per pixel with no shock
    nominal_capacity: NDArray[np.float32]  # (C,) capacity at full activity and base density, Mbps
    intact_route: NDArray[np.float32]  # (N, L) routes with every link up
    intact_route_t: NDArray[np.float32]  # (L, N) its transpose, C-contiguous
    cell_link: NDArray[np.float32]  # (C, L) links on each cell's path, every link up
    cell_link_t: NDArray[np.float32]  # (L, C) its transpose, C-contiguous
    cell_node_t: NDArray[np.float32]  # (N, C) transpose of node_cell, C-contiguous
    grid_axis: NDArray[np.float32]  # (G,) pixel-centre coordinate along either axis, m
    burst_table: NDArray[np.float32]  # (S * 2**16,) log-normal burst quantiles, slice-major
    burst_offset: NDArray[np.intp]  # (S, 1, 1) table offset of each slice's quantiles
    link_xy: NDArray[np.float32]  # (L, 2) position of each link's source node (the hub's links: node 0), m
    link_is_access: NDArray[np.float32]  # (L,) 1 for links leaving a source node, 0 for the hub's own
    link_factor: NDArray[np.float32]  # (T, L) capacity kept per step and link by scheduled link events
    shocks: tuple[SurgeEvent, ...]  # K surge events: the hotspot, the wave, then scenario.events
    shock_xy: NDArray[np.float32]  # (K, 2) the place of each (its path's start if it travels), m
    shock_paths: tuple[tuple[NDArray[np.float64], NDArray[np.float64]] | None, ...]  # (vertices, arc) or None
    shock_shift: NDArray[np.float32]  # (K,) log-intensity shift: sigma^2 / 2 for a mean intensity, 0 for a median

    def shock_point(self, k: int, s: NDArray[np.floating]) -> NDArray[np.float32]:
        """``(..., 2)`` points at fractional arc length ``s`` in [0, 1] along shock ``k``'s path, m."""
        path = self.shock_paths[k]
        assert path is not None
        xy, arc = path
        s64 = np.minimum(np.maximum(np.asarray(s, dtype=np.float64), 0.0), 1.0)
        return np.stack([np.interp(s64, arc, xy[:, 0]), np.interp(s64, arc, xy[:, 1])], axis=-1).astype(np.float32)

    @property
    def n_cells(self) -> int:
        return int(self.base_demand.shape[0])

    @property
    def n_links(self) -> int:
        return int(self.link_mbps.shape[0])


def read_only(record: Any) -> Any:
    """``record`` with every numpy array among its dataclass fields (nested ones too) made read-only.

    Compiled arrays are cached and shared by every simulation of the scenario in the process, the
    agents' twins included: writing one would change the world of every later episode, so writing
    raises ``ValueError: assignment destination is read-only``.
    """
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            read_only(value)
    return record


@functools.lru_cache(maxsize=32)
def compile_scenario(scenario: Scenario) -> Compiled:
    """Compile (and cache per parameter set) the static arrays of ``scenario``; they are read-only."""
    city, tr, dem, sim = scenario.city, scenario.transport, scenario.demand, scenario.sim
    field = compile_field(city)
    empty = np.flatnonzero(field.member.sum(axis=1) == 0)
    if empty.size:
        raise ValueError(
            f"city.grid: cells {empty.tolist()[:8]} serve no pixel of the {city.grid} x {city.grid} grid "
            "(sites closer than a pixel); raise city.grid or move the sites apart"
        )
    routing = RoutingTable(tr)
    zones = zone_membership(city)
    gain = np.ones((len(city.cell_xy), 3))
    for zone_name, slice_gain in dem.zone_gain:
        inside = zones[ZONES.index(zone_name)]
        gain[inside] *= np.asarray(slice_gain)
    base_demand = (np.asarray(dem.base_mbps)[None, :] * gain).astype(np.float32)
    steps = np.arange(sim.horizon)
    bump = np.sin(np.pi * (steps + 0.5) / sim.horizon)  # busy hour in the middle of the horizon
    profile = 1.0 + np.asarray(dem.profile_amplitude)[None, :] * bump[:, None]
    sources = routing.sources
    cell_node = np.array([sources.index(n) for n in tr.cell_node])
    node_cell = np.zeros((len(cell_node), len(sources)), dtype=np.float32)
    node_cell[np.arange(len(cell_node)), cell_node] = 1.0
    cell_xy = np.asarray(city.cell_xy, dtype=np.float32)
    node_xy = (node_cell.T @ cell_xy) / np.maximum(node_cell.sum(axis=0)[:, None], 1.0)
    link_src = np.array([sources.index(lk.src) if lk.src in sources else -1 for lk in tr.links])
    in_zone = zone_mask(city, field.pixels).any(axis=0)
    base_density = np.asarray(city.base_density + city.zone_density * in_zone, dtype=np.float32)
    intact_route, intact_reach = routing.routes(np.ones((1, len(tr.links)), dtype=bool))
    if not intact_reach.all():
        unreachable = [n for n, r in zip(routing.sources, intact_reach[0], strict=False) if r == 0]
        raise ValueError(f"transport: nodes {unreachable} have no path to hub {tr.hub!r} with every link up")
    sigma = np.asarray(dem.burst_sigma, dtype=np.float32)
    full = np.ones((1, len(cell_xy)), dtype=np.float32)
    nominal_capacity, _ = cell_capacity(field, full, base_density[None, :])
    node_xy32 = node_xy.astype(np.float32)
    shocks = scenario.shocks
    where = ["hotspot", "wave", *(f"events[{i}]" for i in range(len(scenario.events)))]
    paths = tuple(_polyline(ev.path, f"{w}.path") for ev, w in zip(shocks, where, strict=True))
    if paths[WAVE] is None:
        raise ValueError("wave.path: a wave needs a path of two points or more (or the city's corridor)")
    return read_only(
        Compiled(
            scenario=scenario,
            field=field,
            routing=routing,
            zones=zones,
            base_demand=base_demand,
            profile=profile.astype(np.float32),
            cell_xy=cell_xy,
            cell_node=cell_node,
            node_cell=node_cell,
            node_xy=node_xy32,
            link_src=link_src,
            link_mbps=np.array([lk.capacity_gbps * 1000.0 for lk in tr.links], dtype=np.float32),
            base_density=base_density,
            nominal_capacity=nominal_capacity[0],
            intact_route=intact_route[0],
            intact_route_t=np.ascontiguousarray(intact_route[0].T),
            cell_link=node_cell @ intact_route[0],
            cell_link_t=np.ascontiguousarray((node_cell @ intact_route[0]).T),
            cell_node_t=np.ascontiguousarray(node_cell.T),
            grid_axis=((np.arange(city.grid) + 0.5) * (city.size_m / city.grid)).astype(np.float32),
            burst_table=np.exp(sigma[:, None] * normal_table()[None, :] - sigma[:, None] ** 2 / 2).ravel(),
            burst_offset=(np.arange(3, dtype=np.intp) * 2**16)[:, None, None],
            link_xy=node_xy32[np.maximum(link_src, 0)],
            link_is_access=(link_src >= 0).astype(np.float32),
            link_factor=link_factors(scenario),
            shocks=shocks,
            shock_xy=np.asarray(
                [
                    place(city, ev.at, f"{w}.at") if path is None else path[0][0]
                    for ev, w, path in zip(shocks, where, paths, strict=True)
                ],
                dtype=np.float32,
            ),
            shock_paths=paths,
            shock_shift=np.array(
                [0.0 if k == WAVE else ev.intensity_sigma**2 / 2 for k, ev in enumerate(shocks)], dtype=np.float32
            ),
        )
    )


def _polyline(
    path: tuple[tuple[float, float], ...], where: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """A path's vertices and their fractional arc lengths (None: fewer than two points, it stays put)."""
    if len(path) < 2:
        return None
    xy = np.asarray(path, dtype=np.float64)
    seg = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    if not seg.sum() > 0:
        raise ValueError(f"{where}: the path has zero length")
    xy.flags.writeable = False
    arc = np.concatenate([[0.0], np.cumsum(seg)]) / seg.sum()
    arc.flags.writeable = False
    return xy, arc


PLACES = "'', 'cell:K', 'cells:I,J,...', 'zone:NAME', 'point:X,Y'"
"""The forms of a placement string (``hotspot.at``)."""


def place(city: CityParams, at: str, where: str) -> tuple[float, float]:
    """The point a placement string names (:data:`PLACES`; ``""`` is the city's hospital centre), m."""
    kind, _, arg = at.partition(":")
    if at == "":
        return city.hospital_center
    try:
        numbers = [float(v) for v in arg.split(",")] if kind in ("cell", "cells", "point") else []
    except ValueError:
        numbers = []
    if kind in ("cell", "cells") and numbers and all(v.is_integer() for v in numbers):
        idx = [int(v) for v in numbers]
        if kind == "cell" and len(idx) > 1:
            raise ValueError(f"{where}: 'cell:' takes one cell; use 'cells:{arg}' for their centroid")
        bad = [i for i in idx if not 0 <= i < len(city.cell_xy)]
        if bad:
            raise ValueError(f"{where}: cell {bad[0]} does not exist; valid: 0 to {len(city.cell_xy) - 1}")
        xy = np.asarray([city.cell_xy[i] for i in idx]).mean(axis=0)
        return float(xy[0]), float(xy[1])
    if kind == "zone":
        zones = {z.name: z for z in city.zones}
        if arg not in zones:
            raise ValueError(f"{where}: zone {arg!r} does not exist; valid: {', '.join(zones) or 'none'}")
        xy = np.asarray([((c.x0 + c.x1) / 2, (c.y0 + c.y1) / 2) for c in zones[arg].capsules]).mean(axis=0)
        return float(xy[0]), float(xy[1])
    if kind == "point" and len(numbers) == 2:
        x, y = numbers
        if not (0 <= x <= city.size_m and 0 <= y <= city.size_m):
            raise ValueError(f"{where}: point {x:g},{y:g} lies outside the {city.size_m:g} m area")
        return x, y
    raise ValueError(f"{where}: {at!r} is not a place; valid: {PLACES}")


def link_factors(scenario: Scenario) -> NDArray[np.float32]:
    """``(T, L)`` capacity factor of every link at every step from ``failures.scheduled`` (1: intact)."""
    names = [f"{lk.src}->{lk.dst}" for lk in scenario.transport.links]
    out = np.ones((scenario.horizon, len(names)), dtype=np.float32)
    for i, ev in enumerate(scenario.failures.scheduled):
        where = f"failures.scheduled[{i}]"
        if ev.link not in names:
            raise ValueError(f"{where}.link: {ev.link!r} is not a link; valid: {', '.join(names)}")
        if not 0 <= ev.start_step < scenario.horizon:
            raise ValueError(f"{where}.start_step: {ev.start_step} is outside the horizon 0..{scenario.horizon - 1}")
        if not 0.0 <= ev.capacity_factor < 1.0:
            raise ValueError(f"{where}.capacity_factor: {ev.capacity_factor!r} is out of range; valid: [0, 1)")
        steps = slice(ev.start_step, ev.start_step + ev.duration_steps)
        j = names.index(ev.link)
        out[steps, j] = np.minimum(out[steps, j], ev.capacity_factor)
    return out
