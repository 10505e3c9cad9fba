"""The city-free CDWM (``encoding="sets"``): one checkpoint trained on some cities ranks on others."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from twm_agents.base import AGENT_SEED_DOMAIN, ScenarioCard
from twm_agents.cdwm.data import generate
from twm_agents.cdwm.encoding import ACTION_WIDTH, CSW_WIDTH, OBS_WIDTH, CityEncoding
from twm_agents.cdwm.evaluate import start_states
from twm_agents.cdwm.predictor import CDWMModel
from twm_agents.cdwm.train import CDWMConfig, make_splits, train
from twm_agents.twm import CDWMOnly
from twm_bench.runner import _context, run_episode
from twm_gym.core.candidates import candidate_library
from twm_gym.core.twin import Twin
from twm_gym.scenarios import load_scenario

TRAIN = ("train/city-random-hub-and-spoke-8-s0-hotspot-id", "train/city-grid-ring-12-s1-wave-id")
UNSEEN = "test-cities/city-grid-two-tier-10-s100-hotspot-id"  # a city none of them is


@pytest.fixture(scope="module")
def sets_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[CDWMModel, Path]:
    out = tmp_path_factory.mktemp("cdwm") / "sets"
    config = CDWMConfig.preset("tiny").replace({"encoding": "sets", "scenarios": ",".join(TRAIN), "ood_scenarios": ""})
    return train(config, out=out, progress=None), out


def test_summaries_have_one_width_for_every_city() -> None:
    for name in ("hotspot-id", *TRAIN, "test-cities/city-random-two-tier-200-s103-hotspot-id"):
        data = generate(name, range(3), encoding="sets")
        assert data.obs.shape[-1] == OBS_WIDTH and data.act.shape[-1] == ACTION_WIDTH, name
        assert np.isfinite(data.obs).all() and np.isfinite(data.act).all()
    assert 0 < CSW_WIDTH < OBS_WIDTH


def test_action_summary_sees_which_cell_gets_the_capacity() -> None:
    """Two plans with the same pooled shares but capacity on different cells differ in the
    provisioning ratios: the summary knows where the load is."""
    scenario = load_scenario("hotspot-id")
    enc = CityEncoding.of(scenario)
    demand = enc.demand[0, :, 0]  # eMBB nominal load per cell at step 0
    busy, idle = int(np.argmax(demand)), int(np.argmin(demand))
    p = np.full((2, 1, scenario.n_cells, 3), 1 / 3, np.float32)
    b = np.full((2, 1, scenario.n_links, 3), 1 / 3, np.float32)
    p[0, 0, busy, 0], p[1, 0, idle, 0] = 0.6, 0.6  # the same extra eMBB share, on another cell
    a = enc.actions(p, b, 0)
    pooled = slice(0, 18)
    assert np.allclose(a[0, 0, pooled], a[1, 0, pooled])  # share statistics alike
    assert not np.allclose(a[0, 0], a[1, 0])  # the ratios are not
    with pytest.raises(ValueError, match="outside the horizon"):
        enc.actions(p, b, scenario.horizon)


def test_a_sets_model_ranks_the_library_of_a_city_it_never_saw(sets_model: tuple[CDWMModel, Path]) -> None:
    model, out = sets_model
    assert model.shape.encoding == "sets" and CDWMModel.load(out).shape.encoding == "sets"
    scenario = load_scenario(UNSEEN)
    lib = candidate_library(scenario)
    (start,) = start_states(scenario, [0], t0=2)
    r = model.rank(scenario, start.obs, start.act, start.kpi, lib.p[:, 2:], lib.b[:, 2:], samples=2)
    assert r.utility.shape == (len(lib),) and np.isfinite(r.utility).all() and r.utility.std() > 0


def test_the_planner_plays_an_unseen_city_with_a_sets_model(sets_model: tuple[CDWMModel, Path], tmp_path: Path) -> None:
    """The planner ranks an unseen city with the sets CDWM and spends its budget exactly; the shipped
    hand-over policy, trained for the paper city's shape, is skipped there with a trace record."""
    _, out = sets_model
    agent = CDWMOnly(cdwm_checkpoint=str(out), trace=str(tmp_path / "trace.jsonl"))
    scenario = load_scenario(UNSEEN)
    card = ScenarioCard.of(scenario)
    twin = Twin(card.nominal, budget=12, seed_domain=AGENT_SEED_DOMAIN)
    rng = np.random.default_rng(0)
    agent.prepare(_context(card, twin, rng, episode=-1))
    result = run_episode(agent, scenario, 0, twin, rng)
    assert result.error is None and result.sim_calls == 12
    assert agent.handover is not None and not agent._can_hand_over and agent.handed_over_at == -1
    decisions = [json.loads(line)["decision"] for line in (tmp_path / "trace.jsonl").read_text().splitlines()]
    assert decisions.count("handover-unavailable") == 1 and "phase1-verify" in decisions


def test_sets_encoding_is_validated() -> None:
    with pytest.raises(ValueError, match="encoding must be one of"):
        CDWMConfig(encoding="graph")
    one_city_fwm = CDWMConfig.preset("tiny").replace({"encoding": "sets", "fwm_features": "true"})
    with pytest.raises(ValueError, match="needs an any-city FWM"):
        make_splits(one_city_fwm)  # the shipped default FWM reads the paper's city only
    with pytest.raises(ValueError, match=r"encoding: 'grid' is not one of"):
        generate("hotspot-id", range(1), encoding="grid")


def test_a_csw_only_model_never_reads_the_exogenous_observations(tmp_path: Path) -> None:
    """``observations="csw"`` (the paper's CDWM-only): the model's inputs are the controllable
    world's keys alone, so scrambling every exogenous observation changes no prediction."""
    config = CDWMConfig.preset("tiny").replace(
        {"encoding": "sets", "observations": "csw", "scenarios": TRAIN[0], "ood_scenarios": "", "test_episodes": "0"}
    )
    model = train(config, out=tmp_path / "csw", progress=None)
    assert model.shape.obs_dim == model.shape.csw_dim == CSW_WIDTH
    assert generate(TRAIN[0], range(2), encoding="sets", observations="csw").obs.shape[-1] == CSW_WIDTH
    scenario = load_scenario(UNSEEN)
    lib = candidate_library(scenario)
    (start,) = start_states(scenario, [0], t0=2)
    layout = ScenarioCard.of(scenario).layout
    egw = slice(sum(layout.sizes[k] for k in layout.sizes if k.startswith("csw_")), None)
    scrambled = start.obs.copy()
    scrambled[:, egw] = np.random.default_rng(0).random(scrambled[:, egw].shape, dtype=np.float32)
    ranks = []
    for obs in (start.obs, scrambled):
        torch.manual_seed(0)
        ranks.append(model.rank(scenario, obs, start.act, start.kpi, lib.p[:8, 2:], lib.b[:8, 2:], samples=2).utility)
    assert np.array_equal(ranks[0], ranks[1])
    with pytest.raises(ValueError, match="observations must be one of"):
        CDWMConfig(observations="egw")
