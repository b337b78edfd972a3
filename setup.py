"""Builds the extension of the spikesim Python package with the project's CMake (pyproject.toml holds the
metadata). The CMake build directory is $SPIKESIM_CMAKE_BUILD_DIR (e.g. an existing build/release, which
then only links what changed), else build/pip. The hardware profiles (data/hardware) go into the package,
which points $SPIKESIM_DATA_DIR at them unless it is set."""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = os.environ.get("SPIKESIM_CMAKE_BUILD_DIR", os.path.join(ROOT, "build", "pip"))
        if os.path.exists(os.path.join(build, "CMakeCache.txt")):  # an existing build keeps its settings
            subprocess.check_call(["cmake", "-S", ROOT, "-B", build])
        else:
            subprocess.check_call(["cmake", "-S", ROOT, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                                   f"-DPython3_EXECUTABLE={sys.executable}", "-DSPIKESIM_BUILD_TESTS=OFF",
                                   "-DSPIKESIM_BUILD_BENCH=OFF"])
        subprocess.check_call(["cmake", "--build", build, "--target", "spikesim_python"])
        built = glob.glob(os.path.join(build, "python", "spikesim", "_spikesim*.so"))
        if not built:
            raise RuntimeError(f"spikesim: the CMake build in {build} made no extension (is pybind11 installed? "
                               "Debian: pybind11-dev python3-pybind11)")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built[0], target)
        data = os.path.join(os.path.dirname(target), "data", "hardware")
        os.makedirs(data, exist_ok=True)
        for f in glob.glob(os.path.join(ROOT, "data", "hardware", "*")):
            if os.path.isfile(f):
                shutil.copy(f, data)


setup(ext_modules=[Extension("spikesim._spikesim", sources=[])], cmdclass={"build_ext": CMakeBuild})
