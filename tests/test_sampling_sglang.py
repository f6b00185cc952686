"Contract tests of the SGLang backend, /classify scoring and the sampling runner against a local fake SGLang server."
import asyncio, builtins, json, os, socket, subprocess, sys, time, warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import fastcore.test as fct

from bon_lit.schema import example_tables, read_table, validate_samples, SchemaError
from bon_lit.sampling import SamplingError, sample_table, topk_entropy, prompt_seed, sample_seed, render_text, effective_stop
from bon_lit.sglang import FakeSGLangServer, SGLangBackend, SGLangError, score_sglang, default_chat_template, _fake_reward
from bon_lit.cli import build_parser, _cpu_backend

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore:bon_lit.tasks is not available")

CFG = {"config_id": "c0", "family": "toy", "method": "base", "domain": "math", "model": "toy", "backend": "sglang",
       "temperature": 0.7, "top_p": 0.95, "max_new_tokens": 8, "prompt_template": "zero_shot", "seed": 3, "n_samples": 4}
# generous per-request timeout: a healthy local request never times out, even on a loaded CI machine
FAST = dict(timeout=2.0, max_retries=3, backoff=0.01)


def prompts(n):
    return [{"prompt_id": f"p{i}", "domain": "math", "question": f"What is {i} + {i}?", "gold": str(2 * i),
             "seed": prompt_seed(3, "c0", f"p{i}")} for i in range(n)]


@pytest.fixture(scope="module")
def server():
    with FakeSGLangServer() as srv:
        yield srv


@pytest.fixture
def srv(server):
    server.script.clear()
    server.requests.clear()
    server.latency = 0.0
    server.max_in_flight = 0
    return server


def dead_url():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{so.getsockname()[1]}"


# ---------------------------------------------------------------- request shape

def test_request_fields_follow_the_documented_shape(srv):
    cfg = {**CFG, "top_k": 20, "min_p": 0.05, "stop": ["\n\n", "###"]}
    SGLangBackend(srv.url, top_logprobs_num=7).generate(cfg, prompts(2), 4)
    bodies = [b for p, b in srv.requests if p == "/generate"]
    fct.test_eq(len(bodies), 2)                       # prompts_per_request=1: one request per prompt
    b = bodies[0]
    fct.test_eq(b["sampling_params"], {"temperature": 0.7, "top_p": 0.95, "max_new_tokens": 8, "n": 4,
                                       "top_k": 20, "min_p": 0.05, "stop": ["\n\n", "###"]})
    fct.test_eq((b["return_logprob"], b["logprob_start_len"], b["top_logprobs_num"], b["return_text_in_logprobs"]),
                (True, -1, 7, False))
    assert isinstance(b["text"], list) and len(b["text"]) == 1


def test_optional_params_absent_when_not_in_config(srv):
    SGLangBackend(srv.url).generate({**CFG, "top_k": np.nan, "min_p": None}, prompts(1), 2)
    sp = srv.requests[-1][1]["sampling_params"]
    assert "top_k" not in sp and "min_p" not in sp
    fct.test_eq(sp.get("stop"), effective_stop(CFG))     # default: the task stop strings (bon_lit.tasks.STOP_SEQUENCES)
    tasks = pytest.importorskip("bon_lit.tasks")
    fct.test_eq(sp["stop"], list(tasks.STOP_SEQUENCES))


def test_chat_template_applied_to_rendered_prompt(srv):
    tmpl = lambda msgs: "<s>" + msgs[0]["content"] + "</s>"
    SGLangBackend(srv.url, chat_template=tmpl).generate(CFG, prompts(1), 1)
    fct.test_eq(srv.requests[-1][1]["text"], ["<s>" + render_text(prompts(1)[0], CFG) + "</s>"])


# ---------------------------------------------------------------- n > 1 ordering

@pytest.mark.parametrize("ppr", [1, 3, 5])
def test_n_gt_1_outputs_mapped_prompt_major(srv, ppr):
    rows = SGLangBackend(srv.url, prompts_per_request=ppr).generate(CFG, prompts(5), 4)
    fct.test_eq(len(rows), 20)
    fct.test_eq(sorted((r["prompt_id"], r["sample_idx"]) for r in rows), sorted((f"p{i}", j) for i in range(5) for j in range(4)))
    for r in rows:
        i = int(r["prompt_id"][1:]) % ppr                # position of the prompt inside its request
        assert f" i={i} j={r['sample_idx']}]" in r["text"], r
    # each output really belongs to its prompt: the fake encodes a hash of the prompt text
    import hashlib
    for r in rows:
        q = hashlib.sha256(render_text(prompts(5)[int(r["prompt_id"][1:])], CFG).encode()).hexdigest()[:8]
        assert f"[q={q} " in r["text"]


def test_repeat_mode_and_per_sample_seeds(srv):
    ps = prompts(2)
    rows = SGLangBackend(srv.url, n_mode="repeat", send_seed=True, prompts_per_request=2).generate(CFG, ps, 3)
    b = srv.requests[-1][1]
    fct.test_eq(len(b["text"]), 6)
    fct.test_eq(b["text"][:3], [b["text"][0]] * 3)
    fct.test_eq([sp["sampling_seed"] for sp in b["sampling_params"]],
                [sample_seed(p["seed"], j) for p in ps for j in range(3)])
    assert all(sp["n"] == 1 for sp in b["sampling_params"])
    fct.test_eq([(r["prompt_id"], r["sample_idx"]) for r in rows], [(p["prompt_id"], j) for p in ps for j in range(3)])
    assert len({r["text"] for r in rows}) == 6           # distinct seeds -> distinct samples
    with pytest.raises(ValueError, match="repeat"):
        SGLangBackend(srv.url, send_seed=True)


# ---------------------------------------------------------------- parsed numbers

def test_logprob_sum_and_entropy_from_response(srv):
    import httpx
    be = SGLangBackend(srv.url, top_logprobs_num=4)
    body = be.request_payload(CFG, prompts(1), 3)
    raw = httpx.post(srv.url + "/generate", json=body).json()
    rows = be.generate(CFG, prompts(1), 3)
    for r, o in zip(rows, raw):
        m = o["meta_info"]
        fct.test_close(r["logprob_sum"], sum(e[0] for e in m["output_token_logprobs"]))
        fct.test_close(r["token_entropy_mean"], np.mean(topk_entropy(m["output_top_logprobs"])))
        fct.test_eq(r["n_tokens"], m["completion_tokens"])
        fct.test_eq(r["finish_reason"], m["finish_reason"]["type"])
        assert r["logprob_sum"] <= 0 and r["token_entropy_mean"] > 0


def test_topk_entropy_is_a_lower_bound():
    rng = np.random.default_rng(1)
    for _ in range(100):
        V, k = 30, int(rng.integers(1, 10))
        pi = rng.dirichlet(np.ones(V) * 0.3)
        H = -(pi * np.log(pi)).sum()
        top = np.sort(pi)[::-1][:k]
        Hh = topk_entropy([[(np.log(q), 0, None) for q in top]])[0]
        assert Hh <= H + 1e-12 <= Hh + (1 - top.sum()) * np.log(V - k) + 2e-12


def test_top_logprobs_num_zero_gives_nan_entropy(srv):
    rows = SGLangBackend(srv.url, top_logprobs_num=0).generate(CFG, prompts(1), 2)
    assert all(np.isnan(r["token_entropy_mean"]) and np.isfinite(r["logprob_sum"]) for r in rows)


# ---------------------------------------------------------------- failures

@pytest.mark.parametrize("actions", [["500"], ["500", "500", "500"], ["sleep:4"], ["close"], ["badjson"], ["short"]])
def test_transient_failures_are_retried(srv, actions):
    ref = SGLangBackend(srv.url).generate(CFG, prompts(1), 2)
    srv.requests.clear()
    srv.fail_next(*actions)
    got = SGLangBackend(srv.url, **FAST).generate(CFG, prompts(1), 2)
    fct.test_eq(got, ref)
    fct.test_eq(len(srv.requests), len(actions) + 1)


def test_5xx_exhausted_gives_clear_error(srv):
    srv.fail_next(*["500"] * 4)
    with pytest.raises(SGLangError) as e:
        SGLangBackend(srv.url, **FAST).generate(CFG, prompts(1), 2)
    msg = str(e.value)
    assert "after 4 attempt(s)" in msg and "HTTP 500" in msg and srv.url in msg and "'c0'" in msg and "p0" in msg


def test_timeout_exhausted(srv):
    srv.fail_next("sleep:1", "sleep:1")
    with pytest.raises(SGLangError, match="timed out after 0.3 s"):
        SGLangBackend(srv.url, timeout=0.3, max_retries=1, backoff=0.01).generate(CFG, prompts(1), 2)
    fct.test_eq(len(srv.requests), 2)      # gave up after its one retry (no assertion on elapsed time)


def test_malformed_json_exhausted(srv):
    srv.fail_next("badjson", "badjson")
    with pytest.raises(SGLangError, match="malformed JSON"):
        SGLangBackend(srv.url, timeout=1, max_retries=1, backoff=0.01).generate(CFG, prompts(1), 2)


def test_4xx_not_retried(srv):
    srv.fail_next("400")
    with pytest.raises(SGLangError, match="not retried"):
        SGLangBackend(srv.url, **FAST).generate(CFG, prompts(1), 2)
    fct.test_eq(len(srv.requests), 1)


def test_connection_refused():
    url = dead_url()
    with pytest.raises(SGLangError) as e:
        SGLangBackend(url, timeout=1, max_retries=2, backoff=0.01).generate(CFG, prompts(2), 2)
    msg = str(e.value)
    assert url in msg and "connection error" in msg and "after 3 attempt(s)" in msg and "'c0'" in msg


def test_exponential_backoff(srv):
    srv.fail_next("500", "500", "500")
    t0 = time.perf_counter()
    SGLangBackend(srv.url, timeout=10, max_retries=3, backoff=0.1).generate(CFG, prompts(1), 1)
    assert time.perf_counter() - t0 >= 0.1 + 0.2 + 0.4 - 0.02


def test_concurrency_is_bounded(srv):
    srv.latency = 0.5      # long enough that a client on a loaded machine has its next requests out meanwhile
    SGLangBackend(srv.url, concurrency=2).generate(CFG, prompts(8), 1)
    fct.test_eq(srv.max_in_flight, 2)
    srv.max_in_flight = 0
    SGLangBackend(srv.url, concurrency=8).generate(CFG, prompts(8), 1)
    assert srv.max_in_flight > 2


def test_works_inside_a_running_event_loop(srv):
    async def inner():          # e.g. a Jupyter kernel: generate must not call asyncio.run on the running loop
        return SGLangBackend(srv.url).generate(CFG, prompts(1), 2)
    fct.test_eq(len(asyncio.run(inner())), 2)


def test_identity_has_server_model_info(srv):
    ident = SGLangBackend(srv.url, top_logprobs_num=9).identity(CFG)
    fct.test_eq(ident["server_model_info"]["model_path"], "fake/sglang-model")
    assert "top-9" in ident["token_entropy"] and ident["url"] == srv.url
    assert "error" in SGLangBackend(dead_url()).identity(CFG)["server_model_info"]


# ---------------------------------------------------------------- runner

def test_sample_table_end_to_end(srv, tmp_path):
    _, configs, prompts_ = example_tables(n_configs=2, n_prompts=5, n_samples=3)
    df = sample_table(configs, prompts_, tmp_path / "s.parquet", SGLangBackend(srv.url), chunk_size=2, progress=False)
    validate_samples(df, prompts=prompts_, configs=configs)
    fct.test_eq(len(df), 2 * 5 * 3)
    fct.test_eq(list(df.columns[:8]), ["config_id", "prompt_id", "sample_idx", "text", "n_tokens", "finish_reason",
                                       "logprob_sum", "token_entropy_mean"])
    assert df.answer.isna().all() and df.correct.isna().all() and df.reward.isna().all()
    back = read_table(tmp_path / "s.parquet")
    pd.testing.assert_frame_equal(back, df)
    sp = back.attrs["provenance"]["sampling"]
    fct.test_eq(sp["configs"]["c1"]["sampling_params"]["temperature"], 1.0)
    assert "prompt_seed" in sp["seed_rule"] and "pandas" in back.attrs["provenance"]["packages"]
    fct.test_eq(len(list((tmp_path / "s.parquet.parts").glob("*/*.parquet"))), 2 * 3)
    # a finished run only recombines
    srv.requests.clear()
    again = sample_table(configs, prompts_, tmp_path / "s.parquet", SGLangBackend(srv.url), chunk_size=2, progress=False)
    pd.testing.assert_frame_equal(again, df)
    assert not [p for p, _ in srv.requests if p == "/generate"]


def test_partial_progress_kept_on_sglang_failure(srv, tmp_path):
    _, configs, prompts_ = example_tables(n_configs=1, n_prompts=6, n_samples=2)
    srv.fail_next(*(["ok"] * 2 + ["500"] * 10))
    with pytest.raises(SGLangError) as e:
        sample_table(configs, prompts_, tmp_path / "s.parquet", SGLangBackend(srv.url, **FAST), chunk_size=2, progress=False)
    assert any("rerun the same command to resume" in n for n in e.value.__notes__)
    fct.test_eq(len(list((tmp_path / "s.parquet.parts").glob("*/*.parquet"))), 1)
    srv.script.clear()
    df = sample_table(configs, prompts_, tmp_path / "s.parquet", SGLangBackend(srv.url), chunk_size=2, progress=False)
    ref = sample_table(configs, prompts_, tmp_path / "ref.parquet", SGLangBackend(srv.url), chunk_size=2, progress=False)
    pd.testing.assert_frame_equal(df, ref)


def test_domain_pairing_and_changed_config_refused(srv, tmp_path):
    _, configs, prompts_ = example_tables(n_configs=2, n_prompts=4, n_samples=2)
    prompts_ = prompts_.assign(domain=["math", "math", "reasoning", "reasoning"])
    configs = configs.assign(domain=["math", "reasoning"])
    df = sample_table(configs, prompts_, tmp_path / "d", SGLangBackend(srv.url), progress=False)
    fct.test_eq(sorted(set(zip(df.config_id, df.prompt_id))),
                [("c0", "p0"), ("c0", "p1"), ("c1", "p2"), ("c1", "p3")])
    with pytest.raises(SamplingError, match="different settings"):
        sample_table(configs.assign(n_samples=3), prompts_, tmp_path / "d", SGLangBackend(srv.url), progress=False)


def test_changed_template_text_refused_on_resume(srv, tmp_path, monkeypatch):
    tasks = pytest.importorskip("bon_lit.tasks")
    _, configs, prompts_ = example_tables(n_configs=1, n_prompts=2, n_samples=2)
    sample_table(configs, prompts_, tmp_path / "t", SGLangBackend(srv.url), progress=False)
    changed = {k: dict(v) for k, v in tasks.PROMPT_TEMPLATES.items()}
    changed["zero_shot"]["math"] = "Q: {question}\nA:"
    monkeypatch.setattr(tasks, "PROMPT_TEMPLATES", changed)
    with pytest.raises(SamplingError, match="rendering"):
        sample_table(configs, prompts_, tmp_path / "t", SGLangBackend(srv.url), progress=False)


def test_bad_backend_rows_rejected(tmp_path):
    _, configs, prompts_ = example_tables(n_configs=1, n_prompts=2, n_samples=2)

    class Bad:
        name = "bad"
        def __init__(self, mutate): self.mutate = mutate
        def identity(self, config): return {}
        def generate(self, config, ps, n, seed):
            rows = [{"prompt_id": p["prompt_id"], "sample_idx": j, "text": "x", "n_tokens": 1, "finish_reason": "stop",
                     "logprob_sum": -1.0, "token_entropy_mean": 0.5} for p in ps for j in range(n)]
            return self.mutate(rows)

    def dup(r): r[1] = {**r[1], "sample_idx": 0}; return r
    def fr(r): r[0] = {**r[0], "finish_reason": "eos"}; return r
    def lp(r): r[0] = {**r[0], "logprob_sum": float("nan")}; return r
    for mutate, msg in ((lambda r: r[:-1], "got 3"), (dup, "exactly once"), (fr, "finish_reason"), (lp, "finite")):
        with pytest.raises(SamplingError, match=msg):
            sample_table(configs, prompts_, tmp_path / "b", Bad(mutate), progress=False)
    assert not list((tmp_path / "b").glob("parts/*/*.parquet"))


def test_concurrent_runs_locked(srv, tmp_path):
    from bon_lit.sampling import _DirLock
    _, configs, prompts_ = example_tables(n_configs=1, n_prompts=2, n_samples=2)
    with _DirLock(tmp_path / "x.parquet.parts"):
        code = ("import fcntl,sys; f=open(sys.argv[1],'a+')\n"
                "try: fcntl.flock(f, fcntl.LOCK_EX|fcntl.LOCK_NB)\nexcept OSError: sys.exit(3)")
        r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.parquet.parts" / ".lock")])
        fct.test_eq(r.returncode, 3)


# ---------------------------------------------------------------- /classify

def test_score_sglang_classify(srv):
    samples, _, prompts_ = example_tables(n_configs=2, n_prompts=3, n_samples=4)
    samples = samples.assign(reward=np.nan)
    srv.fail_next("500", "badjson")
    out = score_sglang(samples, prompts_, srv.url, model="fake-rm", batch_size=5, progress=False, backoff=0.01)
    q = dict(zip(prompts_.prompt_id, prompts_.question))
    want = [_fake_reward(default_chat_template([{"role": "user", "content": q[p]}, {"role": "assistant", "content": t}]))
            for p, t in zip(samples.prompt_id, samples.text)]
    np.testing.assert_allclose(out.reward.to_numpy(), want)
    pd.testing.assert_frame_equal(out.drop(columns="reward"), samples.drop(columns="reward"))
    bodies = [b for p, b in srv.requests if p == "/classify" and b is not None]
    assert all(b["model"] == "fake-rm" and len(b["text"]) <= 5 for b in bodies)
    fct.test_eq(out.attrs["provenance"]["scoring"]["reward"], "embedding[0]")


def test_score_sglang_errors(srv):
    samples, _, prompts_ = example_tables(n_configs=1, n_prompts=2, n_samples=2)
    with pytest.raises(SGLangError, match="/classify"):
        score_sglang(samples, prompts_, dead_url(), progress=False, max_retries=1, backoff=0.01, timeout=1)
    with pytest.raises(SchemaError, match="not in the prompt table"):
        score_sglang(samples, prompts_.iloc[:1], srv.url, progress=False)


# ---------------------------------------------------------------- CLI and imports

def _cli(*argv):
    p = build_parser([str(argv[0])])
    a = p.parse_args([str(x) for x in argv])
    return a.func(a)


def test_cli_sample_and_score(srv, tmp_path, capsys):
    _, configs, prompts_ = example_tables(n_configs=2, n_prompts=3, n_samples=2)
    configs.to_json(tmp_path / "c.jsonl", orient="records", lines=True)
    prompts_.to_parquet(tmp_path / "p.parquet")
    fct.test_eq(_cli("sample", "--configs", tmp_path / "c.jsonl", "--prompts", tmp_path / "p.parquet", "--out",
                     tmp_path / "s.parquet", "--sglang-url", srv.url, "--chunk-size", 2, "--no-progress"), 0)
    fct.test_eq(_cli("score", tmp_path / "s.parquet", "--prompts", tmp_path / "p.parquet", "--out", tmp_path / "r.jsonl",
                     "--rm", "sglang", "--sglang-url", srv.url, "--no-progress"), 0)
    r = read_table(tmp_path / "r.jsonl")
    validate_samples(r, prompts=prompts_, require=("reward",))
    assert "sampling" in r.attrs["provenance"] and r.attrs["provenance"]["scoring"]["rm"] == "sglang"
    fct.test_eq(_cli("score", tmp_path / "s.parquet", "--prompts", tmp_path / "p.parquet", "--out", tmp_path / "x.jsonl",
                     "--rm", "sglang"), 2)
    assert "--sglang-url" in capsys.readouterr().err


def test_cli_score_cpu_wiring(srv, tmp_path, monkeypatch, capsys):
    "--rm cpu calls bon_lit.reward.score_samples(samples, prompts, model_path=...) (faked here) and validates its output."
    import types
    samples, _, prompts_ = example_tables(n_configs=1, n_prompts=3, n_samples=2)
    samples.assign(reward=np.nan).to_parquet(tmp_path / "s.parquet")
    prompts_.to_parquet(tmp_path / "p.parquet")
    calls = []
    def score_samples(samples, prompts, model_path=None):
        calls.append(model_path)
        return samples.assign(reward=np.arange(len(samples), dtype=float))
    monkeypatch.setitem(sys.modules, "bon_lit.reward", types.SimpleNamespace(score_samples=score_samples))
    fct.test_eq(_cli("score", tmp_path / "s.parquet", "--prompts", tmp_path / "p.parquet", "--out", tmp_path / "r.parquet",
                     "--rm", "cpu", "--rm-model", "verifier.joblib"), 0)
    fct.test_eq(calls, ["verifier.joblib"])
    r = read_table(tmp_path / "r.parquet")
    fct.test_eq(r.reward.tolist(), list(range(6)))
    fct.test_eq(r.attrs["provenance"]["scoring"]["rm"], "cpu")
    def broken(samples, prompts, model_path=None): raise FileNotFoundError(f"{model_path}: no such verifier")
    monkeypatch.setitem(sys.modules, "bon_lit.reward", types.SimpleNamespace(score_samples=broken))
    fct.test_eq(_cli("score", tmp_path / "s.parquet", "--prompts", tmp_path / "p.parquet", "--out", tmp_path / "r3.parquet",
                     "--rm-model", "nope.joblib"), 1)
    assert "nope.joblib: no such verifier" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "bon_lit.reward", None)
    fct.test_eq(_cli("score", tmp_path / "s.parquet", "--prompts", tmp_path / "p.parquet", "--out", tmp_path / "r2.parquet"), 2)
    assert "bon_lit.reward" in capsys.readouterr().err


def test_cli_sample_reports_backend_value_error(tmp_path, capsys, monkeypatch):
    import types
    class NoSuchModel:
        name = "cpu"
        def identity(self, config): raise ValueError(f"unknown model {config['model']!r}")
        def generate(self, *a): raise AssertionError("not reached")
    monkeypatch.setitem(sys.modules, "bon_lit.cpu", types.SimpleNamespace(CPUBackend=NoSuchModel))
    _, configs, prompts_ = example_tables(n_configs=1, n_prompts=2, n_samples=2)
    configs.to_parquet(tmp_path / "c.parquet"); prompts_.to_parquet(tmp_path / "p.parquet")
    fct.test_eq(_cli("sample", "--configs", tmp_path / "c.parquet", "--prompts", tmp_path / "p.parquet",
                     "--out", tmp_path / "s.parquet", "--no-progress"), 1)
    err = capsys.readouterr().err
    assert "unknown model 'toy'" in err and "rerun the same command to resume" in err


def test_cpu_backend_missing_messages(monkeypatch):
    real_import = builtins.__import__
    def no_torch(name, *a, **k):
        if name == "bon_lit.cpu": raise ModuleNotFoundError("No module named 'torch'", name="torch")
        return real_import(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ImportError, match=r"pip install 'bon_lit\[cpu\]'"):
        _cpu_backend()
    monkeypatch.setattr(builtins, "__import__", real_import)
    monkeypatch.setitem(sys.modules, "bon_lit.cpu", None)
    with pytest.raises(ImportError, match="--sglang-url"):
        _cpu_backend()


def test_core_never_imports_sglang():
    code = "import sys, bon_lit.sampling; assert 'sglang' not in sys.modules and 'httpx' not in sys.modules; print('ok')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr
