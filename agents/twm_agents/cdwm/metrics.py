"""Trajectory-accuracy metrics (the benchmark's trajectory axis) of a CDWM on held-out episodes.

Every episode is imagined open loop from its first observation under its logged actions (what
the planner does), ``samples`` draws per member. Errors are in each KPI's standardized units (the
training normalization, symlog for Mbit and ms), so KPIs of different scales average fairly:

* ``step_rmse``: RMSE of the mean prediction per (episode, step, KPI); ``step_rmse_by_t`` per step;
* ``cumulative_mae_loss`` / ``cumulative_mae_d99``: absolute error of the *episode's* loss rate
  (mean over slices) and d99 (ms), from the mean trajectory through the episode formulas;
* ``picp`` / ``width``: coverage and mean width (standardized) of the calibrated 90 % intervals;
* ``crps``: CRPS of the (member x sample) ensemble, scoringrules' ``crps_ensemble``;
* ``brier`` / ``ece``: of the calibrated episode violation probability (ECE over 10 equal bins);
* ``disagreement_error_corr``: Spearman correlation, over every predicted value, between the
  members' disagreement (std of their means) and the error of the mean.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scoringrules
from numpy.typing import NDArray
from scipy.stats import spearmanr

from twm_agents.cdwm.data import KPI_NAMES, Trajectories
from twm_agents.cdwm.utility import episode_from_steps
from twm_gym.scenarios import load_scenario

if TYPE_CHECKING:
    from twm_agents.cdwm.predictor import CDWMModel

F32 = NDArray[np.float32]
_BATCH = 512


def imagine_episodes(model: CDWMModel, data: Trajectories, samples: int) -> F32:
    """``(M, E, S, T, K)`` open-loop KPI draws of every episode under its logged actions."""
    out = []
    for i in range(0, len(data), _BATCH):
        part = data.take(slice(i, i + _BATCH))
        inputs = np.concatenate([part.act, part.fwm], axis=-1)  # the action (and its FWM summary)
        state = model.observe(part.obs[:, :1], inputs[:, :0], samples)
        out.append(model.imagine(state, inputs).draws)
    return np.concatenate(out, axis=1)


def trajectory_metrics(model: CDWMModel, data: Trajectories, samples: int = 8) -> dict[str, float]:
    """The trajectory axis of ``model`` on ``data`` (see the module docstring)."""
    draws = imagine_episodes(model, data, samples)  # (M, E, S, T, K)
    m, e, s, t, k = draws.shape
    flat = draws.transpose(1, 3, 4, 0, 2).reshape(e, t, k, m * s)
    mean, sd = flat.mean(axis=-1), flat.std(axis=-1)
    lo, hi = model.intervals.interval(mean, sd, 0.9) if model.intervals is not None else (mean, mean)
    y = data.kpi
    z_y, z_mean = model.standardize(y), model.standardize(mean)
    z_lo, z_hi = model.standardize(lo), model.standardize(hi)
    z_draws = model.standardize(flat.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # (E, T, K, M*S)
    err = z_mean - z_y
    out: dict[str, float] = {
        "step_rmse": float(np.sqrt(np.mean(err**2))),
        "picp": float(np.mean((y >= lo) & (y <= hi))),
        "width": float(np.mean(z_hi - z_lo)),
        "crps": float(np.mean(scoringrules.crps_ensemble(z_y, z_draws, m_axis=-1))),
    }
    for step in range(t):
        out[f"step_rmse_t{step}"] = float(np.sqrt(np.mean(err[:, step] ** 2)))
    for j, name in enumerate(KPI_NAMES):
        out[f"picp_{name}"] = float(np.mean((y[..., j] >= lo[..., j]) & (y[..., j] <= hi[..., j])))
    # Episode-level (cumulative) errors and the violation probability.
    sc = load_scenario(data.scenario.split("+")[0])
    truth = episode_from_steps(sc, y)
    pred = episode_from_steps(sc, mean)
    out["cumulative_mae_loss"] = float(np.mean(np.abs(pred.loss - truth.loss)))
    out["cumulative_mae_d99"] = float(np.mean(np.abs(pred.d99_ms - truth.d99_ms)))
    cost = np.broadcast_to(y[None, :, None, :, KPI_NAMES.index("cost")], (m, e, s, t))
    p_raw = episode_from_steps(sc, draws, cost=cost).global_violation.reshape(m, e, s).mean(axis=(0, 2))
    p = model.violation.predict(p_raw.astype(np.float32)) if model.violation is not None else p_raw
    outcome = truth.global_violation.astype(np.float64)
    out["brier"] = float(np.mean((p - outcome) ** 2))
    out["ece"] = _ece(p, outcome)
    out["violation_rate"] = float(outcome.mean())
    member_means = draws.mean(axis=2)  # (M, E, T, K)
    z_members = model.standardize(member_means)
    disagreement = z_members.std(axis=0).ravel()
    out["disagreement_error_corr"] = float(spearmanr(disagreement, np.abs(err).ravel()).statistic)
    out["episodes"] = float(e)
    return out


def _ece(p: NDArray[np.floating], outcome: NDArray[np.floating], bins: int = 10) -> float:
    """Expected calibration error over ``bins`` equal-width probability bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            total += sel.mean() * abs(float(p[sel].mean()) - float(outcome[sel].mean()))
    return total
