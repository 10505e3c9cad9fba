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
    """``r_t = scm_weight * SCM_t - cost_weight * cost_t - violation_penalty * 1[step t violates an SLA]``.

    ``cost_t`` is the step's control cost (uniform 1/3 costs 1 with the default cost weights,
    ``core/kpi.py``); a step violates when its own loss rates or its URLLC d99 pass the SLA
    ceilings; ``SCM_t`` is the step's SLA Compliance Margin (paper eq. 2) in [0, 1]. The defaults
    make it the per-step form of the benchmark's decision utility ``U = SCM + 0.5 dcost - 1[viol]``
    (ours; the paper defines none; with ``dcost = 1 - cost``, the constant 0.5 is dropped):
    negative cost, minus a violation penalty, shaped by the margin. Without the SCM term,
    provisioning nothing (cost 0, every bit lost, -1 a step) would out-score a compliant uniform
    allocation (cost 1); with it, it does not.

    Attributes:
        scm_weight: weight of the step's SCM.
        cost_weight: weight of the step's control cost.
        violation_penalty: subtracted when the step violates any slice's SLA.
    """

    scm_weight: float = 1.0
    cost_weight: float = 0.5
    violation_penalty: float = 1.0

    def __call__(self, kpis: StepKPIs) -> NDArray[np.float32]:
        r = self.scm_weight * kpis.scm - self.cost_weight * kpis.cost - self.violation_penalty * kpis.global_violation
        return np.asarray(r, dtype=np.float32)
