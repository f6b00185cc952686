# short names for the discussion template, from the facts JSON
import json, sys
F = json.load(open(sys.argv[1]))
keys = {"rel_m": "reliability, math", "rel_r": "reliability, reasoning", "sdse_m": "SD/SE, math", "sdse_r": "SD/SE, reasoning",
 "rho": "LOO ρ, ridge on all (median of 10 seeds)", "rho_lo": "LOO ρ, lowest seed", "rho_hi": "LOO ρ, highest seed",
 "p": "LOO p (within-domain permutations)", "w_m": "LOO ρ within math", "w_r": "LOO ρ within reasoning",
 "dom": "LOO ρ, domain only", "lit": "LOO ρ, paper's set", "lit_w": "paper's set, mean within-domain ρ",
 "p1": "LOO ρ, pass@1 alone", "cg": "LOO ρ, coverage gap alone", "cg_w": "coverage gap alone, mean within-domain ρ",
 "w_mean": "ridge on all, mean within-domain ρ", "as_m": "in-sample ρ within math, agreement_spread",
 "as_r": "in-sample ρ within reasoning, agreement_spread", "fc_m": "in-sample ρ within math, first_correct_pos",
 "fc_r": "in-sample ρ within reasoning, first_correct_pos", "lv_m": "in-sample ρ within math, length_var_within",
 "lv_r": "in-sample ρ within reasoning, length_var_within", "jk": "jackknife+ mean half-width",
 "jk_c": "jackknife+ certified pairs", "beats": "BoN beats pass@1 and any-answered (configs)",
 "beats2": "... by more than 2 SE each (configs)", "n": "configurations", "lofo": "LOFO ρ, ridge on all",
 "lomo": "LOMO ρ, ridge on all", "lodo": "LODO ρ, ridge on all"}
out = {k: F.get(v, float("nan")) for k, v in keys.items()}
for k in ("jk_c", "beats", "beats2", "n"): out[k] = int(out[k])
json.dump(out, open("/tmp/short.json", "w"))
print(json.dumps(out, indent=0))
