"""MkDocs hooks of the docs site (docs/mkdocs.yml): what mkdocs-jupyter's pages need to work offline and with nbdev.

- mkdocs-jupyter's template loads MathJax with an empty `src` (and Mermaid from a CDN when a page has diagrams): both
  are removed, KaTeX (shipped with the site) typesets the math.
- The table of contents is made from the page's headings, doc entries included: mkdocs-jupyter makes it from another
  rendering of the notebook, whose ids differ when a heading holds code or is repeated.
- nbdev links a method to `#class.method`, the id Quarto gives its heading; mkdocs-jupyter drops the dot. The headings
  of dotted names get Quarto's id; a repeated id gets a suffix (`_1`), so that every anchor is unique.
- Each heading's permalink is Material's (`headerlink`), so that the search's titles are the headings' text.
"""
from __future__ import annotations
import html as _html
import re

from mkdocs.structure.toc import get_toc

_MATHJAX = re.compile(r'<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->', re.S)
_MERMAID = re.compile(r'<script type="module">\s*document\.addEventListener\("DOMContentLoaded", async \(\) => \{\s*'
                      r'const diagrams = document\.querySelectorAll\("\.jp-Mermaid.*?</script>', re.S)
_HEADING = re.compile(r'<h([1-6]) id="([^"]*)">(.*?)<a class="anchor-link" href="#[^"]*">[^<]*</a></h\1>', re.S)
_NAME = re.compile(r'[A-Za-z_]\w*(?:\.\w+)+')  # a dotted name: `Class.method`, `module.function`
TOC_DEPTH = 3
_AFTER_SOURCE_LINK = re.compile(r'class="doc-source-link"[^>]*>source</a></p>\s*$')


def _headings(html: str) -> tuple[str, list[dict]]:
    """The page's headings with unique ids (Quarto's id for dotted names), and the table of contents' tokens: every
    heading down to TOC_DEPTH, the doc entries included, in page order. A doc entry (the heading after nbdev's `source`
    link) keeps its name as its id, which nbdev's links point to; a section heading with the same id gets a suffix."""
    def parse(m):
        level, hid, inner = int(m.group(1)), m.group(2), m.group(3)
        text = _html.unescape(re.sub(r'<[^>]+>', '', inner)).strip()
        if _NAME.fullmatch(text): hid = text.lower()
        entry = bool(_AFTER_SOURCE_LINK.search(html[max(0, m.start() - 400):m.start()]))
        return level, hid or 'section', inner, entry
    found = [parse(m) for m in _HEADING.finditer(html)]
    taken, flat, ids = {hid for _, hid, _, entry in found if entry}, [], iter(found)
    seen = set()
    def fix(m):
        level, hid, inner, entry = next(ids)
        base, n = hid, 0
        while hid in seen or (not entry and hid in taken):
            n += 1
            hid = f'{base}_{n}'
        seen.add(hid)
        if level <= TOC_DEPTH:  # the heading's text, its links left out (the entry is a link itself)
            flat.append({'level': level, 'id': hid, 'name': re.sub(r'</?a\b[^>]*>', '', inner).strip(), 'children': []})
        # Material's permalink, which its search leaves out of the section's title (`triple_loss`, not `triple_loss¶`)
        link = f'<a class="headerlink" href="#{hid}" title="Permanent link">¶</a>'
        return f'<h{level} id="{hid}">{inner}{link}</h{level}>'
    html = _HEADING.sub(fix, html)
    tokens, stack = [], []
    for t in flat:
        while stack and stack[-1]['level'] >= t['level']: stack.pop()
        (stack[-1]['children'] if stack else tokens).append(t)
        stack.append(t)
    return html, tokens


def on_page_content(html, page, config, files):
    if not page.file.src_uri.endswith('.ipynb'): return html
    html = _MERMAID.sub('', _MATHJAX.sub('', html))
    html, tokens = _headings(html)
    page.toc = get_toc(tokens)
    return html
