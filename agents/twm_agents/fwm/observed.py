"""The exogenous state an agent can infer from what it observes (SPEC §9: the FWM reads observations).

The FWM paints its input channels from an exogenous state (:class:`~twm_gym.core.state.EGWState`)
through the persistence view ``core/egw.py:drivers_of``. A planner must not hand it the
environment's hidden state: :func:`observed_state` builds the state from the ``egw_*`` keys of the
observation at the start of step ``t`` instead, which describe step ``t - 1`` (``envs/layout.py``):

* **links**: ``egw_link_up`` (a link down by the scenario's schedule is left to the schedule, so the
  persistence view reopens it when the schedule does);
* **the hotspot and the wave** (the two shocks the observation reports, ``egw_hotspot`` and
  ``egw_wave``): running or not, and the centre (the wave's front); the state places each at that
  centre, still running, as the persistence view of the true state does;
* **their intensity** (not observed): the surge multiplier ``a_k`` that best explains the observed
  demand, by least squares on the log demand over the cells and slices, where the twin's demand
  model is (``core/egw.py:_drivers``)

  ``log D_cs(t-1) = log(base_cs profile_s(t-1)) + ar_cs - sigma^2/2 + sum_k log(1 + a_k g_k(c) w_ks)``

  with ``g_k`` the shock's Gaussian kernel at its observed centre and ``w_ks`` its slice gains;
* **the demand deviation** ``ar_cs``: the residual of that fit, so the state reproduces the
  observed demand of every cell and slice exactly (up to ``DEMAND_CLIP``). Surges the observation
  does not report (the scenario's further ``events``) and a city whose demand level differs from
  the agent's nominal model reach the FWM this way, as demand; their extra users per pixel do not.

At the first step nothing has been observed but the nominal start (the environments observe the
nominal drivers at reset): the state is the start state. Units: demand in Mbps, centres in m.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from twm_gym.core.compiled import HOTSPOT, WAVE, Compiled, compile_scenario
from twm_gym.core.egw import _kernel, _may_run, initial_egw
from twm_gym.core.params import Scenario
from twm_gym.core.state import EGWState
from twm_gym.envs.layout import DEMAND_CLIP

F32 = NDArray[np.float32]

SHOCK_KEYS: tuple[tuple[int, str], ...] = ((HOTSPOT, "egw_hotspot"), (WAVE, "egw_wave"))
"""The shocks the observation reports: their slot in ``Compiled.shocks`` and their key."""
INTENSITY_GRID = 97
"""Candidate surge multipliers tried per shock and sweep (0 to ``INTENSITY_RANGE`` x the nominal)."""
INTENSITY_RANGE = 4.0
SWEEPS = 2
"""Coordinate sweeps over the running shocks (one suffices for a single shock)."""


def observed_state(scenario: Scenario, observation: dict[str, NDArray[np.floating]]) -> EGWState:
    """The exogenous state at the start of the observed step, inferred from ``observation``.

    Args:
        scenario: the agent's model of the world (``card.nominal``): its city, demand model and
            shock definitions. The observation may come from another scenario of the same city.
        observation: a ``TWM/Slicing-v0`` observation, one episode (each key ``(n,)``) or a batch
            (each key ``(B, n)``); only its ``egw_*`` keys are read.

    Returns:
        An :class:`EGWState` of batch ``B`` (1 for a single episode) for ``drivers_of`` at the
        observed step and after (the persistence view).
    """
    comp = compile_scenario(scenario)
    obs = {k: np.atleast_2d(np.asarray(v, np.float32)) for k, v in observation.items() if k.startswith("egw_")}
    missing = sorted({"egw_demand", "egw_link_up", "egw_time", "egw_hotspot", "egw_wave"} - set(obs))
    if missing:
        raise KeyError(f"observation: missing {missing}; observed_state reads TWM/Slicing-v0 observations")
    batch, c, k = obs["egw_demand"].shape[0], comp.n_cells, len(comp.shocks)
    state = initial_egw(comp, batch)
    steps = np.rint(obs["egw_time"][:, 0] * scenario.horizon).astype(np.int64)
    seen = steps > 0  # at step 0 the observation is the nominal start
    if not seen.any():
        return state
    t_prev = np.maximum(steps - 1, 0)

    up = obs["egw_link_up"] > 0.5
    scheduled_up = comp.link_factor[np.minimum(t_prev, scenario.horizon - 1)] > 0
    state.down_left[:] = np.where(seen[:, None] & ~up & scheduled_up, 1, 0)

    centers = np.zeros((batch, k, 2), np.float32)
    on = np.zeros((batch, k), bool)
    for slot, key in SHOCK_KEYS:
        if slot >= k:
            continue
        row = obs[key]
        on[:, slot] = seen & (row[:, 0] > 0.5) & _may_run(comp.shocks[slot])
        centers[:, slot] = row[:, 2:4] * np.float32(scenario.city.size_m)
        base = comp.shock_xy[slot] if comp.shock_paths[slot] is None else comp.shock_point(slot, np.zeros(1))[0]
        state.ev_offset[:, slot] = np.where(on[:, slot, None], centers[:, slot] - base, 0.0)
        durations = np.float32(max(comp.shocks[slot].duration_steps, 1))
        state.ev_left[:, slot] = np.where(on[:, slot], np.maximum(np.rint(row[:, 1] * durations), 1), 0)

    demand = obs["egw_demand"].reshape(batch, c, 3) * comp.nominal_capacity[None, :, None]  # Mbps
    clipped = obs["egw_demand"].reshape(batch, c, 3) >= np.float32(DEMAND_CLIP) * np.float32(1 - 1e-6)
    expected = comp.base_demand[None] * comp.profile[t_prev][:, None, :]  # (B, C, S) before deviation and shocks
    valid = (expected > 0) & (demand > 0) & ~clipped & seen[:, None, None]
    sigma2 = np.float32(scenario.demand.ar_sigma**2 / 2)
    y = np.where(valid, np.log(np.where(valid, demand, 1.0)) - np.log(np.where(valid, expected, 1.0)) + sigma2, 0.0)
    gains = _shock_gains(comp, centers)  # (B, K, C, S)
    amp = _fit_intensity(y, valid, gains, on, comp)
    state.ev_intensity[:] = amp
    surge = np.log1p(np.einsum("bk,bkcs->bkcs", amp, gains)).sum(axis=1)
    ar = np.where(valid, y - surge, 0.0)
    state.ar[:] = np.where(seen[:, None, None], ar, 0.0).astype(np.float32)
    return state


def _shock_gains(comp: Compiled, centers: F32) -> F32:
    """``(B, K, C, S)`` each shock's kernel at every cell times its slice gains, at ``centers``."""
    batch, k = centers.shape[:2]
    out = np.zeros((batch, k, comp.n_cells, 3), np.float32)
    for slot in range(min(k, len(SHOCK_KEYS))):
        ev = comp.shocks[slot]
        kern = _kernel(comp.cell_xy, centers[:, slot], ev.radius_m)  # (B, C)
        out[:, slot] = kern[:, :, None] * np.asarray(ev.slice_gain, np.float32)[None, None, :]
    return out


def _fit_intensity(y: F32, valid: NDArray[np.bool_], gains: F32, on: NDArray[np.bool_], comp: Compiled) -> F32:
    """``(B, K)`` surge multipliers of the running reported shocks: least squares on the log demand,
    one shock at a time over a grid, ``SWEEPS`` coordinate sweeps; 0 for shocks not running."""
    batch, k = on.shape
    amp = np.zeros((batch, k), np.float32)
    running = [slot for slot in range(min(k, len(SHOCK_KEYS))) if on[:, slot].any()]
    if not running:
        return amp
    w = valid.astype(np.float32)
    for _ in range(SWEEPS if len(running) > 1 else 1):
        for slot in running:
            others = sum(
                (np.log1p(amp[:, j, None, None] * gains[:, j]) for j in running if j != slot),
                start=np.zeros_like(y),
            )
            grid = np.linspace(0.0, INTENSITY_RANGE * comp.shocks[slot].intensity, INTENSITY_GRID, dtype=np.float32)
            model = np.log1p(grid[None, :, None, None] * gains[:, slot, None])  # (B, G, C, S)
            resid = (y - others)[:, None] - model
            sse = (w[:, None] * resid**2).sum(axis=(2, 3))  # (B, G)
            best = grid[np.argmin(sse, axis=1)]
            amp[:, slot] = np.where(on[:, slot], best, 0.0)
    return amp
