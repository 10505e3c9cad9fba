"""gym.make_vec runs the batched core and reproduces N single envs in every autoreset mode."""

import gymnasium as gym
import numpy as np
import pytest

import twm_gym  # noqa: F401
from twm_gym.envs.registration import has_vector_api

if not has_vector_api():
    pytest.skip("the vector env needs gymnasium >= 1.1", allow_module_level=True)

from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import vector as vector_wrappers

from twm_gym.envs import SlicingVectorEnv


def test_make_vec__uses_the_batched_core_with_next_step_autoreset_by_default() -> None:
    vec = gym.make_vec("TWM/Slicing-v0", num_envs=3)
    assert isinstance(vec, SlicingVectorEnv)
    assert vec.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    same = gym.make_vec("TWM/Slicing-v0", num_envs=3, autoreset_mode="SameStep")
    assert same.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    assert SlicingVectorEnv.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP  # per instance, not class


def test_make_vec__next_step_equals_n_single_envs_over_three_episodes() -> None:
    n, seed = 3, 7
    vec = gym.make_vec("TWM/Slicing-WaveID-v0", num_envs=n)
    singles = [gym.make("TWM/Slicing-WaveID-v0") for _ in range(n)]
    obs, _ = vec.reset(seed=seed)
    for i, env in enumerate(singles):
        o, _ = env.reset(seed=seed + i)
        for key in o:
            np.testing.assert_array_equal(obs[key][i], o[key])
    rng = np.random.default_rng(1)
    ended = [False] * n
    for step in range(39):  # three episodes: 12 steps each, then one step that resets
        actions = rng.random((n, 60), dtype=np.float32)
        obs, rewards, terms, truncs, info = vec.step(actions)
        assert rewards.dtype == np.float64 and truncs.dtype == np.bool_ and terms.dtype == np.bool_
        for i, env in enumerate(singles):
            if ended[i]:  # next-step autoreset: the action is ignored, the new episode's first observation
                o, reset_info = env.reset()
                assert (rewards[i], truncs[i], info["t"][i]) == (0.0, False, 0)
                assert info["exo_seed"][i] == reset_info["exo_seed"]
                ended[i] = False
            else:
                o, r, _te, tr, inf = env.step(actions[i])
                assert (rewards[i], truncs[i]) == (r, tr)
                assert info["scm"][i] == inf["scm"] and info["_scm"][i]
                if tr:
                    assert info["episode_kpis"]["scm"][i] == inf["episode_kpis"]["scm"]
                ended[i] = tr
            for key in o:
                np.testing.assert_array_equal(obs[key][i], o[key])
        assert truncs.all() == (step % 13 == 11)


def test_make_vec__same_step_equals_n_single_envs_over_two_episodes() -> None:
    n, seed = 4, 100
    vec = gym.make_vec("TWM/Slicing-WaveID-v0", num_envs=n, autoreset_mode=AutoresetMode.SAME_STEP)
    singles = [gym.make("TWM/Slicing-WaveID-v0") for _ in range(n)]
    obs, info = vec.reset(seed=seed)
    single_obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(singles)]
    for i in range(n):
        for key in obs:
            np.testing.assert_array_equal(obs[key][i], single_obs[i][key])
    rng = np.random.default_rng(0)
    for step in range(24):  # two episodes: the second starts by autoreset in step 11's call
        actions = rng.random((n, 60), dtype=np.float32)
        obs, rewards, terms, truncs, info = vec.step(actions)
        for i, env in enumerate(singles):
            o, r, te, tr, inf = env.step(actions[i])
            assert (r, te, tr) == (rewards[i], terms[i], truncs[i])
            if tr:  # same-step autoreset: the final observation is in info, obs is the new episode's
                for key in o:
                    np.testing.assert_array_equal(info["final_obs"][i][key], o[key])
                assert info["final_info"]["episode_kpis"]["scm"][i] == inf["episode_kpis"]["scm"]
                assert info["final_info"]["cost"][i] == inf["cost"]
                o, reset_info = env.reset()
                assert info["exo_seed"][i] == reset_info["exo_seed"]
            else:
                assert info["scm"][i] == inf["scm"] and info["d99_ms"][i] == inf["d99_ms"]
            for key in o:
                np.testing.assert_array_equal(obs[key][i], o[key])
        assert truncs.all() == (step % 12 == 11)


def test_make_vec__rejects_bad_batched_actions() -> None:
    vec = gym.make_vec("TWM/Slicing-v0", num_envs=2)
    vec.reset(seed=0)
    bad = np.full((2, 60), 0.3, dtype=np.float32)
    bad[1, 59] = np.nan
    try:
        vec.step(bad)
    except ValueError as exc:
        assert "actions[1, 59] (b: link 9, slice fwa) is nan" in str(exc)
    else:
        raise AssertionError("NaN action accepted")


def test_make_vec__sharded_over_threads_is_exact(monkeypatch) -> None:
    from twm_gym.core import shard

    monkeypatch.setattr(shard, "SHARD_ROWS", 2)  # 4 envs -> 2 shards on the thread pool
    vec = gym.make_vec("TWM/Slicing-HotspotOOD-v0", num_envs=4)
    _obs, _ = vec.reset(seed=3)
    assert len(vec._cohorts[0].sim.parts) == 2
    monkeypatch.setattr(shard, "SHARD_ROWS", 512)
    ref = gym.make_vec("TWM/Slicing-HotspotOOD-v0", num_envs=4)
    _ref_obs, _ = ref.reset(seed=3)
    rng = np.random.default_rng(2)
    for _ in range(12):
        actions = rng.random((4, 60), dtype=np.float32)
        a, b = vec.step(actions), ref.step(actions)
        np.testing.assert_array_equal(a[1], b[1])
        for key in a[0]:
            np.testing.assert_array_equal(a[0][key], b[0][key])
    assert len(ref._cohorts[0].sim.parts) == 1


def test_make_vec__gymnasium_vector_wrappers_work() -> None:
    vec = gym.make_vec("TWM/Slicing-v0", num_envs=64)
    env = vector_wrappers.FlattenObservation(vec)
    env = vector_wrappers.NormalizeObservation(env)
    env = vector_wrappers.RecordEpisodeStatistics(env)
    env = vector_wrappers.NormalizeReward(env)
    env = vector_wrappers.ClipAction(env)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 302) and np.isfinite(obs).all()
    rng = np.random.default_rng(0)
    for step in range(13):
        # out-of-range actions: ClipAction clips them into [0, 1] before the env validates them
        obs, _r, _te, tr, info = env.step(rng.uniform(-0.5, 1.5, size=(64, 60)))
        assert np.isfinite(obs).all()
        if step == 11:
            assert tr.all() and info["_episode"].all()
            assert (info["episode"]["l"] == 12).all()
            assert np.isfinite(info["episode"]["r"]).all() and (info["episode"]["r"] < 0).all()
    assert abs(float(obs.mean())) < 1.0  # normalized
    assert env.unwrapped is vec


def test_make_vec__record_episode_statistics_sums_the_rewards() -> None:
    vec = gym.make_vec("TWM/Slicing-Tiny-v0", num_envs=4)
    env = vector_wrappers.RecordEpisodeStatistics(vec)
    env.reset(seed=3)
    total = np.zeros(4)
    action = np.full((4, vec.single_action_space.shape[0]), 1 / 3, dtype=np.float32)
    for _ in range(vec.scenario.horizon):
        _o, r, _te, _tr, info = env.step(action)
        total += r
    np.testing.assert_allclose(info["episode"]["r"], total, rtol=1e-6)


def test_make_vec__reset_mask_resets_only_the_masked_envs() -> None:
    n = 3
    vec = gym.make_vec("TWM/Slicing-HotspotID-v0", num_envs=n)
    ref = gym.make_vec("TWM/Slicing-HotspotID-v0", num_envs=n)
    single = gym.make("TWM/Slicing-HotspotID-v0")
    vec.reset(seed=11)
    ref.reset(seed=11)
    rng = np.random.default_rng(4)
    for _ in range(3):
        actions = rng.random((n, 60), dtype=np.float32)
        vec.step(actions)
        ref.step(actions)
    mask = np.array([False, True, False])
    obs, info = vec.reset(seed=[None, 99, None], options={"reset_mask": mask})
    o, _ = single.reset(seed=99)
    assert info["_t"].tolist() == [False, True, False] and info["t"][1] == 0
    for key in o:
        np.testing.assert_array_equal(obs[key][1], o[key])
    for _ in range(14):  # the unmasked rows go on as if nothing happened; row 1 replays the single env
        actions = rng.random((n, 60), dtype=np.float32)
        obs, rewards, _te, truncs, info = vec.step(actions)
        ref_obs, ref_rewards, *_ = ref.step(actions)
        for key in obs:
            np.testing.assert_array_equal(obs[key][[0, 2]], ref_obs[key][[0, 2]])
        np.testing.assert_array_equal(rewards[[0, 2]], ref_rewards[[0, 2]])
        if single.unwrapped._sim.done:
            o, _ = single.reset()
            assert rewards[1] == 0.0
        else:
            o, r, _te, tr, _ = single.step(actions[1])
            assert rewards[1] == r and truncs[1] == tr
        for key in o:
            np.testing.assert_array_equal(obs[key][1], o[key])


def test_make_vec__disabled_autoreset_needs_a_masked_reset() -> None:
    vec = gym.make_vec("TWM/Slicing-Tiny-v0", num_envs=2, autoreset_mode=AutoresetMode.DISABLED)
    vec.reset(seed=0)
    action = np.full((2, vec.single_action_space.shape[0]), 1 / 3, dtype=np.float32)
    for _ in range(vec.scenario.horizon):
        *_, truncs, _info = vec.step(action)
    assert truncs.all()
    with pytest.raises(ValueError, match=r"sub-environments \[0, 1\] ended.*reset_mask"):
        vec.step(action)
    vec.reset(options={"reset_mask": np.array([True, True])})
    vec.step(action)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"render_mode": "window"}, r"render_mode 'window' is not one of \['rgb_array', 'ansi', 'human'\]"),
        ({"autoreset_mode": "Later"}, r"autoreset_mode 'Later' is not one of \['NextStep', 'SameStep', 'Disabled'\]"),
    ],
)
def test_make_vec__rejects_bad_arguments(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        gym.make_vec("TWM/Slicing-v0", num_envs=2, **kwargs)


def test_make_vec__rejects_a_bad_reset_mask() -> None:
    vec = gym.make_vec("TWM/Slicing-v0", num_envs=2)
    vec.reset(seed=0)
    with pytest.raises(ValueError, match=r"reset_mask'\] must be a numpy bool array of shape \(2,\)"):
        vec.reset(options={"reset_mask": [True, False]})
    with pytest.raises(ValueError, match="selects no sub-environment"):
        vec.reset(options={"reset_mask": np.zeros(2, dtype=bool)})
    with pytest.raises(ValueError, match=r"unknown reset options \['colour'\]"):
        vec.reset(options={"colour": 1})
