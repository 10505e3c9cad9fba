"""Environment step rates: single env, make_vec at N = 64 and 1024, PettingZoo, and CartPole-v1.

    python benchmarks/perf/perf_env.py [--seconds 2] [--repeats 3]

Each figure is slow steps per second (each slow step runs the twin's 15 fast sub-steps), resets
included, with a fixed uniform action (random actions cost the same), taken through ``gym.make``
(so with Gymnasium's default wrappers, as users run it). CartPole-v1 is measured in the same run as
the Python-overhead reference: compare within one run, as ratios (this machine is noisy). Reports
the best of ``--repeats`` timed windows.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np

import twm_gym


def _rate(step: Callable[[], int], seconds: float, repeats: int) -> float:
    """Best steps/s over ``repeats`` windows of about ``seconds`` each (``step`` returns steps done)."""
    step()  # warm-up (compiles the scenario, fills routing caches)
    best = 0.0
    for _ in range(repeats):
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            done += step()
        best = max(best, done / (time.perf_counter() - start))
    return best


def single(env_id: str) -> Callable[[], int]:
    env = gym.make(env_id)
    env.reset(seed=0)
    action = np.full(env.action_space.shape, 1 / 3, dtype=np.float32) if env.action_space.shape else 0

    def step() -> int:
        _, _, term, trunc, _ = env.step(action)
        if term or trunc:
            env.reset()
        return 1

    return step


def vector(n: int) -> Callable[[], int]:
    env = gym.make_vec("TWM/Slicing-v0", num_envs=n)
    env.reset(seed=0)
    action = np.full((n, 60), 1 / 3, dtype=np.float32)

    def step() -> int:
        env.step(action)  # same-step autoreset: no reset call needed
        return n

    return step


def parallel() -> Callable[[], int]:
    env = twm_gym.parallel_env()
    env.reset(seed=0)
    actions = {a: np.full(env.action_space(a).shape, 1 / 3, dtype=np.float32) for a in env.possible_agents}

    def step() -> int:
        env.step(actions)
        if not env.agents:
            env.reset()
        return 1

    return step


def cartpole() -> Callable[[], int]:
    env = gym.make("CartPole-v1")
    env.reset(seed=0)

    def step() -> int:
        _, _, term, trunc, _ = env.step(0)
        if term or trunc:
            env.reset()
        return 1

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description="Environment step rates.")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = [
        ("CartPole-v1 (reference)", cartpole()),
        ("TWM/Slicing-v0 single env", single("TWM/Slicing-v0")),
        ("TWM/Field-v0 single env", single("TWM/Field-v0")),
        ("PettingZoo parallel env", parallel()),
        ("make_vec N=64", vector(64)),
        ("make_vec N=1024", vector(1024)),
    ]
    print(f"slow steps/s (env-steps/s for make_vec), best of {args.repeats} x {args.seconds:.0f} s, resets included")
    ref = None
    for name, fn in rows:
        rate = _rate(fn, args.seconds, args.repeats)
        ref = ref or rate
        print(f"  {name:<28} {rate:>10,.0f}   {rate / ref:6.3f} x CartPole")


if __name__ == "__main__":
    main()
