# execute a notebook in place (cwd = nbs/), skipping cells flagged slow/gpu/notest unless --all
import sys, os, time
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
p = Path(sys.argv[1]).resolve(); allc = "--all" in sys.argv
nb = read_nb(p)
os.chdir(p.parent)
def pre(c):
    if c.cell_type != "code": return True
    s = c.source
    if not allc and any(f"#| {f}" in s for f in ("slow", "gpu", "notest")): return True
    return False
sh = CaptureShell(mpl_format="png")
t0 = time.time()
sh.run_all(nb, exc_stop=True, preproc=pre)
write_nb(nb, p)
print(f"executed {p.name} in {time.time()-t0:.0f}s")
