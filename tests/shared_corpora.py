"""Where the tests find the real small archives (a mirror folder kept beside the repository).

`HEARBENCH_SHARED` overrides the location. Tests that need a real archive skip, naming the
missing path, when it is absent.
"""

import os
from pathlib import Path

SHARED = Path(
    os.environ.get("HEARBENCH_SHARED") or Path(__file__).resolve().parents[1].parent / "shared"
)
CORPORA = SHARED / "corpora"
