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
RANGES = [
    (0x0020, 0x007E), (0x00A0, 0x00FF),  # Latin
    (0x0391, 0x03C9), (0x03D0, 0x03F6),  # Greek
    (0x2000, 0x206F),  # punctuation and spaces
    (0x2100, 0x214F),  # letterlike (ℝ, ℓ ...)
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # mathematical operators
    (0x2300, 0x23FF),  # brackets, bracket pieces, over/under braces
    (0x27C0, 0x27FF), (0x2980, 0x29FF), (0x2A00, 0x2AFF),  # more math symbols and brackets
    (0x1D400, 0x1D467),  # mathematical bold and italic Latin (x, W ...)
    (0x1D538, 0x1D56B),  # double-struck (R for the reals)
    (0x1D6A8, 0x1D6E1), (0x1D6E2, 0x1D71B),  # bold and italic Greek
]


def main() -> int:
    from fontTools import subset
    import ziamath  # noqa: F401  (only for the font file it ships)

    source = Path(ziamath.__file__).parent / "fonts" / "STIXTwoMath-Regular.ttf"
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]
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
