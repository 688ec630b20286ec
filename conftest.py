"""pytest setup: the repository root (this folder, so the real packages always resolve before the
same-named test folders) and tests/ (for the test-support package `fakes`) on sys.path."""

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent / "tests"
if str(TESTS) not in sys.path:
    sys.path.append(str(TESTS))
