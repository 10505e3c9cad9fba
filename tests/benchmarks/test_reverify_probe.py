"""The re-verification probe: the shipped planner plus unmetered in-episode twin checks."""

import math

import numpy as np
import pytest

from reverify_probe import ReverifyProbe
from twm_agents.twm import TWMPlanner
from twm_bench.records import Record
from twm_bench.runner import run_unit


def _one(agent: TWMPlanner | None, scenario: str = "wave-ood") -> Record:
    (record,) = run_unit("twm", scenario, [3], 12, 0, "h", agent=agent)
    assert record.error is None
    return record


def test_probe__without_a_switch_it_is_the_planner_and_charges_nothing() -> None:
    plain = _one(TWMPlanner(handover=""))  # every step the planner's own: a probe at each of steps 1..11
    held = _one(ReverifyProbe(at="every", probe_margin=math.inf, handover=""))
    assert held.metrics["probes"] == 11.0 and held.metrics["probe_switches"] == 0.0  # steps 1..11
    assert held.kpis == plain.kpis and held.sim_calls == plain.sim_calls == 12


def test_probe__switches_past_its_margin_once_per_shock_or_every_step() -> None:
    eager = _one(ReverifyProbe(at="every", pool="library", probe_seeds=2, probe_margin=-math.inf))
    assert eager.metrics["probe_switches"] >= 1.0 and eager.sim_calls == 12
    assert eager.utility is not None and np.isfinite(eager.utility)
    once = _one(ReverifyProbe(at="shock", probe_seeds=2))
    assert once.metrics["probes"] == 1.0  # a wave starts in this episode: one probe, at its first step


@pytest.mark.parametrize(
    ("options", "field"), [({"at": "never"}, "at"), ({"pool": "all"}, "pool"), ({"probe_seeds": 0}, "probe_seeds")]
)
def test_probe__bad_options_name_the_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        ReverifyProbe(**options)  # type: ignore[arg-type]
