"`bon-lit import`: a dump written from the shipped suite (renamed columns, shuffled rows) reproduces the shipped tables exactly."
import contextlib, io, json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import fastcore.test as fct

from bon_lit.cli import main
from bon_lit.schema import read_table, SchemaError
from bon_lit.suite import load_suite
from bon_lit.importer import import_dump

KEY = ["config_id", "prompt_id", "sample_idx"]
RENAME = {"config_id": "run_name", "prompt_id": "qid", "sample_idx": "k", "text": "output", "n_tokens": "ntok",
          "finish_reason": "why_stopped", "logprob_sum": "lp", "token_entropy_mean": "H", "answer": "parsed",
          "correct": "ok", "reward": "score", "answer_key": "pkey", "grade_status": "gstat", "question": "problem",
          "gold": "reference", "domain": "subject", "temperature": "T", "model": "llm", "top_p": "nucleus"}


@pytest.fixture(scope="module")
def suite():
    s = load_suite()
    return s.samples, s.configs, s.prompts


def _dump(samples, configs, prompts, seed=18):
    "One row per completion with config and prompt fields inline, every contract column renamed, rows shuffled."
    d = (samples.merge(configs.drop(columns=["domain", "n_samples"]), on="config_id").merge(prompts, on="prompt_id")
         .rename(columns=RENAME).sample(frac=1.0, random_state=seed).reset_index(drop=True))
    assert not set(d.columns) & (set(RENAME) - {"family", "method"})       # nothing left under a contract name
    return d


def _write_jsonl(df, path):
    with open(path, "w") as f:          # json.dumps writes floats with repr: exact round trip
        for rec in df.to_dict("records"):
            f.write(json.dumps({k: (None if v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v)
                                for k, v in rec.items()}) + "\n")


def _cli(*argv):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def _mapping(drop=()):
    return ",".join(f"{k}={v}" for k, v in RENAME.items() if k not in drop)


def test_import_reproduces_the_shipped_suite(suite, tmp_path):
    samples, configs, prompts = suite
    dump = _dump(samples, configs, prompts)
    assert not dump[["qid", "k"]].equals(samples[["prompt_id", "sample_idx"]].set_axis(["qid", "k"], axis=1))   # really shuffled
    _write_jsonl(dump, tmp_path / "dump.jsonl")
    rc, out, err = _cli("import", tmp_path / "dump.jsonl", "--out", tmp_path / "suite", "--map", _mapping(), "--quiet")
    assert rc == 0, err
    s, c, p = (read_table(tmp_path / "suite" / f"{n}.parquet") for n in ("samples", "configs", "prompts"))
    fct.test_eq(len(s), 20480)
    pd.testing.assert_frame_equal(s.sort_values(KEY).reset_index(drop=True)[samples.columns],
                                  samples.sort_values(KEY).reset_index(drop=True))
    pd.testing.assert_frame_equal(c.sort_values("config_id").reset_index(drop=True),
                                  configs.sort_values("config_id").reset_index(drop=True))
    pd.testing.assert_frame_equal(p.sort_values("prompt_id").reset_index(drop=True),
                                  prompts.sort_values("prompt_id").reset_index(drop=True))
    prov = s.attrs["provenance"]["import"]
    fct.test_eq((prov["graded"], prov["sample_idx"], prov["rows"]), (False, "column", 20480))
    fct.test_eq(sorted(prov["config_defaults"]), ["n_samples"])             # every other config column came from the dump
    assert "imported 20,480 samples (20 configs" in out
    # another shuffle of the same dump gives byte-identical tables (canonical order)
    _write_jsonl(_dump(samples, configs, prompts, seed=7), tmp_path / "dump2.jsonl")
    assert _cli("import", tmp_path / "dump2.jsonl", "--out", tmp_path / "suite2", "--map", _mapping(), "--quiet")[0] == 0
    pd.testing.assert_frame_equal(read_table(tmp_path / "suite2" / "samples.parquet"), s)


def test_group_by_csv_prompts_file_and_grading(suite, tmp_path):
    samples, configs, prompts = suite
    two = ["smollm2/fewshot-t0.7/math", "gemma3/fewshot-t1.0/reasoning"]
    sub = samples[samples.config_id.isin(two)]
    dump = _dump(sub, configs, prompts).drop(columns=["run_name", "parsed", "ok", "pkey", "gstat", "problem", "reference", "subject"])
    dump.to_csv(tmp_path / "dump.csv", index=False)
    prompts.to_json(tmp_path / "prompts.jsonl", orient="records", lines=True)
    m = _mapping(drop=("config_id", "answer", "correct", "answer_key", "grade_status", "question", "gold", "domain"))
    rc, _, err = _cli("import", tmp_path / "dump.csv", "--out", tmp_path / "o", "--map", m, "--group-by", "family,method,subject",
                      "--prompts", tmp_path / "prompts.jsonl", "--quiet", "--jobs", "1")
    fct.test_eq(rc, 1)                   # "subject" was dropped from this dump: a data error naming it, nothing written
    assert "subject" in err and not (tmp_path / "o").exists()
    rc, _, err = _cli("import", tmp_path / "dump.csv", "--out", tmp_path / "o", "--map", m, "--group-by", "family,method",
                      "--prompts", tmp_path / "prompts.jsonl", "--quiet", "--jobs", "1")
    assert rc == 0, err
    s = read_table(tmp_path / "o" / "samples.parquet")
    fct.test_eq(sorted(s.config_id.unique()), ["gemma3/fewshot-t1.0", "smollm2/fewshot-t0.7"])
    ref = sub.assign(config_id=sub.config_id.str.rsplit("/", n=1).str[0].astype("str")).sort_values(KEY).reset_index(drop=True)
    got = s.sort_values(KEY).reset_index(drop=True)[ref.columns]
    # graded on import against the prompt file's gold: the shipped grades, and every float exact through CSV
    pd.testing.assert_frame_equal(got, ref)
    assert s.attrs["provenance"]["import"]["graded"] and s.attrs["provenance"]["grading"]["n_samples"] == len(sub)


def test_errors_name_the_column_before_any_work(suite, tmp_path):
    samples, configs, prompts = suite
    dump = _dump(samples[samples.config_id == "smollm2/direct-t0.3/math"], configs, prompts)
    _write_jsonl(dump, tmp_path / "d.jsonl")
    rc, _, err = _cli("import", tmp_path / "d.jsonl", "--out", tmp_path / "o", "--map", _mapping(drop=("text",)))
    fct.test_eq(rc, 1)
    assert "required column 'text'" in err and "--map text=COLUMN" in err and "'output'" in err, err
    rc, _, err = _cli("import", tmp_path / "d.jsonl", "--out", tmp_path / "o", "--map", _mapping() + ",question=nope")
    assert rc == 1 and "question" in err
    rc, _, err = _cli("import", tmp_path / "d.jsonl", "--out", tmp_path / "o", "--map", _mapping().replace("text=output", "text=completion"))
    assert rc == 1 and "no column 'completion'" in err, err
    rc, _, err = _cli("import", tmp_path / "d.jsonl", "--out", tmp_path / "o", "--map", _mapping(drop=("temperature",)))
    assert rc == 1 and "'temperature' has no default" in err, err
    bad = dump.copy(); bad.loc[3, "T"] = 0.9                            # a config column that varies within a config
    _write_jsonl(bad, tmp_path / "b.jsonl")
    rc, _, err = _cli("import", tmp_path / "b.jsonl", "--out", tmp_path / "o", "--map", _mapping())
    assert rc == 1 and "'temperature' must be the same for every row of config 'smollm2/direct-t0.3/math'" in err, err
    short = dump[~((dump.qid == dump.qid.iloc[0]) & (dump.k == 3))]      # one sample missing: uneven N, named
    _write_jsonl(short, tmp_path / "s.jsonl")
    rc, _, err = _cli("import", tmp_path / "s.jsonl", "--out", tmp_path / "o", "--map", _mapping())
    assert rc == 1 and "uneven N" in err and dump.qid.iloc[0] in err, err
    assert not (tmp_path / "o").exists()


def test_lm_eval_harness_shape(tmp_path):
    "One row per prompt with `resps = [[c1..cN]]`, nested `doc`, no token counts: exploded, words counted, graded."
    rows = [{"doc_id": i, "doc": {"question": f"What is {i} + {i}?"}, "target": str(2 * i),
             "resps": [[f"The answer is {2 * i}.", f"The answer is {2 * i + 1}.", "no idea"]]} for i in range(3)]
    (tmp_path / "samples_toy.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    s, c, p = import_dump(tmp_path / "samples_toy.jsonl", mapping="prompt_id=doc_id,question=doc.question,gold=target,text=resps",
                          set_values="config_id=toy-t0.7,model=toy,temperature=0.7,domain=math,finish_reason=stop",
                          count_tokens="words", n_jobs=1)
    fct.test_eq(len(s), 9)
    fct.test_eq(s.correct.tolist(), [True, False, False] * 3)
    fct.test_eq(s.grade_status.tolist(), ["ok", "ok", "no_answer"] * 3)
    fct.test_eq(s.n_tokens.tolist(), [4, 4, 2] * 3)
    fct.test_eq(c[["config_id", "n_samples", "temperature", "max_new_tokens", "backend"]].values.tolist(),
                [["toy-t0.7", 3, 0.7, 4, "import"]])
    fct.test_eq(p.question.tolist(), ["What is 0 + 0?", "What is 1 + 1?", "What is 2 + 2?"])
    assert s.logprob_sum.isna().all() and "words" in s.attrs["provenance"]["import"]["n_tokens"]
