"""Facts and claims: what the prose says about our runs, computed and checked on every build.

A **fact** is a named value computed from frozen artifacts, defined once beside its section's
loaders in a figure module:

    @fact("opening.test-99", sources=("mod-top",))
    def test_99(ctx):
        return first_step(run(ctx), "test_acc", 0.99)

The prose writes it as a span whose text is the fallback, `[27,655]{fact="opening.test-99"}`:
the page shows the computed value in the declared format, and `make check` lists every written
fallback that differs from it. Captions and descriptions of figures use the same span syntax
(`fill`), and a chart's titles call the fact's function.

A **claim** is a qualitative sentence about the data, checked on every build:

    @claim("progress.test-loss-peaks", sources=("mod-top",))
    def test_loss_peaks(ctx):
        ...
        return peak_step < end_step and late < 0.5 * peak, f"peak {peak:.3g} at step {s:,}, ..."

and attached to its sentence: `[the test loss peaks, then falls]{claim="progress.test-loss-peaks"}`.
A claim that does not hold stops the build at the sentence's path:line with what was measured.
The claim tests (tests/test_claims.py) evaluate every registered claim and fact against the
artifacts under test, so `make verify` runs the same checks on fresh ones.

Both are registered like figures (builder.figures.Registry collects them from the modules), and
both say which experiments they read (`sources`): reading another stops the build, so that
`make verify` knows which claims a retrain touches.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable

from builder.errors import BuildError, did_you_mean
from builder.figures.context import BuildContext, loader

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve"]


@dataclass(frozen=True)
class Fact:
    name: str
    value: Callable[[BuildContext], object]  # memoized per build (a loader)
    format: Callable[[object], str]
    sources: tuple
    doc: str


@dataclass(frozen=True)
class Claim:
    name: str
    check: Callable[[BuildContext], tuple]  # -> (holds, what was measured)
    sources: tuple
    doc: str


def _formatter(fmt) -> Callable[[object], str]:
    if callable(fmt):
        return fmt
    return lambda value: fmt.format(value)


def fact(name: str, fmt="{:,}", *, sources: tuple):
    """Declare `fn(ctx)` as the fact `name`; `fmt`: a str.format pattern or a function of the
    value (see `words`, `listed`)."""
    def wrap(fn):
        load = loader(fn)
        load.__fact__ = Fact(name, load, _formatter(fmt), tuple(sources), (fn.__doc__ or "").strip())
        return load
    return wrap


def claim(name: str, *, sources: tuple):
    """Declare `fn(ctx) -> (holds: bool, measured: str)` as the claim `name`."""
    def wrap(fn):
        fn.__claim__ = Claim(name, fn, tuple(sources), (fn.__doc__ or "").strip())
        return fn
    return wrap


# -- formats --------------------------------------------------------------------------------
def words(n) -> str:
    """3 -> "three" (a count in prose), 13 -> "13"."""
    n = int(n)
    return WORDS[n] if 0 <= n < len(WORDS) else f"{n:,}"


def listed(values, fmt="{}") -> str:
    """[21, 24, 29] -> "21, 24 and 29"."""
    items = [fmt.format(v) for v in values]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def percent(digits: int = 0) -> Callable[[object], str]:
    """0.3152 -> "32%" (digits=0)."""
    return lambda v: f"{100 * float(v):.{digits}f}%"


def sci(digits: int = 1) -> Callable[[object], str]:
    """0.0000027 -> "2.7 × 10⁻⁶", as the prose writes small numbers."""
    sup = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")

    def show(v) -> str:
        mantissa, exponent = f"{float(v):.{digits}e}".split("e")
        return f"{mantissa} × 10{str(int(exponent)).translate(sup)}"
    return show


def rounded(to: int) -> Callable[[object], str]:
    """27,655 -> "28,000" (to=1000): a step written "around" in prose."""
    return lambda v: f"{int(round(float(v) / to) * to):,}"


def rate(k_n) -> str:
    """(7, 12) -> "7 of 12 (95% interval 32–81%)": a count of runs out of a few, with its Wilson
    interval (builder.analysis.outcomes.wilson)."""
    from builder.analysis.outcomes import wilson

    k, n = (int(v) for v in k_n)
    low, high = wilson(k, n)
    return f"{k:,} of {n:,} (95% interval {100 * low:.0f}–{100 * high:.0f}%)"


# -- evaluation -----------------------------------------------------------------------------
class Book:
    """The facts and claims of a registry, evaluated against one build's context."""

    def __init__(self, facts: dict, claims: dict, ctx: BuildContext):
        self.facts, self.claims, self.ctx = facts, claims, ctx
        self.measured: dict[str, str] = {}  # claim -> what it measured, this build
        self.seconds = 0.0  # spent computing facts and checking claims (make bench)
        self.evaluated = 0

    def _read(self, what: str, item, make, path=None, line=None):
        read = self.ctx.reading()
        t0 = time.perf_counter()
        try:
            value = make()
        except BuildError:
            raise
        except Exception as exc:  # a module bug: name the fact, keep it one line
            raise BuildError(path, line, f'{what} "{item.name}" failed: {type(exc).__name__}: {exc} '
                             "(hint: call its function alone in Python to see the traceback)") from exc
        finally:
            self.seconds += time.perf_counter() - t0
            self.evaluated += 1
        undeclared = sorted(read - set(item.sources))
        if undeclared:
            raise BuildError(path, line, f'{what} "{item.name}" reads experiment "{undeclared[0]}", which its '
                             "sources do not name (hint: add it to sources=(...))")
        return value

    def lookup(self, table: dict, kind: str, name: str, path=None, line=None):
        if name not in table:
            raise BuildError(path, line, f'unknown {kind} "{name}"' + did_you_mean(name, table))
        return table[name]

    def value(self, name: str, path=None, line=None):
        item = self.lookup(self.facts, "fact", name, path, line)
        return self._read("fact", item, lambda: item.value(self.ctx), path, line)

    def text(self, name: str, path=None, line=None) -> str:
        value = self.value(name, path, line)
        return self.facts[name].format(value)

    def check(self, name: str, path=None, line=None) -> tuple[bool, str]:
        item = self.lookup(self.claims, "claim", name, path, line)
        holds, measured = self._read("claim", item, lambda: item.check(self.ctx), path, line)
        self.measured[name] = str(measured)
        return bool(holds), str(measured)


SPAN = re.compile(r'\[([^\[\]]*)\]\{fact="([^"]+)"\}')


def fill(text: str, book: Book | None, where=(None, None)) -> str:
    """`text` (a caption, a description) with each `[written]{fact="name"}` replaced by the
    fact's value; without a book (no facts in this build), by its written fallback."""
    if book is None:
        return SPAN.sub(lambda m: m.group(1), text)
    return SPAN.sub(lambda m: book.text(m.group(2), *where), text)


# -- typed numbers ---------------------------------------------------------------------------
# A number written in prose that is not a fact. What the scan skips: math, code, link targets,
# attribute values, front matter, footnote labels, and the fact spans themselves.
NUMBER = re.compile(r"(?<![\w.^@#-])(?:10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+|\d(?:[\d,]*\d)?(?:\.\d+)?(?:\s?×\s?10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)?)%?"
                    r"(?![\w⁻⁰¹²³⁴⁵⁶⁷⁸⁹])")
_SKIPPED = re.compile(
    r"\$\$.*?\$\$|\$[^$\n]+\$|`[^`\n]*`|\{\{<.*?>\}\}|\]\([^)]*\)|\{[^{}\n]*\}|\[\^[^\]]+\]|"
    r"\[[^\[\]]*\]\{fact=\"[^\"]+\"\}|<[^>\n]+>",
    re.DOTALL)


def typed_numbers(text: str, allowed: set[str]) -> list[tuple[int, str]]:
    """(line, number) for each number written in Markdown `text` outside the skipped parts
    and not in `allowed` (constants of the task, years, counts of the article's own parts)."""
    body_start = 0
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        body_start = end + 4 if end > 0 else 0
    kept = list(text)
    for m in _SKIPPED.finditer(text, body_start):
        for i in range(m.start(), m.end()):
            if kept[i] != "\n":
                kept[i] = " "
    plain = "".join(kept)
    found = []
    for m in NUMBER.finditer(plain, body_start):
        token = m.group(0)
        if token.rstrip("%") in allowed or token in allowed:
            continue
        found.append((plain.count("\n", 0, m.start()) + 1, token))
    return found


def filled(fig, book: Book | None, where=(None, None)):
    """The figure with the facts in its caption and description filled in (itself when it has
    none): done when a page places it, so an unplaced figure's facts are never computed."""
    import dataclasses

    if not (SPAN.search(fig.caption) or SPAN.search(fig.description)):
        return fig
    return dataclasses.replace(fig, caption=fill(fig.caption, book, where), description=fill(fig.description, book, where))


def drift(doc) -> list[str]:
    """One line per fact of a rendered page whose written fallback differs from the data."""
    from builder.markdown.facts import same

    return [f"{doc.path}:{line}: written {written.strip()!s}, the data says {shown} (fact {name})"
            for name, line, written, shown in doc.facts if not same(written, shown)]


def constants(settings) -> set[str]:
    """Every number written in experiments.toml (a parsed dict), in the ways prose writes it
    (50000 -> "50000", "50,000"; 0.4 -> "0.4", "40%"): the settings of a run are not results."""
    out: set[str] = set()

    def walk(v) -> None:
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.update({f"{v}", f"{v:g}", f"{v:,}"})
            if float(v).is_integer():
                out.add(f"{int(v):,}")
            if isinstance(v, float) and 0 < v < 1:
                out.add(f"{100 * v:g}%")
            if isinstance(v, float) and v != 0 and not 1e-2 <= abs(v) < 1e5:
                out.add(sci(0)(v).replace("1 × ", "") if f"{v:.0e}".startswith("1e") else sci(0)(v))
    walk(settings)
    return out
