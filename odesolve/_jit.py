"""Compile template functions against concrete callees, with Numba's on-disk cache.

Numba does not reuse its cache across processes for a jitted function that receives another
jitted function as an *argument* (the argument's type key contains the callee's address), and
closures built by a factory are recompiled in every process. A jitted function that calls a
*global* jitted function caches fine. So generic code (a Runge-Kutta stepper, the structural
right-hand side of the committee ODE) is written once as a plain Python *template* that calls
global names such as ``rhs`` or ``I4``, and :func:`specialise` makes a copy of the template whose
globals bind those names to concrete jitted functions. The copy gets a unique ``__qualname__``
built from a tag, so each specialisation has its own cache index; the tag should contain a hash
of everything the callees depend on (see :func:`source_tag`) so that a changed callee never
reuses a stale cache entry.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import types

import numba

__all__ = ["specialise", "source_tag"]


def source_tag(*objects) -> str:
    """Short hash identifying the source code of jitted functions or modules.

    Parameters
    ----------
    *objects : Numba dispatchers, Python functions, modules or strings
        Everything a specialisation depends on. Dispatchers and functions contribute their
        source (or bytecode when no source is available), strings contribute themselves.

    Returns
    -------
    str
        12 hexadecimal characters, stable across processes.
    """
    h = hashlib.sha1()
    for obj in objects:
        h.update(_fingerprint(obj))
    return h.hexdigest()[:12]


def _fingerprint(obj) -> bytes:
    if isinstance(obj, str):
        return obj.encode()
    if isinstance(obj, (int, float)):
        return repr(obj).encode()
    try:
        return _fingerprint_cached(obj)
    except TypeError:          # unhashable
        return _fingerprint_uncached(obj)


@functools.lru_cache(maxsize=None)
def _fingerprint_cached(obj) -> bytes:
    """Source fingerprints are read once per process (``inspect.getsource`` is slow)."""
    return _fingerprint_uncached(obj)


def _fingerprint_uncached(obj) -> bytes:
    target = getattr(obj, "py_func", obj)
    try:
        return inspect.getsource(target).encode()
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        if code is not None:
            return code.co_code + repr(code.co_consts).encode()
        return repr(obj).encode()


def _has_source_file(func) -> bool:
    try:
        inspect.getsourcefile(func)
        inspect.getsource(func)
        return True
    except (OSError, TypeError):
        return False


@functools.lru_cache(maxsize=None)
def _specialise_cached(template, tag, bindings, jit_options):
    glb = dict(template.__globals__)
    glb.update(dict(bindings))
    name = f"{template.__name__}__{tag}"
    func = types.FunctionType(template.__code__, glb, name, template.__defaults__,
                              template.__closure__)
    func.__qualname__ = f"{template.__qualname__}__{tag}"
    func.__module__ = template.__module__
    func.__doc__ = template.__doc__
    options = dict(jit_options)
    options.setdefault("cache", _has_source_file(template))
    return numba.njit(**options)(func)


def specialise(template, tag: str, jit_options=None, **bindings):
    """Jit-compile ``template`` with its global names rebound to ``bindings``.

    Parameters
    ----------
    template : function
        Plain Python function written in Numba's nopython subset that calls global names.
    tag : str
        Identifies the bindings; becomes part of the compiled function's name and cache key.
        Use :func:`source_tag` of the bound callees.
    jit_options : dict, optional
        Extra options for :func:`numba.njit` (e.g. ``{"parallel": True}``). ``cache`` defaults
        to True whenever the template has a source file.
    **bindings
        Global name -> jitted function (or constant).

    Returns
    -------
    numba.core.registry.CPUDispatcher
        The same object is returned for the same (template, tag, bindings).
    """
    if not tag.isidentifier() and not tag.replace("_", "a").isalnum():
        raise ValueError(f"`tag` must be alphanumeric/underscores, got {tag!r}.")
    opts = tuple(sorted((jit_options or {}).items()))
    return _specialise_cached(template, tag, tuple(sorted(bindings.items(), key=lambda kv: kv[0])),
                              opts)
