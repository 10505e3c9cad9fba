"""Held-out evaluation: which generated scenarios are for training and tuning, and which for testing.

* ``train``: generated cities with the ``hotspot`` and ``wave`` families (ID and OOD). The only
  scenarios any agent may be trained or tuned on, and only on episodes below
  :data:`TEST_SEEDS_FROM`.
* ``test-seeds``: the ``train`` scenarios on episodes from :data:`TEST_SEEDS_FROM` on (held-out
  seeds of training families; no files of its own).
* ``test-families``: held-out event kinds and placements (``cell-hotspot``: surges at a site in no
  zone; ``outage``: a scheduled spoke failure and a degraded backup on top of hotspots;
  ``crowds``: several surge events drawn from the event language) on training cities.
* ``test-cities``: held-out cities (other seeds, sizes up to 200 cells) with the training families.
* ``paper``: the paper's four scenarios, test only.

The files live in ``twm_gym/scenarios/data/<split>/`` and load by name (``"train/<name>"``); they
are :mod:`~twm_gym.scenarios.generator` output, and ``write_splits`` writes them again
(a test checks that it gives the same bytes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from twm_gym.scenarios.generator import generate_city, generate_family
from twm_gym.scenarios.registry import ScenarioError

TEST_SEEDS_FROM = 10_000
"""Episodes of ``train`` scenarios at or above this index are the ``test-seeds`` split."""
PAPER_SPLIT = ("hotspot-id", "hotspot-ood", "wave-id", "wave-ood")


@dataclass(frozen=True)
class CityDraw:
    """One generated city and the shock families written on it."""

    seed: int
    cells: int
    layout: str
    transport: str
    families: tuple[str, ...]


_TRAIN_CITIES = (
    CityDraw(0, 8, "random", "hub-and-spoke", ("hotspot", "wave")),
    CityDraw(1, 12, "grid", "ring", ("hotspot", "wave")),
    CityDraw(2, 16, "clustered", "two-tier", ("hotspot", "wave")),
    CityDraw(3, 24, "random", "ring", ("hotspot", "wave")),
    CityDraw(4, 32, "grid", "hub-and-spoke", ("hotspot", "wave")),
    CityDraw(5, 48, "clustered", "hub-and-spoke", ("hotspot", "wave")),
)
SPLITS: dict[str, tuple[CityDraw, ...]] = {
    "train": _TRAIN_CITIES,
    "test-families": tuple(
        CityDraw(c.seed, c.cells, c.layout, c.transport, ("cell-hotspot", "outage", "crowds"))
        for c in _TRAIN_CITIES[::2]
    ),
    "test-cities": (
        CityDraw(100, 10, "grid", "two-tier", ("hotspot", "wave")),
        CityDraw(101, 40, "random", "ring", ("hotspot", "wave")),
        CityDraw(102, 120, "clustered", "hub-and-spoke", ("hotspot", "wave")),
        CityDraw(103, 200, "random", "two-tier", ("hotspot", "wave")),
    ),
}
"""The generated splits: the cities drawn and the families written on each."""
SPLIT_NAMES = ("train", "test-seeds", "test-families", "test-cities", "paper")
TEST_SPLITS = ("test-seeds", "test-families", "test-cities", "paper")


def split_files(split: str) -> list[dict[str, Any]]:
    """The scenario data of a generated split (``train``, ``test-families``, ``test-cities``)."""
    if split not in SPLITS:
        raise ScenarioError(f"split: {split!r} has no files of its own; valid: {', '.join(SPLITS)}")
    out = []
    for draw in SPLITS[split]:
        city = generate_city(draw.seed, draw.cells, draw.layout, draw.transport)
        for family in draw.families:
            for ood in (False, True):
                data = generate_family(city, family, ood, draw.seed)
                if data["nominal"] != data["name"]:  # the OOD variant's nominal: the ID one, by registered name
                    data["nominal"] = f"{split}/{data['nominal']}"
                out.append(data)
    return out


def split_scenarios(split: str) -> tuple[str, ...]:
    """Registered names of the scenarios of ``split`` (:data:`SPLIT_NAMES`), sorted."""
    if split == "paper":
        return PAPER_SPLIT
    folder = "train" if split == "test-seeds" else split
    if folder not in SPLITS:
        raise ScenarioError(f"split: {split!r} is not one of {list(SPLIT_NAMES)}")
    root = resources.files("twm_gym.scenarios.data").joinpath(folder)
    return tuple(sorted(f"{folder}/{p.name[:-5]}" for p in root.iterdir() if p.name.endswith(".json")))


def evaluation_split(scenario: str) -> str:
    """The test split (:data:`TEST_SPLITS`) an evaluation scenario belongs to: a training scenario's
    held-out seeds are ``test-seeds``, any scenario outside the generated folders counts as ``paper``."""
    folder = scenario.partition("/")[0] if "/" in scenario else ""
    return {"train": "test-seeds", "test-families": "test-families", "test-cities": "test-cities"}.get(folder, "paper")


def write_splits(root: str | Path) -> list[Path]:
    """Write every generated split's files under ``root/<split>/`` (the package's data folder by default)."""
    written = []
    for split in SPLITS:
        folder = Path(root) / split
        folder.mkdir(parents=True, exist_ok=True)
        for data in split_files(split):
            path = folder / f"{data['name']}.json"
            path.write_text(dump(data))
            written.append(path)
    return written


def dump(data: dict[str, Any]) -> str:
    """A scenario's JSON text as the generator writes it (stable: sorted keys, one indent)."""
    return json.dumps(data, indent=1, sort_keys=True) + "\n"
