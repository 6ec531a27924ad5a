"""Model spec and state: validation messages, constructors, finite-N initial statistics."""
import numpy as np
import pytest

from odesolve import Overlaps, TeacherStudent


def _state(K=2, M=2):
    return Overlaps(np.eye(K), 0.1 * np.ones((K, M)), np.eye(M), np.ones(K), np.ones(M))


@pytest.mark.parametrize("kwargs, match", [
    (dict(K=0, M=1), r"`K` must be an integer >= 1, got 0\."),
    (dict(K=2, M=1, eta=-1), r"`eta` must be a number >= 0, got -1\."),
    (dict(K=2, M=1, eta_v=-0.1), r"`eta_v` must be a number >= 0, got -0\.1\."),
    (dict(K=2, M=1, sigma=float("nan")), r"`sigma` must be a number, got NaN\."),
    (dict(K=2, M=1, weight_decay=float("inf")), r"`weight_decay` must be finite"),
    (dict(K=2, M=1, activation="sigmoid"), "`activation` must be one of"),
])
def test_teacher_student_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TeacherStudent(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(K=2, M=1.5), r"`M` must be an integer, got 1\.5\."),
    (dict(K=True, M=1), r"`K` must be an integer, got the boolean True\."),
    (dict(K="2", M=1), r"`K` must be an integer, got the string '2'\."),
    (dict(K=2, M=1, eta="0.5"), r"`eta` must be a real number, got the string '0\.5'\."),
    (dict(K=2, M=1, eta_v="0"), "`eta_v` must be a real number"),
    (dict(K=2, M=1, sigma=[0.1]), "`sigma` must be a real number"),
    (dict(K=2, M=1, weight_decay="1e-3"), "`weight_decay` must be a real number"),
])
def test_teacher_student_refuses_wrong_types_instead_of_converting(kwargs, match):
    with pytest.raises(TypeError, match=match):
        TeacherStudent(**kwargs)


def test_eta_v_none_means_eta_and_zero_means_fixed_readouts():
    assert TeacherStudent(2, 2, eta=0.3).eta_readout == 0.3
    assert TeacherStudent(2, 2, eta=0.3, eta_v=0).eta_readout == 0.0


def test_overlaps_shape_errors_name_the_field():
    with pytest.raises(ValueError, match="`Q` has shape"):
        Overlaps(np.eye(3), np.zeros((2, 2)), np.eye(2), np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="`v_star` has shape"):
        Overlaps(np.eye(2), np.zeros((2, 2)), np.eye(2), np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="`T` contains non-finite"):
        Overlaps(np.eye(2), np.zeros((2, 2)), np.full((2, 2), np.inf), np.ones(2), np.ones(2))


def test_overlaps_reject_asymmetric_and_non_positive_definite():
    Q = np.array([[1.0, 0.2], [0.1, 1.0]])
    with pytest.raises(ValueError, match="`Q` must be symmetric"):
        Overlaps(Q, np.zeros((2, 1)), np.eye(1), np.ones(2), np.ones(1))
    # R too large for Q and T: |R| > sqrt(Q T)
    with pytest.raises(ValueError, match="positive semi-definite"):
        Overlaps(np.eye(1), 1.5 * np.ones((1, 1)), np.eye(1), np.ones(1), np.ones(1))


def test_batch_axis_errors_name_the_fields():
    with pytest.raises(ValueError, match=r"`R` has the leading axes \(2, 3\)"):
        Overlaps(np.eye(2), np.zeros((2, 3, 2, 2)), np.eye(2), np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match=r"batch sizes of the fields do not agree "
                                         r"\(`Q` 3, `v` 2\)"):
        Overlaps(np.zeros((3, 2, 2)), np.zeros((2, 2)), np.eye(2), np.ones((2, 2)), np.ones(2))


def test_batched_overlaps_broadcast_and_name_bad_member():
    Q = np.stack([np.eye(2), np.eye(2)])
    R = np.stack([np.zeros((2, 2)), np.full((2, 2), 0.9)])   # member 1: not PD
    with pytest.raises(ValueError, match="batch member 1"):
        Overlaps(Q, R, np.eye(2), np.ones(2), np.ones(2))
    st = Overlaps(Q, np.zeros((2, 2, 2)), np.eye(2), np.ones(2), np.ones(2))
    assert st.batch_shape == (2,) and len(st) == 2 and st[1].Q.shape == (2, 2)
    assert st.covariance.shape == (2, 4, 4)


def test_from_weights_divides_by_input_dimension():
    rng = np.random.default_rng(0)
    W, Ws = rng.standard_normal((3, 500)), rng.standard_normal((2, 500))
    st = Overlaps.from_weights(W, Ws, np.ones(3), np.ones(2))
    np.testing.assert_allclose(st.Q, W @ W.T / 500)
    np.testing.assert_allclose(st.R, W @ Ws.T / 500)
    np.testing.assert_allclose(st.T, Ws @ Ws.T / 500)


def test_random_overlaps_have_the_statistics_of_drawn_vectors():
    """Q, R, T from the Wishart sampler match overlaps of explicitly drawn N-vectors."""
    K, M, N, B = 2, 2, 200, 4000
    st = Overlaps.random(K, M, N=N, student_std=0.5, readout_std=0.3, teacher_std=1.0,
                         batch=B, seed=1)
    rng = np.random.default_rng(2)
    W = 0.5 * rng.standard_normal((B, K, N))
    Ws = rng.standard_normal((B, M, N))
    Q_ref = np.einsum("bkn,bln->bkl", W, W) / N
    R_ref = np.einsum("bkn,bmn->bkm", W, Ws) / N
    for got, ref in ((st.Q, Q_ref), (st.R, R_ref)):
        se = ref.std(axis=0) / np.sqrt(B)
        assert np.all(np.abs(got.mean(0) - ref.mean(0)) < 5 * np.sqrt(2) * se + 1e-12)
        np.testing.assert_allclose(got.std(0), ref.std(0), rtol=0.1)
    assert abs(st.v.std() - 0.3) < 0.02
