import sys; sys.path.insert(0,'/work/scratch'); from nbedit import *
timing = sys.argv[1]     # e.g. "about 25 s on two idle cores (24.1–25.3 s wall, 3 runs)"
p='/work/main/nbs/index.ipynb'; nb=load(p); s=src(nb['cells'][1])
old_head = "**Main job** — install, then run the whole method on the real CPU suite shipped with the package:"
new_head = ("**Main job** — install, then run the whole method on the real grid suite shipped with the package (48\n"
            "configurations: two CPU model families × six post-training methods × two domains × two temperatures, 256 shared\n"
            "validation prompts per domain, N = 16, scored by a learned outcome reward model):")
assert old_head in s; s = s.replace(old_head, new_head)
i = s.index("summary. It takes about 7 s"); j = s.index("On your own tables:", i)
s = s[:i] + ("summary. It takes " + timing + "; `bon-lit demo --suite legacy` runs it on the small 20-configuration legacy "
             "suite in about 7 s. ") + s[j:]
old_row = "| `09_walkthrough` | — | **start here**: the method end to end on the shipped real suite, with plots, and a comparison with the literature |"
assert old_row in s
s = s.replace(old_row, old_row.replace("on the shipped real suite", "on the small legacy suite") + "\n"
              "| `09a_grid_walkthrough` | — | the method on the grid suite of post-trained checkpoints: does best-of-N pay, is the gain measurable (split-half reliability per domain), pooled vs within-domain prediction against a domain-only baseline, stable features, jackknife+ intervals, and the side-by-side with the paper |")
nb['cells'][1]['source'] = s.splitlines(True); save(nb, p)
