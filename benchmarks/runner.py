"""Run one agent on one evaluation episode: the unit every harness backend executes.

Evaluation episodes draw their exogenous world in their own seed domain (``EVAL_SEED_DOMAIN``,
salted by the scenario name), agents' twins in theirs (``agents.base.AGENT_SEED_DOMAIN``): no seed
an agent can pass to its twin replays the episode it is scored on.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.base import Agent, EpisodeContext, ScenarioCard
from twm_gym.core.kpi import Utility
from twm_gym.core.params import Scenario
from twm_gym.core.rng import domain_seeds
from twm_gym.core.twin import BudgetExceededError, Twin
from twm_gym.envs.slicing import SlicingEnv

EVAL_SEED_DOMAIN = 0x65766131


def evaluation_exo_seed(scenario: Scenario, seed: int) -> int:
    """The exogenous seed of evaluation episode ``seed`` of ``scenario``."""
    domain = EVAL_SEED_DOMAIN ^ zlib.crc32(scenario.name.encode())
    return int(domain_seeds([seed], domain)[0])


@dataclass
class EpisodeResult:
    """What one (agent, scenario, seed) episode produced."""

    kpis: dict[str, float | bool] = field(default_factory=dict)  # episode KPIs (core/kpi.py:KPIs.row)
    utility: float | None = None
    sim_calls: int = 0  # twin calls the agent made during the episode (reset and acting)
    decision_s: float = 0.0  # wall time inside the agent (reset + act), s
    error: str | None = None  # why the episode has no KPIs (e.g. the agent exceeded its budget)


def run_episode(
    agent: Agent,
    scenario: Scenario,
    seed: int,
    twin: Twin,
    rng: np.random.Generator,
    episode: int = 0,
    utility: Utility | None = None,
) -> EpisodeResult:
    """Play evaluation episode ``seed`` of ``scenario`` with ``agent``; its twin calls are metered by ``twin``.

    An agent that asks its twin for more than its budget ends the episode with the error recorded
    (``BudgetExceededError``), not a crash of the run.
    """
    env = SlicingEnv(scenario)
    obs, _ = env.reset(options={"exo_seed": evaluation_exo_seed(scenario, seed)})
    context = EpisodeContext(
        card=ScenarioCard.of(scenario),
        twin=twin,
        rng=rng,
        snapshot=lambda: env.simulation.snapshot(0),
        episode=episode,
    )
    result = EpisodeResult()
    calls0 = twin.calls_used
    info: dict[str, Any] = {}
    try:
        start = time.perf_counter()
        agent.reset(context)
        result.decision_s += time.perf_counter() - start
        done = False
        while not done:
            start = time.perf_counter()
            action = agent.act(obs)
            result.decision_s += time.perf_counter() - start
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
    except BudgetExceededError as exc:
        result.error = f"BudgetExceededError: {exc}"
    result.sim_calls = twin.calls_used - calls0
    if result.error is None:
        result.kpis = dict(info["episode_kpis"])
        u = utility or Utility()
        k = result.kpis
        result.utility = float(u.w_scm * k["scm"] + u.w_cost * k["delta_cost"] - u.w_violation * k["global_violation"])
    return result
