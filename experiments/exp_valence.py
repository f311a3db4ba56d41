"""Issue 28 item 2 (ROUNDS.md rounds 6-7): which valence beats P(positive) on Emotion6 *and*
Twitter I with Emotion6 r held. None of the 209 recipes did with r >= 0.755; with the margin
relaxed, ``--grid v4``'s pol+ppos+logp recipe shipped as v4 (``--check-v4``: the shipped code).

Step 1 (``--cache``, the expensive part, one process): for every fold seed and outer fold, v3's
nested fit as ``moodtagger eval`` runs it (``fit_selected`` + v3's corrections; ``--fixed``: the
L2 strengths fixed at v3's choice, round 5's exploration protocol), pickled in /tmp/valcache with
the inner out-of-fold polarity and mood logits. Step 2 (default): every valence recipe of one
family (:func:`recipes`) fitted on each outer training part from those pickles and scored on the
held-out folds (Emotion6 Pearson/Spearman, Twitter I AUC), paired with P(positive) and v3.

    MOODTAGGER_SHARED_DATA=/work/shared/data python experiments/exp_valence.py --cache --fixed
    python experiments/exp_valence.py --grid ls        # also: offset, ppos, logistic
"""

from __future__ import annotations

import argparse
import copy
import pickle
from pathlib import Path

import numpy as np

CACHE = Path("/tmp/valcache")


def cache(seeds, k=5, fixed=False):
    from threadpoolctl import threadpool_limits

    from moodtagger.training import multitask_data as mtd
    from moodtagger.training.configs import V3_CONFIG as cfg
    from moodtagger.training.multitask import fit_selected, projection
    from moodtagger.training.multitask_v3 import domain_score, fit_everyday_prior, fit_joint_valence

    if fixed:  # exploration: v3's chosen strengths fixed (one inner pass instead of four)
        import dataclasses

        cfg = dataclasses.replace(cfg, pol_lambdas=(1.0,), mood_lambdas=(1.0,))
    data = mtd.load_all(cfg.parts, flip_tta=cfg.flip_tta, everyday=True)
    s = data.split
    CACHE.mkdir(exist_ok=True)
    with threadpool_limits(1):
        for seed in seeds:
            folds = mtd.make_folds(
                s.ap_y, data.ap_groups, s.tw_pos, s.tw_agree, data.tw_groups, len(s.e6_va), k, seed
            )
            in_folds = mtd.inet_folds(len(s.in_x), k, seed)
            for f in range(k):
                out = CACHE / f"s{seed}f{f}.pkl"
                if out.exists():
                    continue
                tr_ap, tr_tw, tr_e6 = folds.ap != f, folds.tw != f, folds.e6 != f
                tr = s.subset(tr_ap, tr_tw, tr_e6, in_folds != f)
                groups = (data.ap_groups[tr_ap], data.tw_groups[tr_tw])
                base, inner = fit_selected(tr, groups, cfg, seed=seed * 100 + f)
                p = copy.deepcopy(base)
                axes = projection(tr, cfg).axes
                p.chosen.update(fit_joint_valence(p, tr, inner, cfg, axes))
                score = domain_score(p, tr, cfg, axes)
                c = fit_everyday_prior(p, tr, cfg, axes)
                out.write_bytes(
                    pickle.dumps(
                        dict(base=base, v3=p, inner=inner, axes=axes, score=score, c=c, folds=folds)
                    )
                )
                print(f"seed {seed} fold {f} cached", flush=True)


def _logp(pl, ml_t, t_pol):
    """8 mood log-probabilities from the raw polarity logit and the tempered, corrected mood
    logits (what V2Head computes)."""
    from moodtagger.training.multitask_data import NEG_IDX, POS_IDX

    def lsm(z):
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    x = pl / t_pol
    lp_pos = -np.logaddexp(0, -x)
    lp_neg = -np.logaddexp(0, x)
    out = np.zeros(ml_t.shape)
    out[:, POS_IDX] = lp_pos[:, None] + lsm(ml_t[:, POS_IDX])
    out[:, NEG_IDX] = lp_neg[:, None] + lsm(ml_t[:, NEG_IDX])
    return out


def fold_rows(data, seed, f):
    """Training rows (outer training part: Emotion6 + Twitter I, inner out-of-fold polarity and
    mood logits) and test rows (held-out fold, v3's fitted head) with every candidate feature."""
    from moodtagger.training.multitask import polarity_targets
    from moodtagger.training.multitask_data import view_mean

    d = pickle.loads((CACHE / f"s{seed}f{f}.pkl").read_bytes())
    s, folds, p, inner, axes = data.split, d["folds"], d["v3"], d["inner"], d["axes"]
    a, a0 = d["score"]
    c = d["c"]
    views = (0,)

    def z(x):
        return (view_mean(x, views) - p.mu) / p.sigma

    rows = {}
    for part in ("train", "test"):
        e6m = folds.e6 != f if part == "train" else folds.e6 == f
        twm = folds.tw != f if part == "train" else folds.tw == f
        ze, zt = z(s.e6_x[e6m]), z(s.tw_x[twm])
        if part == "train":
            pl = np.concatenate([inner.e6_pol, inner.tw_pol])
            ml = np.concatenate([inner.e6_mood, inner.tw_mood]) / p.t_mood
            zz = np.concatenate([ze, zt])
            ml = ml + (zz @ a + a0)[:, None] * c[None]
        else:
            zz = np.concatenate([ze, zt])
            pl_e, ml_e, _ = p.logits(view_mean(s.e6_x[e6m], views))
            pl_t, ml_t, _ = p.logits(view_mean(s.tw_x[twm], views))
            pl = np.concatenate([pl_e, pl_t])
            ml = np.concatenate([ml_e, ml_t]) / p.t_mood
        va_v3 = zz @ p.w_va[:, 0] + p.b_va[0]
        tw_share = polarity_targets(s)[1][twm]
        rows[part] = dict(
            n_e6=int(e6m.sum()),
            pol=pl,
            logp=_logp(pl, ml, p.t_pol),
            pcs=zz @ axes,
            v3=va_v3,
            y=np.concatenate([s.e6_va[e6m, 0], 3 + 4 * tw_share]),
            share=tw_share,
            is_tw=np.concatenate([np.zeros(e6m.sum()), np.ones(twm.sum())]) * (part == "train"),
            tw_pos=s.tw_pos[twm],
            t_pol=p.t_pol,
        )
    return rows


def design(r, recipe):
    cols = [r["pol"][:, None]]
    if recipe.get("logp"):
        cols.append(r["logp"])
    if recipe.get("prob"):
        cols.append(np.exp(r["logp"]))
    if recipe.get("ppos"):
        cols.append((1 / (1 + np.exp(-r["pol"] / r["t_pol"])))[:, None])
    if recipe.get("offset"):  # Twitter I's own intercept (training only: 0 at test time)
        cols.append(r["is_tw"][:, None])
    free = np.concatenate(cols, 1)
    k = recipe.get("pcs", 0)
    return free, r["pcs"][:, :k]


def fit_logistic_joint(free, z, y_e6, share, n_e6, lam_tw, alpha):
    """min mean_e6 (y - f)^2 + lam_tw * mean_tw logloss(sigmoid(beta f + beta0), share)
    + alpha/n_e6 |W|^2, f = free a + z W + b; (a, b, beta, beta0 free). Returns a, W, b."""
    from scipy.optimize import minimize

    u = np.concatenate([free, z], 1).astype(np.float64)
    mu, sd = u[:n_e6].mean(0), u[:n_e6].std(0).clip(1e-6)
    u = (u - mu) / sd
    kf, d = free.shape[1], u.shape[1]
    pen = np.full(d, alpha / n_e6) / sd**2  # the penalty on the original PC scale
    pen[:kf] = 0.0
    ue, ut = u[:n_e6], u[n_e6:]
    ym = y_e6.mean()

    def f(th):
        w, b, beta, beta0 = th[:d], th[d], th[d + 1], th[d + 2]
        fe = ue @ w + b
        ft = ut @ w + b
        re = fe - (y_e6 - ym)
        loss = (re**2).mean() + (pen * w * w).sum()
        g_w = 2 * ue.T @ re / n_e6 + 2 * pen * w
        g_b = 2 * re.mean()
        x = beta * ft + beta0
        pt = 1 / (1 + np.exp(-x))
        ll = np.logaddexp(0, x) - share * x
        loss += lam_tw * ll.mean()
        gx = lam_tw * (pt - share) / len(ft)
        g_w += beta * ut.T @ gx
        g_b += beta * gx.sum()
        g_beta = (gx * ft).sum()
        g_beta0 = gx.sum()
        return loss, np.concatenate([g_w, [g_b, g_beta, g_beta0]])

    th0 = np.zeros(d + 3)
    th0[d + 1] = 1.0
    res = minimize(f, th0, jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    w, b = res.x[:d] / sd, res.x[d] + ym - (res.x[:d] / sd) @ mu
    return w[:kf], w[kf:], b


def fit_predict(tr, te, recipe):
    from moodtagger.training.multitask_v3 import _weighted_ridge_with_free

    ftr, ztr = design(tr, recipe)
    fte, zte = design(te, recipe)
    n_e6, n_tw = tr["n_e6"], len(tr["y"]) - tr["n_e6"]
    if recipe.get("logistic"):
        a, coef, b = fit_logistic_joint(
            ftr, ztr, tr["y"][:n_e6], tr["share"], n_e6, recipe["tw"], recipe.get("alpha", 1.0)
        )
        return fte @ a + zte @ coef + b
    w = np.concatenate([np.ones(n_e6), np.full(n_tw, recipe["tw"] * n_e6 / n_tw)])
    # the free part gets a small ridge of its own (lam_free) to keep 8 log-probabilities tame
    lam_f = recipe.get("lam_free", 0.0)
    if lam_f:
        zs = np.concatenate([ftr[:, 1:], ztr], 1)
        zs_te = np.concatenate([fte[:, 1:], zte], 1)
        ftr, fte = ftr[:, :1], fte[:, :1]
        ztr, zte = zs, zs_te
        alpha = lam_f
    else:
        alpha = recipe.get("alpha", 1.0)
    if ztr.shape[1] == 0:
        ztr = np.zeros((len(ftr), 1))
        zte = np.zeros((len(fte), 1))
    y = tr["y"].copy()
    if "spread" in recipe:
        y[n_e6:] = 5 + recipe["spread"] * (tr["share"] - 0.5)
    a, coef, b = _weighted_ridge_with_free(ftr, ztr, y, w, alpha)
    return fte @ a + zte @ coef + b


def evaluate(seeds, recipes, k=5):
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import roc_auc_score

    from moodtagger.training import multitask_data as mtd

    data = mtd.load_all(("final", "stages"), flip_tta=True, everyday=False)
    s = data.split
    res = {name: [] for name in ["P(pos)", "v3", *recipes]}
    for seed in seeds:
        pred = {name: (np.zeros(len(s.e6_va)), np.zeros(len(s.tw_pos))) for name in res}
        for f in range(k):
            rows = fold_rows(data, seed, f)
            tr, te = rows["train"], rows["test"]
            d = pickle.loads((CACHE / f"s{seed}f{f}.pkl").read_bytes())
            folds = d["folds"]
            n = te["n_e6"]
            outs = {"P(pos)": te["pol"], "v3": te["v3"]}
            for name, rc in recipes.items():
                outs[name] = fit_predict(tr, te, rc)
            for name, o in outs.items():
                pred[name][0][folds.e6 == f] = o[:n]
                pred[name][1][folds.tw == f] = o[n:]
        for name, (pe, pt) in pred.items():
            res[name].append(
                (
                    pearsonr(pe, s.e6_va[:, 0])[0],
                    spearmanr(pe, s.e6_va[:, 0])[0],
                    roc_auc_score(s.tw_pos, pt),
                )
            )
    base = np.array(res["P(pos)"])
    for name, r in res.items():
        r = np.array(r)
        m, sd = r.mean(0), r.std(0, ddof=1) if len(r) > 1 else np.zeros(3)
        d = r - base
        print(
            f"{name:<44} r {m[0]:.4f}±{sd[0]:.4f}  rho {m[1]:.4f}±{sd[1]:.4f}  "
            f"AUC {m[2]:.4f}±{sd[2]:.4f}  dAUC vs P+ {d[:, 2].mean():+.4f} "
            f"[{d[:, 2].min():+.4f},{d[:, 2].max():+.4f}]  drho {d[:, 1].mean():+.4f}",
            flush=True,
        )
    return res


def check_v4(seeds, k=5):
    """The shipped v4 valence (``multitask_v4.fit_v4_valence``, V4_CONFIG) on the cached fits:
    must reproduce ``--grid v4``'s pol+ppos+logp row (round 7)."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import roc_auc_score

    from moodtagger.training import multitask_data as mtd
    from moodtagger.training.configs import V4_CONFIG
    from moodtagger.training.multitask_v4 import fit_v4_valence

    data = mtd.load_all(("final", "stages"), flip_tta=True, everyday=False)
    s = data.split
    res = []
    for seed in seeds:
        pe, qe = np.zeros(len(s.e6_va)), np.zeros(len(s.e6_va))
        pt, qt = np.zeros(len(s.tw_pos)), np.zeros(len(s.tw_pos))
        for f in range(k):
            d = pickle.loads((CACHE / f"s{seed}f{f}.pkl").read_bytes())
            folds = d["folds"]
            tr = s.subset(folds.ap != f, folds.tw != f, folds.e6 != f, None)
            p = copy.deepcopy(d["v3"])
            fit_v4_valence(p, tr, d["inner"], V4_CONFIG, d["axes"], d["score"], d["c"])
            for x, m, out, pp in ((s.e6_x, folds.e6 == f, pe, qe), (s.tw_x, folds.tw == f, pt, qt)):
                pl, _, va = p.logits(mtd.view_mean(x[m], (0,)))
                out[m], pp[m] = va[:, 0], pl
        res.append(
            [pearsonr(pe, s.e6_va[:, 0])[0], spearmanr(pe, s.e6_va[:, 0])[0]]
            + [
                roc_auc_score(s.tw_pos, pt),
                roc_auc_score(s.tw_pos, qt),
                spearmanr(qe, s.e6_va[:, 0])[0],
            ]
        )
        print(
            f"seed {seed}: r, rho, AUC, AUC P(+), rho P(+) " + " ".join(f"{v:.4f}" for v in res[-1])
        )
    r = np.array(res)
    d = r[:, 2] - r[:, 3]
    print(
        "mean ± std:",
        " ".join(f"{m:.4f}±{sd:.4f}" for m, sd in zip(r.mean(0), r.std(0, ddof=1), strict=True)),
    )
    print(f"AUC - AUC P(+): {d.mean():+.4f} [{d.min():+.4f}, {d.max():+.4f}]")


def recipes(grid: str) -> dict[str, dict]:
    """The configurations of round 6 (ROUNDS.md), by family. Every recipe: valence = a * polarity
    logit [+ c . mood log-probabilities or probabilities] [+ ridge(first k PCs)] + b, fitted on
    Emotion6 (valence) + Twitter I (weight ``tw`` of Emotion6's in total)."""
    out: dict[str, dict] = {}
    if grid == "ls":  # Twitter I's weak target 3 + 4 x share taken literally (v3's objective)
        for tw in (0.1, 0.3, 1.0, 3.0):
            out[f"pol, tw {tw}"] = dict(tw=tw)
            out[f"pol+logp, tw {tw}"] = dict(tw=tw, logp=True)
            out[f"pol+prob, tw {tw}"] = dict(tw=tw, prob=True)
            out[f"pol+ppos+logp, tw {tw}"] = dict(tw=tw, logp=True, ppos=True)
            for kk in (8, 32):
                for al in (100.0, 1000.0):
                    out[f"pol+logp+{kk}pc a{al:g}, tw {tw}"] = dict(
                        tw=tw, logp=True, pcs=kk, alpha=al
                    )
            for al in (3000.0, 10000.0, 30000.0):
                out[f"pol+256pc a{al:g}, tw {tw}"] = dict(tw=tw, pcs=256, alpha=al)
    elif grid == "offset":  # Twitter I gets its own intercept; target 5 + spread x (share - 1/2)
        for tw in (0.3, 0.5, 1.0, 3.0):
            for sp in (2.0, 4.0, 8.0):
                t = f"off sp{sp:g} tw {tw}"
                out[f"pol+logp {t}"] = dict(tw=tw, logp=True, offset=True, spread=sp)
                out[f"pol+prob {t}"] = dict(tw=tw, prob=True, offset=True, spread=sp)
                for kk in (8, 32):
                    out[f"pol+logp+{kk}pc a1000 {t}"] = dict(
                        tw=tw, logp=True, pcs=kk, alpha=1000.0, offset=True, spread=sp
                    )
                for al in (3000.0, 10000.0, 30000.0):
                    out[f"pol+256pc a{al:g} {t}"] = dict(
                        tw=tw, pcs=256, alpha=al, offset=True, spread=sp
                    )
                    out[f"pol+logp+256pc a{al:g} {t}"] = dict(
                        tw=tw, logp=True, pcs=256, alpha=al, offset=True, spread=sp
                    )
    elif grid == "ppos":  # + P(positive) itself: a saturating function of the polarity logit
        for tw in (0.3, 0.5, 1.0):
            for sp in (4.0, 8.0):
                for al in (10000.0, 30000.0):
                    t = f"off sp{sp:g} tw {tw}"
                    out[f"pol+ppos+256pc a{al:g} {t}"] = dict(
                        tw=tw, ppos=True, pcs=256, alpha=al, offset=True, spread=sp
                    )
                    out[f"pol+ppos+logp+256pc a{al:g} {t}"] = dict(
                        tw=tw, ppos=True, logp=True, pcs=256, alpha=al, offset=True, spread=sp
                    )
    elif grid == "v4":  # the two candidates shipped as v4 (ROUNDS.md round 7)
        t = "off sp8 tw 0.3"
        out[f"pol+ppos+256pc a10000 {t}"] = dict(
            tw=0.3, ppos=True, pcs=256, alpha=10000.0, offset=True, spread=8.0
        )
        out[f"pol+ppos+logp+256pc a10000 {t}"] = dict(
            tw=0.3, ppos=True, logp=True, pcs=256, alpha=10000.0, offset=True, spread=8.0
        )
    elif grid == "logistic":  # Twitter I as a classification (ranking) target, own scale/offset
        for tw in (0.1, 0.3, 1.0):
            for al in (3000.0, 10000.0, 30000.0):
                out[f"LOGIT pol+256pc a{al:g} tw {tw}"] = dict(
                    tw=tw, pcs=256, alpha=al, logistic=True
                )
                out[f"LOGIT pol+logp+256pc a{al:g} tw {tw}"] = dict(
                    tw=tw, logp=True, pcs=256, alpha=al, logistic=True
                )
            out[f"LOGIT pol+logp+32pc a1000 tw {tw}"] = dict(
                tw=tw, logp=True, pcs=32, alpha=1000.0, logistic=True
            )
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", action="store_true")
    ap.add_argument("--fixed", action="store_true", help="strengths fixed at v3's (exploration)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--check-v4", action="store_true", help="the shipped v4 code on the cache")
    ap.add_argument("--grid", choices=("ls", "offset", "ppos", "logistic", "v4"), default="ls")
    a = ap.parse_args()
    if a.cache:
        cache(a.seeds, fixed=a.fixed)
    elif a.check_v4:
        check_v4(a.seeds)
    else:
        evaluate(a.seeds, recipes(a.grid))
