"""Every fact and claim of the article, evaluated against the artifacts under test.

These are the article's claim tests: one mechanism (builder.facts) serves the build, which
checks each claim the prose attaches to a sentence, and these tests, which evaluate every
registered claim and fact against the committed artifacts, or, under `python -m builder verify`,
against freshly retrained ones ($BUILDER_FREEZE_ROOT; each test is marked `frozen` with the
experiments it reads, so verify runs those whose experiments it retrained).
"""
from __future__ import annotations

import pytest

from builder.facts import Book, drift
from builder.figures import default_registry
from builder.figures.context import BuildContext
from builder.paths import ROOT, frozen_root

REGISTRY = default_registry(BuildContext(ROOT, train=False))


@pytest.fixture(scope="module")
def book():
    ctx = BuildContext(frozen_root(), train=False)
    return Book(REGISTRY.facts, REGISTRY.claims, ctx)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.frozen(*c.sources)) for n, c in sorted(REGISTRY.claims.items())])
def test_claim_holds(book, name):
    holds, measured = book.check(name)
    assert holds, f"claim {name} does not hold: {measured}"


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.frozen(*f.sources)) for n, f in sorted(REGISTRY.facts.items())])
def test_fact_is_computed(book, name):
    assert book.text(name).strip()


def test_every_claim_and_fact_names_its_sources():
    for item in list(REGISTRY.facts.values()) + list(REGISTRY.claims.values()):
        assert item.sources and item.doc, item.name


def test_the_committed_prose_matches_its_data(article_doc):
    """No written fallback differs from the committed artifacts (after a retrain, update the
    text: `make check` lists each one)."""
    doc = article_doc[0]
    assert doc.facts, "the article uses no facts"
    assert drift(doc) == []
