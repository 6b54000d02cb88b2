"""Facts and claims (builder.facts, builder.markdown.facts): each part can fail.

A wrong fallback is reported by `check`, a claim that does not hold stops the build at its
sentence, an unknown name is an error with a did-you-mean, a typed number is found by the scan,
and a fact reads only the experiments it declares.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import BuildError
from builder.facts import Book, claim, fact, fill, listed, percent, rounded, sci, typed_numbers, words
from builder.markdown import make_parser, render_markdown


class FakeContext:
    """What a fact reads: a value per experiment, and the experiments read since `reading`."""

    def __init__(self, values: dict):
        self.values, self.read, self._derived = values, set(), {}

    def reading(self):
        self.read = set()
        return self.read

    def derived(self, fn, args, make):
        return make()

    def get(self, name):
        self.read.add(name)
        return self.values[name]


@fact("demo.grok-step", sources=("run",))
def grok_step(ctx):
    return ctx.get("run")["grok"]


@fact("demo.keys", listed, sources=("run",))
def keys(ctx):
    return ctx.get("run")["keys"]


@fact("demo.sneaky", sources=("run",))
def sneaky(ctx):
    return ctx.get("other")


@claim("demo.generalizes", sources=("run",))
def generalizes(ctx):
    acc = ctx.get("run")["acc"]
    return acc > 0.99, f"final test accuracy {acc:.1%}"


FACTS = {f.__fact__.name: f.__fact__ for f in (grok_step, keys, sneaky)}
CLAIMS = {generalizes.__claim__.name: generalizes.__claim__}


def book(grok=27_655, acc=1.0):
    return Book(FACTS, CLAIMS, FakeContext({"run": {"grok": grok, "keys": [21, 24, 29], "acc": acc}, "other": 1}))


FRONT = "---\ntitle: T\n---\n"  # 3 lines: the test texts' line numbers count from 4


def render(text: str, b: Book):
    return render_markdown(FRONT + text, Path("content/index.md"), {}, {}, {}, make_parser(), book=b)


def test_a_fact_shows_the_data_and_records_its_fallback():
    doc = render("Intro.\n\nIt crosses 99% at step [27,655]{fact=\"demo.grok-step\"}.\n", book(grok=44_489))
    assert '<span class="fact" data-fact="demo.grok-step">44,489</span>' in doc.html
    assert "27,655" not in doc.html
    assert doc.facts == [("demo.grok-step", 6, "27,655", "44,489")]


def test_check_lists_a_drifting_fallback_with_its_line():
    from builder.facts import drift

    doc = render("A.\n\nB [27,655]{fact=\"demo.grok-step\"} and [21, 24 and 29]{fact=\"demo.keys\"}.\n",
                 book(grok=44_489))
    assert drift(doc) == ["content/index.md:6: written 27,655, the data says 44,489 (fact demo.grok-step)"]
    assert drift(render("B [27,655]{fact=\"demo.grok-step\"}.\n", book())) == []


def test_an_unknown_fact_is_an_error_with_a_did_you_mean():
    with pytest.raises(BuildError) as err:
        render("\n\nAt step [1]{fact=\"demo.grok-stp\"}.\n", book())
    assert str(err.value) == 'content/index.md:6: unknown fact "demo.grok-stp" (did you mean "demo.grok-step"?)'


def test_a_false_claim_stops_the_build_at_its_sentence_with_the_measurement():
    text = "One.\n\n[The run generalizes]{claim=\"demo.generalizes\"} in the end.\n"
    assert render(text, book(acc=1.0)).claims == [("demo.generalizes", 6, "final test accuracy 100.0%")]
    with pytest.raises(BuildError) as err:
        render(text, book(acc=0.42))
    message = str(err.value)
    assert message.startswith('content/index.md:6: claim "demo.generalizes" does not hold: final test accuracy 42.0%')
    assert '"The run generalizes"' in message


def test_an_unknown_claim_is_an_error():
    with pytest.raises(BuildError, match=r'unknown claim "demo.generalises" \(did you mean "demo.generalizes"\?\)'):
        render("[It works]{claim=\"demo.generalises\"}.\n", book())


def test_a_fact_inside_a_claim_and_inside_an_animate_free_span():
    doc = render("[It generalizes by step [1]{fact=\"demo.grok-step\"}]{claim=\"demo.generalizes\"}.\n", book())
    assert '<span class="claim" data-claim="demo.generalizes">It generalizes by step ' \
           '<span class="fact" data-fact="demo.grok-step">27,655</span></span>' in doc.html


def test_a_fact_reading_an_undeclared_experiment_is_an_error():
    with pytest.raises(BuildError, match='fact "demo.sneaky" reads experiment "other", which its sources do not name'):
        render("[1]{fact=\"demo.sneaky\"}\n", book())


def test_a_fallback_with_markup_is_refused():
    with pytest.raises(BuildError, match="plain text"):
        render("[*1*]{fact=\"demo.grok-step\"}\n", book())


def test_captions_use_the_same_facts():
    assert fill('Generalizes at step [27,655]{fact="demo.grok-step"}.', book(grok=5)) == "Generalizes at step 5."
    assert fill('At [27,655]{fact="demo.grok-step"}.', None) == "At 27,655."


def test_formats():
    assert words(3) == "three" and words(13) == "13"
    assert listed([21, 24, 29]) == "21, 24 and 29" and listed([7]) == "7"
    assert percent(1)(0.00585) == "0.6%" and rounded(1000)(24_950) == "25,000"
    assert sci(1)(2.7e-6) == "2.7 × 10⁻⁶"


def test_the_scan_finds_typed_numbers_and_skips_facts_math_and_code():
    text = ("---\ndate: 2026-11-22\n---\n\nAt step 27,655 it had 3 groups.\n"
            "[27,655]{fact=\"x.y\"} and $x^2 + 41$ and `step 12` and [link](figures/a-2.svg){#id-3}.\n"
            "Around 5 × 10⁻⁵ and 97% [^note9].\n")
    assert typed_numbers(text, allowed={"3"}) == [(5, "27,655"), (7, "5 × 10⁻⁵"), (7, "97%")]


# ---- the scan over the whole article -------------------------------------------------------
# Numbers the prose may type although no experiments.toml setting holds them: they follow from
# the task's constants or count the article's own parts, and no training run can change them.
DERIVED = {
    "2,278": "pairs a <= b of 67 numbers", "911": "40% of them, the training pairs",
    "1,367": "the held-out pairs", "3,216": "2 x 67 x 24 collapsed weights",
    "66": "the largest input", "33": "Fourier frequencies of 67", "31": "parity inputs with the bias",
    "27": "distractor bits", "3,216,": "(same)",
}
# Sections whose prose is still to be converted to facts (issue 26): the scan skips them. Each
# conversion removes its headings here; the list ends empty.
PENDING = [
    "## A simpler task: sparse parity", "## When does grokking happen?", "## Modular addition with five neurons",
    "## It's full of stars", "## The progress hidden before the jump", "## What makes a model grok?",
    "## Open questions", "## Closing", "## Appendix: how the circle construction works",
]


def is_year(token: str) -> bool:
    """A year, as prose dates a paper (1900-2099, written without a comma)."""
    return token.isdigit() and len(token) == 4 and token[:2] in ("19", "20")


def test_the_article_types_no_run_dependent_number():
    import tomllib

    from builder.facts import constants
    from builder.paths import ROOT

    text = (ROOT / "content" / "index.md").read_text(encoding="utf-8")
    allowed = constants(tomllib.loads((ROOT / "content" / "experiments.toml").read_text(encoding="utf-8"))) | set(DERIVED)
    lines = text.splitlines()
    skipped, skipping = set(), False
    for number, line in enumerate(lines, start=1):
        if line.startswith("## "):
            skipping = line.strip() in PENDING
        if skipping:
            skipped.add(number)
    found = [(line, token) for line, token in typed_numbers(text, allowed)
             if line not in skipped and not is_year(token)]
    assert found == [], "typed numbers that depend on a run (write them as facts): " + \
        "; ".join(f"content/index.md:{line}: {token}" for line, token in found)
