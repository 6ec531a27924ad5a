"""Convergence order of the solvers on the committee ODE, against a tight reference."""
import numpy as np
import pytest

import odesolve
from odesolve import Overlaps, TeacherStudent

SETUP = TeacherStudent(2, 2, "erf", eta=1.0, sigma=0.1)
STATE = Overlaps.random(2, 2, N=100, student_std=0.8, readout_std=0.5, seed=3)
T_END = 4.0


@pytest.fixture(scope="module")
def reference():
    traj = odesolve.integrate(SETUP, STATE, t_max=T_END, method="dopri5", rtol=1e-14,
                              atol=1e-16, times=[T_END])
    return np.concatenate([traj.Q[-1].ravel(), traj.R[-1].ravel(), traj.v[-1]])


@pytest.mark.parametrize("method, order, dts", [
    ("euler", 1, (0.02, 0.01, 0.005)),
    ("rk4", 4, (0.2, 0.1, 0.05)),
    ("dopri5", 5, (0.16, 0.08, 0.04)),         # fixed-step 5th-order formula
])
def test_solver_order_on_committee_ode(reference, method, order, dts, validation):
    errors = []
    for dt in dts:
        traj = odesolve.integrate(SETUP, STATE, t_max=T_END, method=method, dt=dt,
                                  times=[T_END])
        y = np.concatenate([traj.Q[-1].ravel(), traj.R[-1].ravel(), traj.v[-1]])
        errors.append(np.abs(y - reference).max())
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    validation(f"solvers.order.committee.{method}", area="Solvers",
               claim=f"{method} converges with order {order} on the committee ODE",
               method="slope of log(error) against log(dt), against a dopri5 reference at "
                      "rtol = 1e-14", measured=abs(slope - order), bound=0.3,
               unit="|fitted order - order|", extra={"fitted order": slope})
    assert abs(slope - order) < 0.3, (slope, errors)
    assert errors[-1] > 1e-13, "errors hit the reference's precision; the order is not measured"
