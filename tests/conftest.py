import os
import sys
from pathlib import Path

import pytest
import sinernn

# The tests are grouped by layer (native/, api/, tools/); their shared helpers (cases.py) lie here.
sys.path.insert(0, str(Path(__file__).resolve().parent))

try:  # the test extra installs it; scripts/gpu_check.sh may run where only pytest is
    from hypothesis import HealthCheck, settings
except ImportError:
    settings = None

if settings is not None:
    # Property tests (test_properties.py): a quick, reproducible default; a deeper random run with
    # SINERNN_HYPOTHESIS=deep.
    settings.register_profile(
        "default", max_examples=25, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile("deep", max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile(os.environ.get("SINERNN_HYPOTHESIS", "default"))


@pytest.fixture(scope="session", autouse=True)
def native_ops():
    """Load (or build, once) the native ops before any test; fail loudly if they can't be had."""
    return sinernn.load_native()
