"""Benchmark: every feature and gain of bon_lit.features on a 10-million-sample table.

    python benchmarks/bench_features.py                 # 100 configs x 1000 prompts x N=100 = 10M samples
    python benchmarks/bench_features.py --configs 10    # a quick 1M-sample run

Three steps, each in a fresh process so that memory peaks are not mixed up:
1. build (once, cached as parquet): `simulate_suite(..., with_text=False)`; its time and memory are NOT part of the budget;
2. measure: read the table, then time `features_table(samples, gains="yes", n_boot=200)`: all features, pass@1, BoN@N,
   maj@N, pass@N, gains and 200-replicate bootstrap intervals. Memory: `ru_maxrss` of that process (the peak resident
   set of the whole process, including the table itself) and, in a second run of the same computation, the
   `tracemalloc` peak (Python and numpy allocations made by the computation; Arrow buffers of the input table are
   not traced);
3. baseline, in the same measure process: the naive pandas `groupby().apply` reference
   (`naive_config_features`) on a subset of prompts of every config, against the vectorised code on the same subset;
   its time per sample is extrapolated to the full table to give the speed ratio.
Budget: <= 60 s and <= 4 GB on 2 cores.
"""
import argparse, json, os, resource, subprocess, sys, time, tracemalloc
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


def measure(args):
    import numpy as np
    import pandas as pd
    from bon_lit.schema import read_table
    from bon_lit.features import features_table, config_features, bon_gain, naive_config_features
    res = {}
    t = time.perf_counter(); samples = read_table(args.cache); res["read_s"] = time.perf_counter() - t
    res["n_samples"] = len(samples)
    res["table_mem_gb"] = samples.memory_usage(deep=True).sum() / 1e9
    res["rss_after_read_gb"] = _rss_gb()

    t = time.perf_counter()
    out = features_table(samples, gains="yes", n_boot=args.n_boot, seed=0)
    res["fast_s"] = time.perf_counter() - t
    res["rss_peak_gb"] = _rss_gb()
    res["n_configs"], res["n_columns"] = out.shape
    assert out["gain"].notna().all()

    tracemalloc.start()
    t = time.perf_counter()
    features_table(samples, gains="yes", n_boot=args.n_boot, seed=0)
    res["fast_traced_s"] = time.perf_counter() - t
    res["tracemalloc_peak_gb"] = tracemalloc.get_traced_memory()[1] / 1e9
    tracemalloc.stop()

    # naive baseline on a subset: the first `naive_prompts` prompts of each domain, every config
    pids = samples["prompt_id"].drop_duplicates()
    keep = pids.groupby(pids.str.split("-").str[0]).head(args.naive_prompts)
    sub = samples[samples["prompt_id"].isin(set(keep))].reset_index(drop=True)
    res["naive_subset_samples"] = len(sub)
    t = time.perf_counter(); ref = naive_config_features(sub); res["naive_subset_s"] = time.perf_counter() - t
    t = time.perf_counter()
    fast = config_features(sub).join(bon_gain(sub, n_boot=0)[["bon@N", "gain", "gain_vs_maj"]])
    res["fast_subset_s"] = time.perf_counter() - t
    for c in ref.columns:
        np.testing.assert_allclose(fast[c].to_numpy(float), ref[c].to_numpy(float), rtol=1e-9, atol=1e-12, err_msg=c)
    res["naive_extrapolated_s"] = res["naive_subset_s"] / len(sub) * len(samples)
    res["speed_ratio_full"] = res["naive_extrapolated_s"] / res["fast_s"]
    res["speed_ratio_subset"] = res["naive_subset_s"] / res["fast_subset_s"]
    res["cpus"] = os.cpu_count()
    print(json.dumps(res))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", type=int, default=100)
    p.add_argument("--prompts", type=int, default=1000, help="prompts per domain (each config uses its domain's)")
    p.add_argument("--N", type=int, default=100, help="samples per prompt")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--naive-prompts", type=int, default=10, help="prompts per domain for the naive baseline subset")
    p.add_argument("--cache", default=None, help="parquet cache of the simulated table (default under /tmp)")
    p.add_argument("--phase", choices=["all", "build", "measure"], default="all", help=argparse.SUPPRESS)
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = p.parse_args()
    args.cache = args.cache or f"/tmp/bon_lit_bench_{args.configs}x{args.prompts}x{args.N}_s{args.seed}.parquet"
    if args.phase == "build": return build(args)
    if args.phase == "measure": return measure(args)
    base = [sys.executable, __file__, "--configs", str(args.configs), "--prompts", str(args.prompts), "--N", str(args.N),
            "--seed", str(args.seed), "--n-boot", str(args.n_boot), "--naive-prompts", str(args.naive_prompts),
            "--cache", args.cache]
    if not Path(args.cache).exists():
        print(f"building {args.cache} ...", flush=True)
        subprocess.run(base + ["--phase", "build"], check=True)
    r = subprocess.run(base + ["--phase", "measure"], check=True, capture_output=True, text=True)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"samples: {res['n_samples']:,} ({res['n_configs']} configs; table {res['table_mem_gb']:.2f} GB in memory; read {res['read_s']:.1f} s)")
    print(f"all features + gains + {args.n_boot} bootstrap replicates: {res['fast_s']:.1f} s  (budget 60 s)")
    print(f"peak RSS of the measuring process (ru_maxrss, incl. the table): {res['rss_peak_gb']:.2f} GB  (budget 4 GB); "
          f"after reading the table: {res['rss_after_read_gb']:.2f} GB")
    print(f"tracemalloc peak of the computation: {res['tracemalloc_peak_gb']:.2f} GB (traced run {res['fast_traced_s']:.1f} s)")
    print(f"naive groupby().apply on {res['naive_subset_samples']:,} samples: {res['naive_subset_s']:.1f} s "
          f"(vectorised on the same subset: {res['fast_subset_s']:.2f} s, x{res['speed_ratio_subset']:.0f}); "
          f"extrapolated to the full table: {res['naive_extrapolated_s'] / 60:.0f} min -> speed ratio x{res['speed_ratio_full']:.0f}")
    ok = res["fast_s"] <= 60 and res["rss_peak_gb"] <= 4
    print("WITHIN BUDGET" if ok else "OVER BUDGET")
    if args.json: Path(args.json).write_text(json.dumps(res, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
