"""Every registered TWM/* id against the Gymnasium and SB3 checkers, seeding, pickling, bad actions."""

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import twm_gym  # noqa: F401 - registers the ids
from twm_gym.envs import SCENARIO_IDS
from twm_gym.envs.registration import has_vector_api

SLICING_IDS = ["TWM/Slicing-v0", *SCENARIO_IDS.values()]
ALL_IDS = [*SLICING_IDS, "TWM/Field-v0"]

# The one warning allowed, and why: SB3 recommends a symmetric [-1, 1] action box, but with
# action_mode="shares" the action *is* a vector of shares in [0, 1] (the env's documented layout).
SB3_WHITELIST = "We recommend you to use a symmetric and normalized Box action space"


def test_registry__every_scenario_has_an_id_and_vector_entry_point() -> None:
    for env_id in ALL_IDS:
        assert env_id in gym.registry
    expected = "twm_gym.envs.vector:SlicingVectorEnv" if has_vector_api() else None  # gymnasium >= 1.1
    for env_id in SLICING_IDS:
        assert gym.spec(env_id).vector_entry_point == expected


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_checkers__gymnasium_and_sb3_pass_with_warnings_as_errors(env_id: str) -> None:
    modes = [None, "rgb_array", "ansi", "human"]  # human: the text fallback here (no display)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for mode in modes:
            env = gym.make(env_id, render_mode=mode) if mode else gym.make(env_id)
            check_env(env.unwrapped, skip_render_check=mode is None)
        warnings.filterwarnings("ignore", message=SB3_WHITELIST)
        sb3_check_env(gym.make(env_id).unwrapped, warn=True)


def _rollout(env: gym.Env, seed: int, steps: int, action_seed: int = 0) -> list:
    rng = np.random.default_rng(action_seed)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for _ in range(steps):
        action = rng.random(env.action_space.shape, dtype=np.float32) if env.action_space.shape else 0
        obs, reward, term, trunc, info = env.step(action)
        out.append((obs, reward, term, trunc, {k: v for k, v in info.items() if k != "episode_kpis"}))
    return out


def _assert_equal_nested(a, b) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_equal_nested(a[key], b[key])
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_equal_nested(x, y)
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_determinism__same_seed_same_trajectory_and_pickle_round_trip(env_id: str) -> None:
    horizon = 4 if "Tiny" in env_id else 12
    a, b = gym.make(env_id), gym.make(env_id)
    _assert_equal_nested(_rollout(a, 7, horizon), _rollout(b, 7, horizon))
    # A different seed gives a different exogenous world (tiny has no noise at all).
    if "Tiny" not in env_id:
        assert not np.array_equal(_rollout(a, 8, 1)[1][0]["egw_demand"], _rollout(b, 7, 1)[1][0]["egw_demand"])
    # Pickle mid-episode: the copy continues exactly as the original.
    env = gym.make(env_id).unwrapped
    env.reset(seed=3)
    env.step(env.action_space.sample() if env.action_space.shape else 0)
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(2):
        action = np.full(env.action_space.shape, 0.3, dtype=np.float32) if env.action_space.shape else 0
        _assert_equal_nested(env.step(action), clone.step(action))


def test_episode__truncates_at_the_horizon_with_episode_kpis() -> None:
    env = gym.make("TWM/Slicing-v0")
    env.reset(seed=0)
    third = np.full(env.action_space.shape, 1 / 3, dtype=np.float32)
    for t in range(12):
        obs, reward, term, trunc, info = env.step(third)
        assert not term and trunc == (t == 11)
        assert reward == pytest.approx(info["scm"] - 0.5 * info["cost"] - info["violation"])
    kpis = info["episode_kpis"]
    assert kpis["cost"] == pytest.approx(1.0) and kpis["delta_cost"] == pytest.approx(0.0, abs=1e-6)
    assert obs["egw_time"][0] == 1.0
    with pytest.raises(ValueError, match="episode is over"):
        env.step(third)


def test_exo_seed__fixes_the_exogenous_world_whatever_the_agent_seed() -> None:
    env = gym.make("TWM/Slicing-v0")
    _o1, i1 = env.reset(seed=1, options={"exo_seed": 42})
    _o2, i2 = env.reset(seed=2, options={"exo_seed": 42})
    assert i1["exo_seed"] == i2["exo_seed"] == 42
    a = np.full(env.action_space.shape, 0.2, dtype=np.float32)
    first = env.step(a)[0]["egw_demand"]
    env.reset(options={"exo_seed": 42})
    np.testing.assert_array_equal(first, env.step(a)[0]["egw_demand"])
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"exo_sed": 1})
    for bad in ("abc", -1, 1.5, 2**63):
        with pytest.raises(ValueError, match=r"options\['exo_seed'\] must be non-negative integers below 2\*\*63"):
            env.reset(options={"exo_seed": bad})


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda a: np.append(a, 0.1), r"shape \(61,\)"),
        (lambda a: a.astype(np.complex64), "real-valued"),
        (lambda a: a.astype(str), "real-valued"),
        (lambda a: np.where(np.arange(a.size) == 4, np.nan, a), r"action\[4\] \(p: cell 1, slice urllc\) is nan"),
        (lambda a: np.where(np.arange(a.size) == 31, np.inf, a), r"action\[31\] \(b: link 0, slice urllc\) is inf"),
        (lambda a: np.where(np.arange(a.size) == 0, -0.1, a), r"action\[0\] \(p: cell 0, slice embb\) is negative"),
    ],
)
def test_actions__bad_ones_raise_value_error_naming_the_problem(mutate, message: str) -> None:
    env = gym.make("TWM/Slicing-v0", action_mode="shares")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(mutate(np.full(60, 0.3, dtype=np.float32)))


def test_actions__relative_form_maps_an_octave_each_way_around_uniform() -> None:
    env = gym.make("TWM/Slicing-v0").unwrapped
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (60,), np.float32)
    env.reset(seed=0)
    a = np.zeros(60, dtype=np.float32)
    a[0:3] = (1.0, -1.0, -1.0)  # 2/3, 1/6, 1/6: sums to 1, kept
    a[3:6] = (5.0, 1.0, -7.0)  # clipped to (1, 1, -1): 2/3, 2/3, 1/6 sums to 1.5, scaled by 1/1.5
    a[6:9] = (-1.0, -1.0, -1.0)  # a sixth each: half of the cell left unprovisioned
    obs = env.step(a)[0]
    shares = obs["csw_prb_share"].reshape(10, 3)
    np.testing.assert_allclose(shares[0], (2 / 3, 1 / 6, 1 / 6), rtol=1e-6)
    np.testing.assert_allclose(shares[1], (4 / 9, 4 / 9, 1 / 9), rtol=1e-6)
    np.testing.assert_allclose(shares[2], (1 / 6, 1 / 6, 1 / 6), rtol=1e-6)
    np.testing.assert_allclose(shares[3:], 1 / 3, rtol=1e-6)  # the zero action is the uniform allocation
    with pytest.raises(ValueError, match=r"action\[7\] \(p: cell 2, slice urllc\) is nan.*must be finite"):
        env.step(np.where(np.arange(60) == 7, np.nan, 0.0))
    with pytest.raises(ValueError, match=r"action_mode 'octave' is not one of \['relative', 'shares'\]"):
        gym.make("TWM/Slicing-v0", action_mode="octave")


def test_actions__over_full_rows_are_scaled_like_the_core_and_layout_round_trips() -> None:
    env = gym.make("TWM/Slicing-v0", action_mode="shares").unwrapped
    layout = env.layout
    p = np.full((10, 3), 0.2, dtype=np.float32)
    p[3] = (1.5, 1.5, 0.0)  # sums to 3: scaled to (0.5, 0.5, 0)
    b = np.full((10, 3), 1 / 3, dtype=np.float32)
    action = layout.pack(p, b)
    np.testing.assert_array_equal(layout.unpack(action)[0], p)
    env.reset(seed=0)
    obs = env.step(action)[0]
    np.testing.assert_allclose(obs["csw_prb_share"].reshape(10, 3)[3], (0.5, 0.5, 0.0))
    np.testing.assert_allclose(obs["csw_prb_share"].reshape(10, 3)[0], (0.2, 0.2, 0.2))


def test_env__matches_the_batched_twin_step_by_step() -> None:
    from twm_gym.core import simulate

    env = gym.make("TWM/Slicing-HotspotOOD-v0", action_mode="shares").unwrapped
    rng = np.random.default_rng(5)
    actions = rng.random((12, 60), dtype=np.float32)
    _, info = env.reset(seed=11)
    for a in actions:
        *_, info = env.step(a)
    p, b = env.layout.unpack(actions)
    twin = simulate(env.scenario, p[None], b[None], [env.exo_seed])
    assert info["episode_kpis"] == twin.kpis.row(0)


def test_observations__within_bounds_and_copies_of_the_state() -> None:
    env = gym.make("TWM/Slicing-WaveOOD-v0")
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(12):
        obs, *_ = env.step(rng.random(60, dtype=np.float32) * 1.5)
        assert env.observation_space.contains(obs)
    obs["csw_prb_share"][:] = 9.0  # editing an observation must not touch the simulation
    assert env.unwrapped.simulation.csw.last_p.max() <= 1.0
