"""Strict mode: every agent in a process of its own that never holds the evaluation environment.

The harness keeps the environment, the metered twin and the evaluation seed; the agent's process
gets the scenario card (rebuilt there from the scenario's name: nominal model, layout, library),
its generator, and a :class:`TwinClient` whose rollouts and snapshots are requests the harness
serves, charges and answers. No object in the agent's process refers to the live episode, so
frame walking, closures and writes to the meter reach nothing of it. An agent process that hangs
past the episode's time limit, or dies, is stopped; the unit's remaining episodes are error
records (a fresh agent would have missed its preparation). Agent processes start from a fork
server (:func:`agent_context`), so they hold none of the harness's memory either: a sealed run's
key (:mod:`twm_bench.keys`) stays with the harness.

What strict mode does not change: the agent's code can still import ``twm_gym`` and simulate on
its own, unmetered, and read the files its user can; under the public key, the episodes it plays
can be replayed by anyone who knows their numbers (docs/reference/benchmark.md).
"""

from __future__ import annotations

import multiprocessing
import signal
import traceback
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from twm_agents.base import Action, Agent, EpisodeContext, Observation, ScenarioCard
from twm_gym.core.twin import BudgetExceededError, Meter, Rollout


class AgentFailure(Exception):
    """The agent's process raised; the text is its exception and traceback tail."""


PRELOAD = [
    "torch",
    "stable_baselines3",
    "torch._dynamo",  # imported lazily by the first torch optimizer an agent builds (1.5 s)
    "twm_bench.isolation",
    "twm_agents.registry",
    "twm_agents.baselines.simple",
    "twm_agents.baselines.twin_search",
    "twm_agents.llm.agent",
    "twm_agents.twm",
    "twm_agents.rl.agent",
    "twm_agents.rl.marl",
    "twm_gym.scenarios",
]


def agent_context() -> Any:
    """The multiprocessing context agent processes start from: a fork server that preloads ``PRELOAD``."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


class TwinClient(Meter):
    """The agent-side twin of strict mode: :meth:`rollout` asks the harness, which meters it."""

    def __init__(self, conn: Connection, budget: int | None, used: int) -> None:
        self._conn, self._budget, self._calls_used = conn, budget, used

    def rollout(self, p: ArrayLike, b: ArrayLike, seeds: ArrayLike, start: Any = None, record: bool = False) -> Rollout:
        self._conn.send(("rollout", (np.asarray(p), np.asarray(b), np.asarray(seeds), start, record)))
        kind, payload = self._conn.recv()
        if kind == "budget":
            raise BudgetExceededError(payload)
        out, self._calls_used = payload
        return out  # type: ignore[no-any-return]

    def snapshot(self) -> Any:
        self._conn.send(("snapshot", None))
        return self._conn.recv()[1]


def _serve_agent(conn: Connection, agent_spec: str, scenario_name: str) -> None:
    """The agent process: build the agent, then answer the harness's calls until told to close."""
    from twm_bench.runner import die_with_parent, one_thread_per_process

    one_thread_per_process()
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the harness's to handle
    import torch

    torch.set_num_threads(1)
    from twm_agents.registry import make_agent
    from twm_gym.intents import load_target

    def failure(exc: BaseException) -> tuple[str, str]:
        tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-4:]).rstrip()
        return ("error", f"{type(exc).__name__}: {exc}\n{tail[-1500:]}")

    try:
        agent = make_agent(agent_spec)
        card = ScenarioCard.of(*load_target(scenario_name))
        conn.send(("ok", bool(agent.uses_true_seed)))
    except BaseException as exc:
        conn.send(failure(exc))
        return
    while True:
        kind, payload = conn.recv()
        if kind == "close":
            return
        try:
            if kind in ("prepare", "reset"):
                rng, episode, budget, used = payload
                client = TwinClient(conn, budget, used)
                context = EpisodeContext(card=card, twin=client, rng=rng, snapshot=client.snapshot, episode=episode)  # type: ignore[arg-type]
                getattr(agent, kind)(context)
                result: Any = None
            elif kind == "act":
                result = np.asarray(agent.act(payload))
            elif kind == "metrics":
                result = dict(agent.metrics())
            else:  # "choose": the harness-side oracle's hindsight utilities
                result = agent.choose(payload)  # type: ignore[attr-defined]
            conn.send(("ok", result))
        except BaseException as exc:
            conn.send(failure(exc))


class RemoteAgent(Agent):
    """The harness-side stand-in of an agent that runs in its own process (strict mode).

    The harness calls it like any agent; each call is sent to the agent's process, and while it
    waits the stand-in serves that process's twin and snapshot requests from the real context.
    """

    name = "remote"

    def __init__(self, agent_spec: str, scenario_name: str) -> None:
        super().__init__()
        # Forked from a fork server: a fresh interpreter, started once per harness process, that has
        # imported the built-in agents and nothing of the harness. An agent process then starts in
        # milliseconds and holds none of the harness's memory: not the episode, not a sealed key.
        ctx = agent_context()
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve_agent, args=(child, agent_spec, scenario_name), daemon=True)
        self._process.start()
        child.close()
        self._dead: str | None = None
        self.uses_true_seed = bool(self._call(None, None))  # type: ignore[misc]

    def _call(self, message: tuple[str, Any] | None, context: EpisodeContext | None) -> Any:
        if self._dead is not None:
            raise AgentFailure(self._dead)
        try:
            if message is not None:
                self._conn.send(message)
            while True:
                kind, payload = self._conn.recv()
                if kind == "ok":
                    return payload
                if kind == "error":
                    raise AgentFailure(payload)
                if context is None:
                    raise AgentFailure(f"the agent process asked for {kind!r} outside an episode")
                if kind == "snapshot":
                    self._conn.send(("snapshot", context.snapshot()))
                    continue
                try:
                    out = context.twin.rollout(*payload)
                    self._conn.send(("rollout", (out, context.twin.calls_used)))
                except BudgetExceededError as exc:
                    self._conn.send(("budget", str(exc)))
        except AgentFailure:
            raise
        except EOFError:
            self._stop(f"AgentProcessError: the agent process exited (exit code {self._exitcode()})")
            raise AgentFailure(f"{self._dead}") from None
        except BaseException:  # a time limit or an interrupt while the agent was busy: it may be stuck
            self._stop("AgentProcessError: the agent process was stopped when an earlier episode failed")
            raise

    def _exitcode(self) -> int | None:
        self._process.join(timeout=5)
        return self._process.exitcode

    def _stop(self, why: str) -> None:
        self._dead = why
        if self._process.is_alive():
            self._process.kill()
        self._process.join(timeout=5)

    def _context_message(self, kind: str, context: EpisodeContext) -> tuple[str, Any]:
        return (kind, (context.rng, context.episode, context.twin.budget, context.twin.calls_used))

    def prepare(self, context: EpisodeContext) -> None:
        self._call(self._context_message("prepare", context), context)

    def reset(self, context: EpisodeContext) -> None:
        super().reset(context)
        self._call(self._context_message("reset", context), context)

    def act(self, observation: Observation) -> Action:
        return np.asarray(self._call(("act", observation), self.ctx), dtype=np.float32)

    def metrics(self) -> dict[str, float]:
        return dict(self._call(("metrics", None), self.context))

    def choose(self, utilities: Any) -> Any:
        return self._call(("choose", utilities), None)

    def close(self) -> None:
        if self._dead is None and self._process.is_alive():
            try:
                self._conn.send(("close", None))
            except (BrokenPipeError, OSError):
                pass
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()
