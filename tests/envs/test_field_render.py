"""The exogenous-only env and the two render modes."""

import gymnasium as gym
import numpy as np
import pytest

import twm_gym  # noqa: F401


def test_field_env__shows_the_same_exogenous_world_as_the_slicing_env() -> None:
    field = gym.make("TWM/Field-v0")
    slicing = gym.make("TWM/Slicing-v0")
    fo, _ = field.reset(options={"exo_seed": 5})
    so, _ = slicing.reset(options={"exo_seed": 5})
    for t in range(12):
        fo, reward, _, trunc, _ = field.step(0)
        so, *_ = slicing.step(np.full(60, 0.05, dtype=np.float32))  # any action: the EGW ignores it
        for key in so:
            if key.startswith("egw_"):
                np.testing.assert_array_equal(fo[key], so[key])
        assert reward == 0.0 and trunc == (t == 11)
    grid = fo["egw_sinr_map"].reshape(16, 16)
    assert grid.std() > 1.0  # a field, not a constant
    assert fo["egw_density_map"].min() >= 1.0  # base density everywhere, more in zones and shocks


def test_render__rgb_array_is_a_coloured_map_and_ansi_a_kpi_table() -> None:
    env = gym.make("TWM/Slicing-v0", render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    env.step(np.full(60, 1 / 3, dtype=np.float32))
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 50 and not np.array_equal(first, frame)
    text = gym.make("TWM/Slicing-v0", render_mode="ansi")
    text.reset(seed=0)
    assert "no step taken" in text.render()
    text.step(np.full(60, 1 / 3, dtype=np.float32))
    table = text.render()
    assert "step 1/12" in table and "loss urllc" in table and "SCM" in table


def test_docs__env_pages_match_the_docstrings() -> None:
    from twm_gym.envs import docs

    assert docs.main(["--check"]) == 0


@pytest.mark.parametrize("env_id", ["TWM/Slicing-v0", "TWM/Field-v0"])
def test_render__every_env_takes_the_same_modes_and_rejects_others(env_id: str, capsys) -> None:
    for mode in (None, "rgb_array", "ansi", "human"):
        env = gym.make(env_id, render_mode=mode)
        env.reset(seed=0)
        env.step(env.action_space.sample())
        frame = env.render() if mode is not None else None
        if mode == "rgb_array":
            assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3 and frame.std() > 10
        elif mode == "ansi":
            assert isinstance(frame, str) and "step 1/12" in frame
        elif mode == "human":  # no display here: the documented fallback prints the text frame
            assert frame is None and "step 1/12" in capsys.readouterr().out
        env.close()
    gymnasium_says = pytest.warns(UserWarning, match="not in the possible render_modes")  # gym.make warns first
    with (
        gymnasium_says,
        pytest.raises(ValueError, match=r"render_mode 'window' is not one of \['rgb_array', 'ansi', 'human'\]"),
    ):
        gym.make(env_id, render_mode="window")
