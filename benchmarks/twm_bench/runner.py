"""Run one agent on one evaluation episode: the unit every harness backend executes.

An evaluation key (:mod:`twm_bench.keys`) maps each episode's public number to its exogenous seed
and to the agent's generator. Evaluation episodes live in a seed domain of their own, agents'
twins in theirs (``twm_agents.base.AGENT_SEED_DOMAIN``): no seed an agent can pass to its twin
replays the episode it is scored on.

Agents' own random numbers are *common*: every agent gets the same generator in the same
(scenario, seed) episode, whatever its name and whichever episodes it played before. Two
configurations that draw alike then differ by their decisions alone, and an ablation's difference
is the ablated layer's, not a different draw.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from twm_agents.base import AGENT_SEED_DOMAIN, Agent, EpisodeContext, ScenarioCard
from twm_agents.registry import make_agent
from twm_bench.keys import PUBLIC, EvaluationKey
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
from twm_gym.core.sim import Simulation
from twm_gym.core.twin import Twin, simulate
from twm_gym.envs.slicing import SlicingEnv
from twm_gym.intents import IntentUtility, OperatorIntent, load_target, share_bounds


def evaluation_exo_seed(scenario: Scenario, seed: int, key: EvaluationKey = PUBLIC) -> int:
    """The exogenous seed of evaluation episode ``seed`` of ``scenario`` under ``key``."""
    return key.exo_seed(scenario.name, seed)


@dataclass
class EpisodeResult:
    """What one (agent, scenario, seed) episode produced."""

    kpis: dict[str, float | bool] = field(default_factory=dict)  # episode KPIs (core/kpi.py:KPIs.row)
    utility: float | None = None
    sim_calls: int = 0  # twin calls the agent made during the episode (reset and acting)
    decision_s: float = 0.0  # wall time inside the agent (reset + act), s
    error: str | None = None  # why the episode has no KPIs (the agent raised, timed out, exceeded its budget, ...)
    metrics: dict[str, float] = field(default_factory=dict)  # the agent's own numbers (Agent.metrics)


class EpisodeTimeout(Exception):
    """The agent used more than the episode's wall-time limit."""


class InvalidAction(ValueError):
    """The agent's action was refused by the environment."""


_INTERRUPTED = threading.Event()  # set by a SIGINT the harness received (not one an agent raised)


def _on_sigint(signum: int, frame: Any) -> None:
    _INTERRUPTED.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigint_marks_interrupt() -> Iterator[None]:
    """Within the block, a SIGINT (Ctrl-C) is told apart from a ``KeyboardInterrupt`` an agent raises."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _INTERRUPTED.clear()
    before = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _on_alarm(signum: int, frame: Any) -> None:
    raise EpisodeTimeout("the episode's wall-time limit passed")


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`EpisodeTimeout` inside the block after ``seconds`` of wall time (SIGALRM).

    Only in a process's main thread (where Python delivers signals); elsewhere, and with ``None``,
    no limit.
    """
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(float(seconds), 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, before)


def describe_failure(exc: BaseException, where: str) -> str:
    """An error record's text: the exception, where it happened, and the last frames of its traceback."""
    if isinstance(exc, KeyboardInterrupt) and _INTERRUPTED.is_set():
        raise exc  # the harness was interrupted: not the agent's failure
    from twm_bench.isolation import AgentFailure

    if isinstance(exc, AgentFailure):  # raised in the agent's own process (strict mode): its text
        first, _, tail = str(exc).partition("\n")
        return f"{first} ({where})\n{tail}"
    frames = traceback.format_exception(type(exc), exc, exc.__traceback__)
    tail = "".join(frames[-4:]).rstrip()
    return f"{type(exc).__name__}: {exc} ({where})\n{tail[-1500:]}"


def run_episode(
    agent: Agent,
    scenario: Scenario,
    seed: int,
    twin: Twin,
    rng: np.random.Generator,
    episode: int = 0,
    utility: Utility | None = None,
    timeout_s: float | None = None,
    agent_name: str = "",
    key: EvaluationKey = PUBLIC,
    intent: OperatorIntent | None = None,
) -> EpisodeResult:
    """Play evaluation episode ``seed`` of ``scenario`` with ``agent``; its twin calls are metered by ``twin``.

    Whatever the agent does wrong ends the episode with an error recorded, never the run: it
    raises (any exception, ``SystemExit`` and ``KeyboardInterrupt`` included, unless the harness
    itself was interrupted), exceeds its twin budget (``BudgetExceededError``), answers with an
    action the env refuses (``InvalidAction``) or runs past ``timeout_s`` seconds of wall time
    (``EpisodeTimeout``). The error names the agent, the scenario, the seed and the step.
    ``key`` maps ``seed`` to the episode's exogenous world. Under an ``intent`` the agent's card
    carries its text and the episode is scored by :class:`~twm_gym.intents.IntentUtility` of its
    spec, on the shares the env applied (``kpis["bound_use"]``: the worst use of its share bounds).
    """
    env = SlicingEnv(scenario, action_mode="shares")  # agents answer with shares (twm_agents.base.Action)
    obs, _ = env.reset(options={"exo_seed": evaluation_exo_seed(scenario, seed, key)})
    context = EpisodeContext(
        card=ScenarioCard.of(scenario, intent),
        twin=twin,
        rng=rng,
        snapshot=lambda: env.simulation.snapshot(0),
        episode=episode,
    )
    result = EpisodeResult()
    calls0 = twin.calls_used
    info: dict[str, Any] = {}
    step = 0
    applied: list[tuple[Any, Any]] = []  # the (p, b) the env applied at each step
    try:
        with time_limit(timeout_s):
            start = time.perf_counter()
            agent.reset(context)
            result.decision_s += time.perf_counter() - start
            done = False
            while not done:
                start = time.perf_counter()
                action = agent.act(obs)
                result.decision_s += time.perf_counter() - start
                try:
                    obs, _, terminated, truncated, info = env.step(action)
                except ValueError as exc:
                    raise InvalidAction(str(exc)) from exc
                done = terminated or truncated
                step += 1
                applied.append((obs["csw_prb_share"], obs["csw_bw_share"]))
            result.metrics = {k: float(v) for k, v in agent.metrics().items()}
    except BaseException as exc:
        where = f"agent {agent_name or type(agent).__name__}, scenario {scenario.name}, seed {seed}, step {step}"
        result.error = describe_failure(exc, where)
    result.sim_calls = twin.calls_used - calls0
    if result.error is None:
        result.kpis = dict(info["episode_kpis"])
        k = result.kpis
        if intent is None:
            u = utility or Utility()
            result.utility = float(u.of(k["scm"], k["delta_cost"], k["global_violation"], k["sla_excess"]))
        else:
            layout = env.layout
            p = np.stack([a[0].reshape(layout.n_cells, -1) for a in applied])
            b = np.stack([a[1].reshape(layout.n_links, -1) for a in applied])
            use = float(share_bounds(intent.spec, scenario).use(p, b))
            k["bound_use"] = use
            result.utility = IntentUtility.of(intent.spec, scenario, intent.waived).of_record(k, use)
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
    timeout_s: float | None = None,
    strict: bool = False,
    key: EvaluationKey = PUBLIC,
) -> list[Record]:
    """Every episode of one (agent, scenario): prepare once, then play ``seeds`` in order.

    The agent (``agent`` when given, e.g. one built with options; else from ``agent_spec``, which
    names the records) and its twin (``calls`` simulator calls for the whole scenario, nominal model,
    agents' seed domain) are built here and each episode gets its generator from ``key``
    (:meth:`EvaluationKey.agent_generator`), so a unit gives the same records in any process.
    Seeds in ``skip`` are played (the agent's state may depend on them) but not recorded again.
    Records are appended to ``out`` as each episode ends when given, and returned. An agent that
    cannot be built or prepared gets an error record for every seed; one that fails an episode
    gets an error record for it (:func:`run_episode`), and the unit goes on. ``strict`` runs the
    agent in a process of its own (:mod:`twm_bench.isolation`); a sealed ``key`` requires it.
    """
    if key.sealed and not strict:
        raise SpecError("a sealed run's agents must run strict: an agent in the harness's process can read the key")
    scenario, intent = load_target(scenario_name)
    card = ScenarioCard.of(scenario, intent)
    twin = Twin(card.nominal, budget=calls, seed_domain=AGENT_SEED_DOMAIN)
    records: list[Record] = []
    player: Agent | None = None  # None: it could not be built or prepared
    prep_error = ""
    start = time.perf_counter()
    try:
        with time_limit(timeout_s):
            if agent is not None:
                built = agent
            elif strict:
                from twm_bench.isolation import RemoteAgent

                built = RemoteAgent(agent_spec, scenario_name)
            else:
                built = make_agent(agent_spec)
            built.prepare(_context(card, twin, key.agent_generator(agent_seed, scenario_name, None), episode=-1))
            player = built
    except BaseException as exc:
        prep_error = describe_failure(exc, f"agent {agent_spec}, scenario {scenario_name}, building or prepare")
    prep_s, prep_calls = time.perf_counter() - start, twin.calls_used
    reference = player is not None and bool(player.uses_true_seed)
    lib = card.library if reference else None
    for episode, seed in enumerate(seeds):
        rec = Record(
            agent=agent_spec,
            scenario=scenario_name,
            seed=seed,
            config_hash=config_hash,
            prep_calls=prep_calls,
            prep_s=prep_s,
            reference=reference,
            eval_key=key.id,
        )
        if player is None:
            rec.error = prep_error
        else:
            if lib is not None:  # the oracle: every library policy on the true episode, in hindsight
                truth = simulate(scenario, lib.p, lib.b, np.full(len(lib), evaluation_exo_seed(scenario, seed, key)))
                hindsight = truth.utility
                if intent is not None:
                    use = share_bounds(intent.spec, scenario).use(lib.p, lib.b)
                    k = truth.kpis
                    score = IntentUtility.of(intent.spec, scenario, intent.waived)
                    hindsight = score.of_columns(k.loss, k.d99_ms, k.delta_cost, use)
                player.choose(hindsight)  # type: ignore[attr-defined]
            rng = key.agent_generator(agent_seed, scenario_name, seed)
            res = run_episode(
                player,
                scenario,
                seed,
                twin,
                rng,
                episode,
                timeout_s=timeout_s,
                agent_name=agent_spec,
                key=key,
                intent=intent,
            )
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
    if player is not None and hasattr(player, "close"):  # a strict-mode agent's process
        player.close()
    return records


def run(
    spec: RunSpec,
    out_dir: str | Path,
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
    quiet: bool = False,
    timeout_s: float | None = None,
    strict: bool = False,
    key_file: str | Path | None = None,
) -> Path:
    """Run ``spec`` into ``out_dir`` (``records.jsonl`` + ``spec.json``), skipping finished keys.

    ``workers > 1`` runs (agent, scenario) units in that many local processes; ``backend="ray"``
    runs them as Ray tasks (``address`` of a cluster, or a local Ray). Records are identical
    whichever way they run (timings aside). ``timeout_s`` limits each episode's wall time (and each
    agent's building and preparation). Ctrl-C stops the workers at once (they die with this
    process, too) and raises ``KeyboardInterrupt`` with every finished record written. ``strict``
    runs every agent in a process of its own (:mod:`twm_bench.isolation`). A sealed spec draws its
    episodes under a secret key (``key_file``, else the results folder's own, made on its first
    sealed run; :mod:`twm_bench.keys`) and is always strict. Returns the records file.
    """
    if backend not in ("local", "ray"):
        raise SpecError(f"backend: {backend!r} is not one of ['local', 'ray']")
    if workers < 1:
        raise SpecError(f"workers: must be >= 1, got {workers}")
    if (strict or spec.sealed) and backend == "ray":
        raise SpecError("strict / sealed: agents run in processes of their own on the local backend only, not 'ray'")
    if key_file is not None and not spec.sealed:
        raise SpecError("key_file: only a sealed run takes a key (--sealed)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key = PUBLIC
    if spec.sealed:
        key = EvaluationKey.load(key_file) if key_file is not None else EvaluationKey.for_folder(out)
        strict = True
    path = out / RECORDS_FILE
    config = spec.config_hash(key.id)
    meta = {**asdict(spec), "calls": spec.calls, "config_hash": config, "key": key.id}
    write_json_atomic(out / SPEC_FILE, meta)
    if drop_partial_tail(path) and not quiet:
        print(f"dropped a partial last line of {path} (an interrupted write)", file=sys.stderr)
    done = done_keys(path)
    units = []
    for agent in spec.agents:
        for scenario in spec.scenarios:
            skip = frozenset(s for s in spec.seeds if (agent, scenario, s, config) in done)
            if len(skip) < len(spec.seeds):
                units.append((agent, scenario, list(spec.seeds), spec.calls, spec.agent_seed, config, skip, key))
    episodes = sum(len(u[2]) - len(u[6]) for u in units)
    if not quiet and done:
        print(f"resuming: {len(done)} records already in {path}", file=sys.stderr)
    bar = tqdm(total=episodes, unit="episode", disable=quiet, file=sys.stderr, dynamic_ncols=True)
    with bar:
        if backend == "ray":
            _run_ray(units, path, address, bar, timeout_s)  # Ray tasks are processes of their own already
        elif workers == 1 or len(units) <= 1:
            with one_torch_thread(), sigint_marks_interrupt():
                for unit in units:
                    bar.set_postfix_str(f"{unit[0]} on {unit[1]}")
                    run_unit(
                        *unit[:7],
                        out=str(path),
                        on_record=lambda _: bar.update(),
                        timeout_s=timeout_s,
                        strict=strict,
                        key=key,
                    )
        else:
            ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
            pool = ctx.Pool(processes=workers, initializer=worker_init)
            try:
                jobs = [(unit, str(path), timeout_s, strict) for unit in units]
                for unit, n in pool.imap_unordered(_pool_unit, jobs):
                    bar.update(n)
                    bar.set_postfix_str(f"{unit[0]} on {unit[1]} done")
                pool.close()
            except BaseException:
                pool.terminate()  # SIGTERM to every worker now, not after their units finish
                raise
            finally:
                pool.join()
    return path


def _pool_unit(job: tuple[tuple[Any, ...], str, float | None, bool]) -> tuple[tuple[Any, ...], int]:
    unit, out, timeout_s, strict = job
    agent, scenario, seeds, calls, agent_seed, config, skip, key = unit
    records = run_unit(
        agent, scenario, seeds, calls, agent_seed, config, skip, out=out, timeout_s=timeout_s, strict=strict, key=key
    )
    return unit, len(records)


def _ray_unit(unit: tuple[Any, ...], timeout_s: float | None) -> list[Record]:
    agent, scenario, seeds, calls, agent_seed, config, skip, _ = unit  # the public key (ray runs are open)
    with one_torch_thread():  # a task per CPU: one torch thread each, as the local workers
        return run_unit(agent, scenario, seeds, calls, agent_seed, config, skip, timeout_s=timeout_s)


def worker_init() -> None:
    """Worker initializer: one thread each (:func:`one_thread_per_process`), SIGINT left to the
    parent (which terminates the pool), and death with the parent (Linux ``PR_SET_PDEATHSIG``), so
    no orphan goes on appending records after the run was killed."""
    one_thread_per_process()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Pool workers are daemonic, and multiprocessing refuses children to a daemonic process; strict
    # mode's agent processes are children of the worker (and die with it: see _serve_agent).
    multiprocessing.current_process()._config["daemon"] = False  # type: ignore[attr-defined]
    die_with_parent()


def die_with_parent() -> None:
    """On Linux, have the kernel kill this process when its parent dies (``PR_SET_PDEATHSIG``)."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


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


def _run_ray(
    units: list[tuple[Any, ...]], path: Path, address: str | None, bar: tqdm[Any], timeout_s: float | None
) -> None:
    try:
        import ray
    except ImportError as exc:
        raise SpecError("backend 'ray' needs the ray extra: pip install -e '.[ray]'") from exc
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(_ray_unit)
        refs = {task.remote(unit, timeout_s): unit for unit in units}  # workers return records; the driver writes
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for rec in ray.get(ready[0]):
                append(path, rec)
                bar.update()
    finally:
        if started:
            ray.shutdown()
