"""Classification stacking benchmark on the credit data: log loss, ROC AUC and wall time.

Data: ``modeldata/credit_data`` (4,454 applicants, good/bad, missing values, categoricals), via
``ensemblekit.datasets.load_credit_data``. Members: a logistic regression behind imputation and
one-hot encoding, XGBoost and LightGBM (``BoostingClassifier``, stratified early stopping on a
split of each fit's own training rows, one thread each). Ensembles over the same members and
the same inner stratified folds:

- ``StackingCVClassifier`` with ``refit="average"`` and ``refit="full"`` (default meta-learner:
  the non-negative logistic pool of the members' log-odds);
- ``WeightedEnsembleClassifier``: simplex weights on the log loss, and Caruana's selection on
  ROC AUC with the log-loss tie-break;
- scikit-learn's ``StackingClassifier`` (its default LogisticRegression on the probabilities).

Every model is scored by the same outer shuffled stratified 5-fold CV, for ``--seeds`` seeds
(each seed draws new outer and inner folds and member seeds; the table pools every (seed,
outer fold) pair). Times are sums over the outer folds of fit and of predict_proba, each the
fastest of ``--repeats`` runs on that fold, in a shuffled order, so that a burst of load on
the shared machine does not decide a ratio; CPU seconds (this process and its joblib workers)
are shown too. The target: ``StackingCVClassifier(refit="average")`` at most 0.9x the fit +
predict wall time of scikit-learn's ``StackingClassifier`` at an equal or better log loss.

Then the weight optimizers are checked against brute force on a small problem: the three
members' out-of-fold probabilities of one stack: simplex weights against a grid of step 0.01
over the simplex, and Caruana's greedy selection (log loss; ROC AUC) against every multiset of
at most ``ensemble_size`` members.

Run:  python benchmarks/bench_classification.py                       (about 4 min per seed)
      python benchmarks/bench_classification.py --seeds 3 --repeats 2
      python benchmarks/bench_classification.py --quick                (3 outer folds)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os

import numpy as np
from bench_ensembles import _CPUClock, _paired, common_options, timed_fit_predict, warm_up
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.ensemble import StackingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ensemblekit.datasets import load_credit_data
from ensemblekit.ensembles import (
    BoostingClassifier,
    StackingCVClassifier,
    WeightedEnsembleClassifier,
    caruana_weights,
    combine,
    log_loss_of,
    simplex_weights,
)

MEMBERS = ("logreg", "xgboost", "lightgbm")
OURS_AVG, OURS_FULL, SKL = "stack_average (ours)", "stack_full (ours)", "sklearn StackingClassifier"


def make_members(quick: bool, seed: int) -> list[tuple[str, object]]:
    linear = make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
             make_column_selector(dtype_include="number")),
            (make_pipeline(SimpleImputer(strategy="most_frequent"),
                           OneHotEncoder(handle_unknown="ignore")),
             make_column_selector(dtype_include="category")),
        ),
        LogisticRegression(max_iter=1000),
    )
    common = dict(device="cpu", n_estimators=2000, learning_rate=0.1 if quick else 0.05,
                  n_iter_no_change=30, subsample=0.8, colsample_bytree=0.8, n_jobs=1,
                  random_state=seed)
    return [
        ("logreg", linear),
        ("xgboost", BoostingClassifier("xgboost", max_depth=3, **common)),
        ("lightgbm", BoostingClassifier("lightgbm", num_leaves=8, **common)),
    ]


def make_models(quick: bool, seed: int, n_jobs: int) -> dict[str, object]:
    members = make_members(quick, seed)
    inner = StratifiedKFold(5, shuffle=True, random_state=seed + 1)
    models = dict(members)
    models[OURS_AVG] = StackingCVClassifier(members, cv=inner, refit="average", n_jobs=n_jobs)
    models[OURS_FULL] = StackingCVClassifier(members, cv=inner, refit="full", n_jobs=n_jobs)
    models["simplex_logloss (ours)"] = WeightedEnsembleClassifier(
        members, cv=inner, refit="average", n_jobs=n_jobs)
    models["caruana_auc (ours)"] = WeightedEnsembleClassifier(
        members, method="caruana", scoring="roc_auc", cv=inner, refit="average", n_jobs=n_jobs)
    models[SKL] = StackingClassifier(members, cv=inner, n_jobs=n_jobs)
    return models


def run(quick: bool, seed: int, n_jobs: int, repeats: int, only=None) -> dict:
    load0 = list(os.getloadavg())
    X, y = load_credit_data()
    bad = (y == "bad").to_numpy()
    k = 3 if quick else 5
    outer = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y))
    names = [n for n in make_models(quick, seed, n_jobs) if not only or n in only]
    scores = {n: {"log_loss": [], "roc_auc": [], "brier": []} for n in names}
    fit_wall = dict.fromkeys(names, 0.0)
    pred_wall = dict.fromkeys(names, 0.0)
    cpu = dict.fromkeys(names, 0.0)
    clock = _CPUClock()
    warm_up(make_models(True, seed, n_jobs), names, X, y, seed)
    order = np.random.default_rng(seed)
    for f, (tr, te) in enumerate(outer):
        best = {n: [np.inf, np.inf, np.inf] for n in names}
        for r in range(repeats):
            models = make_models(quick, seed, n_jobs)
            for name in order.permutation(names):
                model = models[name]
                proba, t_fit, t_pred, dc = timed_fit_predict(clock, model, X, y, tr, te,
                                                             "predict_proba")
                best[name] = [min(best[name][0], t_fit), min(best[name][1], t_pred),
                              min(best[name][2], dc)]
                p_bad = proba[:, list(model.classes_).index("bad")]
                ll = log_loss(y.iloc[te], proba, labels=model.classes_)
                if r == 0:
                    scores[name]["log_loss"].append(ll)
                    scores[name]["roc_auc"].append(roc_auc_score(bad[te], p_bad))
                    scores[name]["brier"].append(brier_score_loss(bad[te], p_bad))
                print(f"  seed {seed} outer fold {f}, repeat {r}: {name:28s} log loss={ll:.4f} "
                      f"fit={t_fit:5.1f}s predict={t_pred:5.2f}s cpu={dc:6.1f}s", flush=True)
        for name in names:
            fit_wall[name] += best[name][0]
            pred_wall[name] += best[name][1]
            cpu[name] += best[name][2]
    return {"scores": scores, "fit_wall": fit_wall, "pred_wall": pred_wall, "cpu": cpu,
            "outer_folds": k, "repeats": repeats, "n_jobs": n_jobs, "quick": quick,
            "load_before": load0, "load_after": list(os.getloadavg()),
            "cpu_count": os.cpu_count()}


def merge(a: dict, b: dict) -> dict:
    """Pool two runs (different seeds): scores per (seed, outer fold), times summed."""
    out = dict(a)
    out["scores"] = {n: {m: a["scores"][n][m] + b["scores"][n][m] for m in a["scores"][n]}
                     for n in a["scores"]}
    for key in ("fit_wall", "pred_wall", "cpu"):
        out[key] = {n: a[key][n] + b[key][n] for n in a[key]}
    out["outer_folds"] = a["outer_folds"] + b["outer_folds"]
    out["load_after"] = b["load_after"]
    return out


def report(res: dict) -> list[str]:
    s, fit, pred, cpu = res["scores"], res["fit_wall"], res["pred_wall"], res["cpu"]
    seeds = res.get("seeds", [])
    lines = [
        f"credit_data, {res['outer_folds']} outer folds (seeds {', '.join(map(str, seeds))}), "
        f"n_jobs={res['n_jobs']}, times the best of {res['repeats']} per fold"
        f"{' (quick)' if res['quick'] else ''}; {res['cpu_count']} CPUs, load average "
        f"{res['load_before'][0]:.1f} before and {res['load_after'][0]:.1f} after the run",
        "",
        "| model | log loss | ROC AUC | Brier | fit + predict (s) | fit (s) | predict (s) "
        "| CPU (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in s:
        lines.append(
            f"| {name} | {np.mean(s[name]['log_loss']):.4f} | {np.mean(s[name]['roc_auc']):.4f} "
            f"| {np.mean(s[name]['brier']):.4f} | {fit[name] + pred[name]:.1f} | {fit[name]:.1f} "
            f"| {pred[name]:.2f} | {cpu[name]:.1f} |")
    lines.append("")
    members = [m for m in MEMBERS if m in s]
    if members:
        best = min(members, key=lambda m: np.mean(s[m]["log_loss"]))
        for name in (n for n in s if n.endswith("(ours)")):
            d, se = _paired(s[name]["log_loss"], s[best]["log_loss"])
            lines.append(f"{name} vs best member ({best}): log loss {d:+.4f} +- {se:.4f} "
                         "(paired SE)")
    for ours in (o for o in (OURS_AVG, OURS_FULL) if o in s and SKL in s):
        ratio = (fit[ours] + pred[ours]) / (fit[SKL] + pred[SKL])
        d, se = _paired(s[ours]["log_loss"], s[SKL]["log_loss"])
        da, sea = _paired(s[ours]["roc_auc"], s[SKL]["roc_auc"])
        lines.append(f"{ours} / sklearn: {ratio:.2f}x fit + predict wall time "
                     f"({fit[ours] / fit[SKL]:.2f}x fit), {cpu[ours] / cpu[SKL]:.2f}x CPU; "
                     f"log loss {d:+.4f} +- {se:.4f}, ROC AUC {da:+.4f} +- {sea:.4f} (paired SE)")
        if ours == OURS_AVG:
            ok = ratio <= 0.9 and d <= 2 * se
            lines.append(f"target (<= 0.9x time, log loss equal or better): "
                         f"{'MET' if ok else 'NOT MET'}")
    return lines


def brute_force_check(seed: int, quick: bool, ensemble_size: int = 25) -> list[str]:
    """Simplex and Caruana weights against exhaustive searches on one stack's OOF tensor."""
    X, y = load_credit_data()
    stack = StackingCVClassifier(make_members(quick, seed), cv=5, random_state=seed).fit(X, y)
    codes = np.searchsorted(stack.classes_, y)
    p1 = stack.oof_predictions_  # one column per member: P(classes_[1])
    P = np.stack([np.column_stack([1 - p1[:, j], p1[:, j]]) for j in range(p1.shape[1])], 1)
    m = P.shape[1]

    def ll(p):
        return log_loss_of(codes, p)

    def auc_loss(p):
        return -roc_auc_score(codes, p[:, 1])

    lines = [f"Brute force on a small problem: {m} members' OOF probabilities of a stack on "
             f"credit_data ({len(codes)} rows, seed {seed})"]
    grid = [np.array([*c, 100 - sum(c)]) / 100
            for c in itertools.product(range(101), repeat=m - 1) if sum(c) <= 100]
    grid_losses = np.array([ll(combine(P, g)) for g in grid])
    w = simplex_weights(P, ll)
    g = grid[int(np.argmin(grid_losses))]
    lines.append(f"- simplex (log loss): weights {np.round(w, 3).tolist()}, log loss "
                 f"{ll(combine(P, w)):.6f}; best of {len(grid)} grid points (step 0.01) "
                 f"{np.round(g, 2).tolist()}, {grid_losses.min():.6f}; optimizer - grid "
                 f"{ll(combine(P, w)) - grid_losses.min():+.2e}")
    multisets = [np.array(c) / t for t in range(1, ensemble_size + 1)
                 for c in itertools.product(range(t + 1), repeat=m) if sum(c) == t]
    for label, loss, tie in (("log loss", ll, None), ("ROC AUC", auc_loss, ll)):
        wc, _, _ = caruana_weights(P, loss, ensemble_size, tie_break=tie)
        exhaustive = np.array([loss(combine(P, c)) for c in multisets])
        c = multisets[int(np.argmin(exhaustive))]
        kept = loss(combine(P, wc))
        sign = -1 if label == "ROC AUC" else 1
        lines.append(f"- Caruana ({label}, ensemble_size={ensemble_size}): weights "
                     f"{np.round(wc, 3).tolist()}, {label} {sign * kept:.6f}; best of "
                     f"{len(multisets)} multisets of <= {ensemble_size} members "
                     f"{np.round(c, 3).tolist()}, {sign * exhaustive.min():.6f}; greedy - best "
                     f"{kept - exhaustive.min():+.2e} (as a loss)")
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_options(p)
    p.add_argument("--repeats", type=int, default=1,
                   help="timed repeats of every fit per outer fold, the fastest counted")
    p.add_argument("--only", default=None, help="comma-separated model names to run")
    p.add_argument("--skip-brute-force", action="store_true")
    args = p.parse_args(argv)
    only = [s.strip() for s in args.only.split(",")] if args.only else None
    res = None
    for seed in range(args.seed, args.seed + args.seeds):
        r = run(args.quick, seed, args.n_jobs, args.repeats, only)
        res = r if res is None else merge(res, r)
    res["seeds"] = list(range(args.seed, args.seed + args.seeds))
    lines = report(res)
    if not args.skip_brute_force:
        lines += [""] + brute_force_check(args.seed, args.quick)
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":
    main()
