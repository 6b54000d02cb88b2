"""The section "What makes a model grok?": every number its prose quotes and every verdict it
gives, recomputed from the frozen runs and sweeps; and the phase rule in Python and in Vega."""
from __future__ import annotations

import numpy as np
import pytest

from builder.analysis import grokking
from builder.figures import what_groks as wg
from builder.figures.context import BuildContext
from builder.paths import ROOT, frozen_root

from conftest import typed_numbers

CTX = BuildContext(frozen_root())
RAW = (ROOT / "content" / "index.md").read_text(encoding="utf-8")
START = RAW.index("## What makes a model grok?")
END = RAW.index("\n## ", START)  # the next section
SECTION = " ".join(RAW[START:END].split())
NOTES = " ".join(" ".join(RAW[RAW.index(f"[^{n}]: "):].split("\n\n[^")[0].split()) for n in ("groks", "embedrun"))
VERIFIED: list[str] = []


def says(text: str, where: str = SECTION) -> None:
    assert text in where, text
    VERIFIED.append(text)


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


# -- the set-up the section states ------------------------------------------------------------
def test_the_setup():
    opening, sweeps = CTX.spec("mod-top"), [CTX.spec(name) for name in EXPERIMENTS[1:]]
    says(f"{opening['p']} numbers, an embedding {opening['embed']} wide, {opening['hidden']} hidden neurons, "
         f"{opening['train_fraction']:.0%} of the pairs to train on")
    budgets = sorted({s["steps"] for s in sweeps})
    says(f"a budget of {budgets[0]:,} steps, three seeds to a setting")
    assert all(set(s["seed"]) == {0, 1, 2} for s in sweeps if s is not CTX.spec(wg.FRACTION))
    every = {s["steps"] / s["metrics"] for s in sweeps}
    assert all(95 <= e <= 105 for e in every)
    says("(one every 100 or so)")
    says(f"at each of its {CTX.spec(wg.EMBED_RUN)['checkpoints']} checkpoints")
    says(f"They counted an accuracy as reached at {grokking.LEVEL:.0%}, took a gap of $10^{int(np.log10(grokking.GAP))}$ steps")
    says(f"We used the same thresholds and a budget of {CTX.spec('sweep-grok-phase')['steps']:,} steps")
    says(f"the step at which its test accuracy reaches {grokking.LEVEL:.0%} is close to")
    says(f"generalizes (reaches {grokking.LEVEL:.0%} test accuracy)")
    fractions = CTX.spec(wg.FRACTION)["train_fraction"]
    says(f"six seeds at each share of the pairs from {min(fractions):.0%} to {max(fractions):.0%}")
    assert len(CTX.spec(wg.FRACTION)["seed"]) == 6
    says("With 80%, 70% and 60% of the pairs the median run")
    says(f"and with {min(fractions):.0%} none does")
    init = CTX.spec(wg.INIT[1])
    says(f"three seeds, {init['steps']:,} steps)")
    says(f"(within {init['steps']:,} steps;")


# -- the ring ----------------------------------------------------------------------------------
@pytest.mark.frozen("mod-top-embed", "mod-top")
def test_the_ring_claims():
    r = wg.ring(CTX)
    step, own, final = r["step"], r["score"]["own"], r["score"]["final"]
    p = r["p"]
    assert r["k"] == own[-1][1] == final[-1][1]
    says(f"in the order of {r['k']} × $a$ mod {p}, and {r['k']} is one of the three")
    from builder.analysis import fourier
    a = CTX.artifact(wg.EMBED_RUN).arrays
    freq, _, mag = fourier.dominant(np.asarray(a["w_in"][-1], np.float64))
    keys = sorted(set(int(f) for f, m in zip(freq, mag) if m > fourier.KEY_FREQUENCY_THRESHOLD))
    assert len(keys) == 3 and r["k"] in keys
    says(f"The final embedding scores {own[-1][0]:.2f} in its own first two components, which hold "
         f"{r['planes']['explained'][-1]:.0%} of its variance")
    _, share = grokking.components(np.asarray(a["embed"][-1], np.float64), 4)
    says("the first four hold " + ", ".join(f"{s:.1%}" for s in share[:3]) + f" and {share[3]:.1%}")
    low = int(np.argmin([s for s, _, _ in own[-10:]])) + len(own) - 10
    says(f"at step {step[low]:,} their score is {own[low][0]:.2f}")
    # at the start: the final plane already orders the untrained embedding; random planes do not
    null = grokking.random_plane_scores(np.asarray(a["embed"][0], np.float64), 200)
    assert final[0][0] > 1.5 * null.max()
    says(f"At step 0 the final plane scores {final[0][0]:.2f}, while 200 random planes through the same untrained "
         f"embedding score at most {null.max():.2f}, and its own first two components score {own[0][0]:.2f}")
    reached = int(step[np.argmax([s >= 0.9 for s, _, _ in final])])
    says(f"to {0.90:.2f} by step {reached:,}, while the test accuracy is still below 2%")
    before = np.asarray(a["test_acc"])[np.asarray(a["metric_step"]) <= reached]
    assert before.max() < 0.02
    says("**Verdict: agrees**, and so does Nanda's observation")


@pytest.mark.frozen("mod-top-embed", "mod-top")
def test_the_embedding_run_note():
    a, b = CTX.artifact(wg.EMBED_RUN).arrays, CTX.artifact("mod-top").arrays
    first = lambda arrays: int(arrays["metric_step"][np.argmax(np.asarray(arrays["test_acc"]) >= 0.99)])  # noqa: E731
    says(f"first reaches 99% at step {first(a):,}, against {first(b):,}", NOTES)
    same = np.asarray(a["train_loss"]) == np.asarray(b["train_loss"])
    parted = int(a["metric_step"][np.argmin(same)])
    assert same[0] and parted <= 300
    says(f"they part by step {parted:,}", NOTES)


# -- how much data ----------------------------------------------------------------------------
def by(rows: list[dict], *fields) -> dict:
    out: dict = {}
    for row in rows:
        out.setdefault(tuple(row[f] for f in fields) if len(fields) > 1 else row[fields[0]], []).append(row)
    return out


def reached(rows: list[dict]) -> list[int]:
    return sorted(r["te99"] for r in rows if r["te99"] >= 0)


def median(values) -> str:
    return f"{np.median(values):,.0f}"


@pytest.mark.frozen(wg.FRACTION)
def test_the_training_fraction_claims():
    shares = by(wg.sweep_rows(CTX, wg.FRACTION, ("train_fraction",)), "train_fraction")
    assert sorted(shares) == [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8] and all(len(r) == 6 for r in shares.values())
    budget = wg.budget(CTX, wg.FRACTION)
    says(f"for {budget:,} steps at")
    high = [median(reached(shares[f])) for f in (0.8, 0.7, 0.6)]
    assert all(len(reached(shares[f])) == 6 for f in (0.8, 0.7, 0.6, 0.5))
    says(f"the median run reaches 99% test accuracy after {', '.join(high[:2])} and {high[2]} steps")
    says(f"With 50% it takes {median(reached(shares[0.5]))} steps, with 40% {median(reached(shares[0.4]))} "
         f"(and one run of the six never gets there)")
    assert len(reached(shares[0.4])) == 5
    assert len(reached(shares[0.3])) == 1
    says(f"only one run of six gets there, after {reached(shares[0.3])[0]:,} steps")
    assert reached(shares[0.2]) == [] and all(r["ftr"] == 1.0 for r in shares[0.2])
    says(f"stays below {max(r['fte'] for r in shares[0.2]) + 0.0005:.1%} on the rest")
    # the steep part: the median falls tenfold from 40% to 60%, and hardly moves above 60%
    assert np.median(reached(shares[0.4])) > 8 * np.median(reached(shares[0.6]))
    comprehension = sum(r["phase"] == "comprehension" for f in (0.6, 0.7, 0.8) for r in shares[f])
    says(f"(comprehension, in {comprehension} of the 18 runs at 60% to 80%)")
    assert comprehension > 9
    assert all(r["phase"] == "grokking" for f in (0.3, 0.4) for r in shares[f] if r["te"] >= 0)
    says("critical share lies between 30% and 40%")
    says("**Verdict: agrees.**")


# -- weight decay and the initial weights --------------------------------------------------------
def steps_range(values) -> str:
    return f"{min(values):,} to {max(values):,}"


@pytest.mark.frozen(*wg.INIT)
def test_the_weight_decay_and_init_claims():
    cells = by(wg.init_rows(CTX), "wd", "init_scale")
    scales = sorted({s for _, s in cells})
    assert scales == [0.03, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0]
    none = [r for (wd, _), rows in cells.items() if wd == 0 for r in rows]
    assert reached(none) == [] and all(r["te"] < 0 for r in none)
    says(f"Without weight decay none of its {len(none)} runs generalizes, from any scale; the best ends at "
         f"{max(r['fte'] for r in none):.1%} test accuracy")
    assert all(r["ftr"] > 0.98 for s in (0.1, 0.25, 0.5, 1.0) for r in cells[(0.0, s)])
    big = [r["ftr"] for s in (2.0, 4.0) for r in cells[(0.0, s)]]
    assert max(big) < 0.9
    says(f"ending at {min(big):.0%} to {max(big):.0%} training accuracy")
    stall = sum(r["ftr"] < 0.9 for r in cells[(0.0, 0.03)])
    says(f"from the smallest, 0.03, {['none', 'one', 'two', 'all'][stall]} of three stall")
    weak = [r for (wd, _), rows in cells.items() if wd == 0.1 for r in rows]
    says(f"Weak decay (0.1) lets {['no', 'one', 'two'][len(reached(weak))]} run of {len(weak)} generalize")
    strong = [r for (wd, _), rows in cells.items() if wd == 1.0 for r in rows]
    assert all(reached(cells[(1.0, s)]) for s in scales)
    says(f"{len(reached(strong))} of {len(strong)} runs reach 99% from every scale")
    small = reached(cells[(1.0, 0.03)] + cells[(1.0, 0.1)])
    large = reached(cells[(1.0, 2.0)] + cells[(1.0, 4.0)])
    assert max(small) < min(large)
    says(f"started small (0.03 and 0.1) they get there after {steps_range(small)} steps, started large (2 and 4) "
         f"after {steps_range(large)}")
    says("**Verdict: for our model weight decay is needed**")


# -- the methods note ----------------------------------------------------------------------------
def cpu_time(name: str) -> str:
    """An experiment's training time from its manifest: seconds for a single run, hours (and its
    runs) for a sweep, as the note writes them."""
    import json
    manifest = json.loads((ROOT / "content" / "_freeze" / name / "manifest.json").read_text())
    if "shards" not in manifest:
        return f"{manifest['wall_time_s']:.0f} s"
    shards = manifest["shards"].values()
    return f"{sum(s['wall_time_s'] for s in shards) / 3600:.2f} h ({sum(s['runs'] for s in shards)} runs)"


EXPERIMENTS = (wg.EMBED_RUN, "sweep-grok-phase", "sweep-grok-sgd", wg.FRACTION, *reversed(wg.INIT))


def test_the_methods_note():  # the committed manifests' times (not a claim about fresh artifacts)
    for name in EXPERIMENTS:
        says(f"`{name}` {cpu_time(name)}", NOTES)
    budgets = {name: wg.budget(CTX, name) for name in EXPERIMENTS[1:]}
    assert budgets.pop(wg.FRACTION) == 50_000 and set(budgets.values()) == {30_000}
    assert CTX.spec(wg.EMBED_RUN)["steps"] == 50_000
    for name in (wg.FRACTION, *wg.INIT):
        assert CTX.spec(name)["lr"] == 3e-3
    says("the training-fraction sweep keeps 50,000", NOTES)
    opening = CTX.spec("mod-top")
    for name in EXPERIMENTS[1:]:  # the opening model at full size in every sweep
        spec = CTX.spec(name)
        assert (spec["p"], spec["embed"], spec["hidden"]) == (opening["p"], opening["embed"], opening["hidden"])


# -- the phase diagram and the learning rate ------------------------------------------------------
def tex(value: float) -> str:
    """A rate or decay as the prose writes it: $10^{-3}$, $3 \\times 10^{-3}$."""
    mantissa, exponent = f"{value:.0e}".split("e")
    power = f"10^{{{int(exponent)}}}"
    return f"${power}$" if mantissa == "1" else f"${mantissa} \\times {power}$"


def phase_runs() -> tuple[list[dict], list[dict]]:
    rows, _ = wg.phase_data(CTX)
    return [r for r in rows if r["opt"] == "AdamW"], [r for r in rows if r["opt"] == "SGD"]


def product(row: dict) -> float:
    return float(f"{row['lr'] * row['wd']:.0e}")


def phase_facts() -> dict:
    """Every number the two subsections quote, computed from the frozen sweeps."""
    adam, sgd = phase_runs()
    count = lambda rows, phase: sum(r["phase"] == phase for r in rows)  # noqa: E731
    confused = [r for r in adam if r["phase"] == "confusion"]
    low = [r for r in adam if 0 < product(r) <= 3e-4]
    mid = [r for r in adam if product(r) == 3e-3]
    high = [r for r in adam if 3e-2 <= product(r) <= 1e-1]
    top = [r for r in adam if product(r) == 0.3]
    fit = [r for r in adam if r["te"] >= 0]
    slope, intercept = np.polyfit(np.log([1 / (r["lr"] * r["wd"]) for r in fit]), np.log([r["te"] for r in fit]), 1)
    corr = np.corrcoef(np.log([1 / (r["lr"] * r["wd"]) for r in fit]), np.log([r["te"] for r in fit]))[0, 1]
    best = {}
    for lr in sorted({r["lr"] for r in adam}):
        cells = by([r for r in adam if r["lr"] == lr], "wd")
        full = [np.median(reached(rows)) for rows in cells.values() if len(reached(rows)) == len(rows)]
        if full:
            best[lr] = min(full)
    sgd_decay = by([r for r in sgd if r["wd"] == 1e-3], "lr")
    ranges = [(lr, reached(rows), len(rows)) for lr, rows in sorted(sgd_decay.items()) if reached(rows)]
    words = {1: "one", 2: "two", 3: "all three"}
    return {
        "PH_MEM": str(count(adam, "memorization")), "PH_GROK": str(count(adam, "grokking")),
        "PH_COMP": str(count(adam, "comprehension")), "PH_CONF": str(count(adam, "confusion")),
        "PH_CONF_TRAIN": f"{min(r['ftr'] for r in confused):.0%} and {max(r['ftr'] for r in confused):.0%}",
        "PH_LOW_N": str(len(low)), "PH_MID_GEN": str(sum(r["te"] >= 0 for r in mid)), "PH_MID_N": str(len(mid)),
        "PH_HIGH_COMP": str(count(high, "comprehension")), "PH_HIGH_N": str(len(high)),
        "PH_TOP_MEM": ["none", "one", "two", "all"][sum(r["te"] < 0 for r in top)],
        "PH_CONST": f"{np.exp(intercept):.0f}", "PH_FIT_N": str(len(fit)), "PH_SLOPE": f"{slope:.2f}", "PH_CORR": f"{corr:.2f}",
        "LR_A_GEN": str(len(fit)), "LR_A_FAST": f"{min(r['te99'] for r in adam if r['te99'] >= 0):,}",
        "LR_S_GEN": str(sum(r["te"] >= 0 for r in sgd)),
        "LR_S_CONF_TRAIN": f"{max(r['ftr'] for r in sgd if r['wd'] == 1e-2):.1%}",
        "LR_S_FAST": f"{min(r['te99'] for r in sgd if r['te99'] >= 0):,}",
        "LR_A_BEST": ", ".join(f"{best[lr]:,.0f} steps at {tex(lr)}" for lr in list(best)[:-2]) + " and "
                     + f"{best[list(best)[-2]]:,.0f} at {tex(list(best)[-2])}",
        "LR_S_RANGES": ", ".join(f"{min(t):,} to {max(t):,} steps at {lr:g} ({words[len(t)]}"
                                 f"{'' if len(t) == n else ' of ' + words[n].split()[-1]})" for lr, t, n in ranges),
        "LR_A_TOO": f"at {tex(list(best)[-1])} its best cell takes {best[list(best)[-1]]:,.0f} steps, and without decay it is confused",
    }


@pytest.mark.frozen("sweep-grok-phase", "sweep-grok-sgd")
def test_the_phase_diagram_and_learning_rate_claims():
    adam, sgd = phase_runs()
    facts = phase_facts()
    assert len(adam) == 108 and len(sgd) == 45
    # the verdicts: all four phases; none without decay; the product orders them
    assert all(int(facts[k]) > 0 for k in ("PH_MEM", "PH_GROK", "PH_COMP", "PH_CONF"))
    assert all(r["te"] < 0 for r in adam if r["wd"] == 0)
    assert int(facts["PH_LOW_N"]) > 20 and all(r["phase"] == "memorization" for r in adam if 0 < product(r) <= 3e-4)
    assert int(facts["PH_MID_GEN"]) / int(facts["PH_MID_N"]) > 0.9
    assert int(facts["PH_HIGH_COMP"]) / int(facts["PH_HIGH_N"]) > 0.9
    assert abs(float(facts["PH_SLOPE"]) - 1) < 0.1 and float(facts["PH_CORR"]) > 0.9
    opening = [r for r in adam if r["lr"] == 1e-3 and r["wd"] == 1.0]
    assert sum(r["phase"] == "grokking" for r in opening) == 1 and len(opening) == 3
    says("one seed of three groks within the budget")
    # the optimizer: AdamW generalizes in a larger share, over more rates, and faster
    assert int(facts["LR_A_GEN"]) / 108 > 1.3 * int(facts["LR_S_GEN"]) / 45
    assert {r["lr"] for r in adam if r["te"] >= 0} == {r["lr"] for r in adam}
    assert {r["wd"] for r in sgd if r["te"] >= 0} == {1e-3} and all(r["phase"] == "memorization" for r in sgd if r["wd"] == 0)
    assert int(facts["LR_A_FAST"].replace(",", "")) < int(facts["LR_S_FAST"].replace(",", ""))
    says("where guessing gives 1.5%")
    assert abs(1 / 67 - 0.015) < 0.001
    for key, value in facts.items():
        assert value in SECTION, (key, value)
    placed = RAW[START:END]
    for text in (f"PH_MEM memorize, PH_GROK grok, PH_COMP comprehend and PH_CONF are confused", "between PH_CONF_TRAIN",
                 "all PH_LOW_N runs memorize; at $3 \\times 10^{-3}$ PH_MID_GEN of PH_MID_N", "PH_HIGH_COMP of PH_HIGH_N comprehend",
                 "0.3, PH_TOP_MEM of three seeds", "close to PH_CONST / (learning rate × weight decay)",
                 "of the PH_FIT_N runs that get there, a straight line has slope PH_SLOPE and a correlation of PH_CORR",
                 "in LR_A_GEN of its 108 runs", "reaches 99% at step LR_A_FAST", "SGD does in LR_S_GEN of its 45",
                 "(LR_S_CONF_TRAIN training accuracy", "takes LR_S_FAST steps", "(all three seeds at 99%, median) takes LR_A_BEST",
                 "the runs that get there take LR_S_RANGES", "hurts AdamW (LR_A_TOO)"):
        for key in sorted(facts, key=len, reverse=True):
            text = text.replace(key, facts[key])
        says(text)
    assert " ".join(placed.split()).count("**Verdict: agrees.**") == 3
    says("**Verdict: agrees.**")


def test_every_number_of_the_section_is_computed():
    """Every number in the section's prose appears in a sentence a claim test checked (run after
    them: pytest runs a module's tests in order)."""
    if len(VERIFIED) < 30:
        pytest.skip("the claim tests did not all run (a -k selection)")
    notes = typed_numbers(SECTION, VERIFIED)
    assert not notes, f"numbers in the section typed, not checked against the data: {notes}"
