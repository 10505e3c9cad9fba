"""Scenario events placed and scheduled in the file: a hotspot at a chosen cell from a chosen step,
a named link failed or degraded over chosen steps; each read back from the twin's drivers."""

import dataclasses
import json

import numpy as np
import pytest

from twm_gym.core.compiled import compile_scenario
from twm_gym.core.egw import drivers_of, initial_egw, roll, shock_centers
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
    assert np.allclose(comp.shock_xy[0], comp.cell_xy[k])  # the hotspot is shock 0
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


def _with_events(events):
    data = _quiet_city()
    data["events"] = events
    return data


def test_composed_events_surge_their_places_and_paths_at_their_steps_and_leave_other_draws_alone() -> None:
    comp0, calm = _drivers(_quiet_city())
    k = int(np.flatnonzero(~comp0.zones.any(axis=0))[0])
    path = [[150.0, 750.0], [1900.0, 1150.0]]
    data = _with_events(
        [
            {"at": f"cell:{k}", "start_step": 2, "duration_steps": 3, "intensity": 2.5, "slice_gain": [0, 1, 0]},
            {"path": path, "start_step": 6, "duration_steps": 4, "intensity": 1.5, "radius_m": 250.0},
        ]
    )
    _, shocked = _drivers(data)
    for t, (a, b) in enumerate(zip(calm, shocked, strict=True)):
        gain = b.demand / a.demand  # (B, C, S)
        first = 2 <= t < 5
        assert ((gain[:, k, 1] > 1.5) == first).all(), t
        if not first and not 6 <= t < 10:
            assert np.array_equal(a.demand, b.demand), t
    # the travelling event's centre goes from one end of its path to the other over its 4 steps
    comp_e = compile_scenario(scenario_from_dict(data))
    path_rolled = roll(comp_e, initial_egw(comp_e, len(SEEDS)), seed_keys(SEEDS), 0, 12)
    ends = [comp_e.shock_point(3, np.array(s)) for s in (0.0, 1.0)]  # events follow the hotspot and wave
    start, end = (path_rolled.state(t) for t in (6, 9))
    for row in range(len(SEEDS)):
        c6 = shock_centers(comp_e, start.ev_pos, start.ev_offset)[row, 3]
        c9 = shock_centers(comp_e, end.ev_pos, end.ev_offset)[row, 3]
        assert {tuple(np.round(c6)), tuple(np.round(c9))} == {tuple(np.round(e)) for e in ends}
    # the shocks and failures of the base scenario draw what they drew without the events
    base = roll(comp0, initial_egw(comp0, len(SEEDS)), seed_keys(SEEDS), 0, 12)
    for name in ("ar", "down_left"):
        assert np.array_equal(base.fields[name], path_rolled.fields[name]), name
    for name in ("ev_left", "ev_intensity", "ev_offset", "ev_dir", "ev_pos"):  # the hotspot's and the wave's
        assert np.array_equal(base.fields[name][:, :, :2], path_rolled.fields[name][:, :, :2]), name


def test_random_events_resume_exactly_from_any_step() -> None:
    data = _with_events([{"at": "zone:fwa", "rate": 0.4, "duration_steps": 2, "center_sigma_m": 80.0}])
    comp = compile_scenario(scenario_from_dict(data))
    keys = seed_keys(np.arange(16))
    whole = roll(comp, initial_egw(comp, 16), keys, 0, 12)
    first = roll(comp, initial_egw(comp, 16), keys, 0, 5)
    rest = roll(comp, first.state(4), keys, 5, 12)
    assert whole.fields["ev_left"].any()  # some events ran
    running = int(np.argmax(whole.fields["ev_left"][5, :, 2] > 0))
    view = drivers_of(comp, whole.state(5), 6)  # a planner's persistence view keeps the running event
    state = whole.state(5)
    without = dataclasses.replace(
        state, **{f: getattr(state, f)[:, :2] for f in ("ev_left", "ev_intensity", "ev_offset", "ev_dir", "ev_pos")}
    )
    calm = drivers_of(compile_scenario(scenario_from_dict(_quiet_city())), without, 6)
    assert view.demand[running].sum() > calm.demand[running].sum()
    for t in range(5, 12):
        assert np.array_equal(whole.at(t).demand, rest.at(t).demand), t
        assert np.array_equal(whole.state(t).ev_offset, rest.state(t).ev_offset), t


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"start_step": 12}, r"events\[0\].start_step is 12; valid: -1 \(random\) or 0..11"),
        ({"path": [[10.0, 10.0]]}, r"events\[0\].path needs at least two points"),
        ({"at": "zone:harbour"}, r"events\[0\].at: zone 'harbour' does not exist"),
        ({"rate": 2.0}, r"events\[0\].rate: 2.0 is out of range"),
    ],
)
def test_bad_events_are_named(event, message) -> None:
    with pytest.raises(ScenarioError, match=message):
        scenario_from_dict(_with_events([event]))


def test_without_shocks_keeps_the_load_and_failures_and_starts_no_shock() -> None:
    data = _with_events([{"at": "cell:0", "start_step": 2, "duration_steps": 3}])
    data["hotspot"] |= {"start_step": 4}
    scenario = scenario_from_dict(data)
    calm = scenario.without_shocks()
    assert len(calm.shocks) == 2 and calm.failures == scenario.failures and calm.demand == scenario.demand
    comp = compile_scenario(calm)
    path = roll(comp, initial_egw(comp, len(SEEDS)), seed_keys(SEEDS), 0, calm.horizon)
    assert not path.fields["ev_left"].any()  # no shock is ever active
    _, quiet = _drivers(_quiet_city())
    for t, d in enumerate(quiet):  # the quiet city's hotspot and wave never start either: same drivers
        assert np.array_equal(path.at(t).demand, d.demand), t


def test_a_live_state_with_other_events_continues_in_the_nominal_twin() -> None:
    """An OOD episode may list more (or fewer) surge events than its nominal scenario: its snapshot
    continues in the nominal twin with the events they share carried over, the nominal's further
    events idle and the episode's extra ones dropped."""
    from twm_gym.core.sim import Simulation

    ood = load_scenario("test-families/city-clustered-two-tier-16-s2-crowds-ood")
    nominal = load_scenario(ood.nominal)
    k_ood, k_nom = len(ood.shocks), len(nominal.shocks)
    assert k_ood != k_nom
    live = Simulation(ood, np.arange(2))
    p = np.full((2, ood.n_cells, 3), 1 / 3, np.float32)
    b = np.full((2, ood.n_links, 3), 1 / 3, np.float32)
    for _ in range(4):
        live.step(p, b)
    snap = live.snapshot(0)
    twin = Simulation(nominal, np.arange(3), start=snap)
    assert twin.egw.ev_left.shape == (3, k_nom)
    shared = min(k_ood, k_nom)
    assert np.array_equal(twin.egw.ev_left[0, :shared], snap.egw.ev_left[0, :shared])
    while twin.t < nominal.horizon:
        twin.step(p[:1].repeat(3, 0), b[:1].repeat(3, 0))
    assert np.isfinite(twin.kpis().scm).all()
    wider = snap.egw.with_events(k_ood + 2)
    assert wider.ev_left.shape[1] == k_ood + 2 and not wider.ev_left[:, k_ood:].any()
    assert (wider.ev_dir[:, k_ood:] == 1).all() and snap.egw.with_events(k_ood) is snap.egw
