import sys; sys.path.insert(0, '/work/scratch'); from nbedit import *
cells = []
def md(t): cells.append(mk('markdown', t.strip('\n')))
def code(t): cells.append(mk('code', t.strip('\n')))

md(r'''
# The grid suite, analysed: does one sampling pass predict the best-of-N gain?

> The method of the [walkthrough](09_walkthrough.ipynb) on 48 configurations of post-trained checkpoints, scored by a learned reward model, with the statistics a hostile reviewer would ask for.
''')
md(r'''
The [walkthrough](09_walkthrough.ipynb) teaches the method on the small legacy suite, and ends by showing that the
legacy suite **cannot test it**: its configurations differ only in decoding, its verifier shares features with the
predictors, and within a domain its gains are mostly noise. This notebook asks the same question on the suite built to
answer it ([08c_grid](08c_grid.ipynb)):

* **checkpoints that differ in post-training**: two families (SmolLM2-135M, Gemma-3-270M) × six methods (`base`,
  `sft`, `sft_lora`, `rft`, `dpo`, `sft_long`; [06b_posttrain](06b_posttrain.ipynb)), each sampled at T = 0.7 and 1.0
  on two domains: 2 × 6 × 2 × 2 = **48 configurations**;
* the **same 256 validation prompts per domain** for every configuration, N = 16 samples each;
* a **learned outcome reward model** (a SmolLM2 with a scalar head, trained on disjoint prompts; [07a_orm](07a_orm.ipynb))
  as the verifier — it reads the question and the completion, not the predictors.

The order of the questions matters. (1) Does best-of-N pay at all under this verifier? (2) Is the target — each
configuration's gain — *measurable*: do two halves of the prompts agree on it (split-half reliability), and do
configurations differ by more than their standard errors? Only then (3) can a predictor be judged: pooled, **within
each domain**, and against a predictor that knows only the domain. (4) Which features are stable, (5) how wide honest
intervals are, and (6) what of the paper reproduces.
''')
code(r'''
import json, warnings
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from scipy import stats
from fastcore.test import test_eq, test_close

from bon_lit.suite import load_suite
from bon_lit.grid import method_table, selection_table
from bon_lit.pipeline import run_pipeline, REFERENCE_FEATURES

pd.set_option("display.width", 160, "display.max_columns", 24, "display.precision", 3)
SEED = 0
''')
md(r'''
## 1. The suite and where it came from

One row per sample: the completion, its token statistics, the graded answer and the ORM's reward. Every table carries
its provenance: the recipe fingerprint and weight hash of every checkpoint, the ORM's spec, weight hash and held-out
AUROC, package versions and wall times.
''')
code(r'''
suite = load_suite(name="grid")
samples, configs, prompts = suite.samples, suite.configs, suite.prompts
prov = samples.attrs["provenance"]
print(f"{len(configs)} configurations, {samples.prompt_id.nunique()} prompts "
      f"({prompts.groupby('domain').size().to_dict()}), N = {int(configs.n_samples.max())}, "
      f"≤ {int(configs.max_new_tokens.max())} new tokens, {len(samples):,} samples")
ck = pd.DataFrame({k: {"method": v["recipe"]["method"], "kind": v["recipe"]["kind"], "parent": v["recipe"]["parent"],
                       "train_s": v["train_seconds"], "weights_sha256": v["weights_sha256"][:16]}
                   for k, v in prov["checkpoints"].items()}).T
ck
''')
md(r'''
The verifier is chosen per domain by held-out within-prompt AUROC (prompts *and* two checkpoints not used in its
training); the same held-out rows give the cheap-feature verifier's and majority vote's AUROC for comparison:
''')
code(r'''
orm = prov["orm"]
auroc = pd.DataFrame({
    f"ORM ({orm['chosen_by_domain'][d]})": {d: orm["candidates"][orm["chosen_by_domain"][d]]["auroc"][f"{d}/all"]["within_prompt"]}
    for d in ("math", "reasoning")}).T
rows = {}
for d in ("math", "reasoning"):
    c = orm["candidates"][orm["chosen_by_domain"][d]]
    rows[d] = {"ORM (chosen)": orm["chosen_by_domain"][d], "ORM AUROC": c["auroc"][f"{d}/all"]["within_prompt"],
               "ORM AUROC, unseen checkpoints": c["auroc"][f"{d}/unseen_checkpoints"]["within_prompt"],
               "cheap verifier": orm["baselines"]["cheap_verifier"][f"{d}/all"]["within_prompt"],
               "majority vote": orm["baselines"]["majority_vote"][f"{d}/all"]["within_prompt"],
               "ORM weights": c["weights_sha256"][:16]}
verifiers = pd.DataFrame(rows).T
verifiers
''')
md(r'''
## 2. What post-training did

Per checkpoint, domain and temperature: pass@1, pass@16, their gap (how much room best-of-N has), the share of
samples without a parseable answer, the mean entropy (nats) of the answers across the 16 samples of a prompt, the mean
completion length, chance accuracy, and the checkpoint's training time (seconds, the build that recorded its hash).
''')
code(r'''
mt = method_table(samples, configs, prompts)
mt["train_s"] = [ck.loc[f"{f}/{m}", "train_s"] for f, m in zip(mt.family, mt.method)]
mt.drop(columns=["n_prompts", "N"]).round(3)
''')
md(r'''
The methods move the distribution in different directions; the spread of the gap across the methods of one family
and domain (at T = 1.0) is the room best-of-N has to differ between them:
''')
code(r'''
t1 = mt[mt.temperature == 1.0]
spread = t1.groupby(["family", "domain"]).agg(pass1_min=("pass1", "min"), pass1_max=("pass1", "max"),
                                               gap_min=("gap", "min"), gap_max=("gap", "max"),
                                               gap_sd=("gap", "std"), no_answer_max=("no_answer", "max"))
spread.round(3)
''')
md(r'''
## 3. Does best-of-N pay under the ORM?

For every configuration: pass@1 (one sample), "pick any answered sample" (what a verifier that only checks the format
would get), majority vote, and BoN@16 under the ORM — all exact averages over draws, ties split. The last columns
are the paired differences with their standard errors over prompts.
''')
code(r'''
sel = selection_table(samples, configs)
# "beats both" is a point comparison; the stricter count asks for both paired differences to exceed 2 SE
sel["beats_both_2se"] = (sel.bon_minus_pass1 > 2 * sel.se_pass1) & (sel.bon_minus_answered > 2 * sel.se_answered)
sel_dom = sel.groupby("domain").agg(configs=("config_id", "size"), beats_both=("beats_both", "sum"),
                                    beats_both_2se=("beats_both_2se", "sum"),
                                    mean_pass1=("pass1", "mean"), mean_bon=("bon", "mean"),
                                    mean_bon_minus_pass1=("bon_minus_pass1", "mean"),
                                    mean_bon_minus_answered=("bon_minus_answered", "mean"))
sel_dom
''')
code(r'''
fig, ax = plt.subplots(figsize=(6.2, 4), dpi=80)
for (dom, d), mk_ in zip(sel.groupby("domain"), ("o", "s")):
    ax.scatter(d.pass1, d.bon, marker=mk_, alpha=.75, label=f"{dom}: BoN@16 (ORM)")
    ax.scatter(d.pass1, d.majority, marker=mk_, facecolors="none", edgecolors="gray", alpha=.6, label=f"{dom}: majority@16")
ax.plot([0, 1], [0, 1], "k:", lw=1); ax.set_xlabel("pass@1"); ax.set_ylabel("accuracy of the selected answer")
ax.legend(fontsize=8); ax.set_title("Best-of-16 under the ORM vs one sample, per configuration"); plt.show()
''')
md(r'''
## 4. Is the target measurable?

The target is each configuration's gain $g_c = \mathrm{BoN@N}_c - \mathrm{pass@1}_c$, an average over $P$ prompts of a
per-prompt gain $g_{c,i}$; its standard error is $\mathrm{SE}_c \approx \mathrm{sd}_i(g_{c,i})/\sqrt{P}$. Two numbers
decide whether any predictor can be judged:

* the **split-half reliability**: split the prompts in two random halves, correlate the configurations' gains on one
  half with those on the other ($r_{1/2}$), and step it up to the full set, $\rho_{\text{rel}} = 2r_{1/2}/(1+r_{1/2})$
  (Spearman–Brown), averaged over 1000 splits. $\sqrt{\rho_{\text{rel}}}$ is the **noise ceiling**: the largest
  correlation any predictor can reach with a target measured this noisily;
* the ratio of the **between-configuration SD** of the gain to the **mean SE**: if the gains differ by less than their
  noise, "which configuration gains more" has no answer at this prompt count.

Both are computed **within each domain**, because a pooled reliability can be high only because the domains differ.
`run_pipeline` (the computation behind `bon-lit demo`) computes everything below in one call.
''')
code(r'''
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    res = run_pipeline(samples, configs, prompts, seed=SEED, progress=False)
rel = res.reliability
reltab = rel.table[["n_configs", "n_prompts", "sd_gain", "mean_se", "reliability", "ceiling", "prompts_for_0.9"]].assign(
    sd_over_se=lambda t: t.sd_gain / t.mean_se)
reltab
''')
code(r'''
ft = res.features
fig, axs = plt.subplots(1, 2, figsize=(10, 3.6), dpi=80, sharey=True)
for ax, (dom, d) in zip(axs, ft.groupby("domain")):
    d = d.sort_values("gain")
    colors = np.where(d.family == "smollm2", "tab:blue", "tab:orange")
    ax.errorbar(np.arange(len(d)), d.gain, yerr=[d.gain - d.gain_lo, d.gain_hi - d.gain], fmt="none", ecolor="gray", lw=1)
    ax.scatter(np.arange(len(d)), d.gain, c=colors, s=18, zorder=3)
    ax.set_xticks(np.arange(len(d)), [f"{m}/{t:g}" for m, t in zip(d.method, d.temperature)], rotation=90, fontsize=7)
    ax.set_title(f"{dom}: reliability {rel.reliability(dom):.2f}, SD/SE {reltab.loc[dom, 'sd_over_se']:.1f}")
axs[0].set_ylabel("gain BoN@16 − pass@1 (95% bootstrap CI)")
fig.text(0.5, -0.02, "blue: SmolLM2-135M, orange: Gemma-3-270M", ha="center", fontsize=8); plt.tight_layout(); plt.show()
''')
md(r'''
## 5. Prediction: pooled, within each domain, and against the domain alone

The headline predictor is a ridge on every usable feature, its penalty chosen by an inner 5-fold CV, evaluated
out of fold. Every Spearman $\rho$ below is the **median over 10 inner-CV seeds** (the range is shown), its $p$-value from
1000 refits on targets **permuted within domain** (so that "knowing the domain" is not rewarded), and the
within-domain $\rho$ is computed on each domain's out-of-fold predictions separately. The **domain-only** predictor
(each configuration predicted by its domain's mean gain in the training folds) is the baseline a reviewer would ask
for: a pooled $\rho$ it matches is domain detection.
''')
code(r'''
def cv_row(cv, dom_only=None):
    w = cv.within.spearman
    return {"spearman": cv.metrics["spearman"], "seed_min": cv.spearman_range[0], "seed_max": cv.spearman_range[1],
            "p (within-domain perm.)": cv.p_value, "ρ within math": w.get("math", np.nan),
            "ρ within reasoning": w.get("reasoning", np.nan), "mean within ρ": w.get("mean", np.nan),
            "p within": cv.p_within, "domain-only ρ": (dom_only.metrics["spearman"] if dom_only is not None else np.nan)}
cvtab = pd.DataFrame({k: cv_row(v, res.domain_only.get(k)) for k, v in res.cv.items()}).T
cvtab
''')
md(r'''
The same out-of-fold evaluation for small feature sets — the baselines a predictor must beat (pass@1 alone, the
coverage gap alone), the paper's reference set (its strict core + token entropy), and this suite's own strict core:
''')
code(r'''
bl = res.baselines.set_index("model") if "model" in res.baselines.columns else res.baselines
bl
''')
code(r'''
fig, axs = plt.subplots(1, 2, figsize=(9, 3.8), dpi=80)
pred = res.cv["loo"].oof
for ax, (dom, d) in zip(axs, ft.loc[pred.index].groupby("domain")):
    ax.scatter(pred.loc[d.index], d.gain, c=np.where(d.family == "smollm2", "tab:blue", "tab:orange"), s=18)
    lim = [min(pred.loc[d.index].min(), d.gain.min()), max(pred.loc[d.index].max(), d.gain.max())]
    ax.plot(lim, lim, "k:", lw=1); ax.set_xlabel("out-of-fold prediction (LOO)"); ax.set_ylabel("measured gain")
    ax.set_title(f"{dom}: within-domain ρ {res.cv['loo'].within.spearman[dom]:.2f}")
plt.tight_layout(); plt.show()
''')
md(r'''
## 6. Which features carry the signal, and which are stable?

Single features first (descriptive, in-sample Spearman with the gain), pooled and within each domain — the paper's
three core features are marked:
''')
code(r'''
feats = res.feature_names
single = pd.DataFrame({"pooled": {f: stats.spearmanr(ft[f], ft.gain).statistic for f in feats}} |
                      {dom: {f: stats.spearmanr(d[f], d.gain).statistic for f in feats} for dom, d in ft.groupby("domain")})
single["paper core"] = [("✓" if f in REFERENCE_FEATURES[:3] else "") for f in single.index]
single.sort_values("pooled", key=abs, ascending=False).round(3)
''')
md(r'''
Near-copies are grouped first (|r| ≥ 0.9 after standardisation: selecting *one* of `pass@1` and `maj@N` is the
same evidence), then the strict core is chosen by complementary-pairs stability selection over the best subset of the
size the extended BIC picks, at selection probability ≥ 0.75 (the rule whose recovery was measured in
[04_predict](04_predict.ipynb)); bootstrap-Lasso frequencies at the 1-SE penalty are shown beside it.
''')
code(r'''
ss = res.stability
print(res.groups)
stab = pd.DataFrame({"CPSS probability (best subset)": ss.group_probabilities,
                     "bootstrap-Lasso frequency (1-SE)": res.lasso.group_frequencies}).sort_values(
    "CPSS probability (best subset)", ascending=False)
print(f"strict core (π ≥ {ss.threshold}): {list(ss.core) or 'empty'}; best-subset size {int(ss.path.index[0])} (extended BIC)")
stab.round(3)
''')
md(r'''
## 7. How wrong can one prediction be? Jackknife+ intervals and certified pairs

Each configuration's jackknife+ interval is built from fits that left it out (Barber et al. 2021): for a new
configuration exchangeable with these, $P(\text{gain} \in \text{interval}) \ge 1 - 2\alpha$. A pair of configurations
is *certified* when their intervals do not overlap — the ranking statement a user screening checkpoints needs.
''')
code(r'''
jk = res.jackknife.join(ft.gain)
n_pairs = len(jk) * (len(jk) - 1) // 2
jk_summary = {"features": res.final_features, "mean half-width": jk.half_width.mean(),
              "share of measured gains inside": ((jk.lo <= jk.gain) & (jk.gain <= jk.hi)).mean(),
              "certified pairs": res.summary()["jackknife"]["certified_pairs"], "pairs": n_pairs,
              "gain range": ft.gain.max() - ft.gain.min()}
pd.Series(jk_summary).to_frame("jackknife+ (α = 0.1)")
''')
md(r'''
## 8. Side by side with the paper

The paper reports, on 36 configurations (3 families × 6 post-training methods × math and reasoning, 7B-class models,
a learned reward model), a ridge on its strict core + token entropy reaching Spearman ρ = 0.90, with the strict core
{agreement spread, first-correct position, completion-length variance}.
''')
code(r'''
lit = bl.loc["literature reference set"]
cmp = pd.DataFrame({
    "paper": ["36 (3 families × 6 methods × 2 domains)", "7B-class, full-length reasoning", "learned RM",
              "{agreement spread, first-correct pos., length variance}", "0.90 (core + entropy)", "not reported",
              "not reported", "not reported"],
    "this suite": [f"{len(configs)} (2 families × 6 methods × 2 domains × 2 temperatures)",
                   f"135M / 270M, ≤ {int(configs.max_new_tokens.max())} new tokens, 256 prompts/domain × N = 16",
                   "learned ORM (SmolLM2 + scalar head), held-out AUROC " +
                   " / ".join(f"{d} {verifiers.loc[d, 'ORM AUROC']:.2f}" for d in verifiers.index),
                   " + ".join("{" + g + "}" for g in ss.selected_groups) or "empty",
                   f"{lit.spearman_loo:.2f} LOO (same feature set)",
                   f"{res.cv['loo'].metrics['spearman']:.2f} LOO (ridge on all)",
                   " / ".join(f"{d} {res.cv['loo'].within.spearman[d]:.2f}" for d in ("math", "reasoning")),
                   " / ".join(f"{d} {rel.ceiling(d):.2f}" for d in ("math", "reasoning"))]},
    index=["configurations", "models / pass", "verifier", "strict core", "Spearman ρ, paper's set",
           "Spearman ρ, all features", "within-domain ρ (LOO, all)", "noise ceiling per domain"])
cmp
''')
md(r'''
The numbers the discussion rests on, computed above:
''')
code(r'''
loo = res.cv["loo"]
facts = {"configurations": len(configs), "BoN beats pass@1 and any-answered (configs)": int(sel.beats_both.sum()),
         "... by more than 2 SE each (configs)": int(sel.beats_both_2se.sum()),
         "reliability, math": rel.reliability("math"), "reliability, reasoning": rel.reliability("reasoning"),
         "SD/SE, math": reltab.loc["math", "sd_over_se"], "SD/SE, reasoning": reltab.loc["reasoning", "sd_over_se"],
         "LOO ρ, ridge on all (median of 10 seeds)": loo.metrics["spearman"],
         "LOO ρ, lowest seed": loo.spearman_range[0], "LOO ρ, highest seed": loo.spearman_range[1],
         "LOO p (within-domain permutations)": loo.p_value,
         "LOO ρ within math": loo.within.spearman["math"], "LOO ρ within reasoning": loo.within.spearman["reasoning"],
         "LOO ρ, domain only": res.domain_only["loo"].metrics["spearman"],
         "LOO ρ, paper's set": lit.spearman_loo, "paper's set, mean within-domain ρ": lit.within_mean_loo,
         "LOO ρ, pass@1 alone": bl.loc["pass@1 alone", "spearman_loo"],
         "LOO ρ, coverage gap alone": bl.loc["coverage gap alone", "spearman_loo"],
         "coverage gap alone, mean within-domain ρ": bl.loc["coverage gap alone", "within_mean_loo"],
         "ridge on all, mean within-domain ρ": loo.within.spearman["mean"],
         "in-sample ρ within math, agreement_spread": single.loc["agreement_spread", "math"],
         "in-sample ρ within reasoning, agreement_spread": single.loc["agreement_spread", "reasoning"],
         "in-sample ρ within math, first_correct_pos": single.loc["first_correct_pos", "math"],
         "in-sample ρ within reasoning, first_correct_pos": single.loc["first_correct_pos", "reasoning"],
         "in-sample ρ within math, length_var_within": single.loc["length_var_within", "math"],
         "in-sample ρ within reasoning, length_var_within": single.loc["length_var_within", "reasoning"],
         "jackknife+ certified pairs": jk_summary["certified pairs"],
         "jackknife+ mean half-width": jk.half_width.mean()}
for k in ("lofo", "lomo", "lodo"):
    if k in res.cv: facts[f"{k.upper()} ρ, ridge on all"] = res.cv[k].metrics["spearman"]
pd.Series(facts).round(3).to_frame("value")
''')
import os, json as _json
FACTS = os.environ.get("FACTS")          # second pass: the quoted numbers, from the first pass's facts
if not FACTS:
    code(r'''
import json as _j; open("/tmp/facts09a.json", "w").write(_j.dumps({k: (float(v) if not isinstance(v, (list, tuple)) else v) for k, v in facts.items()}))
''')
else:
    F = _json.load(open(FACTS))
    md(open("/work/scratch/s9/discussion.md").read().format(**{k: (f"{v:.2f}" if isinstance(v, float) else v)
                                                             for k, v in _json.load(open("/tmp/short.json")).items()}))
    def r(v): return round(v, 3)
    lines = ",\n          ".join(f"{k!r}: {r(v)}" for k, v in F.items())
    code(f'''
# the prose above quotes these numbers (rounded): if the shipped suite is rebuilt and they move, this cell fails
quoted = {{{lines}}}
for k, v in quoted.items(): test_close(facts[k], v, eps=0.0015)
''')
    md(open("/work/scratch/s9/oneCall.md").read())
