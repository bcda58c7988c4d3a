"""Build step: copy librmc.so from the CMake build folder into the package.

`pip install ./python` runs this from the python/ folder of a checkout; when
../build/librmc.so exists (cmake -S . -B build && cmake --build build), it is shipped
inside the package so the installed rmc needs no environment variable. Without it the
package still installs and looks for the library at import time (see rmc/_lib.py).
"""

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
BUILT = os.path.join(HERE, "..", "build", "librmc.so")


class BuildPyWithLibrary(build_py):
    """build_py that also copies ../build/librmc.so (following its symlink) into rmc/."""

    def run(self):
        super().run()
        if os.path.exists(BUILT):
            target = os.path.join(self.build_lib, "rmc", "librmc.so")
            self.mkpath(os.path.dirname(target))
            shutil.copyfile(BUILT, target)
            self.announce("copied %s -> %s" % (BUILT, target), level=2)
        else:
            self.announce("no %s: the package will look for librmc at import time" % BUILT,
                          level=2)


class BinaryDistribution(Distribution):
    """Tag the wheel as platform-specific, since it may hold a shared library."""

    def has_ext_modules(self):
        return os.path.exists(BUILT)


setup(cmdclass={"build_py": BuildPyWithLibrary}, distclass=BinaryDistribution)
