"""Figures of runs with diverged members: drawn from real diverging runs and checked on the
matplotlib axes (finite limits set by the successful members, lines present, failures marked,
round-off clipped on log axes), not only that a file is written."""
import warnings

import numpy as np
import pytest

import odesolve
from odesolve import Overlaps, TeacherStudent
from odesolve.comparison import plot_comparison
from odesolve.plotting import FAILED_SPAN, FAILED_SPAN_START, LOG_FLOOR, plot_trajectory
from odesolve.sweeps.plots import plot_curves, plot_heatmap, plot_sweep

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")     # overflow in blow-ups


@pytest.fixture(scope="module")
def diverging_sweep():
    """The reported case: linear units, fixed readouts (eta_v = 0), eta up to 8. Members with
    eta v^2 beyond the stability limit blow up and are flagged when an overlap passes
    odesolve.committee.BLOWUP (before that bound, values grew to ~1e304 unflagged)."""
    res = odesolve.sweep(TeacherStudent(2, 2, "linear", eta_v=0.0),
                         axes={"eta": [1.0, 2.0, 4.0, 8.0], "readout_std": [0.1, 1.0]},
                         replicas=3, t_max=50.0, progress=False)
    ok = res.success
    assert ok.any() and (~ok).any() and (~ok).reshape(4, 2, 3).all(axis=-1).any()
    assert np.nanmax(res["eps_g"][~ok]) > 1e10      # blown up (to the BLOWUP bound) before failing
    return res


def _curves(ax):
    return [ln for ln in ax.lines if len(ln.get_xdata()) > 1]


def _crosses(ax):
    return [ln for ln in ax.lines if ln.get_marker() == "x" and len(ln.get_xdata()) == 1]


def _finite_limits(ax):
    lo, hi = ax.get_ylim()
    assert np.isfinite(lo) and np.isfinite(hi) and lo < hi
    return lo, hi


def test_sweep_curves_are_scaled_by_the_successful_members(diverging_sweep):
    res = diverging_sweep
    fig = plot_curves(res)
    ax = fig.axes[0]
    lo, hi = _finite_limits(ax)
    ok = res.success
    good, bad = res["eps_g"][ok], res["eps_g"][~ok]
    top_good = np.nanmax(good)
    # the successful members are in view; the blow-up of the failed ones is not
    assert top_good <= hi <= FAILED_SPAN["log"] * top_good * 10 ** (0.05 * np.log10(hi / lo)
                                                                     + 1e-9)
    assert hi < np.nanmax(bad)                                  # the blow-up leaves the frame
    # every member is drawn, every failed one dashed and marked at its failure time
    assert len(_curves(ax)) == res.success.size
    dashed = [ln for ln in _curves(ax) if ln.get_linestyle() == "--"]
    assert len(dashed) == int((~ok).sum())
    crosses = sorted(float(ln.get_xdata()[0]) for ln in _crosses(ax))
    np.testing.assert_allclose(crosses, np.sort(res["t_fail"][~ok]), rtol=1e-12)
    for ln in _crosses(ax):
        assert lo <= ln.get_ydata()[0] <= hi                        # held inside the frame
    assert "diverged" in ax.get_title()


def test_round_off_below_zero_does_not_break_the_log_axis():
    """Members that learn perfectly (linear units, eta < 2) end with eps_g scattered around
    zero, partly negative; they are drawn at the floor LOG_FLOOR * (largest eps_g at t = 0),
    inside the view, next to members that diverged (eta = 4)."""
    res = odesolve.sweep(TeacherStudent(1, 1, "linear", eta_v=0.0),
                         axes={"eta": [0.5, 1.0, 1.5, 4.0]},
                         init={"student_std": 0.5, "readout_std": 0.0, "readout_mean": 1.0},
                         replicas=3, t_max=200.0, progress=False)
    good = res["eps_g"][res.success]
    assert (good < 0).any() and (~res.success).any()
    ax = plot_curves(res).axes[0]
    lo, _ = _finite_limits(ax)
    floor = LOG_FLOOR * np.nanmax(np.abs(res["eps_g"][..., 0]))
    assert 0 < lo <= floor
    drawn = np.concatenate([ln.get_ydata() for ln in _curves(ax)])
    assert np.nanmin(drawn) == pytest.approx(floor, rel=1e-12)


def test_heatmap_marks_failed_cells_and_is_coloured_by_the_successful_members(
        diverging_sweep):
    from matplotlib.patches import Rectangle

    res = diverging_sweep
    fig = plot_heatmap(res, "eps_g_final", x="readout_std", y="eta")
    ax = fig.axes[0]
    failed = (~res.success).mean(axis=-1)                           # (eta, readout_std)
    hatched = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_hatch()]
    cells = sorted((int(round(p.get_y() + 0.5)), int(round(p.get_x() + 0.5))) for p in hatched)
    assert cells == sorted(zip(*np.nonzero(failed == 1)))
    triangles = [ln for ln in ax.lines if ln.get_marker() == "^"]
    n_partial = int(((failed > 0) & (failed < 1)).sum())
    assert n_partial > 0 and sum(len(ln.get_xdata()) for ln in triangles) == n_partial
    # colours: medians over the successful replicas only, computed here
    final = np.where(res.success, res["eps_g_final"], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(final, axis=-1)
    norm = ax.collections[0].norm
    assert norm.vmin == pytest.approx(np.nanmin(median)) and norm.vmax == pytest.approx(
        np.nanmax(median))
    assert "diverged" in ax.get_title()


def test_plot_sweep_writes_both_figures(diverging_sweep, tmp_path):
    paths = plot_sweep(diverging_sweep, tmp_path / "s.npz", observable="eps_g_final")
    assert [p.name for p in paths] == ["s-eps_g_final.png", "s-eps_g.png"]
    assert all(p.stat().st_size > 10_000 for p in paths)


def test_trajectory_figure_of_a_diverging_run():
    """What `odesolve run` draws for a diverging configuration (exit 3): linear units with
    fixed readouts at eta = 2.5 grow like exp((eta^2 - 2 eta) t) until the state overflows."""
    setup = TeacherStudent(1, 1, "linear", eta=2.5, eta_v=0.0)
    state = Overlaps(np.array([[0.25]]), np.array([[0.1]]), np.eye(1), np.ones(1), np.ones(1))
    traj = odesolve.integrate(setup, state, t_max=800.0, n_out=401, method="dopri5",
                              on_failure="flag")
    assert not traj.success and 10 < traj.t_fail < 800
    assert np.nanmax(traj.eps_g) > 1e10
    fig = plot_trajectory(traj)
    eps_ax = fig.axes[0]
    lo, hi = _finite_limits(eps_ax)
    # no successful member: the view reaches FAILED_SPAN_START times the start, not 1e300
    assert hi <= FAILED_SPAN_START["log"] * traj.eps_g[0] * 10 ** (0.05 * np.log10(hi / lo)
                                                                    + 1e-9)
    for ax in fig.axes[:4]:
        lo, hi = _finite_limits(ax)
        lines = _curves(ax)
        assert lines and all(ln.get_linestyle() == "--" for ln in lines)
        shown = np.concatenate([ln.get_ydata() for ln in lines])
        assert np.sum((shown >= lo) & (shown <= hi)) >= 2            # part of the run in view
        crosses = _crosses(ax)
        assert crosses and all(ln.get_xdata()[0] == pytest.approx(traj.t_fail)
                               for ln in crosses)
    assert "diverged at t" in fig._suptitle.get_text()


def test_batched_trajectory_is_scaled_by_its_successful_members():
    """Random readouts: members with large |v| pass the stability limit and diverge."""
    setup = TeacherStudent(1, 1, "linear", eta=1.0, eta_v=0.0)
    states = Overlaps.random(1, 1, batch=12, student_std=0.5, readout_std=1.0, seed=3)
    traj = odesolve.integrate(setup, states, t_max=200.0, n_out=201, method="dopri5",
                              on_failure="flag")
    ok = traj.success
    assert ok.any() and (~ok).any()
    ax = plot_trajectory(traj, member=int(np.flatnonzero(ok)[0])).axes[0]
    lo, hi = _finite_limits(ax)
    top_good = np.nanmax(traj.eps_g[ok])
    assert top_good <= hi <= FAILED_SPAN["log"] * top_good * 10 ** (0.05 * np.log10(hi / lo)
                                                                     + 1e-9)
    assert len(_crosses(ax)) == int((~ok).sum())
    assert f"{int((~ok).sum())} of 12 diverged" in ax.get_legend().get_texts()[0].get_text()


def test_trajectory_with_negative_round_off_keeps_a_log_axis():
    """Perfect learning: eps_g decays to round-off; a value of -5e-13 (as seen at the end of
    such runs) is drawn at the floor, and the axis stays logarithmic and finite."""
    setup = TeacherStudent(1, 1, "linear", eta=1.0, eta_v=0.0)
    state = Overlaps(np.array([[0.25]]), np.array([[0.1]]), np.eye(1), np.ones(1), np.ones(1))
    traj = odesolve.integrate(setup, state, t_max=40.0, n_out=41, method="dopri5")
    traj.eps_g[-5:] = -5e-13                                        # the reported round-off
    ax = plot_trajectory(traj).axes[0]
    lo, hi = _finite_limits(ax)
    assert ax.get_yscale() == "log" and 0 < lo <= LOG_FLOOR * traj.eps_g[0]
    y = _curves(ax)[0].get_ydata()
    assert np.all(np.isfinite(y)) and y[-1] == pytest.approx(LOG_FLOOR * traj.eps_g[0])


def test_comparison_figure_of_a_diverging_run():
    """Both the ODE and the simulation overflow (eta = 4, fixed readouts): the figure keeps
    finite limits near the start's scale and marks both failures."""
    setup = TeacherStudent(1, 1, "linear", eta=4.0, eta_v=0.0)
    state = Overlaps(np.array([[0.25]]), np.array([[0.1]]), np.eye(1), np.ones(1), np.ones(1))
    rep = odesolve.compare(setup, state, N=200, t_max=120.0, n_out=61, seeds=range(4),
                           progress=False)
    assert rep.verdict == "FAIL"
    assert any(rep.info["ode_status"]) and any(rep.info["sim_status"])
    fig = plot_comparison(rep)
    eps0 = rep.ode_mean["eps_g"][0]
    for ax in fig.axes[:4]:
        lo, hi = _finite_limits(ax)
        assert hi < 1e300 and _curves(ax)
        assert len(_crosses(ax)) == 2                               # the ODE and the simulation
    lo, hi = fig.axes[0].get_ylim()
    assert hi <= FAILED_SPAN_START["log"] * eps0 * 10 ** (0.05 * np.log10(hi / lo) + 1e-9)
    assert "diverged: ode and sim" in fig._suptitle.get_text()


@pytest.mark.parametrize("log", [True, False])
def test_values_near_the_float_limit_do_not_break_a_figure(log):
    """A curve that reached 1e305 (a result file written before the blow-up bound, or any
    data) is drawn and the axis limits stay finite instead of matplotlib's autoscaling
    overflowing ("Axis limits cannot be NaN or Inf")."""
    import matplotlib.pyplot as plt

    from odesolve.plotting import draw_member, set_view, view_limits
    t = np.linspace(0.1, 10.0, 50)
    curves = np.stack([np.exp(-t), np.minimum(np.exp(70 * t), 1e305)])
    lim = view_limits(curves, np.array([True, True]), log=log)
    fig, ax = plt.subplots()
    for y in curves:
        draw_member(ax, t, y, lim=lim, log=log)
    set_view(ax, lim, log=log)
    fig.canvas.draw()
    lo, hi = _finite_limits(ax)
    assert hi >= 1e199 and (lo <= np.exp(-10.0) if log else lo <= 0.0)
    plt.close(fig)
