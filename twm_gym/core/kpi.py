"""KPIs of an episode, the control cost and the decision utility. Formulas below, units in comments.

With slice ceilings ``tau = (0.25, 0.10, 0.20)`` for (eMBB, URLLC, FWA) and ``tau_d = 20 ms``
(paper section X):

* loss rate ``l_s = lost_s / offered_s`` over the whole episode (radio overflow + transport
  overflow + unroutable traffic, in Mbit; backlog left at the end is not counted);
* ``d99``: the 99th percentile (numpy's linear interpolation) of the URLLC latency samples, one per
  cell and fast sub-step (``T * K * C`` samples);
* slice violations: URLLC ``d99 > tau_d or l_u > tau_u``; FWA ``l_f > tau_f``; eMBB ``l_e > tau_e``;
  the global indicator is their logical or;
* SLA Compliance Margin (paper eq. 2):
  ``SCM = max(0, min(1 - l_u/tau_u, 1 - l_f/tau_f, 1 - l_e/tau_e, 1 - d99/tau_d))``;
* control cost per slow step (:func:`step_cost`):
  ``w_r * mean_c sum_s p + w_b * mean_l sum_s b + w_sw * (mean_c sum_s |dp| + mean_l sum_s |db|) / 2``
  with ``dp`` the change from the previous step's shares (uniform 1/3 before the first step); the
  episode cost is its mean over the ``T`` steps. The uniform 1/3 allocation costs ``w_r + w_b`` (=1
  by default) and the cost reduction is ``dcost = 1 - cost / cost_uniform``;
* worst normalized SLA excess ``e = max(0, max(l_u/tau_u, l_f/tau_f, l_e/tau_e, d99/tau_d) - 1)``:
  0 when every SLA holds, how far past its ceiling the worst one is otherwise (``SCM`` and ``e``
  are the two sides of the same worst ratio);
* utility (:class:`Utility`, ours: the paper defines SCM, the cost and the violation probabilities
  but no utility): ``U = w_scm * SCM + w_cost * dcost - 1[global] * (w_violation + w_excess * min(1, e))``.
  Compliance first, cost second, and a deeper breach scores lower up to twice the ceiling
  (``e = 1``), so an agent gains nothing by abandoning a network whose SLA is already lost.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twm_gym.core.params import FWA, SLICES, URLLC, CostParams, Scenario
from twm_gym.core.state import Ledger

F32 = NDArray[np.float32]


def step_cost(cost: CostParams, p: F32, b: F32, last_p: F32, last_b: F32) -> F32:
    """``(B,)`` control cost of one slow step (formula in the module docstring)."""
    n_c, n_l = p.shape[1], b.shape[1]
    dp = p - last_p
    db = b - last_b
    np.abs(dp, out=dp)
    np.abs(db, out=db)
    out = np.float32(cost.radio_weight / n_c) * p.sum(axis=(1, 2))
    out += np.float32(cost.transport_weight / n_l) * b.sum(axis=(1, 2))
    out += np.float32(cost.switch_weight / (2 * n_c)) * dp.sum(axis=(1, 2))
    out += np.float32(cost.switch_weight / (2 * n_l)) * db.sum(axis=(1, 2))
    return out.astype(np.float32, copy=False)


def uniform_cost(cost: CostParams) -> float:
    """Episode cost of the uniform 1/3 allocation (no change between steps)."""
    return cost.radio_weight + cost.transport_weight


@dataclass(frozen=True)
class KPIs:
    """Episode KPIs of a batch of rollouts; every array has the batch on its first axis."""

    loss: F32  # (B, S) loss rate per slice, in [0, 1]
    d99_ms: F32  # (B,) URLLC 99th-percentile latency, ms
    violation: NDArray[np.bool_]  # (B, S) SLA violated per slice
    global_violation: NDArray[np.bool_]  # (B,) any slice violated
    scm: F32  # (B,) SLA Compliance Margin (paper eq. 2), in [0, 1]
    cost: F32  # (B,) normalized control cost (uniform 1/3 = 1 with default weights)
    delta_cost: F32  # (B,) cost reduction relative to uniform 1/3
    excess: F32  # (B,) worst normalized SLA excess e >= 0 (0: every SLA holds; module docstring)
    offered_mbit: F32  # (B, S)
    lost_mbit: F32  # (B, S)
    unroutable_mbit: F32  # (B, S)

    def __len__(self) -> int:
        return int(self.scm.shape[0])

    def take(self, index: NDArray[np.integer] | slice) -> KPIs:
        """The KPIs of rollouts ``index`` (arrays copied)."""
        return KPIs(**{f.name: np.array(getattr(self, f.name)[index]) for f in dataclasses.fields(self)})

    def row(self, i: int) -> dict[str, float | bool]:
        """Rollout ``i`` as a flat dict of Python scalars (for records and ``info``)."""
        out: dict[str, float | bool] = {
            "scm": float(self.scm[i]),
            "cost": float(self.cost[i]),
            "delta_cost": float(self.delta_cost[i]),
            "sla_excess": float(self.excess[i]),
            "d99_ms": float(self.d99_ms[i]),
            "global_violation": bool(self.global_violation[i]),
        }
        for s, name in enumerate(SLICES):
            out[f"loss_{name}"] = float(self.loss[i, s])
            out[f"violation_{name}"] = bool(self.violation[i, s])
        return out

    def columns(self) -> dict[str, NDArray[np.float64] | NDArray[np.bool_]]:
        """The keys of :meth:`row` as ``(B,)`` arrays (float64 or bool)."""
        out: dict[str, NDArray[np.float64] | NDArray[np.bool_]] = {
            "scm": self.scm.astype(np.float64),
            "cost": self.cost.astype(np.float64),
            "delta_cost": self.delta_cost.astype(np.float64),
            "sla_excess": self.excess.astype(np.float64),
            "d99_ms": self.d99_ms.astype(np.float64),
            "global_violation": self.global_violation.copy(),
        }
        for s, name in enumerate(SLICES):
            out[f"loss_{name}"] = self.loss[:, s].astype(np.float64)
            out[f"violation_{name}"] = self.violation[:, s].copy()
        return out


def percentile99(samples: F32) -> F32:
    """``(B,)`` 99th percentile along axis 1, numpy's default (linear) method, via a partial sort."""
    n = samples.shape[1]
    if n == 0:
        return np.zeros(samples.shape[0], dtype=np.float32)
    pos = 0.99 * (n - 1)
    lo = int(pos)
    hi = min(lo + 1, n - 1)
    # With hi the last index (n <= 100: always), one kth puts both order statistics in place.
    part = np.partition(samples, lo if hi == n - 1 else (lo, hi), axis=1)
    a, b = part[:, lo], part[:, hi]
    frac = np.float32(pos - lo)
    # numpy's lerp: from the nearer end, so the result stays within [a, b].
    if frac >= 0.5:
        return b - (b - a) * (np.float32(1.0) - frac)
    return a + (b - a) * frac


@dataclass(frozen=True)
class StepKPIs:
    """KPIs of one slow step (the episode formulas applied to the step alone), batch first.

    The per-step view the environments shape their reward from; the episode's KPIs are not the
    mean of these (loss and d99 pool the whole episode).
    """

    loss: F32  # (B, S) loss rate of the step per slice, in [0, 1] (0 when nothing was offered)
    d99_ms: F32  # (B,) 99th percentile of the step's K * C URLLC latency samples, ms
    violation: NDArray[np.bool_]  # (B, S) the step alone violates the slice's SLA ceiling
    global_violation: NDArray[np.bool_]  # (B,)
    scm: F32  # (B,) SLA Compliance Margin of the step (paper eq. 2), in [0, 1]
    cost: F32  # (B,) control cost of the step
    excess: F32  # (B,) worst normalized SLA excess of the step, >= 0 (module docstring)


def step_kpis(scenario: Scenario, offered: F32, lost: F32, urllc_delay: F32, cost: F32) -> StepKPIs:
    """Per-step KPIs from a step's ``offered``/``lost`` ``(B, S)`` Mbit and URLLC samples ``(B, K, C)`` ms."""
    sla = scenario.sla
    loss = lost / np.maximum(offered, np.float32(1e-9))
    d99 = percentile99(urllc_delay.reshape(urllc_delay.shape[0], -1))
    return _judge(sla.loss_ceiling, sla.d99_ceiling_ms, loss.astype(np.float32), d99, cost)


def _judge(ceiling: tuple[float, float, float], d99_ceiling: float, loss: F32, d99: F32, cost: F32) -> StepKPIs:
    # Relative use of each ceiling, URLLC latency as a 4th column: violated where > 1 (eq. 2).
    use = np.concatenate([loss, d99[:, None]], axis=1)
    use /= _ceilings(ceiling, d99_ceiling)
    over = use > 1.0
    violation = over[:, :3]
    violation[:, URLLC] |= over[:, 3]
    worst = use.max(axis=1)
    return StepKPIs(
        loss=loss,
        d99_ms=d99,
        violation=violation,
        global_violation=worst > 1.0,
        scm=np.maximum(np.float32(1.0) - worst, np.float32(0.0)),
        cost=cost,
        excess=np.maximum(worst - np.float32(1.0), np.float32(0.0)),
    )


@functools.lru_cache(maxsize=16)
def _ceilings(ceiling: tuple[float, float, float], d99_ceiling: float) -> F32:
    out = np.array([*ceiling, d99_ceiling], dtype=np.float32)
    out.flags.writeable = False
    return out


def episode_kpis(scenario: Scenario, ledger: Ledger, steps_done: int) -> KPIs:
    """KPIs from the ledger of ``steps_done`` steps (normally the whole horizon)."""
    sla = scenario.sla
    k, c = scenario.sim.substeps, len(scenario.city.cell_xy)
    loss = np.where(ledger.offered > 0, ledger.lost / np.maximum(ledger.offered, 1e-9), 0.0).astype(np.float32)
    d99 = percentile99(ledger.delays[:, : steps_done * k * c])
    tau = np.asarray(sla.loss_ceiling, dtype=np.float32)
    violation = loss > tau
    violation[:, URLLC] |= d99 > sla.d99_ceiling_ms
    headroom = np.concatenate([1.0 - loss / tau, (1.0 - d99 / sla.d99_ceiling_ms)[:, None]], axis=1)
    worst = headroom.min(axis=1)
    scm = np.maximum(worst, 0.0).astype(np.float32)
    cost = (ledger.cost_sum / max(scenario.sim.horizon, 1)).astype(np.float32)
    delta = (1.0 - cost / uniform_cost(scenario.cost)).astype(np.float32)
    return KPIs(
        loss=loss,
        d99_ms=d99.astype(np.float32),
        violation=violation,
        global_violation=np.asarray(violation.any(axis=1)),
        scm=scm,
        cost=cost,
        delta_cost=delta,
        excess=np.maximum(-worst, 0.0).astype(np.float32),
        offered_mbit=ledger.offered.copy(),
        lost_mbit=ledger.lost.copy(),
        unroutable_mbit=ledger.unroutable.copy(),
    )


def violation_certain(scenario: Scenario, ledger: Ledger, steps_done: int, future_offered: F32) -> NDArray[np.bool_]:
    """``(B,)`` whether the first ``steps_done`` steps already make the episode violate an SLA.

    Certain whatever the remaining steps bring, given ``future_offered`` ``(B, S)``, an upper bound on
    the traffic still to be offered (Mbit): URLLC's d99 is past its ceiling once more than the top 1 %
    of the episode's ``T * K * C`` latency samples (the order statistics the percentile reads) already
    exceed it; a slice's loss rate is past its ceiling once ``lost / (offered + future_offered)`` is.
    Once true, ``SCM = 0`` and the violation term are fixed, and only the cost is left to decide.
    """
    sim, sla = scenario.sim, scenario.sla
    per_step = sim.substeps * len(scenario.city.cell_xy)
    n = sim.horizon * per_step
    lo = int(0.99 * (n - 1))  # the percentile lies at or above the lo-th smallest sample
    over = (ledger.delays[:, : steps_done * per_step] > sla.d99_ceiling_ms).sum(axis=1)
    certain = over >= n - lo
    floor = ledger.lost / np.maximum(ledger.offered + np.maximum(future_offered, 0.0), np.float32(1e-9))
    certain |= (floor > np.asarray(sla.loss_ceiling, np.float32)).any(axis=1)
    return np.asarray(certain)


@dataclass(frozen=True)
class Utility:
    """Decision utility, ours (the paper defines none)::

        U = w_scm * SCM + w_cost * dcost - 1[global violation] * (w_violation + w_excess * min(excess_cap, e))

    with ``e`` the worst normalized SLA excess (:attr:`KPIs.excess`). Compliance comes first: with
    the defaults any violating rollout scores below any compliant one whose cost is not more than
    twice uniform's. The excess term makes a deeper breach score lower (up to ``e = excess_cap``):
    once a violation is certain, abandoning the network to save cost deepens the breach and pays
    for it. ``w_excess = 0`` gives ``SCM + 0.5 dcost - 1[violation]``, under which it pays.
    """

    w_scm: float = 1.0
    w_cost: float = 0.5
    w_violation: float = 1.0
    w_excess: float = 1.0
    excess_cap: float = 1.0

    def __call__(self, kpis: KPIs) -> F32:
        return self.of(kpis.scm, kpis.delta_cost, kpis.global_violation, kpis.excess)

    def of(self, scm: ArrayLike, delta_cost: ArrayLike, violation: ArrayLike, excess: ArrayLike) -> F32:
        """The utility of KPI columns (arrays or scalars: an episode record's ``kpis``)."""
        penalty = self.w_violation + self.w_excess * np.minimum(np.asarray(excess, dtype=np.float32), self.excess_cap)
        u = self.w_scm * np.asarray(scm) + self.w_cost * np.asarray(delta_cost) - np.asarray(violation) * penalty
        return np.asarray(u, dtype=np.float32)


def violation_probabilities(kpis: KPIs) -> dict[str, float]:
    """Across episodes: ``P_urllc``, ``P_fwa``, ``P_embb`` and ``P_g`` (fractions of violating rollouts)."""
    v = kpis.violation
    return {
        "P_urllc": float(v[:, URLLC].mean()),
        "P_fwa": float(v[:, FWA].mean()),
        "P_embb": float(v[:, 0].mean()),
        "P_g": float(kpis.global_violation.mean()),
    }
