"Tests of bon_lit.reward: the CPU verifier (training, disjointness, save/load, scoring, embeddings)."
import os
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
import fastcore.test as fct

from bon_lit.reward import (Verifier, train_verifier, score_samples, evaluate_verifier, check_disjoint_prompts,
                            basic_features, BASIC_FEATURES, default_verifier_path, load_verifier, within_prompt_auroc)

NBS = Path(__file__).resolve().parents[1] / "nbs"
slow = pytest.mark.skipif(not os.environ.get("RUN_SLOW"), reason="slow: set RUN_SLOW=1")


def _synthetic(n_prompts=40, N=6, seed=0):
    rng = np.random.default_rng(seed)
    prompts = pd.DataFrame({"prompt_id": [f"q{i}" for i in range(n_prompts)], "domain": "math",
                            "question": [f"What is {i} + {i}?" for i in range(n_prompts)],
                            "gold": [str(2 * i) for i in range(n_prompts)]})
    corr = rng.random(n_prompts * N) < 0.4
    samples = pd.DataFrame({"config_id": "c", "prompt_id": np.repeat(prompts.prompt_id, N).to_numpy(),
                            "sample_idx": np.tile(np.arange(N), n_prompts),
                            "text": np.where(corr, "so the answer is 4.", "hmm"), "n_tokens": np.where(corr, 8, 30),
                            "finish_reason": "stop", "logprob_sum": np.where(corr, -2.0, -20.0) + rng.normal(0, 3, n_prompts * N),
                            "token_entropy_mean": rng.uniform(0.2, 1.0, n_prompts * N),
                            "correct": pd.array(corr, dtype="boolean")})
    return samples, prompts


def test_train_requires_disjoint_prompts():
    s, p = _synthetic()
    tr, va = p.iloc[:30], p.iloc[30:]
    v = train_verifier(s[s.prompt_id.isin(tr.prompt_id)], p, exclude_prompts=va, embed_model=None)
    assert v.info["n_train_prompts"] == 30 and len(v.train_question_hashes) == 30
    with pytest.raises(ValueError, match="overlap the validation prompts"):
        train_verifier(s, p, exclude_prompts=va, embed_model=None)
    # same questions under other ids are caught too
    with pytest.raises(ValueError, match="shared question texts"):
        check_disjoint_prompts(tr, tr.assign(prompt_id=lambda d: "x" + d.prompt_id))
    check_disjoint_prompts(tr, va)


def test_ungradable_samples_are_skipped_and_both_classes_needed():
    s, p = _synthetic()
    s = s.copy(); s.loc[:9, "correct"] = pd.NA
    v = train_verifier(s, p, embed_model=None, C=1.0)
    fct.test_eq(v.info["n_train"], len(s) - 10)
    with pytest.raises(ValueError, match="both correct and incorrect"):
        train_verifier(s.assign(correct=pd.array([True] * len(s), dtype="boolean")), p, embed_model=None)
    with pytest.raises(ValueError, match="not graded"):
        train_verifier(s.drop(columns="correct"), p, embed_model=None)


def test_save_load_roundtrip_and_scoring_contract(tmp_path):
    s, p = _synthetic()
    tr, va = p.iloc[:30], p.iloc[30:]
    v = train_verifier(s[s.prompt_id.isin(tr.prompt_id)], p, exclude_prompts=va, embed_model=None)
    v2 = Verifier.load(v.save(tmp_path / "v.joblib"))
    np.testing.assert_array_equal(v2.coef, v.coef)
    fct.test_eq((v2.intercept, v2.feature_names, v2.info, v2.embed_model), (v.intercept, v.feature_names, v.info, None))
    held = s[s.prompt_id.isin(va.prompt_id)].sample(frac=1.0, random_state=3)
    for arg in (v2, tmp_path / "v.joblib", str(tmp_path / "v.joblib")):
        sc = score_samples(held, p, arg)
        pd.testing.assert_frame_equal(sc.drop(columns="reward"), held)            # other columns, order unchanged
        assert sc.reward.dtype == "float64" and np.isfinite(sc.reward).all()
    np.testing.assert_allclose(sc.reward.to_numpy(), v.decision(basic_features(held, p)))
    ev = evaluate_verifier(sc)
    assert ev["auroc"] > 0.8 and ev["bon_at_N"] >= ev["pass1"]
    with pytest.raises(ValueError, match="trained on"):
        score_samples(s[s.prompt_id.isin(tr.prompt_id)], p, v2)
    assert np.isfinite(score_samples(s.head(12), p, v2, allow_train_prompts=True).reward).all()
    (tmp_path / "bad.joblib").write_bytes(b"nope")
    with pytest.raises(Exception):
        Verifier.load(tmp_path / "bad.joblib")


def test_within_prompt_auroc():
    df = pd.DataFrame({"config_id": "c", "prompt_id": ["a"] * 4 + ["b"] * 2 + ["c"] * 2,
                       "correct": pd.array([True, False, False, True, True, True, False, True], dtype="boolean"),
                       "reward": [3.0, 1.0, 2.0, 0.0, 1.0, 2.0, 5.0, 1.0]})
    # prompt a: pos {3, 0} vs neg {1, 2} -> 2/4; b has no negatives (skipped); c: pos 1 < neg 5 -> 0
    fct.test_close(within_prompt_auroc(df), (0.5 + 0.0) / 2)


def test_embeddings_share_question_prefix_exactly():
    torch = pytest.importorskip("torch")
    cpu = pytest.importorskip("bon_lit.cpu")
    try: cpu.resolve_model("smollm2").locate()
    except FileNotFoundError: pytest.skip("SmolLM2 weights not installed")
    from bon_lit.reward import embed_samples, _encode_pairs, EMBED_MODEL
    s = pd.DataFrame({"prompt_id": ["p1", "p2", "p1"], "text": ["7 - 2 = 5. The answer is 5.", "B", "The answer is 6."]})
    p = pd.DataFrame({"prompt_id": ["p1", "p2"], "domain": ["math", "reasoning"],
                      "question": ["Sam has 7 pens and loses 2. How many are left?", "Which is larger?\nA) 1\nB) 2"], "gold": ["5", "B"]})
    E = embed_samples(s, p, batch_size=3)
    lm = cpu.load_model(EMBED_MODEL)
    qs = p.set_index("prompt_id").question
    for i in range(len(s)):
        pre, comp = _encode_pairs(lm.tokenizer, [qs[s.prompt_id[i]]], [s.text[i]], 256)
        ids = list(pre.values())[0] + comp[0]
        with torch.inference_mode():
            h = lm.model.get_decoder()(input_ids=torch.tensor([ids])).last_hidden_state[0, -len(comp[0]):].float()
        np.testing.assert_allclose(E[i], np.concatenate([h.mean(0).numpy(), h[-1].numpy()]), atol=2e-4, rtol=1e-4)


@pytest.mark.skipif(not default_verifier_path().exists(), reason="default verifier not built yet (nbs/07_reward.ipynb)")
def test_default_verifier_loads_and_guards_its_training_prompts():
    from bon_lit.schema import read_table
    from bon_lit.tasks import split_of
    v = load_verifier()
    assert v.embed_model and len(v.coef) == len(v.feature_names) and v.info["n_train"] > 100
    pr = read_table(NBS / "data" / "reward_prompts.parquet")
    s = read_table(NBS / "data" / "reward_samples.parquet")
    train_ids = set(pr.prompt_id[pr.question.map(split_of) == "train"])
    with pytest.raises(ValueError, match="trained on"):
        score_samples(s[s.prompt_id.isin(train_ids)].head(2), pr)


@pytest.mark.skipif(not default_verifier_path("cheap").exists(), reason="cheap verifier not built yet (nbs/07_reward.ipynb)")
def test_shipped_cheap_verifier_on_held_out_prompts():
    "The cheap-features verifier needs no model: score all held-out samples and check it beats chance."
    from bon_lit.schema import read_table
    from bon_lit.tasks import split_of
    v = load_verifier("cheap")
    assert v.embed_model is None and v.feature_names == BASIC_FEATURES
    pr = read_table(NBS / "data" / "reward_prompts.parquet")
    s = read_table(NBS / "data" / "reward_samples.parquet")
    val = s[s.prompt_id.isin(set(pr.prompt_id[pr.question.map(split_of) == "val"]))]
    sc = score_samples(val, pr, "cheap")
    pd.testing.assert_frame_equal(sc.drop(columns="reward"), val.drop(columns="reward"))
    ev = evaluate_verifier(sc)
    assert ev["auroc"] > 0.7, ev
    with pytest.raises(ValueError, match="kind must be"):
        default_verifier_path("huge")


@slow
def test_default_verifier_beats_chance_on_held_out_prompts():
    from bon_lit.schema import read_table
    from bon_lit.tasks import split_of
    pr = read_table(NBS / "data" / "reward_prompts.parquet")
    s = read_table(NBS / "data" / "reward_samples.parquet")
    val = s[s.prompt_id.isin(set(pr.prompt_id[pr.question.map(split_of) == "val"]))]
    ev = evaluate_verifier(score_samples(val, pr))
    assert ev["auroc"] > 0.6, ev
