"""The PettingZoo face: API tests, seeding, and the same core as the single-agent env."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test

import twm_gym
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
        parallel_api_test(twm_gym.parallel_env(scenario=scenario), num_cycles=30)
        api_test(twm_gym.aec_env(scenario=scenario), num_cycles=30)
        parallel_seed_test(lambda: twm_gym.parallel_env(scenario=scenario))


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
    with pytest.raises(ValueError, match="expected 3 PRB shares"):
        par.step({**actions, "cell_0": np.zeros(4, dtype=np.float32)})
