"""Agents used by the harness tests (importable as ``tests.benchmarks.helper_agents:...``)."""

import numpy as np

from twm_agents.base import Agent


class Greedy(Agent):
    """Asks its twin for more calls than any budget in the tests allows, on the second episode."""

    name = "greedy"

    def reset(self, context) -> None:
        super().reset(context)
        if context.episode == 1:
            lib = context.card.library
            context.twin.rollout(lib.p[:1].repeat(10_000, 0), lib.b[:1].repeat(10_000, 0), np.arange(10_000))

    def act(self, observation):
        return np.full(self.ctx.card.layout.action_size, 0.25, dtype=np.float32)
