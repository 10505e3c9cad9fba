"""Train RLlib's PPO on a TWM env: the path for users who outgrow one machine.

    python3 -m venv .venv-rllib && . .venv-rllib/bin/activate
    pip install -c constraints.txt -e ".[rllib]"     # Ray 2.60's rllib pins gymnasium 1.2: its own env
    python examples/train_rllib.py --iterations 2 --env-runners 1            # tiny, local
    python examples/train_rllib.py --address auto --env-runners 32 --iterations 200   # a cluster

The env is the same ``TWM/*`` id with the same learning wrappers as ``twm-bench train``
(``agents/twm_agents/rl/spaces.py``: unit observations, [-1, 1] actions), registered with RLlib by a creator
that imports ``twm_gym`` inside each EnvRunner process. Each iteration samples
``--batch`` env steps across the EnvRunners and runs PPO's epochs on the Learner; the script
prints the mean episode return per iteration and writes an RLlib checkpoint directory (RLlib's
own format: restore it with ``Algorithm.from_checkpoint``; the harness scores SB3 checkpoints).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def make_env(env_config: dict[str, Any]) -> Any:
    """RLlib env creator: runs in every EnvRunner process, so the imports live here."""
    import gymnasium as gym

    import twm_gym  # noqa: F401 - registers TWM/*
    from twm_agents.rl.spaces import wrap_for_learning

    return wrap_for_learning(gym.make(env_config.get("env_id", "TWM/Slicing-HotspotID-v0")))


def main() -> None:
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.tune.registry import register_env

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="TWM/Slicing-HotspotID-v0", help="a TWM/Slicing-* id")
    parser.add_argument("--iterations", type=int, default=2, help="training iterations (default 2)")
    parser.add_argument("--env-runners", type=int, default=1, help="EnvRunner actors (default 1)")
    parser.add_argument("--batch", type=int, default=1536, help="env steps per iteration (default 1536)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    parser.add_argument("--out", default="runs/rllib_ppo", help="checkpoint directory (default runs/rllib_ppo)")
    args = parser.parse_args()
    if args.iterations < 1 or args.env_runners < 0 or args.batch < 12:
        parser.error("--iterations >= 1, --env-runners >= 0 and --batch >= 12 (one episode) are required")

    if args.address:
        ray.init(address=args.address)
    else:  # a small local Ray: no dashboard, loopback only
        ray.init(num_cpus=max(2, args.env_runners + 1), include_dashboard=False)
    register_env("twm-slicing", make_env)
    config = (
        PPOConfig()
        .environment("twm-slicing", env_config={"env_id": args.env})
        .env_runners(num_env_runners=args.env_runners, num_envs_per_env_runner=4)
        .training(
            train_batch_size_per_learner=args.batch,
            minibatch_size=min(256, args.batch),
            num_epochs=5,
            gamma=0.95,
            lr=3e-4,
        )
        .rl_module(model_config={"fcnet_hiddens": [64, 64]})
        .debugging(seed=args.seed)
    )
    algo = config.build_algo()
    try:
        for i in range(args.iterations):
            result = algo.train()
            runners = result.get("env_runners", {})
            steps = runners.get("num_env_steps_sampled_lifetime", "?")
            ret = runners.get("episode_return_mean", float("nan"))
            print(f"iteration {i + 1}: {steps} env steps, mean episode return {ret:.3f}", flush=True)
        saved = algo.save(str(Path(args.out).resolve()))
        print(f"checkpoint: {getattr(saved, 'checkpoint', saved)}")
    finally:
        algo.stop()
        ray.shutdown()


if __name__ == "__main__":
    main()
