"""World-model checkpoints: weights and calibration arrays in safetensors, everything else in JSON.

``NAME.safetensors`` holds a model's ``state_dict`` and its calibration arrays (keys ``cal_*``);
``NAME.json`` holds the format tag, the layout (the names of inputs and outputs the weights were
trained for), the model shape, the training config, the training data's digest, the metrics, and
the SHA-256 of the weights file. Loading reads no pickle: it checks the format, the weights'
digest (a tampered or swapped file fails) and the layout, raising :class:`CheckpointError` with
the reason. The FWM (``agents/twm_agents/fwm``) and the CDWM (``agents/twm_agents/cdwm``) both use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

_CAL_PREFIX = "cal_"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, tampered, or made for another layout or city."""


@contextlib.contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """Within the block, any failure to make sense of checkpoint ``path`` becomes a :class:`CheckpointError`.

    Model loaders build from the checkpoint's JSON and tensors; a file with a consistent digest can
    still hold a missing key, a wrong type or a tensor of the wrong shape.
    """
    try:
        yield
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: unusable checkpoint ({type(exc).__name__}: {exc})") from exc


def check_finite(tensors: dict[str, torch.Tensor], where: str) -> None:
    """``CheckpointError`` naming the first floating-point tensor with a NaN or infinite entry."""
    for key, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{where}: tensor {key!r} has non-finite values (NaN or inf)")


def paths(path: str | Path) -> tuple[Path, Path]:
    """``(weights, metadata)`` file paths of checkpoint ``path`` (with or without a suffix)."""
    base = Path(path)
    if base.suffix in (".safetensors", ".json"):
        base = base.with_suffix("")
    return base.with_suffix(".safetensors"), base.with_suffix(".json")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; a checkpoint is shared data
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(
    path: str | Path,
    fmt: str,
    layout: dict[str, list[str]],
    state: dict[str, torch.Tensor],
    calibration: dict[str, np.ndarray],
    meta: dict[str, Any],
) -> tuple[Path, Path]:
    """Write ``state`` and ``calibration`` to safetensors and ``meta`` (plus digests) to JSON, atomically."""
    if any(not k.startswith(_CAL_PREFIX) for k in calibration):
        raise ValueError(f"calibration array names must start with {_CAL_PREFIX!r}")
    weights, meta_path = paths(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    tensors.update({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in calibration.items()})
    check_finite(tensors, f"{weights} (not written)")  # a diverged training run is not a checkpoint
    _atomic_write(weights, lambda tmp: save_file(tensors, tmp, metadata={"format": fmt}))
    record = {
        "format": fmt,
        **layout,
        **meta,
        "weights_sha256": _sha256(weights),
    }
    _atomic_write(meta_path, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n"))
    return weights, meta_path


def load(
    path: str | Path, fmt: str, layout: dict[str, list[str]]
) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray], dict[str, Any]]:
    """``(state, calibration, meta)`` of a checkpoint, verified; raises :class:`CheckpointError`."""
    weights, meta_path = paths(path)
    for p in (weights, meta_path):
        if not p.is_file():
            raise CheckpointError(f"checkpoint file {p} does not exist")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{meta_path}: not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise CheckpointError(f"{meta_path}: top level is a {type(meta).__name__}, expected an object")
    if meta.get("format") != fmt:
        raise CheckpointError(f"{meta_path}: format {meta.get('format')!r}, expected {fmt!r}")
    digest = _sha256(weights)
    if digest != meta.get("weights_sha256"):
        raise CheckpointError(
            f"{weights}: SHA-256 {digest[:12]}... does not match the metadata's "
            f"{str(meta.get('weights_sha256'))[:12]}... (the weights were modified or belong to another checkpoint)"
        )
    for key, expected in layout.items():
        if meta.get(key) != expected:
            raise CheckpointError(
                f"{meta_path}: {key} {meta.get(key)} do not match this version's {expected}; retrain with "
                "`twm-bench train`"
            )
    try:
        tensors = load_file(weights)
    except Exception as exc:  # safetensors raises its own error type for a corrupt file
        raise CheckpointError(f"{weights}: not a readable safetensors file ({type(exc).__name__}: {exc})") from exc
    check_finite(tensors, str(weights))
    calibration = {k: v.numpy() for k, v in tensors.items() if k.startswith(_CAL_PREFIX)}
    state = {k: v for k, v in tensors.items() if not k.startswith(_CAL_PREFIX)}
    return state, calibration, meta
