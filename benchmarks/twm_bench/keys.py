"""Evaluation keys: what turns a run's public episode numbers into exogenous worlds and agent generators.

A run names its episodes by small public integers (the spec's ``seeds``). The key maps each one to
the episode's exogenous seed (the world the agent is scored in) and to the agent's own generator:

* the **public key** (open runs, the default) uses fixed, published mappings. Anyone can replay
  any episode of a published table, and so can an agent that finds out which episode it plays
  (from its generator's state, say): open runs measure agents that do not try.
* a **secret key** (sealed runs, ``twm-bench run --sealed``) is 32 random bytes, and both mappings
  are keyed BLAKE2b hashes of it. Without the key, neither the episode's exogenous seed nor any
  other episode's can be computed, whatever the agent learns of its generator. A sealed run keeps
  its key in the results folder (``.twm-bench.key``, owner-only) so that a rerun resumes it; each
  record carries the key's id (a hash of it), so publishing the key after the run lets anyone
  reproduce and check every record (``--key-file``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from twm_bench.spec import SpecError
from twm_gym.core.rng import domain_seeds

EVAL_SEED_DOMAIN = 0x65766131
KEY_FILE = ".twm-bench.key"
PUBLIC_KEY_ID = "public"
KEY_BYTES = 32


class KeyFileError(SpecError):
    """A key that cannot be used (wrong size, unreadable)."""


@dataclass(frozen=True)
class EvaluationKey:
    """The public key (``secret=None``) or a 32-byte secret one; see the module docstring."""

    secret: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.secret is not None and len(self.secret) != KEY_BYTES:
            raise KeyFileError(f"key: need {KEY_BYTES} bytes, got {len(self.secret)}")

    @property
    def sealed(self) -> bool:
        return self.secret is not None

    @property
    def id(self) -> str:
        """``"public"``, or 16 hex digits that identify a secret key without revealing it."""
        if self.secret is None:
            return PUBLIC_KEY_ID
        return hashlib.blake2b(self.secret, digest_size=8, person=b"twm-key-id").hexdigest()

    def _hash(self, *parts: object, size: int = 8) -> int:
        assert self.secret is not None
        data = "|".join(str(p) for p in parts).encode()
        return int.from_bytes(hashlib.blake2b(data, key=self.secret, digest_size=size).digest(), "little")

    def exo_seed(self, scenario_name: str, seed: int) -> int:
        """The exogenous seed of episode ``seed`` of ``scenario_name``, in ``[0, 2**62)``."""
        if self.secret is None:
            domain = EVAL_SEED_DOMAIN ^ zlib.crc32(scenario_name.encode())
            return int(domain_seeds([seed], domain)[0])
        return self._hash("exo", scenario_name, seed) >> 2

    def agent_generator(self, agent_seed: int, scenario_name: str, seed: int | None) -> np.random.Generator:
        """The agent's generator for episode ``seed`` of ``scenario_name`` (``None``: for ``prepare``).

        Common to every agent in the same episode (whatever its name and history), so that two
        configurations differ by their decisions, not by their draws.
        """
        episode = [0, 0] if seed is None else [1, seed]
        if self.secret is None:
            return np.random.default_rng([agent_seed, zlib.crc32(scenario_name.encode()), *episode])
        return np.random.default_rng(self._hash("agent", agent_seed, scenario_name, *episode, size=16))

    @classmethod
    def generate(cls) -> EvaluationKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def load(cls, path: str | Path) -> EvaluationKey:
        """The key stored at ``path`` (64 hex digits)."""
        try:
            text = Path(path).read_text().strip()
            return cls(bytes.fromhex(text))
        except (OSError, ValueError) as exc:
            raise KeyFileError(f"--key-file {path}: not a readable key of {2 * KEY_BYTES} hex digits ({exc})") from None

    def save(self, path: str | Path) -> None:
        """Write the key to ``path``, readable by its owner alone; never overwrites a file."""
        assert self.secret is not None
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.secret.hex() + "\n")

    @classmethod
    def for_folder(cls, out_dir: str | Path) -> EvaluationKey:
        """A sealed run's key: the results folder's own, made on its first sealed run."""
        path = Path(out_dir) / KEY_FILE
        if path.exists():
            return cls.load(path)
        key = cls.generate()
        key.save(path)
        return key


PUBLIC = EvaluationKey()
