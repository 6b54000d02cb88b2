"""references.bib -> formatted references (builder.bib)."""
from __future__ import annotations

import re

import pytest

from conftest import DEMO_BIB

from builder.bib import load_bibliography, parse_bibliography
from builder.errors import BuildError

PATH = "content/references.bib"


def test_demo_bibliography_parses_every_entry(refs):
    assert list(refs) == ["power2022", "nanda2023", "liu2022", "bender2021", "olah2022"]
    lines = DEMO_BIB.splitlines()
    for ref in refs.values():  # the recorded line is the entry's own @type{key, line
        assert lines[ref.line - 1].strip().endswith("{" + ref.key + ",")
        assert ref.bibtex.startswith("@") and ref.key in ref.bibtex.splitlines()[0]


def test_reference_formatting(refs):
    html = refs["power2022"].html
    assert html.startswith("A. Power, Y. Burda, H. Edwards, I. Babuschkin, and V. Misra. ")
    assert '<span class="ref-title">Grokking: Generalization Beyond Overfitting on Small Algorithmic Datasets</span>.' in html
    assert "<em>arXiv preprint</em>, 2022." in html
    assert refs["power2022"].links == {"arXiv": "https://arxiv.org/abs/2201.02177"}
    # a title ending in "?" gets no extra full stop
    assert "Too Big?</span> " in refs["bender2021"].html


def test_two_authors_and_et_al():
    text = (
        "@article{two, title={T}, author={Fort, Stanislav and Scherlis, Adam}, year={2019}}\n"
        "@article{many, title={T}, author={A, B and C, D and others}, year={2019}}\n"
    )
    refs = parse_bibliography(text, PATH)
    assert refs["two"].html.startswith("S. Fort and A. Scherlis. ")
    assert refs["many"].html.startswith("B. A et al. ")


def test_latex_accents_and_braces_become_text():
    text = "@article{k, title={The {G}oldilocks Zone}, author={Kram{\\'a}r, J{\\'a}nos}, year={2023}}\n"
    html = parse_bibliography(text, PATH)["k"].html
    text = re.sub(r"<[^>]+>", "", html)
    assert "J. Kramár." in text and "The Goldilocks Zone" in text and "{" not in html


def test_doi_url_prefix_is_normalised_and_url_kept_once():
    text = ("@misc{k, title={T}, author={X, Y}, year={2020}, doi={https://doi.org/10.1/abc}, "
            "url={https://doi.org/10.1/abc}}\n")
    ref = parse_bibliography(text, PATH)["k"]
    assert ref.links == {"doi": "https://doi.org/10.1/abc"}
    assert ref.html.count("<a ") == 1


def test_html_in_fields_is_escaped():
    text = "@misc{k, title={<script>x</script>}, author={X, Y}, year={2020}, url={https://e.org/?a=1&b=2}}\n"
    html = parse_bibliography(text, PATH)["k"].html
    assert "<script>" not in html
    assert 'href="https://e.org/?a=1&amp;b=2"' in html


def test_missing_file_is_an_empty_bibliography(tmp_path):
    assert load_bibliography(tmp_path / "nope.bib") == {}


@pytest.mark.parametrize("text, message", [
    ("@article{a,\n  title = {T}\n  author = {X, Y},\n  year = {2020}\n}\n",
     "3: malformed BibTeX entry: '}' expected (hint: check commas, braces and quotes)"),
    ("@article{a,\n title={T}, author={X, Y}, year={2020}}\n\n@misc{b,\n title = {T} year = {1}\n}\n",
     "5: malformed BibTeX entry: '}' expected (hint: check commas, braces and quotes)"),
    ("@article{a,\n title={T}, author={X, Y}, year={2020}}\n\n@article{a,\n title={T}, author={X, Y}, year={2020}}\n",
     "4: repeated bibliography entry: a (hint: each key must be unique)"),
    ("\n@article{a,\n title={T}, author={X, Y}}\n", '2: entry "a" has no year (hint: add year = {...})'),
    ("@article{a,\n author={X, Y}, year={2020}}\n", '1: entry "a" has no title (hint: add title = {...})'),
    ("@article{a,\n title={T}, year={2020}}\n", '1: entry "a" has no author (hint: add author = {Last, First and ...})'),
])
def test_malformed_entries_name_the_line(text, message):
    with pytest.raises(BuildError) as info:
        parse_bibliography(text, PATH)
    assert str(info.value) == f"{PATH}:{message}"


def test_entry_without_key_still_gets_a_line():
    with pytest.raises(BuildError) as info:
        parse_bibliography("% c\n\n@article{title={T}}\n", PATH)
    assert str(info.value).startswith(f"{PATH}:3: ")


class _CountedText(str):
    """A .bib text that counts the calls that scan all of it (slices are plain str)."""
    scans = 0


for _name in ("count", "splitlines", "split", "find", "rfind", "index"):
    def _counting(self, *args, _orig=getattr(str, _name), **kwargs):
        type(self).scans += 1
        return _orig(self, *args, **kwargs)
    setattr(_CountedText, _name, _counting)


@pytest.mark.parametrize("n", [50, 400])
def test_line_numbers_cost_one_pass_over_the_file_not_one_per_entry(n):
    """Each entry's line, and its url field's, were found by counting or splitting the whole
    text again (quadratic: a 22,000-entry file did not finish in minutes). The number of scans
    of the whole text must not grow with the number of entries."""
    text = "".join(f"@misc{{k{i},\n  title = {{T {i}}},\n  author = {{Doe, Jane}},\n  year = {{2020}},\n"
                   f"  url = {{https://example.org/{i}}}\n}}\n" for i in range(n))
    counted = _CountedText(text)
    _CountedText.scans = 0
    refs = parse_bibliography(counted, PATH)
    assert len(refs) == n and refs[f"k{n - 1}"].line == 6 * (n - 1) + 1
    assert _CountedText.scans <= 2, _CountedText.scans


def test_a_bad_url_late_in_a_long_file_names_its_own_line():
    entries = [f"@misc{{k{i},\n  title = {{T}},\n  author = {{Doe, Jane}},\n  year = {{2020}},\n}}\n" for i in range(300)]
    entries.append("@misc{bad,\n  title = {T},\n  author = {Doe, Jane},\n  year = {2020},\n  url = {javascript:alert(1)}\n}\n")
    with pytest.raises(BuildError) as err:
        parse_bibliography("".join(entries), PATH)
    assert str(err.value).startswith(f"{PATH}:{300 * 5 + 5}: ")
