"""ORM scoring throughput: prompt-cached scoring (`bon_lit.orm.score_samples_orm`) against plain per-sample scoring
(`score_full`: every sample re-reads its prompt), same ORM, same samples, same process and thread count.

A suite prompt is judged for every configuration of its domain (24 configs x N = 16 = 384 completions in the grid
suite), so the cached path computes the prefix once per prompt. Rounds alternate (plain, cached, plain, cached, ...)
so load changes on a shared machine hit both; the ratio of tokens/s (prefix + completion tokens of every sample, i.e.
the work the plain path does) is reported per round and as the median, per wall-clock second and per CPU-second.
Exactness: max |score difference| between the two paths. A third arm, the cached path under bf16 autocast
(`precision="bf16"`), is timed in the same rounds; its max |difference| from fp32 and the Spearman correlation of the
two within each prompt (the ranking is what best-of-N uses) are reported.

    python benchmarks/bench_orm_scoring.py                        # 4 prompts x 96 completions, 1 thread
    python benchmarks/bench_orm_scoring.py --prompts 2 --per-prompt 384 --threads 2 --json out.json
"""
import argparse, json, statistics, time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--per-prompt", type=int, default=96, help="completions per prompt")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    import numpy as np, pandas as pd, torch
    torch.set_num_threads(a.threads)
    from bon_lit.orm import new_orm, ORMSpec, score_full, score_samples_orm, _encode
    from bon_lit.tasks import make_worked_prompts
    orm = new_orm(ORMSpec())
    torch.manual_seed(0); torch.nn.init.normal_(orm.head.weight, std=0.05)
    pr = pd.concat([make_worked_prompts(d, (a.prompts + 1) // 2, split="rm") for d in ("math", "reasoning")]).head(a.prompts)
    rng = np.random.default_rng(0)
    # realistic completions: the gold worked solution with random edits of its numbers / words and random lengths
    rows = []
    for pid, sol in zip(pr.prompt_id, pr.solution):
        for k in range(a.per_prompt):
            lines = sol.split("\n")
            keep = lines[: rng.integers(1, len(lines) + 1)]
            rows.append((pid, "\n".join(keep) + ("" if k % 3 else f"\nAnswer: {rng.integers(100)}")))
    tab = pd.DataFrame(rows, columns=["prompt_id", "text"])
    q = dict(zip(pr.prompt_id, pr.question))
    pairs = _encode(orm, tab.prompt_id.map(q), tab.text)
    n_tok = sum(len(p) + len(c) for p, c in pairs)
    res = []
    for r in range(a.rounds):
        out = {}
        for name in ("plain", "cached", "cached_bf16"):
            t0, c0 = time.perf_counter(), time.process_time()
            with torch.inference_mode():
                s = (score_full(orm, pairs, 32).numpy() if name == "plain" else
                     score_samples_orm(orm, tab, pr, batch_size=64, progress=False,
                                       precision="bf16" if name == "cached_bf16" else "fp32"))
            out[name] = dict(wall=time.perf_counter() - t0, cpu=time.process_time() - c0, scores=s)
        diff = float(np.abs(out["plain"]["scores"] - out["cached"]["scores"]).max())
        from scipy.stats import spearmanr
        b16, f32 = out["cached_bf16"]["scores"], out["cached"]["scores"]
        rho = statistics.median(spearmanr(b16[g], f32[g])[0] for g in tab.groupby("prompt_id").indices.values())
        res.append(dict(round=r, plain_wall=out["plain"]["wall"], cached_wall=out["cached"]["wall"],
                        plain_cpu=out["plain"]["cpu"], cached_cpu=out["cached"]["cpu"],
                        ratio_wall=out["plain"]["wall"] / out["cached"]["wall"],
                        ratio_cpu=out["plain"]["cpu"] / out["cached"]["cpu"], max_abs_diff=diff,
                        bf16_wall=out["cached_bf16"]["wall"], bf16_cpu=out["cached_bf16"]["cpu"],
                        bf16_vs_cached_cpu=out["cached"]["cpu"] / out["cached_bf16"]["cpu"],
                        bf16_vs_plain_cpu=out["plain"]["cpu"] / out["cached_bf16"]["cpu"],
                        bf16_max_abs_diff=float(np.abs(b16 - f32).max()), bf16_within_prompt_spearman=float(rho)))
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in res[-1].items()}), flush=True)
    summ = dict(samples=len(tab), prompts=a.prompts, tokens=n_tok, threads=a.threads,
                plain_tok_per_s=n_tok / statistics.median(x["plain_wall"] for x in res),
                cached_tok_per_s=n_tok / statistics.median(x["cached_wall"] for x in res),
                median_ratio_wall=statistics.median(x["ratio_wall"] for x in res),
                median_ratio_cpu=statistics.median(x["ratio_cpu"] for x in res),
                max_abs_diff=max(x["max_abs_diff"] for x in res),
                median_bf16_vs_cached_cpu=statistics.median(x["bf16_vs_cached_cpu"] for x in res),
                median_bf16_vs_plain_cpu=statistics.median(x["bf16_vs_plain_cpu"] for x in res),
                bf16_max_abs_diff=max(x["bf16_max_abs_diff"] for x in res),
                bf16_min_within_prompt_spearman=min(x["bf16_within_prompt_spearman"] for x in res))
    print("SUMMARY", json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in summ.items()}))
    if a.json:
        with open(a.json, "w") as f: json.dump(dict(summary=summ, rounds=res), f, indent=1)


if __name__ == "__main__":
    main()
