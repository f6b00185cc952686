"""CPU sampling paths side by side: the backend in float32 (the path before bf16 existed), the backend under bfloat16
autocast (`precision="bf16"`), and transformers' batched `generate` under bfloat16 autocast at several batch sizes
(with the logprob/entropy extraction a competent user would add: `output_logits=True`, log-softmax and entropy
per step). Same prompts, N, max new tokens, temperature, EOS as the only stop, same process and thread count.

Also measured in the same run: this CPU's matmul peak (fp32 and bf16 `torch.mm`, 1 thread, per CPU-second), the
fraction of it each path achieves (FLOPs per generated token ~= 2 x parameters in the matmuls, lm_head included),
and the bf16 path's per-token log-probability drift against float32 under teacher forcing.

Throughput is reported per wall second and per CPU-second of the process (the latter is robust to other jobs on a
shared machine: state the load when you quote it).

    BON_LIT_CHECKPOINTS=/path python benchmarks/bench_sampling_paths.py --model SmolLM2-135M-Instruct@sft --json out.json
"""
import argparse, json, os, platform, statistics, sys, time, contextlib


def gemm_peak(dtype, n=1536, reps=6):
    "GFLOP per CPU-second of an n x n matmul (median of `reps`)."
    import torch
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.mm(a, b)
    out = []
    for _ in range(reps):
        c0 = time.process_time(); torch.mm(a, b); dt = time.process_time() - c0
        out.append(2 * n ** 3 / max(dt, 1e-9) / 1e9)
    return statistics.median(out)


def matmul_params(model) -> int:
    "Parameters that take part in a matmul per generated token (all Linear weights incl. lm_head; not the embedding lookup)."
    import torch
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="SmolLM2-135M-Instruct")
    ap.add_argument("--template", default="worked")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--generate-batches", default="16,64,128", help="batch sizes (rows) for transformers' generate")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)

    import numpy as np, torch
    from bon_lit.cpu import CPUBackend, load_model, sample_rows, teacher_forced_logprobs, step_distribution
    from bon_lit.tasks import make_worked_prompts
    from bon_lit.sampling import prompt_seed, sample_seed
    torch.set_num_threads(a.threads)
    lm = load_model(a.model)
    prompts = make_worked_prompts("math", a.prompts, seed=0, split="val")
    config = dict(config_id="bench", model=lm.name, domain="math", temperature=a.temperature, top_p=1.0,
                  max_new_tokens=a.max_new_tokens, prompt_template=a.template, seed=0)
    be = CPUBackend(num_threads=a.threads)
    ids = [be.encode(config, p) for p in prompts.to_dict("records")]
    rows = [(i, sample_seed(prompt_seed(0, "bench", pid), j)) for i, pid in enumerate(prompts.prompt_id) for j in range(a.n)]
    eos = list(lm.eos_ids)
    flop_per_token = 2 * matmul_params(lm.model)

    def backend(precision):
        def run():
            res = sample_rows(lm, ids, rows, max_new_tokens=a.max_new_tokens, temperature=a.temperature, stop=(),
                              batch_size=len(rows), precision=precision, keep_tokens=True)
            run.res = res
            return sum(r["n_tokens"] for r in res)
        return run

    def generate(bs):
        "Rows (prompt repeated N times) in left-padded batches of `bs`, logprobs and entropies from the returned logits."
        def run():
            n_tok = 0
            flat = [ids[i] for i, _ in rows]
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
                for s in range(0, len(flat), bs):
                    b = flat[s:s + bs]; L = max(map(len, b))
                    inp = torch.full((len(b), L), lm.pad_id); att = torch.zeros((len(b), L), dtype=torch.long)
                    for j, x in enumerate(b): inp[j, L - len(x):] = torch.tensor(x); att[j, L - len(x):] = 1
                    out = lm.model.generate(input_ids=inp, attention_mask=att, do_sample=True, temperature=a.temperature,
                                            top_p=1.0, top_k=0, max_new_tokens=a.max_new_tokens, pad_token_id=lm.pad_id,
                                            eos_token_id=eos, output_logits=True, return_dict_in_generate=True)
                    gen = out.sequences[:, L:]
                    alive = torch.ones(len(b), dtype=torch.bool)
                    for t, lg in enumerate(out.logits):
                        logp, ent = step_distribution(lg.float(), a.temperature)
                        _ = logp.gather(-1, gen[:, t:t + 1]).squeeze(-1)[alive], ent[alive]   # what a user would keep
                        n_tok += int(alive.sum())
                        alive &= ~torch.isin(gen[:, t], torch.tensor(eos))
                        if not alive.any(): break
            return n_tok
        return run

    def measure(fn):
        t0, c0 = time.perf_counter(), time.process_time()
        n = fn()
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        return dict(tokens=n, wall_s=round(dt, 2), cpu_s=round(cpu, 2), tok_per_s=n / dt, tok_per_cpu_s=n / cpu)

    peak = {"fp32": gemm_peak(torch.float32), "bf16": gemm_peak(torch.bfloat16)}
    print(f"matmul peak (1 thread, per CPU-second): fp32 {peak['fp32']:.1f} GFLOP/s, bf16 {peak['bf16']:.1f} GFLOP/s; "
          f"{flop_per_token / 1e9:.3f} GFLOP per generated token", flush=True)
    paths = {"backend_fp32": backend("fp32"), "backend_bf16": backend("bf16")}
    paths.update({f"generate_bf16_b{bs}": generate(int(bs)) for bs in a.generate_batches.split(",")})
    sample_rows(lm, ids[:1], [(0, 1)], max_new_tokens=2, temperature=a.temperature, stop=())          # warm-up
    rounds = []
    for r in range(a.rounds):
        res = {}
        for name, fn in paths.items():
            res[name] = measure(fn)
            m = res[name]
            frac = m["tok_per_cpu_s"] * flop_per_token / 1e9 / peak["fp32" if name.endswith("fp32") else "bf16"]
            m["peak_fraction"] = round(frac, 3)
            print(f"round {r}: {name:22s} {m['tokens']:5d} tok {m['wall_s']:7.1f}s wall {m['cpu_s']:7.1f} CPU-s  "
                  f"{m['tok_per_s']:6.1f} tok/s {m['tok_per_cpu_s']:6.1f} tok/CPU-s  {100 * frac:4.1f}% of the matmul peak", flush=True)
        rounds.append(res)
    # logprob drift of the bf16 path on its own sampled tokens, fp32 teacher forcing as the reference
    d_tok, same = [], 0
    r16, r32 = paths["backend_bf16"].res, paths["backend_fp32"].res
    for (pi, _), x16, x32 in zip(rows, r16, r32):
        lp32, _ = teacher_forced_logprobs(lm, ids[pi], x16["token_ids"], a.temperature)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            lp16, _ = teacher_forced_logprobs(lm, ids[pi], x16["token_ids"], a.temperature)
        d_tok.append((lp16 - lp32).abs()); same += x16["text"] == x32["text"]
    d = torch.cat(d_tok)
    drift = dict(tokens=len(d), mean_abs=float(d.mean()), p99_abs=float(d.quantile(.99)), max_abs=float(d.max()),
                 same_completion_share=same / len(rows))
    med = {k: statistics.median(r[k]["tok_per_cpu_s"] for r in rounds) for k in paths}
    medw = {k: statistics.median(r[k]["tok_per_s"] for r in rounds) for k in paths}
    best_gen = max((k for k in paths if k.startswith("generate")), key=med.get)
    try: load = os.getloadavg()
    except OSError: load = None
    summary = dict(model=lm.name, template=a.template, prompts=a.prompts, n=a.n, max_new_tokens=a.max_new_tokens,
                   temperature=a.temperature, threads=a.threads, loadavg_end=load, torch=torch.__version__,
                   python=platform.python_version(), matmul_peak_gflops=peak, gflop_per_token=flop_per_token / 1e9,
                   median_tok_per_cpu_s=med, median_tok_per_s=medw, best_generate=best_gen,
                   bf16_over_fp32_cpu=med["backend_bf16"] / med["backend_fp32"],
                   bf16_over_best_generate_cpu=med["backend_bf16"] / med[best_gen], drift=drift, rounds=rounds)
    print(f"median tok/CPU-s: " + ", ".join(f"{k} {v:.1f}" for k, v in med.items()))
    print(f"backend bf16 / backend fp32 = {summary['bf16_over_fp32_cpu']:.2f}x per CPU-second; "
          f"backend bf16 / {best_gen} = {summary['bf16_over_best_generate_cpu']:.2f}x")
    print(f"bf16 logprob drift on {drift['tokens']} tokens: mean |d| {drift['mean_abs']:.4f}, p99 {drift['p99_abs']:.4f}, "
          f"max {drift['max_abs']:.4f}; same completion for the same seed {100 * drift['same_completion_share']:.0f}%  (load {load})")
    if a.json:
        with open(a.json, "w") as f: json.dump(summary, f, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
