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
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io import load_npz, save_npz
from .spec import SweepSpec

__all__ = ["SweepResult", "load_sweep"]


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
        Run information not stored in the file (wall time, chunks run, resumed chunks).
    """

    spec: SweepSpec
    dims: tuple
    coords: dict
    t: np.ndarray
    data: dict
    info: dict = field(default_factory=dict)

    def __getitem__(self, name) -> np.ndarray:
        return self.data[name]

    @property
    def success(self) -> np.ndarray:
        """Boolean, shape ``spec.shape + (replicas,)``: the member finished (status 0)."""
        return self.data["status"] == 0

    def reduce(self, name: str, how: str = "median", over=("replica",)) -> np.ndarray:
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
        """
        funcs = {"median": np.nanmedian, "mean": np.nanmean, "min": np.nanmin,
                 "max": np.nanmax}
        bad = [d for d in over if d not in self.dims]
        if bad:
            raise ValueError(f"unknown axis {bad}; the axes are {self.dims}.")
        axes = tuple(self.dims.index(d) for d in over)
        x = np.asarray(self.data[name], dtype=np.float64)
        if how == "fraction_finite":
            return np.isfinite(x).mean(axis=axes)
        if how not in funcs:
            raise ValueError(f"`how` must be one of {sorted(funcs) + ['fraction_finite']}, "
                             f"got {how!r}.")
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)     # all-NaN slices -> NaN
            return funcs[how](x, axis=axes)

    def to_xarray(self):
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
    def save(self, path) -> Path:
        arrays = {f"coord_{k}": np.asarray(v) for k, v in self.coords.items()}
        arrays["t"] = self.t
        arrays.update(self.data)
        config = {"sweep": self.spec.to_dict(), "dims": list(self.dims),
                  "fingerprint": self.spec.fingerprint()}
        return save_npz(path, arrays, config)

    @classmethod
    def load(cls, path) -> "SweepResult":
        arrays, config = load_npz(path)
        if not config or "sweep" not in config:
            raise ValueError(f"{path} is not an odesolve sweep result (no sweep config).")
        spec = SweepSpec.from_dict(config["sweep"])
        dims = tuple(config["dims"])
        coords = {d: arrays.pop(f"coord_{d}") for d in dims[:-1]}
        t = arrays.pop("t")
        return cls(spec, dims, coords, t, arrays, {"path": str(path)})


def load_sweep(path) -> SweepResult:
    """Read a sweep result file written by :func:`odesolve.sweep`."""
    return SweepResult.load(path)
