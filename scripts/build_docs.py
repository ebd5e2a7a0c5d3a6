"""Build the docs site into `_site/` without Quarto: nbdev processes the notebooks, MkDocs-Material renders them.

1. `nbdev_proc_nbs`'s processing, on a copy of the repository (`build/docs/repo`, never the working tree): a `show_doc`
   entry for every exported name, hidden cells dropped, nbdev's directives applied, nbdev's links added. It calls
   nbdev's own functions, one notebook after the other, so that a notebook that fails is named with its cell.
2. What Quarto would do with the processed notebooks, done on copies in `build/docs/src`: the front matter becomes the
   page's title, Quarto's cell options (`echo`, `output`, `include`) are applied, nbdev's links to the published site
   point to the local pages, and each widget (which needs a kernel) is replaced by a line saying that it runs in
   JupyterLab, with the chapter's static picture of it. Each page is named as Quarto names it (`losses.html`).
3. MkDocs-Material with mkdocs-jupyter renders the saved outputs (nothing is executed) into `_site/`, with offline
   search, the navigation of `nbs/sidebar.yml` (its sections become groups, in order) and KaTeX (from npm) for the math.
4. Every internal link and image of the site is checked, anchors included, and no page loads anything from elsewhere.

    python scripts/build_docs.py               # what `make docs` runs
    python scripts/build_docs.py --if-stale    # only when a source changed since the last build (the tests use it)
    python scripts/build_docs.py --fetch-assets    # only fetch KaTeX with npm (what `make setup` runs)
"""
from __future__ import annotations
import argparse, configparser, copy, hashlib, html.parser, json, os, posixpath, re, shutil, subprocess, sys, tarfile
import tempfile, time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT/'docs'  # the site's own files: mkdocs.yml (without its nav), hooks.py, assets/
KATEX_VERSION = '0.19.1'
VENDOR = ROOT/'build'/'vendor'  # packages fetched with npm at set-up
WIDGET_MIME = 'application/vnd.jupyter.widget-view+json'
IMAGE_MIMES = ('image/png', 'image/svg+xml', 'image/jpeg', 'image/gif')
WIDGET_NOTE = ('<p class="widget-note"><strong>Interactive widget.</strong> The widget itself runs in JupyterLab '
               '(<code>make lab</code>), where a kernel redraws it as you work its controls. {}</p>')


class DocsError(Exception):
    "A problem of the sources or of the site, said so that the reader knows where to look."


def _settings(root: Path) -> dict:
    cfg = configparser.ConfigParser()
    cfg.read(root/'settings.ini')
    return dict(cfg['DEFAULT'])


def _site_url(root: Path) -> str:
    "The published site's address, which nbdev writes into its links (`doc_host` + `doc_baseurl` of settings.ini)."
    s = _settings(root)
    return (s['doc_host'].rstrip('/') + '/' + s.get('doc_baseurl', '').strip('/')).rstrip('/')


# ---------------------------------------------------------------------------------------------------------------------
# KaTeX, from the npm registry

def katex_dir() -> Path:
    return VENDOR/f'katex-{KATEX_VERSION}'


def fetch_katex() -> Path:
    "KaTeX's `dist/` folder, fetched once with `npm pack` into build/vendor (safe to run again)."
    dest = katex_dir()
    if (dest/'katex.min.js').exists(): return dest
    if shutil.which('npm') is None:
        raise DocsError('npm is needed to fetch KaTeX for the docs site: install Node.js and npm (make setup does)')
    VENDOR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=VENDOR) as tmp:
        subprocess.run(['npm', 'pack', f'katex@{KATEX_VERSION}', '--silent'], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        with tarfile.open(next(Path(tmp).glob('katex-*.tgz'))) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith('package/dist/') and m.isfile()]
            tar.extractall(tmp, members=members, filter='data')
        shutil.rmtree(dest, ignore_errors=True)
        shutil.move(Path(tmp)/'package'/'dist', dest)
    return dest


# ---------------------------------------------------------------------------------------------------------------------
# 1. nbdev's processing

def _skip_outputs(folder, names):
    "What is not copied from nbs/: caches, and folders without notebooks (run outputs a chapter may have left there)."
    skip = {n for n in names if n in ('.ipynb_checkpoints', '__pycache__', '_proc', '_docs', '_site')}
    return skip | {n for n in names if (Path(folder)/n).is_dir() and not any((Path(folder)/n).rglob('*.ipynb'))}


def copy_repo(root: Path, repo: Path):
    "A fresh copy of what nbdev reads: settings.ini, the notebooks' folder and the library."
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    s = _settings(root)
    shutil.copy2(root/'settings.ini', repo/'settings.ini')
    shutil.copytree(root/s.get('nbs_path', 'nbs'), repo/s.get('nbs_path', 'nbs'), ignore=_skip_outputs)
    lib = s.get('lib_path', s['lib_name'])
    shutil.copytree(root/lib, repo/lib, ignore=shutil.ignore_patterns('__pycache__'))


def _proc_main(repo: str) -> int:
    "In a subprocess whose working directory is the copy: nbdev_proc_nbs's steps, notebook by notebook."
    os.chdir(repo)
    import warnings
    warnings.filterwarnings('ignore', message='Found cells containing imports')  # the docs test names those cells
    from nbdev.config import get_config
    from nbdev.doclinks import _build_modidx, nbglob
    from nbdev.quarto import refresh_quarto_yml
    from nbdev.serve import _proc_file
    import nbdev.serve_drv
    cfg = get_config()
    nbs, cache = cfg.nbs_path, cfg.config_path/'_proc'
    refresh_quarto_yml()
    _build_modidx()
    shutil.rmtree(cache, ignore_errors=True)
    files = nbglob(nbs, func=Path, file_glob='', file_re='')
    errors = []
    for path in sorted(files):
        try: job = _proc_file(path, cache=cache, path=nbs)  # copies other files, returns the notebooks' jobs
        except Exception as e:
            errors.append(f'{path.relative_to(cfg.config_path)}: {type(e).__name__}: {e}'); continue
        if not job: continue
        try: nbdev.serve_drv.main(job)
        except Exception as e: errors.append(_proc_error(path.relative_to(cfg.config_path), e))
    for e in errors: print(f'DOCS-ERROR {json.dumps(e)}', flush=True)
    return 1 if errors else 0


def _proc_error(name: Path, e: Exception) -> str:
    "`nbs/x.ipynb, cell 12: NameError: ...` and the cell's first lines, from what nbdev raised."
    if isinstance(e, json.JSONDecodeError):
        return f'{name}: not a valid notebook (JSON error at line {e.lineno}, column {e.colno}: {e.msg})'
    m = re.search(r' in cell (\d+) :\n(.*)', str(e), re.S)
    cause = e.__cause__ or e
    if not m: return f'{name}: {type(cause).__name__}: {cause}'
    source = m.group(2).strip()
    lines = source.splitlines()
    shown = '\n'.join('    ' + line for line in lines[:8]) + ('\n    ...' if len(lines) > 8 else '')
    return f'{name}, cell {_source_cell(name, source, m.group(1))}: {type(cause).__name__}: {cause}\n{shown}'


def _source_cell(name: Path, source: str, nbdev_idx: str) -> str:
    "The index (from 0) of the notebook's cell whose code, without its `#|` directives, is `source`."
    try: cells = json.loads(Path(name).read_text(encoding='utf-8'))['cells']
    except (OSError, ValueError, KeyError): cells = []
    for i, cell in enumerate(cells):
        code = ''.join(l for l in _text(cell.get('source', '')).splitlines(keepends=True) if not l.startswith('#|'))
        if cell.get('cell_type') == 'code' and code.strip() == source: return str(i)
    return f'{nbdev_idx} (as nbdev counts)'


def process_notebooks(root: Path, repo: Path):
    "Run nbdev's processing on a copy of `root` into `repo/_proc`; a notebook that fails is named with its cell."
    copy_repo(root, repo)
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore',
           'DISTIL_EDU_DATA': os.environ.get('DISTIL_EDU_DATA', str(root/'data'))}
    r = subprocess.run([sys.executable, __file__, '--proc', str(repo)], env=env, capture_output=True, text=True)
    errors = [json.loads(line[len('DOCS-ERROR '):]) for line in r.stdout.splitlines() if line.startswith('DOCS-ERROR ')]
    if errors: raise DocsError('nbdev could not process these notebooks:\n' + '\n'.join(errors))
    if r.returncode: raise DocsError(f'nbdev processing failed (exit status {r.returncode}):\n{r.stderr[-3000:]}')


# ---------------------------------------------------------------------------------------------------------------------
# 2. What Quarto would do with the processed notebooks

def _front_matter(nb: dict) -> dict:
    "The YAML front matter that nbdev writes as the first (raw) cell, or {}."
    if not nb['cells'] or nb['cells'][0]['cell_type'] != 'raw': return {}
    m = re.match(r'\s*---\n(.*?)\n---', _text(nb['cells'][0]['source']), re.S)
    return (yaml.safe_load(m.group(1)) or {}) if m else {}


def _text(value) -> str:
    return ''.join(value) if isinstance(value, list) else value


def page_names(proc: Path, sidebar_files: list[str]) -> dict[str, dict]:
    "{notebook: {'page': 'losses.html', 'title': ...}} for every processed notebook, the page named as Quarto names it."
    pages = {}
    for path in sorted(proc.rglob('*.ipynb')):
        name = path.relative_to(proc).as_posix()
        try: nb = json.loads(path.read_text(encoding='utf-8'))
        except json.JSONDecodeError as e: raise DocsError(f'{name}: the processed notebook is not valid JSON ({e})')
        fm = _front_matter(nb)
        page = fm.get('output-file') or posixpath.splitext(name)[0] + '.html'
        page = posixpath.join(posixpath.dirname(name), page)
        pages[name] = {'page': page, 'title': str(fm.get('title') or posixpath.splitext(posixpath.basename(name))[0]),
                       'description': fm.get('description')}
    seen = {}
    for name, p in pages.items():
        if p['page'] in seen: raise DocsError(f'{seen[p["page"]]} and {name} would both be the page {p["page"]}')
        seen[p['page']] = name
    missing = [f for f in sidebar_files if f not in pages]
    if missing: raise DocsError(f'nbs/sidebar.yml lists notebooks that do not exist or were not processed: {missing}')
    return pages


_DIRECTIVE = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')


def _cell_options(cell: dict) -> tuple[dict, str]:
    "Quarto's `#| key: value` options at the top of a code cell, and the source without them."
    lines, options = _text(cell['source']).splitlines(keepends=True), {}
    while lines and (m := _DIRECTIVE.match(lines[0])):
        options[m.group(1)] = m.group(2).lower()
        lines.pop(0)
    return options, ''.join(lines)


class LinkMap:
    "Rewrites the links nbdev writes (to the published site, to `.ipynb` files) into links to the local pages."
    def __init__(self, site_url: str, pages: dict[str, dict], entries: dict[str, set[str]]):
        self.site = re.compile(re.escape(site_url) + r'(/[^\s)"\'<>]*)?')
        self.notebooks = {posixpath.basename(n): p['page'] for n, p in pages.items()}
        self.entries = entries  # {page: anchors of its doc entries}

    def _name_link(self, m) -> str:
        "nbdev links every name of `_modidx.py` in backticks, private ones too: a name without a doc entry is unlinked."
        page, anchor = m.group(2), m.group(3)
        return m.group(0) if page not in self.entries or anchor in self.entries[page] else m.group(1)

    def _site_link(self, m) -> str:
        path = (m.group(1) or '/').lstrip('/')
        path, _, anchor = path.partition('#')
        return (path or 'index.html') + (f'#{anchor}' if anchor else '')

    def _notebook_link(self, m) -> str:
        page = self.notebooks.get(m.group(2))
        return f'{m.group(1)}{page}' if page else m.group(0)

    def __call__(self, text: str) -> str:
        text = self.site.sub(self._site_link, text)
        text = re.sub(r'(\]\(|href=["\'])(?:\./)?([\w.-]+\.ipynb)(?=[#)"\'])', self._notebook_link, text)
        text = re.sub(r'\[(`[\w.]+`)\]\(([\w-]+\.html)#([\w.]+)\)', self._name_link, text)
        # Pandoc's link attributes, which nbdev puts on the `[source](...)` link of each doc entry
        return re.sub(r'\[source\]\(([^)\s]+)\)\{[^}]*\}',
                      r'<a href="\1" class="doc-source-link" target="_blank" rel="noopener">source</a>', text)


def doc_entries(proc: Path, pages: dict) -> dict[str, set[str]]:
    "{page: anchors} of the `show_doc` entries of each processed notebook (Quarto's ids: the name, lower case)."
    entries = {}
    for name, meta in pages.items():
        nb, found = json.loads((proc/name).read_text(encoding='utf-8')), set()
        for cell in nb['cells']:
            if cell['cell_type'] != 'code' or 'show_doc(' not in _text(cell['source']): continue
            for o in cell.get('outputs', []):
                md = _text(o.get('data', {}).get('text/markdown', ''))
                found |= {n.lower() for n in re.findall(r'^#{2,6} ([\w.]+)\s*$', md, re.M)}
        entries[meta['page']] = found
    return entries


def _image_outputs(cell: dict) -> list[dict]:
    return [o for o in cell.get('outputs', []) if any(m in o.get('data', {}) for m in IMAGE_MIMES)]


def _is_heading(cell: dict) -> bool:
    return cell['cell_type'] == 'markdown' and bool(re.match(r'#{1,6} ', _text(cell['source']).lstrip()))


def _heading_text(cell: dict) -> str:
    return re.sub(r'[`*_]', '', _text(cell['source']).lstrip().splitlines()[0].lstrip('#').strip())


def replace_widgets(cells: list[dict], name: str) -> list[str]:
    """Each widget output becomes a note saying that the widget runs in JupyterLab, with the static picture of it: the
    figure that follows it in its section (the note points to it), else the figures of the section of the chapter's
    last figure before it (copied under the note). Returns the widgets without a static figure after them."""
    lacking = []
    for i, cell in enumerate(cells):
        outputs = cell.get('outputs', [])
        if not any(WIDGET_MIME in o.get('data', {}) for o in outputs): continue
        what = f'{name}: the widget of `{_text(cell["source"]).strip().splitlines()[0]}`'
        after = None
        for j in range(i + 1, len(cells)):
            if _is_heading(cells[j]): break
            if _image_outputs(cells[j]): after = j; break
        before = next((j for j in range(i - 1, -1, -1) if _image_outputs(cells[j])), None)
        if after is not None: extra, figures = 'Its static version is the figure below.', []
        elif before is not None:
            start = next((k for k in range(before, -1, -1) if _is_heading(cells[k])), 0)
            end = next((k for k in range(before + 1, len(cells)) if _is_heading(cells[k])), len(cells))
            figures = [o for c in cells[start:end] for o in _image_outputs(c)]
            extra = f'Its static pictures, from the section &ldquo;{_heading_text(cells[start])}&rdquo; above:'
            lacking.append(f'{what}: no static figure after it; shown: the {len(figures)} figure(s) of the section '
                           f'"{_heading_text(cells[start])}"')
        else:
            extra, figures = 'This chapter has no static picture of it.', []
            lacking.append(f'{what}: no static figure in the chapter')
        new = []
        for o in outputs:
            if WIDGET_MIME not in o.get('data', {}): new.append(o); continue
            note = {'output_type': 'display_data', 'metadata': {}, 'data': {'text/html': WIDGET_NOTE.format(extra)}}
            new.append(note)
            new.extend(copy.deepcopy(f) for f in figures)
        for o in new:
            if o.get('output_type') == 'execute_result': o['output_type'] = 'display_data'
            if o.get('output_type') == 'display_data': o.pop('execution_count', None); o.setdefault('metadata', {})
        cell['outputs'] = new
    return lacking


def quarto_pass(nb: dict, name: str, links: LinkMap, meta: dict) -> tuple[dict, list[str]]:
    "The processed notebook as Quarto would show it, ready for mkdocs-jupyter."
    cells = nb['cells']
    if cells and cells[0]['cell_type'] == 'raw' and _front_matter(nb): cells.pop(0)
    head = f'# {meta["title"]}' + (f'\n\n> {meta["description"]}' if meta.get('description') else '')
    cells.insert(0, {'cell_type': 'markdown', 'id': 'page-title', 'metadata': {}, 'source': head})
    kept = []
    for cell in cells:
        cell.pop('has_sd', None)  # nbdev's private mark on the cells it added; not nbformat
        cell.get('metadata', {}).pop('tags', None)
        if cell['cell_type'] == 'code':
            options, source = _cell_options(cell)
            if options.get('include') == 'false': continue
            cell['source'] = source
            if options.get('echo') == 'false' or not source.strip():
                cell['metadata']['tags'] = ['remove_input']
            if options.get('output') == 'false': cell['outputs'] = []
            for o in cell.get('outputs', []):
                for mime in ('text/markdown', 'text/html'):
                    if mime in o.get('data', {}): o['data'][mime] = links(_text(o['data'][mime]))
                if options.get('output') == 'asis' and 'text/markdown' in o.get('data', {}):
                    o['data'].pop('text/plain', None)
            if not cell.get('outputs') and 'remove_input' in cell['metadata'].get('tags', []): continue
        elif cell['cell_type'] == 'markdown':
            cell['source'] = links(_text(cell['source']))
        elif cell['cell_type'] == 'raw': continue  # Quarto passes raw cells to its own output format; none here
        kept.append(cell)
    nb['cells'] = kept
    nb['metadata'].pop('widgets', None)  # no widget state on a static page (it loads the widget manager from a CDN)
    return nb, replace_widgets(kept, name)


def _referenced_files(nb: dict) -> set[str]:
    "Relative paths of the files (images) that the notebook's markdown and HTML refer to."
    found = set()
    for cell in nb['cells']:
        texts = [_text(cell['source'])] if cell['cell_type'] == 'markdown' else []
        texts += [_text(o['data'][m]) for o in cell.get('outputs', []) for m in ('text/markdown', 'text/html')
                  if m in o.get('data', {})]
        for t in texts:
            for ref in re.findall(r'!\[[^\]]*\]\(([^)\s]+)|\bsrc=["\']([^"\']+)', t):
                ref = ref[0] or ref[1]
                if not re.match(r'^([a-z]+:|#|/)', ref): found.add(unquote(ref.split('#')[0]))
    return found


def prepare_pages(proc: Path, src: Path, pages: dict, links: LinkMap) -> list[str]:
    "Write each processed notebook, Quarto's pass done, as `src/<page>.ipynb`, with the images it refers to."
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    lacking = []
    import nbformat
    for name, meta in pages.items():
        nb = json.loads((proc/name).read_text(encoding='utf-8'))
        nb, missing = quarto_pass(nb, name, links, meta)
        lacking += missing
        try: nbformat.validate(nbformat.from_dict(nb))
        except nbformat.ValidationError as e:
            where = ', cell ' + str(list(e.absolute_path)[1]) if list(e.absolute_path)[:1] == ['cells'] else ''
            raise DocsError(f'{name}{where}: not a valid notebook after processing: {e.message}') from None
        dest = src/(posixpath.splitext(meta['page'])[0] + '.ipynb')
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding='utf-8')
        for ref in _referenced_files(nb):
            file = (proc/posixpath.dirname(name)/ref).resolve()
            if file.is_file() and proc.resolve() in file.parents:
                target = dest.parent/ref
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, target)
    return lacking


# ---------------------------------------------------------------------------------------------------------------------
# 3. The navigation, from nbs/sidebar.yml, and MkDocs

def sidebar_tree(sidebar: Path) -> list:
    """The sidebar as a tree of notebook names: a page is 'x.ipynb', a section is {'section': title, 'contents': [...]}.
    Quarto's forms `{href: x.ipynb, text: ...}` and `{section: ..., href: ...}` are read too."""
    def walk(items, where):
        tree = []
        for item in items or []:
            if isinstance(item, str): tree.append(item)
            elif isinstance(item, dict) and 'section' in item:
                entry = {'section': str(item['section']), 'contents': walk(item.get('contents'), item['section'])}
                if item.get('href'): entry['contents'].insert(0, item['href'])
                tree.append(entry)
            elif isinstance(item, dict) and 'href' in item: tree.append(item['href'])
            else: raise DocsError(f'nbs/sidebar.yml: an entry of {where!r} that the docs build cannot read: {item!r}')
        return tree
    data = yaml.safe_load(sidebar.read_text()) or {}
    return walk(data.get('website', {}).get('sidebar', {}).get('contents'), 'contents')


def tree_files(tree: list) -> list[str]:
    "The notebooks of a sidebar tree, in order."
    return [f for item in tree for f in ([item] if isinstance(item, str) else tree_files(item['contents']))]


def mkdocs_nav(tree: list, pages: dict) -> list:
    "MkDocs' `nav` for a sidebar tree: each notebook as `{title: page.ipynb}`, each section as `{section: [...]}`."
    def entry(item):
        if isinstance(item, str):
            p = pages[item]
            return {p['title']: posixpath.splitext(p['page'])[0] + '.ipynb'}
        return {item['section']: [entry(i) for i in item['contents']]}
    return [entry(i) for i in tree]


def nav_tree(nav: list, pages: dict) -> list:
    "The sidebar tree that an MkDocs `nav` lists (the inverse of `mkdocs_nav`), to compare with nbs/sidebar.yml."
    by_page = {posixpath.splitext(p['page'])[0] + '.ipynb': n for n, p in pages.items()}
    def item(e):
        (title, value), = e.items()
        return {'section': title, 'contents': [item(i) for i in value]} if isinstance(value, list) else by_page[value]
    return [item(e) for e in nav]


def write_config(build: Path, site: Path, nav: list, root: Path) -> Path:
    "build/docs/mkdocs.yml: docs/mkdocs.yml with the navigation, the folders and the hooks filled in."
    config = yaml.safe_load((DOCS/'mkdocs.yml').read_text())
    nbdev_yml = yaml.safe_load((root/'nbs'/'nbdev.yml').read_text()) if (root/'nbs'/'nbdev.yml').exists() else {}
    website = nbdev_yml.get('website', {})
    config.setdefault('site_name', website.get('title') or _settings(root)['lib_name'])
    config.setdefault('site_description', website.get('description', ''))
    config.update(docs_dir=str(build/'src'), site_dir=str(site), nav=nav,
                  hooks=[str(p) for p in [DOCS/h for h in config.get('hooks', [])]])
    for plugin in config['plugins']:
        if isinstance(plugin, dict) and 'mkdocs-jupyter' in plugin:
            plugin['mkdocs-jupyter']['cache_dir'] = str(build/'cache')
    path = build/'mkdocs.yml'
    path.write_text('# Written by scripts/build_docs.py from docs/mkdocs.yml and nbs/sidebar.yml: edit those.\n'
                    + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return path


def copy_assets(src: Path):
    "The site's own CSS and JavaScript, and KaTeX, into the pages' folder."
    shutil.copytree(DOCS/'assets', src/'assets', dirs_exist_ok=True)
    katex = fetch_katex()
    dest = src/'assets'/'katex'
    dest.mkdir(parents=True, exist_ok=True)
    for f in ('katex.min.css', 'katex.min.js', 'contrib/auto-render.min.js'):
        (dest/f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(katex/f, dest/f)
    shutil.copytree(katex/'fonts', dest/'fonts', dirs_exist_ok=True)


def run_mkdocs(config: Path):
    r = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '--clean', '-f', str(config)],
                       capture_output=True, text=True, env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
    if r.returncode:
        lines = [ln for ln in r.stderr.splitlines() if not ln.startswith('INFO')]
        raise DocsError('MkDocs could not build the site:\n' + '\n'.join(lines[-40:]))
    return [ln for ln in r.stderr.splitlines() if ln.startswith('WARNING')]


# ---------------------------------------------------------------------------------------------------------------------
# 4. The built site's links

class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.links, self.loads = set(), [], []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ('id', 'name' if tag == 'a' else None):
            if key and a.get(key): self.ids.add(a[key])
        if tag == 'a' and a.get('href') is not None: self.links.append(a['href'])
        for key in ('src', 'href') if tag in ('script', 'img', 'link', 'iframe', 'source', 'video', 'audio') else ():
            if a.get(key): self.loads.append((tag, a[key]))


def check_site(site: Path) -> list[str]:
    """Every internal link and loaded file of every page exists, anchors included, and nothing is loaded from
    elsewhere (no CDN: the site works offline). Returns the problems."""
    pages = {}
    for path in site.rglob('*.html'):
        p = _Page(); p.feed(path.read_text(encoding='utf-8')); pages[path.relative_to(site).as_posix()] = p
    problems = []
    for name, p in sorted(pages.items()):
        for tag, ref in p.loads:
            if re.match(r'^(https?:)?//', ref): problems.append(f'{name}: <{tag}> loads {ref} from another site')
            elif not ref.startswith('data:') and not (site/(posixpath.dirname(name) if not ref.startswith('/') else '')
                                                      / unquote(urlsplit(ref).path).lstrip('/')).exists():
                problems.append(f'{name}: <{tag}> {ref} does not exist')
        for ref in p.links:
            u = urlsplit(ref)
            if u.scheme or u.netloc or ref.startswith(('mailto:', 'javascript:')): continue
            base = '' if u.path.startswith('/') else posixpath.dirname(name)  # 404.html links from the site's root
            target = posixpath.normpath(posixpath.join(base, unquote(u.path).lstrip('/'))) if u.path else name
            if target.endswith('/') or (site/target).is_dir(): target = posixpath.join(target, 'index.html')
            if not (site/target).exists(): problems.append(f'{name}: link {ref} to a missing page'); continue
            if u.fragment and target in pages and unquote(u.fragment) not in pages[target].ids:
                problems.append(f'{name}: link {ref}: no #{u.fragment} on {target}')
    return problems


# ---------------------------------------------------------------------------------------------------------------------

def _stamp(root: Path) -> str:
    "A hash of everything the site is built from."
    h = hashlib.sha256(KATEX_VERSION.encode())
    s = _settings(root)
    files = [root/'settings.ini', Path(__file__)] + sorted(DOCS.rglob('*'))
    files += sorted(p for p in (root/s.get('nbs_path', 'nbs')).rglob('*') if not any(
        part.startswith(('.', '_proc')) or part in ('runs', '__pycache__') for part in p.parts))
    files += sorted((root/s.get('lib_path', s['lib_name'])).glob('*.py'))
    for f in files:
        if not f.is_file(): continue
        h.update(str(f.relative_to(root) if root in f.parents else f).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def build(root: Path = ROOT, site: Path = ROOT/'_site', work: Path = ROOT/'build'/'docs', log=print) -> dict:
    "Build the site; returns what it did (pages, nav, widgets without a static picture nearby, timings)."
    t0 = time.monotonic()
    root, site, work = root.resolve(), site.resolve(), work.resolve()
    tree = sidebar_tree(root/'nbs'/'sidebar.yml')
    fetch_katex()
    log('docs: nbdev processes the notebooks (as nbdev_proc_nbs does, on a copy) ...')
    process_notebooks(root, work/'repo')
    t1 = time.monotonic()
    proc = work/'repo'/'_proc'
    pages = page_names(proc, tree_files(tree))
    links = LinkMap(_site_url(root), pages, doc_entries(proc, pages))
    lacking = prepare_pages(proc, work/'src', pages, links)
    copy_assets(work/'src')
    nav = mkdocs_nav(tree, pages)
    config = write_config(work, site, nav, root)
    log(f'docs: MkDocs renders {len(pages)} pages into {site} ...')
    warnings = run_mkdocs(config)
    problems = check_site(site)
    if problems:
        raise DocsError(f'{len(problems)} broken link(s) or off-site load(s) in the site:\n' + '\n'.join(problems[:60]))
    (work/'stamp').write_text(json.dumps({'site': str(site), 'stamp': _stamp(root)}))
    info = {'pages': pages, 'nav': nav, 'lacking': lacking, 'warnings': warnings,
            'seconds': {'nbdev': round(t1 - t0, 1), 'total': round(time.monotonic() - t0, 1)}}
    (work/'build.json').write_text(json.dumps(info, indent=1))
    for w in lacking: log(f'docs: {w}')
    for w in warnings: log(f'docs: {w}')
    log(f'docs: {len(pages)} pages in {site} ({info["seconds"]["nbdev"]} s nbdev, {info["seconds"]["total"]} s in all)')
    return info


def is_stale(root: Path = ROOT, site: Path = ROOT/'_site', work: Path = ROOT/'build'/'docs') -> bool:
    try: done = json.loads((work/'stamp').read_text())
    except (OSError, ValueError): return True
    return done.get('site') != str(site.resolve()) or not (site/'index.html').exists() or done['stamp'] != _stamp(root)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--root', type=Path, default=ROOT, help='the repository to build the docs of')
    ap.add_argument('--site', type=Path, default=ROOT/'_site', help='where the site goes')
    ap.add_argument('--work', type=Path, default=ROOT/'build'/'docs', help='intermediate files')
    ap.add_argument('--if-stale', action='store_true', help='build only if a source changed since the last build')
    ap.add_argument('--fetch-assets', action='store_true', help='only fetch KaTeX (npm pack), then stop')
    ap.add_argument('--proc', help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.proc: return _proc_main(args.proc)
    try:
        if args.fetch_assets: print(f'KaTeX {KATEX_VERSION} in {fetch_katex()}'); return 0
        if args.if_stale and not is_stale(args.root, args.site, args.work):
            print(f'docs: {args.site} is up to date'); return 0
        build(args.root, args.site, args.work)
    except DocsError as e:
        print(f'docs: FAILED: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
