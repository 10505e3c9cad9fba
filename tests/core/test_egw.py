"""The exogenous roll: one pass over many steps equals stepping, whatever the blocking."""

import numpy as np
import pytest

from twm_gym.core import egw
from twm_gym.core.compiled import compile_scenario
from twm_gym.core.rng import seed_keys
from twm_gym.core.state import Drivers, EGWState
from twm_gym.scenarios import load_scenario


def _assert_same(a: Drivers | EGWState, b: Drivers | EGWState) -> None:
    for name in a.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("scenario", ["hotspot-ood", "wave-ood"])
def test_roll__equals_advancing_step_by_step(scenario: str) -> None:
    comp = compile_scenario(load_scenario(scenario))
    keys = seed_keys(np.arange(5))
    start = egw.initial_egw(comp, 5)
    path = egw.roll(comp, start, keys, 0, comp.scenario.horizon)
    state = start
    for t in range(comp.scenario.horizon):
        state, drivers = egw.advance(comp, state, keys, t)
        _assert_same(state, path.state(t))
        _assert_same(drivers, path.at(t))


def test_roll__resumes_from_any_step_and_block_size_changes_nothing(monkeypatch) -> None:
    comp = compile_scenario(load_scenario("hotspot-ood"))
    keys = seed_keys(np.arange(7))
    full = egw.roll(comp, egw.initial_egw(comp, 7), keys, 0, comp.scenario.horizon)
    resumed = egw.roll(comp, full.state(4), keys, 5, comp.scenario.horizon)
    monkeypatch.setattr(egw, "_ROW_BLOCK", 1)  # one step per block
    blocked = egw.roll(comp, egw.initial_egw(comp, 7), keys, 0, comp.scenario.horizon)
    for t in range(5, comp.scenario.horizon):
        _assert_same(full.at(t), resumed.at(t))
        _assert_same(full.at(t), blocked.at(t))
        _assert_same(full.state(t), resumed.state(t))


def test_roll__rejects_steps_outside_the_horizon() -> None:
    comp = compile_scenario(load_scenario("tiny"))
    with pytest.raises(ValueError, match="outside the horizon"):
        egw.roll(comp, egw.initial_egw(comp, 1), seed_keys([0]), 0, comp.scenario.horizon + 1)
