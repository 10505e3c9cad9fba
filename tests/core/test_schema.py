"""The published JSON Schema of scenario files: equal to the one the loader's records imply, and
every shipped file valid under it; what it refuses, the loader refuses too."""

import json
from importlib import resources
from pathlib import Path

import pytest

from twm_gym.scenarios.registry import ScenarioError, _read_registered, scenario_from_dict
from twm_gym.scenarios.schema import scenario_schema
from twm_gym.scenarios.splits import SPLITS

jsonschema = pytest.importorskip("jsonschema")
PUBLISHED = Path(__file__).parents[2] / "docs" / "reference" / "scenario.schema.json"


@pytest.fixture(scope="module")
def validator():
    schema = scenario_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_published_schema_is_the_generated_one() -> None:
    assert json.loads(PUBLISHED.read_text()) == scenario_schema(), "run: twm-bench scenarios schema > " + str(PUBLISHED)


def test_every_shipped_and_generated_scenario_file_is_valid(validator) -> None:
    data = resources.files("twm_gym.scenarios.data")
    files = [p for p in data.iterdir() if p.name.endswith(".json")]
    files += [p for split in SPLITS for p in data.joinpath(split).iterdir() if p.name.endswith(".json")]
    files += sorted((Path(__file__).parents[2] / "examples" / "scenarios").glob("*.json"))
    assert len(files) >= 60
    for path in files:
        errors = [e.message for e in validator.iter_errors(json.loads(path.read_text()))]
        assert errors == [], path.name


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("failures", "prob"), 1.5),
        (("hotspot", "at"), "corner"),
        (("hotspot", "start_step"), -2),
        (("wave", "rate"), "high"),
        (("city", "colour"), "red"),
        (("failures", "scheduled"), [{"link": "N1->N0", "start_step": 0}]),
    ],
)
def test_what_the_schema_refuses_the_loader_refuses(validator, path, value) -> None:
    data = _read_registered("hotspot-id")
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    assert list(validator.iter_errors(data))
    with pytest.raises(ScenarioError):
        scenario_from_dict(data)


def test_a_file_without_extends_must_be_complete(validator) -> None:
    assert list(validator.iter_errors({"name": "x"}))
    assert not list(validator.iter_errors({"extends": "hotspot-id", "name": "x"}))
