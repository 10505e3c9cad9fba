"""Every environment face runs a generated 200-cell city (the largest of the test-cities split)."""

import gymnasium as gym
import numpy as np

import twm_gym  # noqa: F401  (registers the ids)
from twm_gym import slicing_v0
from twm_gym.envs.registration import has_vector_api
from twm_gym.scenarios import load_scenario
from twm_gym.scenarios.splits import split_scenarios

BIG = max(split_scenarios("test-cities"), key=lambda s: load_scenario(s).n_cells)


def test_single_vector_and_parallel_envs_play_a_200_cell_city() -> None:
    sc = load_scenario(BIG)
    assert sc.n_cells == 200
    env = gym.make("TWM/Slicing-v0", scenario=BIG)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    total, done = 0.0, False
    while not done:
        obs, r, term, trunc, _ = env.step(env.action_space.sample())
        total += float(r)
        done = term or trunc
    assert np.isfinite(total)
    if has_vector_api():  # gymnasium >= 1.1
        vec = gym.make_vec("TWM/Slicing-v0", num_envs=2, scenario=BIG)
        vec.reset(seed=0)
        _, rewards, *_ = vec.step(vec.action_space.sample())
        assert rewards.shape == (2,) and np.isfinite(rewards).all()
    par = slicing_v0.parallel_env(scenario=BIG)
    par.reset(seed=0)
    assert len(par.agents) == sc.n_cells + 1 and par.state().shape == par.state_space.shape
    _, rew, *_ = par.step({a: par.action_space(a).sample() for a in par.agents})
    assert all(np.isfinite(v) for v in rew.values())
