"""Run a sweep: locally chunk by chunk, or as Dask tasks; resume from finished chunks.

Files of a sweep with an output path ``<out>`` (``.npz``):

- ``<out>.lock`` while a run writes to ``<out>``: created exclusively (``O_CREAT | O_EXCL``)
  with the run's pid and host, removed at the end. A second run on the same path is refused
  with the lock file and the pid named; a lock left by a dead process on this host is taken
  over (:class:`OutputLock`).
- ``<out>.parts/``: every finished chunk, written atomically, next to a copy of the spec.
  Re-running the same sweep skips the chunks found there; parts of a different spec are refused
  (``restart=True`` discards them); an unreadable part file is refused with its name.
- ``<out>``: the assembled result, written atomically at the end, after which the parts are
  removed. Running an identical spec (same fingerprint) again returns the stored result without
  recomputing (``info["reused"]``; ``restart=True`` recomputes); a finished result of a
  *different* spec, or a file that is not a readable sweep result, is never replaced without
  ``overwrite=True``.

Every refusal raises :class:`~odesolve.sweeps.result.SweepFileError` (a ValueError) naming the
file and the way out, before any work starts.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._checks import check_bool, describe
from ..io import atomic_path
from ..model import TeacherStudent
from .chunk import run_chunk
from .result import READ_ERRORS, SweepFileError, SweepResult
from .spec import INIT_PARAMS, SweepSpec, _check_names, _parameter_names

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["sweep", "run_spec", "result_path", "OutputLock"]


def sweep(setup: TeacherStudent | Mapping[str, Any] | None = None,
          axes: Mapping[str, Sequence[Any] | np.ndarray] | None = None, *,
          points: list[dict[str, Any]] | None = None, init: Mapping[str, Any] | None = None,
          replicas: int = 4, t_max: float = 100.0, out: os.PathLike[str] | str | None = None,
          scheduler: str | Client | None = None, progress: bool = True,
          restart: bool = False, overwrite: bool = False, **options: Any) -> SweepResult:
    """Integrate the ODEs over a grid (or list) of parameters, several initial states each.

    Parameters
    ----------
    setup : TeacherStudent or dict, optional
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
        Discard finished chunks of an earlier run of this output path, and recompute even when
        ``out`` already holds the finished result of this very sweep.
    overwrite : bool
        Replace ``out`` even when it holds the result of a different sweep (or a file that is
        not a readable sweep result); without it such a file is refused.
    **options
        Further :class:`~odesolve.sweeps.SweepSpec` fields: ``n_out``, ``log_times``,
        ``times``, ``method`` ("dopri5"), ``rtol`` (1e-6), ``atol`` (1e-8), ``dt``,
        ``max_steps``, ``seed``, ``chunk_size`` (2048), ``keep`` ("eps_g" or "summary"),
        ``specialise_threshold``, ``learn_fraction``.

    Returns
    -------
    SweepResult
        Observables with shape ``grid_shape + (replicas,)``; ``result.save(path)`` /
        :func:`~odesolve.load_sweep`. ``info["reused"]`` is True when ``out`` already held the
        finished result of this sweep, which is returned without recomputing.

    Raises
    ------
    TypeError
        An argument has the wrong type (e.g. ``n_out=2.0``, ``init="x"``); the message names
        it.
    ValueError
        An argument is out of range or names an unknown parameter;
        :class:`~odesolve.sweeps.spec.SweepPointError` when the model or the initialisation
        of a grid point is refused. All checked before any work.
    SweepFileError
        A file at ``out`` cannot be used (module docstring of :mod:`odesolve.sweeps.runner`):
        a truncated or corrupt part file, the result of a different sweep (without
        ``overwrite``), or a lock held by another live run.

    Examples
    --------
    >>> import odesolve
    >>> res = odesolve.sweep(odesolve.TeacherStudent(2, 2, "erf", eta=1.0),
    ...                      axes={"readout_std": [0.01, 1.0], "eta": [0.5, 1.0]},
    ...                      init={"student_std": 0.1}, replicas=3, t_max=20, progress=False)
    >>> res.dims, res["eps_g_final"].shape
    (('readout_std', 'eta', 'replica'), (2, 2, 3))
    """
    base = _fixed_parameters(setup, init, options.get("protocol") is not None)
    swept = set(axes) if isinstance(axes, Mapping) else set()
    if isinstance(points, (list, tuple)):
        swept.update(k for p in points if isinstance(p, Mapping) for k in p)
    spec = SweepSpec(base={k: v for k, v in base.items() if k not in swept},
                     axes=axes if axes is not None else {}, points=points, replicas=replicas,
                     t_max=t_max, **options)
    return run_spec(spec, out=out, scheduler=scheduler, progress=progress, restart=restart,
                    overwrite=overwrite)


def _fixed_parameters(setup, init, protocol: bool) -> dict[str, Any]:
    """The fixed parameters of :func:`sweep`: the model ``setup`` and the initialisation
    ``init``, each checked to be a mapping of the names it may hold."""
    if isinstance(setup, TeacherStudent):
        fixed = setup.to_dict()
        if not isinstance(setup.activation, str):
            fixed["activation"] = setup.activation
    elif setup is None or isinstance(setup, Mapping):
        fixed = dict(setup or {})
        _check_names("setup", fixed, _parameter_names(protocol))
    else:
        raise TypeError(f"`setup` must be an odesolve.TeacherStudent or a dict of its "
                        f"parameters, got {describe(setup)}.")
    if init is not None:
        if not isinstance(init, Mapping):
            raise TypeError(f"`init` must be a dict of Overlaps.random parameters "
                            f"({', '.join(INIT_PARAMS)}), got {describe(init)}.")
        _check_names("init", init, INIT_PARAMS)
        fixed.update(init)
    return fixed


def run_spec(spec: SweepSpec, out: os.PathLike[str] | str | None = None,
             scheduler: str | Client | None = None, progress: bool = True,
             restart: bool = False, overwrite: bool = False) -> SweepResult:
    """Run a :class:`SweepSpec` (see :func:`sweep` for the arguments, the result and the
    errors)."""
    if not isinstance(spec, SweepSpec):
        raise TypeError(f"`spec` must be an odesolve.sweeps.SweepSpec, got {describe(spec)}.")
    progress, restart, overwrite = (check_bool(name, value) for name, value in (
        ("progress", progress), ("restart", restart), ("overwrite", overwrite)))
    tic = time.perf_counter()
    if out is None:
        return _run(spec, None, scheduler, progress, tic)
    path = result_path(out)
    with OutputLock(path):
        stored = _stored_result(path, spec, restart, overwrite)
        if stored is not None:
            stored.info["wall_s"] = time.perf_counter() - tic
            return stored
        return _run(spec, _PartStore(path, spec, restart), scheduler, progress, tic)


def result_path(out: os.PathLike[str] | str) -> Path:
    """The result file of an output path (``.npz`` suffix added when missing)."""
    path = Path(out)
    return path if path.suffix == ".npz" else path.with_suffix(".npz")


def _stored_result(path: Path, spec: SweepSpec, restart: bool, overwrite: bool):
    """The finished result at ``path`` when it is this very sweep (and not ``restart``);
    None when there is nothing to reuse; refuse a file that is not ours to replace."""
    if not path.exists():
        return None
    way_out = ("pass overwrite=True (CLI: --overwrite) to replace it, or choose another "
               "output path.")
    try:
        old = SweepResult.load(path)
    except SweepFileError as err:
        if overwrite:
            return None
        reason = str(err).removeprefix(f"{path}: ")
        raise SweepFileError(path, f"exists and is not a readable sweep result ({reason}); "
                             f"{way_out}") from None
    fp, old_fp = spec.fingerprint(), old.info.get("fingerprint") or old.spec.fingerprint()
    if old_fp != fp:
        if overwrite:
            return None
        raise SweepFileError(path, f"holds the finished result of a different sweep "
                             f"(fingerprint {old_fp} != {fp}); {way_out}")
    if restart:
        return None
    _PartStore.discard(path, fp)                  # parts left by a run stopped after its save
    old.info.update({"reused": True, "chunks": len(spec.chunks()), "chunks_resumed": 0,
                     "scheduler": "none (stored result)"})
    return old


def _run(spec: SweepSpec, store, scheduler, progress: bool, tic: float) -> SweepResult:
    """Compute the chunks not in ``store``, assemble, save to the store's path."""
    chunks = spec.chunks()
    done = store.finished(chunks) if store else {}
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
                        "chunks_resumed": len(done), "scheduler": str(scheduler or "local"),
                        "reused": False})
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

    RESTART = "run with restart=True (CLI: --restart) to discard all finished chunks"

    def __init__(self, path: Path, spec: SweepSpec, restart: bool):
        self.path = path
        self.dir = self.parts_dir(path)
        self.spec = spec
        fp = spec.fingerprint()
        spec_file = self.dir / "spec.json"
        if restart and self.dir.exists():
            shutil.rmtree(self.dir)
        if spec_file.exists():
            old_fp = self.fingerprint(spec_file)
            if old_fp != fp:
                raise SweepFileError(
                    self.dir, f"holds chunks of a different sweep (fingerprint {old_fp} != "
                    f"{fp}); {self.RESTART}, or choose another output path.")
        else:
            self.dir.mkdir(parents=True, exist_ok=True)
            with atomic_path(spec_file) as tmp:
                tmp.write_text(json.dumps({"fingerprint": fp, "spec": spec.to_dict()},
                                          default=str))

    @staticmethod
    def parts_dir(path: Path) -> Path:
        return path.with_name(path.name + ".parts")

    @classmethod
    def fingerprint(cls, spec_file: Path) -> str:
        """The fingerprint recorded in ``spec.json`` of a parts directory."""
        try:
            return str(json.loads(spec_file.read_text())["fingerprint"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise SweepFileError(spec_file, f"cannot read the spec of the finished chunks "
                                 f"({type(err).__name__}: {err}); {cls.RESTART}.") from None

    @classmethod
    def discard(cls, path: Path, fp: str):
        """Remove the parts of ``path`` if they belong to the sweep with fingerprint ``fp``."""
        spec_file = cls.parts_dir(path) / "spec.json"
        try:
            same = spec_file.exists() and cls.fingerprint(spec_file) == fp
        except SweepFileError:
            same = False
        if same:
            shutil.rmtree(spec_file.parent, ignore_errors=True)

    def _file(self, index: int) -> Path:
        return self.dir / f"chunk_{index:06d}.npz"

    def finished(self, chunks) -> dict:
        """The finished chunks found in the parts directory: index -> result dict.

        Raises
        ------
        SweepFileError
            A part file is truncated, corrupt or does not fit its chunk.
        """
        sizes = {c.index: c.grid.size for c in chunks}
        out = {}
        for f in sorted(self.dir.glob("chunk_*.npz")):
            way_out = f"delete it (its chunk is computed again) or {self.RESTART}."
            try:
                index = int(f.stem.split("_")[1])
                with np.load(f, allow_pickle=False) as z:
                    res = {k: z[k] for k in z.files}
            except READ_ERRORS as err:
                raise SweepFileError(f, f"cannot read this finished chunk: it is truncated or "
                                     f"corrupt ({type(err).__name__}: {err}); {way_out}"
                                     ) from None
            n = sizes.get(index)
            if n is None or "status" not in res or any(a.shape[:1] != (n,) for a in res.values()):
                raise SweepFileError(f, f"this part file does not fit chunk {index} of the "
                                     f"sweep ({n} members); {way_out}")
            out[index] = res
        return out

    def write(self, index: int, res: dict):
        with atomic_path(self._file(index)) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **res)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class OutputLock:
    """Exclusive right to write one sweep output: the lock file ``<out>.lock``.

    Created with ``O_CREAT | O_EXCL`` (atomic, also on network file systems) and holding the
    pid, host and start time of the run as JSON; removed on exit if it is still this run's. A
    lock found from a process that is no longer alive on this host is taken over; any other
    lock (a live pid, another host, unreadable) is refused with :class:`SweepFileError` naming
    the lock file and its holder.

    Parameters
    ----------
    path : str or Path
        The result file ``<out>`` (``.npz``).

    Examples
    --------
    >>> with OutputLock(Path("sweep.npz")):                   # doctest: +SKIP
    ...     ...                                               # write sweep.npz
    """

    def __init__(self, path: os.PathLike[str] | str) -> None:
        self.path = Path(str(path) + ".lock")
        self.out = Path(path)
        self.token = uuid.uuid4().hex
        self.held = False

    def __enter__(self) -> "OutputLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._read(self.path)
                if not self._stale(holder):
                    raise SweepFileError(self.path, self._held_message(holder)) from None
                self._take_over(holder)
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump({"pid": os.getpid(), "host": socket.gethostname(),
                           "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                           "token": self.token}, fh)
            self.held = True
            return self
        raise SweepFileError(self.path, "could not take over this stale lock (another run "
                             "keeps replacing it); delete it if no run is active.")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        if self.held and (self._read(self.path) or {}).get("token") == self.token:
            self.path.unlink(missing_ok=True)
        self.held = False
        return False

    @staticmethod
    def _read(path: Path):
        """The lock's content as a dict; None when missing or unreadable."""
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    @staticmethod
    def _stale(holder) -> bool:
        """The lock was left by a process of this host that is no longer alive."""
        if holder is None or holder.get("host") != socket.gethostname():
            return False
        pid = holder.get("pid")
        return isinstance(pid, int) and not _alive(pid)

    def _take_over(self, holder):
        """Remove a stale lock; put it back if it changed in between (a racing run)."""
        aside = self.path.with_name(f"{self.path.name}.stale-{os.getpid()}-{self.token}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return                                    # someone else took it over first
        if self._read(aside) != holder:               # a racing run's fresh lock: give it back
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
        aside.unlink(missing_ok=True)

    def _held_message(self, holder) -> str:
        if holder is None:
            who = "an unknown run (the lock file is unreadable)"
        else:
            who = (f"pid {holder.get('pid')} on host {holder.get('host')}, started "
                   f"{holder.get('started')}")
        return (f"another sweep is writing {self.out} ({who}); wait for it to finish or use "
                f"another output path. If that run is no longer alive, delete this lock file.")


def _alive(pid: int) -> bool:
    """The process ``pid`` exists on this host (True when that cannot be told)."""
    if os.name == "nt" or pid <= 0:               # os.kill(pid, 0) would signal on Windows
        return pid > 0
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:                               # e.g. PermissionError: someone else's
        return True
    return True


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
