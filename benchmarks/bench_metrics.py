"""Benchmark bon_lit.metrics.scaling_curves on a 10-million-sample table against a competent vectorised baseline.

Synthetic data (numpy, seeded): n_configs × n_prompts × N samples with
  correct ~ Bernoulli(p), p ~ Beta per config;  wrong answers spread over 8 classes with a per-prompt skew,
  3% of wrong samples abstain (no answer);  reward = d_config · correct + N(0, 1), rounded to 2 decimals (ties).

Same table, same process, wall and CPU seconds (median of --repeats), ratios baseline / bon_lit:
  bon_lit    — scaling_curves(df, metrics=("pass", "bon", "maj"), ks={"pass": all, "bon": all, "maj": [N]}, n_boot=0):
               validation, factorising, pass@k and BoN@k for every k = 1..N, maj@N, per-config means;
  competent  — the same numbers written independently with numpy/pandas the way a competent user would: one sort,
               reshape to (prompts, N), pass@k from a cumulative-product table, BoN@k from the sorted rewards with
               ties averaged and the closed-form rank weights, maj@N with one groupby().agg over answer classes,
               per-config means with groupby().mean(); exactness: max |difference| over all configs, metrics and k;
  bon_lit with its default 200 bootstrap replicates (intervals; the baseline has none) — for the budget;
  loop       — (labelled, second line) a per-prompt Python loop over groupby((config, prompt)) calling the per-prompt
               functions, on a subset of prompts and scaled per sample.
Also: maj@k for every k (exact, per distinct pool signature) on a subset. Peak RSS of the bon_lit call.
Prints a table and one JSON line.
"""
from __future__ import annotations
import argparse, json, os, platform, resource, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import pandas as pd
import bon_lit
from bon_lit.metrics import scaling_curves, pass_at_k, bon_at_k, maj_at_k
from _timing import timed, load, row, HEADER


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


def competent_curves(df, N):
    "pass@k, BoN@k for every k and maj@N per config, vectorised numpy/pandas: {metric: DataFrame config x k}."
    from scipy.special import comb
    d = df.sort_values(["config_id", "prompt_id", "sample_idx"], kind="stable")
    G = len(d) // N
    y = d["correct"].to_numpy(dtype=bool).reshape(G, N)
    r = d["reward"].to_numpy(dtype=float).reshape(G, N)
    cfg = d["config_id"].to_numpy()[::N]
    ks = np.arange(1, N + 1)
    i = np.arange(N)
    T = np.cumprod(np.clip(N - np.arange(N + 1)[:, None] - i[None, :], 0, None) / (N - i), axis=1)  # C(N-c,k)/C(N,k)
    pass_k = 1.0 - T[y.sum(1)]
    o = np.argsort(r, axis=1, kind="stable")
    rs, ys = np.take_along_axis(r, o, 1), np.take_along_axis(y, o, 1).astype(float)
    new = np.ones((G, N), bool); new[:, 1:] = rs[:, 1:] != rs[:, :-1]
    gid = np.cumsum(new.ravel()) - 1                                   # tie groups of equal rewards
    ybar = (np.bincount(gid, ys.ravel()) / np.bincount(gid))[gid].reshape(G, N)
    W = comb(ks[None, :] - 1, ks[:, None] - 1) / comb(N, ks)[:, None]   # P(rank j is the max of a k-subset)
    bon_k = ybar @ W.T
    a = pd.DataFrame({"g": np.repeat(np.arange(G), N), "key": d["answer_key"].to_numpy(), "y": y.ravel()})
    cl = a.dropna(subset=["key"]).groupby(["g", "key"], sort=False).agg(size=("y", "size"), ncor=("y", "sum")).reset_index()
    cl = cl[cl["size"] == cl.groupby("g")["size"].transform("max")]
    maj = np.zeros(G)
    mj = (cl["ncor"] / cl["size"]).groupby(cl["g"]).mean()
    maj[mj.index.to_numpy()] = mj.to_numpy()
    by = pd.Index(cfg, name="config_id")
    return {"pass": pd.DataFrame(pass_k, index=by, columns=ks).groupby(level=0).mean(),
            "bon": pd.DataFrame(bon_k, index=by, columns=ks).groupby(level=0).mean(),
            "maj": pd.Series(maj, index=by).groupby(level=0).mean()}


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
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--loop-prompts", type=int, default=200, help="prompts (across 2 configs) for the loop line (0: skip)")
    ap.add_argument("--maj-all-prompts", type=int, default=1000, help="prompts for the maj@k-for-all-k timing (0: skip)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    N = args.samples
    df = make_table(args.configs, args.prompts, N, args.seed)
    n = len(df)
    load0 = load()
    ks = {"pass": None, "bon": None, "maj": [N]}
    hwm_reset = reset_peak_rss()
    w_b, c_b, *_, cur = timed(lambda: scaling_curves(df, metrics=("pass", "bon", "maj"), ks=ks, n_boot=0, seed=0), args.repeats)
    peak_rss_mb = (status_kb("VmHWM") if hwm_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024
    w_c, c_c, *_, comp = timed(lambda: competent_curves(df, N), args.repeats)
    diff = max_diff(comp, cur, N)
    w_bb, c_bb, *_ = timed(lambda: scaling_curves(df, metrics=("pass", "bon", "maj"), ks=ks, n_boot=args.n_boot, seed=0), 1)
    print(f"scaling curves (pass@k and BoN@k for k = 1..{N}, maj@{N}) on {n:,} samples ({args.configs} configs x "
          f"{args.prompts} prompts x N={N}); load avg {load0:.2f}, cpus {os.cpu_count()}; ratios = baseline / bon_lit\n{HEADER}")
    print(row("bon_lit scaling_curves (n_boot=0)", w_b, c_b))
    print(row("competent: vectorised numpy/pandas", w_c, c_c) + f"   -> {w_c / w_b:.2f}x / {c_c / c_b:.2f}x; max|d| {diff:.2g}")
    print(row(f"bon_lit with {args.n_boot} bootstrap replicates (intervals)", w_bb, c_bb))
    res = dict(benchmark="bon_lit.metrics.scaling_curves", version=bon_lit.__version__, n_samples_total=n,
               n_configs=args.configs, n_prompts=args.prompts, N=N, load_avg_1min_start=load0,
               bon_lit={"wall": w_b, "cpu": c_b}, competent={"wall": w_c, "cpu": c_c},
               ratio_vs_competent={"wall": w_c / w_b, "cpu": c_c / c_b}, max_abs_diff_vs_competent=diff,
               bon_lit_with_bootstrap={"wall": w_bb, "cpu": c_bb, "n_boot": args.n_boot}, peak_rss_mb=round(peak_rss_mb))
    if args.loop_prompts:
        cfgs = sorted(df["config_id"].unique())[:2]
        prs = sorted(df["prompt_id"].unique())[: max(1, args.loop_prompts // 2)]
        sub = df[df["config_id"].isin(cfgs) & df["prompt_id"].isin(prs)]
        w_l, c_l, *_, base = timed(lambda: loop_baseline(sub, N, vectorised_k=True), 1)
        w_s, c_s, *_, cur_sub = timed(lambda: scaling_curves(sub, metrics=("pass", "bon", "maj"), ks=ks, n_boot=0, seed=0), 1)
        d_l = max_diff(base, cur_sub, N)
        sc = n / len(sub)
        print(row(f"  loop (labelled): per-prompt Python loop, scaled x{sc:.0f}", w_l * sc, c_l * sc)
              + f"   -> {w_l * sc / w_b:.1f}x / {c_l * sc / c_b:.1f}x; max|d| {d_l:.2g}")
        res["loop_scaled"] = {"wall": w_l * sc, "cpu": c_l * sc, "subset_samples": len(sub), "max_abs_diff": d_l}
    if args.maj_all_prompts:
        from bon_lit.metrics import _maj_curve_exact
        cfg1 = sorted(df["config_id"].unique())[:max(1, args.maj_all_prompts // args.prompts)]
        sub2 = df[df["config_id"].isin(cfg1)]
        sub2 = sub2[sub2["prompt_id"].isin(sorted(sub2["prompt_id"].unique())[: args.maj_all_prompts])]
        _maj_curve_exact.cache_clear()
        w_m, c_m, *_ = timed(lambda: scaling_curves(sub2, metrics=("maj",), n_boot=0), 1)
        print(row(f"maj@k for every k, {len(sub2) // N} prompts (exact)", w_m, c_m))
        res["maj_all_k"] = {"prompts": len(sub2) // N, "wall": w_m, "cpu": c_m}
    print(json.dumps(res))
    if args.json: Path(args.json).write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
