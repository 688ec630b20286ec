"""pytest setup, for every test and every process a test starts.

On sys.path: the repository root (this folder, so the real packages always resolve before the
same-named test folders) and tests/, which holds the test-support packages: `fakes` (fake corpora),
`embedding_models` (HEAR-API models and bundles made for the tests) and `broken_models` (models
that break one rule each). PYTHONPATH gets the same two folders, so that a command a test runs
(`python -m heareval.embeddings.runner embedding_models.ticker ...`) imports what the test does.
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent
TESTS = REPO / "tests"
if str(TESTS) not in sys.path:
    sys.path.append(str(TESTS))
_inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), str(TESTS), *_inherited])
