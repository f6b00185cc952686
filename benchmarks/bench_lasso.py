"""Benchmark: bootstrap-Lasso selection frequencies, 1000 resamples on 36 configurations x 20 features.

Compares, in the same run and on the same resamples (fixed Lasso penalty, so only the resampling loop is timed):

* naive    -- sequential loop fitting a scikit-learn ``StandardScaler`` + ``Lasso`` pipeline on ``DataFrame.iloc`` rows
* sk-numpy -- sequential loop of ``Lasso`` on pre-extracted numpy arrays (a careful sequential baseline)
* bon_lit.predict.bootstrap_lasso with n_jobs=1 (batched coordinate descent, in-process)
* bon_lit.predict.bootstrap_lasso with n_jobs=2 (the default; runs in-process below PARALLEL_MIN_WORK)
* the same forced onto 2 joblib worker processes, cold (first call: includes worker start-up) and warm

and checks that all give the same selection frequencies. Goal: <= 10 s on 2 cores.

usage: python benchmarks/bench_lasso.py [--B 1000] [--n 36] [--p 20] [--repeats 3] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

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

import bon_lit.predict as predict
from bon_lit.predict import bootstrap_lasso, lasso_alpha, make_planted


def naive_loop(X, y, idx, alpha):
    sel = np.zeros((len(idx), X.shape[1]), bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for b, i in enumerate(idx):
            pipe = make_pipeline(StandardScaler(), Lasso(alpha=alpha)).fit(X.iloc[i], y.iloc[i])
            sel[b] = pipe[-1].coef_ != 0
    return sel.mean(0)


def sk_numpy_loop(A, yv, idx, alpha):
    sel = np.zeros((len(idx), A.shape[1]), bool)
    est = Lasso(alpha=alpha, fit_intercept=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for b, i in enumerate(idx):
            Ab, yb = A[i], yv[i]
            sd = Ab.std(0)
            sd[sd == 0] = 1.0
            est.fit((Ab - Ab.mean(0)) / sd, yb - yb.mean())
            sel[b] = est.coef_ != 0
    return sel.mean(0)


def timed(f, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--B", type=int, default=1000)
    ap.add_argument("--n", type=int, default=36)
    ap.add_argument("--p", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)

    suite = make_planted(args.n, args.p, 3, noise=0.15, seed=args.seed)
    X, y = suite.X, suite.y
    alpha, info = lasso_alpha(X, y)
    idx = np.random.default_rng(args.seed).integers(0, args.n, size=(args.B, args.n))  # same draws as bootstrap_lasso
    rows = {}

    def forced(jobs=2):
        saved, predict.PARALLEL_MIN_WORK = predict.PARALLEL_MIN_WORK, 0
        try:
            r = bootstrap_lasso(X, y, B=args.B, alpha=alpha, n_jobs=jobs, seed=args.seed)
        finally:
            predict.PARALLEL_MIN_WORK = saved
        assert r.n_jobs_used == jobs
        return r

    # cold parallel call first (fresh process: joblib workers are not started yet)
    t0 = time.perf_counter()
    cold = forced()
    rows["forced 2 workers (cold start)"] = [time.perf_counter() - t0]
    ref = cold.frequencies.reindex(X.columns).to_numpy()

    med, ts, f_naive = timed(lambda: naive_loop(X, y, idx, alpha), args.repeats)
    rows["naive sklearn pipeline loop"] = ts
    _, ts, f_np = timed(lambda: sk_numpy_loop(X.to_numpy(), y.to_numpy(), idx, alpha), args.repeats)
    rows["sklearn Lasso loop on numpy"] = ts
    _, ts, r1 = timed(lambda: bootstrap_lasso(X, y, B=args.B, alpha=alpha, n_jobs=1, seed=args.seed), args.repeats)
    rows["bootstrap_lasso n_jobs=1"] = ts
    _, ts, r2 = timed(lambda: bootstrap_lasso(X, y, B=args.B, alpha=alpha, n_jobs=2, seed=args.seed), args.repeats)
    rows[f"bootstrap_lasso n_jobs=2 (used {r2.n_jobs_used})"] = ts
    _, ts, r3 = timed(forced, args.repeats)
    rows["forced 2 workers (warm)"] = ts

    diffs = {"naive": float(np.abs(f_naive - ref).max()), "sk-numpy": float(np.abs(f_np - ref).max()),
             "n_jobs=1": float(np.abs(r1.frequencies.reindex(X.columns).to_numpy() - ref).max()),
             "n_jobs=2": float(np.abs(r2.frequencies.reindex(X.columns).to_numpy() - ref).max()),
             "forced warm": float(np.abs(r3.frequencies.reindex(X.columns).to_numpy() - ref).max())}
    base = statistics.median(rows["naive sklearn pipeline loop"])
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"bootstrap-Lasso benchmark: B={args.B}, {args.n} configs x {args.p} features, alpha={alpha:.4g} (plug-in), "
          f"cpus={os.cpu_count()}, load avg={load[0]:.2f}, sklearn {sklearn.__version__}")
    print(f"{'method':<36}{'median s':>10}{'speed-up':>10}   all runs")
    for k, ts in rows.items():
        m = statistics.median(ts)
        print(f"{k:<36}{m:>10.3f}{base / m:>9.1f}x   {', '.join(f'{t:.3f}' for t in ts)}")
    print("max |frequency difference| vs bootstrap_lasso:", {k: round(v, 4) for k, v in diffs.items()})
    goal = max(statistics.median(v) for k, v in rows.items() if k.startswith(("bootstrap_lasso", "forced")))
    print(f"goal (<= 10 s on 2 cores; slowest bootstrap_lasso variant incl. cold worker start-up): "
          f"{'met' if goal <= 10 else 'NOT met'} ({goal:.2f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "B": args.B, "n": args.n, "p": args.p, "alpha": alpha, "alpha_info": info, "cpus": os.cpu_count(),
            "loadavg": load, "python": platform.python_version(), "sklearn": sklearn.__version__,
            "times": rows, "median": {k: statistics.median(v) for k, v in rows.items()},
            "speedup_vs_naive": {k: base / statistics.median(v) for k, v in rows.items()},
            "max_freq_diff": diffs}, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
