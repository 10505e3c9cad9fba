"""The TWM planner: its sim-call budget, its fallback, its do-no-harm gate, its determinism."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents.base import AGENT_SEED_DOMAIN, ScenarioCard
from agents.registry import make_agent
from agents.twm import CDWMOnly, FWMOnly, NoVerify, TWMPlanner
from agents.twm.planner import Scores
from benchmarks.runner import _context, run_episode, run_unit
from twm_gym.core.twin import Rollout, Twin
from twm_gym.scenarios import load_scenario

SCENARIO = "wave-id"


def _play(agent: TWMPlanner, seeds: list[int], budget: int, twin_cls: type[Twin] = Twin) -> tuple[list[Any], Twin]:
    scenario = load_scenario(SCENARIO)
    card = ScenarioCard.of(scenario)
    twin = twin_cls(card.nominal, budget=budget, seed_domain=AGENT_SEED_DOMAIN)
    rng = np.random.default_rng(7)
    agent.prepare(_context(card, twin, rng, episode=-1))
    return [run_episode(agent, scenario, s, twin, rng, episode=i) for i, s in enumerate(seeds)], twin


def test_planner_spends_exactly_its_budget_per_horizon() -> None:
    results, twin = _play(TWMPlanner(), [0, 1, 2], budget=36)
    assert [r.sim_calls for r in results] == [12, 12, 12]  # verify 3 candidates x 4 seeds
    assert twin.calls_used == 36 and all(r.error is None for r in results)
    # With the budget gone the planner still acts (unverified) rather than failing the episode.
    results, twin = _play(TWMPlanner(), [0, 1], budget=12)
    assert [r.sim_calls for r in results] == [12, 0] and all(r.error is None for r in results)
    results, twin = _play(NoVerify(), [0], budget=36)
    assert results[0].sim_calls == 0


class _AllViolate(Twin):
    """A twin on which every verified rollout violates the SLA."""

    def rollout(self, *args: Any, **kwargs: Any) -> Rollout:
        out = super().rollout(*args, **kwargs)
        out.kpis.global_violation[:] = True
        return out


def test_planner_falls_back_to_uniform_when_nothing_verifies(tmp_path: Path) -> None:
    agent = TWMPlanner(phase2=False, trace=str(tmp_path / "trace.jsonl"))
    results, _ = _play(agent, [0], budget=12, twin_cls=_AllViolate)
    assert agent.fallback and results[0].sim_calls == 12
    assert agent._plan is not None and np.all(agent._plan[0] == np.float32(1 / 3))
    decisions = [json.loads(line)["decision"] for line in (tmp_path / "trace.jsonl").read_text().splitlines()]
    assert decisions == ["phase1-rank", "phase1-verify", "phase1-fallback"]


def _scores(values: list[float]) -> Scores:
    v = np.asarray(values, np.float32)
    zero = np.zeros_like(v)
    return Scores(score=v, utility=v, disagreement=zero + 0.01, p_violation=zero, risk=zero)


@pytest.mark.parametrize("better", [False, True])
def test_phase2_applies_only_what_the_gate_accepts(tmp_path: Path, better: bool, monkeypatch: Any) -> None:
    agent = TWMPlanner(trace=str(tmp_path / "trace.jsonl"))
    _play(agent, [0], budget=12)  # one episode: Phase 1 ran and a plan exists
    before = agent._plan
    assert before is not None
    n_proposals = (
        1
        + 3 * len(agent.config.amounts)
        + len(set(agent._survivors[: agent.config.alternatives].tolist()) | set(agent._cheap.tolist()))
    )
    current, others = 0.5, (0.9 if better else 0.3)
    fake = _scores([current] + [others] * (n_proposals - 1))
    monkeypatch.setattr(agent, "score", lambda *a, **k: fake)
    agent.interventions = 0
    assert agent._snap is not None
    agent._phase2(5, agent._snap)
    last = json.loads((tmp_path / "trace.jsonl").read_text().splitlines()[-1])
    assert last["decision"] == "phase2-intervention" and last["verdict"]["kind"] == "do-no-harm"
    if better:
        assert agent._plan is not before and agent.interventions == 1 and last["verdict"]["accept"]
    else:  # every proposal predicted worse: refused, the plan is untouched
        assert agent._plan is before and agent.interventions == 0 and not last["verdict"]["accept"]
        assert "refused" in last["verdict"]["explanation"]


def test_planner_is_deterministic_for_a_fixed_seed(tmp_path: Path) -> None:
    runs = [run_unit("twm", SCENARIO, [3, 4], 24, 0, "h") for _ in range(2)]
    a, b = ([dataclasses.replace(r, decision_s=0.0, prep_s=0.0, metrics={}) for r in run] for run in runs)
    assert a == b and all(r.error is None for r in a)
    assert all(r.sim_calls == 12 for r in a)
    assert {"phase1_ms", "phase2_ms", "verify_ms"} <= set(runs[0][0].metrics)


def test_single_world_configurations_and_bad_options() -> None:
    assert make_agent("fwm-only").config.cdwm is False and FWMOnly().cdwm is None
    assert make_agent("cdwm-only").config.fwm is False and CDWMOnly().fwm is None
    assert make_agent("twm-no-phase2").config.phase2 is False
    results, _ = _play(FWMOnly(), [0], budget=12)
    assert results[0].error is None and results[0].sim_calls == 12
    with pytest.raises(TypeError, match=r"unknown options.*verify_seeds"):
        TWMPlanner(verfy=2)
    with pytest.raises(ValueError, match="at least one world model"):
        TWMPlanner(fwm=False, cdwm=False)
    with pytest.raises(ValueError, match="samples"):
        TWMPlanner(samples=0)
