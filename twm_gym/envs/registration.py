"""Gymnasium ids under the ``TWM/`` namespace, registered by string entry point on ``import twm_gym``.

Gymnasium 1.x has no plugin entry-point group any more (it was removed in 1.0), so the ids exist
once ``twm_gym`` is imported; ``gym.make("twm_gym:TWM/Slicing-v0")`` imports it for you. The
``vector_entry_point`` (``gym.make_vec``'s batched core) is registered on Gymnasium >= 1.1 only:
older releases have neither ``make_vec`` nor the autoreset modes it implements.
"""

from __future__ import annotations

import gymnasium as gym

SCENARIO_IDS = {
    "hotspot-id": "TWM/Slicing-HotspotID-v0",
    "hotspot-ood": "TWM/Slicing-HotspotOOD-v0",
    "wave-id": "TWM/Slicing-WaveID-v0",
    "wave-ood": "TWM/Slicing-WaveOOD-v0",
    "tiny": "TWM/Slicing-Tiny-v0",
}
"""One id per registered scenario, each fixing ``scenario=``."""

_ENV = "twm_gym.envs.slicing:SlicingEnv"
_VEC = "twm_gym.envs.vector:SlicingVectorEnv"


def has_vector_api() -> bool:
    """Gymnasium >= 1.1: ``gym.make_vec`` with autoreset modes (what the vector env implements)."""
    import gymnasium.vector

    return hasattr(gymnasium.vector, "AutoresetMode")


def register_envs() -> list[str]:
    """Register every ``TWM/*`` id (idempotent); returns the ids."""
    ids = ["TWM/Slicing-v0", *SCENARIO_IDS.values(), "TWM/Field-v0"]
    if ids[0] in gym.registry:
        return ids
    vec = _VEC if has_vector_api() else None
    gym.register(id="TWM/Slicing-v0", entry_point=_ENV, vector_entry_point=vec, kwargs={"scenario": "hotspot-id"})
    for scenario, env_id in SCENARIO_IDS.items():
        gym.register(id=env_id, entry_point=_ENV, vector_entry_point=vec, kwargs={"scenario": scenario})
    gym.register(id="TWM/Field-v0", entry_point="twm_gym.envs.field:FieldEnv", kwargs={"scenario": "hotspot-id"})
    return ids
