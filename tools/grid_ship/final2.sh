# second pass of 09a: discussion + quoted-number asserts from the first pass's facts
cd /work/main
python /work/scratch/s9/short.py /tmp/facts09a.json > /dev/null
FACTS=/tmp/facts09a.json python - <<'P'
import sys; sys.path.insert(0,'/work/scratch'); from nbedit import *
exec(open('/work/scratch/s9/mk09a.py').read())
nb = {"cells": cells, "metadata": {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
save(nb, "nbs/09a_grid_walkthrough.ipynb")
P
time python /work/scratch/nbexec.py nbs/09a_grid_walkthrough.ipynb 2>&1 | tail -4
echo FINAL2-DONE
