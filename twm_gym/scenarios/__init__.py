"""Scenarios: the paper's 10-cell city under four shock regimes, a tiny test city, and the generated
train and test splits (:mod:`twm_gym.scenarios.splits`; :mod:`twm_gym.scenarios.generator`)."""

from twm_gym.scenarios.registry import ScenarioError, list_scenarios, load_scenario, scenario_from_dict

__all__ = ["ScenarioError", "list_scenarios", "load_scenario", "scenario_from_dict"]
