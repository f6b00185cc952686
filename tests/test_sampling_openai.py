"""Contract tests of the OpenAI-compatible backend against a local fake `/v1/completions` server, and the
must-show check: `bon-lit sample --base-url` with injected 5xx answers, SIGKILLed mid-run, resumes to the
uninterrupted run's table (0 rows lost or duplicated, logprobs carried through)."""
import asyncio, json, os, random, signal, socket, subprocess, sys, time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import fastcore.test as fct

from bon_lit.schema import example_tables, read_table, validate_samples
from bon_lit.sampling import sample_table, sample_seed, prompt_seed, topk_entropy, render_text, HTTPBackendError
from bon_lit.cli import build_parser
from bon_lit.openai_compat import OpenAIBackend, OpenAIError, FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[1]
KEY = ["config_id", "prompt_id", "sample_idx"]
CFG = {"config_id": "c0", "family": "toy", "method": "base", "domain": "math", "model": "m", "backend": "openai",
       "temperature": 0.7, "top_p": 0.95, "max_new_tokens": 8, "prompt_template": "zero_shot", "seed": 3, "n_samples": 4}
FAST = dict(timeout=2.0, max_retries=3, backoff=0.01)      # generous: a healthy local request never takes 2 s
DRIVER = "import sys\nfrom bon_lit.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def prompts(n):
    return [{"prompt_id": f"p{i}", "domain": "math", "question": f"What is {i} + {i}?", "gold": str(2 * i),
             "seed": prompt_seed(3, "c0", f"p{i}")} for i in range(n)]


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer(models=["m"]) as srv:
        yield srv


@pytest.fixture
def srv(server):
    server.script.clear(); server.requests.clear(); server.headers.clear()
    server.latency, server.max_in_flight, server.retry_after, server.api_key, server.supports_n = 0.0, 0, None, None, True
    return server


def dead_url():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{so.getsockname()[1]}"


# ---------------------------------------------------------------- request and response shapes

def test_request_fields_follow_the_documented_shape(srv):
    cfg = {**CFG, "top_k": 20, "min_p": 0.05, "stop": ["\n\n", "###"]}
    OpenAIBackend(srv.url, top_logprobs=7).generate(cfg, prompts(2), 4)
    fct.test_eq([p for p, _ in srv.requests], ["/v1/completions"] * 2)
    b = sorted((b for _, b in srv.requests), key=lambda b: b["prompt"])[0]
    fct.test_eq(b, {"model": "m", "prompt": render_text(prompts(1)[0], cfg), "max_tokens": 8, "temperature": 0.7,
                    "top_p": 0.95, "n": 4, "top_k": 20, "min_p": 0.05, "stop": ["\n\n", "###"],
                    "seed": prompts(1)[0]["seed"], "logprobs": 7})


def test_base_url_with_or_without_v1_and_served_model(srv):
    for url in (srv.url, srv.url + "/v1", srv.url + "/v1/"):
        fct.test_eq(OpenAIBackend(url).base_url, srv.url + "/v1")
    with pytest.raises(OpenAIError, match="HTTP 404"):          # the server does not serve 'other'
        OpenAIBackend(srv.url, **FAST).generate({**CFG, "model": "other"}, prompts(1), 2)
    fct.test_eq(len(OpenAIBackend(srv.url, model="m").generate({**CFG, "model": "other"}, prompts(1), 2)), 2)


def test_n_gt_1_rows_and_logprobs_from_raw_response(srv):
    rows = OpenAIBackend(srv.url, top_logprobs=4).generate(CFG, prompts(3), 4)
    fct.test_eq(sorted((r["prompt_id"], r["sample_idx"]) for r in rows), sorted((f"p{i}", j) for i in range(3) for j in range(4)))
    bodies = {b["prompt"]: b for _, b in srv.requests}
    for p in prompts(3):
        raw = httpx.post(srv.url + "/v1/completions", json=bodies[render_text(p, CFG)]).json()["choices"]
        got = [r for r in rows if r["prompt_id"] == p["prompt_id"]]
        for r in got:
            c = raw[r["sample_idx"]]
            fct.test_eq(c["index"], r["sample_idx"])
            fct.test_eq(r["text"], c["text"])
            fct.test_close(r["logprob_sum"], float(np.sum(c["logprobs"]["token_logprobs"])))
            fct.test_eq(r["n_tokens"], len(c["logprobs"]["tokens"]))
            # entropy by hand: top-k probabilities plus one tail bucket
            H = []
            for d in c["logprobs"]["top_logprobs"]:
                q = np.exp(list(d.values())); tail = 1 - q.sum()
                H.append(-(q * np.log(q)).sum() - (tail * np.log(tail) if tail > 0 else 0))
            fct.test_close(r["token_entropy_mean"], float(np.mean(H)))
            assert f" j={r['sample_idx']}]" in r["text"]


def test_repeat_mode_sends_per_sample_seeds(srv):
    ps = prompts(2)
    rows = OpenAIBackend(srv.url, n_mode="repeat").generate(CFG, ps, 3)
    fct.test_eq(len(srv.requests), 6)
    assert all(b["n"] == 1 for _, b in srv.requests)
    fct.test_eq(sorted(b["seed"] for _, b in srv.requests), sorted(sample_seed(p["seed"], j) for p in ps for j in range(3)))
    fct.test_eq(sorted((r["prompt_id"], r["sample_idx"]) for r in rows), [(p["prompt_id"], j) for p in ps for j in range(3)])


def test_server_without_n_gets_a_hint_and_repeat_works(srv):
    srv.supports_n = False
    with pytest.raises(OpenAIError, match="n_mode='repeat'"):
        OpenAIBackend(srv.url, **FAST).generate(CFG, prompts(1), 3)
    fct.test_eq(len(OpenAIBackend(srv.url, n_mode="repeat").generate(CFG, prompts(1), 3)), 3)


def test_chat_endpoint_for_model_chat_template(srv):
    rows = OpenAIBackend(srv.url, top_logprobs=3).generate({**CFG, "chat_template": "model"}, prompts(1), 2)
    path, b = srv.requests[-1]
    fct.test_eq((path, b["messages"], b["logprobs"], b["top_logprobs"]),
                ("/v1/chat/completions", [{"role": "user", "content": render_text(prompts(1)[0], CFG)}], True, 3))
    raw = httpx.post(srv.url + path, json=b).json()["choices"]
    for r, c in zip(rows, raw):
        fct.test_close(r["logprob_sum"], sum(e["logprob"] for e in c["logprobs"]["content"]))
        fct.test_eq(r["text"], c["message"]["content"])


def test_top_logprobs_zero_gives_nan_entropy(srv):
    rows = OpenAIBackend(srv.url, top_logprobs=0).generate(CFG, prompts(1), 2)
    assert all(np.isnan(r["token_entropy_mean"]) and np.isfinite(r["logprob_sum"]) for r in rows)


# ---------------------------------------------------------------- failures, retries, concurrency, keys

@pytest.mark.parametrize("actions", [["500"], ["429", "503", "502"], ["sleep:4"], ["close"], ["badjson"], ["short"], ["nologprobs"]])
def test_transient_failures_are_retried(srv, actions):
    ref = OpenAIBackend(srv.url).generate(CFG, prompts(1), 2)
    srv.requests.clear()
    srv.fail_next(*actions)
    fct.test_eq(OpenAIBackend(srv.url, **FAST).generate(CFG, prompts(1), 2), ref)
    fct.test_eq(len(srv.requests), len(actions) + 1)


def test_exhausted_and_client_errors(srv):
    srv.fail_next(*["500"] * 4)
    with pytest.raises(OpenAIError) as e:
        OpenAIBackend(srv.url, **FAST).generate(CFG, prompts(1), 2)
    msg = str(e.value)
    assert "after 4 attempt(s)" in msg and "HTTP 500" in msg and srv.url in msg and "'c0'" in msg and "'p0'" in msg
    assert isinstance(e.value, HTTPBackendError)
    srv.requests.clear(); srv.fail_next("400")
    with pytest.raises(OpenAIError, match="not retried"):
        OpenAIBackend(srv.url, **FAST).generate(CFG, prompts(1), 2)
    fct.test_eq(len(srv.requests), 1)
    with pytest.raises(OpenAIError, match="connection error"):
        OpenAIBackend(dead_url(), timeout=1, max_retries=1, backoff=0.01).generate(CFG, prompts(1), 2)


def test_retry_after_is_honoured(srv):
    srv.retry_after = 0.4
    srv.fail_next("429")
    t0 = time.perf_counter()
    OpenAIBackend(srv.url, timeout=10, max_retries=2, backoff=0.01).generate(CFG, prompts(1), 1)
    assert time.perf_counter() - t0 >= 0.4 - 0.02          # a lower bound only: no assumption on machine speed


def test_concurrency_is_bounded(srv):
    t0 = time.time()
    while srv.in_flight and time.time() - t0 < 60:     # let requests abandoned by earlier timeout tests finish
        time.sleep(0.05)
    srv.max_in_flight = 0
    srv.latency = 0.5
    OpenAIBackend(srv.url, concurrency=2).generate(CFG, prompts(8), 1)
    fct.test_eq(srv.max_in_flight, 2)
    srv.max_in_flight = 0
    OpenAIBackend(srv.url, concurrency=8).generate(CFG, prompts(8), 1)
    assert srv.max_in_flight > 2


def test_works_inside_a_running_event_loop(srv):
    async def inner(): return OpenAIBackend(srv.url).generate(CFG, prompts(1), 2)
    fct.test_eq(len(asyncio.run(inner())), 2)


def test_api_key_sent_but_never_stored(srv, tmp_path, monkeypatch):
    secret = "sk-very-secret-0123456789"
    srv.api_key = secret
    monkeypatch.setenv("MY_TEST_KEY", secret)
    _, configs, prompts_ = example_tables(n_configs=1, n_prompts=3, n_samples=2)
    configs = configs.assign(model="m", backend="openai")
    be = OpenAIBackend(srv.url, api_key_env="MY_TEST_KEY")
    assert secret not in repr(be) and secret not in json.dumps(be.identity(configs.iloc[0].to_dict()))
    sample_table(configs, prompts_, tmp_path / "s.parquet", be, progress=False)
    assert all({k.lower(): v for k, v in h.items()}["authorization"] == f"Bearer {secret}" for h in srv.headers)
    files = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert len(files) >= 4 and not [f for f in files if secret.encode() in f.read_bytes()]
    prov = read_table(tmp_path / "s.parquet").attrs["provenance"]["sampling"]["configs"]["c0"]["identity"][0]
    fct.test_eq(prov["api_key_env"], "MY_TEST_KEY")
    monkeypatch.setenv("MY_TEST_KEY", "sk-wrong")
    with pytest.raises(OpenAIError, match="HTTP 401") as e:
        OpenAIBackend(srv.url, api_key_env="MY_TEST_KEY", **FAST).generate(CFG, prompts(1), 2)
    assert "sk-wrong" not in str(e.value)
    monkeypatch.delenv("MY_TEST_KEY")
    with pytest.raises(ValueError, match="MY_TEST_KEY"):
        OpenAIBackend(srv.url, api_key_env="MY_TEST_KEY")


# ---------------------------------------------------------------- CLI

def _cli(*argv):
    p = build_parser([str(argv[0])])
    a = p.parse_args([str(x) for x in argv])
    return a.func(a)


def test_cli_backend_column_checks(srv, tmp_path, capsys):
    _, configs, prompts_ = example_tables(n_configs=2, n_prompts=2, n_samples=2)
    configs.assign(backend="sglang", model="m").to_parquet(tmp_path / "sg.parquet")
    configs.assign(backend="openai", model="m").to_parquet(tmp_path / "oa.parquet")
    prompts_.to_parquet(tmp_path / "p.parquet")
    base = ["sample", "--prompts", tmp_path / "p.parquet", "--out", tmp_path / "s.parquet", "--no-progress"]
    fct.test_eq(_cli(*base, "--configs", tmp_path / "sg.parquet", "--base-url", srv.url), 2)
    assert "backend 'sglang'" in capsys.readouterr().err
    fct.test_eq(_cli(*base, "--configs", tmp_path / "oa.parquet", "--sglang-url", srv.url), 2)
    err = capsys.readouterr().err
    assert "backend 'openai'" in err and "--base-url" in err
    fct.test_eq(_cli(*base, "--configs", tmp_path / "oa.parquet", "--base-url", srv.url, "--sglang-url", srv.url), 2)
    fct.test_eq(_cli(*base, "--configs", tmp_path / "oa.parquet", "--base-url", srv.url, "--api-key-env", "NO_SUCH_VAR_X"), 2)
    assert "NO_SUCH_VAR_X" in capsys.readouterr().err
    fct.test_eq(_cli(*base, "--configs", tmp_path / "oa.parquet", "--base-url", srv.url), 0)
    validate_samples(read_table(tmp_path / "s.parquet"), prompts=prompts_, n_samples=2)


# ---------------------------------------------------------------- must-show: 5xx + SIGKILL + resume through the CLI

def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "PYTHONWARNINGS": "ignore"}


def _parts(out: Path):
    return sorted(Path(str(out) + ".parts").glob("*/*.parquet"))


def test_cli_sample_500s_and_sigkill_then_resume(tmp_path):
    _, configs, prompts_ = example_tables(n_configs=2, n_prompts=18, n_samples=4)
    configs = configs.assign(backend="openai", model="m")
    configs.to_parquet(tmp_path / "configs.parquet")
    prompts_.to_json(tmp_path / "prompts.jsonl", orient="records", lines=True)
    n_chunks = 2 * (18 // 3)
    out = tmp_path / "killed.parquet"
    cmd = lambda url, o: [sys.executable, "-c", DRIVER, "sample", "--configs", str(tmp_path / "configs.parquet"),
                          "--prompts", str(tmp_path / "prompts.jsonl"), "--out", str(o), "--base-url", url,
                          "--served-model", "m", "--chunk-size", "3", "--concurrency", "2", "--max-retries", "8",
                          "--top-logprobs-num", "5", "--no-progress"]
    rng = random.Random(18)
    with FakeOpenAIServer(models=["m"], latency=0.02) as srv:
        reference = sample_table(configs, prompts_, tmp_path / "reference.parquet",
                                 OpenAIBackend(srv.url, model="m", concurrency=2, top_logprobs=5), chunk_size=3, progress=False)
        history, injected = [], 0
        for target in sorted(rng.sample(range(1, n_chunks - 2), 3)):
            before = len(_parts(out))
            srv.fail_next("500", "ok", "503", "ok", "500", "429", "ok", "502")     # failures spread over the next requests
            queued = len(srv.script)
            proc = subprocess.Popen(cmd(srv.url, out), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            t0 = time.time()
            while proc.poll() is None and len(_parts(out)) < target and time.time() - t0 < 300:   # safety bound, never reached
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.05))
            alive = proc.poll() is None
            if alive: proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            consumed = queued - len(srv.script)
            injected += sum(a != "ok" for a in ["500", "ok", "503", "ok", "500", "429", "ok", "502"][:consumed])
            srv.script.clear()
            history.append((target, before, len(_parts(out)), alive, proc.returncode))
            for f in _parts(out): pq.read_table(f)        # every part on disk is complete
        print("kills (target parts, before, after, alive, rc):", history, "injected failures served:", injected)
        assert all(h[3] and h[4] == -signal.SIGKILL for h in history), history
        assert any(0 < h[2] < n_chunks for h in history) and not out.exists()
        assert injected >= 3
        srv.fail_next("500", "ok", "500")                     # the resuming run meets failures too
        final = subprocess.run(cmd(srv.url, out), env=_env(), capture_output=True, text=True, timeout=600)
        assert final.returncode == 0, final.stderr
        resumed = read_table(out)
        # logprobs carried through: recompute each row's numbers from the raw server JSON for its own request
        be = OpenAIBackend(srv.url, model="m", top_logprobs=5)
        pdicts = {p["prompt_id"]: p for p in prompts_.to_dict("records")}
        expect = []
        for cfg in configs.to_dict("records"):
            for pid, p in pdicts.items():
                body, js = be.requests_for(cfg, {**p, "seed": prompt_seed(cfg["seed"], cfg["config_id"], pid)}, 4)[0]
                for c in httpx.post(srv.url + "/v1/completions", json=body).json()["choices"]:
                    lp = c["logprobs"]
                    h = topk_entropy([[(v,) for v in d.values()] for d in lp["top_logprobs"]])
                    expect.append((cfg["config_id"], pid, c["index"], c["text"], len(lp["tokens"]),
                                   float(np.sum(lp["token_logprobs"])), float(h.mean())))
    validate_samples(resumed, prompts=prompts_, configs=configs)
    fct.test_eq(int(resumed.duplicated(KEY).sum()), 0)
    fct.test_eq(len(resumed), 2 * 18 * 4)
    fct.test_eq(len(set(map(tuple, resumed[KEY].values.tolist()))), 2 * 18 * 4)          # 0 lost
    pd.testing.assert_frame_equal(resumed, reference)
    exp = pd.DataFrame(expect, columns=KEY + ["text", "n_tokens", "logprob_sum", "token_entropy_mean"])
    got = resumed.merge(exp, on=KEY, suffixes=("", "_raw"), validate="one_to_one")
    fct.test_eq(len(got), len(resumed))
    fct.test_eq(got.text.tolist(), got.text_raw.tolist())
    fct.test_eq(got.n_tokens.tolist(), got.n_tokens_raw.tolist())
    np.testing.assert_allclose(got.logprob_sum, got.logprob_sum_raw, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.token_entropy_mean, got.token_entropy_mean_raw, rtol=0, atol=1e-12)
    assert (resumed.logprob_sum < 0).all() and (resumed.token_entropy_mean > 0).all()
    fct.test_eq(len(_parts(out)), n_chunks)
