"Tests for bon_lit.predict: ridge engine, nested/grouped CV without leakage, bootstrap-Lasso, stability selection, CLI."
import json
import sys
from pathlib import Path

try:
    import bon_lit  # noqa: F401
except ImportError:  # source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


import fastcore.test as fct
import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Lasso, Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bon_lit import predict as P
from bon_lit.cli import build_parser
from bon_lit.predict import (DEFAULT_ALPHAS, GainPredictor, baseline_table, bootstrap_lasso, check_features,
                             cv_evaluate, gain_metrics, lasso_alpha, make_planted, ridge_fit, screen,
                             stability_selection)


@pytest.fixture(scope="module")
def pl():
    return make_planted(36, 12, 3, noise=0.15, seed=0)


# ---------------------------------------------------------------- the one ridge solver == sklearn
@pytest.mark.parametrize("n,p", [(36, 12), (20, 30), (50, 3)])
def test_ridge_fit_matches_sklearn(n, p):
    rng = np.random.default_rng(n + p)
    X = rng.standard_normal((n, p)) * 10 ** rng.uniform(-2, 1, p) + rng.uniform(-2, 2, p)
    Y = np.c_[X[:, :3] @ [1.0, -2.0, 0.5] + rng.standard_normal(n), rng.standard_normal((n, 2))]
    m = n * 2 // 3
    fit = ridge_fit(X[:m], Y[:m], DEFAULT_ALPHAS)
    pred, (b0, B) = fit.predict(X[m:]), fit.coef()
    for i in range(0, 25, 6):
        for k in range(3):
            pipe = make_pipeline(StandardScaler(), Ridge(alpha=DEFAULT_ALPHAS[i])).fit(X[:m], Y[:m, k])
            sc, r = pipe.named_steps["standardscaler"], pipe.named_steps["ridge"]
            npt.assert_allclose(pred[i, :, k], pipe.predict(X[m:]), rtol=1e-8, atol=1e-10)
            npt.assert_allclose(B[i, :, k], r.coef_ / sc.scale_, rtol=1e-8, atol=1e-8)
            npt.assert_allclose(b0[i, k], r.intercept_ - r.coef_ @ (sc.mean_ / sc.scale_), rtol=1e-8, atol=1e-8)


def test_ridge_fit_constant_column_like_standard_scaler():
    rng = np.random.default_rng(0)
    X = np.c_[rng.standard_normal((20, 3)), np.full(20, 0.1)]      # last column constant: StandardScaler keeps scale 1
    y = rng.standard_normal(20)
    pred = ridge_fit(X[:15], y[:15, None], [1.0]).predict(X[15:])[0, :, 0]
    pipe = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X[:15], y[:15])
    npt.assert_allclose(pred, pipe.predict(X[15:]), rtol=1e-8, atol=1e-10)
    fct.test_eq(list(P.is_constant(X)), [False, False, False, True])


def test_refit_many_matches_separate_fits(pl):
    gp = GainPredictor(alpha=0.7).fit(pl.X, pl.y)
    rng = np.random.default_rng(1)
    sets = [rng.permutation(36)[:30] for _ in range(4)] + [rng.permutation(36)[:25]]   # two set sizes
    b0, B = gp.refit_many(pl.X, pl.y.to_numpy(), sets)
    for k, ix in enumerate(sets):
        g = GainPredictor(alpha=0.7).fit(pl.X.iloc[ix], pl.y.iloc[ix])
        fct.test_close(b0[k], g.intercept_original_, eps=1e-10)
        npt.assert_allclose(B[k], g.coef_original_.to_numpy(), rtol=1e-8, atol=1e-10)


def test_alpha_selection_matches_gridsearch(pl):
    gp = GainPredictor().fit(pl.X, pl.y)
    gs = GridSearchCV(make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": DEFAULT_ALPHAS},
                      cv=KFold(5, shuffle=True, random_state=0), scoring="neg_mean_squared_error")
    o = P.canonical_order(pl.X, pl.y)          # inner folds are drawn over the configurations in content order
    gs.fit(pl.X.to_numpy()[o], pl.y.to_numpy()[o])
    fct.test_eq(gs.best_params_["ridge__alpha"], gp.alpha_)
    npt.assert_allclose(-gs.cv_results_["mean_test_score"], gp.cv_mse_.to_numpy(), rtol=1e-8)


# ---------------------------------------------------------------- planted truth
def test_planted_recovery(pl):
    gp = GainPredictor().fit(pl.X, pl.y)
    # coefficient error per population SD of each feature, relative to the signal SD (0.05)
    err = ((gp.coef_original_ - pl.coef).abs() * pl.X.std(ddof=0) / 0.05)
    assert err.max() < 0.15, err
    irrelevant = [c for c in pl.X.columns if c not in pl.relevant]
    assert gp.coef_[irrelevant].abs().max() < 0.2 * gp.coef_[list(pl.relevant)].abs().min()
    npt.assert_allclose(gp.predict(pl.X), gp.intercept_original_ + pl.X @ gp.coef_original_, rtol=1e-10)
    cv = cv_evaluate(pl.X, pl.y, scheme="loo", n_boot=500, n_perm=1000, seed=0)
    assert cv.metrics["spearman"] >= 0.95
    assert cv.p_value <= 2 / 1001
    assert cv.n_perm == 1000 and cv.perm_method == "refit"
    lo, hi = cv.ci.loc["spearman"]
    assert lo <= cv.metrics["spearman"] <= hi


def test_fast_engine_equals_plain_sklearn_loop(pl):
    "The vectorised nested LOO equals fitting GainPredictor (sklearn Pipeline) fold by fold."
    class Wrapped(GainPredictor):   # a subclass takes the generic clone/fit/predict path
        pass
    fast = cv_evaluate(pl.X, pl.y, n_boot=0, n_perm=0)
    slow = cv_evaluate(pl.X, pl.y, predictor=Wrapped(), n_boot=0, n_perm=0)
    npt.assert_allclose(fast.oof, slow.oof, rtol=1e-8, atol=1e-12)


def test_metrics_match_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(25), rng.standard_normal(25)
    b[:5] = b[0]  # ties
    m = gain_metrics(a, b, top_k=5)
    fct.test_close(m["spearman"], stats.spearmanr(a, b).statistic, eps=1e-12)
    fct.test_close(m["pearson"], stats.pearsonr(a, b).statistic, eps=1e-12)
    fct.test_close(m["kendall"], stats.kendalltau(a, b).statistic, eps=1e-12)
    fct.test_close(gain_metrics([1, 2, 3, 4], [1, 4, 2, 3], top_k=2)["top_k_precision"], 0.5, eps=1e-12)
    fct.test_close(gain_metrics([1, 2, 3, 4], [1, 2, 3, 4], top_k=2)["mae"], 0.0, eps=1e-12)


def test_permutation_pvalues_are_calibrated_under_null():
    ps = []
    for seed in range(30):
        s = make_planted(24, 6, 0, noise=1.0, seed=100 + seed)
        ps.append(cv_evaluate(s.X, s.y, n_boot=0, n_perm=99, seed=seed).p_value)
    ps = np.array(ps)
    assert (ps <= 0.2).mean() <= 0.4      # nominal 0.2; binomial slack for 30 suites
    assert ps.min() >= 1 / 100


# ---------------------------------------------------------------- leakage
def _shifted_suite():
    s = make_planted(36, 8, 3, noise=0.3, seed=0)
    X = s.X.copy()
    held = s.groups.family == "fam2"
    cols = ["x00", "x03", "x05"]
    X.loc[held, cols] = X.loc[held, cols] * 5 + 8 * X[cols].std()
    return X, s.y, s.groups


def _manual_logo(X, y, g, leak=None):
    out = pd.Series(np.nan, index=X.index)
    for lv in g.unique():
        te, tr = g == lv, g != lv
        if leak == "scaler":
            a = GainPredictor().fit(X[tr], y[tr]).alpha_
            Z = StandardScaler().fit(X).transform(X)   # fitted on ALL rows, held-out group included
            out[te] = Ridge(alpha=a).fit(Z[tr.to_numpy()], y[tr]).predict(Z[te.to_numpy()])
        elif leak == "alpha":
            a = GainPredictor().fit(X, y).alpha_       # alpha chosen with the held-out group
            out[te] = GainPredictor(alpha=a).fit(X[tr], y[tr]).predict(X[te])
        else:
            out[te] = GainPredictor().fit(X[tr], y[tr]).predict(X[te])
    return out


def test_logo_never_leaks_held_out_group():
    X, y, g = _shifted_suite()
    honest = _manual_logo(X, y, g.family)
    fast = cv_evaluate(X, y, groups=g, scheme="family", n_boot=0, n_perm=0).oof
    npt.assert_allclose(fast, honest, rtol=1e-8, atol=1e-10)
    # the comparison has teeth: leaking either the scaler or the alpha search changes predictions detectably
    for leak in ("scaler", "alpha"):
        assert (_manual_logo(X, y, g.family, leak) - honest).abs().max() > 1e-3
    # and every permutation of the refit test is nested too: the same engine, one target column per permutation
    r = cv_evaluate(X, y, groups=g, scheme="family", n_boot=0, n_perm=20, seed=3)
    npt.assert_allclose(r.oof, honest, rtol=1e-8, atol=1e-10)


class SpyRidge(RegressorMixin, BaseEstimator):
    log = []

    def fit(self, X, y):
        SpyRidge.log.append(set(X.index))
        self.m_ = make_pipeline(StandardScaler(), Ridge(1.0)).fit(X, y)
        return self

    def predict(self, X):
        return self.m_.predict(X)


@pytest.mark.parametrize("scheme", ["family", "method", "domain"])
def test_generic_path_fits_only_on_training_rows(pl, scheme):
    SpyRidge.log = []
    cv_evaluate(pl.X, pl.y, groups=pl.groups, scheme=scheme, predictor=SpyRidge(), n_boot=0, n_perm=0)
    levels = pl.groups[scheme].unique()
    fct.test_eq(len(SpyRidge.log), len(levels))
    for lv, seen in zip(levels, SpyRidge.log):
        held = set(pl.groups.index[pl.groups[scheme] == lv])
        assert not held & seen
        assert seen | held == set(pl.X.index)


# ---------------------------------------------------------------- degenerate inputs
def test_degenerate_inputs(pl):
    with pytest.raises(ValueError, match="fewer than inner_cv=5"):
        cv_evaluate(pl.X.iloc[:5], pl.y.iloc[:5], n_boot=0, n_perm=0)
    with pytest.raises(ValueError, match=r"constant feature\(s\) \['flat'\]"):
        cv_evaluate(pl.X.assign(flat=3.0), pl.y)
    Xn = pl.X.copy()
    Xn.loc["c007", "x05"] = np.nan
    with pytest.raises(ValueError, match=r"'x05' at config\(s\) \['c007'\]"):
        cv_evaluate(Xn, pl.y)
    with pytest.raises(ValueError, match=r"'x05' at config\(s\) \['c007'\]"):
        bootstrap_lasso(Xn, pl.y, B=10)
    with pytest.raises(ValueError, match="single group 'all'"):
        cv_evaluate(pl.X, pl.y, groups=pl.groups.assign(family="all"), scheme="family")
    with pytest.raises(ValueError, match="needs groups"):
        cv_evaluate(pl.X, pl.y, scheme="logo")
    with pytest.raises(ValueError, match="fewer than the 40 folds"):
        cv_evaluate(pl.X, pl.y, scheme=40)
    with pytest.raises(ValueError, match="at least 3 configurations"):
        cv_evaluate(pl.X.iloc[:2], pl.y.iloc[:2], predictor=GainPredictor(alpha=1.0))
    with pytest.raises(ValueError, match="target is NaN"):
        cv_evaluate(pl.X, pl.y.where(pl.y.index != "c003"))
    with pytest.raises(ValueError, match="target is constant"):
        GainPredictor().fit(pl.X, pl.y * 0 + 1)
    with pytest.raises(ValueError, match="missing configuration"):
        cv_evaluate(pl.X, pl.y.iloc[1:])
    with pytest.raises(ValueError, match="not numeric"):
        check_features(pl.X.join(pl.groups), ["x00", "family"])
    with pytest.raises(ValueError, match="4 configurations to fit on"):
        cv_evaluate(pl.X, pl.y, groups=pd.Series(["a"] * 4 + ["b"] * 32, index=pl.X.index), scheme="logo")


# ---------------------------------------------------------------- bootstrap-Lasso and stability selection
def test_batched_lasso_matches_sklearn():
    s = make_planted(60, 10, 3, noise=0.2, seed=2)
    A, y = s.X.to_numpy().copy(), s.y.to_numpy()
    A[:, 4] = (np.arange(60) < 2).astype(float)      # constant in some resamples
    idx = np.random.default_rng(1).integers(0, 60, size=(30, 60))
    W = np.zeros((30, 60))
    np.add.at(W, (np.arange(30)[:, None], idx), 1.0)
    for a in (3e-4, 3e-3):
        mine, nfail = P._lasso_boot_chunk(A, y, W, a)
        assert nfail == 0
        ref = np.array([Lasso(alpha=a, fit_intercept=False, tol=1e-12, max_iter=100000)
                        .fit(P._standardize(A[i]), y[i] - y[i].mean()).coef_ for i in idx])
        npt.assert_allclose(mine, ref, atol=1e-7)
        npt.assert_array_equal(mine != 0, ref != 0)


def test_bootstrap_lasso_planted():
    s = make_planted(100, 12, 3, noise=0.15, seed=0)
    bl = bootstrap_lasso(s.X, s.y, B=1000, threshold=0.9, n_jobs=1, seed=0)
    irrelevant = [c for c in s.X.columns if c not in s.relevant]
    assert bl.frequencies[list(s.relevant)].min() >= 0.9
    assert bl.frequencies[irrelevant].max() <= 0.5      # 1-SE default: noise gets in now and then, never into the core
    fct.test_eq(set(bl.core), set(s.relevant))
    assert bl.alpha_info["rule"] == "1se" and bl.alpha > 0
    # the plug-in option is more conservative: a larger penalty, fewer noise selections
    pl_ = bootstrap_lasso(s.X, s.y, B=300, threshold=0.9, alpha_rule="plugin", n_jobs=1, seed=0)
    assert pl_.alpha > bl.alpha and pl_.frequencies[irrelevant].max() <= 0.2
    assert list(bl.frequencies) == sorted(bl.frequencies, reverse=True)
    fct.test_eq(bl.B, 1000)
    t = bl.tidy()
    assert t.loc[t.in_core, "sign_consistency"].min() == 1.0
    g = bl.glance().iloc[0]
    fct.test_eq(g.n_core, 3)
    fct.test_eq(g.n_not_converged, 0)


def test_bootstrap_lasso_independent_of_n_jobs(pl, monkeypatch):
    a = bootstrap_lasso(pl.X, pl.y, B=100, alpha=0.003, n_jobs=1, seed=4)
    assert bootstrap_lasso(pl.X, pl.y, B=100, alpha=0.003, n_jobs=2, seed=4).n_jobs_used == 1   # small: in-process
    monkeypatch.setattr(P, "PARALLEL_MIN_WORK", 0)                                          # force the workers
    b = bootstrap_lasso(pl.X, pl.y, B=100, alpha=0.003, n_jobs=2, seed=4)
    assert b.n_jobs_used == 2
    npt.assert_array_equal(a.coefs.to_numpy() != 0, b.coefs.to_numpy() != 0)
    npt.assert_allclose(a.coefs.to_numpy(), b.coefs.to_numpy(), atol=1e-7)


def test_lasso_alpha_rules(pl):
    a_pl, info = lasso_alpha(pl.X, pl.y, rule="plugin")
    a_1se, _ = lasso_alpha(pl.X, pl.y, rule="1se")
    a_min, _ = lasso_alpha(pl.X, pl.y, rule="min")
    assert a_min <= a_1se
    assert 0.5 < info["sigma_hat"] / pl.noise_sd < 1.5
    with pytest.raises(ValueError, match="rule must be"):
        lasso_alpha(pl.X, pl.y, rule="bic")


def test_stability_selection_bound_and_selection():
    s = make_planted(100, 20, 3, noise=0.15, seed=0)
    ss = stability_selection(s.X, s.y, B=50, threshold=0.75, q=4, seed=0)
    fct.test_eq(set(ss.selected), set(s.relevant))
    fct.test_close(ss.ev_bound, ss.q ** 2 / ((2 * 0.75 - 1) * 20), eps=1e-12)
    assert ss.q <= 4
    assert ss.path.to_numpy().max() <= 1 and ss.path.to_numpy().min() >= 0
    full = stability_selection(s.X, s.y, B=50, threshold=0.75, seed=0)
    assert full.q >= ss.q and len(full.path) >= len(ss.path)
    with pytest.raises(ValueError, match=r"threshold must be in \(0.5, 1\]"):
        stability_selection(s.X, s.y, threshold=0.5)


# ---------------------------------------------------------------- baselines, screening, persistence, CLI
NAMES = ["agreement_spread", "first_correct_pos", "length_var_within", "token_entropy_mean", "pass@1", "coverage_gap",
         "agreement_mean", "answer_entropy", "distinct_ratio", "logprob_mean", "length_mean", "truncation_rate"]


@pytest.fixture(scope="module")
def lit():
    return make_planted(36, 12, 4, noise=0.3, seed=11, weights=[1.0, -0.9, 0.8, 0.35], names=NAMES)


def test_baseline_table(lit):
    bt = baseline_table(lit.X, lit.y, core=["agreement_spread", "first_correct_pos", "length_var_within"], n_boot=200)
    t = bt.table.set_index("model")
    fct.test_eq(list(t.index), ["pass@1 alone", "coverage gap alone", "all features", "strict core", "core + token entropy"])
    fct.test_eq(t.loc["core + token entropy", "n_features"], 4)
    assert t.loc["core + token entropy", "spearman"] > t.loc["pass@1 alone", "spearman"]
    assert (t.spearman_lo <= t.spearman).all() and (t.spearman <= t.spearman_hi).all()
    bt2 = baseline_table(lit.X.drop(columns=["coverage_gap"]), lit.y, core=["agreement_spread"], n_boot=0)
    assert "coverage gap alone" not in set(bt2.table.model)
    assert any("coverage gap alone: skipped (missing feature(s) ['coverage_gap'])" in n for n in bt2.notes)
    bt3 = baseline_table(lit.X, lit.y, core=[], n_boot=0, n_perm=0)
    fct.test_eq(list(bt3.table.model), ["pass@1 alone", "coverage gap alone", "all features"])
    assert sum("skipped (empty core)" in n for n in bt3.notes) == 2


def test_read_features_table_drops_settings_bounds_and_targets(lit, tmp_path, monkeypatch):
    tab = lit.X.join(lit.groups).assign(gain=lit.y, gain_lo=lit.y - 0.01, **{"bon@N": lit.y + 0.5, "pass@1_lo": 0.1},
                                        temperature=0.7, seed=np.arange(36), flat=1.0)
    tab.loc["c003", "truncation_rate"] = np.nan
    tab.reset_index().to_csv(tmp_path / "t.csv", index=False)
    X, y, meta, notes = P.read_features_table(tmp_path / "t.csv")
    fct.test_eq(list(meta.columns), ["family", "method", "domain"])
    fct.test_eq(set(X.columns), set(NAMES) - {"truncation_rate"})
    assert any("'truncation_rate' dropped: NaN/inf at config(s) ['c003']" in n for n in notes)
    npt.assert_allclose(y, lit.y)
    # a table without registry columns: name-based rules (settings, interval bounds and target-like columns are not features)
    tab.rename(columns={c: f"my_{c}" for c in NAMES}).reset_index().to_csv(tmp_path / "t2.csv", index=False)
    X2, _, _, notes2 = P.read_features_table(tmp_path / "t2.csv")
    fct.test_eq(set(X2.columns), {f"my_{c}" for c in NAMES} - {"my_truncation_rate"})
    assert any("constant feature(s) dropped: ['flat']" in n for n in notes2)


def test_screen(pl):
    gp = GainPredictor().fit(pl.X, pl.y)
    new = pl.X.iloc[:10]
    pred = gp.predict(new)
    r = screen(gp, new, top_k=3, cost_per_config=2.0)
    fct.test_eq(r.selected, list(pred.nlargest(3).index))
    fct.test_close(r.fraction_avoided, 0.7)
    fct.test_close(r.cost_avoided, 14.0)
    fct.test_close(r.cost_total, 20.0)
    # intervals: tiny widths -> the status is decided for everyone; huge widths -> nothing is sure
    tight = screen(gp, new, top_k=3, intervals=pd.DataFrame({"lo": pred - 1e-9, "hi": pred + 1e-9}))
    fct.test_eq(set(tight.ranking.status), {"surely in", "surely out"})
    fct.test_eq(list(tight.ranking.index[tight.ranking.status == "surely in"]), r.selected)
    wide = screen(gp, new, top_k=3, intervals=lambda m, X: pd.DataFrame({"lo": pred - 10, "hi": pred + 10}))
    fct.test_eq(set(wide.ranking.status), {"uncertain"})
    with pytest.raises(ValueError, match="top_k must be between"):
        screen(gp, new, top_k=11)
    with pytest.raises(ValueError, match="missing configuration"):
        screen(gp, new, top_k=2, intervals=pd.DataFrame({"lo": pred, "hi": pred}).iloc[1:])


def test_save_load_roundtrip(pl, tmp_path):
    gp = GainPredictor(features=["x00", "x01", "x02", "x05"]).fit(pl.X, pl.y)
    path = gp.save(tmp_path / "m" / "predictor.joblib")
    gp2 = GainPredictor.load(tmp_path / "m")
    npt.assert_allclose(gp2.predict(pl.X), gp.predict(pl.X))
    fct.test_eq(gp2.features_, ["x00", "x01", "x02", "x05"])
    (tmp_path / "bad.joblib").write_bytes(path.read_bytes()[:10])
    with pytest.raises(Exception):
        GainPredictor.load(tmp_path / "bad.joblib")
    with pytest.raises(FileNotFoundError):
        GainPredictor.load(tmp_path / "nope.joblib")


def test_cli_fit_and_screen(lit, tmp_path, capsys):
    parser = build_parser(["fit"])
    tab = lit.X.join(lit.groups).assign(gain=lit.y, **{"bon@N": lit.y + 0.5})
    tab.reset_index().to_csv(tmp_path / "features.csv", index=False)
    out = tmp_path / "res"
    args = parser.parse_args(["fit", str(tmp_path / "features.csv"), "--out", str(out), "--groups", "family",
                              "--groups", "method", "--n-boot", "100", "--n-perm", "100", "--B", "200"])
    assert args.func(args) == 0
    for f in ["predictor.joblib", "cv.json", "frequencies.csv", "stability.csv", "baselines.csv", "oof_loo.png",
              "oof_logo_family.png", "oof_logo_method.png", "selection_frequencies.png"]:
        assert (out / f).exists(), f
    rep = json.loads((out / "cv.json").read_text())
    assert set(rep["cv"]) == {"loo", "logo:family", "logo:method"}
    assert "bon@N" not in rep["features"] and "gain" not in rep["features"] and "family" not in rep["features"]
    assert rep["cv"]["loo"]["glance"]["n_perm"] == 100
    freq = pd.read_csv(out / "frequencies.csv")
    fct.test_eq(set(freq.feature), set(NAMES))
    new = make_planted(48, 12, 4, noise=0.3, seed=11, weights=[1.0, -0.9, 0.8, 0.35], names=NAMES).X.iloc[36:]
    new.reset_index().to_parquet(tmp_path / "new.parquet")
    capsys.readouterr()
    args = parser.parse_args(["screen", str(out / "predictor.joblib"), str(tmp_path / "new.parquet"), "--top-k", "3",
                              "--out", str(tmp_path / "rank.csv")])
    assert args.func(args) == 0
    assert "score the top 3 of 12" in capsys.readouterr().out
    rank = pd.read_csv(tmp_path / "rank.csv")
    fct.test_eq(len(rank), 12)
    fct.test_eq(int(rank.selected.sum()), 3)
    # clear errors, non-zero exit codes
    args = parser.parse_args(["fit", str(tmp_path / "features.csv"), "--out", str(out), "--target", "nope"])
    assert args.func(args) == 2
    assert "target column 'nope'" in capsys.readouterr().err
    args = parser.parse_args(["fit", str(tmp_path / "features.csv"), "--out", str(out), "--groups", "model"])
    assert args.func(args) == 2
    args = parser.parse_args(["screen", str(tmp_path / "nothing"), str(tmp_path / "new.parquet")])
    assert args.func(args) == 2


# ---------------------------------------------------------------- honest evaluation (#17)
def _domain_world(seed=0, within=0.0, n=36):
    "Gain = domain effect (+ optional within-domain signal) + noise; x11 is a noisy domain indicator."
    s = make_planted(n, 12, 3, noise=0.5, seed=seed)
    dom = s.groups.domain
    X = s.X.copy()
    X["x11"] = (dom == "math").astype(float) + 0.3 * np.random.default_rng(seed).standard_normal(n)
    z = (s.signal - s.signal.mean()) / s.signal.std()
    y = 0.15 * (dom == "math") + within * 0.05 * z + 0.02 * np.random.default_rng(seed + 1).standard_normal(n)
    return X, y.rename("gain"), s.groups


def test_stratified_permutation_sees_through_domain_detection():
    X, y, g = _domain_world()
    glob = cv_evaluate(X, y, groups=g, strata="domain", perm_within=False, n_boot=0, n_perm=300, n_seeds=3)
    strat = cv_evaluate(X, y, groups=g, strata="domain", n_boot=0, n_perm=300, n_seeds=3)
    assert glob.p_value < 0.01 and strat.p_value > 0.1 and strat.p_within > 0.1
    fct.test_eq(glob.metrics, strat.metrics)
    # within-domain rho recomputed by hand from the out-of-fold predictions
    for d in ("math", "reasoning"):
        idx = g.index[g.domain == d]
        per_seed = strat.seeds[f"spearman_within:{d}"]
        assert per_seed.min() <= strat.within.loc[d, "spearman"] <= per_seed.max()
    r_star = strat.seeds.spearman.sub(strat.metrics["spearman"]).abs().idxmin()
    for d in ("math", "reasoning"):
        idx = g.index[g.domain == d]
        fct.test_close(strat.seeds.loc[r_star, f"spearman_within:{d}"],
                       stats.spearmanr(strat.oof[idx], y[idx]).statistic, eps=1e-12)
    dm = cv_evaluate(X, y, groups=g, strata="domain", predictor="stratum_mean", n_boot=0, n_perm=100)
    # the domain-only baseline by hand: LOO mean of the other configurations of the same domain
    by_hand = pd.Series({c: y[(g.domain == g.domain[c]) & (y.index != c)].mean() for c in y.index})
    npt.assert_allclose(dm.oof[y.index], by_hand[y.index], rtol=1e-12)
    fct.test_eq(dm.p_value, 1.0)
    Xw, yw, gw = _domain_world(within=1.0)
    sw = cv_evaluate(Xw, yw, groups=gw, strata="domain", n_boot=0, n_perm=200, n_seeds=3)
    assert sw.p_within < 0.02 and sw.spearman_within_mean > 0.5


def test_cv_evaluate_invariant_to_names_and_order():
    X, y, g = _domain_world(within=1.0)
    rng = np.random.default_rng(2)
    perm = rng.permutation(len(X))
    ren = {c: f"zzz{rng.integers(10 ** 6)}-{c}" for c in X.index}
    X2, y2, g2 = (o.iloc[perm].rename(index=ren) for o in (X, y, g))
    for scheme in ("loo", "family"):
        a = cv_evaluate(X, y, groups=g, scheme=scheme, strata="domain", n_boot=200, n_perm=200)
        b = cv_evaluate(X2, y2, groups=g2, scheme=scheme, strata="domain", n_boot=200, n_perm=200)
        fct.test_eq(a.metrics, b.metrics)
        fct.test_eq((a.p_value, a.p_within), (b.p_value, b.p_within))
        pd.testing.assert_frame_equal(a.ci, b.ci)
        npt.assert_array_equal(a.oof[X.index].to_numpy(), b.oof[[ren[c] for c in X.index]].to_numpy())
    # without the canonical order the inner folds would follow the row order: the test has teeth
    o = P.canonical_order
    try:
        P.canonical_order = lambda X, y=None: np.arange(len(np.asarray(X)))
        c = cv_evaluate(X2, y2, groups=g2, strata="domain", n_boot=0, n_perm=0)
        a = cv_evaluate(X, y, groups=g, strata="domain", n_boot=0, n_perm=0)
        assert not np.allclose(a.oof[X.index].to_numpy(), c.oof[[ren[i] for i in X.index]].to_numpy())
    finally:
        P.canonical_order = o


def test_repeated_inner_cv_reports_median_and_flags():
    s = make_planted(15, 6, 0, noise=1.0, seed=4)                  # pure noise, 15 configurations
    cv = cv_evaluate(s.X, s.y, groups=s.groups, scheme="family", n_boot=0, n_perm=0, n_seeds=7)
    fct.test_eq(len(cv.seeds), 7)
    fct.test_close(cv.metrics["spearman"], float(np.median(cv.seeds.spearman)), eps=1e-12)
    assert cv.spearman_range == (cv.seeds.spearman.min(), cv.seeds.spearman.max())
    # each seed's row is what a single run with that inner seed gives
    for k in (0, 3, 6):
        one = cv_evaluate(s.X, s.y, groups=s.groups, scheme="family", n_boot=0, n_perm=0, n_seeds=1,
                             predictor=GainPredictor(random_state=k))
        fct.test_close(one.metrics["spearman"], cv.seeds.spearman[k], eps=1e-12)
    assert any("< 12" in n for n in cv.notes)                          # 10 fitted configurations per fold
    loo = cv_evaluate(s.X, s.y, n_boot=0, n_perm=0)
    assert (loo.folds.alpha_at_top > 0).any() and any("largest alpha" in n for n in loo.notes)


def test_feature_groups_drop_exact_duplicates_and_group_near_copies():
    rng = np.random.default_rng(0)
    base = pd.DataFrame(rng.standard_normal((24, 4)), columns=["pass@1", "pass@N", "a", "b"])
    X = base.assign(coverage_gap=base["pass@N"] - base["pass@1"], a2=3 * base.a - 1 + 0.02 * rng.standard_normal(24),
                    total=base.a + 2 * base.b)
    fg = P.feature_groups(X)
    fct.test_eq(sorted(fg.duplicates), ["coverage_gap", "total"])
    fct.test_eq(fg.groups["a / a2"], ("a", "a2"))
    fct.test_eq(len(fg.groups), 4)
    # selection works on the kept features and counts a group as selected when any member is
    y = 0.5 * base.a + 0.05 * rng.standard_normal(24)
    bl = bootstrap_lasso(X, y, B=200, n_jobs=1, seed=0)
    assert "coverage_gap" not in bl.frequencies and set(bl.duplicates) == {"coverage_gap", "total"}
    sel = bl.coefs != 0
    fct.test_close(bl.group_frequencies["a / a2"], (sel["a"] | sel["a2"]).mean(), eps=1e-12)
    assert "a / a2" in bl.core_groups
    ss = stability_selection(X, y, B=30, threshold=0.9, groups="auto", lambdas=[bl.alpha], seed=0)
    assert "a / a2" in ss.selected_groups and ss.core[0] in ("a", "a2")
    fct.test_close(ss.ev_bound, ss.q ** 2 / ((2 * 0.9 - 1) * 4), eps=1e-12)


def test_cli_fit_core_is_the_pipelines_strict_core(lit, tmp_path):
    "`fit --features core` saves a predictor on the strict core `bon-lit run` would report (CPSS over best subset)."
    tab = lit.X.join(lit.groups).assign(gain=lit.y)
    tab.reset_index().to_csv(tmp_path / "features.csv", index=False)
    parser = build_parser(["fit"])
    args = parser.parse_args(["fit", str(tmp_path / "features.csv"), "--out", str(tmp_path / "res"), "--features", "core",
                              "--n-boot", "50", "--n-perm", "20", "--B", "100"])
    assert args.func(args) == 0
    rep = json.loads((tmp_path / "res" / "cv.json").read_text())
    from bon_lit.predict import subset_stability_selection
    want = subset_stability_selection(lit.X, lit.y, seed=0, groups="auto").core
    assert len(want) >= 2                                      # the planted suite has a recoverable core
    fct.test_eq(rep["core"], list(want)); fct.test_eq(rep["features"], list(want))
    assert set(want) <= set(lit.relevant)                      # and it holds no feature outside the planted ones
