"""Counter-based draws: deterministic, batch-independent, correctly distributed."""

import numpy as np
import pytest

from twm_gym.core.rng import draw, normal_table, seed_keys


def test_draw__depends_only_on_seed_and_step() -> None:
    keys = seed_keys(np.array([3, 7, 11]))
    u, i = draw(keys, 4, 5, 9)
    u2, i2 = draw(seed_keys(np.array([11, 3])), 4, 5, 9)
    np.testing.assert_array_equal(u[[2, 0]], u2)
    np.testing.assert_array_equal(i[[2, 0]], i2)
    u3, _ = draw(keys, 5, 5, 9)
    assert not np.array_equal(u, u3)


def test_draw__uniform_and_normal_moments() -> None:
    u, idx = draw(seed_keys(np.arange(2000)), 0, 8, 64)
    assert 0.0 < u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01
    z = normal_table()[idx]
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1.0) < 0.02


def test_seed_keys__rejects_bad_seeds() -> None:
    with pytest.raises(ValueError, match="seeds must lie in"):
        seed_keys(np.array([-1]))
    with pytest.raises(ValueError, match="1-D array of integers"):
        seed_keys(np.array([0.5]))
