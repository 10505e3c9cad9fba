"""The exogenous state an agent infers from its observations (the FWM's input, SPEC §9)."""

from __future__ import annotations

import numpy as np
import pytest

from twm_agents.fwm.observed import observed_state
from twm_gym.core.compiled import compile_scenario
from twm_gym.core.egw import drivers_of, initial_egw
from twm_gym.core.sim import Simulation
from twm_gym.envs.layout import Observer, layout_for
from twm_gym.scenarios import load_scenario


def _episode(name: str, seeds: int = 16) -> list[tuple[int, dict[str, np.ndarray], object]]:
    """``(t, observation at the start of t, hidden exogenous state then)`` of uniform-share episodes."""
    sc = load_scenario(name)
    comp, observer = compile_scenario(sc), Observer(layout_for(sc))
    sim = Simulation(sc, list(range(seeds)))
    p = np.full((seeds, comp.n_cells, 3), 1 / 3, np.float32)
    b = np.full((seeds, comp.n_links, 3), 1 / 3, np.float32)
    out = []
    for t in range(sc.horizon - 1):
        tr = sim.step(p, b)
        out.append((t + 1, observer.observe(t + 1, tr.csw, tr.egw, tr.drivers, tr.result), tr.egw))
    return out


@pytest.mark.parametrize("name", ["hotspot-id", "wave-id"])
def test_the_inferred_state_reproduces_what_the_persistence_view_of_the_hidden_one_gives(name: str) -> None:
    """Same demand of every cell and slice, same links, same shocks' running flags; the users per
    pixel close (the shock's intensity is fitted, not observed)."""
    sc = load_scenario(name)
    comp = compile_scenario(sc)
    shocks, errors = 0, []
    for t, obs, hidden in _episode(name):
        state = observed_state(sc, obs)
        truth, seen = drivers_of(comp, hidden, t), drivers_of(comp, state, t)
        np.testing.assert_allclose(seen.demand, truth.demand, rtol=2e-3)
        np.testing.assert_array_equal(seen.link_up, truth.link_up)
        np.testing.assert_array_equal(state.ev_left[:, :2] > 0, hidden.ev_left[:, :2] > 0)
        running = hidden.ev_left[:, :2].max(axis=1) > 0
        shocks += int(running.sum())
        errors.append(np.abs(seen.density - truth.density).mean(axis=1) / truth.density.mean(axis=1))
    assert shocks > 0  # the episodes exercised a running shock
    assert np.mean(errors) < 0.02 and np.max(errors) < 0.15, (np.mean(errors), np.max(errors))


def test_an_ood_world_reaches_the_fwm_as_observed_not_as_the_nominal_model_says() -> None:
    """Read through the nominal model, the inferred state gives the live world's demand; the hidden
    state run through the nominal model does not (its demand level differs)."""
    live, nominal = load_scenario("hotspot-ood"), load_scenario("hotspot-id")
    comp_live, comp_nom = compile_scenario(live), compile_scenario(nominal)
    inferred, hidden = [], []
    for t, obs, egw in _episode("hotspot-ood"):
        truth = drivers_of(comp_live, egw, t).demand
        inferred.append(np.abs(np.log(drivers_of(comp_nom, observed_state(nominal, obs), t).demand / truth)).mean())
        hidden.append(np.abs(np.log(drivers_of(comp_nom, egw, t).demand / truth)).mean())
    assert np.mean(inferred) < 1e-3 and np.mean(inferred) < np.mean(hidden)


def test_the_first_step_and_bad_input() -> None:
    sc = load_scenario("hotspot-id")
    comp = compile_scenario(sc)
    obs = Observer(layout_for(sc)).observe_exo(0, initial_egw(comp, 1), None)
    state = observed_state(sc, {k: v[0] for k, v in obs.items()})  # one episode, unbatched keys
    start = initial_egw(comp, 1)
    for field in ("ar", "down_left", "ev_left", "ev_intensity"):
        np.testing.assert_array_equal(getattr(state, field), getattr(start, field))
    with pytest.raises(KeyError, match="egw_demand"):
        observed_state(sc, {"csw_radio_util": np.zeros(3, np.float32)})
