"""FWM features as a CDWM input: the spatial picture of a step under an allocation, in 24 numbers.

When a CDWM is trained with ``fwm_features=True`` every step's input is the action *and* the
Field World Model's prediction for that action on the field the planner sees at that step (the
persistence view, ``core/egw.py:drivers_of``, of the exogenous state at the start of the step):
the 12 field features' mean and maximum over the cells (``FWM_SUMMARY``). Imagining a candidate's
future steps uses the field seen at the decision step for every step, since later fields are
not known then.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from twm_agents.fwm.fields import FEATURES, config_cells, config_channels, exo_channels, field_geometry
from twm_agents.fwm.predictor import FieldModel
from twm_gym.core.egw import drivers_of
from twm_gym.core.params import Scenario
from twm_gym.core.state import EGWState

F32 = NDArray[np.float32]

FWM_SUMMARY: tuple[str, ...] = (*(f"mean_{f}" for f in FEATURES), *(f"max_{f}" for f in FEATURES))


def summarize(features: F32) -> F32:
    """``(..., 24)`` from FWM features ``(..., C, 12)``: mean and max over cells."""
    return np.concatenate([features.mean(axis=-2), features.max(axis=-2)], axis=-1).astype(np.float32)


def field_summary(model: FieldModel, scenario: Scenario, state: EGWState, t: int, p: F32, b: F32) -> F32:
    """``(N, 24)`` FWM summaries of allocations ``p (N, C, S)``, ``b (N, L, S)`` at step ``t``.

    ``state`` holds one rollout (shared by the ``N`` allocations) or ``N`` (one each).
    """
    geom = field_geometry(scenario)
    drv = drivers_of(geom.comp, state, t)
    config = config_channels(geom, drv, p, b)
    spatial = exo_channels(geom, drv, model.shape.any_city)
    if spatial.shape[0] == 1:
        pred = model.predict_shared(spatial, config, city=geom)
    else:
        pred = model.predict(np.concatenate([spatial, config], axis=1), city=geom, with_field=False)
    return summarize(pred.mean)


def plan_summaries(model: FieldModel, scenario: Scenario, state: EGWState, t: int, p: F32, b: F32) -> F32:
    """``(N, H, 24)`` FWM summaries of ``N`` plans' next ``H`` steps ``p (N, H, C, S)``, ``b (N, H, L, S)``,
    every step ``t + k`` on the field seen now (``state``: one rollout, the start of step ``t``).

    The same numbers as :func:`field_summary` step by step (up to float rounding), with the
    encoder batched over the ``H`` fields: what ranking a plan's future costs.
    """
    if state.ar.shape[0] != 1:
        raise ValueError(f"state must hold one rollout (the field seen now), got {state.ar.shape[0]}")
    geom = field_geometry(scenario)
    horizon = p.shape[1]
    drivers = [drivers_of(geom.comp, state, t + k) for k in range(horizon)]
    spatial = np.concatenate([exo_channels(geom, drv, model.shape.any_city) for drv in drivers])  # (H, Cs, G, G)
    cells = np.stack([config_cells(geom, drv, p[:, k], b[:, k]) for k, drv in enumerate(drivers)])
    return summarize(model.predict_steps(spatial, cells, city=geom)).transpose(1, 0, 2)  # (N, H, 24)
