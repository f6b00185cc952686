"""Throughput of the CPU sampling backend (bon_lit.cpu) against naive `model.generate`, same model and settings.

Naive path: for each prompt, `model.generate(do_sample=True, num_return_sequences=N, temperature, top_p,
max_new_tokens)` (one prompt at a time; EOS is the only stop; no logprobs or entropies are computed).
Backend path: `bon_lit.cpu.sample_rows` — the engine of `CPUBackend.generate` — on all prompts × N rows at once
(prefill once per prompt, KV cache copied to the N rows, finished rows dropped), with EOS as the only stop
(no stop strings, to match the naive path), computing exact logprobs and entropies.

Both paths run in the same process with the same torch thread count, alternating (naive, backend, naive, backend, ...) so that load changes on a
shared machine hit both; the ratio is reported per round and as the median. Generated tokens count every token
up to and including EOS. Throughput is reported per wall-clock second and per CPU-second of the process (the
latter is robust to other jobs on a shared machine). Peak memory: the process's peak RSS (VmHWM) during each path, reset before the path
(`/proc/self/clear_refs`), and its increase over the RSS at the path's start.

    python benchmarks/bench_cpu_sampling.py                     # SmolLM2, 8 prompts x 16 samples x 32 tokens
    python benchmarks/bench_cpu_sampling.py --model gemma-3-270m --prompts 4 --json out.json
"""
import argparse, json, os, platform, statistics, sys, time


def _status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # MiB
    return float("nan")


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _measure(fn):
    import gc
    gc.collect()
    _reset_peak()
    rss0 = _status("VmRSS")
    t0, c0 = time.perf_counter(), time.process_time()
    n_tokens = fn()
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _status("VmHWM")
    return dict(tokens=int(n_tokens), seconds=dt, cpu_seconds=cpu, tok_per_s=n_tokens / dt, tok_per_cpu_s=n_tokens / cpu,
                peak_rss_mib=peak, peak_over_start_mib=peak - rss0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="SmolLM2-135M-Instruct")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--n", type=int, default=16, help="samples per prompt")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--template", default="zero_shot")
    ap.add_argument("--batch-size", type=int, default=None, help="backend rows per batch (default: all rows of the run, capped by the model default)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads for both paths (default: bon_lit.cpu.auto_threads())")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", default=None, help="write results here")
    a = ap.parse_args(argv)

    import torch
    from bon_lit.cpu import CPUBackend, load_model, sample_rows, auto_threads
    from bon_lit.tasks import make_math_prompts
    from bon_lit.sampling import prompt_seed, sample_seed

    threads = a.threads or auto_threads()
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    lm = load_model(a.model)
    load_s = time.perf_counter() - t0
    prompts = make_math_prompts(a.prompts, seed=123)
    config = dict(config_id="bench", model=lm.name, domain="math", temperature=a.temperature, top_p=a.top_p,
                  max_new_tokens=a.max_new_tokens, prompt_template=a.template, seed=0)
    be = CPUBackend(lm.name, num_threads=threads)
    ids = [be.encode(config, p) for p in prompts.to_dict("records")]
    rows = [(i, sample_seed(prompt_seed(0, "bench", pid), j)) for i, pid in enumerate(prompts.prompt_id) for j in range(a.n)]
    bs = a.batch_size or min(len(rows), lm.spec.batch_size)
    eos = set(lm.eos_ids)

    def naive():
        n = 0
        with torch.inference_mode():
            for x in ids:
                inp = torch.tensor([x])
                out = lm.model.generate(input_ids=inp, attention_mask=torch.ones_like(inp), do_sample=True,
                                        temperature=a.temperature, top_p=a.top_p, top_k=0, num_return_sequences=a.n,
                                        max_new_tokens=a.max_new_tokens, pad_token_id=lm.pad_id, eos_token_id=list(eos))
                for seq in out[:, len(x):].tolist():
                    k = next((i + 1 for i, t in enumerate(seq) if t in eos), len(seq))
                    n += k
        return n

    def backend():
        res = sample_rows(lm, ids, rows, max_new_tokens=a.max_new_tokens, temperature=a.temperature, top_p=a.top_p,
                          stop=(), batch_size=bs)
        return sum(r["n_tokens"] for r in res)

    # warm-up (first forward passes allocate and pick kernels)
    sample_rows(lm, ids[:1], [(0, 1)], max_new_tokens=2, temperature=a.temperature, stop=())
    with torch.inference_mode():
        lm.model.generate(input_ids=torch.tensor([ids[0]]), do_sample=True, max_new_tokens=2, pad_token_id=lm.pad_id)

    rounds = []
    for r in range(a.rounds):
        nv = _measure(naive); print(f"round {r}: naive   {nv['tokens']:5d} tok {nv['seconds']:7.1f}s {nv['tok_per_s']:7.1f} tok/s {nv['tok_per_cpu_s']:7.1f} tok/cpu-s "
                                    f"peak RSS {nv['peak_rss_mib']:.0f} MiB (+{nv['peak_over_start_mib']:.0f})", flush=True)
        bk = _measure(backend); print(f"round {r}: backend {bk['tokens']:5d} tok {bk['seconds']:7.1f}s {bk['tok_per_s']:7.1f} tok/s {bk['tok_per_cpu_s']:7.1f} tok/cpu-s "
                                      f"peak RSS {bk['peak_rss_mib']:.0f} MiB (+{bk['peak_over_start_mib']:.0f})", flush=True)
        rounds.append(dict(naive=nv, backend=bk, speedup=bk["tok_per_s"] / nv["tok_per_s"],
                           cpu_speedup=bk["tok_per_cpu_s"] / nv["tok_per_cpu_s"]))
        print(f"round {r}: speedup {rounds[-1]['speedup']:.2f}x wall, {rounds[-1]['cpu_speedup']:.2f}x per CPU-second", flush=True)
    try: load = os.getloadavg()
    except OSError: load = None
    summary = dict(model=lm.name, prompts=a.prompts, n=a.n, max_new_tokens=a.max_new_tokens, temperature=a.temperature,
                   top_p=a.top_p, template=a.template, batch_size=bs, threads=threads, load_seconds=load_s,
                   loadavg_end=load, cpus=len(os.sched_getaffinity(0)), torch=torch.__version__, python=platform.python_version(),
                   rounds=rounds, median_speedup=statistics.median(r["speedup"] for r in rounds),
                   median_cpu_speedup=statistics.median(r["cpu_speedup"] for r in rounds),
                   median_tok_per_s=dict(naive=statistics.median(r["naive"]["tok_per_s"] for r in rounds),
                                         backend=statistics.median(r["backend"]["tok_per_s"] for r in rounds)))
    print(f"median: naive {summary['median_tok_per_s']['naive']:.1f} tok/s, backend {summary['median_tok_per_s']['backend']:.1f} tok/s, "
          f"speedup {summary['median_speedup']:.2f}x wall, {summary['median_cpu_speedup']:.2f}x per CPU-second "
          f"(threads={threads}, load avg at end {load})")
    if a.json:
        with open(a.json, "w") as f: json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
