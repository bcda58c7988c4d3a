"""`pip install .` from the repository root: python/setup.py's build step (which copies
build/librmc.so into the package), with the metadata of the root pyproject.toml."""

import os
import runpy

runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "python", "setup.py"),
               run_name="__main__")
