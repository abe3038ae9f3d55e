import pytest

import sinernn


@pytest.fixture(scope="session", autouse=True)
def native_ops():
    """Load (or build, once) the native ops before any test; fail loudly if they can't be had."""
    return sinernn.load_native()
