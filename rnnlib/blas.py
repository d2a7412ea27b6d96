"""Which BLAS kernels this process runs: what a results file's last bits depend on.

OpenBLAS picks its kernels for the CPU at load time (Haswell's on an AVX2 machine, SkylakeX's
on an AVX-512 one); the two round a matrix product differently in the last bits, so a run
replays bit for bit only under the kernels it was made with. Results files record them
(`machine.blas_kernel`) and experiments.replay compares accordingly.
"""


def blas_kernel():
    """The OpenBLAS kernel family this process runs, e.g. 'Haswell' or 'SkylakeX' ('+'-joined
    if several OpenBLAS libraries are loaded), or None when NumPy uses another BLAS."""
    import numpy  # noqa: F401  (loads NumPy's OpenBLAS, which threadpoolctl then finds)
    from threadpoolctl import threadpool_info

    found = sorted({str(i.get("architecture")) for i in threadpool_info()
                    if i.get("internal_api") == "openblas"})
    return "+".join(found) or None
