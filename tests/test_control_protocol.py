"""Gradients through the continual protocol with EWC (odesolve.control.protocol): the
forward value equals the multi-task protocol ODE, and the adjoint, the forward sensitivities
and central differences agree through the task switch and the EWC anchor made there."""
import numpy as np
import pytest

from odesolve.control import piecewise_constant, piecewise_linear
from odesolve.control.protocol import continual_gradient
from odesolve.multitask import MultiTaskSetup, MultiTaskState, continual, integrate_protocol
from odesolve.multitask.model import teacher_overlaps


def _two_tasks(activation, heads="multi"):
    setup = MultiTaskSetup(2, 1, P=2, heads=heads, eta=0.6, sigma=0.2, activation=activation)
    T = teacher_overlaps(1, 2, feature_similarity=0.5)
    st = MultiTaskState.random(setup, T, [[1.0], [1.0]], N=10_000, seed=4, student_std=0.5,
                               readout_std=0.5)
    return setup, st


@pytest.mark.parametrize("heads", ["multi", "single"])
def test_forward_value_equals_the_protocol_ode(heads):
    setup, st = _two_tasks("erf", heads)
    res = continual_gradient(setup, st, 4.0, 3.0, ewc=0.8, method="none")
    ref = integrate_protocol(setup, st, continual(4.0, 3.0, ewc=0.8), method="rk4", dt=0.05,
                             n_out=3)
    np.testing.assert_allclose(res["eps_final"], ref.eps_g[-1], rtol=1e-10)


@pytest.mark.parametrize("activation, ewc, heads", [("erf", 1.0, "multi"),
                                                    pytest.param("linear", 1.0, "multi",
                                                                 marks=pytest.mark.slow),
                                                    ("relu", None, "multi"),
                                                    ("erf", 1.0, "single")])
def test_gradients_through_the_switch_with_ewc(activation, ewc, heads, validation):
    """ReLU runs without EWC: at the switch the student's fields coincide with the new
    anchors', where ReLU's kernels have infinite partial derivatives (docs/theory/control.md)."""
    setup, st = _two_tasks(activation, heads)
    sch = ({"eta": piecewise_constant(4.0, [0.7, 0.4])},
           {"eta": piecewise_linear([0.0, 3.0], [0.5, 0.3])})
    if ewc is not None:
        sch[1]["ewc"] = piecewise_constant(3.0, [1.5, 0.5])
    kw = dict(cost_weights=(1.0, 0.7), steps_per_unit=10)
    kw["ewc"] = ewc
    adj = continual_gradient(setup, st, 4.0, 3.0, schedules=sch, **kw)
    fwd = continual_gradient(setup, st, 4.0, 3.0, schedules=sch, method="forward", **kw)

    def flat(r):
        return np.concatenate([r["grad"][0]["eta"], r["grad"][1]["eta"],
                               r["grad"][1].get("ewc", []), r["grad_initial"]["R"].ravel()])

    g_adj, g_fwd = flat(adj), flat(fwd)
    agree = np.max(np.abs(g_adj - g_fwd)) / np.max(np.abs(g_fwd))
    h, fd = 1e-6, []
    for phase, name in ((0, "eta"), (1, "eta")) + (((1, "ewc"),) if ewc else ()):
        for j in range(sch[phase][name].n_values):
            vals = [sch[phase][name].values.copy() for _ in range(2)]
            vals[0][j] += h
            vals[1][j] -= h
            obj = []
            for v in vals:
                s = [dict(sch[0]), dict(sch[1])]
                s[phase][name] = sch[phase][name].with_values(v)
                obj.append(continual_gradient(setup, st, 4.0, 3.0, schedules=tuple(s),
                                              method="none", **kw)["objective"])
            fd.append((obj[0] - obj[1]) / (2 * h))
    for i in range(st.K):
        for n in range(st.R.shape[1]):
            obj = []
            for sign in (1, -1):
                R = st.R.copy()
                R[i, n] += sign * h
                moved = MultiTaskState(st.Q, R, st.T, st.V, st.V_star, check=False)
                obj.append(continual_gradient(setup, moved, 4.0, 3.0, schedules=sch,
                                              method="none", **kw)["objective"])
            fd.append((obj[0] - obj[1]) / (2 * h))
    rel = np.max(np.abs(g_adj - np.array(fd))) / np.max(np.abs(fd))
    validation(f"control.protocol.switch.{activation}.{heads}", area="Optimal protocols",
               claim="gradients through a continual protocol (task switch; for erf and linear "
                     "the second task uses EWC around the weights at the switch): adjoint, "
                     "forward sensitivities and central differences agree",
               method=f"K = 2, two one-unit teachers (a = 0.5), {heads}-head, trained heads, "
                      f"sigma = 0.2, EWC {ewc}; eta schedules in both phases, the EWC "
                      f"strength schedule, the initial R; adjoint vs forward {agree:.1e}",
               measured=float(max(rel, agree)), bound=1e-6, unit="relative")
    assert agree < 1e-8 and rel < 1e-6


def test_refusals_name_the_argument():
    setup, st = _two_tasks("relu")
    with pytest.raises(ValueError, match="`ewc` with the ReLU activation"):
        continual_gradient(setup, st, 1.0, 1.0, ewc=1.0)
    with pytest.raises(TypeError, match=r"`schedules\[0\]\['eta'\]` must be a Schedule"):
        continual_gradient(setup, st, 1.0, 1.0, ewc=None, schedules=({"eta": 0.5}, {}))


def test_pieces_of_three_and_four_share_one_step_grid():
    setup, st = _two_tasks("erf")
    sch = ({"eta": piecewise_constant(3.0, [0.5, 0.6, 0.7]),
            "eta_v": piecewise_constant(3.0, [0.5, 0.6, 0.7, 0.8])}, {})
    res = continual_gradient(setup, st, 3.0, 1.0, ewc=None, schedules=sch, steps_per_unit=5,
                             method="none")
    assert res["steps"][0] % 12 == 0 and res["steps"][0] >= 15
