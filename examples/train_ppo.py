"""Train Stable-Baselines3 PPO on TWM/Slicing-v0 and compare it with the random policy.

    python examples/train_ppo.py [--timesteps 20000] [--scenario hotspot-id] [--seed 0]

Prints the mean episode return of the trained (deterministic) policy, of uniformly random actions
and of the uniform 1/3 allocation over the same evaluation seeds. The return is the env's default
reward summed over the 12 steps (per step: SCM - 0.5 cost - 1[SLA violated]).

The policy acts in [-1, 1] (Gymnasium's ``RescaleAction`` maps that onto the env's [0, 1] shares),
as SB3 recommends: a fresh Gaussian policy then starts near shares of 1/2, not at the clip edge 0.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import RescaleAction
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


def train_and_compare(timesteps: int, scenario: str = "hotspot-id", seed: int = 0) -> tuple[float, float, float]:
    """(PPO, random, uniform) mean returns on 16 evaluation seeds after ``timesteps`` of training."""
    vec = make_vec_env(
        "TWM/Slicing-v0",
        n_envs=8,
        seed=seed,
        env_kwargs={"scenario": scenario},
        wrapper_class=RescaleAction,
        wrapper_kwargs={"min_action": np.float32(-1.0), "max_action": np.float32(1.0)},
    )
    model = PPO("MultiInputPolicy", vec, n_steps=96, batch_size=192, seed=seed, verbose=0)
    model.learn(total_timesteps=timesteps)
    env = gym.make("TWM/Slicing-v0", scenario=scenario)
    seeds = list(range(10_000, 10_016))
    trained = mean_return(
        RescaleAction(env, np.float32(-1.0), np.float32(1.0)),
        lambda obs: model.predict(obs, deterministic=True)[0],
        seeds,
    )
    rng = np.random.default_rng(seed)
    random = mean_return(env, lambda obs: rng.random(env.action_space.shape, dtype=np.float32), seeds)
    third = np.full(env.action_space.shape, 1 / 3, dtype=np.float32)
    uniform = mean_return(env, lambda obs: third, seeds)
    return trained, random, uniform


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=20_000)
    parser.add_argument("--scenario", default="hotspot-id")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    trained, random, uniform = train_and_compare(args.timesteps, args.scenario, args.seed)
    print(f"mean return over 16 seeds: PPO {trained:.2f}  random {random:.2f}  uniform 1/3 {uniform:.2f}")


if __name__ == "__main__":
    main()
