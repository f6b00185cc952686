source /work/scratch/env.sh
until [ "$(ls grid_build/val/rewards | wc -l)" -ge 48 ]; do sleep 15; done
date; echo "all 48 scored"
until grep -q DONE-A2 /work/logs/coreA2.log; do sleep 10; done
date; rm -rf bon_lit/data/grid
/usr/bin/time -v bon-lit build-grid --stages ship 2>&1 | grep -a -v "it/s\]" | tail -30
date; ls -la bon_lit/data/grid; du -sh bon_lit/data/grid
cd /work/main && python - <<'P'
import sys; sys.path.insert(0,'/work/scratch'); from nbedit import *
exec(open('/work/scratch/s9/mk09a.py').read())
nb = {"cells": cells, "metadata": {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
save(nb, "nbs/09a_grid_walkthrough.ipynb")
P
time python /work/scratch/nbexec.py nbs/09a_grid_walkthrough.ipynb 2>&1 | tail -4
cat /tmp/facts09a.json
date; echo FINAL1-DONE
