"""The TWM planner, its single-world agents and its ablations (one class, one switch each).

| name | what differs from ``twm`` |
|---|---|
| ``twm`` | the paper's layering (section X-B), any city (below) |
| ``cdwm-only`` | one world model, the paper's "RSSM ranking only (CSW)": no FWM, no LLM layer |
| ``fwm-only`` | one world model, spatial scoring: no CDWM (no dynamics), no LLM layer |
| ``twm-no-fwm`` | no FWM: the CDWM observes the controllable world alone |
| ``twm-no-llm`` | the LLM layer off: the default objective whatever the episode's intent, no prescreen, no templates |
| ``twm-no-verify`` | no simulator calls: the best-ranked survivor is executed |
| ``twm-no-phase2`` | the plan chosen in Phase 1 runs unchanged |
| ``twm-no-prescreen`` | the LLM layer's prescreen off |
| ``twm-no-handover`` | no hand-over to the PPO policy when the CDWM is observed wrong |
| ``twm-no-trim`` | the executed plan is not trimmed (no capacity taken off non-binding slices) |
| ``twm-raw`` | the paper city only: one-city checkpoints, the CDWM reads the raw ``egw_*`` observations |

``twm``: the FWM forecasts the fields from the observed exogenous world, the CDWM (controllable
world only) is conditioned on them, the LLM layer compiles the intent and prescreens, the twin
verifies the top 3, Phase 2 (with our hand-over and trim) monitors every step.
"""

from typing import Any, ClassVar

from twm_agents.twm.planner import PlannerConfig, TWMPlanner


class CDWMOnly(TWMPlanner):
    """The paper's CDWM-only agent: RSSM ranking of the controllable world, no spatial features."""

    name: ClassVar[str] = "cdwm-only"
    defaults: ClassVar[dict[str, Any]] = {"fwm": False, "llm_layer": False}


class FWMOnly(TWMPlanner):
    """The paper's FWM-only agent: candidates ranked by spatial risk, no dynamics."""

    name: ClassVar[str] = "fwm-only"
    defaults: ClassVar[dict[str, Any]] = {"cdwm": False, "llm_layer": False}


class NoFWM(TWMPlanner):
    """TWM without its FWM: the CDWM observes the controllable world alone (``sets-csw``)."""

    name: ClassVar[str] = "twm-no-fwm"
    defaults: ClassVar[dict[str, Any]] = {"fwm": False}


class NoLLM(TWMPlanner):
    """TWM without its LLM layer: it ignores the episode's intent (default objective, no bounds),
    prescreens nothing and proposes no template edits."""

    name: ClassVar[str] = "twm-no-llm"
    defaults: ClassVar[dict[str, Any]] = {"llm_layer": False}


class NoVerify(TWMPlanner):
    name: ClassVar[str] = "twm-no-verify"
    defaults: ClassVar[dict[str, Any]] = {"verify": 0}


class NoPhase2(TWMPlanner):
    name: ClassVar[str] = "twm-no-phase2"
    defaults: ClassVar[dict[str, Any]] = {"phase2": False}


class NoPrescreen(TWMPlanner):
    name: ClassVar[str] = "twm-no-prescreen"
    defaults: ClassVar[dict[str, Any]] = {"prescreen": False}


class NoHandover(TWMPlanner):
    name: ClassVar[str] = "twm-no-handover"
    defaults: ClassVar[dict[str, Any]] = {"handover": ""}


class NoTrim(TWMPlanner):
    name: ClassVar[str] = "twm-no-trim"
    defaults: ClassVar[dict[str, Any]] = {"trims": ()}


class Raw(TWMPlanner):
    """The paper-city planner: the one-city FWM and a one-city CDWM that reads the raw exogenous
    observations (``egw_*``: per-cell demand, SINR, the shocks' positions); the FWM scores and
    monitors beside it. Refuses other cities' geometry."""

    name: ClassVar[str] = "twm-raw"
    defaults: ClassVar[dict[str, Any]] = {"fwm_checkpoint": "default", "cdwm_checkpoint": "default"}


__all__ = [
    "CDWMOnly",
    "FWMOnly",
    "NoFWM",
    "NoHandover",
    "NoLLM",
    "NoPhase2",
    "NoPrescreen",
    "NoTrim",
    "NoVerify",
    "PlannerConfig",
    "Raw",
    "TWMPlanner",
]
