"""FWM checkpoints: ``agents/twm_agents/checkpoint_io.py`` with the FWM's format, layout and city check.

Besides the generic checks (format, weights digest, layout), an FWM checkpoint records a digest
of the city geometry it was trained on; loading it for a scenario of another city fails.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from twm_agents import checkpoint_io
from twm_agents.checkpoint_io import CheckpointError, paths
from twm_agents.fwm.fields import CHANNELS, FEATURES, FieldGeometry

FORMAT = "twm-gym/fwm/1"

__all__ = ["FORMAT", "CheckpointError", "geometry_digest", "load", "paths", "save"]


def layout() -> dict[str, list[str]]:
    return {"channels": list(CHANNELS), "features": list(FEATURES)}


def geometry_digest(geom: FieldGeometry) -> str:
    """SHA-256 of what the model assumes about the city (grid, serving cells, static channels, links)."""
    h = hashlib.sha256()
    for arr in (geom.serve.astype(np.int64), geom.static, geom.link_pixels):
        h.update(str(arr.shape).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def save(
    path: str | Path, state: dict[str, torch.Tensor], calibration: dict[str, np.ndarray], meta: dict[str, Any]
) -> tuple[Path, Path]:
    return checkpoint_io.save(path, FORMAT, layout(), state, calibration, meta)


def load(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray], dict[str, Any]]:
    return checkpoint_io.load(path, FORMAT, layout())
