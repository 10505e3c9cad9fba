"""Intent-conditioned episodes: the intent's utility, the admissible set, names, and the harness's scoring."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twm_agents.base import Agent, EpisodeContext, Observation
from twm_bench.runner import run_unit
from twm_bench.spec import preset
from twm_gym.core.candidates import candidate_library
from twm_gym.core.kpi import Utility
from twm_gym.core.twin import simulate
from twm_gym.intents import (
    BOUND_TOLERANCE,
    IntentSpec,
    IntentUtility,
    intent_episodes,
    intents,
    load_target,
    share_bounds,
)
from twm_gym.scenarios import load_scenario
from twm_gym.scenarios.registry import ScenarioError

SC = load_scenario("hotspot-id")


def test_the_default_intent_is_the_benchmark_utility() -> None:
    lib = candidate_library(SC)
    out = simulate(SC, lib.p[::8], lib.b[::8], np.arange(len(lib.p[::8])))
    assert np.array_equal(IntentUtility.of(None, SC)(out.kpis), Utility()(out.kpis))
    assert np.array_equal(IntentUtility.of(IntentSpec(), SC)(out.kpis), Utility()(out.kpis))


def test_constraints_only_tighten_and_waivers_are_typed() -> None:
    loose = IntentSpec.model_validate({"constraints": [{"slice": "fwa", "metric": "loss", "max": 50, "unit": "%"}]})
    tight = IntentSpec.model_validate(
        {"constraints": [{"slice": "urllc", "metric": "latency_p99", "max": 12, "unit": "ms"}]}
    )
    assert IntentUtility.of(loose, SC).loss_ceiling == SC.sla.loss_ceiling  # never raised above the SLA
    assert IntentUtility.of(tight, SC).d99_ceiling_ms == 12.0
    waived = IntentUtility.of(None, SC, waived=("urllc",))
    assert np.isinf(waived.d99_ceiling_ms) and np.isinf(waived.loss_ceiling[1])
    with pytest.raises(ValueError, match=r"waived.*valid"):
        IntentUtility.of(None, SC, waived=("voice",))
    # A 15 ms URLLC d99 breaks a 12 ms ceiling only: the same KPIs score lower under it.
    loss, d99, dcost = np.array([[0.01, 0.01, 0.01]]), np.array([15.0]), np.array([0.1])
    assert (
        IntentUtility.of(tight, SC).of_columns(loss, d99, dcost)[0]
        < IntentUtility.of(None, SC).of_columns(loss, d99, dcost)[0] - 1.0
    )


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["cell", "zone", "link", "all"]),
    st.sampled_from(["embb", "urllc", "fwa", None]),
    st.floats(0.0, 0.45),
    st.floats(0.5, 1.0),
    st.integers(0, 11),
)
def test_projection_lands_in_the_bounds(scope: str, slice_: str | None, floor: float, cap: float, end: int) -> None:
    ids = {"cell": ["3", "7"], "zone": ["hospital"], "link": ["2"], "all": []}[scope]
    restriction: dict[str, object] = {"scope": scope, "ids": ids, "floor": floor, "cap": cap}
    if slice_ is not None:
        restriction["slice"] = slice_
    elif floor > 1 / 3:
        restriction["floor"] = floor / 3  # three slices' floors must fit in one row
    spec = IntentSpec.model_validate({"restrictions": [restriction], "window": {"start": 0, "end": end}})
    bounds = share_bounds(spec, SC)
    lib = candidate_library(SC)
    p, b = bounds.project(lib.p[:32], lib.b[:32])
    assert (bounds.use(p, b) <= 1.0 + BOUND_TOLERANCE).all()
    assert (p.sum(axis=-1) <= 1.0 + 1e-5).all() and (b.sum(axis=-1) <= 1.0 + 1e-5).all()
    if end < 11:  # outside the window the plans are untouched
        assert np.array_equal(p[:, end + 1 :], lib.p[:32, end + 1 :])


def test_bound_use_reads_floors_and_caps() -> None:
    spec = IntentSpec.model_validate(
        {"restrictions": [{"scope": "zone", "ids": ["hospital"], "slice": "urllc", "floor": 0.5}]}
    )
    bounds = share_bounds(spec, SC)
    uniform = np.full((1, 12, 10, 3), 1 / 3, np.float32), np.full((1, 12, 10, 3), 1 / 3, np.float32)
    assert bounds.use(*uniform)[0] == pytest.approx(1.5)
    assert bounds.floor_p[:, :3, 1].min() == 0.5 and bounds.floor_p[:, 3:].max() == 0.0  # hospital cells 0-2


def test_intent_episode_names() -> None:
    scenario, intent = load_target("hotspot-id@protect-hospital.test0")
    assert scenario.name == "hotspot-id" and intent is not None and intent.split == "test"
    assert load_target("hotspot-id") == (SC, None)
    with pytest.raises(ScenarioError, match="kinds"):
        load_target("hotspot-id@protect-moon.test0")
    assert len({i.kind for i in intents("test")}) >= 8 and all(i.split == "train" for i in intents("train"))
    assert set(preset("intents").scenarios) == set(intent_episodes("test"))
    # the train and test phrasings of a kind share the spec and never the text
    train_texts = {i.text for i in intents("train")}
    assert not train_texts & {i.text for i in intents("test")}


class _Probe(Agent):
    """Plays uniform shares with URLLC raised to 0.5 on every cell; keeps the card it was handed."""

    name = "probe"
    seen: ClassVar[list[object]] = []

    def reset(self, context: EpisodeContext) -> None:
        super().reset(context)
        _Probe.seen.append(context.card)

    def act(self, observation: Observation) -> np.ndarray:
        layout = self.ctx.card.layout
        p = np.tile(np.array([0.25, 0.5, 0.25], np.float32), (layout.n_cells, 1))
        return layout.pack(p, np.full((layout.n_links, 3), 1 / 3, np.float32))


def test_the_harness_scores_an_intent_episode_by_the_intent() -> None:
    name = "hotspot-id@protect-hospital.test0"
    _, intent = load_target(name)
    assert intent is not None
    plain = run_unit("probe", "hotspot-id", [0], 0, 0, "h", agent=_Probe())[0]
    under = run_unit("probe", name, [0], 0, 0, "h", agent=_Probe())[0]
    card = _Probe.seen[-1]
    assert card.intent == intent.text and not hasattr(card, "spec")  # the text, never the ground truth
    assert plain.kpis["scm"] == under.kpis["scm"]  # the same world and actions...
    assert under.kpis["bound_use"] == pytest.approx(0.8, abs=1e-3)  # ...a 0.4 floor met by 0.5 shares
    expected = IntentUtility.of(intent.spec, load_target(name)[0]).of_record(under.kpis, 0.8)
    assert under.utility == pytest.approx(expected)
    cap = run_unit("probe", "hotspot-id@cap-video-corridor.test1", [0], 0, 0, "h", agent=_Probe())[0]
    assert cap.kpis["bound_use"] <= 1.0 and cap.utility == pytest.approx(plain.utility, abs=1e-6)


def test_an_agent_in_its_own_process_reads_the_intent_too() -> None:
    name = "hotspot-id@cap-video-corridor.train0"
    local = run_unit("llm", name, [0], 0, 0, "h")[0]
    strict = run_unit("llm", name, [0], 0, 0, "h", strict=True)[0]
    assert strict.error is None and strict.kpis == local.kpis and strict.utility == local.utility
    assert local.kpis["bound_use"] <= 1.0 + BOUND_TOLERANCE  # the llm agent honoured the cap
