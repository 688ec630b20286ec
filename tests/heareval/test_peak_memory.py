"""The embedding profile's peak memory is the runner's own, not inherited from its parent."""

import subprocess
import sys

import numpy as np

from heareval.embeddings.memory import peak_rss_bytes

CHILD = "from heareval.embeddings.memory import peak_rss_bytes; print(peak_rss_bytes())"


def test_child_does_not_report_its_parents_peak():
    ballast = np.ones(800 * 2**20, dtype=np.uint8)  # touched, so resident in this process
    parent_peak = peak_rss_bytes()
    assert parent_peak >= ballast.nbytes
    child = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True
    )
    child_peak = int(child.stdout)
    assert 0 < child_peak < parent_peak - 400 * 2**20
    del ballast
