"Your own prompt templates: a literal `prompt_template` renders as written and is part of the resume fingerprint; `chat_template` modes."
import json
from pathlib import Path

import pandas as pd
import pytest
import fastcore.test as fct

from bon_lit.schema import example_tables
from bon_lit.sampling import SamplingError, sample_table, config_fingerprint, render_text, render_identity
from bon_lit.sglang import FakeSGLangServer, SGLangBackend
from bon_lit.tasks import render_prompt, make_reasoning_prompts

LITERAL = 'Solve. Reply as JSON {"answer": X}.\n### {question}\n### '


def _tables(template=LITERAL, n_prompts=3):
    _, configs, prompts = example_tables(n_configs=1, n_prompts=n_prompts, n_samples=2)
    return configs.assign(prompt_template=template), prompts


def test_literal_template_renders_as_written_on_the_wire(tmp_path):
    configs, prompts = _tables()
    with FakeSGLangServer() as srv:
        sample_table(configs, prompts, tmp_path / "s.parquet", SGLangBackend(srv.url), progress=False)
        sent = [b["text"][0] for p, b in srv.requests if p == "/generate"]
    # what the server received, built here by hand from the literal (not through render_prompt)
    want = ['Solve. Reply as JSON {"answer": X}.\n### ' + q + "\n### " for q in prompts.question]
    fct.test_eq(sorted(sent), sorted(want))        # requests of a chunk run concurrently


def test_literal_template_is_part_of_the_resume_fingerprint(tmp_path):
    configs, prompts = _tables()
    out = tmp_path / "s.parquet"
    with FakeSGLangServer() as srv:
        first = sample_table(configs, prompts, out, SGLangBackend(srv.url), progress=False)
        meta = json.loads(next(Path(str(out) + ".parts").glob("*/_config.json")).read_text())
        fct.test_eq(meta["config"]["prompt_template"], LITERAL)
        fct.test_eq(meta["rendering"]["template"], "literal")
        # the same literal resumes (only recombines: no new request)
        srv.requests.clear()
        again = sample_table(configs, prompts, out, SGLangBackend(srv.url), progress=False)
        pd.testing.assert_frame_equal(again, first)
        assert not [p for p, _ in srv.requests if p == "/generate"]
        # one changed character in the literal under the same config_id is refused
        changed = LITERAL.replace("Solve.", "Solve!")
        with pytest.raises(SamplingError, match="different settings") as e:
            sample_table(configs.assign(prompt_template=changed), prompts, out, SGLangBackend(srv.url), progress=False)
        assert "prompt_template" in str(e.value)
    cfg = configs.iloc[0].to_dict()
    assert config_fingerprint(cfg, "sglang") != config_fingerprint({**cfg, "prompt_template": changed}, "sglang")
    assert config_fingerprint(cfg, "sglang") != config_fingerprint({**cfg, "chat_template": "none"}, "sglang")


def test_named_template_fingerprints_unchanged():
    "Configs without the new columns keep the fingerprints they had before literal templates existed (resume of old runs)."
    from bon_lit.suite import load_suite
    configs = load_suite().configs
    cfg = configs.set_index("config_id").loc["smollm2/fewshot-t0.3/math"].to_dict()
    cfg["config_id"] = "smollm2/fewshot-t0.3/math"
    fct.test_eq(config_fingerprint(cfg, "cpu"), "78b22ccd687e7222766db970e97ab36499e0bff2ec88d54580db6c70c1501c8d")
    _, ex, _ = example_tables()
    fct.test_eq(config_fingerprint(ex.iloc[0].to_dict(), "sglang"),
                "8f5fcda82ab93cf5b60c9dcc745120690f553f6bd8bbaffa11afc87da760c7f7")


def test_options_slot_and_errors(tmp_path):
    q = make_reasoning_prompts(1, seed=0).question[0]
    lines = q.split("\n")
    stem, opts = lines[0], "\n".join(lines[1:])          # the generator writes the stem on one line, then options
    fct.test_eq(render_prompt(q, "reasoning", "{options}\n--\n{question}"), opts + "\n--\n" + stem)
    configs, prompts = _tables("{question}\n{options}")     # arithmetic prompts have no options: fails before sampling
    with FakeSGLangServer() as srv:
        with pytest.raises(ValueError, match="prompt_id 'p0'.*prompt_template"):
            sample_table(configs, prompts, tmp_path / "x.parquet", SGLangBackend(srv.url), progress=False)
        assert not srv.requests


def test_chat_template_column(tmp_path):
    jinja = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}[assistant]"
    configs, prompts = _tables("Q: {question}")
    with FakeSGLangServer() as srv:
        sample_table(configs.assign(chat_template=jinja), prompts, tmp_path / "j.parquet", SGLangBackend(srv.url), progress=False)
        fct.test_eq(sorted(b["text"][0] for _, b in srv.requests), sorted(f"[user] Q: {q}\n[assistant]" for q in prompts.question))
        # 'model' without a model template on this backend: a clear error before any request
        srv.requests.clear()
        with pytest.raises(ValueError, match="--chat-template"):
            sample_table(configs.assign(chat_template="model"), prompts, tmp_path / "m.parquet", SGLangBackend(srv.url),
                         progress=False)
        # ... and with one (the --chat-template callable), it is applied
        be = SGLangBackend(srv.url, chat_template=lambda m: "<" + m[0]["content"] + ">")
        sample_table(configs.assign(chat_template="model"), prompts, tmp_path / "m2.parquet", be, progress=False)
        fct.test_eq(sorted(b["text"][0] for _, b in srv.requests[-3:]), sorted(f"<Q: {q}>" for q in prompts.question))
        # 'none' overrides a backend template
        sample_table(configs.assign(chat_template="none"), prompts, tmp_path / "n.parquet", be, progress=False)
        fct.test_eq(sorted(b["text"][0] for _, b in srv.requests[-3:]), sorted(f"Q: {q}" for q in prompts.question))
