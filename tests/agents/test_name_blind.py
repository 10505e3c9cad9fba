"""No agent keys on a scenario's name or family: renamed, the same scenario gets the same decisions."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from twm_agents.base import AGENT_SEED_DOMAIN, EpisodeContext, ScenarioCard
from twm_agents.registry import BUILTIN, make_agent
from twm_gym.core.params import Scenario
from twm_gym.core.twin import Twin
from twm_gym.envs import SlicingEnv
from twm_gym.scenarios import load_scenario

EXO_SEED = 12_345
COMPETITORS = sorted(name for name in BUILTIN if name != "oracle")  # the oracle is handed the true seed


def _renamed(tmp_path: Path) -> Scenario:
    """wave-ood as a new family ``quay`` whose nominal is ``quay-id`` (wave-id renamed), loaded from files."""
    files = {
        "quay-id.json": {"extends": "wave-id", "name": "quay-id", "family": "quay", "nominal": "quay-id"},
        "quay-ood.json": {"extends": "wave-ood", "name": "quay-ood", "family": "quay", "nominal": "quay-id"},
    }
    for name, data in files.items():
        (tmp_path / name).write_text(json.dumps({**data, "description": "a harbour quay"}))
    return load_scenario(tmp_path / "quay-ood.json")


def _decisions(spec: str, scenario: Scenario) -> list[NDArray[np.float32]]:
    """The actions ``spec`` takes in one episode of ``scenario`` (fixed exogenous seed and generator)."""
    card = ScenarioCard.of(scenario)
    twin = Twin(card.nominal, budget=48, seed_domain=AGENT_SEED_DOMAIN)
    env = SlicingEnv(scenario, action_mode="shares")
    obs, _ = env.reset(options={"exo_seed": EXO_SEED})
    rng = np.random.default_rng(3)

    def context(episode: int) -> EpisodeContext:
        return EpisodeContext(card, twin, rng, snapshot=lambda: env.simulation.snapshot(0), episode=episode)

    agent = make_agent(spec)
    agent.prepare(context(-1))
    agent.reset(context(0))
    actions, done = [], False
    while not done:
        action = np.asarray(agent.act(obs), np.float32)
        actions.append(action)
        obs, _, terminated, truncated, _ = env.step(action)
        done = terminated or truncated
    return actions


def test_the_renamed_scenario_is_the_same_world(tmp_path: Path) -> None:
    original, renamed = load_scenario("wave-ood"), _renamed(tmp_path)
    assert (renamed.name, renamed.family) == ("quay-ood", "quay")
    card = ScenarioCard.of(renamed)
    assert (card.name, card.family, card.nominal.name) == ("quay-ood", "quay", "quay-id")
    same = dataclasses.replace(renamed, name=original.name, family=original.family, nominal=original.nominal)
    assert dataclasses.replace(same, description=original.description) == original


@pytest.mark.parametrize("spec", COMPETITORS)
def test_an_agent_decides_the_same_on_a_renamed_scenario(tmp_path: Path, spec: str) -> None:
    original = _decisions(spec, load_scenario("wave-ood"))
    renamed = _decisions(spec, _renamed(tmp_path))
    assert len(original) == len(renamed) == load_scenario("wave-ood").horizon
    for t, (a, b) in enumerate(zip(original, renamed, strict=True)):
        assert np.array_equal(a, b), f"{spec} acts differently at step {t} once the scenario is renamed"
