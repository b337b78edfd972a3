"""pyproject.toml + setup.py give sane package metadata (without building: the extension's build is CMake's,
tested by the other Python tests; README "Python" says how `pip install --no-build-isolation .` builds it)."""
import os
import tempfile
import unittest

from common import ROOT


class PipMetadata(unittest.TestCase):
    def test_metadata(self):
        from setuptools import build_meta
        cwd = os.getcwd()
        with tempfile.TemporaryDirectory() as tmp:
            os.chdir(ROOT)
            try:
                info = build_meta.prepare_metadata_for_build_wheel(tmp)
            finally:
                os.chdir(cwd)
            with open(os.path.join(tmp, info, "METADATA"), encoding="utf-8") as f:
                meta = f.read()
            with open(os.path.join(tmp, "spikesim.egg-info", "SOURCES.txt"), encoding="utf-8") as f:
                sources = f.read().split()
        self.assertEqual(info, "spikesim-0.1.0.dist-info")
        self.assertIn("Name: spikesim\n", meta)
        self.assertIn("Requires-Dist: numpy\n", meta)
        for f in ("python/spikesim/__init__.py", "python/spikesim/torch.py", "setup.py", "pyproject.toml"):
            self.assertIn(f, sources)


if __name__ == "__main__":
    unittest.main(verbosity=2)
