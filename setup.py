"""The one compiled module: SipHash-2-4 in C for deterministic masking.

Everything else about the package is in pyproject.toml; setuptools still takes C extensions
from here (masking/techniques/siphash.py holds the numpy reference it is tested against).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("masking.techniques._siphash", sources=["masking/techniques/_siphash.c"]),
    ]
)
