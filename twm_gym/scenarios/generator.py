"""Generated cities and shock families: scenario files drawn from documented distributions.

:func:`generate_city` draws a city (cell sites, the three zone kinds, a transport network and its
capacities) from a seed; :func:`generate_family` writes a shock family on it, in-distribution and
out-of-distribution; :func:`generate` does both and returns scenario files as plain data, the same
format as the hand-written ones (``docs/reference/scenario-format.md``). Everything is a pure function of its
arguments: the same seed gives the same files on every machine.

The distributions (``docs/reference/scenario-format.md#generated-cities``):

* **area**: a square of side ``2000 m * sqrt(cells / 10)`` (the paper city's density);
* **layout** ``grid``: a jittered lattice; ``random``: uniform sites at least ``0.5 * spacing``
  apart (``spacing = side / sqrt(cells)``); ``clustered``: 2-5 Gaussian clusters (spread
  ``0.15 * side``), sites at least ``0.4 * spacing`` apart;
* **zones**: a hospital (a disc of radius ``0.19 * side * U(0.8, 1.2)`` around a random site), one or
  two FWA areas (discs around random sites) and a corridor (a 3-4 point polyline crossing the area,
  half-width ``0.09 * side``), the zone kinds of the paper city;
* **transport**: ``k = clip(round(cells / 2), 2, 7)`` aggregation nodes placed by farthest-point
  sampling of the sites, each cell served by its nearest node, and
  ``hub-and-spoke``: one spoke per node plus a ring of backup links;
  ``ring``: the nodes on a ring, two of them linked to the hub;
  ``two-tier``: nodes linked to 2-3 aggregation nodes (nearest, plus a backup), those to the hub;
  a link is dimensioned so that an even 1/3 split of it serves the heaviest slice of its nominal
  load (the offered traffic of the nodes behind it, zone gains included; half the city's for a
  ring) with a margin drawn from ``TRUNK_MARGIN`` (spokes and trunks) or ``BACKUP_MARGIN``
  (backup links);
* **demand, radio, timescales, SLAs**: the paper city's.

Families (``FAMILIES``): ``hotspot`` (surges at the hospital), ``wave`` (fronts along the corridor),
``cell-hotspot`` (surges at a random site in no zone), ``outage`` (a scheduled failure of the
busiest spoke and a degraded backup link on top of hotspots), ``crowds`` (2-4 further surge
events drawn from the event language: placed at random sites or crossing the city, scheduled or
random, random slice weights). ``ood`` variants are stronger,
wider, longer and fail more, as the paper's OOD scenarios are.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from twm_gym.scenarios.registry import ScenarioError

LAYOUTS = ("grid", "random", "clustered")
TRANSPORTS = ("hub-and-spoke", "ring", "two-tier")
FAMILIES = ("hotspot", "wave", "cell-hotspot", "outage", "crowds")
MIN_CELLS, MAX_CELLS = 5, 200
TRUNK_MARGIN = (1.4, 2.3)
"""Spokes and trunks: an even 1/3 split serves the heaviest slice's nominal load with this margin
(the paper city's spokes: 1.43 to 2.33)."""
BACKUP_MARGIN = (0.95, 1.2)
"""Backup links, on the heavier node they join (the paper city's ring: 0.95 to 1.17)."""
_BASE_MBPS = (52.0, 4.0, 10.0)
_ZONE_GAIN = {"hospital": (1.1, 5.0, 0.5), "fwa": (1.0, 1.0, 7.0), "corridor": (1.4, 1.0, 1.0)}


class GeneratorError(ScenarioError):
    """An argument of the generator out of its range; the message names it and the valid choices."""


def _check(name: str, value: Any, valid: tuple[Any, ...]) -> None:
    if value not in valid:
        raise GeneratorError(f"{name}: {value!r} is not one of {list(valid)}")


def generate_city(seed: int, cells: int, layout: str = "random", transport: str = "hub-and-spoke") -> dict[str, Any]:
    """A city as scenario data (no shock yet): name ``city-<layout>-<transport>-<cells>-s<seed>``."""
    if not MIN_CELLS <= cells <= MAX_CELLS:
        raise GeneratorError(f"cells: {cells} is outside [{MIN_CELLS}, {MAX_CELLS}]")
    _check("layout", layout, LAYOUTS)
    _check("transport", transport, TRANSPORTS)
    if seed < 0:
        raise GeneratorError(f"seed: must be >= 0, got {seed}")
    rng = np.random.default_rng([seed, cells, LAYOUTS.index(layout), TRANSPORTS.index(transport)])
    side = 2000.0 * math.sqrt(cells / 10.0)
    xy = _sites(rng, cells, layout, side)
    zones, hospital, corridor = _zones(rng, xy, side)
    nodes, cell_node, links = _transport(rng, xy, transport, zones, side)
    name = f"city-{layout}-{transport}-{cells}-s{seed}"
    city = {
        "name": name,
        "description": f"Generated city: {cells} cells, {layout} layout, {transport} transport (seed {seed}).",
        "family": "none",
        "ood": False,
        "nominal": name,
        "city": {
            "size_m": round(side, 1),
            "grid": int(np.clip(math.ceil(math.sqrt(12 * cells)), 16, 64)),
            "cell_xy": [[round(float(x), 1), round(float(y), 1)] for x, y in xy],
            "zones": zones,
            "hospital_center": hospital,
            "corridor": corridor,
        },
        "transport": {"nodes": nodes, "hub": "N0", "cell_node": cell_node, "links": links},
        "demand": {"base_mbps": list(_BASE_MBPS), "zone_gain": [[k, list(v)] for k, v in _ZONE_GAIN.items()]},
        "failures": {"prob": 0.005, "repair_steps": 3},
    }
    return _fit_grid(city)


def _fit_grid(city: dict[str, Any]) -> dict[str, Any]:
    """``city`` with the coarsest field grid (from ``ceil(sqrt(12 cells))``, at least 16) on which
    every cell is the best server of at least one pixel (shadowing can leave a site none)."""
    from twm_gym.scenarios.registry import scenario_from_dict

    grid = city["city"]["grid"]
    while True:
        try:
            scenario_from_dict(city, origin=city["name"])
            return city
        except ScenarioError as exc:
            if "serve no pixel" not in str(exc) or grid >= 128:
                raise
        grid = min(128, grid + 8)
        city["city"]["grid"] = grid


def _sites(rng: np.random.Generator, n: int, layout: str, side: float) -> np.ndarray:
    spacing = side / math.sqrt(n)
    lo, hi = 0.05 * side, 0.95 * side
    if layout == "grid":
        k = math.ceil(math.sqrt(n))
        ij = np.array([(i, j) for i in range(k) for j in range(k)])[:n]
        pts = (ij + 0.5) * (side / k) + rng.normal(0.0, 0.15 * spacing, (n, 2))
    else:
        centres = rng.uniform(0.2 * side, 0.8 * side, (int(rng.integers(2, 6)), 2))
        pts = np.empty((0, 2))
        tries = 0
        while len(pts) < n:  # rejection keeps sites at least 0.5 spacing apart (0.4 in clusters)
            tries += 1
            if layout == "clustered" and tries < 200 * n:
                p = np.clip(centres[rng.integers(0, len(centres))] + rng.normal(0.0, 0.15 * side, 2), lo, hi)
            else:  # (a full cluster spills over the area)
                p = rng.uniform(lo, hi, 2)
            gap = (0.4 if layout == "clustered" else 0.5) * spacing
            if len(pts) == 0 or np.min(np.linalg.norm(pts - p, axis=1)) >= gap:
                pts = np.vstack([pts, p])
    return np.clip(pts, lo, hi)


def _disc(x: float, y: float, r: float) -> dict[str, float]:
    return {"x0": round(x, 1), "y0": round(y, 1), "x1": round(x, 1), "y1": round(y, 1), "radius": round(r, 1)}


def _zones(rng: np.random.Generator, xy: np.ndarray, side: float) -> tuple[list[Any], list[float], list[list[float]]]:
    n = len(xy)
    order = rng.permutation(n)
    hx, hy = (float(v) for v in xy[order[0]])
    hospital = {"name": "hospital", "capsules": [_disc(hx, hy, 0.19 * side * rng.uniform(0.8, 1.2))]}
    fwa_sites = order[1 : 1 + int(rng.integers(1, 3))]
    fwa = {
        "name": "fwa",
        "capsules": [_disc(float(xy[i, 0]), float(xy[i, 1]), 0.17 * side * rng.uniform(0.8, 1.2)) for i in fwa_sites],
    }
    # The corridor crosses the area from one edge to the opposite one through 1-2 inner points.
    horizontal = bool(rng.integers(0, 2))
    k = int(rng.integers(3, 5))
    along = np.linspace(0.05, 0.95, k) * side
    across = rng.uniform(0.2, 0.8, k) * side
    pts = np.stack([along, across], axis=1) if horizontal else np.stack([across, along], axis=1)
    corridor = [[round(float(x), 1), round(float(y), 1)] for x, y in pts]
    half = 0.09 * side
    capsules = [
        {"x0": a[0], "y0": a[1], "x1": b[0], "y1": b[1], "radius": round(half, 1)}
        for a, b in itertools.pairwise(corridor)
    ]
    zones = [hospital, fwa, {"name": "corridor", "capsules": capsules}]
    return zones, [round(hx, 1), round(hy, 1)], corridor


def _in_zone(p: np.ndarray, zone: dict[str, Any]) -> bool:
    for c in zone["capsules"]:
        a, b = np.array([c["x0"], c["y0"]]), np.array([c["x1"], c["y1"]])
        ab = b - a
        t = 0.0 if not ab.any() else float(np.clip(np.dot(p - a, ab) / np.dot(ab, ab), 0.0, 1.0))
        if np.linalg.norm(p - (a + t * ab)) <= c["radius"]:
            return True
    return False


def _cell_load(xy: np.ndarray, zones: list[dict[str, Any]]) -> np.ndarray:
    """``(C, S)`` nominal offered load of each cell and slice, Mbps (base demand times its zones' gains)."""
    load = np.tile(np.asarray(_BASE_MBPS), (len(xy), 1))
    for z in zones:
        gain = np.asarray(_ZONE_GAIN[z["name"]])
        inside = np.array([_in_zone(p, z) for p in xy])
        load[inside] *= gain
    return load


def _transport(
    rng: np.random.Generator, xy: np.ndarray, kind: str, zones: list[dict[str, Any]], side: float
) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    n = len(xy)
    k = int(np.clip(round(n / 2), 2, 7))
    centres = [int(rng.integers(0, n))]
    for _ in range(k - 1):  # farthest-point sampling: aggregation nodes spread over the area
        d = np.min(np.linalg.norm(xy[:, None, :] - xy[centres][None, :, :], axis=2), axis=1)
        centres.append(int(np.argmax(d)))
    owner = np.argmin(np.linalg.norm(xy[:, None, :] - xy[centres][None, :, :], axis=2), axis=1)
    load = _cell_load(xy, zones)
    node_load = np.array([load[owner == i].sum(axis=0) for i in range(k)])  # (k, S) Mbps
    node_xy = np.array([xy[owner == i].mean(axis=0) for i in range(k)])
    names = [f"N{i + 1}" for i in range(k)]
    links: list[tuple[str, str, float]] = []

    def cap(slices: np.ndarray, lo: float, hi: float) -> float:
        """Gbps: an even 1/3 split serves the heaviest slice of ``slices`` (Mbps) with margin U(lo, hi)."""
        return round(3.0 * max(float(np.max(slices)), 20.0) * rng.uniform(lo, hi) / 1000.0, 3)

    ring_order = list(np.argsort(np.arctan2(*(node_xy - node_xy.mean(axis=0)).T[::-1])))
    ring = [(int(a), int(b)) for a, b in zip(ring_order, ring_order[1:] + ring_order[:1], strict=True)]
    nodes = ["N0", *names]
    if kind == "hub-and-spoke":
        for i in range(k):
            links.append((names[i], "N0", cap(node_load[i], TRUNK_MARGIN[0], TRUNK_MARGIN[1])))
        for a, b in ring if k > 2 else ring[:1]:
            links.append(
                (names[a], names[b], cap(np.maximum(node_load[a], node_load[b]), BACKUP_MARGIN[0], BACKUP_MARGIN[1]))
            )
    elif kind == "ring":
        gates = [ring_order[0], ring_order[len(ring_order) // 2]]
        total = node_load.sum(axis=0)
        for g in gates:
            links.append((names[g], "N0", cap(total / 2, TRUNK_MARGIN[0], TRUNK_MARGIN[1])))
        for a, b in ring:  # both directions, so every node reaches a gate when one ring link fails
            links.append((names[a], names[b], cap(total / 2, BACKUP_MARGIN[0], BACKUP_MARGIN[1])))
            if len(links) < 16 and k > 2:
                links.append((names[b], names[a], cap(total / 2, BACKUP_MARGIN[0], BACKUP_MARGIN[1])))
        links = links[:16]
    else:  # two-tier: access nodes -> 2 or 3 aggregation nodes -> hub
        m = 2 if k <= 4 else 3
        aggs = [f"A{j + 1}" for j in range(m)]
        nodes = ["N0", *aggs, *names]
        agg_xy = node_xy[np.linspace(0, k - 1, m).astype(int)]
        nearest = np.argsort(np.linalg.norm(node_xy[:, None, :] - agg_xy[None, :, :], axis=2), axis=1)
        agg_load = np.zeros((m, 3))
        for i in range(k):
            a = int(nearest[i, 0])
            agg_load[a] += node_load[i]
            links.append((names[i], aggs[a], cap(node_load[i], TRUNK_MARGIN[0], TRUNK_MARGIN[1])))
        for j in range(m):
            links.append((aggs[j], "N0", cap(agg_load[j], TRUNK_MARGIN[0], TRUNK_MARGIN[1])))
        for i in range(k):  # backups to the second-nearest aggregation node, while the link budget lasts
            if len(links) < 16:
                links.append(
                    (names[i], aggs[int(nearest[i, 1])], cap(node_load[i], BACKUP_MARGIN[0], BACKUP_MARGIN[1]))
                )
    cell_node = [names[int(o)] for o in owner]
    return nodes, cell_node, [{"src": s, "dst": d, "capacity_gbps": max(c, 0.01)} for s, d, c in links]


def generate_family(city: dict[str, Any], family: str, ood: bool, seed: int = 0) -> dict[str, Any]:
    """A shock family on ``city`` (scenario data): ``<city>-<family>-id`` or ``-ood``, nominal the ID one."""
    _check("family", family, FAMILIES)
    rng = np.random.default_rng([seed, FAMILIES.index(family), int(ood), len(city["city"]["cell_xy"])])
    base = f"{city['name']}-{family}"
    name = f"{base}-{'ood' if ood else 'id'}"
    side = city["city"]["size_m"]
    out: dict[str, Any] = {
        **{k: v for k, v in city.items() if k not in ("name", "description", "family", "ood", "nominal")},
        "name": name,
        "description": f"{family} shocks on {city['name']}, {'out of' if ood else 'in'} distribution.",
        "family": family,
        "ood": ood,
        "nominal": f"{base}-id",
    }
    scale = math.sqrt(side / 2000.0)  # shocks widen with the city, as its spacing does
    hot = {
        "rate": 0.4 if ood else 0.3,
        "intensity": 3.0 if ood else 2.0,
        "radius_m": round((380.0 if ood else 300.0) * scale, 1),
        "center_sigma_m": round(250.0 * scale, 1),
        "duration_steps": 5 if ood else 3,
        "fail_boost": 0.04 if ood else 0.0,
    }
    failures: dict[str, Any] = {"prob": 0.012 if ood else 0.005, "repair_steps": 4 if ood else 3}
    if family == "hotspot":
        out["hotspot"] = hot
    elif family == "wave":
        out["wave"] = {
            "rate": 0.3 if ood else 0.25,
            "intensity": 1.5 if ood else 1.0,
            "duration_steps": 8 if ood else 6,
            "width_m": round(350.0 * scale, 1),
            "cross_load": 0.5 if ood else 0.4,
            "fail_boost": 0.08 if ood else 0.05,
        }
    elif family == "crowds":
        out["events"] = _crowds(rng, city, ood, scale)
    elif family == "cell-hotspot":
        xy = np.asarray(city["city"]["cell_xy"])
        outside = [i for i, p in enumerate(xy) if not any(_in_zone(p, z) for z in city["city"]["zones"])]
        cell = int(rng.choice(outside)) if outside else int(rng.integers(0, len(xy)))
        out["hotspot"] = {**hot, "at": f"cell:{cell}", "center_sigma_m": round(100.0 * scale, 1)}
    else:  # outage: hotspots, the busiest spoke down for a stretch, a backup degraded
        links = city["transport"]["links"]
        trunks = [lk for lk in links if lk["dst"] == "N0"]
        busiest = max(trunks, key=lambda lk: lk["capacity_gbps"])
        backups = [lk for lk in links if lk["dst"] != "N0"] or trunks
        degraded = backups[int(rng.integers(0, len(backups)))]
        start = int(rng.integers(2, 7))
        out["hotspot"] = hot
        failures["scheduled"] = [
            {"link": f"{busiest['src']}->{busiest['dst']}", "start_step": start, "duration_steps": 4 if ood else 2},
            {
                "link": f"{degraded['src']}->{degraded['dst']}",
                "start_step": int(rng.integers(0, 6)),
                "duration_steps": 6,
                "capacity_factor": 0.4 if ood else 0.6,
            },
        ]
    out["failures"] = failures
    return out


def _crowds(rng: np.random.Generator, city: dict[str, Any], ood: bool, scale: float) -> list[dict[str, Any]]:
    """2-3 (OOD: 3-4) surge events drawn from the event language: each sits at a random site or
    crosses the city between two random points, starts at random or at a drawn step, and weighs
    the slices at random."""
    xy = np.asarray(city["city"]["cell_xy"])
    side = city["city"]["size_m"]
    events = []
    for _ in range(int(rng.integers(3, 5) if ood else rng.integers(2, 4))):
        ev: dict[str, Any] = {
            "duration_steps": int(rng.integers(3, 7) if ood else rng.integers(2, 5)),
            "intensity": round(float(rng.uniform(2.0, 3.5) if ood else rng.uniform(1.2, 2.5)), 2),
            "radius_m": round(float(rng.uniform(250.0, 400.0)) * scale, 1),
            "slice_gain": [round(float(g), 2) for g in rng.dirichlet([1.0, 1.0, 1.0]) * 2.0],
            "fail_boost": 0.03 if ood else 0.0,
        }
        if rng.random() < 0.5:
            ev["at"] = f"cell:{int(rng.integers(0, len(xy)))}"
            ev["center_sigma_m"] = round(100.0 * scale, 1)
        else:
            a, b = rng.uniform(0.05 * side, 0.95 * side, (2, 2))
            ev["path"] = [
                [round(float(a[0]), 1), round(float(a[1]), 1)],
                [round(float(b[0]), 1), round(float(b[1]), 1)],
            ]
            ev["cross_load"] = round(float(rng.uniform(0.1, 0.4)), 2)
        if rng.random() < 0.5:
            ev["start_step"] = int(rng.integers(0, 9))
        else:
            ev["rate"] = round(float(rng.uniform(0.15, 0.3) if ood else rng.uniform(0.1, 0.2)), 2)
        events.append(ev)
    return events


def generate(
    seed: int,
    cells: int,
    layout: str = "random",
    transport: str = "hub-and-spoke",
    families: tuple[str, ...] = ("hotspot", "wave"),
) -> list[dict[str, Any]]:
    """The ID and OOD scenario of each family on one generated city (ID first, as nominal)."""
    city = generate_city(seed, cells, layout, transport)
    return [generate_family(city, f, ood, seed) for f in families for ood in (False, True)]
