"""The compiled modules: SipHash-2-4 in C for deterministic masking, the hash table behind
the uniqueness checks, national phone digits read in one pass, and PostgreSQL binary COPY
rows written from column buffers.

Everything else about the package is in pyproject.toml; setuptools still takes C extensions
from here (masking/techniques/siphash.py, hashset.py, fake.py and masking/dialects/pgbinary.py
hold the references they are tested against).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("masking.techniques._siphash", sources=["masking/techniques/_siphash.c"]),
        Extension("masking.techniques._hashset", sources=["masking/techniques/_hashset.c"]),
        Extension("masking.techniques._digits", sources=["masking/techniques/_digits.c"]),
        Extension("masking.dialects._pgrows", sources=["masking/dialects/_pgrows.c"]),
        Extension("masking.dialects._pgcopy", sources=["masking/dialects/_pgcopy.c"]),
    ]
)
