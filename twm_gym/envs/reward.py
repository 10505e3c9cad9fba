"""Per-step reward of the environments: a documented default and an injectable replacement."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from twm_gym.core.kpi import StepKPIs

RewardFn = Callable[[StepKPIs], NDArray[np.floating]]
"""Maps a batch of per-step KPIs to ``(B,)`` rewards."""


@dataclass(frozen=True)
class Reward:
    """``r_t = scm_weight SCM_t - cost_weight cost_t - 1[violation_t] (violation_penalty + excess_weight min(1, e_t))``.

    ``cost_t`` is the step's control cost (uniform 1/3 costs 1 with the default cost weights,
    ``core/kpi.py``); a step violates when its own loss rates or its URLLC d99 pass the SLA
    ceilings, and ``e_t`` is how far past its ceiling the worst one is (``core/kpi.py``); ``SCM_t``
    is the step's SLA Compliance Margin (paper eq. 2) in [0, 1]. The defaults make it the per-step
    form of the benchmark's decision utility (``core/kpi.py:Utility``; ours, the paper defines
    none; with ``dcost = 1 - cost``, the constant 0.5 is dropped): negative cost, minus a violation
    penalty that grows with the breach, shaped by the margin. Without the SCM and excess terms,
    provisioning nothing (cost 0, every bit lost) would out-score a compliant uniform allocation
    (cost 1); with them, it does not.

    Attributes:
        scm_weight: weight of the step's SCM.
        cost_weight: weight of the step's control cost.
        violation_penalty: subtracted when the step violates any slice's SLA.
        excess_weight: weight of the step's worst normalized SLA excess (capped at 1) on top of it.
    """

    scm_weight: float = 1.0
    cost_weight: float = 0.5
    violation_penalty: float = 1.0
    excess_weight: float = 1.0

    def __call__(self, kpis: StepKPIs) -> NDArray[np.float32]:
        penalty = self.violation_penalty + self.excess_weight * np.minimum(kpis.excess, np.float32(1.0))
        r = self.scm_weight * kpis.scm - self.cost_weight * kpis.cost - kpis.global_violation * penalty
        return np.asarray(r, dtype=np.float32)
