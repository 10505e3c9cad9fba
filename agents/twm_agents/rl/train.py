"""``twm-bench train ppo|sac``: Stable-Baselines3 on any ``TWM/*`` id, checkpoints in safetensors.

One :class:`RLConfig` (a frozen dataclass, ``--set key=value`` on the command line) fixes a run:
the algorithm, the env ids (the vectorized envs cycle through them, so one policy can learn several
scenarios), seeds, the SB3 hyperparameters and the checkpoint cadence. Envs are wrapped by
:func:`twm_agents.rl.spaces.wrap_for_learning` (unit observations, [-1, 1] actions) and monitored.

Outputs, for ``--out runs/ppo``:

* ``runs/ppo.safetensors`` + ``runs/ppo.json``: the policy's weights and everything needed to
  rebuild it (algorithm, network shape, spaces, config, timesteps, training return), written
  atomically every ``checkpoint_every`` steps and at the end (an interrupted run keeps its last
  checkpoint). Loading reads no pickle (:func:`twm_agents.rl.policy.load_policy`).
* ``runs/ppo_logs/``: SB3's ``progress.csv`` and, when ``tensorboard`` is installed (the ``rl``
  extra), TensorBoard event files (``tensorboard --logdir runs/ppo_logs``).

SB3's own ``model.save`` zip (pickled objects inside) is never written or read: training is not
resumable from a checkpoint; the checkpoint is for scoring and fine-tuning the policy's weights.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from twm_agents.config import apply_overrides
from twm_agents.rl.policy import ALGOS, algo_class, save_policy
from twm_agents.rl.spaces import wrap_for_learning

Progress = Callable[[str], None] | None


@dataclass(frozen=True)
class RLConfig:
    """Everything that determines a trained policy (with the code version).

    Attributes:
        algo: ``"ppo"`` or ``"sac"``.
        envs: Gymnasium ids (``TWM/*`` or any env with a ``Dict`` observation of bounded ``Box``es
            and a ``Box`` action); env ``i`` of the vector is ``envs[i % len(envs)]``.
        n_envs: parallel envs (one process; the envs are fast next to the gradient steps).
        timesteps: env steps in all (all envs together).
        seed: seeds the envs' exogenous draws, the policy's initialization and its sampling.
        learning_rate, gamma: both algorithms (gamma per 60 s slow step; episodes are 12 steps).
        width, depth: the MLP's hidden layers (``depth`` layers of ``width`` units; PPO's policy and
            value nets, SAC's actor and critics).
        log_std_init: initial log standard deviation of the Gaussian policy (PPO: actions in
            [-1, 1]; -1 keeps early exploration near the uniform allocation, 0 clips often).
        n_steps, batch_size, n_epochs, gae_lambda, clip_range, ent_coef: PPO.
        buffer_size, learning_starts, tau, train_freq, gradient_steps: SAC.
        checkpoint_every: env steps between checkpoints (0: only at the end).
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        threads: torch CPU threads while training (1 by default: these networks are small, and
            two threads on a busy 2-core machine made SAC's updates 4x slower).
    """

    algo: str = "ppo"
    envs: tuple[str, ...] = ("TWM/Slicing-HotspotID-v0", "TWM/Slicing-WaveID-v0")
    n_envs: int = 8
    timesteps: int = 200_000
    seed: int = 0
    learning_rate: float = 3e-4
    gamma: float = 0.95
    width: int = 64
    depth: int = 2
    log_std_init: float = -1.0
    n_steps: int = 128
    batch_size: int = 256
    n_epochs: int = 10
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    buffer_size: int = 100_000
    learning_starts: int = 1_000
    tau: float = 0.005
    train_freq: int = 1
    gradient_steps: int = 1
    checkpoint_every: int = 20_000
    device: str = "cpu"
    threads: int = 1

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ValueError(f"RLConfig.algo {self.algo!r} is not one of {list(ALGOS)}")
        if not self.envs:
            raise ValueError("RLConfig.envs: at least one env id is needed")
        registered = set(gym.registry)
        for env_id in self.envs:
            if env_id not in registered:
                twm = sorted(k for k in registered if k.startswith("TWM/"))
                raise ValueError(f"RLConfig.envs: {env_id!r} is not a registered env id; TWM ids: {twm}")
        positive = (
            "n_envs",
            "timesteps",
            "width",
            "depth",
            "n_steps",
            "batch_size",
            "n_epochs",
            "buffer_size",
            "threads",
            "train_freq",
            "gradient_steps",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"RLConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("learning_starts", "checkpoint_every", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"RLConfig.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("learning_rate", "clip_range", "tau"):
            if not getattr(self, name) > 0:
                raise ValueError(f"RLConfig.{name} must be > 0, got {getattr(self, name)}")
        for name in ("gamma", "gae_lambda"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"RLConfig.{name} must be in (0, 1], got {getattr(self, name)}")
        if self.device not in ("cpu", "cuda", "auto"):
            raise ValueError(f"RLConfig.device {self.device!r} is not one of ['auto', 'cpu', 'cuda']")

    @classmethod
    def preset(cls, name: str) -> RLConfig:
        if name not in PRESETS:
            raise ValueError(f"unknown RL config {name!r}; choose one of {sorted(PRESETS)}")
        return PRESETS[name]

    def replace(self, overrides: dict[str, str]) -> RLConfig:
        return dataclasses.replace(self, **apply_overrides(self, overrides))

    @property
    def net_arch(self) -> list[int]:
        return [self.width] * self.depth


PRESETS: dict[str, RLConfig] = {
    "default": RLConfig(),
    "tiny": RLConfig(
        n_envs=2, timesteps=256, n_steps=64, batch_size=64, n_epochs=2, learning_starts=64, checkpoint_every=128
    ),
}
"""``default``: the shipped checkpoint's recipe; ``tiny``: seconds, for tests."""


def observation_keys(config: RLConfig) -> list[str]:
    """The ``Dict`` observation keys of ``config.envs``, checked: ``Dict`` observations, ``Box``
    actions, the same spaces for every id (one policy, one shape); else ``ValueError``."""
    probes = {env_id: gym.make(env_id) for env_id in config.envs}
    first_id, first = next(iter(probes.items()))
    for env_id, env in probes.items():
        if not isinstance(env.observation_space, gym.spaces.Dict):
            raise ValueError(f"RLConfig.envs: {env_id!r} has no Dict observation space ({env.observation_space})")
        if not isinstance(env.action_space, gym.spaces.Box):
            raise ValueError(
                f"RLConfig.envs: {env_id!r} acts in {env.action_space}, not a Box of shares; "
                "use a TWM/Slicing-* id (TWM/Field-v0 has no control)"
            )
        if env.observation_space != first.observation_space or env.action_space != first.action_space:
            raise ValueError(
                f"RLConfig.envs: {env_id!r} has other spaces than {first_id!r}; one policy needs one shape"
            )
    keys = list(first.observation_space.spaces)  # type: ignore[attr-defined]  # a Dict: checked above
    for env in probes.values():
        env.close()
    return keys


def action_mode_of(config: RLConfig) -> str:
    """How the envs of ``config`` read an action: ``"relative"`` or ``"shares"`` (``TWM/*`` ids; other
    envs with a [0, 1] ``Box``: ``"shares"``). Recorded in the checkpoint so that scoring maps the
    policy's output exactly as training did."""
    env = gym.make(config.envs[0])
    mode = str(getattr(env.unwrapped, "action_mode", "shares"))
    env.close()
    return mode


def make_vec_env(config: RLConfig) -> Any:
    """The training envs: ``n_envs`` learning-wrapped envs cycling through ``config.envs``, monitored."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

    def factory(env_id: str) -> Callable[[], gym.Env[Any, Any]]:
        return lambda: wrap_for_learning(gym.make(env_id))

    vec = DummyVecEnv([factory(config.envs[i % len(config.envs)]) for i in range(config.n_envs)])
    vec.seed(config.seed)
    return VecMonitor(vec)


def build_model(config: RLConfig, vec: Any, log_dir: Path | None = None) -> Any:
    """The SB3 model of ``config`` on ``vec`` (policy initialized from ``config.seed``)."""
    algo = algo_class(config.algo)
    common: dict[str, Any] = {
        "learning_rate": config.learning_rate,
        "gamma": config.gamma,
        "seed": config.seed,
        "device": config.device,
        "verbose": 0,
    }
    if config.algo == "ppo":
        kwargs = {
            "n_steps": config.n_steps,
            "batch_size": config.batch_size,
            "n_epochs": config.n_epochs,
            "gae_lambda": config.gae_lambda,
            "clip_range": config.clip_range,
            "ent_coef": config.ent_coef,
        }
        policy_kwargs: dict[str, Any] = {"net_arch": config.net_arch, "log_std_init": config.log_std_init}
    else:
        kwargs = {
            "buffer_size": config.buffer_size,
            "learning_starts": config.learning_starts,
            "batch_size": config.batch_size,
            "tau": config.tau,
            "train_freq": config.train_freq,
            "gradient_steps": config.gradient_steps,
        }
        policy_kwargs = {"net_arch": config.net_arch}
    model = algo("MlpPolicy", vec, policy_kwargs=policy_kwargs, **common, **kwargs)
    if log_dir is not None:
        from stable_baselines3.common.logger import configure

        formats = ["csv"] + (["tensorboard"] if importlib.util.find_spec("tensorboard") else [])
        model.set_logger(configure(str(log_dir), formats))
    return model


def checkpoint_callback(
    config: RLConfig, out: str | Path, keys: list[str], meta: Callable[[Any], dict[str, Any]], progress: Progress
) -> Any:
    """An SB3 callback that saves the policy every ``checkpoint_every`` steps and prints progress."""
    from stable_baselines3.common.callbacks import BaseCallback

    class Checkpoints(BaseCallback):  # type: ignore[misc]
        """Saves the policy every ``checkpoint_every`` steps and prints progress."""

        def __init__(self) -> None:
            super().__init__()
            self.last_save = 0
            self.last_print = 0
            self.start = time.perf_counter()

        def _on_step(self) -> bool:
            steps = self.num_timesteps
            if config.checkpoint_every and steps - self.last_save >= config.checkpoint_every:
                save_policy(self.model, out, config, keys, meta(self.model))
                self.last_save = steps
            if progress is not None and steps - self.last_print >= max(config.timesteps // 10, 1):
                self.last_print = steps
                ret = mean_episode_return(self.model)
                fps = steps / max(time.perf_counter() - self.start, 1e-9)
                progress(f"  {steps:>8} / {config.timesteps} steps  {fps:6.0f} steps/s  mean episode return {ret:.3f}")
            return True

    return Checkpoints()


def mean_episode_return(model: Any) -> float:
    """Mean return of the episodes in SB3's recent-episode buffer (NaN before the first ends)."""
    buffer = getattr(model, "ep_info_buffer", None) or []
    return float(np.mean([e["r"] for e in buffer])) if buffer else float("nan")


def train(config: RLConfig, out: str | Path, progress: Progress = print) -> dict[str, Any]:
    """Train the policy of ``config`` and write its checkpoint at ``out``; returns the JSON metadata."""
    with torch_threads(config.threads):
        return _train(config, out, progress)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads, then restore the previous setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train(config: RLConfig, out: str | Path, progress: Progress) -> dict[str, Any]:
    torch.manual_seed(config.seed)
    base = Path(out)
    log_dir = base.parent / f"{base.name}_logs"
    keys = observation_keys(config)
    vec = make_vec_env(config)
    model = build_model(config, vec, log_dir)
    start = time.perf_counter()

    action_mode = action_mode_of(config)

    def meta(m: Any) -> dict[str, Any]:
        return {
            "action_mode": action_mode,
            "timesteps": int(m.num_timesteps),
            "train_s": round(time.perf_counter() - start, 1),
            "train_mean_return": mean_episode_return(m),
        }

    if progress is not None:
        progress(f"training {config.algo} on {list(config.envs)} x {config.n_envs} envs for {config.timesteps} steps")
    model.learn(total_timesteps=config.timesteps, callback=checkpoint_callback(config, out, keys, meta, progress))
    record = save_policy(model, out, config, keys, meta(model))
    vec.close()
    model.logger.close()  # SB3 keeps progress.csv (and event files) open until its logger is closed
    if progress is not None:
        progress(
            f"wrote {base}.safetensors/.json after {record['timesteps']} steps in {record['train_s']} s "
            f"(mean episode return {record['train_mean_return']:.3f}); logs in {log_dir}"
        )
    return record
