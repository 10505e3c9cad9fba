"""Train Stable-Baselines3 PPO on TWM/Slicing-v0 and compare it with the random policy.

    python examples/train_ppo.py [--timesteps 20000] [--scenario hotspot-id] [--seed 0]

Prints the mean episode return of the trained (deterministic) policy and of uniformly random
actions over the same evaluation seeds. The return is the env's default reward summed over the
12 steps: minus the control cost, minus 1 for every step that violates an SLA.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import twm_gym  # noqa: F401 - registers TWM/*


def mean_return(env: gym.Env, act, seeds: list[int]) -> float:
    """Mean episode return of ``act(obs) -> action`` over one episode per seed."""
    totals = []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            done = terminated or truncated
        totals.append(total)
    return float(np.mean(totals))


def train_and_compare(timesteps: int, scenario: str = "hotspot-id", seed: int = 0) -> tuple[float, float]:
    """(PPO mean return, random mean return) on 16 evaluation seeds after ``timesteps`` of training."""
    vec = make_vec_env("TWM/Slicing-v0", n_envs=8, seed=seed, env_kwargs={"scenario": scenario})
    model = PPO("MultiInputPolicy", vec, n_steps=96, batch_size=192, learning_rate=1e-3, seed=seed, verbose=0)
    model.learn(total_timesteps=timesteps)
    env = gym.make("TWM/Slicing-v0", scenario=scenario)
    seeds = list(range(10_000, 10_016))
    trained = mean_return(env, lambda obs: model.predict(obs, deterministic=True)[0], seeds)
    rng = np.random.default_rng(seed)
    random = mean_return(env, lambda obs: rng.random(env.action_space.shape, dtype=np.float32), seeds)
    return trained, random


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=20_000)
    parser.add_argument("--scenario", default="hotspot-id")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    trained, random = train_and_compare(args.timesteps, args.scenario, args.seed)
    print(f"mean return over 16 seeds: PPO {trained:.2f}  random {random:.2f}")


if __name__ == "__main__":
    main()
