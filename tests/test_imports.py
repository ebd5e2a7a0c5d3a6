"""Chapter order is import order: each module of `distil_edu` imports only modules of its own or an earlier chapter, so a learner
can read the chapters front to back, and the import graph has no cycle (no lazy import hides one)."""
import ast, importlib.util, json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT/'distil_edu'


def chapter_of_module() -> dict:
    "module name -> the chapter (notebook name) whose `default_exp` it is."
    chapters = {}
    for notebook in sorted((ROOT/'nbs').glob('*.ipynb')):
        for cell in json.loads(notebook.read_text())['cells']:
            found = re.match(r'#\|\s*default_exp\s+(\S+)', ''.join(cell['source']))
            if found: chapters[found.group(1)] = notebook.stem; break
    return chapters


def imported_modules(path: Path) -> set:
    "The `distil_edu` modules that `path` imports anywhere, at the top or inside a function."
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            name = node.module or ''
            if node.level == 1: found.add(name.split('.')[0] if name else '')
            elif name.startswith('distil_edu.'): found.add(name.split('.')[1])
            elif name == 'distil_edu': found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split('.')[1] for a in node.names if a.name.startswith('distil_edu.'))
    return found - {''}


def import_graph() -> dict:
    modules = {p.stem for p in PACKAGE.glob('*.py')} - {'__init__', '_modidx'}
    return {m: imported_modules(PACKAGE/f'{m}.py') & modules - {m} for m in sorted(modules)}


def test_every_module_has_a_chapter():
    assert set(import_graph()) == set(chapter_of_module()), (set(import_graph()), chapter_of_module())


PRESENTATION = 'widgets'  # the one module that draws: taught across the chapters, it may import any of them
TEACHING = {PRESENTATION, 'exercises'}  # filled by every chapter (plots, widgets, exercise checks): may import any of them


def test_imports_follow_chapter_order():
    chapters, graph = chapter_of_module(), import_graph()
    backward = [f"{m} ({chapters[m]}) imports {d} ({chapters[d]})" for m, deps in graph.items() for d in deps
                if chapters[d] > chapters[m] and m not in TEACHING]
    assert not backward, backward


def test_no_core_module_imports_the_presentation_layer():
    importers = [m for m, deps in import_graph().items() if deps & TEACHING and m not in TEACHING]
    assert not importers, importers


def third_party_imports(path: Path) -> set:
    "Top-level package names that `path` imports anywhere, at the top or inside a function."
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import): found.update(a.name.split('.')[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module: found.add(node.module.split('.')[0])
    return found


def test_only_the_presentation_layer_draws():
    "matplotlib, ipywidgets and IPython's display are imported by `distil_edu.widgets` only, not even inside a function."
    drawing = {'matplotlib', 'ipywidgets'}
    users = {p.stem: sorted(third_party_imports(p) & drawing) for p in PACKAGE.glob('*.py') if p.stem != PRESENTATION}
    assert not {m: u for m, u in users.items() if u}, users
    assert third_party_imports(PACKAGE/f'{PRESENTATION}.py') >= drawing


def test_import_graph_is_acyclic():
    graph, state = import_graph(), {}
    def visit(module, path):
        if state.get(module) == 'done': return
        assert state.get(module) != 'open', f"import cycle: {' -> '.join(path + [module])}"
        state[module] = 'open'
        for dependency in sorted(graph[module]): visit(dependency, path + [module])
        state[module] = 'done'
    for module in graph: visit(module, [])


def test_the_check_sees_lazy_imports(tmp_path):
    "The parser finds an import inside a function, relative or absolute: the kind that used to hide the teacher/data cycle."
    source = tmp_path/'m.py'
    source.write_text('from .teacher import a\ndef f():\n    from distil_edu.data import b\n    import distil_edu.losses\n')
    assert imported_modules(source) == {'teacher', 'data', 'losses'}


def test_no_two_modules_export_the_same_name():
    "One name, one idea: `from distil_edu.x import name` cannot mean two things (each module's `main` is its command line)."
    spec = importlib.util.spec_from_file_location('_modidx_names', PACKAGE/'_modidx.py')
    modidx = importlib.util.module_from_spec(spec); spec.loader.exec_module(modidx)
    owners = {}
    for module, symbols in modidx.d['syms'].items():
        for full in symbols:
            name = full[len(module) + 1:]
            if '.' not in name: owners.setdefault(name, []).append(module)
    shared = {name: modules for name, modules in owners.items() if len(modules) > 1 and name != 'main'}
    assert not shared, shared
