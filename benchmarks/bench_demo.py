"""Benchmark: `bon-lit demo` (the whole method on the shipped real suite), its stages in CPU seconds, and its two
heaviest steps against competent baselines on the demo's own data, in the same process.

* demo           -- ``bon_lit.report.demo`` with its defaults (1000 permutations, 1000 bootstrap-Lasso resamples, 1000
                    metric bootstraps, 10 inner-CV seeds), median of ``--repeats`` runs: wall and CPU seconds, and CPU
                    seconds per stage (CPU seconds of a one-thread run approximate its wall time on an idle core).
* LOO CV         -- ``cv_evaluate(scheme="loo")`` with the pipeline's settings (nested ridge, inner 5-fold CV for
                    alpha with the scaler refitted per inner fold, 10 inner-CV seeds, 1000 refit permutations) against
  - competent    -- the same nested computation written with scikit-learn: ``StandardScaler`` + ``Ridge`` fitted on all
                    1001 target columns (observed gain + permutations) at once per alpha (multi-target), the same outer
                    and inner folds, alpha chosen per column; exactness: max |difference| of the out-of-fold predictions;
  - RidgeCV LOO  -- (labelled: a different inner CV, not the same numbers) the usual shortcut
                    ``make_pipeline(StandardScaler(), RidgeCV(alphas, alpha_per_target=True))`` per outer fold: exact
                    leave-one-out for alpha (no per-fold re-standardisation), all targets at once.
* bootstrap-Lasso -- the pipeline's two ``bootstrap_lasso`` calls (1-SE and plug-in penalty, 1000 resamples each) against
                    scikit-learn ``Lasso`` on numpy arrays with warm starts on the same resamples (``bench_lasso.py``);
                    exactness: max |difference| of the selection frequencies.

Ratios are baseline / bon_lit for wall and CPU seconds. The machine's load average is reported.

usage: python benchmarks/bench_demo.py [--repeats 3] [--json out.json] [--suite legacy|grid] [--demo-only]
"""
from __future__ import annotations

import argparse, json, os, platform, statistics, sys, tempfile, time, warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    import bon_lit  # noqa: F401
except ImportError:  # running from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from _timing import timed, load, row, HEADER, cpu_seconds

BUDGETS = {"legacy": (10.0, 10.0),   # (wall, CPU) s: the legacy suite's bar, demo <= 10 s wall on 2 idle cores
           "grid": (60.0, 60.0)}     # the grid suite's bar (48 configurations): <= 60 s on 2 cores


def time_demo(repeats: int, suite: str = "legacy"):
    """Wall and CPU seconds of `demo` on `suite`, CPU seconds per stage, and the bytes of each run's summary.json
    (median over repeats; the summaries must be identical)."""
    import bon_lit.report as R
    walls, cpus, stages, res, summaries = [], [], [], None, []
    orig = R._Progress.start, R._Progress.stop
    for _ in range(repeats):
        cpu_stage, cur = {}, [None, 0.0]
        def start(self, name, _o=orig[0]):
            now = cpu_seconds()
            if cur[0]: cpu_stage[cur[0]] = now - cur[1]
            cur[0], cur[1] = name, now
            return _o(self, name)
        def stop(self, _o=orig[1]):
            if self._name is not None and self._name == cur[0] and self._name not in cpu_stage:   # the last stage
                cpu_stage[self._name] = cpu_seconds() - cur[1]
            return _o(self)
        R._Progress.start, R._Progress.stop = start, stop
        try:
            with tempfile.TemporaryDirectory() as d:
                w, c = time.perf_counter(), cpu_seconds()
                res = R.demo(out=Path(d) / "demo", suite=suite, progress=False, echo=False)
                cpus.append(cpu_seconds() - c); walls.append(time.perf_counter() - w)
                summaries.append((Path(d) / "demo" / "summary.json").read_bytes())
        finally:
            R._Progress.start, R._Progress.stop = orig
        if cur[0] and cur[0] not in cpu_stage: cpu_stage[cur[0]] = np.nan
        stages.append(cpu_stage)
    return walls, cpus, stages, res, summaries


def competent_nested_cv(A, Y, splits, alphas, inner_cv, seeds):
    """The pipeline's nested CV written with scikit-learn: per outer fold and inner-CV seed, KFold(inner_cv) on the
    outer training rows, StandardScaler + multi-target Ridge per alpha; alpha per target column by mean inner MSE;
    then the outer fit at each column's alpha. Returns one (n, P) out-of-fold matrix per seed."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold
    from sklearn.preprocessing import StandardScaler
    n, P = Y.shape
    oofs = [np.full((n, P), np.nan) for _ in seeds]
    for tr, te in splits:
        sc = StandardScaler().fit(A[tr]); Ztr, Zte = sc.transform(A[tr]), sc.transform(A[te])
        outer = np.stack([Ridge(alpha=a).fit(Ztr, Y[tr]).predict(Zte) for a in alphas])        # (alphas, n_te, P)
        for k, s in enumerate(seeds):
            mse = np.zeros((len(alphas), P))
            for itr, iva in KFold(inner_cv, shuffle=True, random_state=s).split(tr):
                isc = StandardScaler().fit(A[tr][itr])
                Zi, Zv = isc.transform(A[tr][itr]), isc.transform(A[tr][iva])
                for j, a in enumerate(alphas):
                    pred = Ridge(alpha=a).fit(Zi, Y[tr][itr]).predict(Zv)
                    mse[j] += ((pred - Y[tr][iva]) ** 2).mean(0) / inner_cv
            best = mse.argmin(0)
            oofs[k][te] = outer[best, :, np.arange(P)].T
    return oofs


def ridgecv_loo(A, Y, splits, alphas):
    "The usual shortcut: StandardScaler + RidgeCV (exact LOO for alpha, per target) per outer fold."
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    oof = np.full(Y.shape, np.nan)
    for tr, te in splits:
        m = make_pipeline(StandardScaler(), RidgeCV(alphas=alphas, alpha_per_target=True)).fit(A[tr], Y[tr])
        oof[te] = m.predict(A[te])
    return oof


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    ap.add_argument("--suite", default="legacy", choices=sorted(BUDGETS), help="shipped suite to run the demo on")
    ap.add_argument("--demo-only", action="store_true", help="time the demo only (skip the engine comparisons)")
    a = ap.parse_args(argv)
    BUDGET_WALL_S, BUDGET_CPU_S = BUDGETS[a.suite]
    warnings.simplefilter("ignore")
    load0 = load()
    walls, cpus, stages, res, summaries = time_demo(a.repeats, a.suite)
    same = all(x == summaries[0] for x in summaries)
    demo_w, demo_c = statistics.median(walls), statistics.median(cpus)
    stage_cpu = {k: statistics.median(s.get(k, np.nan) for s in stages) for k in stages[0]}
    print(f"bon-lit demo on the shipped {a.suite} suite ({res.design.y.size} configurations): {demo_w:.1f} s wall, {demo_c:.1f} s CPU (median of {a.repeats}; "
          f"wall budget {BUDGET_WALL_S:.0f} s on 2 idle cores: {'met' if demo_w <= BUDGET_WALL_S else 'NOT met'}"
          f"{'' if load0 < 0.5 else ' (machine not idle: wall is an upper bound)'}; CPU budget {BUDGET_CPU_S:.0f} s: "
          f"{'met' if demo_c <= BUDGET_CPU_S else 'NOT met'}); load avg {load0:.2f}, cpus {os.cpu_count()}")
    for k, v in stage_cpu.items(): print(f"  {k:<18} {v:7.2f} CPU s")
    print(f"summary.json identical across the {a.repeats} runs: {same}")
    if a.demo_only:
        if a.json: Path(a.json).write_text(json.dumps({"suite": a.suite, "demo_wall_s": demo_w, "demo_cpu_s": demo_c,
            "demo_wall_runs": walls, "demo_cpu_runs": cpus, "stage_cpu_s": stage_cpu, "wall_budget_s": BUDGET_WALL_S,
            "cpu_budget_s": BUDGET_CPU_S, "summaries_identical": same, "load_avg": load0}, indent=1))
        return

    from bon_lit.predict import (cv_evaluate, _ridge_cv_engine, _cv_splits, _permutations, _strata_codes,
                                 canonical_order, DEFAULT_ALPHAS, bootstrap_lasso)
    cv0 = res.cv["loo"]
    X, y = res.features.loc[cv0.y.index, res.feature_names], cv0.y
    st = res.settings
    groups = res.features.loc[X.index, ["domain"]].astype(str)
    kw = dict(n_boot=st["n_boot"], n_perm=st["n_perm"], top_k=st["top_k"], seed=st["seed"], strata="domain",
              n_seeds=st["n_seeds"])
    w_cv, c_cv, *_ = timed(lambda: cv_evaluate(X, y, groups=groups, scheme="loo", **kw), a.repeats)
    # the same targets and folds as cv_evaluate, for the like-for-like engine comparison
    o = canonical_order(X.to_numpy(), y.to_numpy()); F, yy = X.iloc[o], y.iloc[o]
    codes, _ = _strata_codes(groups.loc[F.index, "domain"], F.index)
    perms = _permutations(len(F), st["n_perm"], np.random.default_rng(st["seed"]), codes)
    A, yv = F.to_numpy(), yy.to_numpy()
    Y = np.column_stack([yv] + [yv[p] for p in perms])
    _, splits, _, _ = _cv_splits(F.index, "loo", None, st["seed"])
    seeds = list(range(st["n_seeds"]))
    w_e, c_e, *_, runs = timed(lambda: _ridge_cv_engine(A, Y, splits, DEFAULT_ALPHAS, None, 5, seeds), a.repeats)
    w_s, c_s, *_, oofs = timed(lambda: competent_nested_cv(A, Y, splits, DEFAULT_ALPHAS, 5, seeds), 1)
    d_cv = max(float(np.abs(r[0] - s).max()) for r, s in zip(runs, oofs))
    w_r, c_r, *_, _ = timed(lambda: ridgecv_loo(A, Y, splits, DEFAULT_ALPHAS), a.repeats)
    print(f"\nLOO cross-validation, {st['n_perm']} permutations x {st['n_seeds']} inner-CV seeds, {len(F)} configs x "
          f"{A.shape[1]} features; ratios = baseline / bon_lit\n{HEADER}")
    print(row("bon_lit cv_evaluate (everything)", w_cv, c_cv))
    print(row("bon_lit nested-CV engine only (_ridge_cv_engine)", w_e, c_e))
    print(row("competent: sklearn multi-target Ridge, same CV", w_s, c_s)
          + f"   -> engine {w_s / w_e:.2f}x / {c_s / c_e:.2f}x; max|d oof| {d_cv:.2g}")
    print(row("  RidgeCV exact LOO shortcut (different inner CV)", w_r, c_r)
          + f"   -> engine {w_r / w_e:.2f}x / {c_r / c_e:.2f}x (not the same numbers)")

    fg_kept = list(res.groups.kept)
    Fk = F[fg_kept]
    from bench_lasso import sklearn_loop
    idx = np.random.default_rng(st["seed"]).integers(0, len(F), size=(st["B"], len(F)))
    alphas_l = {"1se": res.lasso.alpha, "plugin": res.lasso_plugin.alpha}
    w_l, c_l, *_, bls = timed(lambda: [bootstrap_lasso(Fk, yy, B=st["B"], alpha=al, n_jobs=1, seed=st["seed"], groups=None)
                                       for al in alphas_l.values()], a.repeats)
    w_k, c_k, *_, sks = timed(lambda: [sklearn_loop(Fk.to_numpy(), yv, idx, al) for al in alphas_l.values()], 1)
    d_l = max(float(np.abs((s != 0).mean(0) - (b.coefs[fg_kept].to_numpy() != 0).mean(0)).max()) for s, b in zip(sks, bls))
    print(f"\nbootstrap-Lasso, {st['B']} resamples at the 1-SE ({alphas_l['1se']:.4g}) and plug-in ({alphas_l['plugin']:.4g}) "
          f"penalties, {len(F)} configs x {len(fg_kept)} features\n{HEADER}")
    print(row("bon_lit bootstrap_lasso x2", w_l, c_l))
    print(row("competent: sklearn Lasso, numpy, warm starts x2", w_k, c_k)
          + f"   -> {w_k / w_l:.2f}x / {c_k / c_l:.2f}x; max|d freq| {d_l:.2g}")
    out = {"demo_wall_s": demo_w, "demo_cpu_s": demo_c, "demo_wall_runs": walls, "demo_cpu_runs": cpus,
           "stage_cpu_s": stage_cpu, "cpu_budget_s": BUDGET_CPU_S, "wall_budget_s": BUDGET_WALL_S,
           "cv": {"cv_evaluate": {"wall": w_cv, "cpu": c_cv}, "engine": {"wall": w_e, "cpu": c_e},
                  "competent_sklearn": {"wall": w_s, "cpu": c_s, "max_abs_oof_diff": d_cv,
                                        "ratio_vs_engine": {"wall": w_s / w_e, "cpu": c_s / c_e}},
                  "ridgecv_loo_shortcut": {"wall": w_r, "cpu": c_r, "ratio_vs_engine": {"wall": w_r / w_e, "cpu": c_r / c_e},
                                           "same_numbers": False}},
           "lasso": {"bon_lit": {"wall": w_l, "cpu": c_l}, "competent_sklearn": {"wall": w_k, "cpu": c_k},
                     "ratio": {"wall": w_k / w_l, "cpu": c_k / c_l}, "max_abs_freq_diff": d_l},
           "n_configs": len(F), "n_features": A.shape[1], "cpus": os.cpu_count(), "load_avg_1m_at_start": load0,
           "load_avg_1m_at_end": load(), "python": platform.python_version()}
    print(json.dumps({"demo_cpu_s": round(demo_c, 2), "cv_ratio_cpu": round(c_s / c_e, 2), "cv_max_abs_diff": d_cv,
                      "lasso_ratio_cpu": round(c_k / c_l, 2), "lasso_max_abs_freq_diff": d_l}))
    if a.json: Path(a.json).write_text(json.dumps(out, indent=1, default=float))
    return out


if __name__ == "__main__":
    main()
