"""The wheel also installs mlplab-keras-backend.pth into site-packages: Python runs its one line at start-up,
so every interpreter of the environment (a notebook kernel whose first cell is `import keras` included) gets
KERAS_BACKEND=jax when the variable is unset; a backend the user chose with the variable is left alone.
(An editable install, `make`'s, gets the file from the Makefile.)"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "mlplab-keras-backend.pth"


class BuildWithBackend(build_py):
    def run(self):
        super().run()
        shutil.copy(Path(__file__).parent / PTH, Path(self.build_lib) / PTH)

    def get_outputs(self, include_bytecode=True):
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / PTH)]


setup(cmdclass={"build_py": BuildWithBackend})
