"""The candidate library: 256 deterministic twelve-step policies derived from the city (paper X-C).

Every candidate is built from public scenario data only (zones, nominal per-slice demand, transport
routes with every link up). The library has two parts.

**The template grid** (192): the product of four choices,

* radio template (8): how each cell's PRBs are split among slices (uniform, demand-proportional,
  zone guards, URLLC-lean, ...);
* transport template (4): how each link's bandwidth is split (uniform, proportional to the nominal
  traffic it carries, URLLC priority, corridor boost);
* schedule (2): constant, or following the busy-hour profile (cheaper off-peak, at the price of
  switching cost);
* scale (3): the fraction of the resources provisioned, 1.0 / 0.85 / 0.7 (cheaper variants).

**Focus plans** (64): each acts on one *group* of the city and leaves the rest of the network on
the headroom split (radio) and the proportional split (transport) at a *level*: as many levels as
it takes to fill the library, evenly spaced from 1.0 down to :data:`FOCUS_FLOOR` (the paper city's
5 groups: 1.00, 0.87, 0.73, 0.60). The groups partition the cells by the transport node that serves them (at most 16: a
scenario has at most 16 links and each serving node needs one); a group's links are those on its
cells' routes (a link on several routes goes to the first group) and those leaving its node (a
link in no group joins the nearest one). Per group, four modes:

* ``guard-embb``, ``guard-urllc``, ``guard-fwa``: the group's cells and links at full provision
  with that slice's share raised to at least :data:`GUARD_SHARE` (protect the group);
* ``lean``: the group's cells and links at :data:`LEAN_SCALE` of the level (de-prioritize it).

Plans are taken level by level, group by group, mode by mode, until the library has 256. So every
cell, zone and link is protected (and every cell and link de-prioritized) by some plan, whatever
the city. Candidate 0 is the uniform 1/3 allocation.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from twm_gym.core.compiled import Compiled, compile_scenario
from twm_gym.core.params import FWA, URLLC, ZONES, Scenario

F32 = NDArray[np.float32]

RADIO_TEMPLATES = (
    "uniform",
    "proportional",
    "headroom",
    "zone-guard",
    "tilt",
    "urllc-lean",
    "hospital-first",
    "fwa-first",
)
TRANSPORT_TEMPLATES = ("uniform", "proportional", "urllc-priority", "corridor-boost")
SCHEDULES = ("constant", "busy-hour")
SCALES = (1.0, 0.85, 0.7)
LIBRARY_SIZE = 256
FOCUS_MODES = ("guard-embb", "guard-urllc", "guard-fwa", "lean")
FOCUS_FLOOR = 0.6
"""Lowest level (provision of the rest of the network) of a focus plan."""
GUARD_SHARE = 0.35
"""Least share of the guarded slice in a ``guard-*`` focus plan's cells and links."""
LEAN_SCALE = 0.7
"""Provision of a ``lean`` plan's group, relative to the rest of the network."""


@dataclass(frozen=True, eq=False)
class CandidateLibrary:
    """``N`` candidate policies: PRB shares ``p (N, T, C, S)`` and link shares ``b (N, T, L, S)``."""

    p: F32
    b: F32
    names: tuple[str, ...]  # "radio/transport/schedule/scale", e.g. "uniform/uniform/constant/1.00" or
    # "guard-urllc@N3/focus@N3/constant/0.85" (a focus plan: mode@group, level)

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Position of a candidate by name; raises ``KeyError`` naming a few valid ones."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"unknown candidate {name!r}; e.g. {', '.join(self.names[:3])}, ...") from None


def _rows(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return x / x.sum(axis=-1, keepdims=True)


def _radio_templates(comp: Compiled) -> NDArray[np.float64]:
    """``(8, C, S)`` per-cell slice splits, each summing to 1."""
    demand = comp.base_demand.astype(np.float64)
    hospital = comp.zones[ZONES.index("hospital")]
    fwa = comp.zones[ZONES.index("fwa")]
    prop = _rows(demand + 1e-6)
    headroom = _rows(demand * np.array([1.0, 2.5, 1.2]) + 1e-6)
    guard = headroom.copy()
    guard[hospital, URLLC] = np.maximum(guard[hospital, URLLC], 0.35)
    guard[fwa, FWA] = np.maximum(guard[fwa, FWA], 0.35)
    lean = demand.copy()
    lean[:, URLLC] = 0.0
    lean = _rows(lean + 1e-6) * 0.9
    lean[:, URLLC] = 0.1
    hosp_first = headroom.copy()
    hosp_first[hospital] = [0.4, 0.5, 0.1]
    fwa_first = headroom.copy()
    fwa_first[fwa, FWA] = 0.5
    fwa_first[fwa, 0] = 0.5 - fwa_first[fwa, URLLC]
    templates = [
        np.full_like(demand, 1.0 / 3.0),
        prop,
        headroom,
        _rows(guard),
        0.5 * (1.0 / 3.0) + 0.5 * headroom,
        lean,
        _rows(hosp_first),
        _rows(np.maximum(fwa_first, 0.0)),
    ]
    return np.stack(templates)


def _transport_templates(comp: Compiled) -> NDArray[np.float64]:
    """``(4, L, S)`` per-link slice splits, each summing to 1 (routes with every link up)."""
    n_links = comp.n_links
    route, _ = comp.routing.routes(np.ones((1, n_links), dtype=bool))
    node_demand = comp.node_cell.T.astype(np.float64) @ comp.base_demand  # (N, S)
    carried = route[0].T.astype(np.float64) @ node_demand  # (L, S) nominal traffic per link
    # Backup links carry nothing nominally: give them the network-wide mix.
    mix = node_demand.sum(axis=0)
    carried = np.where(carried.sum(axis=1, keepdims=True) > 0, carried, mix)
    prop = _rows(carried * np.array([1.0, 2.0, 1.0]) + 1e-6)
    urllc = prop.copy()
    urllc[:, URLLC] = np.maximum(urllc[:, URLLC], 0.2)
    corridor_nodes = comp.node_cell.T @ comp.zones[ZONES.index("corridor")].astype(np.float32) > 0
    boost = prop.copy()
    on_corridor = np.array([src >= 0 and bool(corridor_nodes[src]) for src in comp.link_src])
    boost[on_corridor, 0] *= 1.3
    return np.stack([np.full((n_links, 3), 1.0 / 3.0), prop, _rows(urllc), _rows(boost)])


@dataclass(frozen=True, eq=False)
class Group:
    """Part of a city a focus plan acts on: the cells one transport node serves, and their links."""

    name: str  # the serving node's name, e.g. "N3"
    cells: NDArray[np.bool_]  # (C,)
    links: NDArray[np.bool_]  # (L,)


def city_groups(comp: Compiled) -> tuple[Group, ...]:
    """The focus groups of a city (module docstring): every cell and every link is in exactly one."""
    members = sorted(set(comp.cell_node.tolist()))  # source nodes that serve cells
    cells = comp.cell_node[None, :] == np.array(members)[:, None]  # (G, C)
    links = (cells.astype(np.float32) @ comp.cell_link > 0) | (comp.link_src[None, :] == np.array(members)[:, None])
    links &= np.cumsum(links, axis=0) == 1  # a link on several groups' routes belongs to the first
    centers = np.array([comp.cell_xy[c].mean(axis=0) for c in cells])
    for link in np.flatnonzero(~links.any(axis=0)):  # e.g. a link leaving a node that serves no cell
        links[int(np.argmin(np.linalg.norm(centers - comp.link_xy[link], axis=1))), link] = True
    sources = comp.routing.sources
    return tuple(Group(name=sources[n], cells=c, links=lk) for n, c, lk in zip(members, cells, links, strict=True))


def _guard(x: NDArray[np.float64], s: int, floor: float) -> NDArray[np.float64]:
    """Rows of ``x`` (summing to 1) with slice ``s``'s share raised to ``floor``, the others scaled down."""
    low = x[:, s] < floor
    raised = x * ((1.0 - floor) / np.maximum(1.0 - x[:, s], 1e-9))[:, None]
    raised[:, s] = floor
    return np.where(low[:, None], raised, x)


def _focus_plans(
    comp: Compiled, count: int, radio: NDArray[np.float64], transport: NDArray[np.float64]
) -> tuple[list[NDArray[np.float64]], list[NDArray[np.float64]], list[str]]:
    """The first ``count`` focus plans: per-cell ``(C, S)`` and per-link ``(L, S)`` shares and names."""
    p_all: list[NDArray[np.float64]] = []
    b_all: list[NDArray[np.float64]] = []
    names: list[str] = []
    groups = city_groups(comp)
    n_levels = -(-count // (len(groups) * len(FOCUS_MODES)))
    levels = np.linspace(1.0, FOCUS_FLOOR, n_levels) if n_levels > 1 else np.ones(1)
    for level, group, mode in itertools.product(levels, groups, FOCUS_MODES):
        if len(names) == count:
            break
        p, b = radio * level, transport * level
        cells, links = group.cells, group.links
        if mode == "lean":
            p[cells], b[links] = radio[cells] * LEAN_SCALE * level, transport[links] * LEAN_SCALE * level
        else:
            s = FOCUS_MODES.index(mode)  # guard-embb, guard-urllc, guard-fwa: slices 0, 1, 2
            p[cells], b[links] = _guard(radio[cells], s, GUARD_SHARE), _guard(transport[links], s, GUARD_SHARE)
        p_all.append(p)
        b_all.append(b)
        names.append(f"{mode}@{group.name}/focus@{group.name}/constant/{level:.2f}")
    return p_all, b_all, names


@functools.lru_cache(maxsize=8)
def candidate_library(scenario: Scenario) -> CandidateLibrary:
    """The 256-candidate library of ``scenario``'s city (cached; arrays are read-only)."""
    comp = compile_scenario(scenario)
    horizon = scenario.horizon
    radio = _radio_templates(comp)
    transport = _transport_templates(comp)
    bump = np.sin(np.pi * (np.arange(horizon) + 0.5) / horizon)
    schedules = np.stack([np.ones(horizon), 0.88 + 0.12 * bump])  # (2, T) multiplier of the scale
    combos = list(
        itertools.product(
            range(len(RADIO_TEMPLATES)), range(len(TRANSPORT_TEMPLATES)), range(len(SCHEDULES)), range(len(SCALES))
        )
    )
    r_idx, t_idx, s_idx, f_idx = (np.array(col) for col in zip(*combos, strict=False))
    level = schedules[s_idx] * np.asarray(SCALES)[f_idx][:, None]  # (N, T)
    p = radio[r_idx][:, None] * level[:, :, None, None]
    b = transport[t_idx][:, None] * level[:, :, None, None]
    names = [f"{RADIO_TEMPLATES[r]}/{TRANSPORT_TEMPLATES[t]}/{SCHEDULES[s]}/{SCALES[f]:.2f}" for r, t, s, f in combos]
    fp, fb, fnames = _focus_plans(
        comp, LIBRARY_SIZE - len(names), radio[RADIO_TEMPLATES.index("headroom")], transport[1]
    )
    ones = np.ones((horizon, 1, 1))
    p32 = np.concatenate([p, np.stack(fp)[:, None] * ones]).astype(np.float32)
    b32 = np.concatenate([b, np.stack(fb)[:, None] * ones]).astype(np.float32)
    p32.flags.writeable = False
    b32.flags.writeable = False
    return CandidateLibrary(p=p32, b=b32, names=tuple(names + fnames))
