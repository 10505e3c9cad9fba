"""Spaces shared by every face of the twin: the action layout and the CSW/EGW observation.

The action is one float32 ``Box`` of length ``C*S + L*S``: an entry per PRB share ``p[c, s]``
row-major (cell, slice), then per bandwidth share ``b[l, s]`` row-major (link, slice), slices in
``SLICES`` order (eMBB, URLLC, FWA). :meth:`Layout.pack` / :meth:`Layout.unpack` convert. Two
forms (:data:`ACTION_MODES`), both ours:

* ``"relative"`` (the envs' default): ``Box(-1, 1)``; entry ``a`` asks for the share
  ``2**a / 3``, the uniform third times a factor from 1/2 to 2 (one octave each way), so the zero
  action is the uniform allocation and no slice is ever starved (at least 1/6 of a cell or link
  before the over-full projection). Entries outside [-1, 1] are clipped. Gaussian policies centred
  on 0 (Stable-Baselines3's and CleanRL's defaults) explore around the uniform allocation here.
* ``"shares"``: ``Box(0, 1)``, the shares themselves (any allocation, 0 included).

Either way a cell's (link's) shares summing above 1 are scaled down proportionally to sum to 1.

The observation is a flat ``Dict`` of 1-D float32 ``Box``es with finite bounds. ``csw_*`` keys come
from the controllable system world, ``egw_*`` keys from the exogenous world (paper eq. 1). Exogenous
keys describe the *last drawn* step (what is observable before acting; the nominal start state at
reset). Every key, its shape, bounds and units are in :data:`OBSERVATION_KEYS`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, NDArray

from twm_gym.core.compiled import Compiled, compile_scenario
from twm_gym.core.csw import StepResult
from twm_gym.core.egw import nominal_drivers, shock_centers
from twm_gym.core.params import SLICES, Scenario
from twm_gym.core.state import CSWState, Drivers, EGWState

F32 = NDArray[np.float32]
_ZERO, _ONE = np.zeros((), np.float32), np.ones((), np.float32)
_MINUS_ONE, _THREE = np.float32(-1.0), np.float32(3.0)

DEMAND_CLIP = 10.0
"""``egw_demand`` is offered load over the cell's nominal capacity, clipped to [0, DEMAND_CLIP]."""
SINR_RANGE_DB = (-20.0, 30.0)
"""``egw_sinr_db`` is clipped to this range, dB."""
_SINR_LOW, _SINR_HIGH = np.float32(SINR_RANGE_DB[0]), np.float32(SINR_RANGE_DB[1])

# key: (size as a function of (C, L, S), low, high, meaning and units)
OBSERVATION_KEYS: dict[str, tuple[str, float, float, str]] = {
    "csw_prb_share": ("C*S", 0.0, 1.0, "PRB shares applied at the last step (uniform 1/3 at reset), fraction"),
    "csw_bw_share": ("L*S", 0.0, 1.0, "bandwidth shares applied at the last step, fraction"),
    "csw_radio_backlog": ("C*S", 0.0, 1.0, "radio queue backlog over the slice's radio buffer, fraction"),
    "csw_link_backlog": ("L*S", 0.0, 1.0, "link queue backlog over the slice's link buffer, fraction"),
    "csw_radio_util": ("C*S", 0.0, 1.0, "served over allocated radio capacity in the last step, fraction"),
    "csw_link_util": ("L*S", 0.0, 1.0, "sent over allocated link capacity in the last step, fraction"),
    "csw_route_hops": ("C", 0.0, 1.0, "links on the cell's current path to the hub over L (0: no path)"),
    "csw_reachable": ("C", 0.0, 1.0, "1 where the cell's node has a path to the hub"),
    "csw_slice_loss": ("S", 0.0, 1.0, "loss rate of each slice in the last step, fraction of offered"),
    "csw_urllc_latency": ("C", 0.0, 1.0, "worst URLLC latency sample of the last step over the cap, fraction"),
    "egw_demand": ("C*S", 0.0, DEMAND_CLIP, "mean offered load over the cell's nominal capacity, ratio"),
    "egw_capacity": ("C", 0.0, 1.0, "cell capacity at full PRB share over bandwidth x SE_max, fraction"),
    "egw_sinr_db": ("C", *SINR_RANGE_DB, "effective SINR of the cell, dB"),
    "egw_activity": ("C", 0.0, 1.0, "interference activity factor of the cell"),
    "egw_link_up": ("L", 0.0, 1.0, "1 where the link is up"),
    "egw_link_avail": ("L", 0.0, 1.0, "link capacity left after failures and cross traffic, fraction"),
    "egw_hotspot": ("4", 0.0, 1.0, "hotspot: active, steps left / duration, centre x / size, centre y / size"),
    "egw_wave": ("4", 0.0, 1.0, "wave: active, steps left / duration, front x / size, front y / size"),
    "egw_time": ("1", 0.0, 1.0, "slow steps taken / horizon"),
}


ACTION_MODES = ("relative", "shares")
"""The action forms of the slicing envs (see the module docstring)."""


def check_action_mode(mode: str) -> str:
    if mode not in ACTION_MODES:
        raise ValueError(f"action_mode {mode!r} is not one of {list(ACTION_MODES)}")
    return mode


def _size(expr: str, c: int, n_links: int) -> int:
    return int(eval(expr, {}, {"C": c, "L": n_links, "S": len(SLICES)}))


@dataclass(frozen=True, eq=False)
class Layout:
    """Spaces and conversions for one scenario's shape (``C`` cells, ``L`` links, 3 slices)."""

    comp: Compiled

    @property
    def n_cells(self) -> int:
        return self.comp.n_cells

    @property
    def n_links(self) -> int:
        return self.comp.n_links

    @property
    def action_size(self) -> int:
        return (self.n_cells + self.n_links) * 3

    @functools.cached_property
    def sizes(self) -> dict[str, int]:
        return {key: _size(spec[0], self.n_cells, self.n_links) for key, spec in OBSERVATION_KEYS.items()}

    def action_space(self, mode: str = "shares") -> spaces.Box:
        """The action ``Box`` of ``mode`` (:data:`ACTION_MODES`): [-1, 1] relative or [0, 1] shares."""
        low = -1.0 if check_action_mode(mode) == "relative" else 0.0
        return spaces.Box(low, 1.0, shape=(self.action_size,), dtype=np.float32)

    def shares(self, action: object, mode: str, name: str = "action", batch: int | None = None) -> tuple[F32, F32]:
        """``(p, b)`` shares of an action of form ``mode``, validated and projected (rows sum to <= 1).

        ``relative``: ``2**clip(a, -1, 1) / 3``, each row scaled to sum to 1 where it sums above 1,
        computed as ``2**a / max(sum(2**a), 3)`` (one pass); ``shares``: :meth:`validate`, then
        :meth:`project`. ``(p, b)`` have the action's leading (batch) dimensions.
        """
        if mode == "shares":
            return self.project(self.validate(action, name, batch))
        arr = self._checked(action, name, batch, lambda a: np.isfinite(a.sum(dtype=np.float64)), "finite")
        rows = np.exp2(np.clip(arr, _MINUS_ONE, _ONE)).reshape(*arr.shape[:-1], -1, 3)
        rows /= np.maximum(rows.sum(axis=-1, keepdims=True), _THREE)
        n_c = self.n_cells
        return rows[..., :n_c, :], rows[..., n_c:, :]

    def observation_space(self) -> spaces.Dict:
        return spaces.Dict(
            {
                key: spaces.Box(low, high, shape=(self.sizes[key],), dtype=np.float32)
                for key, (_, low, high, _) in OBSERVATION_KEYS.items()
            }
        )

    def pack(self, p: ArrayLike, b: ArrayLike) -> F32:
        """The flat action of PRB shares ``p (C, S)`` and bandwidth shares ``b (L, S)`` (batched: ``(N, C, S)``)."""
        p_arr, b_arr = np.asarray(p, dtype=np.float32), np.asarray(b, dtype=np.float32)
        lead = p_arr.shape[:-2]
        return np.concatenate([p_arr.reshape(*lead, -1), b_arr.reshape(*lead, -1)], axis=-1)

    def unpack(self, action: ArrayLike) -> tuple[F32, F32]:
        """``(p, b)`` views of a flat action ``(..., C*S + L*S)``: ``p (..., C, S)``, ``b (..., L, S)``."""
        a = np.asarray(action)
        lead, n_p = a.shape[:-1], self.n_cells * 3
        return a[..., :n_p].reshape(*lead, self.n_cells, 3), a[..., n_p:].reshape(*lead, self.n_links, 3)

    def describe_index(self, i: int) -> str:
        """What entry ``i`` of the flat action is, e.g. ``"p: cell 3, slice urllc"``."""
        n_p = self.n_cells * 3
        if i < n_p:
            return f"p: cell {i // 3}, slice {SLICES[i % 3]}"
        return f"b: link {(i - n_p) // 3}, slice {SLICES[(i - n_p) % 3]}"

    def validate(self, action: object, name: str = "action", batch: int | None = None) -> F32:
        """A shares action as float32, or ``ValueError`` naming the problem (shape, dtype, NaN, inf, negative).

        Entries above 1 are accepted: as in the core, a cell's (link's) slice shares summing above 1
        are scaled down proportionally (``core/csw.py:project_shares``).
        """

        def ok(a: F32) -> bool:
            return bool(a.min() >= 0 and np.isfinite(a.sum(dtype=np.float64)))

        return self._checked(action, name, batch, ok, "finite and >= 0")

    def _checked(self, action: object, name: str, batch: int | None, ok: Any, rule: str) -> F32:
        """``action`` as float32 of the right shape whose entries pass ``ok``; else ``ValueError`` naming one."""
        arr = np.asarray(action)
        shape = (self.action_size,) if batch is None else (batch, self.action_size)
        if arr.dtype.kind not in "fiu":
            raise ValueError(f"{name} must be a real-valued array, got dtype {arr.dtype}")
        if arr.shape != shape:
            raise ValueError(
                f"{name} has shape {arr.shape}; expected {shape} (p then b entries, see the action layout)"
            )
        arr = arr.astype(np.float32, copy=False)
        if not ok(arr):
            flat = arr.reshape(-1, self.action_size)
            bad = ~np.isfinite(flat) | ((flat < 0) if rule.endswith(">= 0") else False)
            row, col = divmod(int(np.flatnonzero(bad)[0]), self.action_size)
            value = flat[row, col]
            where = f"{name}[{col}]" if batch is None else f"{name}[{row}, {col}]"
            kind = "negative" if np.isfinite(value) else str(value)
            what = self.describe_index(col)
            raise ValueError(f"{where} ({what}) is {kind} ({value}); entries must be {rule}")
        return arr

    def project(self, action: F32) -> tuple[F32, F32]:
        """``(p, b)`` of a validated action, each cell's (link's) slice shares scaled to sum <= 1.

        The same projection as ``core/csw.py:project_shares`` (proportional scaling of over-full rows).
        """
        rows = action.reshape(*action.shape[:-1], -1, 3)
        total = rows.sum(axis=-1, keepdims=True)
        over = total > 1.0
        if over.any():
            rows = np.where(over, rows / np.maximum(total, np.float32(1e-30)), rows).astype(np.float32)
        n_c = self.n_cells
        return rows[..., :n_c, :], rows[..., n_c:, :]


def exo_seed_option(options: dict[str, Any] | None) -> Any:
    """The ``exo_seed`` of ``reset(options=...)`` (None when absent), checked; any other key is an error."""
    options = options or {}
    unknown = set(options) - {"exo_seed"}
    if unknown:
        raise ValueError(f"unknown reset options {sorted(unknown)}; valid: ['exo_seed']")
    return check_exo_seeds(options.get("exo_seed"))


def check_exo_seeds(value: Any) -> Any:
    """``value`` (an exogenous seed or an array of them; ``None`` passes), or ``ValueError`` naming
    ``options['exo_seed']`` and the valid range: integers in [0, 2**63)."""
    if value is None:
        return None
    try:
        arr = np.asarray(value)
    except (OverflowError, ValueError):
        arr = np.asarray([], dtype=object)
    if arr.dtype.kind not in "iu" or arr.size == 0 or arr.min() < 0 or int(arr.max()) >= 2**63:
        raise ValueError(f"options['exo_seed'] must be non-negative integers below 2**63, got {value!r}")
    return value


@functools.lru_cache(maxsize=32)
def layout_for(scenario: Scenario) -> Layout:
    return Layout(compile_scenario(scenario))


class Observer:
    """Builds batched observations ``{key: (B, n)}`` from the twin's state after a step (or at reset)."""

    def __init__(self, layout: Layout) -> None:
        comp = self.comp = layout.comp
        sc = comp.scenario
        self.layout = layout
        # Ratios are divisions, not products with reciprocals: x / m <= 1 holds exactly in float
        # whenever x <= m, so the bounds need no clipping pass.
        self.radio_buf = np.asarray(sc.sim.radio_buffer_mbit, dtype=np.float32)
        self.link_buf = np.asarray(sc.transport.buffer_mbit, dtype=np.float32)
        self.nominal_capacity = comp.nominal_capacity[:, None]
        field = comp.field
        self.peak = np.float32(field.bandwidth_mhz * field.se_max)
        self.link_mbps = comp.link_mbps
        self.cap_ms = np.float32(sc.sim.latency_cap_ms)
        self.size_m = np.float32(sc.city.size_m)
        self.n_links = np.float32(comp.n_links)
        self.durations = np.array([max(sc.hotspot.duration_steps, 1), max(sc.wave.duration_steps, 1)], np.float32)
        self.nominal = nominal_drivers(comp)

    def observe(
        self, t: int, csw: CSWState, egw: EGWState, drivers: Drivers | None, result: StepResult | None
    ) -> dict[str, F32]:
        """Observation of a batch after step ``t - 1`` (``drivers``/``result`` None at reset, ``t = 0``)."""
        obs = self.observe_csw(csw, result)
        obs.update(self.observe_exo(t, egw, drivers))
        return {key: obs[key] for key in OBSERVATION_KEYS}

    def observe_csw(self, csw: CSWState, result: StepResult | None) -> dict[str, F32]:
        """The keys that depend on the action: shares, backlogs, utilizations, loss, latency."""
        batch = csw.q_radio.shape[0]
        obs: dict[str, F32] = {
            # Copies where a key would otherwise view live state: users keep (and may edit) observations.
            "csw_prb_share": csw.last_p.reshape(batch, -1).copy(),
            "csw_bw_share": csw.last_b.reshape(batch, -1).copy(),
            "csw_radio_backlog": (csw.q_radio / self.radio_buf).reshape(batch, -1),
            "csw_link_backlog": (csw.q_link / self.link_buf).reshape(batch, -1),
        }
        if result is None:
            c3, l3 = self.layout.sizes["csw_radio_util"], self.layout.sizes["csw_link_util"]
            obs["csw_radio_util"] = np.zeros((batch, c3), dtype=np.float32)
            obs["csw_link_util"] = np.zeros((batch, l3), dtype=np.float32)
        else:
            obs["csw_radio_util"] = result.radio_util.reshape(batch, -1).copy()
            obs["csw_link_util"] = result.link_util.reshape(batch, -1).copy()
        if result is None:
            obs["csw_slice_loss"] = np.zeros((batch, 3), dtype=np.float32)
            obs["csw_urllc_latency"] = np.zeros((batch, self.comp.n_cells), dtype=np.float32)
        else:
            obs["csw_slice_loss"] = result.lost / np.maximum(result.offered, np.float32(1e-9))
            obs["csw_urllc_latency"] = result.urllc_delay.max(axis=1) / self.cap_ms
        return obs

    def observe_exo(self, t: int, egw: EGWState, drivers: Drivers | None) -> dict[str, F32]:
        """The keys the exogenous world alone determines: ``egw_*`` and the routing state
        (``csw_route_hops``, ``csw_reachable``: routes follow link failures, not the action)."""
        if drivers is None:
            batch = egw.ar.shape[0]
            drivers = self.nominal if batch == 1 else self.nominal.take(np.zeros(batch, dtype=np.int64))
        obs = self.observe_egw(t, egw, drivers)
        obs["csw_route_hops"] = drivers.route.sum(axis=2) / self.n_links
        obs["csw_reachable"] = drivers.reach.copy()
        return obs

    def observe_egw(self, t: int, egw: EGWState, drivers: Drivers | None) -> dict[str, F32]:
        """The ``egw_*`` keys alone (``drivers`` None: the nominal start state)."""
        batch = egw.ar.shape[0]
        if drivers is None:
            drivers = self.nominal if batch == 1 else self.nominal.take(np.zeros(batch, dtype=np.int64))
        obs: dict[str, F32] = {}
        demand = np.minimum(drivers.demand / self.nominal_capacity, np.float32(DEMAND_CLIP))
        obs["egw_demand"] = demand.reshape(batch, -1)
        obs["egw_capacity"] = np.minimum(drivers.capacity / self.peak, np.float32(1.0))
        obs["egw_sinr_db"] = np.minimum(np.maximum(drivers.sinr_db, _SINR_LOW), _SINR_HIGH)
        obs["egw_activity"] = drivers.activity.copy()
        obs["egw_link_up"] = drivers.link_up.astype(np.float32)
        obs["egw_link_avail"] = drivers.link_avail / self.link_mbps
        obs["egw_hotspot"], obs["egw_wave"] = self._shocks(egw)
        obs["egw_time"] = np.full((batch, 1), t / self.comp.scenario.horizon, dtype=np.float32)
        return obs

    def _shocks(self, egw: EGWState) -> tuple[F32, F32]:
        """``egw_hotspot`` and ``egw_wave``: active, steps left / duration, centre (the wave's front) / city size."""
        batch = egw.ev_left.shape[0]
        out = np.empty((batch, 2, 4), dtype=np.float32)
        left = egw.ev_left[:, :2]  # the hotspot's and the wave's slots of Scenario.shocks
        out[:, :, 0] = left > 0
        out[:, :, 1] = left / self.durations  # left <= duration: exactly <= 1
        out[:, :, 2:] = shock_centers(self.comp, egw.ev_pos, egw.ev_offset)[:, :2]
        out[:, :, 2:] /= self.size_m
        np.minimum(np.maximum(out, _ZERO, out=out), _ONE, out=out)  # a hotspot centre may lie outside the city
        return out[:, 0], out[:, 1]
