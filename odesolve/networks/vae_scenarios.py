"""Deep linear beta-VAE scenario (issue 15): ``odesolve scenario vae_imbalance``.

Disentanglement of a deep linear beta-VAE (odesolve.networks.vae) against the latent imbalance
lambda of its start (encoder versus decoder, :func:`~odesolve.networks.vae.vae_chain`), along
training, with the negative ELBO reached against its closed-form optimum
(docs/theory/vae.md#theory-vae-findings).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import check_bool, check_int, check_real
from .vae import (dci_disentanglement, factor_completeness, factor_data, factor_map,
                  latent_imbalance, latent_purity, negative_elbo, optimal_negative_elbo,
                  train_vae, vae_chain)

__all__ = ["vae_imbalance", "vae_imbalance_scan", "VAE_SCENARIOS"]

_LEARNED = 1e-3        # a network has learned when its -ELBO is within this of the optimum
_SETUP = {"d": 8, "variances": [6.0, 3.0, 1.5], "noise": 0.5, "sigma2": 0.5, "beta": 1.0,
          "scale": 0.5, "data_seed": 0}


def _quartiles(x: np.ndarray) -> list[list[float]]:
    """Median and quartiles over the last axis (NaN-aware), as [q25, q50, q75] lists."""
    return np.nanquantile(x, [0.25, 0.5, 0.75], axis=-1).tolist()


def _run_point(S, A, var, depths, lam, n_seeds, times, setup):
    """Train n_seeds networks from lambda-balanced starts; the measures at ``times``."""
    De, Dd = depths
    k = len(var)
    chains = [vae_chain(setup["d"], k, De, Dd, lam, setup["scale"], seed=[s, De, Dd])
              for s in range(n_seeds)]
    enc = [np.stack([c[0][l] for c in chains]) for l in range(De)]
    dec = [np.stack([c[1][l] for c in chains]) for l in range(Dd)]
    log_var = np.zeros((n_seeds, k))
    lr = 0.02 / (1.0 + abs(lam)) ** ((max(De, Dd) + 1) / 2)   # stable for these starts
    beta, sigma2 = setup["beta"], setup["sigma2"]
    purity, dci, compl, loss = [], [], [], []
    diverged = np.zeros(n_seeds, dtype=bool)
    t_prev = 0.0
    for t in times:
        if t > t_prev:
            res = train_vae(S, enc, dec, log_var, t - t_prev, lr, beta, sigma2, n_record=2)
            enc, dec, log_var = res["enc"], res["dec"], res["log_var"]
            diverged |= res["diverged"]
        t_prev = t
        M = factor_map(enc, A, var)
        purity.append(np.where(diverged, np.nan, latent_purity(M)))
        compl.append(np.where(diverged, np.nan, factor_completeness(M)))
        dci.append(np.where(diverged, np.nan, dci_disentanglement(M)))
        loss.append(np.where(diverged, np.nan, negative_elbo(S, enc, dec, log_var, beta,
                                                             sigma2)))
    imb = np.diagonal(latent_imbalance(enc, dec), axis1=-2, axis2=-1).mean(-1)
    return (np.array(purity), np.array(compl), np.array(dci), np.array(loss), diverged,
            imb, lr)


def _first_time(times, x, level):
    """First recorded time at which x (n_t, n_seeds) reaches ``level``; inf if never."""
    hit = x >= level
    idx = np.where(hit.any(0), hit.argmax(0), -1)
    return np.where(idx >= 0, np.asarray(times)[idx], np.inf)


def _time_quartiles(t: np.ndarray) -> list[float]:
    """Quartiles of first-passage times (inf: never), without interpolating."""
    return [float(q) for q in np.quantile(t, [0.25, 0.5, 0.75], method="inverted_cdf")]


def vae_imbalance_scan(lams: Sequence[float], depths: Sequence[tuple[int, int]],
                       n_seeds: int, times: Sequence[float], scale: float = 0.5,
                       beta: float = 1.0) -> dict[str, Any]:
    """Train ``n_seeds`` VAEs per (depth, lambda) on the scenario's data (d = 8, factor
    variances 6, 3, 1.5, noise 0.5, sigma2 = 0.5) and measure them at ``times``.

    Parameters
    ----------
    lams : sequence of float
        Latent imbalances of the starts (:func:`~odesolve.networks.vae.vae_chain`).
    depths : sequence of (int, int)
        (encoder, decoder) depths, each >= 1.
    n_seeds : int
        Starts per point, >= 1 (seeds 0 .. n_seeds - 1).
    times : sequence of float
        Increasing measurement times, the first 0.
    scale : float
        Scale of the start's drawn layer, positive.
    beta : float
        KL weight, positive.

    Returns
    -------
    dict
        JSON-serialisable: ``scenario``, the setup, ``lambda``, ``depths``, ``times``, and per
        depth and lambda the quartiles over seeds of the purity, completeness and DCI score at
        every time, of the ELBO gap to the optimum, of the time to purity 0.95 and of the time
        to learn (gap <= 1e-3; "inf": not by the last time), the final latent imbalance
        (mean diagonal of :func:`~odesolve.networks.vae.latent_imbalance`), the step size, and
        the numbers of diverged runs and of runs not learned by the last time.

    Raises
    ------
    TypeError, ValueError
        naming the argument of the wrong type or out of range.
    """
    if not np.iterable(lams) or not np.iterable(depths) or \
            not all(np.iterable(dd) and len(dd) == 2 for dd in depths):
        raise TypeError(f"`lams` must be a sequence of numbers and `depths` a sequence of "
                        f"(encoder, decoder) pairs, got {lams!r} and {depths!r}.")
    lams = [check_real("lams", lam) for lam in lams]
    depths = [(check_int("depths", a, minimum=1), check_int("depths", b, minimum=1))
              for a, b in depths]
    n_seeds = check_int("n_seeds", n_seeds, minimum=1)
    times = [check_real("times", t, minimum=0.0) for t in times]
    if not times or times[0] != 0.0 or np.any(np.diff(times) <= 0):
        raise ValueError(f"`times` must increase strictly from 0, got {times}.")
    setup = dict(_SETUP, scale=check_real("scale", scale, positive=True),
                 beta=check_real("beta", beta, positive=True))
    var = np.array(setup["variances"])
    A, S = factor_data(setup["d"], var, setup["noise"], seed=setup["data_seed"])
    L_opt = optimal_negative_elbo(S, var.size, setup["beta"], setup["sigma2"])
    out: dict[str, Any] = {"scenario": "vae_imbalance", "setup": setup, "lambda": lams,
                           "depths": [list(dd) for dd in depths], "times": times,
                           "n_seeds": n_seeds, "optimal_negative_elbo": L_opt,
                           "eigenvalues_S": np.linalg.eigvalsh(S)[::-1].tolist(),
                           "results": []}
    for dd in depths:
        per: dict[str, Any] = {"depth_enc": dd[0], "depth_dec": dd[1], "purity": [],
                               "completeness": [], "dci": [], "elbo_gap": [],
                               "t_purity_95": [], "t_learned": [], "final_imbalance": [],
                               "lr": [], "n_diverged": [], "n_unlearned": []}
        for lam in lams:
            pur, comp, dci, loss, div, imb, lr = _run_point(S, A, var, dd, lam, n_seeds,
                                                            times, setup)
            gap = loss - L_opt
            per["purity"].append(_quartiles(pur))
            per["completeness"].append(_quartiles(comp))
            per["dci"].append(_quartiles(dci))
            per["elbo_gap"].append(_quartiles(gap))
            t95 = _first_time(times, np.nan_to_num(pur, nan=-1.0), 0.95)
            per["t_purity_95"].append(_time_quartiles(t95))
            t_learned = _first_time(times, np.nan_to_num(-gap, nan=-np.inf), -_LEARNED)
            per["t_learned"].append(_time_quartiles(t_learned))
            per["final_imbalance"].append(_quartiles(imb))
            per["lr"].append(lr)
            per["n_diverged"].append(int(div.sum()))
            per["n_unlearned"].append(int(np.sum(~(gap[-1] <= _LEARNED))))
        out["results"].append(per)
    return _finite(out)


def vae_imbalance(quick: bool = False) -> dict[str, Any]:
    """Disentanglement score (:func:`~odesolve.networks.vae.latent_purity`) of a deep linear
    beta-VAE against the latent imbalance lambda of its start, along training
    (:func:`vae_imbalance_scan`): lambda from -2 to 2, depths 1+1, 2+2, 3+3, 16 seeds per
    point, t up to 640; ``quick``: lambda -2, 0, 2, depth 1+1, 8 seeds, t up to 160.

    Returns
    -------
    dict
        As :func:`vae_imbalance_scan`.

    Raises
    ------
    TypeError
        ``quick`` is not a boolean.
    """
    if check_bool("quick", quick):
        return vae_imbalance_scan([-2.0, 0.0, 2.0], [(1, 1)], 8,
                                  [0.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0])
    return vae_imbalance_scan([-2.0, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0],
                              [(1, 1), (2, 2), (3, 3)], 16,
                              [0.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0])


def _finite(x: Any) -> Any:
    """Replace inf/NaN floats by strings so the dict is strict JSON."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not np.isfinite(x):
        return str(x)
    return x


def _arr(x: Any) -> np.ndarray:
    """Nested lists of numbers and "nan"/"inf" strings as a float array."""
    return np.array(x, dtype=object).astype(float)


def _plot_vae_imbalance(d: dict[str, Any], axes: Any) -> None:
    """(left) median purity against time, per lambda (first depth); (middle) purity at an
    intermediate time against lambda, per depth, with quartiles; (right) ELBO gap there."""
    import matplotlib

    ax_t, ax_l, ax_g = axes
    times = np.array(d["times"])
    lams = np.array(d["lambda"])
    j = min(3, len(times) - 1)             # intermediate time (t = 20)
    cmap = matplotlib.colormaps["coolwarm"]
    first = d["results"][0]
    for i, lam in enumerate(lams):
        med = _arr(first["purity"][i][1])
        ax_t.plot(times[1:], med[1:], "o-", ms=3,
                  color=cmap((lam - lams.min()) / max(np.ptp(lams), 1e-12)),
                  label=f"lambda = {lam:g}")
    ax_t.set_xscale("log")
    ax_t.set_xlabel("training time t")
    ax_t.set_ylabel("latent purity (median)")
    ax_t.set_title(f"depth {first['depth_enc']}+{first['depth_dec']}")
    ax_t.legend(fontsize=6)
    for per in d["results"]:
        lab = f"depth {per['depth_enc']}+{per['depth_dec']}"
        q = _arr(per["purity"])[:, :, j].T
        ax_l.errorbar(lams, q[1], yerr=[q[1] - q[0], q[2] - q[1]], fmt="o-", ms=3,
                      capsize=2, label=lab)
        g = _arr(per["elbo_gap"])[:, :, j].T
        ax_g.errorbar(lams, np.maximum(g[1], 1e-16),
                      yerr=[np.maximum(g[1] - g[0], 0), np.maximum(g[2] - g[1], 0)],
                      fmt="o-", ms=3, capsize=2, label=lab)
    ax_l.set_xlabel("latent imbalance lambda")
    ax_l.set_ylabel(f"latent purity at t = {times[j]:g}")
    ax_l.legend(fontsize=7)
    ax_g.set_yscale("log")
    ax_g.set_xlabel("latent imbalance lambda")
    ax_g.set_ylabel(f"-ELBO minus optimum at t = {times[j]:g}")


VAE_SCENARIOS = {
    "vae_imbalance": (vae_imbalance, _plot_vae_imbalance, 3,
                      "deep linear beta-VAE: disentanglement against latent imbalance"),
}
