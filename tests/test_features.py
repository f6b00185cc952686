"bon_lit.features: agreement with a plain reference and with bon_lit.metrics on random tables, invariances, errors, CLI."
import math, subprocess, warnings
import numpy as np
import pandas as pd
import pytest
import fastcore.test as fct
from hypothesis import given, settings, strategies as st, HealthCheck

from bon_lit.schema import SchemaError, read_table, write_table
from bon_lit.simulate import simulate_suite
from bon_lit.features import (FEATURES, GAINS, Feature, prompt_features, config_features, bon_gain, prompt_gain,
                              features_table, feature_ranges, naive_config_features, registry_table)


def random_table(seed, n_configs=3, n_prompts=4, Ns=(1, 2, 3, 5), with_key=False):
    "A random valid sample table: varying N per config, missing answers, reward ties, lengths with truncation."
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_configs):
        N = int(rng.choice(Ns))
        for p in range(n_prompts):
            for j in range(N):
                ans = rng.choice(["1", "2", "3", None], p=[0.4, 0.3, 0.2, 0.1])
                correct = ans == "1" if rng.random() > 0.05 else ans is not None   # occasionally inconsistent classes
                L = int(rng.integers(1, 40))
                rows.append((f"c{c}", f"p{p}", j, L, "length" if ans is None else "stop", -L * rng.uniform(0.1, 2),
                             rng.uniform(0, 2), ans, correct, float(rng.integers(0, 3))))   # rewards in {0,1,2}: many ties
    df = pd.DataFrame(rows, columns=["config_id", "prompt_id", "sample_idx", "n_tokens", "finish_reason", "logprob_sum",
                                     "token_entropy_mean", "answer", "correct", "reward"])
    df.insert(3, "text", "...")
    df["correct"] = df["correct"].astype("boolean")
    for col in ("config_id", "prompt_id", "text", "finish_reason"): df[col] = df[col].astype("str")
    df["answer"] = df["answer"].astype("str").where(df["answer"].notna())
    if with_key:   # "2" and "3" are the same equivalence class
        df["answer_key"] = df["answer"].replace({"3": "2"})
    return df


def combined(df):
    return config_features(df).join(bon_gain(df, n_boot=0)[["bon@N", "gain", "gain_vs_maj"]])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), with_key=st.booleans())
def test_matches_reference(seed, with_key):
    df = random_table(seed, with_key=with_key)
    ref, fast = naive_config_features(df), combined(df)
    for c in ref.columns:
        np.testing.assert_allclose(fast[c].to_numpy(float), ref[c].to_numpy(float), rtol=1e-9, atol=1e-12, err_msg=c)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_matches_metrics_module(seed):
    metrics = pytest.importorskip("bon_lit.metrics")
    df = random_table(seed, Ns=(3, 5))
    pm = metrics.per_prompt_metrics(df, metrics=("pass", "bon", "maj"))
    pg = prompt_gain(df)
    for a, b in (("pass", "pass@N"), ("bon", "bon@N"), ("maj", "maj@N")):
        np.testing.assert_allclose(pg[b], pm[a], atol=1e-12, err_msg=a)
    for k in (1, 2, 3):
        pm, pg = metrics.per_prompt_metrics(df, k=k), prompt_gain(df, n=k)
        for a, b in (("pass", "pass@N"), ("bon", "bon@N"), ("maj", "maj@N")):
            np.testing.assert_allclose(pg[b], pm[a], atol=1e-10, err_msg=f"{a}@{k}")


def test_row_order_invariance():
    df = random_table(1)
    shuffled = df.sample(frac=1, random_state=3).reset_index(drop=True)
    pd.testing.assert_frame_equal(config_features(shuffled), config_features(df))
    pd.testing.assert_frame_equal(prompt_features(shuffled), prompt_features(df))
    pd.testing.assert_frame_equal(bon_gain(shuffled, n_boot=50), bon_gain(df, n_boot=50))


def test_first_correct_depends_on_order_only_through_position():
    df = random_table(2)
    rb = prompt_features(df, features=["first_correct_rb"])
    # reversing the sample order changes first_correct_pos but not its Rao-Blackwellised version
    rev = df.assign(sample_idx=df.groupby(["config_id", "prompt_id"])["sample_idx"].transform(lambda s: s.max() - s))
    pd.testing.assert_frame_equal(prompt_features(rev, features=["first_correct_rb"]), rb)


def test_rb_identity():
    from bon_lit.metrics import pass_at_k
    df = random_table(3)
    pf = prompt_features(df, features=["first_correct_rb"])
    area = [sum(1 - pass_at_k(N, c, k) for k in range(N + 1)) / (N + 1) for N, c in zip(pf.n_samples, pf.n_correct)]
    np.testing.assert_allclose(pf.first_correct_rb, area, rtol=1e-12)


def test_stats_within_ranges():
    suite = simulate_suite(n_configs=8, n_prompts=60, n_samples=8, seed=5, with_text=False)
    pf = prompt_features(suite.samples)
    cf = config_features(suite.samples)
    for f in FEATURES.values():
        if f.stat not in pf.columns: continue
        a, b = f.range(8, suite.params.max_new_tokens)
        v = (cf[f.name] if f.aggregate == "pooled" else pf[f.stat]).dropna()
        assert ((v >= a - 1e-9) & (v <= b + 1e-9)).all(), f.name
    # law of total variance
    n = cf.n_prompts
    np.testing.assert_allclose(cf.length_var_total, cf.length_var_within + (n - 1) / n * cf.length_var_between, rtol=1e-10)


def test_registry_contract():
    need = {"pass@1", "pass@N", "coverage_gap", "maj@N", "agreement_mean", "agreement_spread", "answer_entropy",
            "distinct_ratio", "token_entropy_mean", "logprob_mean", "length_mean", "length_var_within",
            "length_var_total", "truncation_rate", "first_correct_pos", "length_gap"}
    assert need <= set(FEATURES)
    for name, f in FEATURES.items():
        assert isinstance(f, Feature) and f.name == name and f.latex and f.description
        assert f.kind in ("label-free", "label-assisted") and f.aggregate in ("mean", "std", "var", "pooled")
        a, b = f.range(16, 512)
        assert a <= b
        with pytest.raises(Exception): f.name = "x"          # frozen
    fr = feature_ranges(4, 100)
    fct.test_eq(fr.loc["distinct_ratio", "a"], 0.25)


def test_errors_name_column_and_config():
    df = random_table(4, Ns=(3,))
    with pytest.raises(SchemaError, match="uneven N"):
        config_features(df.drop(index=df.index[-1]))
    with pytest.raises(SchemaError, match="sample_idx"):                # duplicate sample_idx 0 in c0/p0
        config_features(df.assign(sample_idx=df.sample_idx.where(df.index != 1, 0)))
    bad = df.assign(correct=df.correct.where(df.index != 0))
    with pytest.raises(SchemaError, match=r"'correct'.*'c0'"):
        config_features(bad)
    with pytest.raises(SchemaError, match=r"'correct'.*'c0'"):
        bon_gain(bad)
    config_features(bad, kinds="label-free")                    # label-free features never look at correct
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        config_features(bad, ungradable="wrong")
    assert any("counting them as wrong" in str(x.message) for x in w)
    last = df.config_id.iloc[-1]
    with pytest.raises(SchemaError, match=rf"'reward'.*'{last}'"):
        bon_gain(df.assign(reward=df.reward.where(df.config_id != last)))
    with pytest.raises(SchemaError, match="'reward'"):
        bon_gain(df.drop(columns="reward"))
    with pytest.raises(ValueError, match="exceeds"):
        bon_gain(df, n=99)
    with pytest.raises(ValueError, match="unknown feature"):
        config_features(df, features=["nope"])
    with pytest.raises(SchemaError, match="missing"):
        config_features(df.drop(columns="prompt_id"))


def test_configs_join_and_declared_n():
    suite = simulate_suite(n_configs=4, n_prompts=20, n_samples=4, seed=1, with_text=False)
    cf = config_features(suite.samples, suite.configs)
    fct.test_eq(list(cf.columns[:3]), ["family", "method", "domain"])
    with pytest.raises(SchemaError, match="n_samples"):
        config_features(suite.samples, suite.configs.assign(n_samples=5))
    with pytest.raises(SchemaError, match="not in the config table"):
        config_features(suite.samples, suite.configs.iloc[1:])


def test_bootstrap_paired_and_covering():
    suite = simulate_suite(n_configs=4, n_prompts=300, n_samples=8, seed=2, with_text=False)
    s = suite.samples
    twin = s[s.config_id == s.config_id.iloc[0]].assign(config_id="zz-twin")
    g = bon_gain(pd.concat([s, twin], ignore_index=True), n_boot=100, seed=4)
    first = g.loc[s.config_id.iloc[0]]
    pd.testing.assert_series_equal(g.loc["zz-twin"], first, check_names=False)   # same prompts -> same resamples
    for c in GAINS:
        assert (g[c + "_lo"] <= g[c] + 1e-12).all() and (g[c] <= g[c + "_hi"] + 1e-12).all()


def test_gain_converges_to_closed_form():
    suite = simulate_suite(n_configs=6, n_prompts=50, n_samples=8, seed=3, with_text=False)
    pop = suite.population(n_prompts=8000, seed=11)
    pg = prompt_gain(pop)
    g = pg.groupby("config_id")[["gain", "pass@1"]]
    z = (g.mean() - suite.truth[["gain", "pass@1"]].reindex(g.mean().index)) / (g.std() / np.sqrt(g.size().to_numpy()[:, None]))
    assert (z.abs() < 4.5).all().all(), z


def test_label_free_on_ungraded_answers():
    df = random_table(6).assign(correct=pd.NA)
    df["correct"] = df["correct"].astype("boolean")
    cf = config_features(df, kinds="label-free")
    assert all(f.kind == "label-free" for f in FEATURES.values() if f.name in cf.columns)


def test_cli_end_to_end(tmp_path):
    suite = simulate_suite(n_configs=6, n_prompts=30, n_samples=4, seed=0, with_text=False)
    s = suite.samples
    unscored = s.config_id.unique()[0]
    write_table(s.assign(reward=s.reward.where(s.config_id != unscored)), tmp_path / "s.parquet")
    write_table(suite.configs, tmp_path / "c.parquet")
    r = subprocess.run(["bon-lit", "features", str(tmp_path / "s.parquet"), "--configs", str(tmp_path / "c.parquet"),
                        "--out", str(tmp_path / "f.parquet"), "--n-boot", "50"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = read_table(tmp_path / "f.parquet").set_index("config_id")
    fct.test_eq(len(out), 6)
    assert np.isnan(out.loc[unscored, "gain"]) and out.drop(index=unscored)["gain"].notna().all()
    assert out.attrs["provenance"]["step"] == "features" and "numpy" in out.attrs["provenance"]["packages"]
    exp = config_features(s)
    np.testing.assert_allclose(out["agreement_spread"], exp["agreement_spread"].reindex(out.index))
    r = subprocess.run(["bon-lit", "features", str(tmp_path / "s.parquet"), "--gains", "yes", "--out", str(tmp_path / "g.jsonl")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "'reward'" in r.stderr and unscored in r.stderr
    r = subprocess.run(["bon-lit", "features", str(tmp_path / "s.parquet"), "--gains", "no", "--label-free",
                        "--out", str(tmp_path / "lf.jsonl")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lf = read_table(tmp_path / "lf.jsonl")
    assert "pass@1" not in lf.columns and "agreement_spread" in lf.columns
    r = subprocess.run(["bon-lit", "features", str(tmp_path / "s.parquet"), "--n", "2", "--n-boot", "0",
                        "--out", str(tmp_path / "k2.parquet")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    k2 = read_table(tmp_path / "k2.parquet").set_index("config_id")
    assert {"bon@2", "maj@2", "pass@2", "maj@N", "gain"} <= set(k2.columns)
    np.testing.assert_allclose(k2["bon@2"].dropna(), bon_gain(s[s.config_id != unscored], n=2, n_boot=0)["bon@N"])


def test_no_answer_rate_is_the_share_of_missing_answers():
    df = random_table(3)
    df.loc[df.index[::7], "answer"] = None
    cf = config_features(df, features=["no_answer_rate", "agreement_mean"])
    naive = df.assign(miss=df["answer"].isna()).groupby(["config_id", "prompt_id"]).miss.mean().groupby(level=0).mean()
    np.testing.assert_allclose(cf["no_answer_rate"].to_numpy(), naive.reindex(cf.index).to_numpy(), atol=1e-12)
    assert (cf["no_answer_rate"] > 0).any() and FEATURES["no_answer_rate"].range(8, 100) == (0.0, 1.0)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("ddof", [0, 1])
def test_length_ddof_matches_numpy_var(seed, ddof):
    "length_ddof=0/1: every length variance equals numpy's var with that ddof; None keeps the LENGTH_DDOF defaults."
    from bon_lit.features import LENGTH_DDOF
    df = random_table(seed, Ns=(2, 3, 5))
    cf = config_features(df, features=list(LENGTH_DDOF), length_ddof=ddof)
    pf = prompt_features(df, features=["length_var_within"], length_ddof=ddof).set_index(["config_id", "prompt_id"])
    for cid, g in df.groupby("config_id"):
        vp = g.groupby("prompt_id").n_tokens.apply(lambda s: np.var(s.to_numpy(float), ddof=ddof))
        np.testing.assert_allclose(pf.loc[cid, "length_var"].reindex(vp.index), vp, rtol=1e-12)
        fct.test_close(cf.loc[cid, "length_var_within"], vp.mean(), eps=1e-9)
        fct.test_close(cf.loc[cid, "length_var_between"], np.var(g.groupby("prompt_id").n_tokens.mean().to_numpy(float), ddof=ddof), eps=1e-9)
        fct.test_close(cf.loc[cid, "length_var_total"], np.var(g.n_tokens.to_numpy(float), ddof=ddof), eps=1e-9)
    default = config_features(df, features=list(LENGTH_DDOF))
    for name, dd in LENGTH_DDOF.items():
        np.testing.assert_allclose(default[name], config_features(df, features=[name], length_ddof=dd)[name], rtol=1e-12)


def test_registry_table_is_the_registry():
    "The documented table lists every registered feature once, in registry order, with ranges derived by hand."
    t = registry_table(N=8, max_len=100, vocab_size=1000).set_index("feature")
    fct.test_eq(list(t.index), [f"`{n}`" for n in FEATURES])
    fct.test_eq(t.loc["`answer_entropy`", "range"], f"$[0, {math.log(8):.4g}]$")              # [0, log N]
    fct.test_eq(t.loc["`token_entropy_mean`", "range"], f"$[0, {math.log(1000):.4g}]$")       # [0, log V]
    fct.test_eq(t.loc["`coverage_gap`", "range"], "$[0, 0.875]$")                              # [0, 1 - 1/N]
    fct.test_eq(t.loc["`length_var_total`", "range"], "$[0, 2500]$ (of the feature)")          # [0, L^2/4], pooled
    fct.test_eq(t.loc["`logprob_mean`", "range"], "$[-\\infty, 0]$")
    fct.test_eq(t.loc["`pass@1`", "definition"], "$" + FEATURES["pass@1"].latex + "$")
