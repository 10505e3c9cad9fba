"""gym.make_vec runs the batched core and reproduces N single envs, with same-step autoreset."""

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

import twm_gym  # noqa: F401
from twm_gym.envs import SlicingVectorEnv


def test_make_vec__uses_the_batched_core_with_same_step_autoreset() -> None:
    vec = gym.make_vec("TWM/Slicing-v0", num_envs=3)
    assert isinstance(vec, SlicingVectorEnv)
    assert vec.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP


def test_make_vec__equals_n_single_envs_over_two_episodes() -> None:
    n, seed = 4, 100
    vec = gym.make_vec("TWM/Slicing-WaveID-v0", num_envs=n)
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
    assert len(vec._sim.parts) == 2
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
    assert len(ref._sim.parts) == 1
