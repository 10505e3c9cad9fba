"""Single-threaded BLAS inside the twin's hot path.

The twin's matrix products are small (tens of rows by ten columns per sub-step); OpenBLAS's own
threads cost more than they save there (measured: ~35 % fewer rollouts/s with 2 BLAS threads on a
2-core machine). :func:`single_threaded_blas` limits BLAS to one thread for the duration of a call
only, leaving the user's process settings untouched; the twin parallelizes over batch rows itself.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any


@functools.lru_cache(maxsize=1)
def _controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS libraries to one thread inside the ``with`` block (about 15 µs to enter)."""
    with _controller().limit(limits=1, user_api="blas"):
        yield
