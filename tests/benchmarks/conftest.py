"""The research studies and perf scripts are scripts, not modules of the package: their tests import
them from their folders (``benchmarks/studies``, ``benchmarks/perf``), as running them does."""

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2] / "benchmarks"
for folder in ("studies", "perf"):
    if str(_ROOT / folder) not in sys.path:
        sys.path.insert(0, str(_ROOT / folder))
