"""FWM checkpoints: ``agents/twm_agents/checkpoint_io.py`` with the FWM's format, layout and city check.

Besides the generic checks (format, weights digest, layout), an FWM checkpoint records a digest
of the city geometry it was trained on; loading it for a scenario of another city fails.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from twm_agents import checkpoint_io
from twm_agents.checkpoint_io import CheckpointError, paths
from twm_agents.fwm.fields import FEATURES, FieldGeometry, channels

FORMAT = "twm-gym/fwm/1"

__all__ = ["FORMAT", "CheckpointError", "geometry_digest", "load", "paths", "save"]


def layout(cells: str = "fixed") -> dict[str, list[str]]:
    return {"channels": list(channels(cells)), "features": list(FEATURES)}


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
    cells = meta.get("shape", {}).get("cells", "fixed")
    return checkpoint_io.save(path, FORMAT, layout(cells), state, calibration, meta)


def load(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray], dict[str, Any]]:
    """Verified weights, calibration and metadata; the expected channels follow the model's ``cells``."""
    return checkpoint_io.load(path, FORMAT, layout(_cells(path)))


def _cells(path: str | Path) -> str:
    """The ``shape.cells`` a checkpoint's metadata declares ("fixed" when unreadable: the full
    check in ``checkpoint_io.load`` then names what is wrong)."""
    try:
        shape = json.loads(paths(path)[1].read_text()).get("shape", {})
        cells = shape.get("cells", "fixed") if isinstance(shape, dict) else "fixed"
    except (OSError, ValueError, AttributeError):
        return "fixed"
    return cells if cells in ("fixed", "sets") else "fixed"
