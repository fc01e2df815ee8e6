"""Test-session settings."""

from __future__ import annotations

import torch

# The tests' tensors are tiny: one intra-op thread is faster, and on a busy machine (CI
# runners, parallel jobs) several threads contend and slow small matrix products tenfold.
torch.set_num_threads(1)
