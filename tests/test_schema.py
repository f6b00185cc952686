"Bad inputs, atomic writes under SIGKILL, and the write/read round trip of bon_lit.schema."
import os, signal, subprocess, sys, time, textwrap
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
import fastcore.test as fct
from hypothesis import given, settings, strategies as st, HealthCheck

from bon_lit.schema import (SchemaError, example_tables, validate_samples, validate_configs, validate_prompts,
                            read_table, write_table, read_provenance, provenance, SAMPLE_SCHEMA)

S, C, P = example_tables()


def msg(fn):
    with pytest.raises(SchemaError) as e:
        fn()
    return str(e.value)


@pytest.mark.parametrize("name,fn,needles", [
    ("duplicate key", lambda: validate_samples(pd.concat([S, S.iloc[[5]]], ignore_index=True)),
     ["duplicate key", "prompt_id='p1'", "sample_idx=1"]),
    ("missing column", lambda: validate_samples(S.drop(columns="n_tokens")), ["missing column", "n_tokens"]),
    ("wrong dtype", lambda: validate_samples(S.assign(logprob_sum=S.logprob_sum.astype(str))), ["logprob_sum", "numeric"]),
    ("wrong dtype bool", lambda: validate_samples(S.assign(correct=S.answer)), ["'correct'", "boolean", "row 0"]),
    ("null key", lambda: validate_samples(S.assign(config_id=S.config_id.where(S.index != 2))), ["'config_id'", "missing values", "row 2"]),
    ("negative n_tokens", lambda: validate_samples(S.assign(n_tokens=S.n_tokens.where(S.index != 7, -3))), ["'n_tokens'", ">= 0", "row 7"]),
    ("positive logprob", lambda: validate_samples(S.assign(logprob_sum=S.logprob_sum.where(S.index != 1, 2.0))), ["'logprob_sum'", "row 1"]),
    ("unknown prompt_id", lambda: validate_samples(S, prompts=P[P.prompt_id != "p2"]), ["'prompt_id'", "unknown", "p2"]),
    ("uneven N", lambda: validate_samples(S.drop(index=[9])), ["uneven N", "config_id='c0'", "prompt_id='p2'", "3 samples"]),
    ("gap in sample_idx", lambda: validate_samples(S.assign(sample_idx=S.sample_idx.where(S.index != 0, 7))), ["uneven N", "sample_idx"]),
    ("declared N", lambda: validate_samples(S, configs=C.assign(n_samples=5)), ["expected N=5"]),
    ("empty table", lambda: validate_samples(S.iloc[:0]), ["empty"]),
    ("not a dataframe", lambda: validate_samples([1, 2]), ["DataFrame"]),
    ("bad finish_reason", lambda: validate_samples(S.assign(finish_reason=np.where(S.index == 4, "eos", "stop"))), ["finish_reason", "row 4"]),
    ("not scored", lambda: validate_samples(S.assign(reward=np.nan), require=("reward",)), ["'reward'", "not scored"]),
    ("config dup", lambda: validate_configs(pd.concat([C, C.iloc[[0]]], ignore_index=True)), ["config table", "duplicate", "c0"]),
    ("config top_p", lambda: validate_configs(C.assign(top_p=1.5)), ["top_p", "(0, 1]"]),
    ("prompt missing gold", lambda: validate_prompts(P.drop(columns="gold")), ["prompt table", "gold"]),
])
def test_bad_input_named(name, fn, needles):
    m = msg(fn)
    for n in needles:
        assert n in m, f"{name}: {n!r} not in {m!r}"


def test_not_parquet_and_truncated(tmp_path):
    (tmp_path / "x.parquet").write_text("hello, I am csv\n1,2,3")
    assert "not a readable parquet" in msg(lambda: read_table(tmp_path / "x.parquet"))
    write_table(S, tmp_path / "s.parquet")
    raw = (tmp_path / "s.parquet").read_bytes()
    for cut in (10, len(raw) // 3, len(raw) - 5):
        (tmp_path / "t.parquet").write_bytes(raw[:cut])
        assert "truncated" in msg(lambda: read_table(tmp_path / "t.parquet"))
    assert "no such file" in msg(lambda: read_table(tmp_path / "missing.parquet"))
    assert "unknown table format" in msg(lambda: read_table(tmp_path / "s.csv"))


def test_interrupted_write_never_leaves_half_table(tmp_path):
    """SIGKILL a process that keeps rewriting a large table; the file on disk is always a complete table."""
    target = tmp_path / "big.parquet"
    script = textwrap.dedent(f"""
        import numpy as np, pandas as pd
        from bon_lit.schema import write_table
        i = 0
        while True:
            df = pd.DataFrame({{"x": np.full(2_000_000, i, dtype=np.int64), "y": np.random.rand(2_000_000)}})
            write_table(df, {str(target)!r}, provenance={{"i": i}})
            i += 1
    """)
    rng = np.random.default_rng(0)
    for kill in range(4):
        proc = subprocess.Popen([sys.executable, "-c", script])
        time.sleep(1.5 + rng.uniform(0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if target.exists():
            df = read_table(target)
            fct.test_eq(len(df), 2_000_000)
            i = df.attrs["provenance"]["i"]
            assert (df["x"] == i).all()        # one complete generation, never a mix
    assert target.exists(), "the writer never completed a single write in 4 runs"


# ---- property test: any valid table survives write -> read exactly, provenance included ----
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)

@st.composite
def sample_tables(draw):
    n_cfg = draw(st.integers(1, 3)); n_pr = draw(st.integers(1, 3)); N = draw(st.integers(1, 4))
    keys = [(f"c{c}", f"p{p}", s) for c in range(n_cfg) for p in range(n_pr) for s in range(N)]
    n = len(keys)
    opt_text = st.one_of(st.none(), _text)
    df = pd.DataFrame({
        "config_id": [k[0] for k in keys], "prompt_id": [k[1] for k in keys], "sample_idx": [k[2] for k in keys],
        "text": draw(st.lists(opt_text, min_size=n, max_size=n)),
        "n_tokens": draw(st.lists(st.integers(0, 10**9), min_size=n, max_size=n)),
        "finish_reason": draw(st.lists(st.sampled_from(["stop", "length", "abort"]), min_size=n, max_size=n)),
        "logprob_sum": draw(st.lists(st.floats(-1e6, 0, allow_nan=False), min_size=n, max_size=n)),
        "token_entropy_mean": draw(st.lists(st.floats(0, 20, allow_nan=False), min_size=n, max_size=n)),
        "answer": draw(st.lists(opt_text, min_size=n, max_size=n)),
        "correct": pd.array(draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n)), dtype="boolean"),
        "reward": draw(st.lists(st.one_of(st.just(float("nan")), st.floats(-1e3, 1e3)), min_size=n, max_size=n)),
    })
    prov = draw(st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(st.integers(-10**6, 10**6), _text, st.booleans()), max_size=4))
    return validate_samples(df), prov


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sample_tables(), st.sampled_from(["parquet", "jsonl"]))
def test_roundtrip_property(tmp_path, tbl, fmt):
    df, prov = tbl
    path = tmp_path / f"t.{fmt}"
    write_table(df, path, provenance=prov)
    back = read_table(path)
    if fmt == "jsonl":
        back = validate_samples(back)
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    fct.test_eq(back.attrs["provenance"], prov)
    fct.test_eq(read_provenance(path), prov)
