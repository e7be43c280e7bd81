"""Put the repository root on sys.path so tests import superinfo_lib from this checkout."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The in-process tests use tiny tensors: on a shared 2-core machine a second intra-op
# thread costs far more in synchronisation than it saves (measured: 10x slower toy runs
# under load). Subprocesses (the CLI smoke runs) keep torch's default.
torch.set_num_threads(1)
