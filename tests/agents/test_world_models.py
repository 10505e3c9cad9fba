"""World models found by name, path, import path or entry point, as agents are."""

from types import SimpleNamespace

import pytest

from twm_agents import world_models
from twm_agents.fwm.predictor import FieldModel

SHIPPED_SETS = FieldModel.named("sets")


def sets_factory() -> FieldModel:
    """A plug-in FWM factory (here: the shipped any-city checkpoint)."""
    return SHIPPED_SETS


NOT_A_MODEL = SimpleNamespace(shape=None, meta={})


def test_shipped_names_paths_and_import_paths_resolve() -> None:
    assert world_models.load("fwm", "sets").shape.any_city
    from twm_agents.fwm import predictor

    path = str(predictor.__file__).replace("predictor.py", "checkpoints/sets")
    assert world_models.load("fwm", path).shape == SHIPPED_SETS.shape
    assert world_models.load("fwm", f"{__name__}:sets_factory") is SHIPPED_SETS  # a factory is called
    assert world_models.load("fwm", f"{__name__}:SHIPPED_SETS") is SHIPPED_SETS  # a model is taken as it is
    assert {"default", "sets"} <= set(world_models.available("fwm"))
    assert {"default", "sets-fields", "sets-csw"} <= set(world_models.available("cdwm"))


def test_entry_points_plug_in(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = SimpleNamespace(name="mine", value=f"{__name__}:sets_factory")
    monkeypatch.setattr(world_models, "entry_points", lambda group: [ep] if group == "twm_gym.fwm" else [])
    assert "mine" in world_models.available("fwm")
    assert world_models.load("fwm", "mine") is SHIPPED_SETS


@pytest.mark.parametrize(
    ("kind", "spec", "message"),
    [
        ("fwm", "no-such-model", "not a shipped checkpoint"),
        ("cdwm", "runs/nope", "checkpoint file runs/nope.safetensors does not exist"),
        ("fwm", "no_such_module:f", "cannot import module"),
        ("cdwm", f"{__name__}:missing", "has no attribute"),
        ("cdwm", f"{__name__}:NOT_A_MODEL", "lacks ['intervals'"),
        ("wm", "sets", "kind: 'wm' is not one of ['cdwm', 'fwm']"),
    ],
)
def test_bad_specs_name_the_choices(kind: str, spec: str, message: str) -> None:
    with pytest.raises(world_models.UnknownWorldModelError, match=message.replace("[", r"\[")):
        world_models.load(kind, spec)
