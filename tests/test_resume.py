"""Kill-and-resume: SIGKILL a `bon-lit sample` process at random moments, rerun, and compare with an uninterrupted run.

The sampling process runs the real CLI (`bon_lit.cli.main(["sample", ...])`) against a deterministic fake SGLang
server living in this test process, so the samples are a pure function of the requests and an interrupted-then-resumed
run must reproduce the uninterrupted run's rows exactly: no duplicates, nothing lost."""
import os, random, signal, subprocess, sys, time
from pathlib import Path

import pandas as pd
import pytest
import fastcore.test as fct
import pyarrow.parquet as pq

from bon_lit.schema import example_tables, read_table, validate_samples
from bon_lit.sampling import sample_table
from bon_lit.sglang import FakeSGLangServer, SGLangBackend

ROOT = Path(__file__).resolve().parents[1]
KEY = ["config_id", "prompt_id", "sample_idx"]
DRIVER = "import sys\nfrom bon_lit.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def _tables(n_configs=3, n_prompts=24, n_samples=4):
    _, configs, prompts = example_tables(n_configs=n_configs, n_prompts=n_prompts, n_samples=n_samples)
    return configs, prompts


def _cmd(tmp, url, out):
    return [sys.executable, "-c", DRIVER, "sample", "--configs", str(tmp / "configs.parquet"), "--prompts",
            str(tmp / "prompts.jsonl"), "--out", str(out), "--sglang-url", url, "--chunk-size", "3",
            "--concurrency", "2", "--no-progress"]


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "PYTHONWARNINGS": "ignore"}


def _parts(out: Path):
    return sorted(Path(str(out) + ".parts").glob("*/*.parquet"))


def test_sigkill_at_random_points_then_resume(tmp_path):
    configs, prompts = _tables(n_configs=2, n_prompts=18, n_samples=4)
    configs.to_parquet(tmp_path / "configs.parquet")
    prompts.to_json(tmp_path / "prompts.jsonl", orient="records", lines=True)
    n_chunks = 2 * (18 // 3)
    rng = random.Random(20240607)
    out = tmp_path / "killed.parquet"
    with FakeSGLangServer(latency=0.02) as srv:
        # reference: one uninterrupted run with the CLI's settings (test_in_process_reference_equals_cli_run
        # checks that the library call and the CLI produce the same table)
        reference = sample_table(configs, prompts, tmp_path / "reference.parquet", SGLangBackend(srv.url, concurrency=2),
                                 chunk_size=3, progress=False)

        # kill points: once at a random time from process start (often still importing), then three times a
        # random moment after the run has written a random number of parts (mid-chunk, mid-write, mid-request …)
        plan = [("time", rng.uniform(0.2, 1.0))] + [("parts", t) for t in sorted(rng.sample(range(1, n_chunks - 4), 3))]
        history = []
        for kind, x in plan:
            before = len(_parts(out))
            proc = subprocess.Popen(_cmd(tmp_path, srv.url, out), env=_env(),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            t0 = time.time()
            if kind == "time":
                time.sleep(x)
            else:
                while proc.poll() is None and len(_parts(out)) < x and time.time() - t0 < 300:   # a safety bound, never reached
                    time.sleep(0.005)
                time.sleep(rng.uniform(0.0, 0.08))
            alive = proc.poll() is None
            proc.send_signal(signal.SIGKILL) if alive else None
            proc.wait(timeout=30)
            history.append((kind, round(x, 3), before, len(_parts(out)), alive, proc.returncode))
            for f in _parts(out):                      # atomic writes: every part on disk is complete and readable
                pq.read_table(f)
        print("kill history (kind, x, parts before, parts after, alive, returncode):", *history, sep="\n  ")
        assert all(h[4] and h[5] == -signal.SIGKILL for h in history), history     # 4 real SIGKILLs
        assert any(0 < h[3] < n_chunks for h in history), history
        assert not out.exists()                        # no killed run got as far as the final table

        final = subprocess.run(_cmd(tmp_path, srv.url, out), env=_env(), capture_output=True, text=True, timeout=600)
        assert final.returncode == 0, final.stderr
        resumed = read_table(out)

    validate_samples(resumed, prompts=prompts, configs=configs)
    assert not resumed.duplicated(KEY).any()
    fct.test_eq(len(resumed), len(reference))
    # the same rows (row set) and, since both are sorted canonically, the same table
    cols = [c for c in reference.columns if c not in ("answer", "correct", "reward")]
    as_set = lambda df: set(map(tuple, df[cols].astype(str).itertuples(index=False)))
    a, b = as_set(resumed), as_set(reference)
    assert a == b, (sorted(a - b)[:4], sorted(b - a)[:4])
    pd.testing.assert_frame_equal(resumed, reference)
    fct.test_eq(len(_parts(out)), n_chunks)
    assert not list(Path(str(out) + ".parts").glob("**/.*.tmp"))   # temp files of killed runs cleaned up


def test_in_process_reference_equals_cli_run(tmp_path):
    "The CLI path and the library call give the same table (so the reference above is the library's answer too)."
    configs, prompts = _tables(n_configs=1, n_prompts=6, n_samples=3)
    configs.to_parquet(tmp_path / "configs.parquet")
    prompts.to_json(tmp_path / "prompts.jsonl", orient="records", lines=True)
    with FakeSGLangServer() as srv:
        r = subprocess.run(_cmd(tmp_path, srv.url, tmp_path / "cli.parquet"), env=_env(), capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        lib = sample_table(configs, prompts, tmp_path / "lib.parquet", SGLangBackend(srv.url, concurrency=2),
                           chunk_size=3, progress=False)
    pd.testing.assert_frame_equal(read_table(tmp_path / "cli.parquet"), lib)


@pytest.mark.skipif(not os.environ.get("BON_LIT_SLOW"), reason="slow: set BON_LIT_SLOW=1 (real SmolLM2 on CPU)")
def test_sigkill_resume_cpu_backend(tmp_path):
    "Optional: the same kill-and-resume check with the real CPU backend (bon_lit.cpu, SmolLM2-135M-Instruct)."
    pytest.importorskip("torch")
    cpu = pytest.importorskip("bon_lit.cpu")
    configs, prompts = _tables(n_configs=1, n_prompts=4, n_samples=2)
    configs = configs.assign(model=getattr(cpu, "DEFAULT_MODEL", "SmolLM2-135M-Instruct"), backend="cpu", max_new_tokens=8)
    configs.to_parquet(tmp_path / "configs.parquet")
    prompts.to_json(tmp_path / "prompts.jsonl", orient="records", lines=True)
    cmd = lambda out: [sys.executable, "-c", DRIVER, "sample", "--configs", str(tmp_path / "configs.parquet"), "--prompts",
                       str(tmp_path / "prompts.jsonl"), "--out", str(out), "--chunk-size", "1", "--no-progress"]
    r = subprocess.run(cmd(tmp_path / "ref.parquet"), env=_env(), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    out, kills = tmp_path / "killed.parquet", 0
    for _ in range(3):                       # kill each run right after it finished one more chunk
        before = len(_parts(out))
        proc = subprocess.Popen(cmd(out), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.time()
        while proc.poll() is None and len(_parts(out)) == before and time.time() - t0 < 900:
            time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL); kills += 1
        proc.wait()
    assert kills >= 2
    r = subprocess.run(cmd(out), env=_env(), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    pd.testing.assert_frame_equal(read_table(out), read_table(tmp_path / "ref.parquet"))
