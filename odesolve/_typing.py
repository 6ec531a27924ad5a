"""Type aliases used in the annotations of the public API.

Kept apart so that every module spells a recurring argument type the same way; the aliases
are ordinary run-time objects (``typing.get_type_hints`` resolves the annotations).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import numpy as np

__all__ = ["Seed"]

#: a seed as :func:`numpy.random.default_rng` takes it: None (fresh entropy), a non-negative
#: integer or a sequence of them, a SeedSequence, a BitGenerator or a Generator (used as is)
Seed = Union[int, Sequence[int], np.random.SeedSequence, np.random.BitGenerator,
             np.random.Generator, None]
