"""Learned RL baselines: Stable-Baselines3 training on the TWM envs, pickle-free policy checkpoints,
shared-parameter multi-agent PPO on the PettingZoo env, and the harness agents that play them.

``twm-bench train ppo|sac|ippo`` trains (``agents/twm_agents/rl/train.py``, ``agents/twm_agents/rl/marl.py``);
``ppo`` / ``ippo`` are the shipped policies and ``sb3:PATH`` / ``ippo:PATH`` any other
(``agents/twm_agents/rl/agent.py``). Recipes and measured scores: ``docs/how-to/train-rl-agents.md``.
"""

from twm_agents.rl.agent import PPOAgent, SB3Agent
from twm_agents.rl.marl import IPPOAgent
from twm_agents.rl.train import RLConfig, train

__all__ = ["IPPOAgent", "PPOAgent", "RLConfig", "SB3Agent", "train"]
