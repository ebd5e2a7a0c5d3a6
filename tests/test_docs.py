"""The docs site, checked without Quarto.

`nbdev_docs` needs Quarto. Without it we run the step before Quarto, `nbdev_proc_nbs`, which turns every notebook into the
notebook Quarto would render (`_proc/`): it adds a `show_doc` cell after every exported function or class and executes
those cells, so the doc entries are outputs we can read. It runs on a copy of the repository, so the working tree is
never touched. We then check what a reader of the site would see: every chapter is there, every exported name has its
entry, no page shows an error, the sidebar lists the chapters in order, and README.md is the rendered home page.
"""
from __future__ import annotations
import ast, importlib, importlib.util, inspect, json, os, re, shutil, subprocess, sys, warnings
from pathlib import Path

import nbformat, pytest, yaml

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
CHAPTERS = sorted(p.name for p in NBS.glob('*.ipynb') if re.match(r'\d\d[a-z]?_', p.name))  # 00_topic, 05b_topic
PAGES = ['index.ipynb'] + CHAPTERS
WIDGET_MIME = 'application/vnd.jupyter.widget-view+json'


def _nbdev_cli(name: str) -> str:
    "Path of the console script `name` of the running Python's environment, else the one on PATH."
    here = Path(sys.executable).parent/name
    return str(here) if here.exists() else (shutil.which(name) or name)


def _modidx() -> dict:
    "The index nbdev_export writes: {'syms': {module: {qualified name: (doc link, file)}}}."
    spec = importlib.util.spec_from_file_location('_modidx_under_test', ROOT/'distil_edu'/'_modidx.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod.d


def _public_names(module: str, syms: dict) -> list[str]:
    "The module's exported top-level functions and classes, as `_modidx.py` lists them (methods are documented with their class)."
    names = [full[len(module)+1:] for full in syms]
    return sorted(n for n in names if '.' not in n and not n.startswith('_'))


@pytest.fixture(scope='module')
def processed(tmp_path_factory):
    "Run `nbdev_proc_nbs` on a copy of the repository: (completed process, root of the copy)."
    tmp = tmp_path_factory.mktemp('docs')
    repo = tmp/'repo'
    repo.mkdir()
    shutil.copy2(ROOT/'settings.ini', repo/'settings.ini')
    skip = shutil.ignore_patterns('.ipynb_checkpoints', '__pycache__', '_proc', '_docs')
    # the notebooks' folder, less subfolders without notebooks (run outputs a chapter may have left there)
    def skip_outputs(folder, names):
        return set(skip(folder, names)) | {n for n in names if (Path(folder)/n).is_dir() and not any((Path(folder)/n).rglob('*.ipynb'))}
    shutil.copytree(NBS, repo/'nbs', ignore=skip_outputs)
    shutil.copytree(ROOT/'distil_edu', repo/'distil_edu', ignore=skip)
    # nbdev_proc_nbs first checks that a `quarto` executable exists and, when none does, tries to install Quarto with sudo
    # and then runs `pip install -e` on the library. A stub on PATH makes that check pass; the processing never calls it.
    bin_dir = tmp/'bin'; bin_dir.mkdir()
    stub = bin_dir/'quarto'
    stub.write_text('#!/bin/sh\necho "quarto stub of the docs test: Quarto is not installed" >&2\nexit 1\n')
    stub.chmod(0o755)
    env = {**os.environ, 'PATH': f'{bin_dir}{os.pathsep}{os.environ.get("PATH", "")}',
           'HF_HUB_OFFLINE': '1', 'MPLBACKEND': 'Agg',
           # the copy's notebooks and the installed package must agree on where the data is, as they do in the repository
           'DISTIL_EDU_DATA': os.environ.get('DISTIL_EDU_DATA', str(ROOT/'data'))}
    # --n_workers 0: notebooks are processed one after the other, in this process tree, deterministically
    result = subprocess.run([_nbdev_cli('nbdev_proc_nbs'), '--n_workers', '0'], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=1200)
    return result, repo


def _proc_error(result) -> str:
    "The error lines of a failed `nbdev_proc_nbs` run (its traceback's frames left out), ending with the failing cell."
    lines = result.stderr.splitlines()
    errors = [i for i, line in enumerate(lines) if re.match(r'^[\w.]*(Error|Exception)\b.*:', line)]
    if not errors: return '\n'.join(lines[-30:])
    cell = lines[errors[-1]+1:]
    return '\n'.join([lines[i] for i in errors] + cell[:6] + (['...'] if len(cell) > 6 else []))


def _read_processed(processed, name: str):
    result, repo = processed
    path = repo/'_proc'/name
    if not path.exists():
        pytest.fail(f'{name} was not processed: nbdev_proc_nbs stopped (exit status {result.returncode}) with\n{_proc_error(result)}')
    raw = json.loads(path.read_text())
    for cell in raw['cells']: cell.pop('has_sd', None)  # nbdev's private mark on the cells it added; not nbformat
    return nbformat.reads(json.dumps(raw), as_version=4)


def _markdown(output) -> str:
    data = output.get('data', {})
    text = data.get('text/markdown', '')
    return ''.join(text) if isinstance(text, list) else text


def _doc_entries(nb) -> dict[str, str]:
    "{name: markdown} of every executed `show_doc` entry in a processed notebook."
    entries = {}
    for cell in nb.cells:
        if cell.cell_type != 'code' or not re.search(r'^show_doc\(', cell.source, re.M): continue
        for output in cell.get('outputs', []):
            md = _markdown(output)
            for name in re.findall(r'^#{2,4} (\S+)\s*$', md, re.M): entries[name] = md
    return entries


def _unlinked(markdown: str) -> str:
    "Markdown without the links nbdev adds to names in backticks: [`name`](url) -> `name`."
    return re.sub(r'\[(`[^`]+`)\]\([^)]*\)', r'\1', markdown)


def _output_page(nb) -> str | None:
    "The `output-file` of a processed notebook's front matter: the page the docs site builds from it."
    head = ''.join(nb.cells[0].source) if nb.cells else ''  # nbdev writes the front matter as a first raw cell
    m = re.search(r'^---\n(.*?)\n---', head, re.S)
    return (yaml.safe_load(m.group(1)) or {}).get('output-file') if m else None


_bench_spec = importlib.util.spec_from_file_location('bench_chapters', ROOT/'scripts'/'bench_chapters.py')
_bench = importlib.util.module_from_spec(_bench_spec); _bench_spec.loader.exec_module(_bench)
_error_outputs = _bench.error_outputs  # the same check as the chapters' fresh-kernel runs


# ---------------------------------------------------------------------------------------------------------------------
# nbdev's processor, the step of `nbdev_docs` before Quarto

def test_proc_nbs_succeeds(processed):
    result, repo = processed
    assert result.returncode == 0, f'nbdev_proc_nbs failed:\n{_proc_error(result)}'


def _names(tree) -> tuple[set[str], set[str], set[str]]:
    """Three sets of names of a cell: those it binds anywhere (parameters and comprehension variables included), those it
    defines for later cells (what it binds outside function bodies), and those it reads when it runs (the bodies of
    functions and lambdas read theirs only when called)."""
    bound, defines, loaded = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load): bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): bound.add(node.name)
        elif isinstance(node, ast.arg): bound.add(node.arg)
        elif isinstance(node, ast.alias) and node.name != '*': bound.add((node.asname or node.name).split('.')[0])
        elif isinstance(node, ast.ExceptHandler) and node.name: bound.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name: bound.add(node.name)
    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): defines.add(node.name)
        elif isinstance(node, ast.alias) and node.name != '*': defines.add((node.asname or node.name).split('.')[0])
        elif isinstance(node, ast.Name): (loaded if isinstance(node.ctx, ast.Load) else defines).add(node.id)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            # decorators and default values run at definition; the body and the parameters do not
            deferred = {id(n) for n in (node.body if isinstance(node.body, list) else [node.body])} | {id(node.args)}
            for child in ast.iter_child_nodes(node):
                if id(child) not in deferred: visit(child)
            for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]: visit(default)
            return
        for child in ast.iter_child_nodes(node): visit(child)
    visit(tree)
    return bound, defines, loaded


def _star_names(tree) -> set[str]:
    "Names that the `from module import *` statements of a cell bring in."
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and any(a.name == '*' for a in node.names):
            try: mod = importlib.import_module(node.module)
            except Exception: continue
            names |= set(getattr(mod, '__all__', None) or [n for n in vars(mod) if not n.startswith('_')])
    return names


def test_docs_build_runs_no_cell_out_of_context():
    """When it builds the docs, nbdev executes only some cells of a notebook: exported cells, `show_doc` cells, and every
    cell that holds an import. A cell that mixes an import with code using the notebook's other variables then fails
    (NameError) and stops the docs build. This finds every such cell at once; the fix is to import in a cell of its own."""
    import builtins
    from nbdev.process import NBProcessor
    from nbdev.processors import _do_eval
    known = set(dir(builtins)) | {'display', 'get_ipython', 'In', 'Out', 'show_doc', '__file__'}
    bad = []
    for name in PAGES:
        namespace = set(known)  # what the docs build has defined so far in this notebook
        for i, cell in enumerate(NBProcessor(NBS/name).nb.cells):  # cells with nbdev's parsed directives
            if cell.cell_type != 'code': continue
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                runs = _do_eval(cell)
            if not runs: continue
            try: tree = ast.parse(cell.source)
            except SyntaxError: continue  # cell magics: nbdev does not run them either
            bound, defines, loaded = _names(tree)
            missing = sorted(loaded - namespace - bound - _star_names(tree))
            if not missing: namespace |= defines | _star_names(tree)  # a failing cell defines nothing for later cells
            else: bad.append(f'{name} cell {i} (starts {cell.source.strip().splitlines()[0]!r}) uses {", ".join(missing)}')
    assert not bad, ('cells the docs build executes without the cells they depend on (move their imports to a cell of '
                     'their own):\n' + '\n'.join(bad))


@pytest.mark.parametrize('name', PAGES)
def test_every_chapter_processed(processed, name):
    nb = _read_processed(processed, name)
    assert nb.cells, f'{name} was processed into an empty notebook'
    page = _output_page(nb)
    assert page, f'{name}: no output-file in the processed front matter (is the first cell a `# Title` markdown cell?)'
    if name == 'index.ipynb': assert page == 'index.html'


@pytest.mark.parametrize('name', PAGES)
def test_no_error_outputs(processed, name):
    errors = _error_outputs(_read_processed(processed, name))
    assert not errors, f'{name} shows errors on its docs page:\n' + '\n'.join(errors)


def test_every_exported_name_has_a_doc_entry(processed):
    """Every public function and class of every module has its `show_doc` entry, with its docstring, on the page that
    `_modidx.py` links it to (the page built from the notebook that exports it)."""
    pages = {}
    for name in PAGES:
        nb = _read_processed(processed, name)
        pages[_output_page(nb)] = _doc_entries(nb)
    missing = []
    for module, syms in _modidx()['syms'].items():
        mod = importlib.import_module(module)
        exported = {n for n in getattr(mod, '__all__', []) if inspect.isfunction(getattr(mod, n)) or inspect.isclass(getattr(mod, n))}
        names = _public_names(module, syms)
        assert exported <= set(names), f'{module}: in __all__ but not in _modidx.py: {sorted(exported - set(names))} (run nbdev_export)'
        for name in names:
            page = syms[f'{module}.{name}'][0].split('#')[0]
            entry = pages.get(page, {}).get(name)
            if entry is None: missing.append(f'{module}.{name}: no doc entry on {page}'); continue
            doc = inspect.getdoc(getattr(mod, name)) or ''
            if not doc: missing.append(f'{module}.{name}: no docstring')
            elif doc.splitlines()[0].strip() not in _unlinked(entry): missing.append(f'{module}.{name}: docstring missing from its entry')
    assert not missing, 'exported names without a proper doc entry:\n' + '\n'.join(missing)


def test_exported_functions_have_docments():
    """Every parameter of every exported function (and of each exported class's constructor), `*args` and `**kwargs`
    included, has its docment: a `# comment` after the parameter, which the docs show in a table."""
    from fastcore.docments import docments
    missing = []
    for module, syms in _modidx()['syms'].items():
        mod = importlib.import_module(module)
        for name in _public_names(module, syms):
            obj = getattr(mod, name)
            try: params = docments(obj, full=True, args_kwargs=True)
            except (TypeError, ValueError): continue  # no signature to document
            undocumented = [p for p, d in params.items() if p not in ('self', 'return') and not d['docment']]
            if undocumented: missing.append(f'{module}.{name}: {", ".join(undocumented)}')
    assert not missing, 'parameters without a docment (a `# comment` after the parameter):\n' + '\n'.join(missing)

def _last_statement_shows_a_value(source: str) -> bool:
    "Whether the cell ends with a bare value (a name, a subscript, a literal...), which Jupyter always displays."
    try: tree = ast.parse(source)
    except SyntaxError: return False
    if not tree.body or not isinstance(tree.body[-1], ast.Expr): return False
    if source.rstrip().endswith(';'): return False
    return not isinstance(tree.body[-1].value, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom, ast.Constant))


@pytest.mark.parametrize('name', CHAPTERS)
def test_chapter_saved_with_outputs(name):
    """Quarto does not run the notebooks: the docs page shows the outputs saved in the chapter. A code cell that ends
    with a value to show (and is not hidden or gated by a test flag) must hold its output."""
    from nbdev.process import extract_directives
    flags = set(_settings().get('tst_flags', '').split())
    nb = nbformat.read(NBS/name, as_version=4)
    empty = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != 'code': continue
        directives = extract_directives(cell, remove=False)
        if directives.keys() & ({'hide', 'export', 'exporti', 'exports', 'eval:'} | flags): continue
        if _last_statement_shows_a_value(cell.source) and not cell.get('outputs'):
            empty.append(f'cell {i}: {cell.source.strip().splitlines()[-1]!r}')
    assert not empty, f'{name} was saved without executing these cells (execute the chapter, then nbdev_clean):\n' + '\n'.join(empty)


@pytest.mark.parametrize('name', CHAPTERS)
def test_widgets_have_a_static_figure(name):
    "A widget cannot run on the static site: a chapter that shows one also shows saved figures of its states."
    outputs = [o for c in nbformat.read(NBS/name, as_version=4).cells for o in c.get('outputs', [])]
    widgets = sum(WIDGET_MIME in o.get('data', {}) for o in outputs)
    figures = sum('image/png' in o.get('data', {}) or 'image/svg+xml' in o.get('data', {}) for o in outputs)
    if widgets: assert figures, f'{name} shows {widgets} widget(s) but no static figure'


# ---------------------------------------------------------------------------------------------------------------------
# Site configuration

def _settings() -> dict:
    import configparser
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(ROOT/'settings.ini')
    return dict(cfg['DEFAULT'])


def test_quarto_config_files():
    quarto = yaml.safe_load((NBS/'_quarto.yml').read_text())
    assert quarto['project']['type'] == 'website'
    assert {'nbdev.yml', 'sidebar.yml'} <= set(quarto.get('metadata-files', []))
    nbdev_yml = yaml.safe_load((NBS/'nbdev.yml').read_text())
    assert nbdev_yml['website']['title'] and nbdev_yml['project']['output-dir']


def test_nbdev_yml_matches_settings(processed):
    "nbdev regenerates nbdev.yml from settings.ini on every docs build: the committed file is already what it writes."
    result, repo = processed  # nbdev_proc_nbs rewrites nbdev.yml before it processes any notebook
    assert (repo/'nbs'/'nbdev.yml').read_text() == (NBS/'nbdev.yml').read_text(), \
        'nbs/nbdev.yml is out of date with settings.ini (nbdev_docs would rewrite it)'


def _sidebar_pages(contents: list) -> list:
    "The pages of a sidebar's contents in reading order, sections flattened."
    pages = []
    for item in contents:
        pages += _sidebar_pages(item['contents']) if isinstance(item, dict) else [item]
    return pages


def test_sidebar_lists_every_chapter_once_in_three_tracks(processed):
    "The sidebar starts with the home page and the course's guide, then the core track, the experiments, under the hood."
    sidebar = yaml.safe_load((NBS/'sidebar.yml').read_text())
    contents = sidebar['website']['sidebar']['contents']
    pages = _sidebar_pages(contents)
    assert sorted(pages) == sorted(PAGES) and len(pages) == len(set(pages)), \
        f'nbs/sidebar.yml should list each of {PAGES} once, it lists {pages}'
    assert pages[:2] == ['index.ipynb', '00_course.ipynb']
    sections = [item['section'] for item in contents if isinstance(item, dict)]
    assert sections == ['Core track', 'Experiments', 'Under the hood'], sections
    for item in contents:  # within a track, chapters in chapter order, which is import order
        if isinstance(item, dict): assert item['contents'] == sorted(item['contents']), item
    assert str(_settings().get('custom_sidebar')).lower() in ('true', '1', 'yes'), \
        'custom_sidebar must be True in settings.ini, or nbdev replaces nbs/sidebar.yml with its own'
    assert (processed[1]/'nbs'/'sidebar.yml').read_text() == (NBS/'sidebar.yml').read_text()


def test_index_is_home_page_and_readme_source():
    assert _settings().get('readme_nb') == 'index.ipynb'
    spec = importlib.util.spec_from_file_location('render_readme', ROOT/'scripts'/'render_readme.py')
    render_readme = importlib.util.module_from_spec(spec); spec.loader.exec_module(render_readme)
    assert (ROOT/'README.md').read_text() == render_readme.render(NBS/'index.ipynb'), \
        'README.md differs from nbs/index.ipynb: run `make readme`'
