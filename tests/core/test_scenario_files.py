"""Bad scenario files: every one is a ScenarioError naming the file or the field, never NaN KPIs or a
traceback from deeper down (a hypothesis fuzz of the paper scenario's numbers included)."""

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twm_gym.core import simulate
from twm_gym.core.candidates import candidate_library
from twm_gym.scenarios import ScenarioError, load_scenario
from twm_gym.scenarios.registry import _read_registered

BASE = _read_registered("hotspot-id")


def _write(tmp_path: Path, data, name: str = "s") -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def _with(path: tuple, value) -> dict:
    data = copy.deepcopy(BASE)
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})  # a section left at its defaults is absent from the file
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("city", "radio", "bandwidth_mhz"), -100.0, r"bandwidth_mhz: -100.0 is out of range; valid: \(0, 10000\]"),
        (("sim", "radio_buffer_mbit"), [40.0, -1.0, 40.0], r"sim.radio_buffer_mbit\[1\]: -1.0 is out of range"),
        (("transport", "buffer_mbit"), [0.0, 1.0, 60.0], r"buffer_mbit\[0\]: 0.0 is out of range; valid: \(0,"),
        (("sla", "loss_ceiling"), [0.25, -0.1, 0.2], r"scenario.sla.loss_ceiling\[1\]: -0.1 is out of range"),
        (("sla", "d99_ceiling_ms"), 0.0, r"scenario.sla.d99_ceiling_ms: 0.0 is out of range"),
        (("cost", "switch_weight"), -0.5, r"scenario.cost.switch_weight: -0.5 is out of range; valid: \[0, 100\]"),
        (("sim", "slow_step_s"), -60.0, r"scenario.sim.slow_step_s: -60.0 is out of range"),
        (("city", "grid"), 100_000, r"scenario.city.grid: 100000 is out of range; valid: \[4, 128\]"),
        (("city", "hospital_center"), [5000.0, 100.0], r"city.hospital_center lies outside the area"),
    ],
)  # fmt: skip
def test_scenario_file__out_of_range_numbers_are_named_with_their_valid_range(tmp_path, path, value, message) -> None:
    with pytest.raises(ScenarioError, match=message):
        load_scenario(_write(tmp_path, _with(path, value)))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"s.json': not readable JSON"),
        ("[1, 2, 3]", r"s.json': top level is a list, expected an object"),
        ('"hotspot"', r"s.json': top level is a str, expected an object"),
    ],
)
def test_scenario_file__malformed_files_name_the_file(tmp_path, content, message) -> None:
    with pytest.raises(ScenarioError, match=message):
        load_scenario(_write(tmp_path, content))


def test_scenario_file__an_extends_cycle_is_named(tmp_path) -> None:
    _write(tmp_path, {"extends": "b"}, "a")
    _write(tmp_path, {"extends": "a"}, "b")
    with pytest.raises(ScenarioError, match=r"'extends' cycle: .*a.json -> .*b.json -> .*a.json"):
        load_scenario(str(tmp_path / "a.json"))


def test_scenario_file__nominal_must_exist_and_have_the_same_shape(tmp_path) -> None:
    with pytest.raises(ScenarioError, match=r"nominal 'nowhere' cannot be loaded \(unknown scenario 'nowhere'"):
        load_scenario(_write(tmp_path, _with(("nominal",), "nowhere")))
    with pytest.raises(ScenarioError, match=r"nominal 'tiny' has 2 cells, this scenario 10"):
        load_scenario(_write(tmp_path, _with(("nominal",), "tiny")))
    _write(tmp_path, _with(("name",), "sibling"), "sibling")  # a nominal beside the file is found there
    found = load_scenario(_write(tmp_path, _with(("nominal",), "sibling"))).nominal
    assert found == str((tmp_path / "sibling.json").resolve())  # kept as a path, valid from any directory


_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.sampled_from([0, -1, 1e9, 1e-9, "x", None, True]),
)


def _numeric_leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _numeric_leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _numeric_leaves(v, (*path, i))
    elif isinstance(node, int | float) and not isinstance(node, bool):
        yield path


LEAVES = list(_numeric_leaves(BASE))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(LEAVES), _NUMBERS), min_size=1, max_size=3))
def test_scenario_file__fuzzed_numbers_load_with_finite_kpis_or_raise_scenario_error(tmp_path, edits) -> None:
    data = copy.deepcopy(BASE)
    for path, value in edits:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    try:
        scenario = load_scenario(_write(tmp_path, data))
    except ScenarioError:
        return
    lib = candidate_library(scenario)
    out = simulate(scenario, lib.p[:2], lib.b[:2], np.arange(2))
    for value in out.kpis.row(0).values():
        assert math.isfinite(float(value)), (edits, out.kpis.row(0))
