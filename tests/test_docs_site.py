"""The docs site, built without Quarto (`make docs`: scripts/build_docs.py) and browsed in Chromium.

The site is built once for the module (only when a source changed since the last build: `make test` has just built
it), then checked twice. Without a browser: its navigation is nbs/sidebar.yml's (pages, order, sections), no widget is
left, no page loads anything from another site, and a notebook that fails is named with its cell. In a real browser
(Playwright driving Debian's Chromium, as tests/test_browser.py does), over a local HTTP server, all else blocked:
each page opens without a console error, a broken image or an unread formula; every internal link leads to a page and
an anchor that exist; the sidebar lists the pages in the sidebar's order and groups; the search finds `triple_loss`;
every exported name has its entry, with its signature and docments. Screenshots go to test-artifacts/docs/.

Needs Chromium and Playwright (scripts/install_browser.sh) for the tests marked `browser`.
"""
from __future__ import annotations
import dataclasses, functools, http.server, importlib.util, inspect, json, os, re, shutil, subprocess, sys, threading
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import nbformat, pytest, yaml

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
SITE = ROOT/'_site'
WORK = ROOT/'build'/'docs'
ARTIFACTS = ROOT/'test-artifacts'/'docs'
CHROMIUM = os.environ.get('CHROMIUM_PATH', '/usr/bin/chromium')
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--no-first-run']
WIDGET_MIME = 'application/vnd.jupyter.widget-view+json'
SECOND = 1000  # Playwright counts milliseconds

_spec = importlib.util.spec_from_file_location('build_docs', ROOT/'scripts'/'build_docs.py')
build_docs = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(build_docs)


@pytest.fixture(scope='module')
def site():
    "The built site (built now if a source changed since the last build) and what the build reported."
    r = subprocess.run([sys.executable, str(ROOT/'scripts'/'build_docs.py'), '--if-stale'], capture_output=True,
                       text=True, env={**os.environ, 'HF_HUB_OFFLINE': '1'})
    assert r.returncode == 0, f'the docs build failed:\n{r.stderr[-6000:]}'
    return json.loads((WORK/'build.json').read_text())


def _modidx() -> dict:
    spec = importlib.util.spec_from_file_location('_modidx_of_site_test', ROOT/'distil_edu'/'_modidx.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod.d['syms']


def exported_entries() -> dict[str, tuple[str, str]]:
    "{module.name: (page, anchor)} of every public top-level function and class, as `_modidx.py` links them."
    found = {}
    for module, syms in _modidx().items():
        for full, (link, _) in syms.items():
            name = full[len(module)+1:]
            if '.' in name or name.startswith('_'): continue
            page, _, anchor = link.partition('#')
            found[full] = (page, anchor)
    return found


# ---------------------------------------------------------------------------------------------------------------------
# Without a browser

def test_navigation_is_the_sidebar(site):
    """MkDocs' nav (build/docs/mkdocs.yml), read back into notebooks, is nbs/sidebar.yml: same pages, same order, same
    sections; every notebook of nbs/ is in it, and Quarto reads the same sidebar (nbdev_docs keeps working)."""
    sidebar = build_docs.sidebar_tree(NBS/'sidebar.yml')
    nav = yaml.safe_load((WORK/'mkdocs.yml').read_text())['nav']
    assert build_docs.nav_tree(nav, site['pages']) == sidebar, 'the site\'s navigation differs from nbs/sidebar.yml'
    notebooks = sorted(p.name for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))
    listed = build_docs.tree_files(sidebar)
    assert sorted(listed) == notebooks, f'nbs/sidebar.yml should list every notebook once: {listed} vs {notebooks}'
    assert 'sidebar.yml' in yaml.safe_load((NBS/'_quarto.yml').read_text()).get('metadata-files', [])


def test_sections_become_groups(tmp_path):
    "A sidebar with nbdev sections gives MkDocs groups with the same titles, pages and order, and reads back the same."
    (tmp_path/'sidebar.yml').write_text(yaml.safe_dump({'website': {'sidebar': {'contents': [
        'index.ipynb',
        {'section': 'Core track', 'contents': ['00_a.ipynb', {'section': 'Deeper', 'contents': ['01_b.ipynb']}]},
        {'section': 'Experiments', 'contents': [{'href': '02_c.ipynb', 'text': 'C'}]}]}}}))
    pages = {n: {'page': p, 'title': t} for n, p, t in [
        ('index.ipynb', 'index.html', 'Home'), ('00_a.ipynb', 'a.html', 'A'), ('01_b.ipynb', 'b.html', 'B'),
        ('02_c.ipynb', 'c.html', 'C')]}
    tree = build_docs.sidebar_tree(tmp_path/'sidebar.yml')
    nav = build_docs.mkdocs_nav(tree, pages)
    assert nav == [{'Home': 'index.ipynb'}, {'Core track': [{'A': 'a.ipynb'}, {'Deeper': [{'B': 'b.ipynb'}]}]},
                   {'Experiments': [{'C': 'c.ipynb'}]}]
    assert build_docs.nav_tree(nav, pages) == tree == [
        'index.ipynb',
        {'section': 'Core track', 'contents': ['00_a.ipynb', {'section': 'Deeper', 'contents': ['01_b.ipynb']}]},
        {'section': 'Experiments', 'contents': ['02_c.ipynb']}]


def test_links_images_and_no_cdn(site):
    "Every internal link and image of the site exists, anchors included, and no page loads a file from another site."
    assert build_docs.check_site(SITE) == []
    for page in SITE.glob('*.html'):
        text = page.read_text(encoding='utf-8')
        assert not re.search(r'<script\b[^>]*mathjax', text, re.I), f'{page.name} still loads MathJax'
        assert not re.search(r'<(script|link|img)\b[^>]*\b(src|href)=["\'](https?:)?//', text), \
            f'{page.name} loads a file from another site'


def test_widgets_replaced_by_a_note(site):
    "Each widget output of a chapter is, on its page, a note that the widget runs in JupyterLab (and a static picture)."
    for name, meta in site['pages'].items():
        outputs = [o for c in nbformat.read(NBS/name, as_version=4).cells for o in c.get('outputs', [])]
        widgets = sum(WIDGET_MIME in o.get('data', {}) for o in outputs)
        html = (SITE/meta['page']).read_text(encoding='utf-8')
        assert html.count('class="widget-note"') == widgets, f'{meta["page"]}: {widgets} widget(s) in {name}'
        assert WIDGET_MIME not in html and 'jupyter-widgets' not in html


def _write_nb(path: Path, cells: list):
    nb = nbformat.v4.new_notebook(cells=cells, metadata={'kernelspec': {'name': 'python3', 'language': 'python',
                                                                          'display_name': 'Python 3'}})
    nbformat.write(nb, path)


def test_bad_notebooks_are_named_with_their_cell(tmp_path):
    """A notebook whose cell fails while nbdev processes it is named with the cell and its error, a notebook that is
    not JSON with the place of the error, and the build exits non-zero (on a copy of the repository's settings and
    library)."""
    root = tmp_path/'repo'
    (root/'nbs').mkdir(parents=True)
    shutil.copy2(ROOT/'settings.ini', root/'settings.ini')
    shutil.copytree(ROOT/'distil_edu', root/'distil_edu', ignore=shutil.ignore_patterns('__pycache__'))
    for f in ('_quarto.yml', 'nbdev.yml'): shutil.copy2(NBS/f, root/'nbs'/f)
    new_md, new_code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    _write_nb(root/'nbs'/'index.ipynb', [new_md('# Home\n\n> The home page.')])
    _write_nb(root/'nbs'/'01_bad.ipynb', [
        new_md('# Bad\n\n> A chapter that breaks.'), new_code('#| default_exp bad_docs'),
        new_code('#| export\ndef ok(): pass\nraise ValueError("broken on purpose")')])
    (root/'nbs'/'02_broken.ipynb').write_text('{"cells": [\n  {"cell_type": "markdown" "source": []}\n]}')
    (root/'nbs'/'sidebar.yml').write_text(yaml.safe_dump({'website': {'sidebar': {'contents': [
        'index.ipynb', '01_bad.ipynb', '02_broken.ipynb']}}}))
    r = subprocess.run([sys.executable, str(ROOT/'scripts'/'build_docs.py'), '--root', str(root), '--site',
                        str(tmp_path/'site'), '--work', str(tmp_path/'work')], capture_output=True, text=True,
                       env={**os.environ, 'HF_HUB_OFFLINE': '1'}, timeout=600)
    assert r.returncode != 0
    assert 'nbs/01_bad.ipynb, cell 2: ValueError: broken on purpose' in r.stderr, r.stderr
    assert 'raise ValueError("broken on purpose")' in r.stderr
    assert re.search(r'nbs/02_broken\.ipynb: not a valid notebook \(JSON error at line 2, column \d+', r.stderr), \
        r.stderr
    assert not (tmp_path/'site'/'index.html').exists()


# ---------------------------------------------------------------------------------------------------------------------
# In a real browser

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


@pytest.fixture(scope='module')
def server(site):
    "The site over HTTP on 127.0.0.1 (search needs HTTP), for the module's tests."
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(SITE)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}/'
    httpd.shutdown()


@pytest.fixture(scope='module')
def browser():
    try: from playwright.sync_api import sync_playwright
    except ImportError: pytest.fail('the playwright package is missing: run scripts/install_browser.sh', pytrace=False)
    if not Path(CHROMIUM).exists():
        pytest.fail(f'no Chromium at {CHROMIUM}: run scripts/install_browser.sh', pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def _new_page(browser, server: str, problems: list):
    "A page that records console errors, page errors, failed or refused requests, and blocks every other site."
    page = browser.new_page(viewport={'width': 1400, 'height': 1000})
    page.set_default_timeout(30*SECOND)
    page.route('**/*', lambda route: route.continue_() if route.request.url.startswith(server)
               else (problems.append(f'request to another site: {route.request.url}'), route.abort()))
    page.on('console', lambda m: problems.append(f'console {m.type}: {m.text}') if m.type == 'error' else None)
    page.on('pageerror', lambda e: problems.append(f'page error: {e}'))
    page.on('requestfailed', lambda r: problems.append(f'failed request: {r.url}'))
    page.on('response', lambda r: problems.append(f'HTTP {r.status}: {r.url}') if r.status >= 400 else None)
    return page


_PAGE_FACTS = """() => {
  const content = document.querySelector('.md-content');
  const texts = [];  // the page's text outside code, where TeX would be left unread
  const walker = document.createTreeWalker(content, NodeFilter.SHOW_TEXT, {acceptNode: n =>
    n.parentElement.closest('pre, code, script, style, .katex') ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  while (walker.nextNode()) texts.push(walker.currentNode.textContent);
  const text = texts.join(' ');
  return {
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    links: [...content.querySelectorAll('a[href]')].map(a => a.href),
    broken_images: [...document.querySelectorAll('img')].filter(i => !i.complete || !i.naturalWidth).map(i => i.src),
    images: content.querySelectorAll('img').length,
    tables: content.querySelectorAll('table').length,
    katex: content.querySelectorAll('.katex').length,
    katex_errors: [...content.querySelectorAll('.katex-error')].map(e => e.textContent),
    raw_display_math: (text.match(/\\$\\$/g) || []).length,
    cells: content.querySelectorAll('.jp-Cell').length,
    open_details: content.querySelectorAll('details[open]').length,
    details: content.querySelectorAll('details').length,
  };
}"""


@pytest.fixture(scope='module')
def visited(site, server, browser):
    "Every page of the site, opened in Chromium once: {page: facts} and the problems seen while loading them."
    facts, problems = {}, {}
    for meta in site['pages'].values():
        found = []
        page = _new_page(browser, server, found)
        page.goto(server + meta['page'], wait_until='networkidle')
        page.wait_for_function('document.fonts.status === "loaded"')
        facts[meta['page']] = page.evaluate(_PAGE_FACTS)
        problems[meta['page']] = found
        page.close()
    return facts, problems


@pytest.mark.browser
def test_every_page_opens_cleanly(site, visited):
    "No console error, failed request or broken image; the math is typeset (no `$$` left, no KaTeX error)."
    facts, problems = visited
    bad = []
    for name, meta in site['pages'].items():
        page, f = meta['page'], facts[meta['page']]
        bad += [f'{page}: {p}' for p in problems[page]]
        bad += [f'{page}: broken image {src}' for src in f['broken_images']]
        bad += [f'{page}: KaTeX could not read {t!r}' for t in f['katex_errors']]
        if f['raw_display_math']: bad.append(f'{page}: {f["raw_display_math"]} `$$` left unread')
        cells = nbformat.read(WORK/'src'/(Path(page).with_suffix('.ipynb')), as_version=4).cells  # as rendered
        prose = ' '.join(re.sub(r'`[^`]*`', '', c.source) for c in cells if c.cell_type == 'markdown')
        if re.search(r'\$\$.+?\$\$|\$[^$\s][^$\n]*?[^$\s\\]\$(?!\d)', prose, re.S) and not f['katex']:
            bad.append(f'{page}: math in {name}, none typeset')
        if f['cells'] == 0: bad.append(f'{page}: no notebook cells')
        figures = sum(('image/png' in o.get('data', {}) or 'image/svg+xml' in o.get('data', {}))
                      for c in cells for o in c.get('outputs', []))
        if f['images'] < figures: bad.append(f'{page}: {f["images"]} images shown for {figures} figures')
        rule = re.compile(r'^\s*\|?\s*:?-{3,}:?\s*\|', re.M)  # a markdown table's header rule
        prose_tables = [c for c in cells if c.cell_type == 'markdown' and rule.search(c.source)]
        tables = prose_tables or any('<table' in ''.join(o.get('data', {}).get('text/html', ''))
                                     for c in cells for o in c.get('outputs', []))
        if tables and not f['tables']: bad.append(f'{page}: the notebook has tables, the page shows none')
        if f['open_details']: bad.append(f'{page}: {f["open_details"]} <details> open before a click')
    assert not bad, 'problems on the site\'s pages:\n' + '\n'.join(bad)


@pytest.mark.browser
def test_internal_links_lead_somewhere(site, server, visited):
    "Every link between the pages (chapters, doc entries, sections) leads to a page of the site and an anchor on it."
    facts, _ = visited
    bad = []
    for page, f in facts.items():
        for link in f['links']:
            if not link.startswith(server): continue
            url, anchor = urldefrag(link)
            target = urlsplit(url).path.lstrip('/') or 'index.html'
            if target not in facts:
                if not (SITE/target).is_file(): bad.append(f'{page}: {link} (no such page)')
            elif anchor and anchor not in facts[target]['ids']: bad.append(f'{page}: {link} (no #{anchor} there)')
    assert not bad, 'broken links:\n' + '\n'.join(sorted(set(bad)))


_NAV = """() => {
  const walk = ul => [...ul.children].filter(li => li.matches('li.md-nav__item')).map(li => {
    const sub = li.querySelector(':scope > nav.md-nav:not(.md-nav--secondary)');
    if (sub) return {section: li.querySelector(':scope > label.md-nav__link').textContent.trim(),
                     contents: walk(sub.querySelector(':scope > ul.md-nav__list'))};
    return li.querySelector(':scope > a.md-nav__link').getAttribute('href');
  });
  return walk(document.querySelector('nav.md-nav--primary > ul.md-nav__list'));
}"""


@pytest.mark.browser
def test_sidebar_order_and_groups(site, server, browser):
    "The sidebar that the reader sees lists the pages of nbs/sidebar.yml, in its order and its sections."
    def expected(tree):
        return [site['pages'][i]['page'] if isinstance(i, str)
                else {'section': i['section'], 'contents': expected(i['contents'])} for i in tree]
    problems = []
    page = _new_page(browser, server, problems)
    page.goto(server + 'index.html', wait_until='networkidle')
    assert page.evaluate(_NAV) == expected(build_docs.sidebar_tree(NBS/'sidebar.yml'))
    page.close()


@pytest.mark.browser
def test_search_finds_triple_loss(site, server, browser):
    "Searching `triple_loss` (in the browser, offline) offers its doc entry."
    page_name, anchor = exported_entries()['distil_edu.losses.triple_loss']
    problems = []
    page = _new_page(browser, server, problems)
    page.goto(server + 'index.html', wait_until='networkidle')
    page.locator('input.md-search__input').click()
    page.keyboard.type('triple_loss', delay=20)  # as a reader types it (Material searches on key events)
    results = page.locator('.md-search-result__item a.md-search-result__link')
    results.first.wait_for(timeout=30*SECOND)
    links = results.evaluate_all('as => as.map(a => a.href)')
    hrefs = [urlsplit(h).path.lstrip('/') + '#' + urldefrag(h)[1] for h in links]
    assert f'{page_name}#{anchor}' in hrefs, f'search for triple_loss offered {hrefs}'
    assert hrefs[0].split('#')[0] == page_name, f'the first result is {hrefs[0]}, not a section of {page_name}'
    assert not problems, problems
    page.close()


@pytest.mark.browser
def test_every_exported_name_has_its_entry(site, server, browser):
    """Every public function and class has a heading on the page `_modidx.py` links it to, followed by its signature
    and, for each parameter, its docment."""
    from fastcore.docments import docments
    import importlib
    by_page = {}
    for full, (page_name, anchor) in exported_entries().items():
        by_page.setdefault(page_name, []).append((full, anchor))
    bad = []
    problems = []
    page = _new_page(browser, server, problems)
    for page_name, names in sorted(by_page.items()):
        page.goto(server + page_name, wait_until='domcontentloaded')
        for full, anchor in names:
            entry = page.evaluate("""id => { const h = document.getElementById(id);
                if (!h || !/^H[2-4]$/.test(h.tagName)) return null;
                const area = h.closest('.jp-RenderedMarkdown'); return area ? area.innerText : null; }""", anchor)
            if entry is None: bad.append(f'{full}: no entry #{anchor} on {page_name}'); continue
            module, name = full.rsplit('.', 1)
            obj = getattr(importlib.import_module(module), name)
            kind = 'class' if inspect.isclass(obj) else 'def'
            if not re.search(rf'\b({kind}|def|class) {re.escape(name)}\b', entry) and f'{name}(' not in entry:
                bad.append(f'{full}: its entry shows no signature')
            if dataclasses.is_dataclass(obj): continue  # nbdev shows no docments in a dataclass's signature
            try: params = docments(obj, full=True)
            except (TypeError, ValueError): continue
            for p, d in params.items():
                if p in ('self', 'return') or not d['docment']: continue
                if d['docment'].strip().split('`')[0][:30] not in entry: bad.append(f'{full}: docment of {p} missing')
    page.close()
    assert not bad, 'exported names without a proper doc entry on the site:\n' + '\n'.join(bad)


@pytest.mark.browser
def test_answers_are_collapsed_until_clicked(site, server, browser, visited):
    "The exercises' predict-then-reveal answers (<details>) are closed on the page, and a click opens one."
    facts, _ = visited
    pages = [p for p, f in facts.items() if f['details']]
    if not pages: pytest.skip('no chapter has a <details> answer yet')
    problems = []
    page = _new_page(browser, server, problems)
    page.goto(server + pages[0], wait_until='networkidle')
    details = page.locator('.md-content details').first
    details.scroll_into_view_if_needed()
    assert details.get_attribute('open') is None
    details.locator('summary').click()
    page.wait_for_function("d => d.open", arg=details.element_handle())
    page.close()


@pytest.mark.browser
def test_screenshots(site, server, browser):
    "Screenshots of the home page, a core chapter and an API entry, to look at (test-artifacts/docs/)."
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page_name, anchor = exported_entries()['distil_edu.losses.triple_loss']
    problems = []
    page = _new_page(browser, server, problems)
    shots = [('index.html', 'home.png'), (page_name, 'chapter.png'), (f'{page_name}#{anchor}', 'api-entry.png')]
    for url, file in shots:
        page.goto(server + url, wait_until='networkidle')
        page.wait_for_function('document.fonts.status === "loaded"')
        if '#' in url:  # the entry's top just below the header bar (one scroll down: no "back to top" button)
            page.evaluate('id => window.scrollTo(0, document.getElementById(id).getBoundingClientRect().top'
                          ' + window.scrollY - 110)', anchor)
            page.wait_for_timeout(300)
        page.screenshot(path=ARTIFACTS/file)
    page.close()
    assert not problems, problems
    for file in ('home.png', 'chapter.png', 'api-entry.png'): assert (ARTIFACTS/file).stat().st_size > 10_000
