"""Find agents by short name, by ``"package.module:Class"``, by ``"KIND:CHECKPOINT"`` for learned
policies (``sb3:runs/ppo``, ``ippo:runs/ippo``), or through the ``twm_gym.agents`` entry-point group
(so a separately installed package plugs in)::

    [project.entry-points."twm_gym.agents"]
    my-planner = "my_package.planner:MyPlanner"
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from twm_agents.base import Agent

ENTRY_POINT_GROUP = "twm_gym.agents"

BUILTIN: dict[str, str] = {
    "uniform": "twm_agents.baselines.simple:Uniform",
    "proportional": "twm_agents.baselines.simple:Proportional",
    "random": "twm_agents.baselines.simple:RandomCandidate",
    "dt-fair": "twm_agents.baselines.twin_search:DTFair",
    "oracle": "twm_agents.baselines.twin_search:Oracle",
    "llm": "twm_agents.llm.agent:LLMAgent",
    "twm": "twm_agents.twm:TWMPlanner",
    "cdwm-only": "twm_agents.twm:CDWMOnly",
    "fwm-only": "twm_agents.twm:FWMOnly",
    "twm-no-fwm": "twm_agents.twm:NoFWM",
    "twm-no-llm": "twm_agents.twm:NoLLM",
    "twm-no-verify": "twm_agents.twm:NoVerify",
    "twm-no-phase2": "twm_agents.twm:NoPhase2",
    "twm-no-prescreen": "twm_agents.twm:NoPrescreen",
    "twm-no-handover": "twm_agents.twm:NoHandover",
    "twm-no-trim": "twm_agents.twm:NoTrim",
    "twm-raw": "twm_agents.twm:Raw",
    "ppo": "twm_agents.rl.agent:PPOAgent",
    "ippo": "twm_agents.rl.marl:IPPOAgent",
}
"""The project's own agents: short name -> ``module:Class``."""

CHECKPOINT_KINDS: dict[str, str] = {
    "sb3": "twm_agents.rl.agent:SB3Agent",
    "ippo": "twm_agents.rl.marl:IPPOAgent",
}
"""``KIND:PATH`` specs: the class of ``KIND`` built with ``checkpoint=PATH`` (no suffix)."""


class UnknownAgentError(ValueError):
    """No agent by that name or path."""


def available() -> dict[str, str]:
    """Every agent by short name (built-in first, then installed plug-ins) -> ``module:Class``."""
    out = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        out.setdefault(ep.name, ep.value)
    return out


def _load(target: str, label: str) -> type[Agent]:
    module_name, _, attr = target.partition(":")
    if not attr:
        raise UnknownAgentError(f"agent {label!r}: expected 'package.module:Class', got {target!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UnknownAgentError(f"agent {label!r}: cannot import module {module_name!r} ({exc})") from exc
    try:
        cls = getattr(module, attr)
    except AttributeError:
        raise UnknownAgentError(f"agent {label!r}: module {module_name!r} has no attribute {attr!r}") from None
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise UnknownAgentError(f"agent {label!r}: {target} is not a subclass of twm_agents.base.Agent")
    return cls


def _checkpoint_spec(spec: str) -> tuple[str, str] | None:
    """``(kind, path)`` of a ``KIND:PATH`` spec, or None."""
    kind, sep, path = spec.partition(":")
    return (kind, path) if sep and kind in CHECKPOINT_KINDS else None


def resolve(spec: str) -> type[Agent]:
    """The agent class named by ``spec``: a short name, ``"package.module:Class"`` or ``"KIND:PATH"``."""
    names = available()
    if spec in names:
        return _load(names[spec], spec)
    checkpoint = _checkpoint_spec(spec)
    if checkpoint is not None:
        from twm_agents.checkpoint_io import paths  # torch: only for learned agents

        kind, path = checkpoint
        missing = [str(p) for p in paths(path) if not p.is_file()]
        if missing:
            raise UnknownAgentError(f"agent {spec!r}: checkpoint file(s) {missing} do not exist")
        return _load(CHECKPOINT_KINDS[kind], spec)
    if ":" in spec:
        return _load(spec, spec)
    raise UnknownAgentError(
        f"unknown agent {spec!r}; valid names: {sorted(names)}, 'package.module:Class' or "
        f"'KIND:CHECKPOINT' with KIND in {sorted(CHECKPOINT_KINDS)}"
    )


def make_agent(spec: str, **config: Any) -> Agent:
    """An instance of the agent named by ``spec`` with its ``config`` options."""
    cls = resolve(spec)
    checkpoint = _checkpoint_spec(spec)
    if checkpoint is not None and spec not in available():
        config = {"checkpoint": checkpoint[1], **config}
    return cls(**config)
