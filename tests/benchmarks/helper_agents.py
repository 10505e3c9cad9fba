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


class _Fault(Agent):
    """Plays uniform shares, and fails where its class says (``fail_in``) on the second step or call."""

    fail_in = ""

    def _maybe_fail(self, where: str) -> None:
        if where == self.fail_in:
            self.fail()

    def fail(self) -> None:
        raise RuntimeError(f"injected fault in {self.fail_in}")

    def prepare(self, context) -> None:
        self._maybe_fail("prepare")

    def reset(self, context) -> None:
        super().reset(context)
        self._maybe_fail("reset")

    def act(self, observation):
        self._t += 1
        if self._t == 2:
            self._maybe_fail("act")
        return np.full(self.ctx.card.layout.action_size, 1 / 3, dtype=np.float32)

    def metrics(self):
        self._maybe_fail("metrics")
        return {"nan_metric": float("nan")}


class RaisesInPrepare(_Fault):
    fail_in = "prepare"


class RaisesInReset(_Fault):
    fail_in = "reset"


class RaisesInAct(_Fault):
    fail_in = "act"


class RaisesInMetrics(_Fault):
    fail_in = "metrics"


class ExitsInAct(_Fault):
    fail_in = "act"

    def fail(self) -> None:
        raise SystemExit(3)


class InterruptsInAct(_Fault):
    fail_in = "act"

    def fail(self) -> None:
        raise KeyboardInterrupt


class HangsInAct(_Fault):
    fail_in = "act"

    def fail(self) -> None:
        import time

        time.sleep(3600)


class NaNAction(_Fault):
    def act(self, observation):
        a = super().act(observation)
        a[4] = np.nan
        return a


class WrongShape(_Fault):
    def act(self, observation):
        return np.full(7, 0.3, dtype=np.float32)


class FailsToBuild(Agent):
    def __init__(self) -> None:
        super().__init__()
        raise OSError("checkpoint file is unreadable")

    def act(self, observation):  # pragma: no cover - never built
        raise AssertionError


class ZeroesTheWorld(_Fault):
    """Writes the shared world (compiled demand, candidate library) to change later agents' episodes."""

    def reset(self, context) -> None:
        super().reset(context)
        context.card.layout.comp.base_demand[:] = 0.0


class SlowUniform(_Fault):
    """Uniform shares, slowly: a run of these takes long enough to be interrupted."""

    def act(self, observation):
        import time

        time.sleep(0.05)
        return super().act(observation)


class ForgesTheMeter(_Fault):
    """Resets its twin's meter and raises its budget before spending it."""

    def reset(self, context) -> None:
        super().reset(context)
        context.twin.calls_used = 0
        context.twin.budget = 10**9


class LooksForTheEpisode(_Fault):
    """Walks the interpreter's objects for the live evaluation env (and its exogenous seed), as a cheat would."""

    def reset(self, context) -> None:
        super().reset(context)
        import gc
        import warnings

        from twm_gym.envs.slicing import SlicingEnv

        with warnings.catch_warnings():  # isinstance() on every object wakes deprecated lazy attributes
            warnings.simplefilter("ignore")
            self.found = [o for o in gc.get_objects() if isinstance(o, SlicingEnv) and o.exo_seed is not None]

    def metrics(self):
        return {"live_envs_found": float(len(self.found))}


class ExitsTheProcess(_Fault):
    fail_in = "act"

    def fail(self) -> None:
        import os

        os._exit(7)


class RecoversTheSeed(Agent):
    """Finds which episode it plays from its generator's state under the public key, replays that
    episode on the simulator (unmetered) with every library policy, and plays the best, as a
    cheat would. Plays uniform shares when it cannot tell the episode."""

    def reset(self, context) -> None:
        super().reset(context)
        from twm_bench.keys import PUBLIC
        from twm_gym.core.twin import simulate
        from twm_gym.scenarios import load_scenario

        name, state = context.card.name, context.rng.bit_generator.state
        found = [s for s in range(64) if PUBLIC.agent_generator(0, name, s).bit_generator.state == state]
        self.recovered = bool(found)
        self.plan = None
        if found:
            lib = context.card.library
            exo = PUBLIC.exo_seed(name, found[0])
            truth = simulate(load_scenario(name), lib.p, lib.b, np.full(len(lib), exo))
            self.plan = int(np.argmax(truth.utility))

    def act(self, observation):
        if self.plan is None:
            return np.full(self.ctx.card.layout.action_size, 0.25, dtype=np.float32)
        return self.play_candidate(self.plan)

    def metrics(self):
        return {"seed_recovered": float(self.recovered)}


class LooksForTheKey(_Fault):
    """Walks its process's objects for a sealed run's evaluation key."""

    def reset(self, context) -> None:
        super().reset(context)
        import gc

        from twm_bench.keys import EvaluationKey

        self.found = [o for o in gc.get_objects() if isinstance(o, EvaluationKey) and o.sealed]

    def metrics(self):
        return {"keys_found": float(len(self.found))}
