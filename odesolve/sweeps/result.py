"""Sweep results with labelled axes: :class:`SweepResult`, saved as one ``.npz``.

Layout of the file (all written atomically by :func:`odesolve.io.save_npz`):

- ``coord_<axis>``: the values along each grid axis (``coord_point`` is 0..P-1 for a list);
- ``t`` (n_t,): output times;
- per member, with shape ``grid_shape + (replicas,)`` (+ trailing dims):
  ``status``, ``t_fail``, ``n_rhs``, the observables of :data:`odesolve.observables.OBSERVABLES`,
  ``eps_g`` (..., n_t) unless ``keep="summary"``, ``Q_final`` (..., K, K), ``R_final``
  (..., K, M), ``v_final`` (..., K) when K and M are not swept;
- ``config``: JSON with the sweep spec (``odesolve.sweeps.SweepSpec``), the axis names and the
  spec's fingerprint.

Nothing in the file depends on timing or scheduling, so an interrupted and resumed sweep writes
the same arrays as an uninterrupted one.

A file that cannot be used (truncated, corrupt, not a sweep result, of another sweep, held by
another run) raises :class:`SweepFileError`, which names the file and the way out.
"""
from __future__ import annotations

import json
import warnings
import zipfile
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..io import load_npz, save_npz
from .spec import SweepSpec

if TYPE_CHECKING:
    import xarray

__all__ = ["SweepResult", "load_sweep", "SweepFileError", "READ_ERRORS"]

#: the reductions of :meth:`SweepResult.reduce`
Reduction = Literal["median", "mean", "min", "max", "fraction_finite"]

#: what reading a truncated or corrupt ``.npz`` can raise (besides a missing file)
READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error,
               json.JSONDecodeError)


class SweepFileError(ValueError):
    """A sweep file that cannot be used: unreadable or truncated, the result of a different
    sweep, or held by another run. The message names the file and the way out.

    Attributes
    ----------
    path : Path
        The file (a result, a part file, the spec of the parts, or the lock file).
    """

    def __init__(self, path: os.PathLike[str] | str, message: str) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path}: {message}")


@dataclass
class SweepResult:
    """Summary observables (and eps_g curves) of every member of a sweep.

    Attributes
    ----------
    spec : SweepSpec
    dims : tuple of str
        Grid axis names, then ``"replica"``.
    coords : dict of name -> ndarray
        Values along each grid axis.
    t : ndarray, shape (n_t,)
    data : dict of name -> ndarray
        Shape ``spec.shape + (replicas,)`` (+ trailing dims), see the module docstring.
    info : dict
        Run information not stored in the file (wall time, chunks run, resumed chunks,
        ``reused``: the stored result of an identical sweep was returned); after loading,
        ``path`` and the stored ``fingerprint``.
    """

    spec: SweepSpec
    dims: tuple[str, ...]
    coords: dict[str, np.ndarray]
    t: np.ndarray
    data: dict[str, np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name]

    @property
    def success(self) -> np.ndarray:
        """Boolean, shape ``spec.shape + (replicas,)``: the member finished (status 0)."""
        return self.data["status"] == 0

    def reduce(self, name: str, how: Reduction = "median", over: Sequence[str] = ("replica",),
               successful_only: bool = False) -> np.ndarray:
        """Reduce an observable over some axes, ignoring NaN (failed or never reached).

        Parameters
        ----------
        name : str
            A key of :attr:`data`.
        how : {"median", "mean", "min", "max", "fraction_finite"}
            ``fraction_finite`` is the fraction of members where the observable is defined
            (e.g. the fraction that specialised).
        over : sequence of str
            Axis names (from :attr:`dims`) to reduce.
        successful_only : bool
            Leave out the members that diverged (``status != 0``): their values count as NaN
            (for ``fraction_finite``: as undefined).

        Returns
        -------
        ndarray
            The shape of :attr:`dims` without the reduced axes.
        """
        funcs = {"median": np.nanmedian, "mean": np.nanmean, "min": np.nanmin,
                 "max": np.nanmax}
        bad = [d for d in over if d not in self.dims]
        if bad:
            raise ValueError(f"unknown axis {bad}; the axes are {self.dims}.")
        axes = tuple(self.dims.index(d) for d in over)
        x = np.asarray(self.data[name], dtype=np.float64)
        if successful_only:
            ok = self.success.reshape(self.success.shape + (1,) * (x.ndim - self.success.ndim))
            x = np.where(ok, x, np.nan)
        if how == "fraction_finite":
            return np.isfinite(x).mean(axis=axes)
        if how not in funcs:
            raise ValueError(f"`how` must be one of {sorted(funcs) + ['fraction_finite']}, "
                             f"got {how!r}.")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)     # all-NaN slices -> NaN
            return funcs[how](x, axis=axes)

    def reduce_failed(self, over: Sequence[str] = ("replica",)) -> np.ndarray:
        """Fraction of members that diverged (``status != 0``), reduced over ``over``."""
        bad = [d for d in over if d not in self.dims]
        if bad:
            raise ValueError(f"unknown axis {bad}; the axes are {self.dims}.")
        return (~self.success).mean(axis=tuple(self.dims.index(d) for d in over))

    def to_xarray(self) -> xarray.Dataset:
        """An ``xarray.Dataset`` (needs xarray, which odesolve does not depend on)."""
        import xarray as xr

        coords = {**self.coords, "replica": np.arange(self.spec.replicas), "t": self.t}
        variables = {}
        for name, arr in self.data.items():
            extra = arr.ndim - len(self.dims)
            tail = ("t",) if name == "eps_g" else tuple(f"{name}_{i}" for i in range(extra))
            variables[name] = (self.dims + tail, arr)
        return xr.Dataset(variables, coords=coords,
                          attrs={"sweep": str(self.spec.to_dict())})

    # -- files ---------------------------------------------------------------------------
    def save(self, path: os.PathLike[str] | str) -> Path:
        """Write the result atomically to ``path`` (``.npz``, the spec embedded); return it."""
        arrays = {f"coord_{k}": np.asarray(v) for k, v in self.coords.items()}
        arrays["t"] = self.t
        arrays.update(self.data)
        config = {"sweep": self.spec.to_dict(), "dims": list(self.dims),
                  "fingerprint": self.spec.fingerprint()}
        return save_npz(path, arrays, config)

    @classmethod
    def load(cls, path: os.PathLike[str] | str) -> SweepResult:
        """Read a result file (see :func:`load_sweep`)."""
        path = Path(path)
        arrays, config = read_npz(path, "sweep result")
        if not config or "sweep" not in config:
            raise SweepFileError(path, "not an odesolve sweep result (no sweep config).")
        try:
            dims = tuple(config["dims"])
            stored = dict(config["sweep"])
            if stored.get("axes"):               # the JSON has sorted keys: the grid's order
                stored["axes"] = {d: stored["axes"][d] for d in dims[:-1]}
            spec = SweepSpec.from_dict(stored)
            coords = {d: arrays.pop(f"coord_{d}") for d in dims[:-1]}
            t = arrays.pop("t")
        except (KeyError, TypeError, ValueError) as err:
            raise SweepFileError(path, f"an incomplete or inconsistent sweep result ({err}); "
                                 "delete it and run the sweep again.") from None
        lead = spec.shape + (spec.replicas,)
        wrong = [k for k, a in arrays.items() if a.shape[:len(lead)] != lead]
        if dims != spec.dims + ("replica",) or "status" not in arrays or wrong:
            raise SweepFileError(path, f"an inconsistent sweep result (axes {dims}, arrays "
                                 f"{wrong or 'without status'} do not fit the spec's grid "
                                 f"{lead}); delete it and run the sweep again.")
        return cls(spec, dims, coords, t, arrays,
                   {"path": str(path), "fingerprint": config.get("fingerprint")})


def read_npz(path: os.PathLike[str] | str,
             what: str) -> tuple[dict[str, np.ndarray], dict[str, Any] | None]:
    """:func:`odesolve.io.load_npz`, raising :class:`SweepFileError` for a missing, truncated
    or corrupt file (``what`` names the kind of file in the message)."""
    path = Path(path)
    if not path.is_file():
        raise SweepFileError(path, f"no such {what} file.")
    try:
        return load_npz(path)
    except READ_ERRORS as err:
        raise SweepFileError(path, f"cannot read this {what}: it is truncated or corrupt "
                             f"({type(err).__name__}: {err}); delete it and run the sweep "
                             "again.") from None


def load_sweep(path: os.PathLike[str] | str) -> SweepResult:
    """Read a sweep result file written by :func:`odesolve.sweep`.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    SweepResult

    Raises
    ------
    SweepFileError
        The file is missing, truncated or corrupt, or not a sweep result (the message names
        it).
    """
    return SweepResult.load(path)
