"""Every way a checkpoint can be broken is a CheckpointError naming the file, even with a consistent digest;
non-finite weights are refused at load and at save."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from twm_agents import checkpoint_io
from twm_agents.cdwm.predictor import CDWMModel
from twm_agents.checkpoint_io import CheckpointError
from twm_agents.fwm.predictor import FieldModel
from twm_agents.rl.agent import DEFAULT_PPO
from twm_agents.rl.policy import load_policy

AGENTS = Path(__file__).resolve().parents[2] / "agents" / "twm_agents"
SHIPPED = {
    "ppo": (DEFAULT_PPO, load_policy),
    "fwm": (AGENTS / "fwm" / "checkpoints" / "default", FieldModel.load),
    "cdwm": (AGENTS / "cdwm" / "checkpoints" / "default", CDWMModel.load),
}


def _copy(tmp_path: Path, which: str) -> tuple[Path, Path, Path]:
    src, _ = SHIPPED[which]
    base = tmp_path / which
    shutil.copy(src.with_suffix(".safetensors"), base.with_suffix(".safetensors"))
    shutil.copy(src.with_suffix(".json"), base.with_suffix(".json"))
    return base, base.with_suffix(".safetensors"), base.with_suffix(".json")


def _consistent(weights: Path, meta_path: Path, meta: object | None = None) -> None:
    """Rewrite the metadata (or keep it) with the weights' true digest: the tampering goes unnoticed there."""
    data = json.loads(meta_path.read_text()) if meta is None else meta
    if isinstance(data, dict):
        data["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(data))


@pytest.mark.parametrize("which", list(SHIPPED))
def test_checkpoint__corrupt_weights_with_a_consistent_digest(tmp_path, which) -> None:
    base, weights, meta = _copy(tmp_path, which)
    data = bytearray(weights.read_bytes())
    data[8:40] = b"\xff" * 32  # the safetensors header
    weights.write_bytes(bytes(data))
    _consistent(weights, meta)
    with pytest.raises(CheckpointError, match=r"not a readable safetensors file"):
        SHIPPED[which][1](base)


@pytest.mark.parametrize("which", list(SHIPPED))
def test_checkpoint__nan_weights_with_a_consistent_digest_are_refused(tmp_path, which) -> None:
    base, weights, meta = _copy(tmp_path, which)
    tensors = load_file(weights)
    name = next(k for k, t in tensors.items() if t.is_floating_point() and not k.startswith("cal_"))
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    save_file(tensors, weights)
    _consistent(weights, meta)
    with pytest.raises(CheckpointError, match=rf"tensor '{name}' has non-finite values"):
        SHIPPED[which][1](base)


@pytest.mark.parametrize("which", list(SHIPPED))
@pytest.mark.parametrize("damage", ["list", "no-shape", "wrong-type"])
def test_checkpoint__broken_metadata_with_a_consistent_digest(tmp_path, which, damage) -> None:
    base, weights, meta = _copy(tmp_path, which)
    data = json.loads(meta.read_text())
    if damage == "list":
        data = [data]
    elif damage == "no-shape":
        for key in ("shape", "net_arch", "observation_size"):
            data.pop(key, None)
    else:
        for key in ("shape", "net_arch"):
            if key in data:
                data[key] = 7
    _consistent(weights, meta, data)
    with pytest.raises(CheckpointError, match=str(tmp_path)):
        SHIPPED[which][1](base)


def test_checkpoint__save_refuses_non_finite_weights(tmp_path) -> None:
    state = {"w": torch.tensor([1.0, float("inf")])}
    with pytest.raises(CheckpointError, match=r"tensor 'w' has non-finite values"):
        checkpoint_io.save(tmp_path / "m", "fmt", {}, state, {}, {})
    assert not (tmp_path / "m.safetensors").exists() and not (tmp_path / "m.json").exists()
