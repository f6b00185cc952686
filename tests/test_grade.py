"""Tests for bon_lit.grade: extraction, equivalence (fast path and Math-Verify), the ungradable state,
grading whole tables, the GSM8K own/other check and the `bon-lit grade` CLI."""
import json, time, warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import fastcore.test as fct

import bon_lit.grade as grade
from bon_lit.cli import build_parser
from bon_lit.grade import (GRADER_VERSION, UngradableWarning, answer_key, extract_answer,
                           grade_samples, is_equivalent, parse_options)

GSM8K = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k" / "test.jsonl"


def _none(x):
    return None if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)) else x


# --- extraction ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,domain,expected", [
    ("The answer is 7.", "math", "7"),
    ("#### 1,000", "math", "1000"),
    (r"\boxed{3} no wait \boxed{\frac{1}{2}}", "math", r"\frac{1}{2}"),
    (r"$\boxed{\frac{a}{b^{2}}}$", "math", r"\frac{a}{b^{2}}"),
    ("The answer is $18.00.", "math", "18.00"),
    ("The answer is −5 degrees.", "math", "-5"),
    ("The answer is 50%.", "math", "50"),
    (r"\boxed{12 \text{ apples}}", "math", "12"),
    ("Answer: 42", "math", "42"),
    ("Q: 2+2?\nA: 4", "math", "4"),
    ("So 6 * 7 = 42.", "math", "42"),
    ("The answer is seven.", "math", "7"),
    ("The answer is x = 5.", "math", "5"),
    ("The answer is .75", "math", "0.75"),
    ("nothing here", "math", None),
    ("", "math", None),
    (None, "math", None),
    ("The answer is (C).", "reasoning", "C"),
    ("answer: b", "reasoning", None),          # lowercase bare letter is not an answer
    ("The answer is (b)", "reasoning", "B"),
    ("B) 71", "reasoning", "B"),
    ("**D**", "reasoning", "D"),
    (r"\boxed{\text{E}}", "reasoning", "E"),
    ("The answer is B. Wait, actually the answer is C.", "reasoning", "C"),
    ("The answer is Bob.", "reasoning", None),
])
def test_extract(text, domain, expected):
    fct.test_eq(extract_answer(text, domain), expected)


def test_extract_option_text():
    opts = parse_options("Who is oldest?\nA) Anna\nB) Bob\nC) Cy\nD) Dee")
    fct.test_eq(opts, {"A": "Anna", "B": "Bob", "C": "Cy", "D": "Dee"})
    fct.test_eq(extract_answer("The answer is Bob.", "reasoning", opts), "B")
    fct.test_fail(lambda: extract_answer("7", "physics"), contains="unknown domain")


# --- equivalence --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pred,gold,expected", [
    ("1,000", "1000", True), ("$5", "5", True), ("0.5", "1/2", True), (r"\frac{1}{2}", "0.5", True),
    ("0.333333", "1/3", True), ("0.33", "1/3", False), ("-3", "3", False), ("3.50", "3.5", True),
    (None, "3", False), ("3", None, None), ("(b)", "B", True), ("C", "B", False),
    (r"\sqrt{8}", r"2\sqrt{2}", True), (r"\pi", "3.14", False), ("x^{2}+1", "1+x^2", True),
    ("blue", r"\frac{1}{2}", False), ("7", r"\frac{1}{", None),
])
def test_is_equivalent(pred, gold, expected):
    assert is_equivalent(pred, gold) is expected


def test_answer_key_classes():
    classes = [["0.5", "1/2", r"\frac{1}{2}", r"\dfrac{1}{2}", "2/4", ".5"], ["1000", "1,000", "1000.0", "$1,000"],
               ["5", "$5", "5.00", "5%"], [r"\sqrt{8}", r"2\sqrt{2}"], ["B", "(B)"]]
    keys = [{answer_key(a) for a in c} for c in classes]
    assert all(len(k) == 1 for k in keys), keys
    assert len(set.union(*keys)) == len(classes)
    assert answer_key(None) is None


# --- the ungradable state -----------------------------------------------------------------------------------
def test_pathological_input_is_ungradable():
    st = {}
    (status, _), = grade._run_tasks([("eq", r"10^{10^{10^{10}}}", "5", 1)], 1, 1, stats=st)
    assert status in ("error", "timeout")              # Math-Verify's alarm or the parent's deadline
    fct.test_eq((st["timeouts_retried"], st["timeouts"]), (1, 1))
    assert is_equivalent(r"10^{10^{10^{10}}}", "5", timeout=1) is None


def _sleepy_task(task):
    time.sleep(3600)       # if the outer timeout did not kill the worker, the test would hang, not pass
    return True


def test_outer_timeout_kills_slow_worker(monkeypatch):
    monkeypatch.setattr(grade, "_mv_task", _sleepy_task)
    assert is_equivalent(r"\sqrt{2}", r"\sqrt{2}", timeout=0.5) is None
    # a table with one such pair: ungradable, <NA>, counted, recorded and warned about
    prompts = pd.DataFrame({"prompt_id": ["p"], "domain": ["math"], "question": ["q"], "gold": [r"\sqrt{2}"]})
    samples = pd.DataFrame({"config_id": "c", "prompt_id": ["p", "p"], "sample_idx": [0, 1],
                            "text": [r"\boxed{\sqrt{2}}", "no idea"]})
    with pytest.warns(UngradableWarning):
        g = grade_samples(samples, prompts, timeout=0.5, progress=False)
    fct.test_eq(g["grade_status"].tolist(), ["ungradable", "no_answer"])
    assert g["correct"].isna().iloc[0] and g["correct"].iloc[1] == False  # noqa: E712
    fct.test_eq(g.attrs["grading"]["n_ungradable"], 1)
    # the pair and the key of its answer: each timed out, was retried once, timed out again
    fct.test_eq((g.attrs["grading"]["n_timeouts"], g.attrs["grading"]["n_timeouts_retried"]), (2, 2))


def _slow_warm():
    time.sleep(3)


def _double(x):
    return 2 * x


def _hang_once(marker):
    import os
    if not os.path.exists(marker):
        open(marker, "w").close()
        time.sleep(3600)
    return "second attempt"


def test_clock_starts_when_the_worker_starts_the_task():
    "A worker whose start-up takes longer than the timeout still runs quick tasks: start-up is not charged."
    with grade._TimeoutPool(_double, 2, warm=_slow_warm) as pool:
        fct.test_eq(pool.map([1, 2, 3, 4], timeout=1.0), [("ok", 2), ("ok", 4), ("ok", 6), ("ok", 8)])
    fct.test_eq(pool.stats["timeouts"] + pool.stats["timeouts_retried"], 0)


def test_timed_out_task_is_retried_in_a_fresh_worker(tmp_path):
    with grade._TimeoutPool(_hang_once, 1) as pool:
        first = pool.workers[0]["proc"].pid
        fct.test_eq(pool.map([str(tmp_path / "m")], timeout=0.5), [("ok", "second attempt")])
        assert pool.workers[0]["proc"].pid != first
    fct.test_eq((pool.stats["timeouts_retried"], pool.stats["timeouts"]), (1, 0))


def test_grader_cli_records_timeouts_in_provenance(tmp_path, monkeypatch):
    from bon_lit.schema import read_provenance, write_table
    monkeypatch.setattr(grade, "_mv_task", _sleepy_task)
    prompts = pd.DataFrame({"prompt_id": ["p"], "domain": ["math"], "question": ["q"], "gold": [r"\sqrt{2}"]})
    samples = pd.DataFrame({"config_id": "c", "prompt_id": ["p"], "sample_idx": [0], "text": [r"\boxed{\sqrt{2}}"],
                            "n_tokens": 3, "finish_reason": "stop", "logprob_sum": -1.0, "token_entropy_mean": 0.5})
    write_table(samples, tmp_path / "s.parquet"); write_table(prompts, tmp_path / "p.parquet")
    ap = build_parser(["grade"])
    a = ap.parse_args(["grade", str(tmp_path / "s.parquet"), "--prompts", str(tmp_path / "p.parquet"),
                       "--out", str(tmp_path / "g.parquet"), "--quiet", "--timeout", "0.5", "--jobs", "1"])
    with pytest.warns(UngradableWarning):
        assert a.func(a) == 0
    g = read_provenance(tmp_path / "g.parquet")["grading"]
    fct.test_eq((g["n_timeouts"], g["n_timeouts_retried"], g["timeout"]), (2, 2, 0.5))
    assert "from its start in a warm worker" in g["timeout_clock"]


def test_pool_survives_crash():
    def _crash(x):
        import os
        if x == "die": os._exit(3)
        return x
    with grade._TimeoutPool(_crash, 2) as pool:
        res = pool.map(["a", "die", "b", "c"], timeout=5)
    fct.test_eq([r[0] for r in res], ["ok", "crash", "ok", "ok"])


# --- whole tables -------------------------------------------------------------------------------------------
def test_grade_samples_columns_and_dedup():
    prompts = pd.DataFrame({"prompt_id": ["m", "r"], "domain": ["math", "reasoning"],
                            "question": ["2+2?", "Pick\nA) one\nB) two"], "gold": ["4", "B"]})
    texts = ["The answer is 4.", "The answer is 4.", r"\boxed{\frac{8}{2}}", "The answer is 5", "hmm",
             "The answer is B", "The answer is two.", "(A)"]
    samples = pd.DataFrame({"config_id": "c", "prompt_id": ["m"] * 5 + ["r"] * 3, "sample_idx": [0, 1, 2, 3, 4, 0, 1, 2],
                            "text": texts})
    g = grade_samples(samples, prompts, progress=False)
    fct.test_eq([_none(x) for x in g["correct"]], [True, True, True, False, False, True, True, False])
    fct.test_eq(g["grade_status"].tolist(), ["ok"] * 4 + ["no_answer"] + ["ok"] * 3)
    fct.test_eq([_none(x) for x in g["answer_key"]], ["4", "4", "4", "5", None, "B", "B", "A"])
    fct.test_eq(str(g["correct"].dtype), "boolean")
    fct.test_eq(g.attrs["grading"]["grader_version"], GRADER_VERSION)
    assert "math-verify" in GRADER_VERSION
    fct.test_fail(lambda: grade_samples(samples.assign(prompt_id="zzz"), prompts, progress=False), contains="unknown")


@pytest.mark.skipif(not GSM8K.exists(), reason="GSM8K test set not available")
def test_gsm8k_own_and_other():
    rows = [json.loads(l) for l in GSM8K.read_text().splitlines() if l.strip()]
    sol = [r["answer"] for r in rows]
    gold = [r["answer"].split("####")[-1].strip() for r in rows]
    n = len(rows)
    val = [grade._fast_number(g) for g in gold]
    other = [next(j % n for j in range(i + 1, i + n) if val[j % n] != val[i]) for i in range(n)]
    prompts = pd.DataFrame({"prompt_id": [f"own{i}" for i in range(n)] + [f"oth{i}" for i in range(n)],
                            "domain": "math", "question": "q", "gold": gold + [gold[j] for j in other]})
    samples = pd.DataFrame({"config_id": "g", "prompt_id": prompts.prompt_id, "sample_idx": 0, "text": sol * 2})
    g = grade_samples(samples, prompts, progress=False)
    assert g["correct"].iloc[:n].all()
    assert not g["correct"].iloc[n:].any()
    fct.test_eq(g.attrs["grading"]["n_ungradable"], 0)
    # and Math-Verify itself agrees on every pair (no fast path)
    own = grade._run_tasks([("eq", extract_answer(s), gd, 5) for s, gd in zip(sol, gold)], None, 10)
    oth = grade._run_tasks([("eq", extract_answer(s), gold[j], 5) for s, j in zip(sol, other)], None, 10)
    assert all(r == ("ok", True) for r in own)
    assert all(r == ("ok", False) for r in oth)


# --- CLI ----------------------------------------------------------------------------------------------------
def test_cli(tmp_path, capsys):
    from bon_lit.schema import example_tables, write_table, read_table, read_provenance
    s, _, p = example_tables()
    write_table(s.drop(columns=["answer", "correct"]), tmp_path / "s.parquet", provenance={"seed": 0})
    write_table(p, tmp_path / "p.jsonl")
    ap = build_parser(["grade"])
    a = ap.parse_args(["grade", str(tmp_path / "s.parquet"), "--prompts", str(tmp_path / "p.jsonl"),
                       "--out", str(tmp_path / "g.parquet"), "--quiet"])
    assert a.func(a) == 0
    assert "graded 24 samples" in capsys.readouterr().out
    g = read_table(tmp_path / "g.parquet")
    fct.test_eq(g["correct"].astype(object).tolist(), s["correct"].astype(object).tolist())
    prov = read_provenance(tmp_path / "g.parquet")
    fct.test_eq(prov["grading"]["grader_version"], GRADER_VERSION)
    fct.test_eq(prov["seed"], 0)
