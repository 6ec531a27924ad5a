"""Property-based tests of the public Python API with random valid and invalid input.

* Random valid setups (K, M <= 3; erf, linear, ReLU; learning rates up to where learning
  diverges; noise, weight decay, fixed or trained readouts) and random initial states
  (:meth:`Overlaps.random`, single or batched) integrate with ``on_failure="flag"`` to either
  status 0 with finite values everywhere, or a nonzero status with ``t_fail`` in [0, t_max],
  finite values before ``t_fail`` and NaN after -- never an exception, never NaN with
  status 0. ``generalisation_error`` of linear units equals its closed form
  ``(v Q v - 2 v R v* + v* T v*) / 2``.
* Random invalid arguments -- wrong types (strings, booleans, None, containers, complex
  numbers, floats where a count is expected), values out of range, non-finite numbers, wrong
  shapes, arrays holding NaN or strings, non-symmetric and non-positive-semi-definite
  covariances -- raise ``TypeError`` (wrong type) or ``ValueError`` (wrong value) whose
  message names the argument in backticks (the rule of ``odesolve._checks``), for
  ``TeacherStudent``, ``Overlaps``, ``Overlaps.random``, ``integrate``, ``output_times``,
  ``generalisation_error``, ``simulate``, ``sweep``, the multi-task classes and
  ``integrate_protocol``, ``odesolve.linear`` and the stability analysis.

Each (function, argument) pair is its own test, so that a finding in one argument is marked
``xfail(strict=True)`` (with the reason) while the others keep guarding their rules; a fix
turns the xfail into a failure that says to remove the mark.
"""
from __future__ import annotations

import contextlib
import math
import re
import signal
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase as Stage, assume, event, given, settings
from hypothesis import strategies as st

import odesolve
from odesolve import Overlaps, TeacherStudent, generalisation_error, integrate
from odesolve.integration import output_times
from odesolve.linear import balanced_weights, exact_QQT, train
from odesolve.multitask import (MultiTaskSetup, MultiTaskState, Phase, Protocol,
                                integrate_protocol, teacher_overlaps)

#: invalid-argument properties: each draw is one value, so a failing example is already
#: small; no shrinking, and stop at the first failure (keeps the xfail tests cheap)
BAD = settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow],
               phases=[Stage.explicit, Stage.generate], report_multiple_bugs=False)

# -- invalid values --------------------------------------------------------------------------
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
#: values that are not real numbers (None separately: some arguments allow it)
NOT_REAL = st.one_of(
    TEXT, st.booleans(), st.lists(st.floats(0, 1), max_size=2), st.just({"a": 1}),
    st.complex_numbers(min_magnitude=1e-3, max_magnitude=10, allow_nan=False,
                       allow_infinity=False).filter(lambda z: z.imag != 0),
    st.sampled_from([np.bool_(True), np.array([1.0, 2.0]), b"1.0", object()]))
#: values that are not integers (floats, even integral ones, and the non-reals)
NOT_INT = st.one_of(NOT_REAL, st.floats(-10, 10), st.sampled_from([2.0, np.float64(3.0),
                                                                    math.inf, math.nan]))
NOT_BOOL = st.one_of(TEXT, st.integers(-2, 2), st.floats(0, 1), st.none(),
                     st.lists(st.booleans(), max_size=2))
NON_FINITE = st.sampled_from([math.inf, -math.inf, math.nan, np.float64("nan"),
                              np.float32("inf")])


def _wrong(types, values=None):
    """(value, expected error class) pairs."""
    out = types.map(lambda v: (v, TypeError))
    if values is not None:
        out = out | values.map(lambda v: (v, ValueError))
    return out


def count(minimum, none_ok=False):
    """A count of at least ``minimum``: wrong types, and integers below it (numpy too)."""
    types = NOT_INT if none_ok else NOT_INT | st.none()
    below = st.integers(minimum - 10**6, minimum - 1)
    return _wrong(types, below | below.map(np.int64))


def real(minimum=None, positive=False, none_ok=False, maximum=None):
    """A real number in range: wrong types, non-finite values, values out of range."""
    types = NOT_REAL if none_ok else NOT_REAL | st.none()
    values = NON_FINITE
    if positive:
        values |= st.floats(-1e6, 0.0)
    if minimum is not None:
        values |= st.floats(minimum - 1e6, math.nextafter(minimum, -math.inf))
    if maximum is not None:
        values |= st.floats(maximum, maximum + 1e6, exclude_min=True)
    return _wrong(types, values)


def flag():
    return _wrong(NOT_BOOL)


def choice(choices, lower=False):
    return _wrong(st.one_of(st.integers(0, 3), st.none(), st.lists(st.sampled_from(choices),
                                                                   max_size=2)),
                  TEXT.filter(lambda s: (s.lower() if lower else s) not in choices))


def names(message: str, name: str, quotes: str = "`") -> bool:
    """The message names ``name`` in backticks, e.g. `t_max` or `seeds[0]` (``quotes="`'"``
    also accepts 'name')."""
    q = "[" + quotes + "]"
    return re.search(q + re.escape(name) + r"(?:" + q + r"|\[)", message) is not None


def assert_refused(call, name, error):
    """``call()`` raises ``error`` (TypeError or ValueError) naming ``name``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call()
        except (TypeError, ValueError) as err:
            message = f"{type(err).__name__}: {err}"
            assert isinstance(err, error), f"expected {error.__name__}, got {message}"
            assert names(str(err), name), f"`{name}` not named in {message}"
            return
    raise AssertionError(f"accepted: no error naming `{name}`")


def check_argument(base: dict, call, name, case, data):
    value, error = data.draw(case, label=name)
    event(error.__name__)
    kwargs = {**base, name: value}
    assert_refused(lambda: call(**kwargs), name, error)


def xfail(reason):
    return pytest.mark.xfail(strict=True, reason=reason)


def cases(table, xfails=None):
    """pytest params (name, strategy) with the marks of ``xfails`` {name: reason}."""
    xfails = xfails or {}
    return [pytest.param(n, s, id=n, marks=[xfail(xfails[n])] if n in xfails else [])
            for n, s in table.items()]


# -- shared valid objects ------------------------------------------------------------------
SETUP = TeacherStudent(2, 2, "erf", eta=0.5)
STATE = Overlaps.random(2, 2, N=1000, student_std=0.5, readout_std=0.5, seed=0)
STATE_23 = Overlaps.random(2, 3, N=1000, student_std=0.5, readout_std=0.5, seed=1)


# ==========================================================================================
# valid input: integrates or is flagged
# ==========================================================================================
@st.composite
def setups_and_states(draw):
    K, M = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    activation = draw(st.sampled_from(["erf", "linear", "relu"]))
    eta = draw(st.floats(1e-2, 5.0))
    eta_v = draw(st.none() | st.just(0.0) | st.floats(0.0, 5.0))
    setup = TeacherStudent(K, M, activation, eta=eta, eta_v=eta_v,
                           sigma=draw(st.sampled_from([0.0, 0.1, 1.0])),
                           weight_decay=draw(st.sampled_from([0.0, 0.0, 0.01, 1.0])))
    batch = draw(st.none() | st.integers(1, 3))
    state = Overlaps.random(K, M, N=draw(st.sampled_from([10, 100, 10_000])),
                            student_std=draw(st.floats(0.0, 2.0)),
                            readout_std=draw(st.floats(0.0, 2.0)),
                            teacher_std=draw(st.floats(0.2, 2.0)),
                            readout_mean=draw(st.floats(-1.0, 1.0)),
                            v_star=draw(st.floats(-2.0, 2.0)), batch=batch,
                            seed=draw(st.integers(0, 2**32)))
    return setup, state


class TestValidInputIntegratesOrIsFlagged:
    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
    @given(pair=setups_and_states(), method=st.sampled_from(["rk4", "euler", "dopri5"]),
           t_max=st.floats(0.1, 5.0), n_out=st.integers(2, 12))
    def test_random_setup_and_state_finish_or_are_flagged(self, pair, method, t_max, n_out):
        setup, state = pair
        traj = integrate(setup, state, t_max=t_max, method=method, n_out=n_out,
                         on_failure="flag", progress=False, max_steps=20_000)
        status = np.atleast_1d(traj.status)
        t_fail = np.atleast_1d(traj.t_fail)
        fields = [np.asarray(a) for a in (traj.Q, traj.R, traj.v, traj.eps_g)]
        if not state.is_batched:
            fields = [a[None] for a in fields]
        assert traj.t[0] == 0.0 and traj.t[-1] == pytest.approx(t_max)
        for b, code in enumerate(status):
            event("finished" if code == 0 else f"flagged (status {code})")
            member = [a[b].reshape(traj.t.size, -1) for a in fields]
            if code == 0:
                assert np.isnan(t_fail[b])
                assert all(np.all(np.isfinite(a)) for a in member)
                assert np.all(member[3] >= 0)
            else:
                assert 0.0 <= t_fail[b] <= t_max * (1 + 1e-12)
                before, after = traj.t < t_fail[b], traj.t > t_fail[b]
                assert all(np.all(np.isfinite(a[before])) for a in member)
                assert all(np.all(np.isnan(a[after])) for a in member)

    @pytest.mark.parametrize("method", ["dopri5", "rk4", "euler"])
    @settings(BAD, max_examples=5)
    @given(K=st.integers(1, 3), M=st.integers(1, 3), zero=st.integers(0, 2),
           readout_std=st.floats(0.1, 1.0))
    def test_relu_student_unit_of_zero_norm_is_flagged_at_once(self, method, K, M, zero,
                                                               readout_std):
        state = Overlaps.random(K, M, N=1000, student_std=0.5, readout_std=readout_std,
                                seed=0)
        Q, R = state.Q.copy(), state.R.copy()
        i = zero % K
        Q[i, :], Q[:, i], R[i, :] = 0.0, 0.0, 0.0
        state = Overlaps(Q, R, state.T, state.v, state.v_star)
        traj = integrate(TeacherStudent(K, M, "relu", eta=1.0), state, t_max=1.0,
                         method=method, on_failure="flag", progress=False, max_steps=2_000)
        assert traj.status != 0 and traj.t_fail <= 0.01
        steps = traj.info["n_accepted"][0] + traj.info["n_rejected"][0]
        assert steps <= 10, traj.info["messages"]

    @settings(max_examples=40)
    @given(pair=setups_and_states())
    def test_linear_units_error_equals_its_closed_form(self, pair):
        """eps_g of linear units: 1/2 <(v.lambda - v*.nu)^2> over Gaussian fields with
        covariance [[Q, R], [R^T, T]] = (v Q v - 2 v R v* + v* T v*) / 2."""
        setup, state = pair
        linear = TeacherStudent(setup.K, setup.M, "linear", eta=setup.eta)
        b = state.broadcast()
        v, vs = np.atleast_2d(b.v), np.atleast_2d(b.v_star)
        Q = b.Q.reshape(-1, setup.K, setup.K)
        R = b.R.reshape(-1, setup.K, setup.M)
        T = b.T.reshape(-1, setup.M, setup.M)
        expected = 0.5 * (np.einsum("bi,bij,bj->b", v, Q, v)
                          - 2 * np.einsum("bi,bin,bn->b", v, R, vs)
                          + np.einsum("bn,bnm,bm->b", vs, T, vs))
        got = np.atleast_1d(generalisation_error(linear, state))
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


# ==========================================================================================
# invalid input: TeacherStudent, Overlaps, Overlaps.random
# ==========================================================================================
TEACHER_STUDENT = {
    "K": count(1), "M": count(1),
    "activation": _wrong(st.one_of(st.integers(0, 3), st.none(), st.floats(0, 1),
                                   st.lists(TEXT, max_size=1)),
                         TEXT.filter(lambda s: s.lower() not in odesolve.model.ACTIVATIONS)),
    "eta": real(minimum=0.0), "eta_v": real(minimum=0.0, none_ok=True),
    "sigma": real(minimum=0.0), "weight_decay": real(minimum=0.0),
}


class TestModelArguments:
    @pytest.mark.parametrize("name, case", cases(TEACHER_STUDENT))
    @BAD
    @given(data=st.data())
    def test_teacher_student_refuses(self, name, case, data):
        check_argument(dict(K=2, M=2, activation="erf", eta=0.5), TeacherStudent, name, case,
                       data)

    @pytest.mark.parametrize("name, case", cases({
        "K": count(1), "M": count(1), "N": count(1),
        "student_std": real(minimum=0.0), "readout_std": real(minimum=0.0),
        "teacher_std": real(positive=True), "readout_mean": real(),
        "batch": count(1, none_ok=True),
        "seed": _wrong(st.one_of(st.floats(-2, 2), TEXT, st.booleans(),
                                 st.lists(st.floats(0, 1), min_size=1, max_size=2)),
                       st.integers(-10**6, -1)),
        "v_star": _wrong(st.lists(TEXT, min_size=2, max_size=2),
                         NON_FINITE | st.lists(st.floats(-1, 1), min_size=3, max_size=4)
                         | st.just([[1.0, 1.0]]) | st.lists(st.floats(-1, 1), min_size=1,
                                                            max_size=1)
                         | NON_FINITE.map(lambda x: [1.0, x])),
    }))
    @BAD
    @given(data=st.data())
    def test_random_overlaps_refuse(self, name, case, data):
        check_argument(dict(K=2, M=2, N=100, seed=0), Overlaps.random, name, case, data)


def _fields(state):
    return {n: np.array(getattr(state, n)) for n in ("Q", "R", "T", "v", "v_star")}


@st.composite
def corrupt_field(draw, name):
    """A field of STATE_23 (K = 2, M = 3) with a non-finite entry, a string, the wrong shape,
    or (Q, T) made non-symmetric: (value, error)."""
    arr = _fields(STATE_23)[name]
    how = draw(st.sampled_from(["non_finite", "strings", "bools", "shape", "ragged"]
                               + (["asymmetric"] if name in ("Q", "T") else [])))
    if how == "non_finite":
        bad = arr.copy()
        bad.flat[draw(st.integers(0, bad.size - 1))] = draw(NON_FINITE)
        return bad, ValueError
    if how == "strings":
        return arr.astype(str), TypeError
    if how == "bools":
        return arr > 0, TypeError
    if how == "shape":
        grow = draw(st.integers(1, 2))
        shape = (arr.shape[0] + grow,) + arr.shape[1:] if arr.ndim == 1 else \
            draw(st.sampled_from([(arr.shape[0] + grow, arr.shape[1] + grow), (arr.size,)]))
        return np.ones(shape), ValueError
    if how == "ragged":
        return [[1.0, 0.0], [0.0]], ValueError
    bad = arr.copy()
    bad[0, 1] += draw(st.floats(1e-3, 1.0))
    return bad, ValueError


class TestOverlapsArguments:
    @pytest.mark.parametrize("name", ["Q", "R", "T", "v", "v_star"])
    @settings(max_examples=30)
    @given(data=st.data())
    def test_overlaps_refuse_a_corrupt_field_naming_it(self, name, data):
        value, error = data.draw(corrupt_field(name))
        event(f"{error.__name__}")
        fields = {**_fields(STATE_23), name: value}
        assert_refused(lambda: Overlaps(**fields), name, error)

    @settings(max_examples=30)
    @given(data=st.data())
    def test_overlaps_refuse_a_covariance_that_is_not_positive_semi_definite(self, data):
        """|R_in| > sqrt(Q_ii T_nn) or Q_ii < 0 cannot come from real weight vectors."""
        fields = _fields(STATE_23)
        i, n = data.draw(st.integers(0, 1)), data.draw(st.integers(0, 2))
        how = data.draw(st.sampled_from(["R", "Q"]))
        if how == "R":
            bound = math.sqrt(fields["Q"][i, i] * fields["T"][n, n])
            fields["R"][i, n] = data.draw(st.sampled_from([1, -1])) * bound * \
                data.draw(st.floats(1.01, 100.0))
        else:
            fields["Q"][i, i] = -data.draw(st.floats(1e-3, 10.0))
        with pytest.raises(ValueError, match=r"covariance \[\[Q, R\], \[R\^T, T\]\].*positive "
                                             r"semi-definite"):
            Overlaps(**fields)

    @settings(max_examples=15)
    @given(value=NOT_BOOL)
    def test_overlaps_check_flag_must_be_a_boolean(self, value):
        assert_refused(lambda: Overlaps(**_fields(STATE), check=value), "check", TypeError)

    @pytest.mark.parametrize("name", ["Q", "R", "T", "v", "v_star"])
    @settings(max_examples=10)
    @given(extra=st.integers(2, 3))
    def test_overlaps_with_two_batch_axes_name_the_field(self, name, extra):
        fields = _fields(STATE)
        fields[name] = np.broadcast_to(fields[name], (extra, 2) + fields[name].shape).copy()
        assert_refused(lambda: Overlaps(**fields), name, ValueError)

    @settings(max_examples=10)
    @given(b1=st.integers(2, 4), b2=st.integers(2, 4))
    def test_overlaps_with_disagreeing_batches_name_the_fields(self, b1, b2):
        assume(b1 != b2)
        fields = _fields(STATE)
        fields["Q"] = np.broadcast_to(fields["Q"], (b1, 2, 2)).copy()
        fields["v"] = np.broadcast_to(fields["v"], (b2, 2)).copy()
        assert_refused(lambda: Overlaps(**fields), "v", ValueError)


# ==========================================================================================
# integrate, output_times, generalisation_error
# ==========================================================================================
@st.composite
def bad_times(draw, t_max=1.0):
    """Output times breaking one rule: (value, error)."""
    how = draw(st.sampled_from(["non_finite", "decreasing", "negative", "beyond", "short",
                                "two_d", "empty", "strings"]))
    good = sorted(set(draw(st.lists(st.floats(0.0, t_max), min_size=1, max_size=4)))
                  | {t_max})
    if how == "non_finite":
        return good[:-1] + [draw(NON_FINITE), t_max], ValueError
    if how == "decreasing":
        return [t_max, t_max / 2] if len(good) < 3 else good[::-1], ValueError
    if how == "negative":
        return [-draw(st.floats(1e-6, 10.0))] + good, ValueError
    if how == "beyond":
        return good + [t_max * draw(st.floats(1.01, 10.0))], ValueError
    if how == "short":
        return [x * draw(st.floats(0.1, 0.9)) for x in good], ValueError
    if how == "two_d":
        return np.array([good, good]), ValueError
    if how == "empty":
        return [], ValueError
    return [str(x) for x in good], TypeError


INTEGRATE = {
    "setup": _wrong(st.sampled_from([None, "erf", {"K": 2}, STATE, 2])),
    "state": _wrong(st.sampled_from([None, {"Q": 1}, SETUP, np.eye(2), "x"]),
                    st.just(STATE_23)),
    "t_max": real(positive=True),
    "method": choice(("rk4", "euler", "dopri5"), lower=True),
    "dt": real(positive=True, none_ok=True) | st.floats(0.3, 0.9).map(lambda d: (d,
                                                                                 ValueError)),
    "times": bad_times(),
    "rtol": real(positive=True), "atol": real(minimum=0.0),
    "n_out": count(2), "on_failure": choice(("raise", "flag")),
    "max_steps": count(1), "progress": flag(),
}


class TestIntegrateArguments:
    @pytest.mark.parametrize("name, case", cases(INTEGRATE))
    @BAD
    @given(data=st.data())
    def test_integrate_refuses(self, name, case, data):
        base = dict(setup=SETUP, state=STATE, t_max=1.0, n_out=5, progress=False)
        if name == "times":
            base.pop("n_out")
        check_argument(base, integrate, name, case, data)

    @pytest.mark.parametrize("name, case", cases({"t_max": real(positive=True),
                                                  "times": bad_times(),
                                                  "n_out": count(2)}))
    @BAD
    @given(data=st.data())
    def test_output_times_refuses(self, name, case, data):
        check_argument(dict(t_max=1.0, n_out=5), output_times, name, case, data)

    @pytest.mark.parametrize("name, case", cases({
        "setup": INTEGRATE["setup"], "state": INTEGRATE["state"]}))
    @BAD
    @given(data=st.data())
    def test_generalisation_error_refuses(self, name, case, data):
        check_argument(dict(setup=SETUP, state=STATE), generalisation_error, name, case, data)


# ==========================================================================================
# simulate
# ==========================================================================================
SIM_STATE = Overlaps.random(2, 2, N=50, student_std=0.5, readout_std=0.5, seed=2)
SIMULATE = {
    "setup": INTEGRATE["setup"],
    "init": _wrong(st.sampled_from(["x", None, {"Q": 1}, [np.eye(2)] * 3, 3.0])),
    "N": count(1, none_ok=True),
    "t_max": real(positive=True, none_ok=True),        # None: from `times` (none given here)
    "times": bad_times(0.1),
    "seeds": _wrong(st.one_of(st.integers(0, 9), st.just([0.5, 1.0]), st.just(["a"]),
                              st.just([True, False]), st.just(None)),
                    st.one_of(st.just([]), st.integers(0, 9).map(lambda s: [s, s]),
                              st.integers(-10**6, -1).map(lambda s: [0, s]))),
    "n_out": count(2), "test_set": count(0), "progress": flag(),
}


class TestSimulateArguments:
    @pytest.mark.parametrize("name, case", cases(SIMULATE))
    @settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_simulate_refuses(self, name, case, data):
        base = dict(setup=SETUP, init=SIM_STATE, N=50, t_max=0.1, seeds=(0, 1), n_out=3,
                    progress=False)
        if name == "times":
            base.pop("n_out")
        check_argument(base, odesolve.simulate, name, case, data)

    @pytest.mark.parametrize("which", ["W", "W_star", "v", "v_star"])
    @settings(max_examples=15)
    @given(data=st.data())
    def test_simulate_refuses_inconsistent_weights_naming_them(self, which, data):
        W, W_star, v, v_star = odesolve.random_weights(2, 2, 30, seed=0)
        weights = {"W": W, "W_star": W_star, "v": v, "v_star": v_star}
        arr = weights[which]
        if data.draw(st.booleans()):
            bad = arr.copy()
            bad.flat[data.draw(st.integers(0, bad.size - 1))] = data.draw(NON_FINITE)
        else:
            bad = np.ones((arr.shape[0] + 1,) + arr.shape[1:])
        weights[which] = bad
        init = tuple(weights[k] for k in ("W", "W_star", "v", "v_star"))
        assert_refused(lambda: odesolve.simulate(SETUP, init, t_max=0.1, seeds=(0,),
                                                 progress=False), which, ValueError)


# ==========================================================================================
# sweep (validation: a tiny sweep runs when a value is accepted)
# ==========================================================================================
SWEEP = {
    "t_max": real(positive=True),
    "replicas": count(1),
    "n_out": count(2),
    "method": choice(("dopri5", "rk4", "euler"), lower=True),
    "rtol": real(positive=True), "atol": real(minimum=0.0),
    "dt": real(positive=True, none_ok=True),
    "max_steps": count(1), "seed": count(0),
    "chunk_size": count(1), "keep": choice(("eps_g", "summary")),
    "specialise_threshold": real(positive=True, maximum=1.0),
    "learn_fraction": real(positive=True, maximum=1.0),
    "log_times": flag(), "progress": flag(),
    "times": bad_times(0.5),
    "axes": _wrong(st.sampled_from(["eta", 3, [("eta", [0.5])]]),
                   st.sampled_from([{"etta": [0.5]}, {"eta": []}, {"eta": [-1.0]},
                                    {"K": [1.5]}, {"student_std": [-1.0]}])),
    "init": _wrong(st.sampled_from(["x", 3, [1, 2]]),
                   st.sampled_from([{"student_std": -1.0}, {"N": 0}, {"seed": 1},
                                    {"readout_std": math.nan}])),
}
#: names a refusal may give: the argument itself, or the parameter inside it that is wrong
_SWEEP_NAMES = {"axes": ("axes", "etta", "eta", "K", "student_std"),
                "init": ("init", "student_std", "N", "seed", "readout_std")}


class TestSweepArguments:
    @pytest.mark.parametrize("name, case", cases(SWEEP))
    @settings(BAD, max_examples=12)
    @given(data=st.data())
    def test_sweep_refuses(self, name, case, data):
        base = dict(setup=TeacherStudent(1, 1, "linear", eta=0.5), axes={"eta": [0.5]},
                    replicas=1, t_max=0.5, n_out=3, progress=False)
        value, error = data.draw(case, label=name)
        if name == "times":
            base.pop("n_out")
        kwargs = {**base, name: value}
        wanted = _SWEEP_NAMES.get(name, (name,))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                odesolve.sweep(**kwargs)
            except (TypeError, ValueError) as err:
                assert isinstance(err, error), f"expected {error.__name__}, got {err!r}"
                assert any(names(str(err), n, "`'") for n in wanted), \
                    f"{wanted} not named: {err}"
                return
        raise AssertionError(f"accepted {name}={value!r}")


# ==========================================================================================
# multi-task: setups, states, phases, protocols
# ==========================================================================================
MT_SETUP = MultiTaskSetup(K=2, M=1, P=2, heads="multi", eta=0.5)
MT_T = teacher_overlaps(M=1, P=2, feature_similarity=0.5)
MT_STATE = MultiTaskState.random(MT_SETUP, MT_T, V_star=[[1.0], [1.0]], N=1000,
                                 student_std=0.5, readout_std=0.5, seed=0)
MT_PROTOCOL = Protocol((Phase(0.1, teacher=0), Phase(0.1, teacher=1)))

class TestMultiTaskArguments:
    @pytest.mark.parametrize("name, case", cases({
        "K": count(1), "M": count(1), "P": count(1),
        "heads": choice(("multi", "single")),
        "eta": real(minimum=0.0), "sigma": real(minimum=0.0),
    }))
    @BAD
    @given(data=st.data())
    def test_multitask_setup_refuses(self, name, case, data):
        check_argument(dict(K=2, M=1, P=2, heads="multi"), MultiTaskSetup, name, case, data)

    @pytest.mark.parametrize("name, case", cases({
        n: _wrong(st.just("strings"), st.sampled_from(["non_finite", "shape", "one_d"]))
        for n in ("Q", "R", "T", "V", "V_star")}))
    @settings(BAD, max_examples=12)
    @given(data=st.data())
    def test_multitask_state_refuses(self, name, case, data):
        how, error = data.draw(case)
        fields = {n: np.array(getattr(MT_STATE, n)) for n in ("Q", "R", "T", "V", "V_star")}
        arr = fields[name]
        if how == "strings":
            value = arr.astype(str)
        elif how == "non_finite":
            value = arr.copy()
            value.flat[data.draw(st.integers(0, arr.size - 1))] = data.draw(NON_FINITE)
        elif how == "shape":
            value = np.ones((arr.shape[0] + 1, arr.shape[1] + 1))
        else:
            value = arr.ravel()
        event(how)
        assert_refused(lambda: MultiTaskState(**{**fields, name: value}), name, error)

    @pytest.mark.parametrize("name, case", cases({
        "N": count(1), "student_std": real(minimum=0.0), "readout_std": real(minimum=0.0),
        "readout_mean": real(),
        "seed": _wrong(st.one_of(st.floats(-2, 2), TEXT, st.booleans()),
                       st.integers(-10**6, -1)),
    }))
    @BAD
    @given(data=st.data())
    def test_multitask_random_state_refuses(self, name, case, data):
        check_argument(dict(setup=MT_SETUP, T=MT_T, V_star=[[1.0], [1.0]], N=100, seed=0),
                       MultiTaskState.random, name, case, data)

    @pytest.mark.parametrize("name, case", cases({
        "duration": real(positive=True), "teacher": count(0),
        "head": count(0, none_ok=True),
        "eta": real(minimum=0.0, none_ok=True), "eta_v": real(minimum=0.0, none_ok=True),
        "weight_decay": real(minimum=0.0, none_ok=True), "ewc": real(minimum=0.0,
                                                                     none_ok=True),
        "train_first": flag(), "train_readout": flag(),
    }))
    @BAD
    @given(data=st.data())
    def test_phase_refuses(self, name, case, data):
        check_argument(dict(duration=1.0, teacher=0), Phase, name, case, data)

    @settings(max_examples=15)
    @given(phases=st.one_of(st.just(()),
                            st.floats(0.1, 1.0).map(lambda d: (Phase(d, ewc=1.0),))))
    def test_protocol_refuses_no_phases_or_ewc_first(self, phases):
        with pytest.raises(ValueError, match="Phase|EWC"):
            Protocol(phases)

    @settings(BAD, max_examples=15)
    @given(phases=st.one_of(st.lists(st.sampled_from([1, "x", None, 0.5]),
                                     min_size=1, max_size=3).map(tuple),
                            st.sampled_from([None, 3, "x", Phase(1.0)])))
    def test_protocol_refuses_phases_that_are_not_a_sequence_of_phases(self, phases):
        assert_refused(lambda: Protocol(phases), "phases", TypeError)

    @pytest.mark.parametrize("name, case", cases({
        "setup": _wrong(st.sampled_from([None, "x", SETUP])),
        "state": _wrong(st.sampled_from([None, "x", STATE])),
        "protocol": _wrong(st.sampled_from([None, "x", [Phase(0.1)]])),
        "n_out": count(2), "times": bad_times(0.2),
        "method": choice(("rk4", "euler", "dopri5"), lower=True),
        "rtol": real(positive=True), "atol": real(minimum=0.0),
        "dt": real(positive=True, none_ok=True),
    }))
    @settings(BAD, max_examples=10)
    @given(data=st.data())
    def test_integrate_protocol_refuses(self, name, case, data):
        check_argument(dict(setup=MT_SETUP, state=MT_STATE, protocol=MT_PROTOCOL, n_out=3),
                       integrate_protocol, name, case, data)


# ==========================================================================================
# deep linear networks
# ==========================================================================================
@contextlib.contextmanager
def time_limit(seconds):
    """Raise TimeoutError in the main thread after ``seconds`` (a hang becomes a failure)."""
    def stop(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class TestLinearArguments:
    @pytest.mark.parametrize("name, case", cases({
        "d_in": count(1), "h": count(1), "d_out": count(1),
        "lam": _wrong(NOT_REAL | st.none(), NON_FINITE), "scale": real(minimum=0.0),
        "seed": _wrong(st.one_of(st.floats(-2, 2), TEXT), st.integers(-10**6, -1)),
    }))
    @BAD
    @given(data=st.data())
    def test_balanced_weights_refuse(self, name, case, data):
        check_argument(dict(d_in=3, h=2, d_out=3, lam=0.5, scale=0.1, seed=0),
                       balanced_weights, name, case, data)

    @pytest.mark.parametrize("name, case", cases({
        "Sigma": _wrong(st.just(np.array([["a"] * 3] * 3)),
                        NON_FINITE.map(lambda x: np.diag([3.0, x, 1.0]))
                        | st.just(np.eye(2))),
        "t": _wrong(st.just(["a", "b"]),
                    NON_FINITE.map(lambda x: [0.0, x]) | st.just([0.0, 2.0, 1.0])
                    | st.just([-1.0, 0.0])),
        "tau": real(positive=True),
        "method": choice(("gradient_flow", "exact")),
    }))
    @settings(BAD, max_examples=12)
    @given(data=st.data())
    def test_train_refuses(self, name, case, data):
        """Through method='exact' (instant); the arguments are checked before either
        method runs."""
        W1, W2 = balanced_weights(d_in=3, h=3, d_out=3, lam=0.5, scale=0.1, seed=0)
        base = dict(Sigma=np.diag([3.0, 2.0, 1.0]), weights=[W1, W2],
                    t=np.linspace(0, 1, 5), method="exact")
        with time_limit(20):
            check_argument(base, train, name, case, data)

    @settings(BAD, max_examples=4)
    @given(bad=st.sampled_from([math.inf, math.nan]))
    def test_exact_solution_refuses_non_finite_times(self, bad):
        W1, W2 = balanced_weights(d_in=2, h=2, d_out=2, lam=0.5, scale=0.1, seed=0)
        with time_limit(1):
            assert_refused(lambda: exact_QQT(np.diag([2.0, 1.0]), W1, W2, [0.0, bad]), "t",
                           ValueError)


class TestSolverNonFiniteParameters:
    @pytest.mark.parametrize("method", ["dopri5", "rk4", "euler"])
    @settings(BAD, max_examples=10)
    @given(a=st.sampled_from([math.nan, np.float64("nan")]), y0=st.floats(-2.0, 2.0))
    def test_solver_flags_a_nan_parameter_at_once(self, method, a, y0):
        """y' = -a y + sin t with a = NaN: the first derivative is NaN, so the member fails
        with NONFINITE within the first step (in fact at t = 0, before any step)."""
        from odesolve.solvers import NONFINITE, solve
        from odesolve.solvers.testproblems import FORCED_DECAY

        res = solve(FORCED_DECAY, [y0], [a], np.linspace(0.0, 1.0, 3), method=method,
                    dt=None if method == "dopri5" else 0.1, max_steps=2_000, progress=False)
        assert int(res.status[0]) == NONFINITE, res.message(0)
        assert res.t_fail[0] <= 0.1
        assert int(res.n_accepted[0] + res.n_rejected[0]) <= 10


# ==========================================================================================
# stability analysis: the setup it is given
# ==========================================================================================
class TestStabilityArguments:
    @pytest.mark.parametrize("function", ["plateau", "max_learning_rate", "stability_curves",
                                          "decay_rate", "perfect_learning",
                                          "optimal_learning_rate", "plateau_small_eta",
                                          "asymptotic_branch", "fixed_point", "continuation"])
    @settings(BAD, max_examples=5)
    @given(setup=st.sampled_from([None, "erf", {"K": 2}, STATE, MT_SETUP]))
    def test_stability_functions_refuse_a_setup_that_is_not_a_teacher_student(self, function,
                                                                               setup):
        from odesolve import fixedpoint, stability

        more = {"asymptotic_branch": ([0.5],), "fixed_point": ("plateau",),
                "continuation": (None, [0.5])}.get(function, ())
        call = getattr(stability, function, None) or getattr(fixedpoint, function)
        assert_refused(lambda: call(setup, *more), "setup", TypeError)
