"""Test-session settings: torch runs on one thread in every test process.

The suite's models are small; on a 2-core machine torch's default of one thread per core,
times two ``pytest -n 2`` workers, oversubscribes the CPU and made world-model tests many times
slower. One thread per process is what the benchmark's workers use too.
"""

from __future__ import annotations

import torch


def pytest_configure() -> None:
    torch.set_num_threads(1)
