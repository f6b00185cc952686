"""Benchmark: bootstrap-Lasso selection frequencies, B resamples of configurations, against a competent scikit-learn loop.

Same data, same resamples, same penalty, in the same process (the penalty is fixed, so only the resampling is timed):

* bon_lit    -- ``bon_lit.predict.bootstrap_lasso(..., alpha=a, n_jobs=1, groups=None)``: batched coordinate descent on
                resample Gram matrices; converged resamples leave the batch, the last few finish in plain Python;
* competent  -- what a careful user writes: standardise each resample in numpy and fit scikit-learn's ``Lasso``
                (``fit_intercept=False``, ``tol=1e-12`` so that it solves to the same precision, ``max_iter=100000``)
                with ``warm_start=True`` (each resample starts from the previous resample's solution);
* sklearn default tol -- the same loop at scikit-learn's default ``tol=1e-4`` (faster, less exact; second line);
* naive      -- (labelled) a ``make_pipeline(StandardScaler(), Lasso())`` refitted on ``DataFrame.iloc`` rows per resample.

Two penalties: the LassoCV 1-SE penalty (the pipeline's default; lighter, slower to converge) and the plug-in penalty.
Reports wall and CPU seconds (median of --repeats), ratios baseline / bon_lit, and exactness: max |difference| of the
selection frequencies and of the coefficients against bon_lit.

usage: python benchmarks/bench_lasso.py [--data planted|demo] [--B 1000] [--n 36] [--p 20] [--repeats 3] [--json out.json]
"""
from __future__ import annotations

import argparse, json, os, platform, sys, warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    import bon_lit  # noqa: F401
except ImportError:  # running from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bon_lit.predict import bootstrap_lasso, lasso_alpha, make_planted, canonical_order
from _timing import timed, load, row, HEADER


def sklearn_loop(A, yv, idx, alpha, tol=1e-12, warm=True):
    "Coefficients (B, p) of scikit-learn Lasso on each standardised resample (numpy arrays, warm starts)."
    coefs = np.zeros((len(idx), A.shape[1]))
    est = Lasso(alpha=alpha, fit_intercept=False, tol=tol, max_iter=100_000, warm_start=warm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for b, i in enumerate(idx):
            Ab, yb = A[i], yv[i]
            sd = Ab.std(0); const = sd < 1e-12 * np.maximum(1.0, np.abs(Ab).max(0)); sd[const] = 1.0
            Z = (Ab - Ab.mean(0)) / sd; Z[:, const] = 0.0
            coefs[b] = est.fit(Z, yb - yb.mean()).coef_
    return coefs


def naive_loop(X, y, idx, alpha):
    sel = np.zeros((len(idx), X.shape[1]), bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for b, i in enumerate(idx):
            sel[b] = make_pipeline(StandardScaler(), Lasso(alpha=alpha)).fit(X.iloc[i], y.iloc[i])[-1].coef_ != 0
    return sel


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--B", type=int, default=1000)
    ap.add_argument("--n", type=int, default=36)
    ap.add_argument("--p", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--naive-B", type=int, default=200, help="resamples for the naive pipeline line (0: skip)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", choices=["planted", "demo"], default="planted",
                    help="planted: make_planted(n, p); demo: the shipped real suite's features (20 configs)")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)

    if args.data == "demo":                              # the shipped real suite's features, as the pipeline selects on them
        from bon_lit.suite import load_suite
        from bon_lit.pipeline import run_pipeline
        from bon_lit.predict import feature_groups
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s0 = load_suite()
            r0 = run_pipeline(s0.samples, s0.configs, s0.prompts, progress=False, B=2, n_perm=2, n_boot=2, n_seeds=1, n_splits=2)
        y0 = r0.cv["loo"].y; X0 = r0.features.loc[y0.index, r0.feature_names]
        X0 = X0[list(feature_groups(X0).kept)]
        args.n, args.p = X0.shape
    else:
        s0 = make_planted(args.n, args.p, 3, noise=0.15, seed=args.seed); X0, y0 = s0.X, s0.y
    o = canonical_order(X0, y0)                          # bootstrap_lasso draws its resamples in content order
    X, y = X0.iloc[o], y0.iloc[o]
    A, yv = X.to_numpy(), y.to_numpy()
    idx = np.random.default_rng(args.seed).integers(0, args.n, size=(args.B, args.n))   # bootstrap_lasso's draws
    load0 = load()
    print(f"bootstrap-Lasso ({args.data} data): B={args.B} resamples of {args.n} configurations x {args.p} features; cpus={os.cpu_count()}, "
          f"load avg {load0:.2f}; sklearn {sklearn.__version__}; ratios = baseline / bon_lit (wall, CPU)")
    out = {"data": args.data, "B": args.B, "n": args.n, "p": args.p, "cpus": os.cpu_count(), "loadavg_start": load0,
           "python": platform.python_version(), "sklearn": sklearn.__version__, "penalties": {}}
    for rule in ("1se", "plugin"):
        alpha, _ = lasso_alpha(X, y, rule=rule)
        w_b, c_b, *_, res = timed(lambda: bootstrap_lasso(X, y, B=args.B, alpha=alpha, n_jobs=1, seed=args.seed, groups=None),
                                  args.repeats)
        cb = res.coefs[list(X.columns)].to_numpy()
        w_s, c_s, *_, cs = timed(lambda: sklearn_loop(A, yv, idx, alpha), args.repeats)
        w_d, c_d, *_, cd = timed(lambda: sklearn_loop(A, yv, idx, alpha, tol=1e-4), args.repeats)
        d = {"competent": {"max_abs_freq_diff": float(np.abs((cs != 0).mean(0) - (cb != 0).mean(0)).max()),
                           "max_abs_coef_diff": float(np.abs(cs - cb).max())},
             "sklearn_default_tol": {"max_abs_freq_diff": float(np.abs((cd != 0).mean(0) - (cb != 0).mean(0)).max()),
                                     "max_abs_coef_diff": float(np.abs(cd - cb).max())}}
        print(f"\npenalty {rule} = {alpha:.4g}; not converged in bon_lit: {res.n_not_converged}\n{HEADER}")
        print(row("bon_lit bootstrap_lasso (n_jobs=1)", w_b, c_b))
        print(row("competent: sklearn Lasso, numpy, warm starts", w_s, c_s) + f"   -> bon_lit is {w_s / w_b:.2f}x (wall), {c_s / c_b:.2f}x (CPU)")
        print(row("  same at sklearn's default tol 1e-4", w_d, c_d) + f"   -> bon_lit is {w_d / w_b:.2f}x (wall), {c_d / c_b:.2f}x (CPU)")
        r = {"alpha": alpha, "bon_lit": {"wall": w_b, "cpu": c_b}, "competent": {"wall": w_s, "cpu": c_s},
             "sklearn_default_tol": {"wall": w_d, "cpu": c_d},
             "ratio_vs_competent": {"wall": w_s / w_b, "cpu": c_s / c_b},
             "ratio_vs_default_tol": {"wall": w_d / w_b, "cpu": c_d / c_b}, "exactness": d,
             "n_not_converged": res.n_not_converged}
        if args.naive_B:
            w_n, c_n, *_, sn = timed(lambda: naive_loop(X, y, idx[:args.naive_B], alpha), 1)
            scale = args.B / args.naive_B
            print(row(f"  naive (labelled): pipeline on DataFrame rows, x{scale:g}", w_n * scale, c_n * scale)
                  + f"   -> bon_lit is {w_n * scale / w_b:.1f}x (wall), {c_n * scale / c_b:.1f}x (CPU); scaled from {args.naive_B} resamples")
            d["naive"] = {"max_abs_freq_diff": float(np.abs(sn.mean(0) - (cb[:args.naive_B] != 0).mean(0)).max())}
            r["naive_scaled"] = {"wall": w_n * scale, "cpu": c_n * scale, "from_resamples": args.naive_B}
        print("exactness vs bon_lit: " + "; ".join(f"{k}: max|dfreq| {v['max_abs_freq_diff']:.3g}"
                                                   + (f", max|dcoef| {v['max_abs_coef_diff']:.2g}" if 'max_abs_coef_diff' in v else "")
                                                   for k, v in d.items()))
        out["penalties"][rule] = r
    out["loadavg_end"] = load()
    if args.json: Path(args.json).write_text(json.dumps(out, indent=1, default=float))
    print(json.dumps({k: {"ratio_vs_competent": v["ratio_vs_competent"], "exactness": v["exactness"]["competent"]}
                      for k, v in out["penalties"].items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
