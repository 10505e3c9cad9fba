"""The paper's layering for any city: a CDWM that observes the controllable world alone and reads
the exogenous world only through the any-city FWM's field summaries (``twm``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from twm_agents.base import AGENT_SEED_DOMAIN, EpisodeContext, ScenarioCard
from twm_agents.cdwm.encoding import CSW_WIDTH
from twm_agents.cdwm.evaluate import start_states
from twm_agents.cdwm.fieldinfo import FWM_SUMMARY
from twm_agents.cdwm.predictor import CDWMModel
from twm_agents.cdwm.train import CDWMConfig, train
from twm_agents.fwm.predictor import FieldModel
from twm_agents.twm import FWMOnly, TWMPlanner
from twm_bench.runner import _context, run_episode
from twm_gym.core.candidates import candidate_library
from twm_gym.core.state import EGWState
from twm_gym.core.twin import Twin
from twm_gym.scenarios import load_scenario

TRAIN = "train/city-random-hub-and-spoke-8-s0-hotspot-id"
UNSEEN = "test-cities/city-grid-two-tier-10-s100-hotspot-id"


@pytest.fixture(scope="module")
def coupled(tmp_path_factory: pytest.TempPathFactory) -> tuple[CDWMModel, Path]:
    """A tiny CSW-only CDWM conditioned on the shipped any-city FWM's summaries."""
    out = tmp_path_factory.mktemp("cdwm") / "coupled"
    config = CDWMConfig.preset("tiny").replace(
        {
            "encoding": "sets",
            "observations": "csw",
            "fwm_features": "true",
            "fwm_checkpoint": "sets",
            "fwm_view": "decision",
            "scenarios": TRAIN,
            "ood_scenarios": "",
            "test_episodes": "0",
            "train_episodes": "32",
            "cal_episodes": "8",
        }
    )
    return train(config, out=out, progress=None), out


def test_the_exogenous_world_reaches_the_cdwm_only_through_the_fwm(coupled: tuple[CDWMModel, Path]) -> None:
    model, _ = coupled
    assert model.shape.obs_dim == CSW_WIDTH and model.shape.fwm_dim == len(FWM_SUMMARY)
    fwm = FieldModel.named("sets")
    scenario = load_scenario(UNSEEN)
    lib = candidate_library(scenario)
    (start,) = start_states(scenario, [0], t0=2, fwm=fwm)
    other = start_states(scenario, [5], t0=2)[0].snapshot.egw  # another exogenous world at the same step
    layout = ScenarioCard.of(scenario).layout
    egw_keys = slice(sum(layout.sizes[k] for k in layout.sizes if k.startswith("csw_")), None)
    scrambled = start.obs.copy()
    scrambled[:, egw_keys] = np.random.default_rng(0).random(scrambled[:, egw_keys].shape, dtype=np.float32)

    def rank(obs: np.ndarray, egw: object) -> np.ndarray:
        torch.manual_seed(0)
        kw = {"fwm": fwm, "egw_state": egw, "history_fwm": start.fwm, "samples": 2}
        return model.rank(scenario, obs, start.act, start.kpi, lib.p[:8, 2:], lib.b[:8, 2:], **kw).utility

    base = rank(start.obs, start.snapshot.egw)
    assert np.array_equal(base, rank(scrambled, start.snapshot.egw))  # raw exogenous observations: unread
    assert not np.array_equal(base, rank(start.obs, other))  # the fields the FWM forecasts: read


def test_the_coupled_planner_plays_an_unseen_city(coupled: tuple[CDWMModel, Path], tmp_path: Path) -> None:
    """It takes the FWM its CDWM was trained with, spends its budget exactly, and decides the same
    way twice for one seed."""
    _, out = coupled
    scenario = load_scenario(UNSEEN)
    card = ScenarioCard.of(scenario)
    runs = []
    for k in range(2):
        agent = TWMPlanner(cdwm_checkpoint=str(out), handover="", trace=str(tmp_path / f"trace{k}.jsonl"))
        assert agent.fwm is not None and agent.fwm.shape.any_city
        twin = Twin(card.nominal, budget=12, seed_domain=AGENT_SEED_DOMAIN)
        rng = np.random.default_rng(0)
        agent.prepare(_context(card, twin, rng, episode=-1))
        result = run_episode(agent, scenario, 0, twin, rng)
        assert result.error is None and result.sim_calls == 12
        runs.append([json.loads(line) for line in (tmp_path / f"trace{k}.jsonl").read_text().splitlines()])
    assert [r["decision"] for r in runs[0]] == [r["decision"] for r in runs[1]]


class _Hidden(FWMOnly):
    """FWM-only ranking without verification (its decisions read the FWM alone); ``hide`` replaces the
    live snapshot's exogenous state by another episode's."""

    def __init__(self, trace: Path, hide: EGWState | None = None) -> None:
        super().__init__(verify=0, trace=str(trace))
        self.hide = hide

    def reset(self, context: EpisodeContext) -> None:
        hide = self.hide
        if hide is not None:
            real = context.snapshot
            context = dataclasses.replace(context, snapshot=lambda: dataclasses.replace(real(), egw=hide))
        super().reset(context)


def _fwm_scores(agent: _Hidden, live: str, nominal: str) -> list[object]:
    """The FWM's scores of every decision of one episode, from the agent's trace."""
    card = ScenarioCard.of(load_scenario(nominal))
    twin = Twin(card.nominal, budget=12, seed_domain=AGENT_SEED_DOMAIN)
    rng = np.random.default_rng(0)
    agent.prepare(_context(card, twin, rng, episode=-1))
    assert run_episode(agent, load_scenario(live), 3, twin, rng).error is None
    rows = [json.loads(line) for line in Path(agent.config.trace).read_text().splitlines()]
    return [r["inputs"].get("top_scores", r["inputs"].get("current_risk")) for r in rows if "phase" in r["decision"]]


def test_the_fwm_reads_observations_not_the_hidden_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The planner hands its FWM the exogenous state inferred from the observation: another
    hidden exogenous state in the snapshot changes no score, another inferred state does."""
    from twm_agents.twm import planner as planner_module

    live, nominal = "hotspot-ood", "hotspot-id"
    other = start_states(load_scenario(live), [11], t0=5)[0].snapshot.egw  # another episode's world at step 5
    seen = _fwm_scores(_Hidden(tmp_path / "a.jsonl"), live, nominal)
    assert len(seen) >= 2 and seen == _fwm_scores(_Hidden(tmp_path / "b.jsonl", hide=other), live, nominal)
    monkeypatch.setattr(planner_module, "observed_state", lambda scenario, observation: other)
    assert seen != _fwm_scores(_Hidden(tmp_path / "c.jsonl"), live, nominal)
