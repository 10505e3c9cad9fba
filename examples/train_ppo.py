"""Train Stable-Baselines3 PPO, default hyperparameters, on TWM/Slicing-v0, and say what training adds.

    python examples/train_ppo.py [--timesteps 100000] [--scenario hotspot-id] [--seed 0]

Prints the mean episode return, over the same 256 evaluation episodes, of the uniform 1/3
allocation, of uniformly random actions, of the policy before training and of the policy after
``--timesteps`` env steps (both deterministic: the Gaussian's mean). The return is the env's
default reward summed over the 12 steps (per step: SCM - 0.5 cost - 1[SLA violated]).

The env acts in its default relative form (entry ``a`` asks for the share ``2**a / 3``): the zero
action is the uniform allocation, so an untrained policy, whose mean action is near 0, already
plays about as well as uniform. What training adds is the difference between the last two lines.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO

import twm_gym  # noqa: F401 - registers TWM/*

EPISODES, EVAL_SEED = 256, 10_000


def mean_return(scenario: str, act: Callable[[dict[str, Any]], np.ndarray]) -> float:
    """Mean return of ``act`` (batched observations -> actions) over the evaluation episodes."""
    env = gym.make_vec("TWM/Slicing-v0", num_envs=EPISODES, scenario=scenario)
    obs, _ = env.reset(seed=EVAL_SEED)
    total = np.zeros(EPISODES)
    for _ in range(env.unwrapped.scenario.horizon):
        obs, reward, _term, _trunc, _info = env.step(act(obs))
        total += reward
    return float(total.mean())


def train_and_compare(timesteps: int, scenario: str = "hotspot-id", seed: int = 0) -> dict[str, float]:
    """Mean returns of uniform, random, the untrained and the trained policy."""
    torch.set_num_threads(1)  # a small MLP: one thread is fastest on a busy 2-core machine
    model = PPO("MultiInputPolicy", gym.make("TWM/Slicing-v0", scenario=scenario), seed=seed, device="cpu")
    n = model.action_space.shape[0]
    rng = np.random.default_rng(seed)

    def policy(obs: dict[str, Any]) -> np.ndarray:
        return model.predict(obs, deterministic=True)[0]

    out = {
        "uniform 1/3": mean_return(scenario, lambda obs: np.zeros((EPISODES, n), np.float32)),
        "random": mean_return(scenario, lambda obs: rng.uniform(-1, 1, (EPISODES, n)).astype(np.float32)),
        "PPO untrained": mean_return(scenario, policy),
    }
    model.learn(total_timesteps=timesteps)  # SB3 collects whole rollouts of 2048 steps
    out[f"PPO after {model.num_timesteps} steps"] = mean_return(scenario, policy)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=100_000)
    parser.add_argument("--scenario", default="hotspot-id")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    returns = train_and_compare(args.timesteps, args.scenario, args.seed)
    print(f"mean return over {EPISODES} evaluation episodes ({args.scenario}):")
    for name, value in returns.items():
        print(f"  {name:<24} {value:+.2f}")
    trained, untrained = list(returns.values())[-1], returns["PPO untrained"]
    gain, over_uniform = trained - untrained, trained - returns["uniform 1/3"]
    print(f"training adds {gain:+.2f} to the untrained policy and ends {over_uniform:+.2f} from uniform")


if __name__ == "__main__":
    main()
