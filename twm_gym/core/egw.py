"""The exogenous world (EGW): demand, shocks, link failures and the propagation field.

``advance`` has no action argument: ``T_egw(s'_egw | s)`` of the paper's eq. 1. One call draws
step ``t``'s noise from the counter-based streams of ``core/rng.py``, moves the shock and failure
processes, and returns the :class:`Drivers` the controllable world consumes during step ``t``.

Processes (parameters in ``core/params.py``):

* demand ``lambda[c,s] = base[c,s] * profile[t,s] * exp(ar - sigma^2/2) * surge`` (Mbps), with
  ``ar`` an AR(1) of stationary std ``sigma`` and per-sub-step log-normal bursts on top;
* hotspot: starts with probability ``rate`` per step when none is active, centred near the
  hospital, lasting ``duration_steps``; surge ``1 + I g_s exp(-d^2 / 2 r^2)`` at distance ``d``;
* wave: a front travelling the corridor polyline end to end over ``duration_steps``, surging
  demand near it and taking ``cross_load`` of the capacity of links whose node it passes;
* failures: each up link fails with probability ``prob`` (+ shock boosts near the shock) and
  stays down ``repair_steps``;
* field: user density (base + shock bumps) and activity feed ``core/field.py:cell_capacity``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from twm_gym.core.compiled import Compiled
from twm_gym.core.field import cell_capacity
from twm_gym.core.geometry import corridor_points
from twm_gym.core.rng import draw, normal_table
from twm_gym.core.state import Drivers, EGWState

_N_UNIFORM_FIXED = 3  # hotspot start, wave start, wave direction


def initial_egw(comp: Compiled, batch: int) -> EGWState:
    """The exogenous state at reset: no shock, every link up, demand at its mean."""
    c, n_links = comp.n_cells, comp.n_links
    center = np.asarray(comp.scenario.city.hospital_center, dtype=np.float32)
    return EGWState(
        ar=np.zeros((batch, c, 3), dtype=np.float32),
        hot_center=np.repeat(center[None, :], batch, axis=0),
        hot_left=np.zeros(batch, dtype=np.int32),
        hot_intensity=np.zeros(batch, dtype=np.float32),
        wave_pos=np.zeros(batch, dtype=np.float32),
        wave_dir=np.ones(batch, dtype=np.float32),
        wave_left=np.zeros(batch, dtype=np.int32),
        wave_intensity=np.zeros(batch, dtype=np.float32),
        down_left=np.zeros((batch, n_links), dtype=np.int32),
    )


def _kernel(points: NDArray[np.float32], centers: NDArray[np.float32], radius: float) -> NDArray[np.float32]:
    """``(B, P)`` Gaussian bump ``exp(-|p - c_b|^2 / 2 r^2)`` of ``(P, 2)`` points around ``(B, 2)`` centres."""
    d2 = ((points[None, :, :] - centers[:, None, :]) ** 2).sum(axis=-1)
    return np.exp(d2 * np.float32(-0.5 / radius**2)).astype(np.float32, copy=False)


def _grid_kernel(comp: Compiled, centers: NDArray[np.float32], radius: float) -> NDArray[np.float32]:
    """``(B, X)`` Gaussian bump over the pixel grid, as the outer product of its two 1-D factors."""
    axis = comp.grid_axis  # (G,) pixel-centre coordinates along x and y, m
    scale = np.float32(-0.5 / radius**2)
    kx = np.exp(((axis[None, :] - centers[:, :1]) ** 2) * scale)  # (B, G)
    ky = np.exp(((axis[None, :] - centers[:, 1:]) ** 2) * scale)
    return (ky[:, :, None] * kx[:, None, :]).reshape(len(centers), -1)


def advance(comp: Compiled, state: EGWState, keys: NDArray[np.uint64], t: int) -> tuple[EGWState, Drivers]:
    """Draw step ``t``'s exogenous world: the state after the step's shock updates and its drivers.

    Args:
        comp: compiled scenario whose *exogenous* parameters are used (the nominal one for a
            planner's twin, the true one for the evaluation episode).
        state: exogenous state at the start of step ``t``.
        keys: ``(B,)`` stream keys (``core/rng.py:seed_keys``).
        t: slow-step index in ``[0, horizon)``.
    """
    sc = comp.scenario
    hot, wave, dem, fail = sc.hotspot, sc.wave, sc.demand, sc.failures
    batch, c, n_links, k = state.ar.shape[0], comp.n_cells, comp.n_links, sc.sim.substeps
    n_cs = c * 3
    u, idx = draw(keys, t, _N_UNIFORM_FIXED + n_links, n_cs * (k + 1) + 4)
    z = normal_table()[idx[:, n_cs * k :]]
    burst_idx = idx[:, : n_cs * k]
    z_ar = z[:, :n_cs].reshape(batch, c, 3)
    z_center, z_hot, z_wave = z[:, -4:-2], z[:, -2], z[:, -1]

    # AR(1) slow demand deviation with stationary std ar_sigma.
    rho = np.float32(dem.ar_rho)
    ar = rho * state.ar + np.float32(dem.ar_sigma * np.sqrt(1.0 - dem.ar_rho**2)) * z_ar

    # Hotspot near the hospital.
    hot_left = np.maximum(state.hot_left - 1, 0)
    start = (hot_left == 0) & (u[:, 0] < hot.rate)
    new_center = np.asarray(sc.city.hospital_center, dtype=np.float32) + np.float32(hot.center_sigma_m) * z_center
    hot_center = np.where(start[:, None], new_center, state.hot_center).astype(np.float32)
    s2 = hot.intensity_sigma**2
    new_int = np.float32(hot.intensity) * np.exp(np.float32(hot.intensity_sigma) * z_hot - np.float32(s2 / 2))
    hot_intensity = np.where(start, new_int, state.hot_intensity).astype(np.float32)
    hot_left = np.where(start, hot.duration_steps, hot_left).astype(np.int32)

    # Wave along the corridor.
    wave_left = np.maximum(state.wave_left - 1, 0)
    w_start = (wave_left == 0) & (u[:, 1] < wave.rate)
    w_dir = np.where(w_start, np.where(u[:, 2] < 0.5, 1.0, -1.0), state.wave_dir).astype(np.float32)
    step_len = np.float32(1.0 / max(wave.duration_steps - 1, 1))
    moved = np.clip(state.wave_pos + w_dir * step_len, 0.0, 1.0)
    wave_pos = np.where(w_start, np.where(w_dir > 0, 0.0, 1.0), moved).astype(np.float32)
    wave_intensity = np.where(w_start, np.float32(wave.intensity) * np.exp(0.2 * z_wave), state.wave_intensity)
    wave_left = np.where(w_start, wave.duration_steps, wave_left).astype(np.int32)

    hot_on = (hot_left > 0).astype(np.float32)
    wave_on = (wave_left > 0).astype(np.float32)
    front = corridor_points(sc.city, wave_pos).astype(np.float32)  # (B, 2)

    # Link failures, boosted near active shocks.
    link_xy = comp.node_xy[np.maximum(comp.link_src, 0)]
    is_spoke_or_ring = (comp.link_src >= 0).astype(np.float32)
    k_hot_link = _kernel(link_xy, hot_center, hot.radius_m) * is_spoke_or_ring
    k_wave_link = _kernel(link_xy, front, wave.width_m) * is_spoke_or_ring
    p_fail = (
        np.float32(fail.prob)
        + np.float32(hot.fail_boost) * hot_on[:, None] * k_hot_link
        + np.float32(wave.fail_boost) * wave_on[:, None] * k_wave_link
    )
    down_left = np.maximum(state.down_left - 1, 0)
    failed = (down_left == 0) & (u[:, _N_UNIFORM_FIXED:] < p_fail)
    down_left = np.where(failed, fail.repair_steps, down_left).astype(np.int32)
    link_up = down_left == 0

    new_state = EGWState(
        ar=ar.astype(np.float32, copy=False),
        hot_center=hot_center,
        hot_left=hot_left,
        hot_intensity=hot_intensity,
        wave_pos=wave_pos,
        wave_dir=w_dir,
        wave_left=wave_left,
        wave_intensity=wave_intensity.astype(np.float32),
        down_left=down_left,
    )
    drivers = _drivers(comp, new_state, t, burst_idx, hot_on, wave_on, front, link_up, k_wave_link)
    return new_state, drivers


def _drivers(
    comp: Compiled,
    st: EGWState,
    t: int,
    burst_idx: NDArray[np.uint16],
    hot_on: NDArray[np.float32],
    wave_on: NDArray[np.float32],
    front: NDArray[np.float32],
    link_up: NDArray[np.bool_],
    k_wave_link: NDArray[np.float32],
) -> Drivers:
    sc = comp.scenario
    hot, wave, dem = sc.hotspot, sc.wave, sc.demand
    sigma2 = np.float32(dem.ar_sigma**2 / 2)
    demand = comp.base_demand * comp.profile[t] * np.exp(st.ar - sigma2)
    density = np.repeat(comp.base_density[None, :], st.ar.shape[0], axis=0)
    if hot.rate > 0:
        amp = hot_on * st.hot_intensity
        demand = demand * (
            1.0
            + amp[:, None, None]
            * _kernel(comp.cell_xy, st.hot_center, hot.radius_m)[:, :, None]
            * np.asarray(hot.slice_gain, dtype=np.float32)
        )
        density = density + (amp * np.float32(hot.density_gain))[:, None] * _grid_kernel(
            comp, st.hot_center, hot.radius_m
        )
    if wave.rate > 0:
        amp = wave_on * st.wave_intensity
        demand = demand * (
            1.0
            + amp[:, None, None]
            * _kernel(comp.cell_xy, front, wave.width_m)[:, :, None]
            * np.asarray(wave.slice_gain, dtype=np.float32)
        )
        density = density + (amp * np.float32(wave.density_gain))[:, None] * _grid_kernel(comp, front, wave.width_m)
    demand = demand.astype(np.float32, copy=False)
    activity = np.clip(demand.sum(axis=-1) / comp.nominal_capacity, sc.city.radio.min_activity, 1.0)
    activity = activity.astype(np.float32, copy=False)
    capacity, sinr_db = cell_capacity(comp.field, activity, density.astype(np.float32, copy=False))
    k = sc.sim.substeps
    # Log-normal bursts exp(sigma_s z - sigma_s^2 / 2) read from per-slice quantile tables.
    flat = burst_idx.astype(np.int32) + comp.burst_offset
    burst = comp.burst_table[flat].reshape(len(flat), k, comp.n_cells, 3)
    cross = (np.float32(wave.cross_load) * wave_on[:, None] * k_wave_link).astype(np.float32)
    link_avail = (comp.link_mbps * (1.0 - cross) * link_up).astype(np.float32)
    route, reach = comp.routing.routes(link_up)
    return Drivers(
        demand=demand,
        burst=burst,
        capacity=capacity,
        sinr_db=sinr_db,
        link_up=link_up,
        link_avail=link_avail,
        cross=cross,
        route=route,
        reach=reach,
        density=density.astype(np.float32, copy=False),
        activity=activity,
    )
