"""Print the NumPy CPU features to disable so that results replay bit for bit elsewhere.

NumPy picks, at import, the widest SIMD code its build has for the CPU it runs on; its AVX-512
kernels (X86_V4, AVX512_ICL, AVX512_SPR) round exp, tanh and friends differently in the last
bit from the AVX2 ones (X86_V3). The results files were made on machines without AVX-512, so
`make test`, `make check` and `make results` set NPY_DISABLE_CPU_FEATURES to what this
prints: the AVX-512 features this machine has (nothing on a machine without them, since
NumPy warns about disabling a feature the CPU lacks).

    NPY_DISABLE_CPU_FEATURES="$(python scripts/numpy_portable_features.py)" python ...
"""

from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

WIDER_THAN_AVX2 = ("X86_V4", "AVX512")


def wide_features():
    """The dispatch targets wider than AVX2 that NumPy would use here (none once disabled)."""
    return [f for f in __cpu_dispatch__
            if f.startswith(WIDER_THAN_AVX2) and __cpu_features__.get(f)]


if __name__ == "__main__":
    print(" ".join(wide_features()))
