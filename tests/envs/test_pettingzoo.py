"""The PettingZoo face: PettingZoo's whole test suite, seeding, state, and the same core as the single-agent env."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from pettingzoo.test import (
    api_test,
    parallel_api_test,
    parallel_seed_test,
    performance_benchmark,
    render_test,
    seed_test,
    state_test,
)

import twm_gym
from twm_gym import slicing_v0
from twm_gym.envs.parallel import TRANSPORT

# PettingZoo's api_test warns for heterogeneous agents; cells and the transport agent observe and
# act on different things by design, so these two are expected (everything else is an error).
PZ_WHITELIST = ("Agents have different observation space sizes", "Observations are different shapes")


@pytest.mark.parametrize("scenario", ["hotspot-id", "tiny"])
def test_pettingzoo__parallel_aec_and_seed_tests_pass(scenario: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for message in PZ_WHITELIST:
            warnings.filterwarnings("ignore", message=message)
        parallel_api_test(slicing_v0.parallel_env(scenario=scenario), num_cycles=30)
        api_test(slicing_v0.env(scenario=scenario), num_cycles=30)
        api_test(slicing_v0.raw_env(scenario=scenario), num_cycles=30)
        parallel_seed_test(lambda: slicing_v0.parallel_env(scenario=scenario))
        seed_test(lambda: slicing_v0.env(scenario=scenario), num_cycles=30)
        state_test(slicing_v0.env(scenario=scenario), slicing_v0.parallel_env(scenario=scenario))
        render_test(lambda **kw: slicing_v0.env(scenario=scenario, **kw))


def test_pettingzoo__performance_benchmark_runs(capsys) -> None:
    performance_benchmark(slicing_v0.env(scenario="tiny"))
    assert "turns per second" in capsys.readouterr().out


def test_pettingzoo__state_is_the_flattened_single_agent_observation() -> None:
    par = slicing_v0.parallel_env()
    single = gym.make("TWM/Slicing-v0")
    with pytest.raises(RuntimeError, match="reset"):
        par.state()
    par.reset(seed=4)
    o, _ = single.reset(seed=4)
    for _ in range(12):
        flat = np.full(60, 0.3, dtype=np.float32)
        actions = {f"cell_{c}": flat[3 * c : 3 * c + 3] for c in range(10)}
        actions[TRANSPORT] = flat[30:]
        par.step(actions)
        o, *_ = single.step(flat)
        state = par.state()
        assert par.state_space.contains(state) and state.shape == (302,)
        np.testing.assert_array_equal(state, np.concatenate([o[k] for k in o]))
    assert par.agents == [] and par.state_space.contains(par.state())  # still readable after the end


def test_pettingzoo__same_core_as_the_single_agent_env() -> None:
    par = twm_gym.parallel_env()
    single = gym.make("TWM/Slicing-v0")
    par.reset(seed=9)
    single.reset(seed=9)
    rng = np.random.default_rng(1)
    for _ in range(12):
        flat = rng.random(60, dtype=np.float32)
        actions = {f"cell_{c}": flat[3 * c : 3 * c + 3] for c in range(10)}
        actions[TRANSPORT] = flat[30:]
        obs, rewards, _terms, truncs, infos = par.step(actions)
        o, r, _te, tr, info = single.step(flat)
        assert set(rewards.values()) == {r} and all(v == tr for v in truncs.values())
        np.testing.assert_array_equal(obs["cell_3"][:3], o["csw_prb_share"][9:12])
    assert par.agents == []
    assert infos["cell_0"]["episode_kpis"] == info["episode_kpis"]


def test_pettingzoo__missing_or_malformed_agent_actions_raise() -> None:
    par = twm_gym.parallel_env()
    par.reset(seed=0)
    actions = {a: par.action_space(a).sample() for a in par.agents}
    with pytest.raises(ValueError, match="missing for agents"):
        par.step({k: v for k, v in actions.items() if k != "cell_2"})
    with pytest.raises(ValueError, match=r"actions\['cell_0'\] has 4 entries; expected 3 PRB shares"):
        par.step({**actions, "cell_0": np.zeros(4, dtype=np.float32)})
    with pytest.raises(ValueError, match=r"actions\['transport_0'\]\[5\] is nan"):
        par.step({**actions, TRANSPORT: np.where(np.arange(30) == 5, np.nan, 0.2)})
    shares = twm_gym.parallel_env(action_mode="shares")
    shares.reset(seed=0)
    actions = {a: shares.action_space(a).sample() for a in shares.agents}
    with pytest.raises(ValueError, match=r"actions\['cell_7'\]\[1\] is -0.1.*must be finite and >= 0"):
        shares.step({**actions, "cell_7": np.array([0.2, -0.1, 0.2])})
