"""A report folder is swapped in atomically: `bon-lit demo --out X`, SIGKILLed at random moments over an earlier
report, leaves in X either the earlier complete report or the new complete one, never a mix, never a half."""
import os, random, signal, subprocess, sys, time
from pathlib import Path

import fastcore.test as fct

BUDGET = ["--suite", "legacy", "--B", "50", "--n-perm", "50", "--n-boot", "50", "--quiet"]     # a quick but complete run


def demo(out, seed, **kw):
    code = "import sys; from bon_lit.cli import main; sys.exit(main())"
    return subprocess.Popen([sys.executable, "-c", code, "demo", "--out", str(out), "--seed", str(seed), *BUDGET],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)


def snapshot(folder: Path) -> dict:
    return {f.name: f.read_bytes() for f in folder.iterdir()} if folder.exists() else {}


def temp_folders(out: Path) -> set:
    return {p.name for p in out.parent.glob(f".{out.name}.tmp-*")}


def test_sigkill_over_an_earlier_report(tmp_path):
    rng = random.Random(12)
    ref, out = tmp_path / "ref", tmp_path / "X"
    t0 = time.monotonic()
    p = demo(ref, 0); assert p.wait() == 0, p.stderr.read()
    t_run = time.monotonic() - t0                         # only used to spread the kill moments, never asserted
    p = demo(out, 1); assert p.wait() == 0, p.stderr.read()
    old = snapshot(out)
    summaries = {0: snapshot(ref)["summary.json"], 1: old["summary.json"]}
    fct.test_eq(sorted(old), ["report.html", "summary.json"])
    assert summaries[0] != summaries[1]                   # seed 0 vs seed 1: the two reports are told apart
    seed_in_x = 1

    # kill moments: one at a random time after start (anywhere in the run), four a random instant (0-1.5 s) after
    # the run has created its temp folder (while it renders, writes and swaps the report, or just after). Each run writes the report of the
    # other seed, so old and new always differ in both files.
    plan = [("time", rng.uniform(0.3, 1.1 * t_run))] + [("write", rng.uniform(0.0, 1.5)) for _ in range(4)]
    rng.shuffle(plan)
    history = []
    for kind, x in plan:
        seed = 1 - seed_in_x
        before = temp_folders(out)
        proc = demo(out, seed)
        start = time.monotonic()
        if kind == "time":
            while proc.poll() is None and time.monotonic() - start < x: time.sleep(0.005)
        else:
            while proc.poll() is None and not (temp_folders(out) - before): time.sleep(0.002)
            time.sleep(x)
        killed = proc.poll() is None
        if killed: proc.send_signal(signal.SIGKILL)
        rc = proc.wait()
        got = snapshot(out)
        complete_new = (sorted(got) == ["report.html", "summary.json"] and got["summary.json"] == summaries[seed]
                        and got["report.html"].endswith(b"</html>\n") and got["report.html"] != old["report.html"])
        state = "old" if got == old else "new" if complete_new else "MIX"
        history.append((kind, round(x, 3), killed, rc, state))
        assert state != "MIX", (history, sorted(got))
        if not killed: assert rc == 0, proc.stderr.read()
        if state == "new": old, seed_in_x = got, seed
    print("kills (kind, moment, killed, returncode, state):", *history, sep="\n  ")
    assert sum(h[2] for h in history) >= 3, history       # real SIGKILLs, not runs that had already finished
    # a complete run afterwards: the new report, and no temp folder left beside it by the killed runs
    seed = 1 - seed_in_x
    p = demo(out, seed); assert p.wait() == 0, p.stderr.read()
    fct.test_eq(snapshot(out)["summary.json"], summaries[seed])
    fct.test_eq(temp_folders(out), set())
    assert not list(tmp_path.glob(".X.old-*"))
