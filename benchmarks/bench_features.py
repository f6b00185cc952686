"""Benchmark: every feature and gain of bon_lit.features on a 10-million-sample table, against a competent pandas baseline.

    python benchmarks/bench_features.py                 # 100 configs x 1000 prompts x N=100 = 10M samples
    python benchmarks/bench_features.py --configs 10    # a quick 1M-sample run

Three steps, each in a fresh process so that memory peaks are not mixed up:
1. build (once, cached as parquet): `simulate_suite(..., with_text=False)`; its time and memory are NOT part of the budget;
2. measure, on the same table in the same process, wall and CPU seconds (median of --repeats), ratios baseline / bon_lit:
   * bon_lit   -- `features_table(samples, gains="yes", n_boot=0)`: every feature and the gains (point estimates);
   * competent -- the same numbers written independently the way a competent pandas user would: one sort, per-sample
                  columns computed vectorised, then `groupby().agg` per (config, prompt) and per config (no `apply`);
                  exactness: max |difference| over every feature and gain column;
   * bon_lit with `n_boot` bootstrap replicates (intervals; the baseline has none), with its peak memory: the budget
     (<= 60 s and <= 4 GB on 2 cores);
   * naive     -- (labelled, second line) the `groupby().apply` reference `naive_config_features` on a subset of
                  prompts, scaled per sample.
"""
import argparse, json, os, resource, subprocess, sys, time, tracemalloc
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pathlib import Path


def build(args):
    from bon_lit.simulate import simulate_suite
    from bon_lit.schema import write_table
    t = time.perf_counter()
    suite = simulate_suite(n_configs=args.configs, n_prompts=args.prompts, n_samples=args.N, seed=args.seed, with_text=False)
    write_table(suite.samples, args.cache)
    print(json.dumps({"built": len(suite.samples), "seconds": time.perf_counter() - t}))


def _rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6   # ru_maxrss is in KiB on Linux


def competent_features(samples):
    """Every feature and gain per config with vectorised pandas: groupby().agg per (config, prompt), then per config."""
    import numpy as np
    import pandas as pd
    key = "answer_key" if "answer_key" in samples.columns else "answer"
    d = samples[["config_id", "prompt_id", "sample_idx", key, "correct", "n_tokens", "logprob_sum", "token_entropy_mean",
                 "finish_reason", "reward"]].sort_values(["config_id", "prompt_id", "sample_idx"], kind="stable")
    y = d["correct"].to_numpy(dtype=bool)
    L = d["n_tokens"].to_numpy(dtype=float)
    tpl = d["logprob_sum"].to_numpy(dtype=float) / L
    gkey = [d["config_id"].to_numpy(), d["prompt_id"].to_numpy()]
    s = pd.DataFrame({"c": gkey[0], "p": gkey[1], "y": y, "L": L, "tpl": tpl, "conf": np.exp(tpl),
                      "te": d["token_entropy_mean"].to_numpy(dtype=float),
                      "trunc": (d["finish_reason"] == "length").to_numpy(), "miss": d[key].isna().to_numpy(),
                      "r": d["reward"].to_numpy(dtype=float), "k": d[key].to_numpy()})
    s["pos"] = s.groupby(["c", "p"], sort=False).cumcount() + 1
    s["first"] = np.where(s["y"], s["pos"], np.inf)
    s["Ly"] = np.where(s["y"], s["L"], 0.0); s["Ln"] = np.where(s["y"], 0.0, s["L"])
    g = s.groupby(["c", "p"], sort=True)
    pp = g.agg(N=("y", "size"), nc=("y", "sum"), L=("L", "mean"), Lv=("L", "var"), te=("te", "mean"),
               lp=("tpl", "mean"), conf=("conf", "mean"), trunc=("trunc", "mean"), miss=("miss", "sum"),
               first=("first", "min"), Ly=("Ly", "sum"), Ln=("Ln", "sum"), rmax=("r", "max"))
    top = s[s["r"] == g["r"].transform("max")].groupby(["c", "p"], sort=True)["y"].mean()
    cl = s[~s["miss"]].groupby(["c", "p", "k"], sort=True).agg(size=("y", "size"), ncor=("y", "sum")).reset_index()
    mx = cl.groupby(["c", "p"], sort=True)["size"].transform("max")
    cl["top"] = cl["size"] == mx
    N_ = pp["N"].to_numpy(dtype=float)
    cl["plogp"] = cl["size"] / N_[pp.index.get_indexer(pd.MultiIndex.from_arrays([cl["c"], cl["p"]]))]
    cl["plogp"] = cl["plogp"] * np.log(cl["plogp"])
    cl["acc"] = np.where(cl["top"], cl["ncor"] / cl["size"], np.nan)
    cg = cl.groupby(["c", "p"], sort=True).agg(modal=("size", "max"), ncls=("size", "size"), plogp=("plogp", "sum"),
                                               maj=("acc", "mean"))
    cg = cg.reindex(pp.index)
    modal, ncls = cg["modal"].fillna(0).to_numpy(), cg["ncls"].fillna(0).to_numpy()
    nc, miss = pp["nc"].to_numpy(dtype=float), pp["miss"].to_numpy(dtype=float)
    P = pd.DataFrame(index=pp.index)
    P["agreement"] = modal / N_
    P["answer_entropy"] = -cg["plogp"].fillna(0).to_numpy() + miss * np.log(N_) / N_
    P["distinct_ratio"] = (ncls + miss) / N_
    P["no_answer_rate"] = miss / N_
    P["token_entropy_mean"], P["logprob_mean"], P["confidence"] = pp["te"], pp["lp"], pp["conf"]
    P["length_mean"] = pp["L"]; P["length_var"] = (pp["Lv"] * (N_ - 1) / N_).fillna(0.0)     # ddof=0
    P["truncation_rate"] = pp["trunc"]; P["pass@1"] = nc / N_; P["pass@N"] = (nc > 0).astype(float)
    P["maj@N"] = cg["maj"].fillna(0.0).to_numpy()
    P["first_correct_pos"] = np.where(nc > 0, pp["first"], N_ + 1) / (N_ + 1)
    P["first_correct_rb"] = 1 / (nc + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        P["length_gap"] = np.where((nc > 0) & (nc < N_), pp["Ly"] / nc - pp["Ln"] / (N_ - nc), np.nan)
    P["bon@N"] = top.reindex(pp.index)
    G = P.groupby(level=0)
    out = pd.DataFrame({
        "agreement_mean": G["agreement"].mean(), "agreement_spread": G["agreement"].std(ddof=1),
        "answer_entropy": G["answer_entropy"].mean(), "distinct_ratio": G["distinct_ratio"].mean(),
        "no_answer_rate": G["no_answer_rate"].mean(), "token_entropy_mean": G["token_entropy_mean"].mean(),
        "logprob_mean": G["logprob_mean"].mean(), "confidence": G["confidence"].mean(), "length_mean": G["length_mean"].mean(),
        "length_var_within": G["length_var"].mean(), "length_var_between": G["length_mean"].var(ddof=1),
        "length_var_total": s.groupby("c")["L"].var(ddof=0), "truncation_rate": G["truncation_rate"].mean(),
        "pass@1": G["pass@1"].mean(), "pass1_spread": G["pass@1"].std(ddof=1), "pass@N": G["pass@N"].mean(),
        "coverage_gap": G["pass@N"].mean() - G["pass@1"].mean(), "maj@N": G["maj@N"].mean(),
        "first_correct_pos": G["first_correct_pos"].mean(), "first_correct_rb": G["first_correct_rb"].mean(),
        "length_gap": G["length_gap"].mean(), "bon@N": G["bon@N"].mean()})
    out["gain"] = out["bon@N"] - out["pass@1"]
    out["gain_vs_maj"] = out["bon@N"] - out["maj@N"]
    out.index = out.index.astype("str")
    return out


def measure(args):
    import numpy as np
    import pandas as pd
    from bon_lit.schema import read_table
    from bon_lit.features import features_table, config_features, bon_gain, naive_config_features
    from _timing import timed, load
    res = {"load_avg_1min_start": load()}
    t = time.perf_counter(); samples = read_table(args.cache); res["read_s"] = time.perf_counter() - t
    res["n_samples"] = len(samples)
    res["table_mem_gb"] = samples.memory_usage(deep=True).sum() / 1e9
    w, c, *_, fast = timed(lambda: features_table(samples, gains="yes", n_boot=0, seed=0), args.repeats)
    res["bon_lit"] = {"wall": w, "cpu": c}
    w, c, *_, comp = timed(lambda: competent_features(samples), args.repeats)
    res["competent"] = {"wall": w, "cpu": c}
    cols = [k for k in comp.columns if k in fast.columns]
    A, B = fast.loc[comp.index, cols].to_numpy(float), comp[cols].to_numpy(float)
    assert np.array_equal(np.isnan(A), np.isnan(B)), "NaN patterns differ"
    res["max_abs_diff_vs_competent"] = float(np.nanmax(np.abs(A - B)))
    res["max_rel_diff_vs_competent"] = float(np.nanmax(np.abs(A - B) / np.maximum(1.0, np.abs(B))))   # variances are ~1e4
    res["columns_compared"] = len(cols)
    res["ratio_vs_competent"] = {k: res["competent"][k] / res["bon_lit"][k] for k in ("wall", "cpu")}
    t, c0 = time.perf_counter(), time.process_time()
    out = features_table(samples, gains="yes", n_boot=args.n_boot, seed=0)
    res["with_bootstrap"] = {"wall": time.perf_counter() - t, "cpu": time.process_time() - c0, "n_boot": args.n_boot}
    res["rss_peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    res["n_configs"], res["n_columns"] = out.shape
    assert out["gain"].notna().all()
    if args.naive_prompts:
        pids = samples["prompt_id"].drop_duplicates()
        keep = pids.groupby(pids.str.split("-").str[0]).head(args.naive_prompts)
        sub = samples[samples["prompt_id"].isin(set(keep))].reset_index(drop=True)
        w, c, *_, ref = timed(lambda: naive_config_features(sub), 1)
        fast_sub = config_features(sub).join(bon_gain(sub, n_boot=0)[["bon@N", "gain", "gain_vs_maj"]])
        d = max(float(np.nanmax(np.abs(fast_sub[k].to_numpy(float) - ref[k].to_numpy(float)))) for k in ref.columns)
        sc = len(samples) / len(sub)
        res["naive_scaled"] = {"wall": w * sc, "cpu": c * sc, "subset_samples": len(sub), "max_abs_diff": d}
    res["cpus"] = os.cpu_count()
    print(json.dumps(res))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", type=int, default=100)
    p.add_argument("--prompts", type=int, default=1000, help="prompts per domain (each config uses its domain's)")
    p.add_argument("--N", type=int, default=100, help="samples per prompt")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--naive-prompts", type=int, default=10, help="prompts per domain for the naive line (0: skip)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cache", default=None, help="parquet cache of the simulated table (default under /tmp)")
    p.add_argument("--phase", choices=["all", "build", "measure"], default="all", help=argparse.SUPPRESS)
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = p.parse_args()
    args.cache = args.cache or f"/tmp/bon_lit_bench_{args.configs}x{args.prompts}x{args.N}_s{args.seed}.parquet"
    if args.phase == "build": return build(args)
    if args.phase == "measure": return measure(args)
    base = [sys.executable, __file__, "--configs", str(args.configs), "--prompts", str(args.prompts), "--N", str(args.N),
            "--seed", str(args.seed), "--n-boot", str(args.n_boot), "--naive-prompts", str(args.naive_prompts),
            "--repeats", str(args.repeats),
            "--cache", args.cache]
    if not Path(args.cache).exists():
        print(f"building {args.cache} ...", flush=True)
        subprocess.run(base + ["--phase", "build"], check=True)
    r = subprocess.run(base + ["--phase", "measure"], check=True, capture_output=True, text=True)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    from _timing import row, HEADER
    print(f"samples: {res['n_samples']:,} ({res['n_configs']} configs; table {res['table_mem_gb']:.2f} GB in memory; "
          f"read {res['read_s']:.1f} s); load avg {res['load_avg_1min_start']:.2f}, cpus {res['cpus']}; "
          f"ratios = baseline / bon_lit\n{HEADER}")
    b, cpt = res["bon_lit"], res["competent"]
    print(row("bon_lit features_table (all features + gains)", b["wall"], b["cpu"]))
    print(row("competent: vectorised pandas groupby().agg", cpt["wall"], cpt["cpu"])
          + f"   -> {cpt['wall'] / b['wall']:.2f}x / {cpt['cpu'] / b['cpu']:.2f}x; max|d| {res['max_abs_diff_vs_competent']:.2g} "
            f"(relative {res['max_rel_diff_vs_competent']:.2g}) over {res['columns_compared']} columns")
    wb = res["with_bootstrap"]
    print(row(f"bon_lit with {wb['n_boot']} bootstrap replicates (budget 60 s)", wb["wall"], wb["cpu"])
          + f"   peak RSS {res['rss_peak_gb']:.2f} GB (budget 4 GB)")
    if "naive_scaled" in res:
        nv = res["naive_scaled"]
        print(row(f"  naive (labelled): groupby().apply, scaled", nv["wall"], nv["cpu"])
              + f"   -> {nv['wall'] / b['wall']:.0f}x / {nv['cpu'] / b['cpu']:.0f}x; from {nv['subset_samples']:,} samples, "
                f"max|d| {nv['max_abs_diff']:.2g}")
    ok = wb["wall"] <= 60 and res["rss_peak_gb"] <= 4
    print("WITHIN BUDGET" if ok else "OVER BUDGET")
    if args.json: Path(args.json).write_text(json.dumps(res, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
