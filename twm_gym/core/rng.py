"""Counter-based random numbers: every draw is a pure function of ``(seed, step, index)``.

The twin evaluates many (policy, seed) pairs in one vectorized call. Drawing each rollout's noise
from a hash of its own seed and a counter (the idea behind Philox / JAX's ``threefry``) gives, with
no Python loop over batch members:

* common random numbers: the same seed sees the same exogenous draws whatever the policy;
* batch independence: a rollout's draws do not depend on which other rollouts share its batch;
* restartability: a rollout resumed at step ``t`` draws exactly what it would have drawn there.

The hash is SplitMix64's finalizer (Steele, Lea & Flood, 2014), which passes BigCrush on a counter.
Uniforms have 32-bit resolution; normals are exact quantiles on a 16-bit grid (see
:func:`normal_table`). Byte order is fixed by numpy's native little-endian view on x86/ARM.
"""

from __future__ import annotations

import functools
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_INV_2_32 = np.float32(1.0 / 2**32)


def _mix(z: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """SplitMix64 finalizer, in place on a fresh array (uint64 arithmetic wraps modulo 2**64)."""
    z ^= z >> np.uint64(30)
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    z ^= z >> np.uint64(31)
    return z


def seed_keys(seeds: NDArray[np.integer] | list[int]) -> NDArray[np.uint64]:
    """One 64-bit stream key per seed. Seeds must be non-negative integers below 2**63."""
    arr = np.asarray(seeds)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"seeds must be a 1-D array of integers, got shape {arr.shape} dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= 2**63):
        raise ValueError("seeds must lie in [0, 2**63)")
    return _mix(arr.astype(np.uint64) * _GOLDEN + _GOLDEN)


def _hash(keys: NDArray[np.uint64], steps: NDArray[np.uint64], n: int, counter0: int = 0) -> NDArray[np.uint64]:
    """``(T, B, n)`` 64-bit hashes of (key, step, counter0 .. counter0+n-1) for every step of ``steps (T,)``."""
    ctr = (steps[:, None] << np.uint64(32)) + np.arange(counter0, counter0 + n, dtype=np.uint64)[None, :]
    return _mix(keys[None, :, None] ^ _mix(ctr * _GOLDEN)[:, None, :])


def domain_seeds(seeds: NDArray[np.integer] | list[int], domain: int) -> NDArray[np.int64]:
    """Seeds mapped into an independent domain: ``hash(seed, domain)``, non-negative, below 2**62.

    The harness runs evaluation episodes in one domain and hands agents twins that map every
    seed into another, so no seed an agent can pass reproduces an evaluation episode's draws
    (finding one is a 62-bit preimage search).
    """
    keys = seed_keys(seeds)
    salt = _mix(np.array([domain], dtype=np.uint64) * _M1 + _M2)  # array arithmetic wraps silently
    mixed = _mix(_mix(keys + salt) ^ salt)
    return (mixed >> np.uint64(2)).astype(np.int64)


@functools.lru_cache(maxsize=1)
def normal_table() -> NDArray[np.float32]:
    """Standard-normal quantiles at the 2**16 bin midpoints: ``z = table[u16]`` is a normal draw.

    Exact inverse-CDF sampling on a 16-bit grid (tails truncated at about 4.3 sigma), so a normal
    costs a table look-up instead of Box-Muller's log, sqrt, cos and sin.
    """
    dist = NormalDist()
    return np.array([dist.inv_cdf((i + 0.5) / 2**16) for i in range(2**16)], dtype=np.float32)


def draw(
    keys: NDArray[np.uint64], step: int, n_uniform: int, n_index: int
) -> tuple[NDArray[np.float32], NDArray[np.uint16]]:
    """Step ``step``'s uniforms ``(B, n_uniform)`` and indices ``(B, n_index)``; see :func:`draw_steps`."""
    u, idx = draw_steps(keys, step, step + 1, n_uniform, n_index)
    return u[0], idx[0]


def draw_steps(
    keys: NDArray[np.uint64], t0: int, t1: int, n_uniform: int, n_index: int, counter0: int = 0
) -> tuple[NDArray[np.float32], NDArray[np.uint16]]:
    """Uniforms in (0, 1), ``(T, B, n_uniform)`` float32, and 16-bit indices, ``(T, B, n_index)``
    uint16, for the steps ``t0 <= t < t1`` (``T = t1 - t0``) in one vectorized pass.

    Each 64-bit hash yields two 32-bit uniforms or four 16-bit indices. An index turns into a
    standard normal with ``normal_table()[i]`` or into any other distribution through its own
    quantile table (the log-normal bursts of ``core/egw.py``). Row ``[t - t0, b]`` is the same
    whatever ``t0``, ``t1`` and the other keys: draws are a function of (key, step, index) only.
    Separate streams of the same step use disjoint counter ranges (``counter0``, below 2**32).
    """
    n_u_hash = (n_uniform + 1) // 2
    n_i_hash = (n_index + 3) // 4
    h = _hash(keys, np.arange(t0, t1, dtype=np.uint64), n_u_hash + n_i_hash, counter0)
    hu = h[..., :n_u_hash]
    lo = (hu & np.uint64(0xFFFFFFFF)).astype(np.float32)
    hi = (hu >> np.uint64(32)).astype(np.float32)
    uniforms = (np.concatenate([lo, hi], axis=-1)[..., :n_uniform] + np.float32(0.5)) * _INV_2_32
    # float32 rounding can reach 1.0 exactly; keep the open interval for thresholds.
    np.minimum(uniforms, np.float32(1.0 - 2**-24), out=uniforms)
    idx = np.ascontiguousarray(h[..., n_u_hash:]).view(np.uint16)[..., :n_index]
    return uniforms, idx
