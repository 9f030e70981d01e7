"""Checks run inside the page: text contrast (WCAG 2.x AA), an accessible name on every control, and a layout
that fits the viewport without horizontal scrolling. Each returns the offending elements, so a failure names them."""

from __future__ import annotations

import re
from typing import Any

#: The dashboard's language select, whichever language it speaks (the checks are run in each).
LANGUAGE_LABEL = re.compile("^(Language|Langue|Taal|Sprache)$")
CONTRAST = """() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(parseFloat);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const over = (top, base) => ({ r: top.r * top.a + base.r * (1 - top.a), g: top.g * top.a + base.g * (1 - top.a),
                                 b: top.b * top.a + base.b * (1 - top.a) });
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    return layers.reverse().reduce((base, layer) => over(layer, base), { r: 255, g: 255, b: 255 });
  };
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    const shown = el.checkVisibility({ opacityProperty: true, visibilityProperty: true });
    if (el.closest("svg") || el.disabled || !shown) continue;
    if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const style = getComputedStyle(el);
    const bg = background(el);
    const fg = over(parse(style.color), bg);
    const [l1, l2] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (parseInt(style.fontWeight, 10) >= 700 && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) bad.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className}: ` +
      `"${el.textContent.trim().slice(0, 40)}" ${ratio.toFixed(2)}`);
  }
  return bad;
}"""

UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea, button")]
  .filter((el) => el.type !== "hidden" && el.checkVisibility())
  .filter((el) => !((el.labels && el.labels.length) || el.getAttribute("aria-label") ||
                    el.getAttribute("aria-labelledby") || (el.tagName === "BUTTON" && el.textContent.trim())))
  .map((el) => el.id || el.name || el.outerHTML.slice(0, 80))"""

OVERFLOW = """() => ({ width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight,
                        viewportWidth: innerWidth, viewportHeight: innerHeight })"""


async def problems(page: Any) -> dict[str, Any]:
    """Empty lists and a fitting size when the page passes."""
    size = await page.evaluate(OVERFLOW)
    return {
        "low_contrast": await page.evaluate(CONTRAST),
        "unlabelled_controls": await page.evaluate(UNLABELLED),
        "horizontal_overflow": size["width"] > size["viewportWidth"],
        "vertical_overflow": size["height"] > size["viewportHeight"],
    }


NONE = {"low_contrast": [], "unlabelled_controls": [], "horizontal_overflow": False, "vertical_overflow": False}
