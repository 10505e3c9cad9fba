"""The candidate library: 256 deterministic twelve-step policies derived from the city (paper X-C).

A candidate is the product of four choices, each computed from public scenario data only (zones,
nominal per-slice demand, transport routes with every link up):

* radio template (8): how each cell's PRBs are split among slices (uniform, demand-proportional,
  zone guards, URLLC-lean, ...);
* transport template (4): how each link's bandwidth is split (uniform, proportional to the nominal
  traffic it carries, URLLC priority, corridor boost);
* schedule (2): constant, or following the busy-hour profile (cheaper off-peak, at the price of
  switching cost);
* scale (4): the fraction of the resources provisioned, 1.0 / 0.92 / 0.85 / 0.7 (cheaper variants).

8 x 4 x 2 x 4 = 256 candidates; candidate 0 is the uniform 1/3 allocation.
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
SCALES = (1.0, 0.92, 0.85, 0.7)


@dataclass(frozen=True, eq=False)
class CandidateLibrary:
    """``N`` candidate policies: PRB shares ``p (N, T, C, S)`` and link shares ``b (N, T, L, S)``."""

    p: F32
    b: F32
    names: tuple[str, ...]  # "radio/transport/schedule/scale", e.g. "uniform/uniform/constant/1.00"

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
    names = tuple(
        f"{RADIO_TEMPLATES[r]}/{TRANSPORT_TEMPLATES[t]}/{SCHEDULES[s]}/{SCALES[f]:.2f}" for r, t, s, f in combos
    )
    p32, b32 = p.astype(np.float32), b.astype(np.float32)
    p32.flags.writeable = False
    b32.flags.writeable = False
    return CandidateLibrary(p=p32, b=b32, names=names)
