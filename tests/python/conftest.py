"""pytest setup: make the in-tree package importable without installing it."""

import os
import sys

import pytest

PYTHON_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "python"))
if PYTHON_DIR not in sys.path:
    sys.path.insert(0, PYTHON_DIR)


def pytest_configure(config):
    """Register the markers this suite uses."""
    config.addinivalue_line("markers", "slow: runs for many minutes on a small machine; "
                            "skipped unless the environment sets RMC_SLOW=1")


def pytest_collection_modifyitems(config, items):
    """Skip tests marked slow unless RMC_SLOW=1."""
    if os.environ.get("RMC_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set RMC_SLOW=1 to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
