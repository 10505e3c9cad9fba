"""Run one agent on one evaluation episode: the unit every harness backend executes.

Evaluation episodes draw their exogenous world in their own seed domain (``EVAL_SEED_DOMAIN``,
salted by the scenario name), agents' twins in theirs (``twm_agents.base.AGENT_SEED_DOMAIN``): no seed
an agent can pass to its twin replays the episode it is scored on.

Agents' own random numbers are *common* (``episode_generator``): every agent gets the same generator
in the same (scenario, seed) episode, whatever its name and whichever episodes it played before. Two
configurations that draw alike then differ by their decisions alone, and an ablation's difference
is the ablated layer's, not a different draw.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from twm_agents.base import AGENT_SEED_DOMAIN, Agent, EpisodeContext, ScenarioCard
from twm_agents.registry import make_agent
from twm_bench.records import (
    RECORDS_FILE,
    SPEC_FILE,
    Record,
    append,
    done_keys,
    drop_partial_tail,
    write_json_atomic,
)
from twm_bench.spec import RunSpec, SpecError
from twm_gym.core.kpi import Utility
from twm_gym.core.params import Scenario
from twm_gym.core.rng import domain_seeds
from twm_gym.core.sim import Simulation
from twm_gym.core.twin import BudgetExceededError, Twin, simulate
from twm_gym.envs.slicing import SlicingEnv
from twm_gym.scenarios import load_scenario

EVAL_SEED_DOMAIN = 0x65766131


def evaluation_exo_seed(scenario: Scenario, seed: int) -> int:
    """The exogenous seed of evaluation episode ``seed`` of ``scenario``."""
    domain = EVAL_SEED_DOMAIN ^ zlib.crc32(scenario.name.encode())
    return int(domain_seeds([seed], domain)[0])


def episode_generator(agent_seed: int, scenario_name: str, seed: int | None) -> np.random.Generator:
    """The agent's generator for episode ``seed`` of ``scenario_name`` (``None``: for ``prepare``).

    The same for every agent (common random numbers); it never touches the exogenous world.
    """
    episode = [0, 0] if seed is None else [1, seed]
    return np.random.default_rng([agent_seed, zlib.crc32(scenario_name.encode()), *episode])


@dataclass
class EpisodeResult:
    """What one (agent, scenario, seed) episode produced."""

    kpis: dict[str, float | bool] = field(default_factory=dict)  # episode KPIs (core/kpi.py:KPIs.row)
    utility: float | None = None
    sim_calls: int = 0  # twin calls the agent made during the episode (reset and acting)
    decision_s: float = 0.0  # wall time inside the agent (reset + act), s
    error: str | None = None  # why the episode has no KPIs (e.g. the agent exceeded its budget)
    metrics: dict[str, float] = field(default_factory=dict)  # the agent's own numbers (Agent.metrics)


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
    env = SlicingEnv(scenario, action_mode="shares")  # agents answer with shares (twm_agents.base.Action)
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
    result.metrics = {k: float(v) for k, v in agent.metrics().items()}
    if result.error is None:
        result.kpis = dict(info["episode_kpis"])
        u = utility or Utility()
        k = result.kpis
        result.utility = float(u.w_scm * k["scm"] + u.w_cost * k["delta_cost"] - u.w_violation * k["global_violation"])
    return result


def _context(card: ScenarioCard, twin: Twin, rng: np.random.Generator, episode: int) -> EpisodeContext:
    start = Simulation(card.nominal, [0])  # the scenario's start state (carries no seed)
    return EpisodeContext(card=card, twin=twin, rng=rng, snapshot=lambda: start.snapshot(0), episode=episode)


def run_unit(
    agent_spec: str,
    scenario_name: str,
    seeds: list[int],
    calls: int,
    agent_seed: int,
    config_hash: str,
    skip: frozenset[int] = frozenset(),
    out: str | None = None,
    on_record: Callable[[Record], None] | None = None,
    agent: Agent | None = None,
) -> list[Record]:
    """Every episode of one (agent, scenario): prepare once, then play ``seeds`` in order.

    The agent (``agent`` when given, e.g. one built with options; else from ``agent_spec``, which
    names the records) and its twin (``calls`` simulator calls for the whole scenario, nominal model,
    agents' seed domain) are built here and each episode gets ``episode_generator``'s generator, so
    a unit gives the same records in any process.
    Seeds in ``skip`` are played (the agent's state may depend on them) but not recorded again.
    Records are appended to ``out`` as each episode ends when given, and returned.
    """
    scenario = load_scenario(scenario_name)
    card = ScenarioCard.of(scenario)
    agent = agent if agent is not None else make_agent(agent_spec)
    twin = Twin(card.nominal, budget=calls, seed_domain=AGENT_SEED_DOMAIN)
    records: list[Record] = []
    prep_error = None
    start = time.perf_counter()
    try:
        agent.prepare(_context(card, twin, episode_generator(agent_seed, scenario_name, None), episode=-1))
    except BudgetExceededError as exc:
        prep_error = f"BudgetExceededError in prepare: {exc}"
    prep_s, prep_calls = time.perf_counter() - start, twin.calls_used
    lib = card.library if agent.uses_true_seed else None
    for episode, seed in enumerate(seeds):
        rec = Record(
            agent=agent_spec,
            scenario=scenario_name,
            seed=seed,
            config_hash=config_hash,
            prep_calls=prep_calls,
            prep_s=prep_s,
            reference=agent.uses_true_seed,
        )
        if prep_error is not None:
            rec.error = prep_error
        else:
            if lib is not None:  # the oracle: every library policy on the true episode, in hindsight
                truth = simulate(scenario, lib.p, lib.b, np.full(len(lib), evaluation_exo_seed(scenario, seed)))
                agent.choose(truth.utility)  # type: ignore[attr-defined]
            rng = episode_generator(agent_seed, scenario_name, seed)
            res = run_episode(agent, scenario, seed, twin, rng, episode=episode)
            rec.kpis, rec.utility, rec.sim_calls, rec.decision_s, rec.error, rec.metrics = (
                res.kpis,
                res.utility,
                res.sim_calls,
                res.decision_s,
                res.error,
                res.metrics,
            )
        if seed in skip:
            continue
        if out is not None:
            append(out, rec)
        if on_record is not None:
            on_record(rec)
        records.append(rec)
    return records


def run(
    spec: RunSpec,
    out_dir: str | Path,
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
    quiet: bool = False,
) -> Path:
    """Run ``spec`` into ``out_dir`` (``records.jsonl`` + ``spec.json``), skipping finished keys.

    ``workers > 1`` runs (agent, scenario) units in that many local processes; ``backend="ray"``
    runs them as Ray tasks (``address`` of a cluster, or a local Ray). Records are identical
    whichever way they run (timings aside). Returns the records file.
    """
    if backend not in ("local", "ray"):
        raise SpecError(f"backend: {backend!r} is not one of ['local', 'ray']")
    if workers < 1:
        raise SpecError(f"workers: must be >= 1, got {workers}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / RECORDS_FILE
    config = spec.config_hash()
    write_json_atomic(out / SPEC_FILE, {**asdict(spec), "calls": spec.calls, "config_hash": config})
    if drop_partial_tail(path) and not quiet:
        print(f"dropped a partial last line of {path} (an interrupted write)", file=sys.stderr)
    done = done_keys(path)
    units = []
    for agent in spec.agents:
        for scenario in spec.scenarios:
            skip = frozenset(s for s in spec.seeds if (agent, scenario, s, config) in done)
            if len(skip) < len(spec.seeds):
                units.append((agent, scenario, list(spec.seeds), spec.calls, spec.agent_seed, config, skip))
    episodes = sum(len(u[2]) - len(u[6]) for u in units)
    if not quiet and done:
        print(f"resuming: {len(done)} records already in {path}", file=sys.stderr)
    bar = tqdm(total=episodes, unit="episode", disable=quiet, file=sys.stderr, dynamic_ncols=True)
    with bar:
        if backend == "ray":
            _run_ray(units, path, address, bar)
        elif workers == 1 or len(units) <= 1:
            with one_torch_thread():
                for unit in units:
                    bar.set_postfix_str(f"{unit[0]} on {unit[1]}")
                    run_unit(*unit, out=str(path), on_record=lambda _: bar.update())
        else:
            ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=one_thread_per_process) as pool:
                futures = {pool.submit(run_unit, *unit, out=str(path)): unit for unit in units}
                for future in as_completed(futures):
                    bar.update(len(future.result()))
                    bar.set_postfix_str(f"{futures[future][0]} on {futures[future][1]} done")
    return path


def one_thread_per_process() -> None:
    """Worker initializer: one BLAS / OpenMP thread per worker process.

    Set before any agent imports torch or numpy's BLAS, so N workers on N cores do not each start
    N threads (oversubscribed OpenMP threads spin: the world-model planners ran 10-30x slower).
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the block with one torch CPU thread, then restore the previous count.

    The serial path's counterpart of :func:`one_thread_per_process`: the agents' networks are
    small, so a second thread saves no wall time on an idle 2-core machine (quick preset: 32 s
    either way) and, with anything else running, its spinning made the same run 7x slower.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_ray(units: list[tuple[Any, ...]], path: Path, address: str | None, bar: tqdm[Any]) -> None:
    try:
        import ray
    except ImportError as exc:
        raise SpecError("backend 'ray' needs the ray extra: pip install -e '.[ray]'") from exc
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(run_unit)
        refs = {task.remote(*unit): unit for unit in units}  # workers return records; the driver writes
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for rec in ray.get(ready[0]):
                append(path, rec)
                bar.update()
    finally:
        if started:
            ray.shutdown()
