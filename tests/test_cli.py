"End-to-end: the `bon-lit` console script as a user runs it."
import subprocess, sys
import pandas as pd
import fastcore.test as fct
from bon_lit.schema import read_table, write_table


def run(*args):
    return subprocess.run(["bon-lit", *args], capture_output=True, text=True)


def test_simulate_then_validate(tmp_path):
    r = run("simulate", "--out", str(tmp_path / "d"), "--configs", "8", "--prompts", "30", "--samples", "8")
    assert r.returncode == 0, r.stderr
    for t in ("samples", "configs", "prompts"):
        r = run("validate", str(tmp_path / "d" / f"{t}.parquet"))
        assert r.returncode == 0, r.stderr
        assert "OK" in r.stdout
    s = read_table(tmp_path / "d" / "samples.parquet")
    fct.test_eq(len(s), 8 * 30 * 8)
    assert s.attrs["provenance"]["seed"] == 0 and "numpy" in s.attrs["provenance"]["packages"]


def test_validate_reports_problem(tmp_path):
    run("simulate", "--out", str(tmp_path / "d"), "--configs", "2", "--prompts", "5", "--samples", "4")
    s = read_table(tmp_path / "d" / "samples.parquet")
    write_table(pd.concat([s, s.iloc[[0]]]), tmp_path / "dup.parquet")
    r = run("validate", str(tmp_path / "dup.parquet"))
    assert r.returncode != 0 and "duplicate key" in r.stderr
    (tmp_path / "junk.parquet").write_text("nope")
    r = run("validate", str(tmp_path / "junk.parquet"))
    assert r.returncode != 0 and "not a readable parquet" in r.stderr


def test_help_has_examples():
    for sub in ("simulate", "validate"):
        r = run(sub, "--help")
        assert r.returncode == 0 and "example" in r.stdout


def test_demo_names_the_missing_suite(tmp_path):
    "`bon-lit demo --suite grid` on a folder without the grid's tables stops before any work and says how to build it."
    (tmp_path / "empty").mkdir()
    r = run("demo", "--suite", "grid", "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "o"), "--quiet")
    fct.test_eq(r.returncode, 2)
    assert "grid suite is not available" in r.stderr and "ship_grid" in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()
    r = run("demo", "--suite", "huge")
    assert r.returncode != 0 and "invalid choice" in r.stderr


def test_demo_defaults_to_the_grid_suite(tmp_path):
    """`bon-lit demo` with no --suite runs on the shipped grid suite: 48 configurations, both domains, the within-domain
    results and the noise ceiling per domain in summary.json, and the legacy suite still loads by name."""
    import json
    from bon_lit.suite import load_suite
    grid = load_suite(name="grid")
    fct.test_eq(len(grid.configs), 48)
    fct.test_eq(grid.prompts.groupby("domain").size().to_dict(), {"math": 256, "reasoning": 256})
    fct.test_eq(len(load_suite(name="legacy").configs), 20)
    r = run("demo", "--out", str(tmp_path / "o"), "--B", "20", "--n-perm", "20", "--n-boot", "20", "--quiet")
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    fct.test_eq(s["n_configs"], 48)
    fct.test_eq(s["n_prompts"], 256)
    assert "grid" in s["inputs"]["source"]
    fct.test_eq(set(s["noise_ceiling"]), {"math", "reasoning", "overall"})
    fct.test_eq(set(s["spearman_within"]["loo"]), {"math", "reasoning", "mean"})
