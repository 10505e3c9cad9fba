"""The TWM planner: its sim-call budget, its fallback, its do-no-harm gate, its determinism."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from twm_agents.base import AGENT_SEED_DOMAIN, ScenarioCard
from twm_agents.cdwm.data import KPI_NAMES
from twm_agents.registry import make_agent
from twm_agents.twm import CDWMOnly, FWMOnly, NoVerify, TWMPlanner
from twm_agents.twm import planner as planner_module
from twm_agents.twm.planner import DRIFT_TERMS, Scores, prediction_drift
from twm_bench.runner import _context, run_episode, run_unit
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
    # Fewer survivors than verification slots: each is verified once, with its 4 seeds.
    results, twin = _play(TWMPlanner(shortlist=2, verify=3), [0], budget=36)
    assert results[0].error is None and results[0].sim_calls == 8


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
    return Scores(score=v, utility=v, disagreement=zero + 0.01, p_violation=zero, risk=zero, next_kpi=zero[:, None])


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
    for name, bad in (
        ("margin", -0.1),
        ("template_margin", float("nan")),
        ("pessimism", float("inf")),
        ("trigger_violation", 1.5),
        ("trigger_risk", -0.1),
        ("risk_weight", -1.0),
    ):
        with pytest.raises(ValueError, match=name):
            TWMPlanner(**{name: bad})


def test_prediction_drift_reads_every_slice_loss_and_the_exceedance_against_floors() -> None:
    scenario = load_scenario(SCENARIO)
    col = KPI_NAMES.index
    urllc, embb, late = DRIFT_TERMS.index("urllc_loss"), DRIFT_TERMS.index("embb_loss"), len(DRIFT_TERMS) - 1
    expected = np.zeros(len(KPI_NAMES), np.float32)
    expected[col("offered_urllc")] = 1000.0  # Mbit: ceiling 10 %, the loss floor is 0.1 x 10 % = 10 Mbit
    expected[col("lost_urllc")] = 10.0
    expected[col("offered_embb")] = 4000.0  # ceiling 25 %: floor 100 Mbit
    expected[col("lost_embb")] = 100.0
    expected[col("exceed_20ms")] = 0.005
    assert np.allclose(prediction_drift(scenario, expected, expected), 0.0)
    observed = expected.copy()
    observed[col("lost_urllc")] = 70.0  # (70 + 10) / (10 + 10) = 4
    observed[col("exceed_20ms")] = 0.0  # (0 + 0.005) / (0.005 + 0.005) = 1/2
    drift = prediction_drift(scenario, expected, observed)
    assert np.allclose(drift[[urllc, late]], np.log([4.0, 0.5])) and drift[embb] == 0.0
    observed[col("lost_embb")] = 700.0  # eMBB binds now: (700 + 100) / (100 + 100) = 4
    assert np.isclose(prediction_drift(scenario, expected, observed)[embb], np.log(4.0))
    observed[col("lost_urllc")] = 1.0  # losses far below the ceiling's tenth are no surprise
    assert abs(prediction_drift(scenario, expected, observed)[urllc]) < np.log(2)
    odd = dataclasses.replace(scenario, sla=dataclasses.replace(scenario.sla, d99_ceiling_ms=19.5))
    with pytest.raises(ValueError, match=r"sla.d99_ceiling_ms.*19.5 ms.*handover=''"):
        prediction_drift(odd, expected, observed)


@pytest.mark.parametrize("drift", [0.0, 5.0])
def test_planner_hands_over_only_when_its_model_is_observed_wrong(
    tmp_path: Path, drift: float, monkeypatch: Any
) -> None:
    seen: list[int] = []

    def fake_drift(scenario: Any, expected: Any, observed: Any) -> Any:
        seen.append(len(seen))
        out = np.zeros(len(DRIFT_TERMS))
        out[DRIFT_TERMS.index("fwa_loss")] = drift if len(seen) == 3 else 0.0  # wrong only at the third check
        return out

    monkeypatch.setattr(planner_module, "prediction_drift", fake_drift)
    agent = TWMPlanner(trace=str(tmp_path / "trace.jsonl"))
    assert agent.handover is not None and agent.handover.name == "ppo"
    handover_acts: list[Any] = []
    real_act = agent.handover.act
    monkeypatch.setattr(agent.handover, "act", lambda obs: handover_acts.append(real_act(obs)) or handover_acts[-1])
    results, _ = _play(agent, [0], budget=12)
    assert results[0].error is None and results[0].sim_calls == 12
    decisions = [json.loads(line) for line in (tmp_path / "trace.jsonl").read_text().splitlines()]
    handovers = [d for d in decisions if d["decision"] == "phase2-handover"]
    horizon = load_scenario(SCENARIO).horizon
    if drift:  # the third step's check fires: every later step is the handover policy's
        assert agent.handed_over_at == 3 and agent.metrics()["handover"] == 1.0
        assert len(handover_acts) == horizon - 3 and len(seen) == 3
        assert len(handovers) == 1 and handovers[0]["inputs"]["fwa_loss_ratio"] > 3.0
        assert not [d for d in decisions if d["decision"] == "phase2-intervention" and d["inputs"]["step"] >= 3]
    else:
        assert agent.handed_over_at == -1 and agent.metrics()["handover"] == 0.0
        assert not handover_acts and not handovers and len(seen) == horizon - 1


def test_handover_needs_a_dynamics_model_and_phase2() -> None:
    assert FWMOnly().handover is None and TWMPlanner(phase2=False).handover is None
    assert TWMPlanner(handover="").handover is None and make_agent("twm-no-handover").handover is None
    with pytest.raises(ValueError, match="handover_trigger"):
        TWMPlanner(handover_trigger=1.0)
    with pytest.raises(ValueError, match="handover_smoothing"):
        TWMPlanner(handover_smoothing=0.0)


def test_cost_weight_moves_the_planner_along_the_cost_compliance_front() -> None:
    """The utility the planner ranks and verifies by weighs the cost reduction by ``cost_weight``:
    valuing savings far above compliance makes it execute a cheaper plan (with the guardrail open:
    the cheapest plans may violate, and a closed guardrail would fall back to uniform)."""
    plans = {}
    for weight in (0.0, 20.0):
        agent = TWMPlanner(phase2=False, cost_weight=weight, guardrail=1.0)
        assert agent.utility.w_cost == weight
        results, _ = _play(agent, [0], budget=12)
        assert results[0].error is None and agent._plan is not None
        plans[weight] = planner_module._policy_cost(load_scenario(SCENARIO), agent._plan[0][None], agent._plan[1][None])
    assert plans[20.0][0] < plans[0.0][0]
    with pytest.raises(ValueError, match="cost_weight"):
        TWMPlanner(cost_weight=-0.5)


def test_violation_weight_is_the_penalty_the_planner_verifies_by(tmp_path: Path) -> None:
    """``violation_weight`` is the weight of the violation indicator in the utility the planner
    ranks, verifies and gates by: on a twin where every verified rollout violates, the verified
    utilities carry exactly that penalty (SCM in [0, 1], dcost in [-1, 1])."""
    verified = {}
    for weight in (0.0, 3.0):
        trace = tmp_path / f"trace-{weight}.jsonl"
        agent = TWMPlanner(phase2=False, guardrail=1.0, violation_weight=weight, trace=str(trace))
        assert agent.utility.w_violation == weight
        results, _ = _play(agent, [0], budget=12, twin_cls=_AllViolate)
        assert results[0].error is None and not agent.fallback  # the guardrail lets violations through
        rows = [json.loads(line) for line in trace.read_text().splitlines()]
        (verify,) = [r for r in rows if r["decision"] == "phase1-verify"]
        assert verify["inputs"]["violation_rate"] == [1.0, 1.0, 1.0]
        verified[weight] = np.asarray(verify["inputs"]["utility"])
    assert np.all(verified[0.0] >= -0.5) and np.all(verified[3.0] <= 1.5 - 3.0)
    with pytest.raises(ValueError, match="violation_weight"):
        TWMPlanner(violation_weight=-1.0)


def test_the_shipped_any_city_checkpoints_are_the_default_in_every_scenario_unless_named() -> None:
    """With no ``cdwm_checkpoint`` the planner ranks with the any-city CDWM of its layers whatever the
    scenario (nothing keys on its name): ``sets-fields`` with the FWM, ``sets-csw`` without; a named
    checkpoint is used everywhere."""
    layered, csw = planner_module._dynamics_model("sets-fields"), planner_module._dynamics_model("sets-csw")
    wave = planner_module._dynamics_model("wave")
    assert wave.meta["config"]["scenarios"] == ["wave-id"]
    cases = (("twm", "wave-id", layered), ("twm-no-fwm", "hotspot-ood", csw), ("cdwm-only", "wave-id", csw))
    for spec, scenario, expected in cases:
        agent = make_agent(spec)
        (record,) = run_unit(spec, scenario, [0], 12, 0, "h", agent=agent)
        assert record.error is None and agent.cdwm is expected, (spec, scenario)
    pinned = TWMPlanner(cdwm_checkpoint="wave", fwm=False)
    (record,) = run_unit("twm", "hotspot-id", [0], 12, 0, "h", agent=pinned)
    assert record.error is None and pinned.cdwm is wave


def test_planner_feeds_an_fwm_conditioned_cdwm_its_fields(tmp_path: Path) -> None:
    """A CDWM trained with FWM features ranks with the field model: the planner passes it the
    summaries of the played actions and the field seen now, and refuses it without an FWM."""
    from twm_agents.cdwm.train import CDWMConfig, train

    config = CDWMConfig.preset("tiny").replace(
        {"fwm_features": "true", "fwm_view": "decision", "updates": "10", "test_episodes": "0"}
    )
    path = tmp_path / "cdwm_fwm"
    train(config, None, progress=None).save(path)
    agent = TWMPlanner(cdwm_checkpoint=str(path), handover="")  # every step the planner's
    results, _ = _play(agent, [0], budget=12)
    assert results[0].error is None and results[0].sim_calls == 12
    assert len(agent._fields) == 12 and agent._fields[0].shape == (24,)
    with pytest.raises(ValueError, match="cdwm_checkpoint"):
        TWMPlanner(fwm=False, cdwm_checkpoint=str(path))


@pytest.mark.parametrize("lock_in", [False, True])
def test_planner_plays_the_cheapest_plan_once_a_violation_is_certain(
    tmp_path: Path, lock_in: bool, monkeypatch: Any
) -> None:
    """With SCM at 0 and the violation term fixed, only the cost is left to decide."""
    real = planner_module.violation_certain
    monkeypatch.setattr(
        planner_module, "violation_certain", lambda sc, ledger, t, future: real(sc, ledger, t, future) | (t >= 4)
    )
    agent = TWMPlanner(lock_in=lock_in, handover="", trace=str(tmp_path / "trace.jsonl"))
    results, _ = _play(agent, [0], budget=12)
    assert results[0].error is None
    decisions = [json.loads(line) for line in (tmp_path / "trace.jsonl").read_text().splitlines()]
    locked = [d for d in decisions if d["decision"] == "phase2-locked"]
    scenario, lib = load_scenario(SCENARIO), ScenarioCard.of(load_scenario(SCENARIO)).library
    assert agent._plan is not None
    if not lock_in:
        assert agent.locked_at == -1 and not locked and agent.metrics()["locked"] == 0.0
        return
    assert agent.locked_at <= 4 and agent.metrics()["locked"] == 1.0 and len(locked) == 1
    t = agent.locked_at
    remaining = planner_module._policy_cost(scenario, lib.p[:, t:], lib.b[:, t:])
    cheapest = int(np.argmin(remaining))
    assert locked[0]["inputs"]["plan"] == lib.names[cheapest]
    np.testing.assert_array_equal(agent._plan[0][t:], lib.p[cheapest, t:])
    later = [d for d in decisions if d["decision"] == "phase2-intervention" and d["inputs"]["step"] >= t]
    assert not later  # nothing left to monitor
    with pytest.raises(ValueError, match="lock_in_offered"):
        TWMPlanner(lock_in_offered=0.5)


def test_the_named_agents_wire_the_paper_layering_and_the_paper_city_variant() -> None:
    """``twm``: the any-city FWM feeds a CDWM that observes the controllable world alone; ``twm-raw``:
    the one-city checkpoints, its CDWM reading the raw exogenous observations."""
    from twm_agents.cdwm.predictor import CDWMModel

    twm, raw = make_agent("twm"), make_agent("twm-raw")
    assert isinstance(twm, TWMPlanner) and twm.cdwm is not None and twm.fwm is not None
    assert twm.cdwm.shape.fwm_dim > 0 and twm.cdwm.shape.observations == "csw" and twm.fwm.shape.any_city
    assert isinstance(raw, TWMPlanner) and raw.cdwm is not None and raw.fwm is not None
    assert raw.cdwm.shape.fwm_dim == 0 and raw.cdwm.shape.observations == "all" and not raw.fwm.shape.any_city
    for name, layers in (("cdwm-only", (False, True, False)), ("fwm-only", (True, False, False))):
        agent = make_agent(name)
        assert isinstance(agent, TWMPlanner)
        assert (agent.fwm is not None, agent.cdwm is not None, agent.config.llm_layer) == layers, name
    with pytest.raises(ValueError, match=r"name: .*'default', 'fields'"):
        CDWMModel.default(name="nope")


@pytest.mark.parametrize("case", ["worse", "riskier", "better"])
def test_trim_takes_capacity_off_a_slice_only_when_it_gains_at_no_more_risk(
    tmp_path: Path, case: str, monkeypatch: Any
) -> None:
    agent = TWMPlanner(phase2=False, trace=str(tmp_path / "trace.jsonl"))
    _play(agent, [0], budget=12)
    assert agent._plan is not None and agent._snap is not None
    agent._plan = base = (np.full_like(agent._plan[0], 0.3), np.full_like(agent._plan[1], 0.3))
    n = 1 + 3 * len(agent.config.trims)
    target = 1 + 1 * len(agent.config.trims) + 1  # urllc scaled by the second factor
    values, risk = [0.5] * n, [0.1] * n
    values[target] = 0.4 if case == "worse" else 0.6
    risk[target] = 0.2 if case == "riskier" else 0.1
    fake = _scores(values)
    fake = dataclasses.replace(fake, p_violation=np.asarray(risk, np.float32))
    monkeypatch.setattr(agent, "score", lambda *a, **k: fake)
    agent._trim(agent._snap)
    last = json.loads((tmp_path / "trace.jsonl").read_text().splitlines()[-1])
    assert last["decision"] == "trim" and len(last["inputs"]["trims"]) == n - 1
    if case != "better":
        assert agent._plan is base and last["inputs"]["chosen"] == "plan"
        return
    factor = agent.config.trims[1]
    assert last["inputs"]["chosen"] == f"urllcx{factor:g}"
    p, b = agent._plan
    assert np.allclose(p[..., 1], 0.3 * factor) and np.allclose(b[..., 1], 0.3 * factor)
    assert np.all(p[..., [0, 2]] == 0.3) and np.all(b[..., [0, 2]] == 0.3)


def test_trims_are_validated_and_off_in_twm_no_trim() -> None:
    with pytest.raises(ValueError, match="trims"):
        TWMPlanner(trims=(0.9, 1.2))
    with pytest.raises(ValueError, match="trim_margin"):
        TWMPlanner(trim_margin=-0.1)
    assert make_agent("twm-no-trim").config.trims == () and TWMPlanner().config.trims == (0.9, 0.8)
    FWMOnly()  # no CDWM to score trims: they are off, not an error
