"""Running a benchmark's candidate program with its tests: exit status 0 within a timeout."""

import subprocess
import sys
import tempfile
from pathlib import Path

TEST_TIMEOUT_S = 10


def program_passes(program: str, timeout_s: float = TEST_TIMEOUT_S) -> bool:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(program)
    try:
        run = subprocess.run([sys.executable, handle.name], capture_output=True, timeout=timeout_s)
        return run.returncode == 0
    except subprocess.TimeoutExpired:
        return False
    finally:
        Path(handle.name).unlink()
