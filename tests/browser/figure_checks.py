"""What a projected lesson page must satisfy, read from chromium's layout of the page.

Each function returns a list of sentences, one per problem (empty when the page passes), so a test
can collect the problems of every step at both projector sizes and report them together.
tests/browser/test_checks_fail.py shows each of them failing on a figure built to fail.

- `fit_problems`: the step's title, every figure and the question lie wholly on the first screen.
- `overlap_problems`: no two texts of a figure overlap (tick labels, axis titles, subplot titles,
  annotations); no tick label or axis title lies on a plot area; a diagram box's text stays in it.
- `contrast_problems`: every figure text has at least 4.5:1 contrast on the page's white.
- `tick_problems`: every tick label is at least `min_px` high.
"""

from __future__ import annotations

FIT_JS = """() => {
  const box = e => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left,
                                                                  right: r.right}; };
  const main = document.querySelector('[data-testid="stMain"]');
  const title = main.querySelector('h2');
  const q = [...main.querySelectorAll('p')].find(p => /^(Question|Class question|Question for the class)/.test(p.innerText));
  const answer = main.querySelector('input[aria-label="Your answer"]');
  return {title: title && [title.innerText, box(title)], question: q && box(q), answer: answer && box(answer),
          figures: [...main.querySelectorAll('.js-plotly-plot')].map(box),
          scrollX: document.documentElement.scrollWidth > innerWidth + 1};
}"""


def fit_problems(page, width: int, height: int) -> list[str]:
    r = page.evaluate(FIT_JS)
    problems = []
    items = [("the title", r["title"] and r["title"][1]), ("the question", r["question"]),
             ("the answer box", r["answer"])] + [(f"figure {i + 1}", f) for i, f in enumerate(r["figures"])]
    if not r["figures"]:
        problems.append("no figure on the page")
    for name, b in items:
        if b is None:
            problems.append(f"{name} is missing")
        elif b["top"] < 0 or b["bottom"] > height + 0.5 or b["left"] < 0 or b["right"] > width + 0.5:
            problems.append(f"{name} is not on the first screen at {width} x {height}: top {b['top']:.0f}, "
                            f"bottom {b['bottom']:.0f}, left {b['left']:.0f}, right {b['right']:.0f}")
    if r["scrollX"]:
        problems.append(f"the page scrolls sideways at {width} x {height}")
    return problems


# Every text of every figure with its box, kind and colour. A multi-line text is one <text> with
# <tspan> lines: its box is the union. Empty texts (plotly keeps some) are left out.
TEXTS_JS = r"""() => [...document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')].map((gd, fig) => {
  const kind = t => {  // from the nearest group whose class names the part (x2tick, ycbtick, g-xtitle, ...)
    for (let g = t.parentElement; g && g !== gd; g = g.parentElement) {
      const c = g.getAttribute('class') || '';
      if (/(^| )(colorbar|cbaxis|[xy]cbtick)/.test(c)) return 'colorbar';
      if (/(^| )[xy]\d*tick( |$)/.test(c)) return 'tick';
      if (/(^| )g-[xy]\d*title( |$)/.test(c)) return 'axis-title';
      if (/(^| )g-gtitle( |$)/.test(c)) return 'title';
      if (/(^| )annotation( |$)/.test(c)) return 'annotation';
      if (/(^| )legend( |$)/.test(c)) return 'legend';
    }
    return 'other';
  };
  const texts = [...gd.querySelectorAll('.main-svg text, .infolayer text')].filter(t => t.textContent.trim()
      && getComputedStyle(t).display !== 'none' && !t.closest('.hoverlayer')).map(t => {
    const r = t.getBoundingClientRect();
    const s = getComputedStyle(t);
    return {text: t.textContent.trim().slice(0, 40), kind: kind(t), box: [r.left, r.top, r.right, r.bottom],
            fill: s.fill, size: parseFloat(s.fontSize)};
  }).filter(t => t.box[2] > t.box[0] && t.box[3] > t.box[1]);
  const areas = [...gd.querySelectorAll('.nsewdrag')].map(d => { const r = d.getBoundingClientRect();
                                                                  return [r.left, r.top, r.right, r.bottom]; });
  const boxes = [...gd.querySelectorAll('.layer-above path, .layer-below path, .shapelayer path')].map(p => {
    const r = p.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })
    .filter(b => b[2] - b[0] > 30 && b[3] - b[1] > 20);
  const images = gd.querySelectorAll('.imagelayer image, image').length;
  return {fig, texts, areas, boxes, images};
})"""


def _overlap(a, b, slack: float = 1.0) -> bool:
    return a[0] < b[2] - slack and b[0] < a[2] - slack and a[1] < b[3] - slack and b[1] < a[3] - slack


def _inside(a, b, slack: float = 1.0) -> bool:
    return a[0] >= b[0] - slack and a[1] >= b[1] - slack and a[2] <= b[2] + slack and a[3] <= b[3] + slack


def figure_texts(page) -> list[dict]:
    return page.evaluate(TEXTS_JS)


def overlap_problems(figures: list[dict], where: str = "") -> list[str]:
    problems = []
    for f in figures:
        texts, name = f["texts"], f"{where}figure {f['fig'] + 1}"
        for i, a in enumerate(texts):
            for b in texts[i + 1:]:
                if _overlap(a["box"], b["box"]):
                    problems.append(f"{name}: {a['kind']} '{a['text']}' overlaps {b['kind']} '{b['text']}'")
            if a["kind"] in ("tick", "axis-title", "title"):
                for area in f["areas"]:
                    if _overlap(a["box"], area, slack=2.0):
                        problems.append(f"{name}: {a['kind']} '{a['text']}' lies on a plot area")
                        break
            if a["kind"] == "annotation":
                for box in f["boxes"]:
                    if _overlap(a["box"], box) and not _inside(a["box"], box):
                        problems.append(f"{name}: '{a['text']}' runs out of its box")
                        break
    return problems


def _luminance(rgb) -> float:
    def chan(c):
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = rgb
    return 0.2126 * chan(r) + 0.7152 * chan(g) + 0.0722 * chan(b)


def contrast(fill: str, background=(255, 255, 255)) -> float:
    """WCAG contrast of a CSS rgb()/rgba() colour (alpha blended on the background) against it."""
    parts = [float(p) for p in fill[fill.index("(") + 1:fill.index(")")].replace("/", ",").split(",")]
    alpha = parts[3] if len(parts) > 3 else 1.0
    rgb = [alpha * c + (1 - alpha) * bg for c, bg in zip(parts[:3], background, strict=True)]
    hi, lo = sorted((_luminance(rgb), _luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def contrast_problems(figures: list[dict], where: str = "", minimum: float = 4.5) -> list[str]:
    """Text drawn on the white page (not inside a heatmap cell or over a picture: annotations of a
    figure with images, and cell labels, choose their own colour against the cell)."""
    problems = []
    for f in figures:
        for t in f["texts"]:
            if t["kind"] == "annotation" and any(_inside(t["box"], a) for a in f["areas"]):
                continue  # a label on a cell: its colour is chosen against the cell
            ratio = contrast(t["fill"])
            if ratio < minimum:
                problems.append(f"{where}figure {f['fig'] + 1}: {t['kind']} '{t['text']}' is {t['fill']}, "
                                f"{ratio:.1f}:1 on white")
    return problems


def tick_problems(figures: list[dict], where: str = "", min_px: float = 16) -> list[str]:
    return [f"{where}figure {f['fig'] + 1}: tick '{t['text']}' is {t['size']:.0f} px"
            for f in figures for t in f["texts"] if t["kind"] == "tick" and t["size"] < min_px - 0.01]
