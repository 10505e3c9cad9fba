"""The agent protocol: reset for an episode with a context, then act on observations.

An agent sees what a network operator's planner would: the environment's observation each slow
step, the scenario's public card, and a metered twin of the scenario's *nominal* (in-distribution)
exogenous model. It never sees the evaluation episode's seed or its future exogenous draws: the
twin maps every seed an agent passes into its own seed domain (``core/rng.py:domain_seeds``), and
evaluation episodes run in another.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from twm_gym.core.candidates import CandidateLibrary, candidate_library
from twm_gym.core.params import Scenario
from twm_gym.core.state import Snapshot
from twm_gym.core.twin import Twin
from twm_gym.envs.layout import Layout, layout_for
from twm_gym.intents import OperatorIntent
from twm_gym.scenarios import load_scenario

Observation = dict[str, NDArray[np.float32]]
Action = NDArray[np.float32]

AGENT_SEED_DOMAIN = 0x7A6E7401
"""Seed domain of the twins handed to agents (evaluation episodes use another)."""


@dataclass(frozen=True, eq=False)
class ScenarioCard:
    """What an agent may know about a scenario: its name, family and *nominal* model, never a seed.

    ``nominal`` is the in-distribution scenario the twin samples futures from; for an OOD scenario
    it is not the world the episode runs in (paper section X: the twin is built on ID data).
    ``intent`` is the operator's intent for the episodes, in natural language (``None``: the
    benchmark's default objective, :class:`twm_gym.core.kpi.Utility`); the episodes are scored by
    what it means (:mod:`twm_gym.intents`), which the card does not reveal. ``waived`` names slices
    whose SLA the operator waived in a typed field (never in the text).
    """

    name: str
    family: str
    nominal: Scenario
    layout: Layout  # action packing and observation keys
    library: CandidateLibrary  # the 256 candidate policies of the nominal city
    intent: str | None = None
    waived: tuple[str, ...] = ()

    @property
    def horizon(self) -> int:
        return self.nominal.horizon

    @classmethod
    def of(cls, scenario: Scenario, intent: OperatorIntent | None = None) -> ScenarioCard:
        """The card of ``scenario``, played under ``intent`` when given (its text and waivers only)."""
        nominal = load_scenario(scenario.nominal) if scenario.nominal != scenario.name else scenario
        return cls(
            name=scenario.name,
            family=scenario.family,
            nominal=nominal,
            layout=layout_for(nominal),
            library=candidate_library(nominal),
            intent=None if intent is None else intent.text,
            waived=() if intent is None else intent.waived,
        )


@dataclass(frozen=True, eq=False)
class EpisodeContext:
    """Handed to :meth:`Agent.reset` at the start of every episode.

    Attributes:
        card: the scenario's public card.
        twin: metered twin of the nominal model (its budget is the agent's for the whole scenario:
            calls made in one episode are gone for the next).
        rng: the agent's own random generator (seeded by the harness, unrelated to exogenous seeds).
        snapshot: the live episode's current state (queues, shocks, link states, KPI counters), the
            start a twin rollout can be conditioned on; it carries no seed.
        episode: index of the episode within the scenario (0, 1, ...).
    """

    card: ScenarioCard
    twin: Twin
    rng: np.random.Generator
    snapshot: Callable[[], Snapshot]
    episode: int = 0

    @property
    def budget_left(self) -> int | None:
        return self.twin.remaining


class Agent(ABC):
    """Base class of every agent. Subclasses set :attr:`name` and implement :meth:`act`.

    The harness calls ``prepare(context)`` once per scenario, ``reset(context)`` once per episode,
    then ``act(observation)`` once per slow step; the returned action is the flat ``[0, 1]`` share
    vector of ``TWM/Slicing-v0`` (``context.card.layout.pack(p, b)``). ``metrics``, ``fit``,
    ``save`` and ``load`` are optional.
    """

    name: ClassVar[str] = "agent"
    uses_true_seed: ClassVar[bool] = False
    """Only the harness-side oracle sets this: it is scored for regret, never as a competitor."""

    def __init__(self, **config: Any) -> None:
        if config:
            raise TypeError(f"{type(self).__name__} takes no options; got {sorted(config)}")
        self.context: EpisodeContext | None = None
        self._t = 0  # slow steps acted in the current episode

    def prepare(self, context: EpisodeContext) -> None:
        """Once per scenario, before its first episode (``context.episode`` is -1, the snapshot is
        the scenario's start state). Twin calls made here count against the scenario's budget."""
        return  # an optional hook: most agents need no preparation

    def reset(self, context: EpisodeContext) -> None:
        """Start an episode."""
        self.context = context
        self._t = 0

    @abstractmethod
    def act(self, observation: Observation) -> Action:
        """The action for the current slow step."""

    def metrics(self) -> dict[str, float]:
        """Optional numbers about the episode just played (e.g. phase timings, ms), kept in its record."""
        return {}

    def fit(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} has nothing to fit")

    def save(self, path: str | Path) -> None:
        raise NotImplementedError(f"{type(self).__name__} has no state to save")

    def load(self, path: str | Path) -> None:
        raise NotImplementedError(f"{type(self).__name__} has no state to load")

    def play_candidate(self, index: int) -> Action:
        """The action of library candidate ``index`` at the current step (call once per step).

        For agents that commit to a library policy for the episode (the step counter restarts in
        :meth:`reset`).
        """
        lib, layout = self.ctx.card.library, self.ctx.card.layout
        t = min(self._t, lib.p.shape[1] - 1)
        self._t += 1
        return layout.pack(lib.p[index, t], lib.b[index, t])

    @property
    def ctx(self) -> EpisodeContext:
        if self.context is None:
            raise RuntimeError(f"{type(self).__name__}.act() before reset(context)")
        return self.context
