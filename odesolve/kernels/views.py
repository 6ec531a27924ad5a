"""Cheap 2-D views of flat scratch arrays for compiled code.

Numba's ``ndarray.reshape`` validates and computes strides at run time (about 20 ns per call,
measured in benchmarks/run.py's section ``rhs``: five of them were a third of the K = M = 2
right-hand side). :func:`matrix` builds the same C-ordered view with
``np.lib.stride_tricks.as_strided``, which costs nothing; the caller guarantees the bounds
(``start + rows * cols <= a.size``), as every caller here computes them from K and M.
"""
import numba
import numpy as np

__all__ = ["matrix"]


@numba.njit(cache=True)
def matrix(a, start, rows, cols):
    """C-ordered (rows, cols) view of ``a[start:start + rows * cols]`` (``a`` 1-D, contiguous).

    Examples
    --------
    >>> import numpy as np
    >>> matrix(np.arange(10.0), 2, 2, 3)
    array([[2., 3., 4.],
           [5., 6., 7.]])
    """
    s = a.strides[0]
    return np.lib.stride_tricks.as_strided(a[start:start + rows * cols], shape=(rows, cols),
                                           strides=(cols * s, s))
