"""Shared test fixtures."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """Run a test with one torch thread, restoring the setting after.

    Tiny tensors gain nothing from threads, and on a busy 2-core machine OpenMP waits made tiny
    convolutions about 40x slower with 2 threads.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
