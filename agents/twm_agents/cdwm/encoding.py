"""City-free CDWM inputs: cells and links as sets, read through the city's structure.

A CDWM on the flat ``TWM/Slicing-v0`` vectors fits one city's shape. With ``encoding="sets"``
(:class:`CityEncoding`) it reads fixed-width summaries instead, the same width for a city of any
size, so one checkpoint serves every city it was trained across (the paper's section VIII points to
cells as a set and the transport as a graph):

* **observations**: every per-cell or per-link key pooled over its cells or links by mean, max and
  min (per slice for ``C*S`` / ``L*S`` keys); the per-slice, shock and time keys as they are. The
  ``csw_*`` keys come first, as in the flat layout (the model encodes the two worlds apart).
* **actions**, per step and slice: the radio shares pooled over cells and the bandwidth shares
  over links (mean, min, max), and the *provisioning ratios* against the city's nominal load at
  that step of the horizon: per cell ``p[c, s] x capacity[c] / demand[c, s](t)`` and per link
  ``b[l, s] x mbps[l] / load[l, s](t)`` (the nominal demand routed over the intact transport), in
  log, by their load-weighted mean and their minimum (the cell or link that binds first). Shares
  are the ones the twin applies (projected).

The nominal quantities are the scenario's own (:func:`~twm_gym.core.compiled.compile_scenario`):
``base_demand`` times the horizon profile, the cells' ``nominal_capacity``, the links' ``link_mbps``
and the intact routes ``cell_link``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from twm_gym.core.compiled import compile_scenario
from twm_gym.core.params import SLICES, Scenario
from twm_gym.envs.layout import OBSERVATION_KEYS, Layout, layout_for

F32 = NDArray[np.float32]

ENCODINGS: tuple[str, ...] = ("flat", "sets")
"""How a CDWM reads observations and actions: the city's flat vectors, or city-free set summaries."""
OBSERVATIONS: tuple[str, ...] = ("all", "csw")
"""Which observations a CDWM reads: every key, or the controllable world's alone (the paper's
CDWM-only baseline: "RSSM ranking only (CSW), no spatial features")."""
_S = len(SLICES)
_POOLS = 3  # mean, max, min
_LOG_RATIO = (-7.0, 4.0)  # bounds of a log provisioning ratio (1e-3 .. 55x the nominal load)
ACTION_WIDTH = 2 * _POOLS * _S + 2 * 2 * _S
"""Per step: radio and bandwidth shares (3 pools x S each), radio and link log ratios (2 pools x S each)."""


def _pooled_width(kind: str) -> int:
    if kind in ("C*S", "L*S"):
        return _POOLS * _S
    if kind in ("C", "L"):
        return _POOLS
    return {"S": _S}.get(kind, int(kind) if kind.isdigit() else -1)


OBS_WIDTH = sum(_pooled_width(kind) for kind, *_ in OBSERVATION_KEYS.values())
CSW_WIDTH = sum(_pooled_width(kind) for key, (kind, *_) in OBSERVATION_KEYS.items() if key.startswith("csw_"))


def _pool(x: F32, axis: int) -> list[F32]:
    return [x.mean(axis=axis), x.max(axis=axis), x.min(axis=axis)]


@dataclass(frozen=True, eq=False)
class CityEncoding:
    """The set summaries of one city's observations and actions (widths :data:`OBS_WIDTH`, :data:`ACTION_WIDTH`)."""

    layout: Layout
    demand: F32  # (T, C, S) nominal offered load per step of the horizon, Mbps
    capacity: F32  # (C,) cell capacity at full PRB share, Mbps
    link_load: F32  # (T, L, S) nominal load routed over each link (intact transport), Mbps
    link_mbps: F32  # (L,) link capacity, Mbps

    @classmethod
    def of(cls, scenario: Scenario) -> CityEncoding:
        return _encoding(scenario)

    def obs(self, flat: F32) -> F32:
        """``(..., OBS_WIDTH)`` from flat observations ``(..., D)`` (``OBSERVATION_KEYS`` order)."""
        flat = np.asarray(flat, np.float32)
        c, n_links, out, i = self.layout.n_cells, self.layout.n_links, [], 0
        for key, (kind, *_) in OBSERVATION_KEYS.items():
            size = self.layout.sizes[key]
            x = flat[..., i : i + size]
            i += size
            if kind in ("C*S", "L*S"):
                n = c if kind == "C*S" else n_links
                out += _pool(x.reshape(*x.shape[:-1], n, _S), axis=-2)
            elif kind in ("C", "L"):
                out += [v[..., None] for v in _pool(x, axis=-1)]
            else:
                out.append(x)
        if i != flat.shape[-1]:
            raise ValueError(f"obs: expected {i} entries per observation for this city, got {flat.shape[-1]}")
        return np.concatenate(out, axis=-1).astype(np.float32)

    def actions(self, p: F32, b: F32, t0: int) -> F32:
        """``(N, H, ACTION_WIDTH)`` from shares ``p (N, H, C, S)``, ``b (N, H, L, S)`` of steps ``t0 .. t0 + H - 1``."""
        horizon = p.shape[1]
        if t0 < 0 or t0 + horizon > len(self.demand):
            raise ValueError(f"steps {t0}..{t0 + horizon - 1} lie outside the horizon of {len(self.demand)}")
        d, q = self.demand[t0 : t0 + horizon][None], self.link_load[t0 : t0 + horizon][None]
        radio = self._log_ratio(p * self.capacity[:, None], d)
        link = self._log_ratio(b * self.link_mbps[:, None], q)
        parts = [*_pool(p, axis=2), *_pool(b, axis=2), *radio, *link]
        return np.concatenate(parts, axis=-1).astype(np.float32)

    @staticmethod
    def _log_ratio(supply: F32, load: F32) -> list[F32]:
        """Load-weighted mean and minimum over axis 2 of ``log(supply / load)`` where the load is positive."""
        live = np.broadcast_to(load > 0, supply.shape)
        ratio = np.log(np.maximum(supply, 1e-9) / np.where(live, load, 1.0))
        ratio = np.clip(ratio, *_LOG_RATIO)
        weight = np.broadcast_to(np.where(load > 0, load, 0.0), supply.shape)
        total = weight.sum(axis=2)
        mean = (weight * ratio).sum(axis=2) / np.where(total > 0, total, 1.0)
        low = np.where(live, ratio, np.inf).min(axis=2)
        return [mean, np.where(np.isfinite(low), low, 0.0)]

    def history(self, act: F32) -> F32:
        """``(N, t, ACTION_WIDTH)`` from flat actions ``(N, t, A)`` of steps ``0 .. t - 1`` (projected first)."""
        n, t = act.shape[:2]
        if t == 0:
            return np.zeros((n, 0, ACTION_WIDTH), np.float32)
        p, b = self.layout.project(act.reshape(n * t, -1))
        return self.actions(p.reshape(n, t, *p.shape[1:]), b.reshape(n, t, *b.shape[1:]), 0)


@lru_cache(maxsize=32)
def _encoding(scenario: Scenario) -> CityEncoding:
    comp = compile_scenario(scenario)
    demand = (comp.base_demand[None] * comp.profile[:, None, :]).astype(np.float32)  # (T, C, S)
    link_load = np.einsum("cl,tcs->tls", comp.cell_link, demand).astype(np.float32)
    return CityEncoding(
        layout=layout_for(scenario),
        demand=demand,
        capacity=np.asarray(comp.nominal_capacity, np.float32),
        link_load=link_load,
        link_mbps=np.asarray(comp.link_mbps, np.float32),
    )
