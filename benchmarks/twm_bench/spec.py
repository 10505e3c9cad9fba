"""What a benchmark run is: agents x scenarios x seeds under a sim-call budget, validated when built.

The paper's protocol (section X-C) is the ``paper`` preset: the four shock scenarios, 32 horizon
seeds each, 384 simulator calls per agent and scenario (12 per horizon).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from twm_agents.registry import UnknownAgentError, available, resolve
from twm_gym.intents import load_target

PAPER_SCENARIOS = ("hotspot-id", "hotspot-ood", "wave-id", "wave-ood")
CALLS_PER_HORIZON = 12
"""The paper's budget: 12 simulator calls per 12-step horizon (384 over 32 horizons)."""

CLASSIC = ("uniform", "proportional", "random", "dt-fair", "oracle")
GENERALIZATION = (*CLASSIC, "ppo", "ippo", "twm", "cdwm-only", "fwm-only", "twm-no-fwm", "twm-no-llm")
"""The ``generalization`` preset's agents: the classic baselines, the shipped learned policies, the
TWM planner, its single-world agents and the ablations of a world-model layer."""
PAPER = (
    "twm",
    "twm-raw",
    "fwm-only",
    "cdwm-only",
    "llm",
    "dt-fair",
    "uniform",
    "proportional",
    "random",
    "ppo",
    "ippo",
    "oracle",
)
"""The paper's comparison (section X-C, fig. 6-7), plus the paper-city planner, random and the learned policies."""
INTENTS = ("uniform", "proportional", "dt-fair", "llm", "twm", "twm-no-llm")
"""The ``intents`` preset's agents: baselines that ignore intents, the intent-reading ``llm`` and
``twm``, and ``twm`` without its LLM layer."""
ABLATIONS = (
    "twm",
    "twm-no-fwm",
    "twm-no-llm",
    "twm-no-verify",
    "twm-no-phase2",
    "twm-no-prescreen",
    "twm-no-handover",
    "twm-no-trim",
    "cdwm-only",
    "fwm-only",
    "uniform",
    "oracle",
)


class SpecError(ValueError):
    """A run specification names something that does not exist or is out of range."""


@dataclass(frozen=True)
class RunSpec:
    """A benchmark run.

    Attributes:
        agents: agent specs (short names or ``module:Class``).
        scenarios: scenario names or JSON paths.
        seeds: evaluation seed indices per scenario.
        budget: simulator calls per agent and scenario (``CALLS_PER_HORIZON`` per seed by default).
        agent_seed: seeds each agent's own random generator (never the exogenous world).
        sealed: episodes drawn under a secret key and every agent in a process of its own
            (:mod:`twm_bench.keys`, :mod:`twm_bench.isolation`); ``False``: the public key.
    """

    agents: tuple[str, ...]
    scenarios: tuple[str, ...] = PAPER_SCENARIOS
    seeds: tuple[int, ...] = tuple(range(32))
    budget: int | None = None
    agent_seed: int = 0
    sealed: bool = False
    preset: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        if not self.agents:
            raise SpecError("agents: at least one agent is needed")
        repeated = sorted({a for a in self.agents if self.agents.count(a) > 1})
        if repeated:
            raise SpecError(f"agents: {repeated} named more than once; records are keyed by agent name")
        for agent in self.agents:
            try:
                resolve(agent)
            except UnknownAgentError as exc:
                raise SpecError(str(exc)) from exc
        for scenario in self.scenarios:
            load_target(scenario)  # raises ScenarioError naming the valid ones (or ValueError, intents)
        if not self.seeds or min(self.seeds) < 0 or len(set(self.seeds)) != len(self.seeds):
            raise SpecError(f"seeds: need distinct non-negative integers, got {list(self.seeds)[:8]}")
        if self.budget is not None and self.budget < 0:
            raise SpecError(f"budget: must be >= 0, got {self.budget}")

    @property
    def calls(self) -> int:
        """Simulator calls per agent and scenario."""
        return CALLS_PER_HORIZON * len(self.seeds) if self.budget is None else self.budget

    def config_hash(self, key_id: str = "public") -> str:
        """Short hash of everything that changes a record (not the preset's name): the spec and the
        id of the evaluation key (:class:`twm_bench.keys.EvaluationKey`) it runs under."""
        payload: dict[str, Any] = {k: v for k, v in asdict(self).items() if k not in ("preset", "sealed")}
        payload["calls"] = self.calls
        if key_id != "public":  # open runs hash as they did before sealed runs existed
            payload["key"] = key_id
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


PRESETS = ("ablation", "generalization", "intents", "paper", "quick")


def preset(name: str, agents: tuple[str, ...] | None = None) -> RunSpec:
    """``quick``: every available agent but the ablations, the four scenarios, 4 seeds;
    ``paper``: the planners and baselines of the paper's comparison (or ``agents``) on its protocol;
    ``ablation``: the TWM planner with one layer removed at a time, same protocol;
    ``generalization``: the classic baselines and the shipped learned policies on every test split
    (``twm_gym.scenarios.splits``: held-out seeds, families and cities, and the paper's four
    scenarios), 8 held-out episodes each; ``intents``: every test phrasing of the shipped intents
    (:mod:`twm_gym.intents.family`) on its scenarios, 4 episodes each, scored by the intent."""
    if name == "quick":
        ablation_only = set(ABLATIONS) - set(PAPER)
        every = tuple(a for a in available() if a not in ablation_only)
        return RunSpec(agents=agents or every, seeds=tuple(range(4)), preset=name)
    if name == "paper":
        return RunSpec(agents=agents or PAPER, preset=name)
    if name == "ablation":
        return RunSpec(agents=agents or ABLATIONS, preset=name)
    if name == "generalization":
        from twm_gym.scenarios.splits import TEST_SEEDS_FROM, TEST_SPLITS, split_scenarios

        scenarios = tuple(s for split in TEST_SPLITS for s in split_scenarios(split))
        seeds = tuple(range(TEST_SEEDS_FROM, TEST_SEEDS_FROM + 8))
        return RunSpec(agents=agents or GENERALIZATION, scenarios=scenarios, seeds=seeds, preset=name)
    if name == "intents":
        from twm_gym.intents import intent_episodes

        return RunSpec(agents=agents or INTENTS, scenarios=intent_episodes("test"), seeds=tuple(range(4)), preset=name)
    raise SpecError(f"unknown preset {name!r}; valid: {list(PRESETS)}")
