"""PPO for continuous actions on ``TWM/Slicing-v0``, in one file, in the style of CleanRL.

    python examples/cleanrl_ppo_continuous.py --total-timesteps 100000 --seed 1

Everything the run does is in this file: Gymnasium's vector env of the twin (one batched core
call for all ``--num-envs`` episodes; Gymnasium's next-step autoreset, so the step after an
episode's end is a reset whose sample is masked out of the update), Gymnasium's vector wrappers
(flatten, scale each observation entry onto [0, 1] by its bounds, episode statistics, action
clipping, reward normalization), a Gaussian actor and a critic, GAE and the clipped surrogate
objective. Every ``--eval-every`` steps the policy's mean action plays
``--eval-episodes`` fixed evaluation episodes (exogenous seeds drawn from ``--eval-seed``); their
mean undiscounted return (the env's reward) is printed and, with ``--eval-csv``, written as
``step,mean_return``. The env acts in its default relative form (``2**a / 3`` per share, so the
zero action is the uniform allocation).

Torch runs on ``--threads`` CPU threads (1 by default: the networks are small, and extra threads
on a busy 2-core machine slow the updates down).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from gymnasium.wrappers import vector as vw
from torch import nn
from torch.distributions.normal import Normal

import twm_gym  # noqa: F401 - registers the TWM/* ids


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env-id", default="TWM/Slicing-v0")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--total-timesteps", type=int, default=100_000)
    p.add_argument("--learning-rate", type=float, default=3e-4)
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--num-steps", type=int, default=96, help="steps per env per rollout (8 episodes of 12)")
    p.add_argument("--gamma", type=float, default=0.95)
    p.add_argument("--gae-lambda", type=float, default=0.95)
    p.add_argument("--num-minibatches", type=int, default=4)
    p.add_argument("--update-epochs", type=int, default=10)
    p.add_argument("--clip-coef", type=float, default=0.2)
    p.add_argument("--ent-coef", type=float, default=0.0)
    p.add_argument("--vf-coef", type=float, default=0.5)
    p.add_argument("--max-grad-norm", type=float, default=0.5)
    p.add_argument("--eval-every", type=int, default=10_000)
    p.add_argument("--eval-episodes", type=int, default=256)
    p.add_argument("--eval-seed", type=int, default=10_000)
    p.add_argument("--eval-csv", type=Path, default=None)
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args()


def unit_scaled(env: gym.vector.VectorEnv) -> gym.vector.VectorEnv:
    """Flatten the Dict observation and map every entry onto [0, 1] by its (finite) bounds."""
    env = vw.FlattenObservation(env)
    low, high = env.single_observation_space.low, env.single_observation_space.high
    space = gym.spaces.Box(0.0, 1.0, low.shape, np.float32)
    return vw.TransformObservation(
        env,
        lambda obs: np.clip((obs - low) / (high - low), 0.0, 1.0).astype(np.float32),
        gym.vector.utils.batch_space(space, env.num_envs),
    )


def make_envs(env_id: str, n: int, gamma: float) -> gym.vector.VectorEnv:
    env = unit_scaled(gym.make_vec(env_id, num_envs=n))
    env = vw.RecordEpisodeStatistics(env)
    env = vw.ClipAction(env)
    return vw.NormalizeReward(env, gamma=gamma)


def layer(n_in: int, n_out: int, std: float = np.sqrt(2)) -> nn.Linear:
    lin = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(lin.weight, std)
    nn.init.zeros_(lin.bias)
    return lin


class Agent(nn.Module):
    def __init__(self, n_obs: int, n_act: int) -> None:
        super().__init__()
        self.critic = nn.Sequential(layer(n_obs, 64), nn.Tanh(), layer(64, 64), nn.Tanh(), layer(64, 1, 1.0))
        self.actor_mean = nn.Sequential(layer(n_obs, 64), nn.Tanh(), layer(64, 64), nn.Tanh(), layer(64, n_act, 0.01))
        self.actor_logstd = nn.Parameter(torch.zeros(1, n_act))

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x)

    def act(
        self, x: torch.Tensor, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        mean = self.actor_mean(x)
        dist = Normal(mean, self.actor_logstd.expand_as(mean).exp())
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action).sum(1), dist.entropy().sum(1), self.critic(x)


def evaluate(agent: Agent, env_id: str, episodes: int, seed: int) -> float:
    """Mean undiscounted return of the policy's mean action over ``episodes`` fixed episodes."""
    env = unit_scaled(gym.make_vec(env_id, num_envs=episodes))
    obs, _ = env.reset(seed=seed)
    total = np.zeros(episodes)
    for _ in range(env.unwrapped.scenario.horizon):
        with torch.no_grad():
            mean = agent.actor_mean(torch.as_tensor(obs)).numpy()
        obs, reward, _term, _trunc, _info = env.step(np.clip(mean, -1.0, 1.0))
        total += reward
    env.close()
    return float(total.mean())


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    batch = args.num_envs * args.num_steps
    minibatch = batch // args.num_minibatches
    iterations = max(1, args.total_timesteps // batch)

    envs = make_envs(args.env_id, args.num_envs, args.gamma)
    n_obs, n_act = envs.single_observation_space.shape[0], envs.single_action_space.shape[0]
    agent = Agent(n_obs, n_act)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)

    obs_buf = torch.zeros((args.num_steps, args.num_envs, n_obs))
    act_buf = torch.zeros((args.num_steps, args.num_envs, n_act))
    logp_buf = torch.zeros((args.num_steps, args.num_envs))
    rew_buf = torch.zeros((args.num_steps, args.num_envs))
    done_buf = torch.zeros((args.num_steps, args.num_envs))
    val_buf = torch.zeros((args.num_steps, args.num_envs))
    # done_buf[t]: the episode ended on the step before t, so step t is the autoreset (no sample)

    rows = [(0, evaluate(agent, args.env_id, args.eval_episodes, args.eval_seed))]
    print(f"global_step=0, eval_return={rows[-1][1]:.3f}")
    start, step, next_eval = time.time(), 0, args.eval_every
    obs_np, _ = envs.reset(seed=args.seed)
    next_obs, next_done = torch.as_tensor(obs_np), torch.zeros(args.num_envs)
    for iteration in range(iterations):
        for group in optimizer.param_groups:  # linear learning-rate annealing
            group["lr"] = (1.0 - iteration / iterations) * args.learning_rate
        for t in range(args.num_steps):
            step += args.num_envs
            obs_buf[t], done_buf[t] = next_obs, next_done
            with torch.no_grad():
                action, logp, _, value = agent.act(next_obs)
            act_buf[t], logp_buf[t], val_buf[t] = action, logp, value.flatten()
            obs_np, reward, term, trunc, info = envs.step(action.numpy())
            rew_buf[t] = torch.as_tensor(reward, dtype=torch.float32)
            next_obs = torch.as_tensor(obs_np)
            next_done = torch.as_tensor(np.logical_or(term, trunc), dtype=torch.float32)
            if "episode" in info and t == args.num_steps - 1:
                ended = info["_episode"]
                print(f"global_step={step}, episodic_return={float(info['episode']['r'][ended].mean()):.3f}")

        with torch.no_grad():  # generalized advantage estimation
            next_value = agent.value(next_obs).flatten()
            adv = torch.zeros_like(rew_buf)
            gae = torch.zeros(args.num_envs)
            for t in reversed(range(args.num_steps)):
                if t == args.num_steps - 1:
                    not_done, value_next = 1.0 - next_done, next_value
                else:
                    not_done, value_next = 1.0 - done_buf[t + 1], val_buf[t + 1]
                delta = rew_buf[t] + args.gamma * value_next * not_done - val_buf[t]
                gae = delta + args.gamma * args.gae_lambda * not_done * gae
                adv[t] = gae
            ret = adv + val_buf

        b_obs, b_act = obs_buf.reshape(-1, n_obs), act_buf.reshape(-1, n_act)
        b_logp, b_adv, b_ret = logp_buf.reshape(-1), adv.reshape(-1), ret.reshape(-1)
        b_valid = 1.0 - done_buf.reshape(-1)
        for _epoch in range(args.update_epochs):
            for idx in torch.randperm(batch).split(minibatch):
                _, logp, entropy, value = agent.act(b_obs[idx], b_act[idx])
                w = b_valid[idx] / b_valid[idx].sum().clamp(min=1.0)  # weights of the real samples
                ratio = (logp - b_logp[idx]).exp()
                mean_adv = (w * b_adv[idx]).sum()
                std_adv = (w * (b_adv[idx] - mean_adv) ** 2).sum().sqrt()
                mb_adv = (b_adv[idx] - mean_adv) / (std_adv + 1e-8)
                pg = torch.max(-mb_adv * ratio, -mb_adv * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef))
                pg_loss = (w * pg).sum()
                v_loss = 0.5 * (w * (value.flatten() - b_ret[idx]) ** 2).sum()
                loss = pg_loss - args.ent_coef * (w * entropy).sum() + args.vf_coef * v_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

        if step >= next_eval or iteration == iterations - 1:
            rows.append((step, evaluate(agent, args.env_id, args.eval_episodes, args.eval_seed)))
            print(f"global_step={step}, eval_return={rows[-1][1]:.3f}, SPS={int(step / (time.time() - start))}")
            next_eval += args.eval_every
    envs.close()
    if args.eval_csv is not None:
        args.eval_csv.parent.mkdir(parents=True, exist_ok=True)
        args.eval_csv.write_text("step,mean_return\n" + "".join(f"{s},{r:.6f}\n" for s, r in rows))


if __name__ == "__main__":
    main()
