"""Shared test settings. The package is installed editable (README: `make venv`)."""

import torch

# The in-process tests use tiny tensors: on a shared 2-core machine a second intra-op
# thread costs far more in synchronisation than it saves (measured: 10x slower toy runs
# under load). Subprocesses (the CLI smoke runs) keep torch's default.
torch.set_num_threads(1)
