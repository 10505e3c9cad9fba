"""Episode KPIs and utility from per-step KPI vectors (twin-measured or CDWM-imagined).

The twin's episode KPIs (``core/kpi.py:episode_kpis``) pool the whole episode: loss per slice is
total lost over total offered traffic, and d99 is the 99th percentile of all URLLC latency
samples. From the step KPIs of ``agents/twm_agents/cdwm/data.py:KPI_NAMES`` the same quantities follow:
loss from the offered and lost sums, and d99 from the *pooled exceedance curve* — every step has
the same number of latency samples, so the pooled fraction above a threshold is the steps' mean,
and d99 is where that curve crosses 1 % (linear in log latency between thresholds). On twin data
this reproduces the episode's URLLC violation exactly at the 20 ms threshold and d99 within a few
per cent (``tests/agents/test_cdwm.py``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from twm_agents.cdwm.data import KPI_NAMES, LATENCY_THRESHOLDS_MS
from twm_gym.core.kpi import KPIs, uniform_cost
from twm_gym.core.params import URLLC, Scenario

F32 = NDArray[np.float32]

_OFFERED = slice(KPI_NAMES.index("offered_embb"), KPI_NAMES.index("offered_fwa") + 1)
_LOST = slice(KPI_NAMES.index("lost_embb"), KPI_NAMES.index("lost_fwa") + 1)
_EXCEED = slice(KPI_NAMES.index(f"exceed_{int(LATENCY_THRESHOLDS_MS[0])}ms"), KPI_NAMES.index("d99_ms"))
_COST = KPI_NAMES.index("cost")
_LOG_TAU = np.log(np.asarray(LATENCY_THRESHOLDS_MS, dtype=np.float64))


def pooled_d99(exceed: NDArray[np.floating]) -> F32:
    """``(...)`` 99th percentile (ms) from pooled exceedance fractions ``(..., J)`` at the thresholds."""
    e = np.minimum.accumulate(np.clip(exceed, 0.0, 1.0), axis=-1)  # monotone in the threshold
    # Strictly above 1 % (as numpy's percentile: d99 > tau iff more than 1 % of samples exceed tau);
    # the tolerance absorbs float rounding of a mean that is exactly 1 %.
    above = e > 0.01 + 1e-6
    j = above.sum(axis=-1)  # thresholds the curve is still above 1 % at (a prefix)
    n = e.shape[-1]
    lo = np.clip(j - 1, 0, n - 1)
    hi = np.clip(j, 0, n - 1)
    e_lo = np.take_along_axis(e, lo[..., None], -1)[..., 0]
    e_hi = np.take_along_axis(e, hi[..., None], -1)[..., 0]
    frac = np.clip((e_lo - 0.01) / np.maximum(e_lo - e_hi, 1e-12), 0.0, 1.0)
    log_d = _LOG_TAU[lo] + frac * (_LOG_TAU[hi] - _LOG_TAU[lo])
    d = np.exp(log_d)
    d = np.where(j == 0, LATENCY_THRESHOLDS_MS[0], d)  # below the floor: the floor
    d = np.where(j == n, LATENCY_THRESHOLDS_MS[-1], d)  # above the last threshold: the cap
    return d.astype(np.float32)


def episode_from_steps(scenario: Scenario, kpi: NDArray[np.floating], cost: NDArray[np.floating] | None = None) -> KPIs:
    """:class:`KPIs` of episodes from step KPIs ``(..., T, K)`` (leading axes flattened to the batch).

    ``cost (..., T)`` overrides the KPI vector's cost column (the planner knows its actions' cost exactly).
    """
    k = np.asarray(kpi, dtype=np.float64).reshape(-1, *kpi.shape[-2:])
    offered = np.maximum(k[..., _OFFERED], 0.0).sum(axis=1)
    lost = np.clip(k[..., _LOST], 0.0, None).sum(axis=1)
    lost = np.minimum(lost, offered)
    loss = np.where(offered > 0, lost / np.maximum(offered, 1e-9), 0.0)
    d99 = pooled_d99(k[..., _EXCEED].mean(axis=1)).astype(np.float64)
    sla = scenario.sla
    tau = np.asarray(sla.loss_ceiling, dtype=np.float64)
    violation = loss > tau
    violation[:, URLLC] |= d99 > sla.d99_ceiling_ms
    headroom = np.concatenate([1.0 - loss / tau, (1.0 - d99 / sla.d99_ceiling_ms)[:, None]], axis=1)
    steps_cost = k[..., _COST] if cost is None else np.asarray(cost, dtype=np.float64).reshape(-1, kpi.shape[-2])
    mean_cost = steps_cost.mean(axis=1)
    out = KPIs(
        loss=loss.astype(np.float32),
        d99_ms=d99.astype(np.float32),
        violation=violation,
        global_violation=np.asarray(violation.any(axis=1)),
        scm=np.maximum(headroom.min(axis=1), 0.0).astype(np.float32),
        excess=np.maximum(-headroom.min(axis=1), 0.0).astype(np.float32),
        cost=mean_cost.astype(np.float32),
        delta_cost=(1.0 - mean_cost / uniform_cost(scenario.cost)).astype(np.float32),
        offered_mbit=offered.astype(np.float32),
        lost_mbit=lost.astype(np.float32),
        unroutable_mbit=np.zeros_like(offered, dtype=np.float32),
    )
    return out
