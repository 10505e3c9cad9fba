"""Scenario events placed and scheduled in the file: a hotspot at a chosen cell from a chosen step,
a named link failed or degraded over chosen steps; each read back from the twin's drivers."""

import json

import numpy as np
import pytest

from twm_gym.core.compiled import compile_scenario
from twm_gym.core.egw import initial_egw, roll
from twm_gym.core.rng import seed_keys
from twm_gym.scenarios.registry import ScenarioError, _read_registered, load_scenario, scenario_from_dict

SEEDS = [3, 11]


def _drivers(data):
    comp = compile_scenario(scenario_from_dict(data))
    path = roll(comp, initial_egw(comp, len(SEEDS)), seed_keys(SEEDS), 0, comp.scenario.horizon)
    return comp, [path.at(t) for t in range(comp.scenario.horizon)]


def _quiet_city():
    data = _read_registered("hotspot-id")
    data["name"] = data["nominal"] = "events"
    data["hotspot"] = {**data["hotspot"], "rate": 0.0}
    data["failures"] = {"prob": 0.0, "repair_steps": 3}
    return data


def test_a_scheduled_hotspot_surges_a_cell_outside_every_zone_from_its_step() -> None:
    base = _quiet_city()
    comp0, calm = _drivers(base)
    outside = np.flatnonzero(~comp0.zones.any(axis=0))
    assert outside.size, "the paper city has cells in no zone"
    k = int(outside[0])
    data = json.loads(json.dumps(base))
    data["hotspot"] |= {"at": f"cell:{k}", "start_step": 5, "duration_steps": 3, "center_sigma_m": 0.0}
    comp, shocked = _drivers(data)
    assert np.allclose(comp.hotspot_xy, comp.cell_xy[k])
    for t, (a, b) in enumerate(zip(calm, shocked, strict=True)):
        gain = b.demand[:, :, 1] / a.demand[:, :, 1]  # URLLC, (B, C)
        if 5 <= t < 8:
            assert (gain[:, k] > 1.5).all() and (gain.argmax(axis=1) == k).all(), t
        else:
            assert np.array_equal(a.demand, b.demand), t


def test_a_scheduled_failure_takes_the_named_link_down_for_its_steps_and_a_degradation_scales_it() -> None:
    data = _quiet_city()
    data["failures"]["scheduled"] = [
        {"link": "N2->N0", "start_step": 3, "duration_steps": 4},
        {"link": "N1->N0", "start_step": 2, "duration_steps": 2, "capacity_factor": 0.5},
    ]
    comp, drv = _drivers(data)
    _, calm = _drivers(_quiet_city())
    names = [f"{lk.src}->{lk.dst}" for lk in comp.scenario.transport.links]
    down, half = names.index("N2->N0"), names.index("N1->N0")
    for t, (d, c) in enumerate(zip(drv, calm, strict=True)):
        assert d.link_up[:, down].tolist() == [not 3 <= t < 7] * len(SEEDS), t
        assert (d.link_avail[:, down] == 0).all() == (3 <= t < 7)
        expected = c.link_avail[:, half] * (0.5 if 2 <= t < 4 else 1.0)
        assert np.allclose(d.link_avail[:, half], expected), t
        assert d.link_up[:, half].all() and d.reach.all()  # the ring reroutes around the failed link


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            {"link": "N9->N0", "start_step": 0, "duration_steps": 1},
            r"failures.scheduled\[0\].link: 'N9->N0' is not a link",
        ),
        ({"link": "N1->N0", "start_step": 12, "duration_steps": 1}, r"start_step: 12 is outside the horizon 0..11"),
        ({"link": "N1->N0", "start_step": 0, "duration_steps": 1, "capacity_factor": 1.0}, r"valid: \[0, 1\)"),
    ],
)
def test_bad_link_events_are_named(event, message) -> None:
    data = _quiet_city()
    data["failures"]["scheduled"] = [event]
    with pytest.raises(ScenarioError, match=message):
        scenario_from_dict(data)


def test_a_family_is_a_free_label_and_extends_and_nominal_resolve_beside_the_file(tmp_path) -> None:
    (tmp_path / "sub").mkdir()
    base = _quiet_city()
    base |= {"name": "harbour-base", "nominal": "harbour-base", "family": "harbour"}
    (tmp_path / "sub" / "harbour-base.json").write_text(json.dumps(base))
    child = {
        "extends": "sub/harbour-base.json",
        "name": "harbour-ood",
        "nominal": "sub/harbour-base.json",
        "ood": True,
        "hotspot": {"at": "zone:fwa", "start_step": 2},
    }
    (tmp_path / "harbour-ood.json").write_text(json.dumps(child))
    sc = load_scenario(tmp_path / "harbour-ood.json")
    assert sc.family == "harbour" and sc.hotspot.start_step == 2
    assert sc.nominal == str((tmp_path / "sub" / "harbour-base.json").resolve())
    (tmp_path / "bad.json").write_text(json.dumps({**child, "nominal": "sub/missing.json"}))
    with pytest.raises(ScenarioError, match=r"nominal 'sub/missing\.json' cannot be loaded"):
        load_scenario(tmp_path / "bad.json")


def test_a_nominal_beside_the_file_is_found_from_any_working_directory(tmp_path, monkeypatch) -> None:
    from pathlib import Path

    from twm_agents.base import ScenarioCard

    examples = Path(__file__).parents[2] / "examples" / "scenarios"
    ood = load_scenario(examples / "harbour-ood.json")
    monkeypatch.chdir(tmp_path)
    card = ScenarioCard.of(ood)
    assert card.nominal.name == "harbour-id" and card.nominal.nominal == "harbour-id" and card.family == "harbour"
    assert ood.failures.scheduled[1].capacity_factor == 0.5 and ood.hotspot.at == "cell:6"
