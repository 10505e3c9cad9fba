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
    """``r_t = -cost_weight * cost_t - violation_penalty * 1[step t violates an SLA] + scm_weight * SCM_t``.

    ``cost_t`` is the step's control cost (uniform 1/3 costs 1 with the default cost weights,
    ``core/kpi.py``); a step violates when its own loss rates or its URLLC d99 pass the SLA
    ceilings; ``SCM_t`` is the step's SLA Compliance Margin (paper eq. 2) in [0, 1]. The default
    ranks compliance first: a violating step costs as much as a full uniform allocation.

    Attributes:
        cost_weight: weight of the step's control cost.
        violation_penalty: subtracted when the step violates any slice's SLA.
        scm_weight: weight of the step's SCM (0 by default: the paper scores SCM per episode).
    """

    cost_weight: float = 1.0
    violation_penalty: float = 1.0
    scm_weight: float = 0.0

    def __call__(self, kpis: StepKPIs) -> NDArray[np.float32]:
        r = -self.cost_weight * kpis.cost - self.violation_penalty * kpis.global_violation
        if self.scm_weight:
            r = r + self.scm_weight * kpis.scm
        return np.asarray(r, dtype=np.float32)
