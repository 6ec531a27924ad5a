"""Numeric arguments of the public API: type and range checked before any work, errors naming
the argument (TypeError for a wrong type, ValueError for a wrong value), and no silently
wrong results (one output time, fractional counts, a fixed step silently shortened)."""
import numpy as np
import pytest

import odesolve
from odesolve import (Overlaps, TeacherStudent, generalisation_error, integrate,
                      random_weights, seed_statistics, weights_from_overlaps)
from odesolve.integration import output_times

SETUP = TeacherStudent(K=2, M=2, activation="erf", eta=0.5)
STATE = Overlaps.random(2, 2, seed=0, student_std=0.1, readout_std=0.1)


# --- the silently wrong results ------------------------------------------------------------------
@pytest.mark.parametrize("n_out, error, match", [
    (1, ValueError, r"`n_out` must be an integer >= 2, got 1\."),
    (0, ValueError, r"`n_out` must be an integer >= 2, got 0\."),
    (2.5, TypeError, r"`n_out` must be an integer, got 2\.5\."),
    (2.0, TypeError, r"`n_out` must be an integer, got 2\.0\."),
    ("5", TypeError, r"`n_out` must be an integer, got the string '5'\."),
])
def test_output_count_below_two_or_fractional_is_refused(n_out, error, match):
    """n_out = 1 used to return the initial state only (t = 0) with exit status 0."""
    with pytest.raises(error, match=match):
        integrate(SETUP, STATE, t_max=10, n_out=n_out)


@pytest.mark.parametrize("method", ["euler", "rk4", "dopri5"])
def test_fixed_step_longer_than_the_output_spacing_is_refused(method):
    """dt = 0.5 with outputs every 0.1 used to integrate silently with steps of 0.1."""
    with pytest.raises(ValueError, match=r"`dt` = 0\.5 is longer than the spacing of the "
                                         r"output times \(0\.1\).*fewer output times.*"
                                         r"`dt` <= 0\.1"):
        integrate(SETUP, STATE, t_max=1.0, method=method, dt=0.5, n_out=11)


def test_one_close_pair_of_output_times_is_enough_to_refuse():
    with pytest.raises(ValueError, match=r"spacing of the output times \(0\.05\)"):
        integrate(SETUP, STATE, t_max=1.0, method="rk4", dt=0.1, times=[0.5, 0.55, 1.0])


def test_step_equal_to_the_spacing_up_to_rounding_takes_full_steps():
    """linspace spacings differ from dt = 0.1 by rounding only: accepted, one step each."""
    traj = integrate(SETUP, STATE, t_max=10.0, method="rk4", dt=0.1, n_out=101)
    assert traj.success and traj.info["n_accepted"][0] == 100


def test_step_not_dividing_the_spacing_keeps_full_steps_and_a_short_last_one():
    """The documented rule: from each output time full steps, then one shortened step that
    lands on the next output (dt = 0.3, outputs every 1: 0.3, 0.3, 0.3, 0.1 per interval),
    agreeing with an adaptive reference to RK4 accuracy."""
    traj = integrate(SETUP, STATE, t_max=2.0, method="rk4", dt=0.3, n_out=3)
    assert traj.info["n_accepted"][0] == 8
    ref = integrate(SETUP, STATE, t_max=2.0, method="dopri5", rtol=1e-12, atol=1e-14, n_out=3)
    np.testing.assert_allclose(traj.Q, ref.Q, rtol=0, atol=1e-6)


def test_default_step_is_shortened_where_outputs_are_closer():
    """Without an explicit dt, log-spaced outputs (spacing 3e-4 near t = 0.01) are allowed:
    the default 0.01 is an upper bound."""
    times = np.concatenate([[0.0], np.geomspace(0.01, 1.0, 30)])
    traj = integrate(SETUP, STATE, t_max=1.0, method="rk4", times=times)
    assert traj.success and traj.t.size == 31


def test_output_times_must_reach_t_max():
    """times ending before t_max used to stop the integration there without a word."""
    with pytest.raises(ValueError, match=r"`times` ends at 2 but `t_max` is 10"):
        integrate(SETUP, STATE, t_max=10.0, times=[0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"`times` ends at 0 but `t_max` is 10"):
        integrate(SETUP, STATE, t_max=10.0, times=[0.0])


# --- integrate: every argument -------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(t_max="10"), TypeError, r"`t_max` must be a real number, got the string '10'\."),
    (dict(t_max=None), TypeError, "`t_max` must be a real number, got None"),
    (dict(t_max=0.0), ValueError, r"`t_max` must be positive, got 0\."),
    (dict(t_max=-5.0), ValueError, "`t_max` must be positive"),
    (dict(t_max=np.inf), ValueError, r"`t_max` must be finite, got inf\."),
    (dict(t_max=np.nan), ValueError, r"`t_max` must be a number, got NaN\."),
    (dict(dt="0.01"), TypeError, "`dt` must be a real number, got the string"),
    (dict(dt=0.0), ValueError, r"`dt` must be positive, got 0\."),
    (dict(dt=-0.01), ValueError, "`dt` must be positive"),
    (dict(dt=np.nan), ValueError, "`dt` must be a number, got NaN"),
    (dict(method="dopri5", rtol=0.0), ValueError, r"`rtol` must be positive, got 0\."),
    (dict(method="dopri5", rtol="1e-6"), TypeError, "`rtol` must be a real number"),
    (dict(method="dopri5", atol=-1e-9), ValueError, r"`atol` must be a number >= 0"),
    (dict(method="dopri5", atol=np.inf), ValueError, "`atol` must be finite"),
    (dict(max_steps=0), ValueError, r"`max_steps` must be an integer >= 1, got 0\."),
    (dict(max_steps=1e6), TypeError, r"`max_steps` must be an integer, got 1000000\.0\."),
    (dict(method="rk45"), ValueError, r"`method` must be one of 'euler', 'rk4', 'dopri5', "
                                      r"got 'rk45'\."),
    (dict(method=4), TypeError, "`method` must be one of"),
    (dict(on_failure="ignore"), ValueError, r"`on_failure` must be one of 'raise', 'flag'"),
    (dict(on_failure=False), TypeError, "`on_failure` must be one of"),
    (dict(progress="no"), TypeError, r"`progress` must be true or false, got the string"),
    (dict(times=["0", "10"]), TypeError, r"`times` must be an array of real numbers"),
    (dict(times=[[0.0, 10.0]]), ValueError, r"`times` must be a non-empty 1-D array, got "
                                             r"shape \(1, 2\)"),
    (dict(times=[]), ValueError, r"`times` must be a non-empty 1-D array"),
    (dict(times=[0.0, np.nan, 10.0]), ValueError, r"`times` must be finite"),
    (dict(times=[0.0, 5.0, 5.0, 10.0]), ValueError, r"`times` must be strictly increasing"),
    (dict(times=[-1.0, 10.0]), ValueError, r"`times` must lie in \[0, t_max\]"),
    (dict(times=[0.0, 11.0]), ValueError, r"`times` must lie in \[0, t_max\]"),
])
def test_integrate_checks_every_argument(kwargs, error, match):
    args = dict(t_max=10.0)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        integrate(SETUP, STATE, **args)


def test_integrate_checks_setup_and_state_types():
    with pytest.raises(TypeError, match="`setup` must be an odesolve.TeacherStudent"):
        integrate({"K": 2}, STATE, t_max=1.0)
    with pytest.raises(TypeError, match="`state` must be an odesolve.Overlaps"):
        integrate(SETUP, np.eye(2), t_max=1.0)


def test_method_names_are_case_insensitive():
    a = integrate(SETUP, STATE, t_max=1.0, method="RK4", n_out=3)
    b = integrate(SETUP, STATE, t_max=1.0, method="rk4", n_out=3)
    np.testing.assert_array_equal(a.Q, b.Q)


def test_output_times_directly():
    np.testing.assert_array_equal(output_times(2.0, n_out=3), [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(output_times(2.0, times=[1.0, 2.0]), [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="`n_out` must be an integer >= 2"):
        output_times(2.0, n_out=1)
    with pytest.raises(TypeError, match="`t_max` must be a real number"):
        output_times("2")


def test_generalisation_error_checks_its_arguments():
    with pytest.raises(TypeError, match="`setup` must be an odesolve.TeacherStudent"):
        generalisation_error("erf", STATE)
    with pytest.raises(TypeError, match="`state` must be an odesolve.Overlaps"):
        generalisation_error(SETUP, None)
    with pytest.raises(ValueError, match="`state` has K=2, M=2 but `setup` has K=3"):
        generalisation_error(TeacherStudent(3, 2), STATE)


# --- Overlaps and the random initialisations ------------------------------------------------------
def test_overlaps_refuse_strings_and_flags_of_the_wrong_type():
    with pytest.raises(TypeError, match="`Q` must be an array of real numbers"):
        Overlaps([["1", "0"], ["0", "1"]], np.zeros((2, 2)), np.eye(2), np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="`v` must be an array of real numbers"):
        Overlaps(np.eye(2), np.zeros((2, 2)), np.eye(2), [True, False], np.ones(2))
    with pytest.raises(ValueError, match="`R` must be a rectangular array"):
        Overlaps(np.eye(2), [[0.0], [0.0, 0.0]], np.eye(2), np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="`check` must be true or false"):
        Overlaps(np.eye(2), np.zeros((2, 2)), np.eye(2), np.ones(2), np.ones(2), check="no")
    with pytest.raises(ValueError, match=r"`tol` must be a number >= 0"):
        STATE.validate(tol=-1.0)


# arguments shared by Overlaps.random(K, M, ...) and random_weights(K, M, N, ...)
_INIT_CASES = [
    (dict(N=1e4), TypeError, r"`N` must be an integer, got 10000\.0\."),
    (dict(N=0), ValueError, r"`N` must be an integer >= 1, got 0\."),
    (dict(student_std=-0.1), ValueError, r"`student_std` must be a number >= 0"),
    (dict(student_std="0.1"), TypeError, r"`student_std` must be a real number"),
    (dict(readout_std=np.nan), ValueError, r"`readout_std` must be a number, got NaN"),
    (dict(teacher_std=0.0), ValueError, r"`teacher_std` must be positive, got 0\."),
    (dict(readout_mean=np.inf), ValueError, r"`readout_mean` must be finite"),
    (dict(readout_mean="1"), TypeError, r"`readout_mean` must be a real number"),
    (dict(v_star=[1.0, 2.0, 3.0]), ValueError, r"`v_star` must be a number or have shape "
                                                r"\(2,\), got shape \(3,\)"),
    (dict(v_star="1"), TypeError, r"`v_star` must be an array of real numbers"),
    (dict(v_star=[1.0, np.inf]), ValueError, r"`v_star` must be finite"),
    (dict(seed=0.5), TypeError, r"`seed` must be None, a non-negative integer"),
    (dict(seed="0"), TypeError, r"`seed` must be None, a non-negative integer"),
    (dict(seed=-1), ValueError, r"`seed` must be an integer >= 0, got -1\."),
]


@pytest.mark.parametrize("kwargs, error, match", _INIT_CASES + [
    (dict(batch=0), ValueError, r"`batch` must be an integer >= 1, got 0\."),
    (dict(batch=2.0), TypeError, r"`batch` must be an integer, got 2\.0\."),
    (dict(K=0), ValueError, r"`K` must be an integer >= 1"),
    (dict(M=1.5), TypeError, r"`M` must be an integer, got 1\.5"),
])
def test_random_overlaps_check_every_argument(kwargs, error, match):
    args = dict(K=2, M=2, N=100, seed=0)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        Overlaps.random(**args)


@pytest.mark.parametrize("kwargs, error, match", _INIT_CASES + [
    (dict(K=0), ValueError, r"`K` must be an integer >= 1"),
    (dict(M="2"), TypeError, r"`M` must be an integer, got the string '2'"),
])
def test_random_weights_check_every_argument(kwargs, error, match):
    args = dict(K=2, M=2, N=100, seed=0)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        random_weights(**args)


def test_seeds_may_be_generators_or_integer_sequences():
    """What numpy.random.default_rng accepts stays accepted (sweeps seed with [seed, g])."""
    a = Overlaps.random(2, 2, N=100, seed=np.random.default_rng([3, 1]))
    b = Overlaps.random(2, 2, N=100, seed=[3, 1])
    np.testing.assert_array_equal(a.Q, b.Q)
    W = random_weights(2, 2, 50, seed=np.random.SeedSequence(4))[0]
    assert W.shape == (2, 50)


def test_weights_from_overlaps_checks_its_arguments():
    with pytest.raises(TypeError, match="`state` must be an odesolve.Overlaps"):
        weights_from_overlaps(np.eye(4), 100)
    with pytest.raises(TypeError, match=r"`N` must be an integer, got the string '100'"):
        weights_from_overlaps(STATE, "100")
    with pytest.raises(ValueError, match=r"`seed` must be an integer >= 0"):
        weights_from_overlaps(STATE, 100, seed=-3)


def test_seed_statistics_needs_a_trajectory():
    with pytest.raises(TypeError, match="`traj` must be an odesolve.Trajectory"):
        seed_statistics({"Q": np.zeros(3)})


def test_public_names_exist():
    assert odesolve.integrate is integrate
