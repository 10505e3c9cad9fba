"""The runner's random numbers: common to every agent in an episode, free of the episodes before it."""

import numpy as np
import pytest

from twm_agents.baselines.simple import RandomCandidate
from twm_bench.keys import PUBLIC, EvaluationKey
from twm_bench.runner import run_unit


@pytest.mark.parametrize("key", [PUBLIC, EvaluationKey(bytes(range(32)))], ids=["public", "sealed"])
def test_agent_generator__one_per_episode_and_apart_from_prepare(key) -> None:
    episode_generator = key.agent_generator
    draws = {
        name: episode_generator(0, scenario, seed).integers(2**62)
        for name, (scenario, seed) in {
            "a": ("wave-id", 0),
            "b": ("wave-id", 1),
            "c": ("hotspot-id", 0),
            "prepare": ("wave-id", None),
        }.items()
    }
    assert len(set(draws.values())) == 4
    assert episode_generator(0, "wave-id", 0).integers(2**62) == draws["a"]
    assert episode_generator(1, "wave-id", 0).integers(2**62) != draws["a"]


def test_run_unit__every_agent_draws_the_same_numbers_whatever_came_before() -> None:
    seeds = list(range(6))
    played = run_unit("random", "wave-id", seeds, 72, 0, "h")
    # another name, and only the last seeds: the same picks, so the same records
    renamed = run_unit("my-random", "wave-id", seeds[3:], 36, 0, "h", agent=RandomCandidate())
    assert [r.kpis for r in renamed] == [r.kpis for r in played[3:]]
    assert len({r.utility for r in played}) > 1  # the picks do vary from episode to episode
    other = run_unit("random", "wave-id", seeds, 72, 7, "h")  # another agent seed, other picks
    assert not np.allclose([r.utility for r in other], [r.utility for r in played])
