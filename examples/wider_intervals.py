"""A plug-in Field World Model: the shipped any-city FWM with its intervals widened.

The leaderboard scores it beside the shipped models (docs/how-to/plug-in-a-world-model.md)::

    PYTHONPATH=examples twm-bench leaderboard --fwm wider_intervals:load --out results/leaderboard
"""

from __future__ import annotations

import dataclasses
from typing import Any

from twm_agents.fwm.predictor import FieldModel, FieldPrediction


class WiderIntervals(FieldModel):
    """Every interval of the wrapped model stretched ``factor`` times about its mean."""

    factor = 1.5

    def predict(self, x: Any, **kwargs: Any) -> FieldPrediction:
        pred = super().predict(x, **kwargs)
        half_lo, half_hi = pred.mean - pred.lo, pred.hi - pred.mean
        return dataclasses.replace(pred, lo=pred.mean - self.factor * half_lo, hi=pred.mean + self.factor * half_hi)


def load() -> WiderIntervals:
    """The factory the leaderboard calls: the shipped ``sets`` checkpoint in the subclass."""
    shipped = FieldModel.named("sets")
    return WiderIntervals(shipped.ensemble, shipped.intervals, shipped.meta)
