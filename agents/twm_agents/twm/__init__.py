"""The TWM planner and its single-world and ablation configurations (one class, one switch each).

| name | what differs from ``twm`` |
|---|---|
| ``twm`` | the paper's planner: FWM + CDWM surrogates, prescreen, verify top 3, Phase 2 (with our hand-over and trim) |
| ``fwm-only`` | no CDWM: candidates ranked by spatial risk alone |
| ``cdwm-only`` | no FWM: RSSM ranking without spatial scoring |
| ``twm-no-llm`` | the LLM layer off: the default objective whatever the episode's intent, no prescreen, no templates |
| ``twm-no-prescreen`` | the LLM prescreen off |
| ``twm-no-phase2`` | the plan chosen in Phase 1 runs unchanged |
| ``twm-no-verify`` | no simulator calls: the best-ranked survivor is executed |
| ``twm-no-handover`` | no hand-over to the PPO policy when the CDWM is observed wrong |
| ``twm-no-trim`` | the executed plan is not trimmed (no capacity taken off non-binding slices) |
| ``twm-fields`` | the CDWM conditioned on the FWM's field summaries (paper section X-B), not only scored beside it |
| ``cdwm-sets`` | no FWM; the CDWM that reads any city (``sets`` encoding, trained on the ``train`` split) |
| ``cdwm-csw`` | ``cdwm-sets`` whose CDWM reads the controllable world alone (the paper's CDWM-only) |
| ``twm-sets`` | the paper's coupling for any city: a CSW-only CDWM conditioned on the any-city FWM's fields |
| ``fwm-sets`` | ``fwm-only`` with the any-city FWM |
"""

from typing import Any, ClassVar

from twm_agents.twm.planner import PlannerConfig, TWMPlanner


class FWMOnly(TWMPlanner):
    """The FWM-only agent: ranks by spatial risk (paper: moderate SCM, no saving)."""

    name: ClassVar[str] = "fwm-only"
    defaults: ClassVar[dict[str, Any]] = {"cdwm": False}


class CDWMOnly(TWMPlanner):
    """The CDWM-only agent: RSSM ranking without FWM spatial scoring."""

    name: ClassVar[str] = "cdwm-only"
    defaults: ClassVar[dict[str, Any]] = {"fwm": False}


class NoLLM(TWMPlanner):
    """TWM without its LLM layer: it ignores the episode's intent (default objective, no bounds),
    prescreens nothing and proposes no template edits."""

    name: ClassVar[str] = "twm-no-llm"
    defaults: ClassVar[dict[str, Any]] = {"llm_layer": False}


class NoPrescreen(TWMPlanner):
    name: ClassVar[str] = "twm-no-prescreen"
    defaults: ClassVar[dict[str, Any]] = {"prescreen": False}


class NoPhase2(TWMPlanner):
    name: ClassVar[str] = "twm-no-phase2"
    defaults: ClassVar[dict[str, Any]] = {"phase2": False}


class NoVerify(TWMPlanner):
    name: ClassVar[str] = "twm-no-verify"
    defaults: ClassVar[dict[str, Any]] = {"verify": 0}


class NoHandover(TWMPlanner):
    name: ClassVar[str] = "twm-no-handover"
    defaults: ClassVar[dict[str, Any]] = {"handover": ""}


class NoTrim(TWMPlanner):
    name: ClassVar[str] = "twm-no-trim"
    defaults: ClassVar[dict[str, Any]] = {"trims": ()}


class Fields(TWMPlanner):
    """TWM whose CDWM reads the FWM's field summaries of every step it imagines (paper section X-B)."""

    name: ClassVar[str] = "twm-fields"
    # Its CDWM already picks cheap plans; trims gained nothing on top (docs/planner.md).
    defaults: ClassVar[dict[str, Any]] = {"cdwm_checkpoint": "fields", "trims": ()}


class CDWMSets(TWMPlanner):
    """CDWM-only ranking with the city-free CDWM (``sets``, trained on the generated ``train`` cities):
    a planner for any city, the paper's included."""

    name: ClassVar[str] = "cdwm-sets"
    defaults: ClassVar[dict[str, Any]] = {"fwm": False, "cdwm_checkpoint": "sets"}


class CDWMCSW(TWMPlanner):
    """The paper's CDWM-only information structure ("RSSM ranking only (CSW), no spatial features"):
    no FWM, and a CDWM (``sets-csw``, any city) that observes the controllable world alone."""

    name: ClassVar[str] = "cdwm-csw"
    defaults: ClassVar[dict[str, Any]] = {"fwm": False, "cdwm_checkpoint": "sets-csw"}


class TWMSets(TWMPlanner):
    """The paper's layering for any city: the any-city FWM forecasts each imagined step's fields, and
    the CDWM (``sets-fields``), which observes the controllable world alone, is conditioned on them."""

    name: ClassVar[str] = "twm-sets"
    defaults: ClassVar[dict[str, Any]] = {"cdwm_checkpoint": "sets-fields"}


class FWMSets(TWMPlanner):
    """FWM-only ranking (spatial risk, no dynamics) with the any-city FWM."""

    name: ClassVar[str] = "fwm-sets"
    defaults: ClassVar[dict[str, Any]] = {"cdwm": False, "fwm_checkpoint": "sets"}


__all__ = [
    "CDWMCSW",
    "CDWMOnly",
    "CDWMSets",
    "FWMOnly",
    "FWMSets",
    "Fields",
    "NoHandover",
    "NoLLM",
    "NoPhase2",
    "NoPrescreen",
    "NoTrim",
    "NoVerify",
    "PlannerConfig",
    "TWMPlanner",
    "TWMSets",
]
