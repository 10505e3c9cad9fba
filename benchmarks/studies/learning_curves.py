"""Does RL learn on ``TWM/Slicing-v0`` out of the box? Mean return against env steps for three
trainers, each on several seeds, beside the uniform, random and shipped policies.

    python benchmarks/studies/learning_curves.py [--seeds 1 2 3] [--steps 100000] [--workers 2]
    python benchmarks/studies/learning_curves.py --table docs/data/learning_curves.csv   # the table only

Trainers (all on ``TWM/Slicing-v0``, the env's default relative action form):

* ``sb3-ppo-defaults``: Stable-Baselines3 ``PPO("MultiInputPolicy", env)`` with every
  hyperparameter at SB3's default, on the raw ``Dict`` observation;
* ``cleanrl-style``: ``examples/cleanrl_ppo_continuous.py`` as shipped (run as a subprocess);
* ``twm-bench-ppo``: the shipped recipe of ``twm-bench train ppo`` (``RLConfig`` defaults, here
  with ``envs=("TWM/Slicing-v0",)``), built by the same ``twm_agents.rl.train`` functions.

Every ``--eval-every`` steps each policy's mean action plays the same ``--episodes`` evaluation
episodes (``make_vec(..., num_envs=episodes).reset(seed=--eval-seed)``); the figure's horizontal
lines are the uniform allocation (the zero action), uniform random actions of the env's action
space, and the shipped ``ppo`` checkpoint, on those episodes. Prints the table of final returns and
writes ``--out`` (CSV) and ``--figure`` (PNG). Torch runs one thread per worker process.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import twm_gym  # noqa: F401 - registers the TWM/* ids

ENV_ID = "TWM/Slicing-v0"
ROOT = Path(__file__).resolve().parents[2]
TRAINERS = ("sb3-ppo-defaults", "cleanrl-style", "twm-bench-ppo")


def evaluate(act: Callable[[dict[str, Any]], np.ndarray], episodes: int, seed: int, action_mode: str) -> float:
    """Mean undiscounted return of ``act`` (batched observations -> actions) over fixed episodes."""
    env = gym.make_vec(ENV_ID, num_envs=episodes, action_mode=action_mode)
    obs, _ = env.reset(seed=seed)
    total = np.zeros(episodes)
    for _ in range(env.unwrapped.scenario.horizon):
        obs, reward, _term, _trunc, _info = env.step(act(obs))
        total += reward
    env.close()
    return float(total.mean())


def references(episodes: int, seed: int) -> dict[str, float]:
    """The horizontal lines: uniform, random and the shipped ``ppo`` policy on the evaluation episodes."""
    import torch

    from twm_agents.rl.agent import DEFAULT_PPO, policy_action
    from twm_agents.rl.policy import load_policy
    from twm_agents.rl.spaces import flat_bounds, shares_of, unit_observation

    space = gym.make(ENV_ID).action_space
    rng = np.random.default_rng(seed)
    policy, meta = load_policy(DEFAULT_PPO)
    bounds = flat_bounds(gym.make(ENV_ID).observation_space)

    def shipped(obs: dict[str, Any]) -> np.ndarray:
        x = torch.as_tensor(
            np.stack([unit_observation({k: v[i] for k, v in obs.items()}, *bounds) for i in range(episodes)])
        )
        with torch.inference_mode():
            return shares_of(policy_action(policy, meta["algo"], x))

    return {
        "uniform": evaluate(lambda o: np.zeros((episodes, space.shape[0]), np.float32), episodes, seed, "relative"),
        "random": evaluate(
            lambda o: rng.uniform(-1, 1, (episodes, space.shape[0])).astype(np.float32), episodes, seed, "relative"
        ),
        "shipped ppo": evaluate(shipped, episodes, seed, meta.get("action_mode", "shares")),
    }


def _learn_in_chunks(
    model: Any, act: Callable[[dict[str, Any]], np.ndarray], steps: int, every: int, episodes: int, eval_seed: int
) -> list[tuple[int, float]]:
    """Train an SB3 model in whole rollouts, never past ``steps``, evaluating about every ``every`` steps."""
    rollout = model.n_steps * model.n_envs
    rows = [(0, evaluate(act, episodes, eval_seed, "relative"))]
    while (chunk := min(max(every // rollout, 1), (steps - model.num_timesteps) // rollout) * rollout) > 0:
        model.learn(chunk, reset_num_timesteps=False)
        rows.append((int(model.num_timesteps), evaluate(act, episodes, eval_seed, "relative")))
    return rows


def _sb3_curve(seed: int, steps: int, every: int, episodes: int, eval_seed: int) -> list[tuple[int, float]]:
    from stable_baselines3 import PPO

    model = PPO("MultiInputPolicy", gym.make(ENV_ID), seed=seed, device="cpu", verbose=0)

    def act(obs: dict[str, Any]) -> np.ndarray:
        return model.predict(obs, deterministic=True)[0]

    return _learn_in_chunks(model, act, steps, every, episodes, eval_seed)


def _twm_bench_curve(seed: int, steps: int, every: int, episodes: int, eval_seed: int) -> list[tuple[int, float]]:
    import torch

    from twm_agents.rl.agent import policy_action
    from twm_agents.rl.spaces import flat_bounds, unit_observation
    from twm_agents.rl.train import RLConfig, build_model, make_vec_env

    config = RLConfig(envs=(ENV_ID,), timesteps=steps, seed=seed)
    torch.manual_seed(seed)
    model = build_model(config, make_vec_env(config))
    bounds = flat_bounds(gym.make(ENV_ID).observation_space)

    def act(obs: dict[str, Any]) -> np.ndarray:
        x = np.stack([unit_observation({k: v[i] for k, v in obs.items()}, *bounds) for i in range(episodes)])
        with torch.inference_mode():
            return policy_action(model.policy, "ppo", torch.as_tensor(x))

    return _learn_in_chunks(model, act, steps, every, episodes, eval_seed)


def _cleanrl_curve(seed: int, steps: int, every: int, episodes: int, eval_seed: int) -> list[tuple[int, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "eval.csv"
        cmd = [sys.executable, str(ROOT / "examples" / "cleanrl_ppo_continuous.py"), "--seed", str(seed)]
        cmd += ["--total-timesteps", str(steps), "--eval-every", str(every), "--eval-episodes", str(episodes)]
        cmd += ["--eval-seed", str(eval_seed), "--eval-csv", str(out)]
        subprocess.run(cmd, check=True, capture_output=True)
        with out.open() as f:
            return [(int(r["step"]), float(r["mean_return"])) for r in csv.DictReader(f)]


def run_one(job: tuple[str, int, int, int, int, int]) -> tuple[str, int, list[tuple[int, float]], float]:
    import torch

    torch.set_num_threads(1)  # small networks; more threads on a busy 2-core machine only slow them
    trainer, seed, steps, every, episodes, eval_seed = job
    fn = {"sb3-ppo-defaults": _sb3_curve, "cleanrl-style": _cleanrl_curve, "twm-bench-ppo": _twm_bench_curve}[trainer]
    start = time.perf_counter()
    rows = fn(seed, steps, every, episodes, eval_seed)
    return trainer, seed, rows, time.perf_counter() - start


def figure(curves: dict[str, dict[int, list[tuple[int, float]]]], refs: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 4.2), dpi=110)
    ax = fig.add_subplot()
    for (trainer, by_seed), colour in zip(curves.items(), ("tab:blue", "tab:orange", "tab:green"), strict=False):
        for k, rows in enumerate(by_seed.values()):
            x, y = zip(*rows, strict=True)
            ax.plot(x, y, color=colour, alpha=0.85, lw=1.4, label=trainer if k == 0 else None)
    for (name, value), style in zip(refs.items(), ("--", ":", "-."), strict=True):
        ax.axhline(value, color="black", ls=style, lw=1, label=f"{name} ({value:.2f})")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("mean episode return (256 evaluation episodes)")
    ax.set_title(f"{ENV_ID}: mean-action return during training, one line per seed", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def read_csv(path: Path) -> tuple[dict[str, dict[int, list[tuple[int, float]]]], dict[str, float]]:
    """The curves and the reference lines of a CSV written by this script."""
    curves: dict[str, dict[int, list[tuple[int, float]]]] = {}
    refs: dict[str, float] = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            if row["seed"]:
                by_seed = curves.setdefault(row["trainer"], {})
                by_seed.setdefault(int(row["seed"]), []).append((int(row["step"]), float(row["mean_return"])))
            else:
                refs[row["trainer"]] = float(row["mean_return"])
    return curves, refs


def table(curves: dict[str, dict[int, list[tuple[int, float]]]], refs: dict[str, float]) -> str:
    """Markdown: each trainer's last evaluation per seed and how many seeds beat the uniform allocation."""
    seeds = sorted({s for by_seed in curves.values() for s in by_seed})
    lines = [
        f"| trainer | env steps | {' | '.join(f'seed {s}' for s in seeds)} | beats uniform ({refs['uniform']:+.2f}) |",
        f"|---|---|{'---|' * len(seeds)}---|",
    ]
    for trainer, by_seed in curves.items():
        finals = [by_seed[s][-1] for s in seeds]
        wins = sum(r > refs["uniform"] for _, r in finals)
        steps = max(step for step, _ in finals)
        lines.append(
            f"| {trainer} | {steps:,} | {' | '.join(f'{r:+.2f}' for _, r in finals)} | {wins} of {len(seeds)} |"
        )
    refs_text = ", ".join(f"{k} {v:+.2f}" for k, v in refs.items())
    return (
        "\n".join(lines) + f"\n\nMean return of the mean action on the evaluation episodes; references: {refs_text}.\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trainers", nargs="+", default=list(TRAINERS), choices=TRAINERS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--eval-every", type=int, default=20_000)
    parser.add_argument("--episodes", type=int, default=256)
    parser.add_argument("--eval-seed", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/learning_curves.csv"))
    parser.add_argument("--figure", type=Path, default=Path("results/learning_curves.png"))
    parser.add_argument("--table", type=Path, default=None, help="print the table of this CSV and exit")
    args = parser.parse_args()
    if args.table is not None:
        print(table(*read_csv(args.table)), end="")
        return
    jobs = [
        (t, s, args.steps, args.eval_every, args.episodes, args.eval_seed) for t in args.trainers for s in args.seeds
    ]
    refs = references(args.episodes, args.eval_seed)
    curves: dict[str, dict[int, list[tuple[int, float]]]] = {t: {} for t in args.trainers}
    with ProcessPoolExecutor(args.workers) as pool:
        for trainer, seed, rows, seconds in pool.map(run_one, jobs):
            curves[trainer][seed] = rows
            print(
                f"{trainer:<18} seed {seed}: final {rows[-1][1]:+.3f} at {rows[-1][0]} steps ({seconds:.0f} s)",
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trainer", "seed", "step", "mean_return"])
        for trainer, by_seed in curves.items():
            for seed, rows in by_seed.items():
                w.writerows([trainer, seed, s, f"{r:.4f}"] for s, r in rows)
        for name, value in refs.items():
            w.writerow([name, "", "", f"{value:.4f}"])
    figure(curves, refs, args.figure)
    print()
    print(table(curves, refs))
    print(f"wrote {args.out} and {args.figure}")


if __name__ == "__main__":
    main()
