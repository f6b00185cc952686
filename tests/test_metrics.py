"Tests for bon_lit.metrics: every per-prompt estimator against literal brute-force enumeration, plus table-level checks."
import itertools, math, pickle, warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import fastcore.test as fct
from hypothesis import given, settings, strategies as st, HealthCheck

from bon_lit.metrics import (pass_at_k, bon_at_k, maj_at_k, weighted_maj_at_k, maj_curve, bon_rank_weights,
                             scaling_curves, per_prompt_metrics, Estimate, METRICS)

TOL = 1e-12


# ----------------------------------------------------------------------------------------------------------------
# Independent reference: enumerate every k-subset with itertools.combinations and apply each rule literally.
# ----------------------------------------------------------------------------------------------------------------
def _missing(a):
    return a is None or (isinstance(a, float) and math.isnan(a))


def brute(answers, rewards, correct, k):
    "(pass@k, BoN@k, maj@k, weighted maj@k) by enumeration; conventions: missing answers abstain, ties uniform."
    N = len(correct)
    if k == 0:
        return (0.0, 0.0, 0.0, 0.0)
    sums = [0.0] * 4
    subsets = list(itertools.combinations(range(N), k))
    for S in subsets:
        sums[0] += 1.0 if any(correct[i] for i in S) else 0.0
        top = max(rewards[i] for i in S)
        tied = [i for i in S if rewards[i] == top]
        sums[1] += sum(1.0 for i in tied if correct[i]) / len(tied)
        for slot, weighted in ((2, False), (3, True)):
            votes, members = Counter(), {}
            for i in S:
                if _missing(answers[i]):
                    continue
                votes[answers[i]] += rewards[i] if weighted else 1.0
                members.setdefault(answers[i], []).append(i)
            if not votes:
                continue                                           # everybody abstained: wrong
            best = max(votes.values())
            winners = [a for a, v in votes.items() if v >= best - 1e-9 * max(1.0, abs(best))]
            sums[slot] += sum(sum(1.0 for i in members[a] if correct[i]) / len(members[a]) for a in winners) / len(winners)
    return tuple(s / len(subsets) for s in sums)


def make_pool(rng, N, kind):
    answers = [None if rng.random() < 0.15 else "abc"[rng.integers(0, 3)] for _ in range(N)]
    rewards = [float(rng.choice([-1.0, 0.0, 0.5, 1.0, 2.0])) for _ in range(N)]       # few values: many ties
    if kind == "all_correct":
        answers = [a if a is not None else "a" for a in answers]
        correct = [True] * N
    elif kind == "none_correct":
        correct = [False] * N
    elif kind == "inconsistent":                                                      # correctness varies inside a class
        correct = [bool(rng.random() < 0.5) and a is not None for a in answers]
    else:
        correct = [a == "a" for a in answers]
    return answers, rewards, correct


def assert_matches_brute(answers, rewards, correct):
    N = len(correct)
    for k in range(N + 1):
        ref = brute(answers, rewards, correct, k)
        got = (pass_at_k(N, sum(correct), k), bon_at_k(rewards, correct, k), maj_at_k(answers, correct, k),
               weighted_maj_at_k(answers, rewards, correct, k))
        assert got[2].method == "exact" and got[3].method == "exact"
        np.testing.assert_allclose(got, ref, atol=TOL, rtol=0, err_msg=f"k={k} pool={answers, rewards, correct}")


@pytest.mark.parametrize("N", range(1, 11))
@pytest.mark.parametrize("kind", ["mixed", "all_correct", "none_correct", "inconsistent"])
def test_estimators_equal_brute_force(N, kind):
    rng = np.random.default_rng(1000 * N + len(kind))
    for _ in range(3 if kind == "mixed" else 1):
        assert_matches_brute(*make_pool(rng, N, kind))


pools = st.integers(1, 8).flatmap(lambda n: st.tuples(
    st.lists(st.sampled_from([None, "a", "b", "c"]), min_size=n, max_size=n),
    st.lists(st.sampled_from([-1.0, 0.0, 0.25, 1.0, 3.0]), min_size=n, max_size=n),
    st.lists(st.booleans(), min_size=n, max_size=n)))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pools, st.booleans())
def test_estimators_equal_brute_force_hypothesis(pool, consistent):
    answers, rewards, correct = pool
    if consistent:                                 # the usual case: correctness is a property of the answer class
        correct = [a == "a" for a in answers]
    assert_matches_brute(answers, rewards, correct)


def test_pass_at_k_closed_form_and_vectorised():
    for n in (1, 5, 37, 200):
        for c in sorted({0, 1, n // 3, n - 1, n}):
            for k in sorted({0, 1, 2, n // 2, n - 1, n}):
                if 0 <= c <= n and 0 <= k <= n:
                    ref = 1 - math.comb(n - c, k) / math.comb(n, k)
                    fct.test_close(pass_at_k(n, c, k), ref, eps=1e-13)
    n, c, k = np.array([10, 20, 30]), np.array([1, 5, 30]), np.array([[1], [7]])
    out = pass_at_k(n, c, k)
    assert out.shape == (2, 3)
    fct.test_close(out[1, 0], 1 - math.comb(9, 7) / math.comb(10, 7), eps=1e-14)
    fct.test_fail(lambda: pass_at_k(3, 4, 1), contains="c <= n")
    fct.test_fail(lambda: pass_at_k(3, 1, 4), contains="k <= n")


def test_pass_at_k_unbiased():
    p, N, k = 0.23, 12, 5
    w = np.array([math.comb(N, c) * p**c * (1 - p)**(N - c) for c in range(N + 1)])
    fct.test_close((w * pass_at_k(N, np.arange(N + 1), k)).sum(), 1 - (1 - p)**k, eps=1e-14)


def test_bon_weights_large_N_and_array_k():
    W = bon_rank_weights(1500)
    np.testing.assert_allclose(W.sum(1), 1, atol=1e-12)
    assert np.isfinite(W).all() and (W >= 0).all()
    r, y = [3.0, 1.0, 2.0, 2.0], [False, True, True, False]
    np.testing.assert_allclose(bon_at_k(r, y, [0, 1, 4]), [0, 0.5, 0.0])


def test_monte_carlo_fallback_within_se():
    rng = np.random.default_rng(7)
    N = 14
    answers = [None if rng.random() < 0.1 else str(rng.integers(0, 4)) for _ in range(N)]
    correct = [a == "0" for a in answers]
    rewards = list(np.round(rng.normal(size=N), 1))
    for k in (3, 7):
        ex, mc = maj_at_k(answers, correct, k), maj_at_k(answers, correct, k, method="mc", n_mc=40_000, seed=3)
        assert mc.method == "mc" and mc.se > 0 and abs(mc - ex) < 5 * mc.se
        assert maj_at_k(answers, correct, k, method="mc", n_mc=1000, seed=3) == maj_at_k(answers, correct, k, method="mc", n_mc=1000, seed=3)
        ex = weighted_maj_at_k(answers, rewards, correct, k)
        mc = weighted_maj_at_k(answers, rewards, correct, k, method="mc", n_mc=40_000, seed=3)
        assert ex.method == "exact" and abs(mc - ex) < 5 * mc.se
    # auto switches to MC when enumeration is too large
    big = weighted_maj_at_k(answers * 3, rewards * 3, correct * 3, 20, max_subsets=1000, n_mc=5000)
    assert big.method == "mc" and big.n_mc == 5000
    # maj exact at large N agrees with MC
    rng = np.random.default_rng(1)
    a = [str(min(rng.geometric(0.35) - 1, 9)) for _ in range(200)]
    y = [v == "0" for v in a]
    ex, mc = maj_at_k(a, y, 25), maj_at_k(a, y, 25, method="mc", n_mc=40_000)
    assert ex.method == "exact" and abs(mc - ex) < 5 * mc.se
    np.testing.assert_allclose(maj_curve(a, y)[25], ex)


def test_estimate_behaves_like_float():
    e = Estimate(0.25, se=0.01, method="mc", n_mc=100)
    assert e + 1 == 1.25 and e.value == 0.25 and e.se == 0.01
    e2 = pickle.loads(pickle.dumps(e))
    assert e2 == e and e2.se == 0.01 and e2.method == "mc"


def test_missing_answers_abstain():
    fct.test_eq(maj_at_k([None, np.nan, pd.NA], [False] * 3, 2), 0.0)
    fct.test_eq(maj_at_k(["x", None], [True, False], 2), 1.0)              # the abstainer does not tie with "x"
    fct.test_close(maj_at_k(["x", None, None, "y"], [True, False, False, False], 1), 0.25, eps=1e-15)
    fct.test_fail(lambda: maj_at_k(["x"], pd.array([None], dtype="boolean"), 1), contains="missing")


# ----------------------------------------------------------------------------------------------------------------
# Table level
# ----------------------------------------------------------------------------------------------------------------
def table(rng, Ns, n_prompts=4):
    rows = []
    for cfg, N in Ns.items():
        for p in range(n_prompts):
            a, r, y = make_pool(rng, N, ["mixed", "all_correct", "none_correct", "inconsistent"][p % 4])
            rows += [dict(config_id=cfg, prompt_id=f"p{p}", sample_idx=i, answer=a[i], correct=y[i], reward=r[i])
                     for i in range(N)]
    df = pd.DataFrame(rows).astype({"config_id": "str", "prompt_id": "str", "sample_idx": "int64",
                                    "correct": "boolean", "reward": "float64"})
    return df.sample(frac=1, random_state=0).reset_index(drop=True)


def test_scaling_curves_equal_brute_force_means():
    df = table(np.random.default_rng(5), {"A": 7, "B": 5})
    cur = scaling_curves(df, metrics=METRICS, n_boot=0)
    assert list(cur.columns) == ["config_id", "metric", "k", "value", "lo", "hi"]
    v = cur.set_index(["config_id", "metric", "k"])["value"]
    for cfg, g in df.groupby("config_id"):
        N = len(g) // g.prompt_id.nunique()
        assert v.loc[cfg].index.get_level_values("k").max() == N
        for k in range(1, N + 1):
            ref = np.mean([brute([None if pd.isna(x) else x for x in h.answer], list(h.reward),
                                 list(h.correct.astype(bool)), k) for _, h in g.groupby("prompt_id")], axis=0)
            np.testing.assert_allclose([v[cfg, m, k] for m in METRICS], ref, atol=TOL)


def test_per_prompt_metrics_match_functions():
    df = table(np.random.default_rng(6), {"A": 6})
    pp = per_prompt_metrics(df, k=3)
    assert len(pp) == 4 and (pp.k == 3).all() and (pp.n_samples == 6).all()
    for _, row in pp.iterrows():
        h = df[(df.config_id == row.config_id) & (df.prompt_id == row.prompt_id)]
        y, r = h.correct.to_numpy(bool), h.reward.to_numpy()
        a = [None if pd.isna(x) else x for x in h.answer]
        fct.test_eq(row.n_correct, y.sum())
        np.testing.assert_allclose([row["pass"], row["bon"], row["maj"]], brute(a, list(r), list(y), 3)[:3], atol=TOL)
    full = per_prompt_metrics(df)
    assert (full.k == 6).all()


def test_uneven_pool_is_an_error_naming_config_and_prompt():
    df = table(np.random.default_rng(8), {"A": 5, "B": 5})
    short = df.drop(index=df[(df.config_id == "B") & (df.prompt_id == "p2")].index[:1])
    fct.test_fail(lambda: scaling_curves(short), contains="config_id='B', prompt_id='p2': 4 samples, expected N=5")
    fct.test_fail(lambda: per_prompt_metrics(short), contains="config_id='B', prompt_id='p2'")
    fct.test_fail(lambda: scaling_curves(df, n_samples=6), contains="has N=5, expected 6")


def test_other_pool_errors():
    df = table(np.random.default_rng(9), {"A": 4})
    dup = df.copy(); dup.loc[dup.index[dup.prompt_id == "p1"][1], "sample_idx"] = int(dup[dup.prompt_id == "p1"].sample_idx.iloc[0])
    fct.test_fail(lambda: scaling_curves(dup), contains="(duplicates or gaps found): config_id='A', prompt_id='p1'")
    na = df.copy(); na.loc[na.index[na.prompt_id == "p3"][0], "correct"] = pd.NA
    fct.test_fail(lambda: scaling_curves(na), contains="config_id='A', prompt_id='p3'")
    nan = df.copy(); nan.loc[nan.index[nan.prompt_id == "p0"][0], "reward"] = np.nan
    fct.test_fail(lambda: scaling_curves(nan), contains="'reward' is NaN")
    scaling_curves(nan, metrics=("pass", "maj"))
    fct.test_fail(lambda: scaling_curves(df, metrics=("best",)), contains="unknown metric")


def test_order_invariance_bootstrap_and_answer_key():
    df = table(np.random.default_rng(10), {"A": 6, "B": 6}, n_prompts=12)
    a = scaling_curves(df, n_boot=100, seed=1)
    b = scaling_curves(df.sample(frac=1, random_state=4), n_boot=100, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert (a.lo <= a.value + 1e-12).all() and (a.value <= a.hi + 1e-12).all()
    assert a[a.k > 1].eval("hi - lo").gt(0).any()
    # answer_key takes precedence over answer
    keyed = df.assign(answer_key=np.where(df.answer.isna(), None, "same"))
    mk = per_prompt_metrics(keyed, metrics=("maj",))
    corr = keyed.groupby(["config_id", "prompt_id"]).apply(
        lambda h: h.correct[h.answer_key.notna()].astype(bool).mean() if h.answer_key.notna().any() else 0.0,
        include_groups=False)
    np.testing.assert_allclose(mk.set_index(["config_id", "prompt_id"])["maj"].sort_index(), corr.sort_index(), atol=TOL)


def test_simulated_suite_curves_consistent():
    sim = pytest.importorskip("bon_lit.simulate")
    suite = sim.simulate_suite(n_configs=6, n_prompts=40, n_samples=8, seed=2)
    cur = scaling_curves(suite.samples, n_boot=50)
    assert len(cur) == 6 * 3 * 8
    wide = cur.pivot_table(index=["config_id", "k"], columns="metric", values="value")
    assert (wide["bon"] <= wide["pass"] + 1e-12).all() and (wide["maj"] <= wide["pass"] + 1e-12).all()
    k1 = wide.xs(1, level="k")
    np.testing.assert_allclose(k1["bon"], k1["pass"], atol=1e-12)
    pp = per_prompt_metrics(suite.samples)
    agg = pp.groupby("config_id")[["pass", "bon", "maj"]].mean()
    np.testing.assert_allclose(agg.to_numpy(), wide.xs(8, level="k")[["pass", "bon", "maj"]].to_numpy(), atol=1e-12)
