"""Property test (hypothesis): mutate a valid suite (drop/rename columns, change dtypes, inject NaN/inf/negative
values, duplicate/delete rows, break id links). `bon-lit validate` and `bon-lit run` either accept it and run to
a complete report, or reject it with a named one-line error and exit code 1/2: never a traceback, never a partial
report. And "validate passes" implies "run does not reject the data"."""
import contextlib, io, os, shutil, tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import fastcore.test as fct
from hypothesis import HealthCheck, event, given, settings, strategies as st

from bon_lit.cli import main
from bon_lit.schema import write_table
from bon_lit.simulate import simulate_suite

BASE = simulate_suite(8, 6, 4, seed=0, with_text=False)
TABLES = {"samples": BASE.samples, "configs": BASE.configs, "prompts": BASE.prompts}
BUDGET = ["--B", "20", "--n-perm", "20", "--n-boot", "20", "--quiet"]
# rejections `run` may make after validation: results, not data (valid data with nothing to predict)
RESULT_ERRORS = ("nothing to predict", "no usable feature")


def cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: rc = main([str(a) for a in args])
        except SystemExit as e: rc = e.code
    return rc, err.getvalue().strip()


def _numeric(df):
    return [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]


@st.composite
def mutation(draw):
    "One mutation: (description, function tables -> tables)."
    table = draw(st.sampled_from(sorted(TABLES)))
    cols = list(TABLES[table].columns)
    n = len(TABLES[table])
    kind = draw(st.sampled_from(["drop_col", "rename_col", "dtype", "value", "dup_row", "del_row", "break_id", "del_id",
                                 "shuffle", "rename_id"]))
    col = draw(st.sampled_from(cols))
    row = draw(st.integers(0, n - 1))
    if kind == "drop_col":
        return f"{table}: drop {col}", lambda t: {**t, table: t[table].drop(columns=col, errors="ignore")}
    if kind == "rename_col":
        return f"{table}: rename {col}", lambda t: {**t, table: t[table].rename(columns={col: col + "_x"})}
    if kind == "dtype":
        to = draw(st.sampled_from(["str", "float", "bool"]))
        def cast(t):
            if col not in t[table].columns: return t
            s = t[table][col]
            try: new = s.astype(str) if to == "str" else s.astype(float) if to == "float" else s.astype(bool)
            except (ValueError, TypeError): new = s.astype(str)
            return {**t, table: t[table].assign(**{col: new})}
        return f"{table}: {col} as {to}", cast
    if kind == "value":
        num = _numeric(TABLES[table])
        col = draw(st.sampled_from(num)) if num else col
        v = draw(st.sampled_from([np.nan, np.inf, -np.inf, -1.0, -1e9, 0.0]))
        def setv(t):
            d = t[table].copy()
            if col not in _numeric(d) or not len(d): return t
            if pd.api.types.is_integer_dtype(d[col]) and np.isfinite(v):
                d.loc[d.index[row % len(d)], col] = int(v)
            else:
                d[col] = d[col].astype(float); d.loc[d.index[row % len(d)], col] = v
            return {**t, table: d}
        return f"{table}: {col}[{row}] = {v}", setv
    if kind == "dup_row":
        return f"{table}: duplicate row {row}", lambda t: {**t, table: pd.concat([t[table], t[table].iloc[[row % len(t[table])]]], ignore_index=True)}
    if kind == "del_row":
        return f"{table}: delete row {row}", lambda t: {**t, table: t[table].drop(index=t[table].index[row % len(t[table])]).reset_index(drop=True)}
    if kind == "shuffle":                                   # valid: row order must not matter
        return f"{table}: shuffle rows", lambda t: {**t, table: t[table].sample(frac=1.0, random_state=row).reset_index(drop=True)}
    key = draw(st.sampled_from(["config_id", "prompt_id"]))
    if kind == "rename_id":                                 # valid: one id renamed consistently in every table
        def ren(t):
            owner = t["configs" if key == "config_id" else "prompts"]
            if not len(owner) or key not in owner.columns: return t
            old = owner[key].iloc[row % len(owner)]
            return {k: (v.assign(**{key: v[key].replace(old, f"{old}-renamed")}) if key in v.columns else v) for k, v in t.items()}
        return f"rename one {key} everywhere", ren
    if kind == "break_id":                                  # one sample points to an id no table knows
        def brk(t):
            d = t["samples"].copy()
            if key not in d.columns or not len(d): return t
            d.loc[d.index[row % len(d)], key] = "no-such-id"
            return {**t, "samples": d}
        return f"samples: {key}[{row}] unknown", brk
    owner = "configs" if key == "config_id" else "prompts"   # an id disappears from its own table
    def delete(t):
        d = t[owner]
        if key not in d.columns or not len(d): return t
        return {**t, owner: d[d[key] != d[key].iloc[row % len(d)]].reset_index(drop=True)}
    return f"{owner}: delete one {key}", delete


# CI: a fixed, small sequence of examples (about 30 s); BON_LIT_PROPERTY_EXAMPLES=500 explores further, at random
EXAMPLES = int(os.environ.get("BON_LIT_PROPERTY_EXAMPLES", "30"))
FIXED = "BON_LIT_PROPERTY_EXAMPLES" not in os.environ


@settings(max_examples=EXAMPLES, deadline=None, derandomize=FIXED, database=None, suppress_health_check=list(HealthCheck))
@given(st.lists(mutation(), min_size=1, max_size=2))
def test_mutated_suites_run_or_are_rejected_by_name(muts):
    tables = {k: v.copy() for k, v in TABLES.items()}
    for _, fn in muts: tables = fn(tables)
    what = [m[0] for m in muts]
    d = Path(tempfile.mkdtemp(prefix="bon_lit_prop-"))
    try:
        for k, t in tables.items():
            try: write_table(t, d / f"{k}.parquet")
            except Exception:                                # parquet cannot hold it: not a suite a user can have
                event("not writable as parquet"); return
        rc_v, err_v = cli("validate", d)
        assert rc_v in (0, 1, 2), (what, rc_v, err_v)
        if rc_v: assert err_v and len(err_v.splitlines()) == 1, (what, err_v)
        out = d / "report"
        rc_r, err_r = cli("run", "--samples", d / "samples.parquet", "--configs", d / "configs.parquet",
                          "--prompts", d / "prompts.parquet", "--out", out, *BUDGET)
        assert rc_r in (0, 1, 2), (what, rc_r, err_r)
        event(f"validate exit {rc_v}, run exit {rc_r}")      # shown by pytest --hypothesis-show-statistics
        if rc_r == 0:
            fct.test_eq(sorted(p.name for p in out.iterdir()), ["report.html", "summary.json"])
        else:
            assert err_r and "Traceback" not in err_r, (what, err_r)
            assert not out.exists(), (what, "partial output")
        if rc_v == 0:                                        # validate passes => run does not reject the data
            assert rc_r == 0 or any(s in err_r for s in RESULT_ERRORS), (what, err_r)
        assert not [p for p in d.iterdir() if ".tmp-" in p.name], what
    finally:
        shutil.rmtree(d, ignore_errors=True)
