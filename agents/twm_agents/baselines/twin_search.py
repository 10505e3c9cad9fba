"""Baselines that search the candidate library with a twin: DT-fair (budget-matched, nominal twin)
and the hindsight oracle (true scenario and seed; harness-side, for regret only)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from twm_agents.base import Action, Agent, EpisodeContext, Observation


class DTFair(Agent):
    """Budget-matched twin search (paper section X-C): ``n_candidates`` library policies, each rolled
    out on ``budget / n_candidates`` seeds of the nominal twin, once per scenario; the best by mean
    utility is played in every episode. With the paper's budget of 384 calls: 24 x 16. A budget
    below ``n_candidates`` evaluates that many candidates (evenly spread) on one seed each; no budget
    at all plays candidate 0, the uniform allocation.

    Args:
        n_candidates: library candidates evaluated (a fixed, evenly spread subset including uniform).
    """

    name: ClassVar[str] = "dt-fair"

    def __init__(self, n_candidates: int = 24) -> None:
        super().__init__()
        if n_candidates < 1:
            raise ValueError(f"n_candidates must be >= 1, got {n_candidates}")
        self.n_candidates = n_candidates
        self.choice: int | None = None

    def prepare(self, context: EpisodeContext) -> None:
        """Spend the whole scenario budget on one search (called once per scenario by the harness)."""
        lib, twin = context.card.library, context.twin
        budget = twin.remaining if twin.remaining is not None else self.n_candidates * 16
        n = min(self.n_candidates, budget)
        if n < 1:
            self.choice = 0
            return
        n_seeds = max(1, budget // n)
        picks = np.unique(np.linspace(0, len(lib) - 1, n).round().astype(int))
        seeds = np.arange(n_seeds)
        out = twin.rollout(lib.p[picks].repeat(n_seeds, 0), lib.b[picks].repeat(n_seeds, 0), np.tile(seeds, len(picks)))
        means = out.utility.reshape(len(picks), n_seeds).mean(axis=1)
        self.choice = int(picks[int(np.argmax(means))])

    def reset(self, context: EpisodeContext) -> None:
        super().reset(context)
        if self.choice is None:
            self.prepare(context)

    def act(self, observation: Observation) -> Action:
        if self.choice is None:
            raise RuntimeError("DTFair.act() before reset()")
        return self.play_candidate(self.choice)


class Oracle(Agent):
    """Hindsight-best library policy on the *true* scenario and evaluation seed, for regret only.

    The harness hands it the episode's true exogenous seed (``uses_true_seed``); it is reported as
    a reference and never ranked as a competitor.
    """

    name: ClassVar[str] = "oracle"
    uses_true_seed: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.choice = 0

    def choose(self, rollout_utility: np.ndarray) -> None:
        """Set the policy from the utilities of every library candidate on the true episode."""
        self.choice = int(np.argmax(rollout_utility))

    def act(self, observation: Observation) -> Action:
        return self.play_candidate(self.choice)
