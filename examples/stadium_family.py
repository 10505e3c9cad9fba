"""A new scenario family as data: match-day crowds at a stadium, on three generated cities.

Writes an ID and an OOD file per city into ``stadium/`` (docs/how-to/add-a-scenario-family.md)::

    python examples/stadium_family.py && twm-bench scenarios check stadium/*.json
"""

import json
import sys
from pathlib import Path

import numpy as np

from twm_gym.scenarios.generator import generate_city

out = Path(sys.argv[1] if len(sys.argv) > 1 else "stadium")
out.mkdir(exist_ok=True)
for seed, cells in [(11, 12), (12, 30), (13, 60)]:
    city = generate_city(seed, cells, layout="random", transport="two-tier")
    rng = np.random.default_rng(seed)
    site = int(rng.integers(cells))  # the stadium's cell
    for ood in (False, True):
        name = f"{city['name']}-stadium-{'ood' if ood else 'id'}"
        data = {
            **city,
            "name": name,
            "description": f"Match day on {city['name']}: a surge at cell {site}, then the crowd leaving.",
            "family": "stadium",
            "ood": ood,
            "nominal": f"{city['name']}-stadium-id.json" if ood else name,  # the OOD file's twin: the ID one
            "events": [  # the match: a scheduled surge at the stadium, then the crowd leaving along a path
                {
                    "at": f"cell:{site}",
                    "start_step": 3,
                    "duration_steps": 4,
                    "intensity": 3.0 if ood else 2.0,
                    "slice_gain": [1.0, 0.3, 0.0],
                },
                {
                    "path": [city["city"]["cell_xy"][site], [0.0, 0.0]],
                    "start_step": 7,
                    "duration_steps": 3,
                    "intensity": 1.5,
                    "cross_load": 0.3 if ood else 0.2,
                },
            ],
        }
        (out / f"{name}.json").write_text(json.dumps(data, indent=1))
        print(out / f"{name}.json")
