"""Make the math font the page ships: a subset of STIX Two Math as WOFF2.

Chromium lays out MathML itself, but it can only stretch parentheses (pmatrix, \\left( \\right))
and draw large operators with a font that has an OpenType MATH table; common system fonts do not.
So the site carries its own: STIX Two Math (SIL Open Font License 1.1, by the STIX Fonts
project), taken from the ziamath wheel on PyPI, cut down to the characters math in this article
can use, with the MATH table and its stretchy variants kept.

Run once after changing the character ranges; the result is committed:
    .venv/bin/pip install ziamath==0.13 fonttools==4.68.0 brotli==1.2.1
    .venv/bin/python -m builder.render.fonts
"""
from __future__ import annotations

import sys
from pathlib import Path

OUT = Path(__file__).parent / "static" / "stix-two-math-subset.woff2"
RANGES = [  # what math in a grokking article uses; tests/test_math.py checks the built page against it
    (0x0020, 0x007E), (0x00A0, 0x00FF),  # Latin
    (0x0391, 0x03C9), (0x03D0, 0x03F6),  # Greek
    (0x2000, 0x206F),  # punctuation and spaces (‖, …, primes)
    (0x2102, 0x2102), (0x210E, 0x210E), (0x2113, 0x2113), (0x2115, 0x2115), (0x211A, 0x211A),
    (0x211D, 0x211D), (0x2124, 0x2124),  # letterlike: ℂ, ℎ (italic h), ℓ, ℕ, ℚ, ℝ, ℤ
    (0x2190, 0x2199), (0x21A6, 0x21A6), (0x21D0, 0x21D5),  # arrows: ← → ↦ ⇒ ⇔ ...
    (0x2200, 0x22FF),  # mathematical operators
    (0x2308, 0x230B), (0x239B, 0x23B3), (0x23DC, 0x23E1),  # ceilings, floors, bracket pieces, over/under braces
    (0x27E8, 0x27EF), (0x27F5, 0x27FF),  # angle brackets, long arrows
    (0x2A00, 0x2A06),  # n-ary circled operators
    (0x1D434, 0x1D467),  # mathematical italic Latin: a one-letter <mi> (x, W ...) is drawn with these
    (0x1D6E2, 0x1D71B),  # mathematical italic Greek (θ, π as variables)
]


def main() -> int:
    from fontTools import subset
    import ziamath  # noqa: F401  (only for the font file it ships)

    source = Path(ziamath.__file__).parent / "fonts" / "STIXTwoMath-Regular.ttf"
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["ssty", "flac", "dtls", "ccmp", "locl", "kern", "mark", "mkmk"]  # what MathML layout asks for
    options.name_IDs = ["*"]  # keep the copyright and license records
    options.notdef_outline = True
    font = subset.load_font(str(source), options)
    sub = subset.Subsetter(options)
    sub.populate(unicodes=[c for lo, hi in RANGES for c in range(lo, hi + 1)])
    sub.subset(font)
    subset.save_font(font, str(OUT), options)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
