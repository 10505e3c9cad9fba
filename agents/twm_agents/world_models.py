"""Find world models by name, as agents are found (:mod:`twm_agents.registry`): a shipped checkpoint
(``sets``, ``sets-fields``, ...), a checkpoint path, ``"package.module:attr"``, or an entry point
of the ``twm_gym.fwm`` / ``twm_gym.cdwm`` group, so a separately installed package plugs its own
Field or Control/Dynamics World Model into the benchmark's axes::

    [project.entry-points."twm_gym.cdwm"]
    my-cdwm = "my_package.model:load"   # a callable that returns the model (or the model itself)

A plug-in answers the calls the axes make of the shipped classes: an FWM those of
:class:`~twm_agents.fwm.predictor.FieldModel` (``shape``, ``meta``, ``predict``), a CDWM those of
:class:`~twm_agents.cdwm.predictor.CDWMModel` (``shape``, ``meta``, ``intervals``, ``violation``,
``observe``, ``imagine``, ``rank``, ``standardize``). Building it from the shipped class (a subclass,
or an instance around your own ensemble) gets every one of them.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

ENTRY_POINT_GROUPS = {"fwm": "twm_gym.fwm", "cdwm": "twm_gym.cdwm"}
"""Entry-point group of each world-model kind."""
REQUIRED = {
    "fwm": ("shape", "meta", "predict"),
    "cdwm": ("shape", "meta", "intervals", "violation", "observe", "imagine", "rank", "standardize"),
}
"""What the axes call on a model of each kind."""


class UnknownWorldModelError(ValueError):
    """No world model by that name, path or import path; or the object found is not one."""


def _shipped(kind: str) -> dict[str, str]:
    if kind == "fwm":
        from twm_agents.fwm.predictor import SHIPPED_CHECKPOINTS
    else:
        from twm_agents.cdwm.predictor import SHIPPED_CHECKPOINTS  # type: ignore[no-redef]
    return SHIPPED_CHECKPOINTS


def _kind(kind: str) -> str:
    if kind not in ENTRY_POINT_GROUPS:
        raise UnknownWorldModelError(f"kind: {kind!r} is not one of {sorted(ENTRY_POINT_GROUPS)}")
    return kind


def available(kind: str) -> dict[str, str]:
    """Every world model of ``kind`` (``"fwm"`` or ``"cdwm"``) by name: shipped checkpoints, then
    installed plug-ins -> what each is."""
    out = dict(_shipped(_kind(kind)))
    for ep in entry_points(group=ENTRY_POINT_GROUPS[kind]):
        out.setdefault(ep.name, ep.value)
    return out


def locate(kind: str, spec: str) -> tuple[str, str]:
    """Where ``spec`` points, without importing or loading anything: ``("checkpoint", ref)`` for a
    shipped name or a checkpoint path, ``("import", "package.module:attr")`` for a plug-in or an
    import path. Raises :class:`UnknownWorldModelError` naming the valid choices."""
    shipped = _shipped(_kind(kind))
    if spec in shipped or spec == "":
        return "checkpoint", spec
    plugins = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUPS[kind])}
    if spec in plugins:
        return "import", plugins[spec]
    if Path(spec).is_file() or Path(spec + ".safetensors").is_file():
        return "checkpoint", spec
    if ":" in spec and not Path(spec).exists():
        return "import", spec
    if "/" in spec or spec.endswith(".safetensors"):
        raise UnknownWorldModelError(
            f"{kind} {spec!r}: checkpoint file {spec.removesuffix('.safetensors')}.safetensors does not exist"
        )
    raise UnknownWorldModelError(
        f"{kind} {spec!r}: not a shipped checkpoint ({sorted(shipped)}), an installed plug-in "
        f"({sorted(plugins)}), a checkpoint path, nor 'package.module:attr'"
    )


def load(kind: str, spec: str) -> Any:
    """The model of ``kind`` that ``spec`` names (:func:`locate`): a shipped checkpoint, an installed
    plug-in, a checkpoint path (with or without ``.safetensors``) or ``"package.module:attr"`` (a
    model, or a callable returning one)."""
    how, target = locate(kind, spec)
    if how == "checkpoint":
        return _model_class(kind).named(target)
    return _check(kind, spec, _import(kind, spec, target))


def _model_class(kind: str) -> Any:
    if kind == "fwm":
        from twm_agents.fwm.predictor import FieldModel

        return FieldModel
    from twm_agents.cdwm.predictor import CDWMModel

    return CDWMModel


def _import(kind: str, spec: str, target: str) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except ImportError as exc:
        raise UnknownWorldModelError(f"{kind} {spec!r}: cannot import module {module_name!r} ({exc})") from exc
    except AttributeError:
        raise UnknownWorldModelError(f"{kind} {spec!r}: module {module_name!r} has no attribute {attr!r}") from None
    if isinstance(obj, type) or (callable(obj) and not hasattr(obj, REQUIRED[kind][-1])):
        return obj()  # a class or a factory
    return obj


def _check(kind: str, spec: str, model: Any) -> Any:
    missing = [name for name in REQUIRED[kind] if not hasattr(model, name)]
    if missing:
        raise UnknownWorldModelError(
            f"{kind} {spec!r}: {type(model).__name__} lacks {missing}; a plug-in {kind.upper()} answers "
            f"{list(REQUIRED[kind])} (see twm_agents.world_models)"
        )
    return model
