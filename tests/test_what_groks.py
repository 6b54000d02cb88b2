"""The section "What makes a model grok?": its rules and measures (the phase rule in Python and in
Vega, the ring score, the diagonals of a grid, the Wilson interval in Vega), the settings its prose
states, and the shape of its verdicts. Every number it quotes about a run is a fact and every
verdict a claim (builder.figures.what_groks), evaluated by tests/test_claims.py."""
from __future__ import annotations

import re

import numpy as np
import pytest

from builder.analysis import grokking
from builder.figures import what_groks as wg
from builder.figures.context import BuildContext
from builder.paths import ROOT, frozen_root

CTX = BuildContext(frozen_root())
RAW = (ROOT / "content" / "index.md").read_text(encoding="utf-8")
START = RAW.index("## What makes a model grok?")
END = RAW.index("\n## ", START)  # the next section
SECTION = " ".join(RAW[START:END].split())
NOTES = " ".join(" ".join(RAW[RAW.index(f"[^{n}]: "):].split("\n\n[^")[0].split()) for n in ("groks", "sgd", "embedrun"))


def says(text: str, where: str = SECTION) -> None:
    assert text in where, text


# -- the rule --------------------------------------------------------------------------------
def test_phase_rule_cases():
    train = np.array([-1, 100, 100, 100, 100, 500])
    test = np.array([-1, -1, 1100, 1101, 50, 400])
    assert [grokking.PHASES[c] for c in grokking.classify(train, test, gap=1000)] == [
        "confusion", "memorization", "comprehension", "grokking", "comprehension", "comprehension"]


def test_phase_rule_in_vega_matches_python():
    """The page's expression, evaluated by a tiny interpreter of its ternaries, gives the Python
    class for a grid of crossings and gaps."""
    python = wg.LIVE_PHASE.replace("datum.", "").replace("'", '"')  # the expression the page evaluates
    rng = np.random.default_rng(0)
    for _ in range(300):
        tr, te = (int(v) for v in rng.choice([-1, 0, 100, 900, 1000, 1100, 5000, 30000], size=2))
        gap = int(rng.choice([100, 1000, 3162, 10000]))
        got = eval_vega_ternary(python, {"tr": tr, "te": te, "gap": gap})
        assert got == grokking.PHASES[grokking.classify([tr], [te], gap)[0]]


def eval_vega_ternary(expr: str, env: dict) -> str:
    """Evaluate 'c1 ? "a" : c2 ? "b" : "c"' (conditions of plain comparisons and arithmetic)."""
    cond, rest = expr.split(" ? ", 1)
    then, otherwise = rest.split(" : ", 1)
    if eval(cond, {}, dict(env)):  # noqa: S307 (our own expression, of names and numbers)
        return then.strip('"')
    return eval_vega_ternary(otherwise, env) if " ? " in otherwise else otherwise.strip('"')


def test_ring_score_ends():
    p = 67
    angle = 2 * np.pi * (21 * np.arange(p) % p) / p
    ring = np.stack([np.cos(angle), np.sin(angle)], 1) * np.linspace(1, 2, p)[:, None]
    score, k, direction = grokking.ring_score(ring)
    assert score == pytest.approx(1.0) and k == 21 and direction == 1
    assert grokking.ring_score(ring[:, ::-1])[1:] == (21, -1)  # the mirror image runs the other way
    rng = np.random.default_rng(1)
    assert grokking.ring_score(rng.normal(size=(p, 2)))[0] < 0.45
    order = grokking.ring_order(21, p)
    assert sorted(order) == list(range(p)) and np.all(np.diff(angle[order]) % (2 * np.pi) == pytest.approx(2 * np.pi / p))


def test_planes_keep_signs_from_step_to_step():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(30, 8)) * np.array([5, 3, 1, 1, 1, 1, 1, 1])
    steps = np.stack([base + 0.01 * rng.normal(size=base.shape) for _ in range(6)])
    own = grokking.planes(steps)["own"]
    assert all(np.sum(own[i] * own[i + 1]) > 0 for i in range(5))


# -- the diagonals of a grid and the Wilson interval in the page ------------------------------
def test_a_diagonal_is_the_product_to_the_nearest_half_decade():
    assert grokking.diagonal(1e-3, 0.0) == 0.0
    assert grokking.diagonal(1e-3, 1.0) == grokking.diagonal(3e-4, 3.0) == 1e-3  # 9e-4 lies with 1e-3
    assert grokking.diagonal(3e-3, 1.0) == grokking.diagonal(1e-3, 3.0) == 3e-3
    assert grokking.diagonal(3e-2, 10.0) == 0.3 and grokking.diagonal(0.3, 1e-3) == 3e-4
    spec = CTX.spec("sweep-grok-phase")  # on its grid (steps of about sqrt(10)) a diagonal is lr index + wd index
    lrs, wds = sorted(spec["lr"]), sorted(w for w in spec["weight_decay"] if w > 0)
    by_index: dict = {}
    for i, lr in enumerate(lrs):
        for j, wd in enumerate(wds):
            by_index.setdefault(i + j, set()).add(grokking.diagonal(lr, wd))
    assert all(len(d) == 1 for d in by_index.values()) and len(by_index) == len(lrs) + len(wds) - 1


def test_the_pages_wilson_interval_is_pythons():
    """The tooltips' interval (outcomes.wilson_vega), evaluated as Python, is outcomes.wilson."""
    import math

    from builder.analysis.outcomes import wilson, wilson_vega

    lo, hi = wilson_vega("datum.k", "datum.n")
    env = {"max": max, "min": min, "sqrt": math.sqrt}
    for n in (1, 3, 6, 15, 45, 108):
        for k in range(n + 1):
            got = tuple(eval(e.replace("datum.", ""), env, {"k": k, "n": n}) for e in (lo, hi))  # noqa: S307
            assert got == pytest.approx(wilson(k, n), abs=1e-12)


def test_the_phase_figure_carries_each_runs_diagonal_and_its_intervals():
    spec = wg.phase_chart(CTX)
    rows = spec["datasets"]["runs"]
    assert rows and all(r["diag"] == grokking.diagonal(r["lr"], r["wd"]) for r in rows)
    text = str(spec)
    assert "95% interval" in text and "sqrt(" in text  # the counts' tooltips give each share's interval


# -- the set-up the section states (settings, not results) ---------------------------------------
def test_the_setup():
    opening, sweeps = CTX.spec("mod-top"), [CTX.spec(name) for name in EXPERIMENTS[1:]]
    says(f"{opening['p']} numbers, an embedding {opening['embed']} wide, {opening['hidden']} hidden neurons, "
         f"{opening['train_fraction']:.0%} of the pairs to train on")
    budgets = sorted({s["steps"] for s in sweeps})
    says(f"a budget of {budgets[0]:,} steps, with three seeds to a setting")
    assert all(set(s["seed"]) == {0, 1, 2} for s in sweeps if s is not CTX.spec(wg.FRACTION))
    every = {s["steps"] / s["metrics"] for s in sweeps}
    assert all(95 <= e <= 105 for e in every)
    says("(one every 100 or so)")
    says(f"at each of its {CTX.spec(wg.EMBED_RUN)['checkpoints']} checkpoints")
    says(f"An accuracy counts as reached at {grokking.LEVEL:.0%}, and a gap of $10^{int(np.log10(grokking.GAP))}$ steps")
    says(f"whole model, within {CTX.spec('sweep-grok-phase')['steps']:,} steps")
    phase, sgd = CTX.spec("sweep-grok-phase"), CTX.spec("sweep-grok-sgd")
    words = {3: "three", 5: "five", 6: "six"}
    says(f"for AdamW, at {words[len(phase['lr'])]} rates and {words[len(phase['weight_decay'])]} decays, and for "
         f"full-batch SGD with momentum {sgd['momentum']}, at {words[len(sgd['lr'])]} rates and "
         f"{words[len(sgd['weight_decay'])]} decays")
    says(f"when one phase holds at least {wg.DECIDES:.0%} of its runs")
    says(f"the best of {wg.RANDOM_PLANES} random planes")
    fractions = CTX.spec(wg.FRACTION)["train_fraction"]
    says(f"six seeds at each share of the pairs from {min(fractions):.0%} to {max(fractions):.0%}, for "
         f"{CTX.spec(wg.FRACTION)['steps']:,} steps")
    assert len(CTX.spec(wg.FRACTION)["seed"]) == 6
    init = [CTX.spec(name) for name in wg.INIT]
    scales = sorted(s for spec in init for s in spec["init_scale"])
    decays = sorted(init[0]["weight_decay"])
    assert all(sorted(spec["weight_decay"]) == decays for spec in init)
    says(f"by a factor from {scales[0]:g} to {scales[-1]:g}, and trained each scale with weight decay "
         f"{decays[0]:g}, {decays[1]:g} and {decays[2]:g}")
    says(f"three seeds, {init[1]['steps']:,} steps)")
    for name in (wg.FRACTION, *wg.INIT):
        assert CTX.spec(name)["lr"] == 3e-3
    says("the training-fraction sweep keeps 50,000", NOTES)
    assert CTX.spec(wg.FRACTION)["steps"] == 50_000 and CTX.spec(wg.EMBED_RUN)["steps"] == 50_000
    says(f"it has momentum {sgd['momentum']}", NOTES)
    says(f"a decay of $10^{{-2}}$ at a learning rate of {max(sgd['lr']):g} removes a tenth of every weight", NOTES)
    assert max(sgd["lr"]) * max(sgd["weight_decay"]) == pytest.approx(0.1)
    opening = CTX.spec("mod-top")
    for name in EXPERIMENTS[1:]:  # the opening model at full size in every sweep
        spec = CTX.spec(name)
        assert (spec["p"], spec["embed"], spec["hidden"]) == (opening["p"], opening["embed"], opening["hidden"])


EXPERIMENTS = (wg.EMBED_RUN, "sweep-grok-phase", "sweep-grok-sgd", wg.FRACTION, *reversed(wg.INIT))


# -- the verdicts are claims; every fact and claim of the section is used -------------------------
VERDICT = re.compile(r"\*\*Verdict: \[([^\]]+)\]\{claim=\"(groks\.[^\"]+)\"\}")


def test_each_verdict_is_a_claim_of_a_stated_strength():
    """Five subsections, five verdicts, each a claim checked on every build, and each one of
    "agrees", "partly" or "does not" (the strength its counts support)."""
    verdicts = VERDICT.findall(SECTION)
    assert len(verdicts) == SECTION.count("**Verdict:") == SECTION.count(" ### ") == 5
    assert all(text.split()[0].rstrip(",") in ("agrees", "partly", "does") for text, _ in verdicts)
    strengths = dict((name, text.split()[0].rstrip(",")) for text, name in verdicts)
    assert strengths["groks.rate-verdict"] == "partly"  # the optimizer comparison: at most partly


def test_every_fact_and_claim_of_the_section_is_used_and_defined():
    from builder.figures import default_registry

    reg = default_registry(BuildContext(ROOT, train=False))
    used = set(re.findall(r'\{(?:fact|claim)="(groks\.[^"]+)"\}', RAW))
    declared = {n for n in (*reg.facts, *reg.claims) if n.startswith("groks.")}
    assert used, "the section uses no facts or claims"
    assert used <= declared, f"used, not declared: {sorted(used - declared)}"
    assert declared <= used, f"declared, never used: {sorted(declared - used)}"
