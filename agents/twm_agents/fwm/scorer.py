"""The FWM as a planner component: spatial risk of a batch of candidate allocations, with uncertainty.

Given the live episode's exogenous state (a snapshot's ``egw`` at the start of step ``t``) and
``N`` candidate allocations, :meth:`FieldScorer.score` paints the persistence view of step ``t``
once (``core/egw.py:drivers_of``), runs the encoder on it once, reads each candidate's
configuration in the per-cell readout (``FieldModel.predict_shared``), and returns the
predicted field features with calibrated intervals and a scalar *spatial risk* per candidate:

``risk = mean over cells of max(radio load pressures, path bottleneck)``, evaluated at the upper
end of each feature's interval (pessimistic: a pressure of 0.5 is demand at capacity), and
``risk_sd``, the spread of the same score across ensemble members. Lower is safer. The FWM-only
agent ranks candidates by it; the TWM planner combines it with the CDWM.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from twm_agents.fwm.fields import FEATURES, config_channels, exo_channels, field_geometry
from twm_agents.fwm.predictor import FieldModel, FieldPrediction
from twm_gym.core.egw import drivers_of
from twm_gym.core.params import Scenario
from twm_gym.core.state import Drivers, EGWState

F32 = NDArray[np.float32]

RISK_FEATURES: tuple[str, ...] = ("load_embb", "load_urllc", "load_fwa", "bottleneck")
_RISK_INDEX = np.array([FEATURES.index(f) for f in RISK_FEATURES])


@dataclass(frozen=True, eq=False)
class SpatialRisk:
    """Scores of ``N`` candidates (lower ``risk`` is safer)."""

    risk: F32  # (N,) spatial risk at the interval's upper end
    risk_mean: F32  # (N,) the same score at the ensemble mean
    risk_sd: F32  # (N,) its spread across ensemble members
    prediction: FieldPrediction  # (N, C, F) features with intervals


def spatial_risk(features: F32) -> F32:
    """``(...)`` risk from ``(..., C, F)`` features: mean over cells of the largest risk pressure."""
    return features[..., _RISK_INDEX].max(axis=-1).mean(axis=-1)


class FieldScorer:
    """Scores candidate allocations for a scenario's city with a trained :class:`FieldModel`."""

    def __init__(self, model: FieldModel, scenario: Scenario, confidence: float = 0.9) -> None:
        self.model, self.scenario, self.confidence = model, scenario, confidence
        self.geom = field_geometry(scenario)

    def channels(self, state: EGWState, t: int, p: F32, b: F32) -> F32:
        """``(N, Cin, G, G)`` model input for candidates ``p (N, C, S)``, ``b (N, L, S)`` at step ``t``."""
        drv = self._drivers(state, t)
        exo = exo_channels(self.geom, drv, self.model.shape.any_city)  # (1, Ce, G, G), shared by every candidate
        cfg = config_channels(self.geom, drv, np.asarray(p, np.float32), np.asarray(b, np.float32))
        return np.concatenate([np.broadcast_to(exo, (cfg.shape[0], *exo.shape[1:])), cfg], axis=1)

    def _drivers(self, state: EGWState, t: int) -> Drivers:
        if state.ar.shape[0] != 1:
            raise ValueError(f"state must hold one rollout (batch 1), got {state.ar.shape[0]}")
        return drivers_of(self.geom.comp, state, t)

    def score(self, state: EGWState, t: int, p: F32, b: F32) -> SpatialRisk:
        """Spatial risk of ``N`` candidates' step-``t`` shares from the exogenous state at the start of ``t``."""
        drv = self._drivers(state, t)
        spatial = exo_channels(self.geom, drv, self.model.shape.any_city)
        config = config_channels(self.geom, drv, np.asarray(p, np.float32), np.asarray(b, np.float32))
        pred = self.model.predict_shared(spatial, config, city=self.geom, confidence=self.confidence)
        return SpatialRisk(
            risk=spatial_risk(pred.hi),
            risk_mean=spatial_risk(pred.mean),
            risk_sd=spatial_risk(pred.members).std(axis=0),
            prediction=pred,
        )
