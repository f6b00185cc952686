"""Issue #12: every bad input gets one named line and the right exit code before any heavy work; `--help` imports
nothing heavy; `--version`; the configs' backend column and missing extras give install hints, not tracebacks."""
import contextlib, io, json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import fastcore.test as fct

from bon_lit.schema import read_table, write_table, example_tables
from bon_lit.simulate import simulate_suite

CODE = "import sys; from bon_lit.cli import main; sys.exit(main())"
# a Python that cannot import torch (as on the base install without the [cpu] extra)
NO_TORCH = ("import sys\n"
            "class _NoTorch:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'torch': raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n"
            "sys.meta_path.insert(0, _NoTorch())\n" + CODE)


def bon_lit(*args, code=None):
    "Run `bon-lit ARGS` in this process (fast), or in a fresh interpreter running `code`; exceptions are not caught."
    if code is not None:
        return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True)
    from bon_lit.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: rc = main([str(a) for a in args])
        except SystemExit as e: rc = e.code
    return subprocess.CompletedProcess(args, rc, out.getvalue(), err.getvalue())


def one_line(r, rc):
    "The command failed with exit code `rc` and exactly one line on stderr, no traceback."
    assert r.returncode == rc, (r.returncode, r.stderr[-2000:])
    err = r.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err[-2000:]
    return err


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    d = tmp_path_factory.mktemp("suite")
    s = simulate_suite(n_configs=8, n_prompts=6, n_samples=4, seed=0)
    for name, t in (("samples", s.samples), ("configs", s.configs), ("prompts", s.prompts)):
        write_table(t, d / f"{name}.parquet")
    return d


def test_help_imports_nothing_heavy():
    probe = ("import sys\nfrom bon_lit.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n"
             "print('HEAVY', sorted(m for m in ('numpy', 'pandas', 'scipy', 'sklearn', 'torch', 'matplotlib', 'pyarrow') "
             "if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert "HEAVY []" in r.stdout, r.stdout[-1000:] + r.stderr[-1000:]
    for cmd in ("simulate", "validate", "sample", "grade", "score", "curves", "features", "fit", "screen", "demo", "run"):
        assert f"    {cmd}" in r.stdout, cmd


def test_version():
    from importlib.metadata import version
    r = bon_lit("--version", code=CODE)
    assert r.returncode == 0 and r.stdout.strip() == f"bon-lit {version('bon_lit')}", r


def test_output_paths_checked_before_compute(tmp_path, suite):
    (tmp_path / "file").write_text("x")
    run = ["run", "--samples", suite / "samples.parquet", "--configs", suite / "configs.parquet",
           "--prompts", suite / "prompts.parquet"]
    cases = [
        (run + ["--out", tmp_path / "file"], "exists and is a file"),
        (run + ["--out", tmp_path / "missing" / "report"], "parent folder"),
        (run + ["--out", "/proc/bon_lit_report"], "not writable"),
        (["demo", "--out", tmp_path / "file"], "exists and is a file"),
        (["simulate", "--out", tmp_path / "file"], "exists and is a file"),
        (["simulate", "--out", "/proc/sim"], "not writable"),
        (["features", suite / "samples.parquet", "--out", tmp_path], "is a folder"),
        (["features", suite / "samples.parquet", "--out", tmp_path / "missing" / "f.parquet"], "does not exist"),
        (["grade", suite / "samples.parquet", "--prompts", suite / "prompts.parquet", "--out", "/proc/g.parquet"], "not writable"),
        (["curves", suite / "samples.parquet", "--out", tmp_path], "is a folder"),
        (["fit", tmp_path / "f.parquet", "--out", tmp_path / "file"], "no such file"),   # inputs are checked too
        (["run", "--samples", tmp_path / "nope.parquet", "--configs", suite / "configs.parquet",
          "--prompts", suite / "prompts.parquet", "--out", tmp_path / "r"], "nope.parquet: no such file"),
    ]
    for argv, needle in cases:
        err = one_line(bon_lit(*argv), 2)
        assert needle in err, (argv, err)
    assert not (tmp_path / "r").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["file"]   # nothing written


def test_report_folder_with_foreign_files_is_refused(tmp_path, suite):
    (tmp_path / "r").mkdir(); (tmp_path / "r" / "notes.txt").write_text("mine")
    err = one_line(bon_lit("run", "--samples", suite / "samples.parquet", "--configs", suite / "configs.parquet",
                           "--prompts", suite / "prompts.parquet", "--out", tmp_path / "r"), 2)
    assert "did not write there (notes.txt)" in err
    fct.test_eq((tmp_path / "r" / "notes.txt").read_text(), "mine")


def _write_suite(d: Path, samples, configs, prompts):
    d.mkdir(parents=True, exist_ok=True)
    write_table(samples, d / "samples.parquet"); write_table(configs, d / "configs.parquet"); write_table(prompts, d / "prompts.parquet")
    return d


def test_validate_suite_matches_run(tmp_path, suite):
    "Each bad suite: `validate` and `run` reject it with the same named one-line error; the good one passes both."
    r = bon_lit("validate", suite)
    assert r.returncode == 0 and "OK: a valid suite" in r.stdout, r.stderr
    s, c, p = (read_table(suite / f"{k}.parquet") for k in ("samples", "configs", "prompts"))
    first = s.config_id.iloc[0]
    bad = {
        "inf reward": (s.assign(reward=s.reward.where(s.index != 7, np.inf)), c, p, "+-inf at row 7"),
        "-inf reward": (s.assign(reward=s.reward.where(s.index != 3, -np.inf)), c, p, "'reward' must be finite"),
        "partly NaN reward": (s.assign(reward=s.reward.where(s.index != 5)), c, p, "'reward' is partly missing"),
        "unknown config": (s, c.iloc[1:], p, "config_id not declared in the config table"),
        "unknown prompt": (s, c, p.iloc[1:], "ids unknown to the prompt table"),
        "single prompt": (s[(s.config_id != first) | (s.prompt_id == s.prompt_id.iloc[0])], c, p, "single prompt"),
        "uneven N": (s.drop(index=[2]), c, p, "uneven N"),
        "too few scored": (s.assign(reward=np.nan), c, p, "RM-scored configuration(s), at least 6"),
    }
    for name, (ss, cc, pp, needle) in bad.items():
        d = _write_suite(tmp_path / name.replace(" ", "_"), ss, cc, pp)
        v = one_line(bon_lit("validate", d), 1)
        assert needle in v, (name, v)
        r = bon_lit("run", "--samples", d / "samples.parquet", "--configs", d / "configs.parquet",
                    "--prompts", d / "prompts.parquet", "--out", d / "report", "--quiet")
        assert r.returncode in (1, 2) and "Traceback" not in r.stderr, (name, r.stderr[-2000:])
        assert not (d / "report").exists(), name
        if name != "too few scored":                       # run reaches that one after its features stage
            assert needle in r.stderr, (name, r.stderr)


def test_validate_single_table_inf(tmp_path):
    s, _, _ = example_tables()
    write_table(s.assign(reward=s.reward.where(s.index != 4, np.inf)), tmp_path / "s.parquet")
    err = one_line(bon_lit("validate", tmp_path / "s.parquet"), 1)
    assert "column 'reward' must be finite (or missing); +-inf at row 4 (config_id='c0', prompt_id='p1', sample_idx=0)" in err


def test_jsonl_line_numbers(tmp_path):
    (tmp_path / "p.jsonl").write_text('{"prompt_id": "p0", "domain": "math", "question": "q", "gold": "1"}\n\n'
                                      '{"prompt_id": "p1", "domain": "math", "question": "q", "gold": 2\n')
    err = one_line(bon_lit("validate", tmp_path / "p.jsonl"), 1)
    assert "p.jsonl: line 3: not valid JSON" in err, err


def test_curves_uneven_and_screen_corrupt_model(tmp_path, suite):
    s = read_table(suite / "samples.parquet")
    write_table(s.drop(index=[3]), tmp_path / "uneven.parquet")
    err = one_line(bon_lit("curves", tmp_path / "uneven.parquet", "--out", tmp_path / "c.csv"), 1)
    assert "uneven N" in err and not (tmp_path / "c.csv").exists()
    raw = subprocess.run([sys.executable, "-c", "import joblib, sys; joblib.dump({'format': 'x'}, sys.argv[1])",
                          str(tmp_path / "m.joblib")], capture_output=True)
    data = (tmp_path / "m.joblib").read_bytes()
    (tmp_path / "trunc.joblib").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.joblib").write_text("junk")
    for f in ("m.joblib", "trunc.joblib", "junk.joblib"):
        err = one_line(bon_lit("screen", tmp_path / f, suite / "samples.parquet"), 2)
        assert f in err and "GainPredictor file" in err, err


def test_sample_without_torch_and_backend_column(tmp_path):
    _, configs, prompts = example_tables(n_configs=2, n_prompts=2, n_samples=2)
    write_table(configs.assign(backend="cpu"), tmp_path / "cpu.parquet")
    write_table(configs.assign(backend="sglang"), tmp_path / "sglang.parquet")
    write_table(prompts, tmp_path / "p.parquet")
    base = ["sample", "--prompts", tmp_path / "p.parquet", "--out", tmp_path / "s.parquet", "--no-progress"]
    err = one_line(bon_lit(*base, "--configs", tmp_path / "cpu.parquet", code=NO_TORCH), 2)
    assert "pip install 'bon_lit[cpu]'" in err and "torch" in err, err
    assert "resume" not in err                             # nothing was started, so there is nothing to resume
    err = one_line(bon_lit(*base, "--configs", tmp_path / "sglang.parquet"), 2)
    assert "backend 'sglang'" in err and "--sglang-url" in err and "'c0'" in err, err
    err = one_line(bon_lit(*base, "--configs", tmp_path / "cpu.parquet", "--sglang-url", "http://127.0.0.1:9"), 2)
    assert "backend 'cpu'" in err, err
    assert not (tmp_path / "s.parquet").exists() and not (tmp_path / "s.parquet.parts").exists()


def test_infinite_reward_rejected_by_every_reader(tmp_path, suite):
    "An infinite reward would win every best-of-N: features and curves refuse it too, naming the config."
    s = read_table(suite / "samples.parquet")
    write_table(s.assign(reward=s.reward.where(s.index != 7, np.inf)), tmp_path / "inf.parquet")
    for argv in (["features", tmp_path / "inf.parquet", "--out", tmp_path / "f.parquet"],
                 ["curves", tmp_path / "inf.parquet", "--out", tmp_path / "c.csv"]):
        err = one_line(bon_lit(*argv), 1)
        assert "+-inf" in err and repr(s.config_id.iloc[7]) in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inf.parquet"]
