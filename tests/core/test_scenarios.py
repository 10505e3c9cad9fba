"""Scenarios as data: registry, validation errors, and the paper's city facts."""

import json

import numpy as np
import pytest

from twm_gym.core.compiled import compile_scenario
from twm_gym.core.geometry import zone_membership
from twm_gym.core.params import ZONES
from twm_gym.scenarios import ScenarioError, list_scenarios, load_scenario, scenario_from_dict
from twm_gym.scenarios.registry import _read_registered

PAPER = ("hotspot-id", "hotspot-ood", "wave-id", "wave-ood")


def test_registry__lists_the_four_paper_scenarios_and_tiny() -> None:
    assert set(PAPER) | {"tiny"} == set(list_scenarios())


def test_registry__unknown_name_lists_valid_ones() -> None:
    with pytest.raises(ScenarioError, match=r"unknown scenario 'hotspot'.*hotspot-id, hotspot-ood"):
        load_scenario("hotspot")


def test_registry__unknown_field_is_named_with_valid_choices() -> None:
    data = _read_registered("tiny")
    data["hotspot"] = {"rat": 0.1}
    with pytest.raises(ScenarioError, match=r"scenario\.hotspot: unknown field 'rat'; valid fields: rate"):
        scenario_from_dict(data)


def test_registry__a_missing_required_field_is_named_with_the_required_ones() -> None:
    data = _read_registered("tiny")
    del data["description"]
    with pytest.raises(
        ScenarioError, match=r"scenario: required field\(s\) \['description'\] missing; required: name, desc"
    ):
        scenario_from_dict(data)
    data = _read_registered("tiny")
    del data["city"]["cell_xy"]
    with pytest.raises(ScenarioError, match=r"scenario\.city: required field\(s\) \['cell_xy'\] missing"):
        scenario_from_dict(data)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("failures", "prob"), 1.5, r"scenario.failures.prob: 1.5 is out of range; valid: \[0, 1\]"),
        (("sim", "horizon"), 0, r"scenario.sim.horizon: 0 is out of range; valid: \[1, 1000\]"),
        (("transport", "hub"), "N9", "transport.hub is 'N9'; valid: N0, N1, N2"),
        (("family",), " ", "family is empty; any non-empty label is valid"),
        (("hotspot", "at"), "cell:99", r"hotspot.at: cell 99 does not exist; valid: 0 to "),
        (("hotspot", "at"), "corner", r"hotspot.at: 'corner' is not a place; valid: "),
        (("hotspot", "start_step"), 4, "hotspot.start_step is 4; valid: -1 (random) or 0..3"),
        (("demand", "ar_sigma"), "x", "demand.ar_sigma: expected a finite number"),
    ],
)
def test_registry__bad_parameter_is_named(path: tuple[str, ...], value: object, message: str) -> None:
    data = _read_registered("tiny")
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)")):
        scenario_from_dict(data)


def test_registry__loads_a_json_file_that_extends_a_registered_one(tmp_path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"extends": "hotspot-id", "name": "mine", "hotspot": {"rate": 0.9}}))
    sc = load_scenario(str(path))
    assert sc.name == "mine" and sc.hotspot.rate == 0.9
    assert sc.hotspot.intensity == load_scenario("hotspot-id").hotspot.intensity


def test_city__paper_zone_facts() -> None:
    sc = load_scenario("hotspot-id")
    member = zone_membership(sc.city)
    hospital, fwa, corridor = (member[ZONES.index(z)] for z in ("hospital", "fwa", "corridor"))
    assert len(sc.city.cell_xy) == 10 and sc.city.size_m == 2000.0
    for c in (4, 8):
        assert corridor[c] and fwa[c], f"cell {c} must be in both corridor and FWA"
    assert not member[:, 6].any(), "cell 6 is in no zone"
    assert hospital.any() and not (hospital & corridor).any()


def test_city__hospital_drives_urllc_demand() -> None:
    comp = compile_scenario(load_scenario("hotspot-id"))
    hospital = comp.zones[ZONES.index("hospital")]
    urllc = comp.base_demand[:, 1]
    assert urllc[hospital].min() > 3 * urllc[~hospital].max()


def test_city__transport_is_hub_and_spoke_with_paired_cells() -> None:
    sc = load_scenario("wave-id")
    tr = sc.transport
    assert len(tr.nodes) == 6 and len(tr.links) == 10
    counts = {n: tr.cell_node.count(n) for n in tr.nodes if n != tr.hub}
    assert set(counts.values()) == {2}, "pairs of cells share an aggregation node"
    assert sum(1 for lk in tr.links if lk.dst == tr.hub) == 5


def test_ood__amplifies_intensity_duration_and_failures() -> None:
    for fam in ("hotspot", "wave"):
        i, o = load_scenario(f"{fam}-id"), load_scenario(f"{fam}-ood")
        shock_i, shock_o = getattr(i, fam), getattr(o, fam)
        assert shock_o.intensity > shock_i.intensity
        assert shock_o.duration_steps > shock_i.duration_steps
        assert o.failures.prob > i.failures.prob
        assert o.ood and not i.ood and o.nominal == i.name


def test_compile__capacities_are_plausible() -> None:
    comp = compile_scenario(load_scenario("hotspot-id"))
    # 100 MHz at 1-5.5 bit/s/Hz: between 100 and 550 Mbps per cell.
    assert np.all(comp.nominal_capacity > 100) and np.all(comp.nominal_capacity < 550)
