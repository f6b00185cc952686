"""Benchmark bon_lit.metrics.scaling_curves on a 10-million-sample table.

Synthetic data (numpy, seeded): n_configs × n_prompts × N samples with
  correct ~ Bernoulli(p), p ~ Beta per config;  wrong answers spread over 8 classes with a per-prompt skew,
  3% of wrong samples abstain (no answer);  reward = d_config · correct + N(0, 1), rounded to 2 decimals (ties).
Columns follow the sample-table contract: config_id/prompt_id/answer_key str, sample_idx int64,
correct pandas boolean, reward float64.

What is timed (the "vectorised" number): one call
    scaling_curves(df, metrics=("pass", "bon", "maj"), ks={"pass": None, "bon": None, "maj": [N]}, n_boot=200)
starting from the in-memory DataFrame: validation (uneven pools, duplicate sample_idx, NA labels, NaN rewards),
factorising ids and answer keys, grouping, pass@k and BoN@k for every k = 1..N, maj@N, and 200 bootstrap
replicates per config and metric. Data generation is not timed.

Baselines, measured in the same run on a subset of prompts and extrapolated per sample:
  loop     — the straightforward approach: groupby (config, prompt), and for each prompt and each k call the
             per-prompt functions pass_at_k(N, c, k) and bon_at_k(rewards, correct, k); maj_at_k(answers, correct, N);
             then per-config means (no bootstrap: favours the baseline).
  loop_vk  — the same per-prompt loop but each per-prompt call vectorised over k (a stronger baseline).
The subset's per-config curves from both loops are checked against scaling_curves on the same subset (max abs diff).

Also measured: maj@k for every k (exact generating-function DP, per distinct pool signature) on a subset.

Wall-clock and process CPU time (all threads) of the timed call are both reported: the machine may be shared.

Memory: peak RSS of the process during the timed call (VmHWM after resetting it via /proc/self/clear_refs, which
includes the input table itself), and the tracemalloc peak of a second, traced call (allocations made by the call).

Prints one JSON line at the end.
"""
from __future__ import annotations
import argparse, json, os, platform, resource, time, tracemalloc
import numpy as np
import pandas as pd
import bon_lit
from bon_lit.metrics import scaling_curves, pass_at_k, bon_at_k, maj_at_k


def make_table(n_configs, n_prompts, N, seed=0):
    rng = np.random.default_rng(seed)
    G = n_configs * n_prompts
    cfg = np.repeat(np.arange(n_configs), n_prompts)
    a, b = rng.uniform(0.3, 3, n_configs), rng.uniform(0.3, 3, n_configs)
    p = rng.beta(a[cfg], b[cfg])                                           # per-prompt solve rate
    correct = rng.random((G, N)) < p[:, None]
    skew = rng.uniform(0.3, 4, G)[:, None]
    wrong_cls = 1 + np.floor(8 * rng.random((G, N)) ** skew).astype(np.int64)
    code = np.where(correct, 0, wrong_cls)
    code[(~correct) & (rng.random((G, N)) < 0.03)] = -1                     # no answer
    d = rng.uniform(0, 2.5, n_configs)
    reward = np.round(d[cfg][:, None] * correct + rng.normal(size=(G, N)), 2)
    n = G * N
    cat = lambda codes, names: pd.Series(pd.Categorical.from_codes(codes, names)).astype("str")
    df = pd.DataFrame({
        "config_id": cat(np.repeat(cfg, N), [f"cfg-{i:03d}" for i in range(n_configs)]),
        "prompt_id": cat(np.tile(np.repeat(np.arange(n_prompts), N), n_configs), [f"p-{i:05d}" for i in range(n_prompts)]),
        "sample_idx": np.tile(np.arange(N, dtype=np.int64), G),
        "answer_key": cat(code.ravel(), [f"a{i}" for i in range(9)]),
        "correct": pd.array(correct.ravel(), dtype="boolean"),
        "reward": reward.ravel(),
    })
    assert len(df) == n
    return df


def loop_baseline(df, N, vectorised_k=False):
    "Per-prompt Python loop over (config, prompt); returns per-config mean curves {metric: DataFrame config x k}."
    ks = np.arange(1, N + 1)
    rows = []
    for (cfg, pid), g in df.groupby(["config_id", "prompt_id"], sort=True):
        y = g["correct"].to_numpy(dtype=bool); r = g["reward"].to_numpy(); a = g["answer_key"].tolist()
        c = int(y.sum())
        if vectorised_k:
            pk, bk = pass_at_k(N, c, ks), bon_at_k(r, y, ks)
        else:
            pk = [pass_at_k(N, c, k) for k in ks]; bk = [bon_at_k(r, y, k) for k in ks]
        rows.append((cfg, np.asarray(pk), np.asarray(bk), float(maj_at_k(a, y, N))))
    cfgs = [r[0] for r in rows]
    out = {"pass": pd.DataFrame(np.array([r[1] for r in rows]), index=cfgs, columns=ks).groupby(level=0).mean(),
           "bon": pd.DataFrame(np.array([r[2] for r in rows]), index=cfgs, columns=ks).groupby(level=0).mean(),
           "maj": pd.Series([r[3] for r in rows], index=cfgs).groupby(level=0).mean()}
    return out


def max_diff(base, cur, N):
    v = cur.set_index(["config_id", "metric", "k"])["value"].sort_index()
    d = 0.0
    for m in ("pass", "bon"):
        for cfg, row in base[m].iterrows():
            d = max(d, float(np.abs(row.to_numpy() - v.loc[cfg, m].reindex(row.index).to_numpy()).max()))
    for cfg, val in base["maj"].items():
        d = max(d, abs(val - v.loc[(cfg, "maj", N)]))
    return d


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f: f.write("5")
        return True
    except OSError:
        return False


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"): return int(line.split()[1])
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", type=int, default=100)
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--loop-prompts", type=int, default=200, help="prompts (across 2 configs) for the loop baselines")
    ap.add_argument("--maj-all-prompts", type=int, default=1000, help="prompts for the maj@k-for-all-k timing (0: skip)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    N = args.samples

    t = time.perf_counter()
    df = make_table(args.configs, args.prompts, N, args.seed)
    t_gen = time.perf_counter() - t
    n = len(df)
    rss_data_mb = status_kb("VmRSS") / 1024

    # ---- the timed call
    ks = {"pass": None, "bon": None, "maj": [N]}
    hwm_reset = reset_peak_rss()
    load_before = os.getloadavg()[0]
    t, c = time.perf_counter(), time.process_time()
    cur = scaling_curves(df, metrics=("pass", "bon", "maj"), ks=ks, n_boot=args.n_boot, seed=0)
    t_vec, c_vec = time.perf_counter() - t, time.process_time() - c
    peak_rss_mb = (status_kb("VmHWM") if hwm_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024

    # ---- tracemalloc peak of the call's own allocations (second call, traced; not timed)
    tracemalloc.start()
    scaling_curves(df, metrics=("pass", "bon", "maj"), ks=ks, n_boot=args.n_boot, seed=0)
    traced_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    # ---- loop baselines on a subset of prompts (2 configs × loop_prompts/2 prompts)
    cfgs = sorted(df["config_id"].unique())[:2]
    prs = sorted(df["prompt_id"].unique())[: max(1, args.loop_prompts // 2)]
    sub = df[df["config_id"].isin(cfgs) & df["prompt_id"].isin(prs)]
    n_sub = len(sub)
    t = time.perf_counter(); base = loop_baseline(sub, N, vectorised_k=False); t_loop = time.perf_counter() - t
    t = time.perf_counter(); base_vk = loop_baseline(sub, N, vectorised_k=True); t_loop_vk = time.perf_counter() - t
    t = time.perf_counter()
    cur_sub = scaling_curves(sub, metrics=("pass", "bon", "maj"), ks=ks, n_boot=args.n_boot, seed=0)
    t_vec_sub = time.perf_counter() - t
    diff = max(max_diff(base, cur_sub, N), max_diff(base_vk, cur_sub, N))
    loop_full = t_loop / n_sub * n
    loop_vk_full = t_loop_vk / n_sub * n

    # ---- maj@k for every k (exact) on a subset
    maj_all = None
    if args.maj_all_prompts:
        cfg1 = sorted(df["config_id"].unique())[:max(1, args.maj_all_prompts // args.prompts)]
        sub2 = df[df["config_id"].isin(cfg1)]
        prs2 = sorted(sub2["prompt_id"].unique())[: args.maj_all_prompts]
        sub2 = sub2[sub2["prompt_id"].isin(prs2)]
        n_pr2 = len(sub2) // N
        from bon_lit.metrics import _maj_curve_exact
        _maj_curve_exact.cache_clear()
        t = time.perf_counter(); scaling_curves(sub2, metrics=("maj",), n_boot=args.n_boot); t_maj = time.perf_counter() - t
        maj_all = dict(prompts=n_pr2, seconds=round(t_maj, 3), ms_per_prompt=round(1e3 * t_maj / n_pr2, 3),
                       extrapolated_full_seconds=round(t_maj / n_pr2 * (n // N), 1))

    res = dict(
        benchmark="bon_lit.metrics.scaling_curves", version=bon_lit.__version__,
        n_samples_total=n, n_configs=args.configs, n_prompts=args.prompts, N=N, n_boot=args.n_boot,
        timed="scaling_curves(pass+bon all k, maj@N, n_boot bootstrap) from in-memory DataFrame",
        generate_seconds=round(t_gen, 2), vectorised_seconds=round(t_vec, 2), vectorised_cpu_seconds=round(c_vec, 2),
        load_avg_1min_before=round(load_before, 2),
        rows_per_second=round(n / t_vec),
        loop_subset_samples=n_sub, loop_seconds_subset=round(t_loop, 3), loop_extrapolated_seconds=round(loop_full, 1),
        loop_vk_seconds_subset=round(t_loop_vk, 3), loop_vk_extrapolated_seconds=round(loop_vk_full, 1),
        vectorised_seconds_subset=round(t_vec_sub, 4),
        speedup_vs_loop=round(loop_full / t_vec, 1), speedup_vs_loop_vk=round(loop_vk_full / t_vec, 1),
        max_abs_diff_vs_loop=diff,
        peak_rss_mb=round(peak_rss_mb), rss_after_data_mb=round(rss_data_mb), traced_peak_mb=round(traced_peak_mb),
        peak_rss_method="VmHWM after clear_refs" if hwm_reset else "ru_maxrss (includes data generation)",
        maj_all_k=maj_all, cores=os.cpu_count(), python=platform.python_version(), numpy=np.__version__,
        pandas=pd.__version__,
        goals=dict(speedup_ge_20=loop_full / t_vec >= 20, full_le_60s=t_vec <= 60, peak_le_4gb=peak_rss_mb <= 4096),
    )
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
