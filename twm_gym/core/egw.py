"""The exogenous world (EGW): demand, shocks, link failures and the propagation field.

Nothing here takes an action: this is ``T_egw(s'_egw | s)`` of the paper's eq. 1. Because the
exogenous world never depends on what the controllable one does, :func:`roll` draws a whole stretch
of it at once: the shock and failure processes move step by step (cheap per-rollout scalars), then
the heavy per-step :class:`Drivers` (field, capacity, bursts, routes) of every step are computed in
one vectorized pass over ``steps x rollouts`` rows. :func:`advance` is the one-step special case.
Draws come from the counter-based streams of ``core/rng.py``, so a step's draws are the same
whichever stretch computes them.

Processes (parameters in ``core/params.py``):

* demand ``lambda[c,s] = base[c,s] * profile[t,s] * exp(ar - sigma^2/2) * surge`` (Mbps), with
  ``ar`` an AR(1) of stationary std ``sigma`` and per-sub-step log-normal bursts on top;
* surge events (``Scenario.shocks``: the paper's hotspot and wave, then the scenario's
  ``events``, one mechanism): each starts with probability ``rate`` per step while it is not
  running (or once, at ``start_step``) and runs ``duration_steps`` steps, centred near its place
  or travelling its path end to end; surge ``1 + I g_s exp(-d^2 / 2 r^2)`` at distance ``d`` from
  its centre, extra users, ``cross_load`` of the capacity of the links whose node it covers;
* failures: each up link fails with probability ``prob`` (+ ``fail_boost`` near a shock) and
  stays down ``repair_steps``; scheduled link events (``failures.scheduled``) take a named link
  down or scale its capacity over fixed steps;
* field: user density (base + shock bumps) and activity feed ``core/field.py:cell_capacity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twm_gym.core.compiled import Compiled
from twm_gym.core.field import cell_capacity
from twm_gym.core.params import SurgeEvent
from twm_gym.core.rng import draw_steps, normal_table
from twm_gym.core.state import Drivers, EGWState

_N_UNIFORM_FIXED = 3  # hotspot start, wave start, wave direction


def initial_egw(comp: Compiled, batch: int) -> EGWState:
    """The exogenous state at reset: no shock, every link up, demand at its mean."""
    c, n_links, k = comp.n_cells, comp.n_links, len(comp.shocks)
    return EGWState(
        ar=np.zeros((batch, c, 3), dtype=np.float32),
        down_left=np.zeros((batch, n_links), dtype=np.int32),
        ev_left=np.zeros((batch, k), dtype=np.int32),
        ev_intensity=np.zeros((batch, k), dtype=np.float32),
        ev_offset=np.zeros((batch, k, 2), dtype=np.float32),
        ev_dir=np.ones((batch, k), dtype=np.float32),
        ev_pos=np.zeros((batch, k), dtype=np.float32),
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


_ROW_BLOCK = 1024
"""Driver rows (step x rollout) computed together: few enough for the per-pixel field arrays to stay
in a 1 MiB L2 cache, many enough to amortize numpy's per-call cost when the batch is small."""

_BURST_COUNTER = 1 << 24
"""Per-step hash counters at and above this value draw the bursts; those below draw everything else."""
_EVENT_COUNTER = 1 << 20
"""Per-step hash counters from this value on draw the further surge events (``scenario.events``), so
adding an event leaves every other draw of the episode as it was."""


@dataclass(frozen=True)
class _Block:
    """Drivers of steps ``i0 <= i < i1`` (relative to the path's ``t0``), rows time-major."""

    i0: int
    fields: dict[str, Any]  # every Drivers field (arrays) but the burst, ((i1 - i0) * B, ...)
    burst: NDArray[np.float32]  # (i1 - i0, K, S, B, C), the layout the CSW's sub-step loop reads


@dataclass(frozen=True)
class ExoPath:
    """The exogenous world of ``B`` rollouts over the steps ``t0 <= t < t0 + steps``."""

    t0: int
    batch: int
    steps: int
    fields: dict[str, NDArray[np.generic]]  # EGWState fields with a leading step axis, (T, B, ...)
    blocks: list[_Block]
    steps_per_block: int

    def _index(self, t: int) -> int:
        i = t - self.t0
        if not 0 <= i < self.steps:
            raise IndexError(f"step {t} is outside this path's steps {self.t0}..{self.t0 + self.steps - 1}")
        return i

    def state(self, t: int) -> EGWState:
        """The exogenous state after step ``t`` (views, not copies)."""
        i = self._index(t)
        return EGWState(**{name: arr[i] for name, arr in self.fields.items()})

    def row(self, i: int) -> ExoPath:
        """The batch-1 path of rollout ``i`` (views, not copies)."""
        if not 0 <= i < self.batch:
            raise IndexError(f"row {i} is outside this path's batch of {self.batch}")
        b = self.batch
        blocks = [
            _Block(
                i0=blk.i0,
                fields={name: arr[i::b] for name, arr in blk.fields.items()},
                burst=blk.burst[:, :, :, i : i + 1],
            )
            for blk in self.blocks
        ]
        fields = {name: arr[:, i : i + 1] for name, arr in self.fields.items()}
        return ExoPath(
            t0=self.t0, batch=1, steps=self.steps, fields=fields, blocks=blocks, steps_per_block=self.steps_per_block
        )

    def at(self, t: int) -> Drivers:
        """The ``(B, ...)`` drivers of step ``t`` (views, not copies: do not write to them)."""
        i = self._index(t)
        block = self.blocks[i // self.steps_per_block]
        j = i - block.i0
        rows = slice(j * self.batch, (j + 1) * self.batch)
        return Drivers(
            burst=block.burst[j].transpose(2, 0, 3, 1),  # (B, K, C, S) view
            **{name: arr[rows] for name, arr in block.fields.items()},
        )


def advance(comp: Compiled, state: EGWState, keys: NDArray[np.uint64], t: int) -> tuple[EGWState, Drivers]:
    """Draw step ``t``'s exogenous world: the state after the step's shock updates and its drivers.

    Args:
        comp: compiled scenario whose *exogenous* parameters are used (the nominal one for a
            planner's twin, the true one for the evaluation episode).
        state: exogenous state at the start of step ``t``.
        keys: ``(B,)`` stream keys (``core/rng.py:seed_keys``).
        t: slow-step index in ``[0, horizon)``.
    """
    path = roll(comp, state, keys, t, t + 1)
    return path.state(t), path.at(t)


def roll(comp: Compiled, state: EGWState, keys: NDArray[np.uint64], t0: int, t1: int) -> ExoPath:
    """Draw steps ``t0 <= t < t1`` of the exogenous world from ``state`` (the state at the start of ``t0``).

    Rolling ``t0..t1`` equals rolling ``t0..t`` then ``t..t1`` from the state reached, bit for bit
    (so a snapshot resumes exactly). Only the countdowns of shocks and failed links and the AR(1)
    recursion loop over steps, a few operations each; every other quantity is computed for all
    ``(step, rollout)`` rows at once.
    """
    sc = comp.scenario
    dem, fail = sc.demand, sc.failures
    state = state.with_events(len(comp.shocks))
    batch, c, n_links = state.ar.shape[0], comp.n_cells, comp.n_links
    if not 0 <= t0 < t1 <= sc.horizon:
        raise ValueError(f"steps {t0}..{t1 - 1} are outside the horizon 0..{sc.horizon - 1}")
    n_t, n_cs = t1 - t0, c * 3
    u, idx = draw_steps(keys, t0, t1, _N_UNIFORM_FIXED + n_links, n_cs + 4)  # (T, B, .)
    z = normal_table()[idx]
    z_ar = z[..., :n_cs].reshape(n_t, batch, c, 3)

    # AR(1) slow demand deviation with stationary std ar_sigma.
    rho = np.float32(dem.ar_rho)
    ar = np.float32(dem.ar_sigma * np.sqrt(1.0 - dem.ar_rho**2)) * z_ar  # (T, B, C, S) innovations
    prev = state.ar
    for ar_i in ar:  # iterating yields views
        ar_i += rho * prev
        prev = ar_i

    shocks = _roll_shocks(comp, state, keys, t0, t1, u[..., :_N_UNIFORM_FIXED], z[..., n_cs:])
    on = (shocks["ev_left"] > 0).astype(np.float32)  # (T, B, K)
    center = shock_centers(comp, shocks["ev_pos"], shocks["ev_offset"])  # (T, B, K, 2)

    # Link failures, boosted near running shocks; a failed link stays down `repair_steps` steps.
    p_fail: Any = np.float32(fail.prob)
    for k, ev in enumerate(comp.shocks):
        if ev.fail_boost > 0:
            near = _kernel(comp.link_xy, center[:, :, k].reshape(-1, 2), ev.radius_m).reshape(n_t, batch, n_links)
            p_fail = p_fail + np.float32(ev.fail_boost) * on[..., k, None] * (near * comp.link_is_access)
    may_fail = u[..., _N_UNIFORM_FIXED:] < p_fail  # (T, B, L)
    down_left = np.empty((n_t, batch, n_links), dtype=np.int32)
    down = state.down_left
    repair = np.int32(fail.repair_steps)
    for fail_i, down_i in zip(may_fail, down_left, strict=True):
        down = np.maximum(down - 1, 0)
        down = np.where((down == 0) & fail_i, repair, down)
        down_i[...] = down

    fields: dict[str, NDArray[np.generic]] = {"ar": ar, "down_left": down_left, **shocks}
    per_row = {
        "ar": ar,
        "on": on,
        "intensity": shocks["ev_intensity"],
        "center": center,
        "link_up": down_left == 0,
    }
    steps_per_block = max(1, _ROW_BLOCK // batch)
    blocks = []
    for i0 in range(0, n_t, steps_per_block):
        i1 = min(i0 + steps_per_block, n_t)
        rows = {name: arr[i0:i1].reshape((i1 - i0) * batch, *arr.shape[2:]) for name, arr in per_row.items()}
        blocks.append(
            _Block(
                i0=i0,
                fields=_drivers(comp, np.repeat(np.arange(t0 + i0, t0 + i1), batch), **rows),
                burst=_bursts(comp, keys, t0 + i0, t0 + i1),
            )
        )
    return ExoPath(t0=t0, batch=batch, steps=n_t, fields=fields, blocks=blocks, steps_per_block=steps_per_block)


def _shock_draws(
    comp: Compiled,
    keys: NDArray[np.uint64],
    t0: int,
    t1: int,
    u_fixed: NDArray[np.float32],
    z_fixed: NDArray[np.float32],
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Each shock's uniforms ``(T, B, K, 2)`` (start, direction) and normals ``(T, B, K, 3)`` (centre
    offset x, y, intensity).

    The hotspot and the wave draw from the episode's first counters (``u_fixed``: hotspot start,
    wave start, wave direction; ``z_fixed``: hotspot offset x, y, hotspot and wave intensity), as
    they always have; the further events from counters of their own from :data:`_EVENT_COUNTER`
    on, so adding an event leaves every other draw of the episode as it was.
    """
    n_t, batch = u_fixed.shape[:2]
    u_hot = np.stack([u_fixed[..., 0], u_fixed[..., 2]], axis=-1)  # a placed shock's direction is unused
    u_wave = np.stack([u_fixed[..., 1], u_fixed[..., 2]], axis=-1)
    z_wave = np.concatenate([np.zeros((n_t, batch, 2), dtype=np.float32), z_fixed[..., 3:]], axis=-1)
    u_list, z_list = [u_hot, u_wave], [z_fixed[..., :3], z_wave]
    n_e = len(comp.shocks) - 2
    if n_e:
        u, idx = draw_steps(keys, t0, t1, 2 * n_e, 3 * n_e, counter0=_EVENT_COUNTER)
        u_list += list(u.reshape(n_t, batch, n_e, 2).transpose(2, 0, 1, 3))
        z_list += list(normal_table()[idx].reshape(n_t, batch, n_e, 3).transpose(2, 0, 1, 3))
    return np.stack(u_list, axis=2), np.stack(z_list, axis=2)


def _roll_shocks(
    comp: Compiled,
    state: EGWState,
    keys: NDArray[np.uint64],
    t0: int,
    t1: int,
    u_fixed: NDArray[np.float32],
    z_fixed: NDArray[np.float32],
) -> dict[str, Any]:
    """The ``ev_*`` state of every surge event after each of steps ``t0 <= t < t1``, ``(T, B, K, ...)``.

    A shock starts where it may (at random with its ``rate``, or at its ``start_step``) and is not
    running, then counts down ``duration_steps`` steps; when it starts it draws its intensity
    (log-normal), the offset of its centre and the way it travels, which hold until the next start.
    A travelling one moves ``1 / (duration - 1)`` of its path a step from the end it starts at.
    """
    shocks = comp.shocks
    n_t, batch, n_k = u_fixed.shape[0], u_fixed.shape[1], len(shocks)
    u, z = _shock_draws(comp, keys, t0, t1, u_fixed, z_fixed)
    rate = np.array([e.rate for e in shocks], dtype=np.float32)
    sched = np.array([e.start_step for e in shocks])
    duration = np.array([e.duration_steps for e in shocks], dtype=np.int32)
    may_start = u[..., 0] < rate
    if (sched >= 0).any():  # a scheduled shock starts at its step, whatever the draw
        at_step = (np.arange(t0, t1)[:, None] == sched[None, :])[:, None, :]  # (T, 1, K)
        may_start = np.where(sched >= 0, at_step, may_start)
    left, latest = _countdown(may_start, state.ev_left, duration)
    flat = latest.reshape(n_t, batch * n_k)  # shocks as extra rows, for _latest

    def pick(initial: NDArray[np.float32], drawn: NDArray[np.float32]) -> NDArray[np.float32]:
        tail = initial.shape[2:]
        out = _latest(initial.reshape(batch * n_k, *tail), drawn.reshape(n_t, batch * n_k, *tail), flat)
        return out.reshape(n_t, batch, n_k, *tail)

    sigma = np.array([e.intensity_sigma for e in shocks], dtype=np.float32)
    mean = np.array([e.intensity for e in shocks], dtype=np.float32)
    intensity = pick(state.ev_intensity, mean * np.exp(sigma * z[..., 2] - comp.shock_shift))
    spread = np.array([e.center_sigma_m for e in shocks], dtype=np.float32)[:, None]
    offset = pick(state.ev_offset, spread * z[..., :2])
    direction = pick(state.ev_dir, np.where(u[..., 1] < 0.5, 1.0, -1.0).astype(np.float32))
    pos = np.repeat(state.ev_pos[None], n_t, axis=0)
    for k, ev in enumerate(shocks):
        if comp.shock_paths[k] is not None:
            age = (ev.duration_steps - left[..., k]).astype(np.float32)
            step = np.float32(1.0 / max(ev.duration_steps - 1, 1))
            at = np.where(direction[..., k] > 0, 0.0, 1.0) + direction[..., k] * step * age
            pos[..., k] = np.minimum(np.maximum(at, 0.0), 1.0)
    return {"ev_left": left, "ev_intensity": intensity, "ev_offset": offset, "ev_dir": direction, "ev_pos": pos}


def shock_centers(comp: Compiled, pos: NDArray[np.float32], offset: NDArray[np.float32]) -> NDArray[np.float32]:
    """``(..., K, 2)`` centre of every surge event: its place, or its point ``pos`` along its path,
    plus its offset, m."""
    out = np.broadcast_to(comp.shock_xy, offset.shape) + offset
    for k, path in enumerate(comp.shock_paths):
        if path is not None:
            out[..., k, :] = comp.shock_point(k, pos[..., k]) + offset[..., k, :]
    return out


def _bursts(comp: Compiled, keys: NDArray[np.uint64], t0: int, t1: int) -> NDArray[np.float32]:
    """``(T, K, S, B, C)`` log-normal bursts ``exp(sigma_s z - sigma_s^2 / 2)`` (mean 1) of steps ``t0..t1-1``.

    Each (step, sub-step, cell, slice) has its own 16-bit draw, read from the slice's quantile table.
    """
    k, c = comp.scenario.sim.substeps, comp.n_cells
    _, idx = draw_steps(keys, t0, t1, 0, k * c * 3, counter0=_BURST_COUNTER)  # (T, B, K*C*S)
    n_t, batch = idx.shape[:2]
    flat = idx.reshape(n_t, batch, k, c, 3).transpose(0, 2, 4, 1, 3).astype(np.intp, order="C")  # (T, K, S, B, C)
    flat += comp.burst_offset
    return comp.burst_table[flat]


def _countdown(
    may_start: NDArray[np.bool_], left: NDArray[np.int32], duration: NDArray[np.int32]
) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """Countdowns of shocks ``(T, B, K)``: one starts where ``may_start`` and none is running, then runs
    ``duration`` steps. Returns the steps left after each step and, per step, ``1 +`` the index of
    the latest start (0: none in this stretch, the state's draw carries on), for :func:`_latest`."""
    n_t = may_start.shape[0]
    out = np.empty(may_start.shape, dtype=np.int32)
    started = np.empty(may_start.shape, dtype=bool)
    for start_i, started_i, left_i in zip(may_start, started, out, strict=True):
        left = np.maximum(left - 1, 0)
        np.logical_and(left == 0, start_i, out=started_i)
        left = np.where(started_i, duration, left)
        left_i[...] = left
    latest = np.maximum.accumulate(np.where(started, np.arange(1, n_t + 1)[:, None, None], 0), axis=0)
    return out, latest


def _latest(initial: NDArray[np.float32], drawn: NDArray[np.float32], latest: NDArray[np.int64]) -> NDArray[np.float32]:
    """``(T, B, ...)`` value of the draw at step ``latest - 1`` (``initial`` where ``latest`` is 0)."""
    options = np.concatenate([initial[None].astype(np.float32), drawn.astype(np.float32)])  # (T + 1, B, ...)
    index = latest.reshape(latest.shape + (1,) * (options.ndim - 2))
    return np.take_along_axis(options, index, axis=0)


def _may_run(ev: SurgeEvent) -> bool:
    return ev.rate > 0 or ev.start_step >= 0


def _drivers(
    comp: Compiled,
    t_rows: NDArray[np.int64],
    ar: NDArray[np.float32],
    on: NDArray[np.float32],
    intensity: NDArray[np.float32],
    center: NDArray[np.float32],
    link_up: NDArray[np.bool_],
) -> dict[str, Any]:
    """Every :class:`Drivers` field but the burst, for a stack of (step, rollout) rows.

    ``t_rows`` gives each row's step; the other arguments are the rows' exogenous state after
    that step and what :func:`roll` derived from it: each surge event's running flag ``on`` and
    ``intensity`` ``(rows, K)`` and its centre ``(rows, K, 2)``.
    """
    sc = comp.scenario
    rows = ar.shape[0]
    sigma2 = np.float32(sc.demand.ar_sigma**2 / 2)
    demand = comp.base_demand * comp.profile[t_rows][:, None, :] * np.exp(ar - sigma2)
    density = np.repeat(comp.base_density[None, :], rows, axis=0)
    cross: Any = np.zeros((rows, comp.n_links), dtype=np.float32)
    for k, ev in enumerate(comp.shocks):
        if not _may_run(ev):
            continue
        amp, at = on[:, k] * intensity[:, k], center[:, k]
        gain = np.asarray(ev.slice_gain, dtype=np.float32)
        demand = demand * (1.0 + amp[:, None, None] * _kernel(comp.cell_xy, at, ev.radius_m)[:, :, None] * gain)
        density += (amp * np.float32(ev.density_gain))[:, None] * _grid_kernel(comp, at, ev.radius_m)
        if ev.cross_load > 0:
            covered = _kernel(comp.link_xy, at, ev.radius_m) * comp.link_is_access
            cross = cross + np.float32(ev.cross_load) * on[:, k, None] * covered
    cross = np.minimum(cross, np.float32(1.0)).astype(np.float32, copy=False)
    demand = demand.astype(np.float32, copy=False)
    activity = demand.sum(axis=-1) / comp.nominal_capacity
    activity = np.minimum(np.maximum(activity, np.float32(sc.city.radio.min_activity)), np.float32(1.0))
    capacity, sinr_db = cell_capacity(comp.field, activity, density)
    link_avail = (comp.link_mbps * (1.0 - cross) * link_up).astype(np.float32)
    if sc.failures.scheduled:  # scheduled link events: down where the factor is 0, scaled elsewhere
        factor = comp.link_factor[t_rows]  # (rows, L)
        link_up = link_up & (factor > 0)
        link_avail *= factor
    node_route, node_reach = comp.routing.routes(link_up)
    return {
        "demand": demand,
        "capacity": capacity,
        "sinr_db": sinr_db,
        "link_up": link_up,
        "link_avail": link_avail,
        "cross": cross,
        "route": node_route[:, comp.cell_node],
        "reach": node_reach[:, comp.cell_node],
        "degraded": ~link_up.all(axis=1),
        "density": density,
        "activity": activity,
    }


def nominal_drivers(comp: Compiled, batch: int = 1) -> Drivers:
    """Drivers of the start state (AR(1) at 0, no shock, every link up, bursts of 1) at step 0.

    What an observer knows before any step is drawn: the environments observe these at reset.
    """
    return drivers_of(comp, initial_egw(comp, batch), 0)


def drivers_of(comp: Compiled, state: EGWState, t: int) -> Drivers:
    """The drivers the exogenous ``state`` implies at step ``t``, bursts at their mean of 1.

    With ``state`` the state after step ``t`` this recomputes that step's drivers (bursts aside);
    with the state after ``t - 1`` (a snapshot at the start of ``t``) it is the persistence view
    of step ``t`` a planner has before the step is drawn: same shocks, failures and demand
    deviations, the demand profile of step ``t``.
    """
    sc = comp.scenario
    state = state.with_events(len(comp.shocks))
    batch = state.ar.shape[0]
    if not 0 <= t < sc.horizon:
        raise ValueError(f"step {t} is outside the horizon 0..{sc.horizon - 1}")
    fields = _drivers(
        comp,
        np.full(batch, t, dtype=np.int64),
        ar=state.ar,
        on=(state.ev_left > 0).astype(np.float32),
        intensity=state.ev_intensity,
        center=shock_centers(comp, state.ev_pos, state.ev_offset),
        link_up=state.down_left == 0,
    )
    burst = np.ones((batch, sc.sim.substeps, comp.n_cells, 3), dtype=np.float32)
    return Drivers(burst=burst, **fields)
