"""Run a sweep: locally chunk by chunk, or as Dask tasks; resume from finished chunks.

With an output path, every finished chunk is written atomically to ``<out>.parts/`` next to a
copy of the spec; re-running the same sweep skips the chunks found there (a different spec is
refused), and the assembled result replaces ``<out>`` atomically at the end, after which the
parts are removed.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from ..io import atomic_path
from ..model import TeacherStudent
from .chunk import run_chunk
from .result import SweepResult
from .spec import SweepSpec

__all__ = ["sweep", "run_spec"]


def sweep(setup=None, axes=None, *, points=None, init=None, replicas: int = 4,
          t_max: float = 100.0, out=None, scheduler=None, progress: bool = True,
          restart: bool = False, **options) -> SweepResult:
    """Integrate the ODEs over a grid (or list) of parameters, several initial states each.

    Parameters
    ----------
    setup : TeacherStudent or dict
        The fixed part of the model (swept parameters override it).
    axes : dict of name -> sequence, optional
        Swept parameters (a grid over their product), any of ``K, M, activation, eta, eta_v,
        sigma, weight_decay`` (the model) and ``N, student_std, readout_std, teacher_std,
        readout_mean, v_star`` (the random initialisation, :meth:`Overlaps.random`).
    points : list of dict, optional
        Instead of ``axes``, an explicit list of parameter settings.
    init : dict, optional
        Fixed initialisation parameters (as for :meth:`Overlaps.random`).
    replicas : int
        Random initial states per grid point (drawn with seed ``[seed, grid index]``).
    t_max : float
        Final time.
    out : str or Path, optional
        Result file (``.npz``). With it the sweep is resumable (see the module docstring).
    scheduler : str or distributed.Client, optional
        Run the chunks as tasks on a Dask cluster (e.g. ``"tcp://host:8786"``); needs
        ``dask.distributed``. Local runs need no Dask.
    progress : bool
        Progress bar with ETA (tqdm) on stderr.
    restart : bool
        Discard finished chunks of an earlier run of this output path.
    **options
        Further :class:`~odesolve.sweeps.SweepSpec` fields: ``n_out``, ``log_times``,
        ``times``, ``method`` ("dopri5"), ``rtol`` (1e-6), ``atol`` (1e-8), ``dt``,
        ``max_steps``, ``seed``, ``chunk_size`` (2048), ``keep`` ("eps_g" or "summary"),
        ``specialise_threshold``, ``learn_fraction``.

    Returns
    -------
    SweepResult
        Observables with shape ``grid_shape + (replicas,)``; ``result.save(path)`` /
        :func:`~odesolve.load_sweep`.

    Examples
    --------
    >>> import odesolve
    >>> res = odesolve.sweep(odesolve.TeacherStudent(2, 2, "erf", eta=1.0),
    ...                      axes={"readout_std": [0.01, 1.0], "eta": [0.5, 1.0]},
    ...                      init={"student_std": 0.1}, replicas=3, t_max=20, progress=False)
    >>> res.dims, res["eps_g_final"].shape
    (('readout_std', 'eta', 'replica'), (2, 2, 3))
    """
    base = dict(setup.to_dict() if isinstance(setup, TeacherStudent) else (setup or {}))
    if isinstance(setup, TeacherStudent) and not isinstance(setup.activation, str):
        base["activation"] = setup.activation
    base.update(init or {})
    for k in list(axes or {}) + [k for p in points or [] for k in p]:
        base.pop(k, None)
    spec = SweepSpec(base=base, axes=dict(axes or {}), points=points, replicas=replicas,
                     t_max=t_max, **options)
    return run_spec(spec, out=out, scheduler=scheduler, progress=progress, restart=restart)


def run_spec(spec: SweepSpec, out=None, scheduler=None, progress: bool = True,
             restart: bool = False) -> SweepResult:
    """Run a :class:`SweepSpec` (see :func:`sweep`)."""
    tic = time.perf_counter()
    store = _PartStore(out, spec, restart) if out is not None else None
    chunks = spec.chunks()
    done = store.finished() if store else {}
    todo = [c for c in chunks if c.index not in done]
    results = dict(done)
    bar = _progress_bar(spec.n_members, sum(len(done[i]["status"]) for i in done), progress)
    try:
        for index, res in _execute(spec, todo, scheduler):
            results[index] = res
            if store:
                store.write(index, res)
            bar.update(len(res["status"]))
    except KeyboardInterrupt:
        bar.close()
        if store:
            print(f"\nsweep interrupted: {len(results)} of {len(chunks)} chunks kept in "
                  f"{store.dir}; run it again to resume.", file=sys.stderr)
        raise
    bar.close()
    result = _assemble(spec, chunks, results)
    result.info.update({"wall_s": time.perf_counter() - tic, "chunks": len(chunks),
                        "chunks_resumed": len(done), "scheduler": str(scheduler or "local")})
    if store:
        result.save(store.path)
        result.info["path"] = str(store.path)
        store.remove()
    return result


def _execute(spec, chunks, scheduler):
    """Yield (chunk index, result dict) as chunks finish."""
    spec_dict = spec.to_dict()
    if scheduler is None:
        for c in chunks:
            yield c.index, run_chunk(spec_dict, c.grid, c.replica)
        return
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("`scheduler` needs dask.distributed: pip install 'odesolve[dask]'."
                          ) from None
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        fp = spec.fingerprint()
        futures = {client.submit(run_chunk, spec_dict, c.grid, c.replica,
                                 key=f"odesolve-sweep-{fp}-{c.index}", pure=False): c.index
                   for c in chunks}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
    finally:
        if client is not scheduler:
            client.close()


def _assemble(spec: SweepSpec, chunks, results) -> SweepResult:
    R = spec.replicas
    first = results[chunks[0].index]
    data = {}
    for name, arr in first.items():
        full = np.full((spec.n_members,) + arr.shape[1:], np.nan if arr.dtype.kind == "f"
                       else -1, dtype=arr.dtype)
        for c in chunks:
            full[c.grid * R + c.replica] = results[c.index][name]
        data[name] = full.reshape(spec.shape + (R,) + arr.shape[1:])
    if spec.points is not None:
        coords = {"point": np.arange(len(spec.points))}
    else:
        coords = {k: np.asarray(v) for k, v in spec.axes.items()}
    return SweepResult(spec, spec.dims + ("replica",), coords, spec.output_times(), data)


class _PartStore:
    """Finished chunks of one sweep in ``<out>.parts/`` (atomic files, resumable)."""

    def __init__(self, out, spec: SweepSpec, restart: bool):
        self.path = Path(out)
        if self.path.suffix != ".npz":
            self.path = self.path.with_suffix(".npz")
        self.dir = self.path.with_name(self.path.name + ".parts")
        self.spec = spec
        fp = spec.fingerprint()
        spec_file = self.dir / "spec.json"
        if restart and self.dir.exists():
            shutil.rmtree(self.dir)
        if spec_file.exists():
            old = json.loads(spec_file.read_text())
            if old.get("fingerprint") != fp:
                raise ValueError(
                    f"{self.dir} holds chunks of a different sweep (fingerprint "
                    f"{old.get('fingerprint')} != {fp}); use restart=True (CLI: --restart) to "
                    "discard them, or another output path.")
        else:
            self.dir.mkdir(parents=True, exist_ok=True)
            with atomic_path(spec_file) as tmp:
                tmp.write_text(json.dumps({"fingerprint": fp, "spec": spec.to_dict()},
                                          default=str))

    def _file(self, index: int) -> Path:
        return self.dir / f"chunk_{index:06d}.npz"

    def finished(self) -> dict:
        out = {}
        for f in sorted(self.dir.glob("chunk_*.npz")):
            with np.load(f) as z:
                out[int(f.stem.split("_")[1])] = {k: z[k] for k in z.files}
        return out

    def write(self, index: int, res: dict):
        with atomic_path(self._file(index)) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **res)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress_bar(total: int, initial: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="member", desc="sweep", smoothing=0.1,
                file=sys.stderr)
