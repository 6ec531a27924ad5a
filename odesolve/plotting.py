"""Figures of trajectories: eps_g(t) and the order parameters."""
from __future__ import annotations

from .io import atomic_path

__all__ = ["plot_trajectory"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_trajectory(traj, path=None, title=None, member: int = 0):
    """Plot eps_g(t) (log-log) and the overlaps R, Q and readouts v against t.

    Parameters
    ----------
    traj : Trajectory
        For a batched trajectory, ``member`` is plotted (eps_g of all members in grey).
    path : str or Path, optional
        Where to save the figure (written atomically); otherwise the figure is returned.
    """
    plt = _pyplot()
    one = traj.member(member) if traj.is_batched else traj
    t = one.t
    K, M = one.R.shape[-2:]
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8), constrained_layout=True)
    ax = axes[0]
    if traj.is_batched:
        for b in range(min(traj.eps_g.shape[0], 50)):
            ax.loglog(t[1:], traj.eps_g[b, 1:], color="0.8", lw=0.7)
    ax.loglog(t[1:], one.eps_g[1:], color="k")
    ax.set(xlabel="t (examples / N)", ylabel=r"$\epsilon_g$", title="generalisation error")
    ax = axes[1]
    for i in range(K):
        for n in range(M):
            ax.plot(t, one.R[:, i, n], label=f"$R_{{{i + 1}{n + 1}}}$")
    ax.set(xscale="log", xlabel="t", title="student-teacher overlaps R")
    ax = axes[2]
    for i in range(K):
        for k in range(i, K):
            ax.plot(t, one.Q[:, i, k], label=f"$Q_{{{i + 1}{k + 1}}}$")
    ax.set(xscale="log", xlabel="t", title="student-student overlaps Q")
    ax = axes[3]
    for i in range(K):
        ax.plot(t, one.v[:, i], label=f"$v_{{{i + 1}}}$")
    ax.set(xscale="log", xlabel="t", title="readouts v")
    for ax in axes[1:]:
        if ax.get_legend_handles_labels()[0] and len(ax.get_legend_handles_labels()[0]) <= 12:
            ax.legend(fontsize=7, ncol=2)
    s = traj.setup
    fig.suptitle(title or f"{s.activation_name}, K={s.K}, M={s.M}, eta={s.eta:g}, "
                 f"eta_v={s.eta_readout:g}, sigma={s.sigma:g}, kappa={s.weight_decay:g}")
    return save_figure(fig, path)


def save_figure(fig, path=None, dpi: int = 120):
    """Write ``fig`` atomically to ``path`` (format from the suffix), close it and return the
    path; without a path return the figure unchanged."""
    if path is None:
        return fig
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=str(path).rsplit(".", 1)[-1])
    _pyplot().close(fig)
    return path
