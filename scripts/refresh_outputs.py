"""Give the cells of a chapter you added or changed the outputs of a real run, and leave every other saved output alone.

The chapter runs top to bottom in a fresh kernel, as `scripts/bench_chapters.py` runs it (cells flagged `#| slow` or
`#| gpu` left out unless --flags names them). Then the outputs of the chosen cells are copied into the notebook: the
cells named by id, or with --changed every code cell that is new or whose source differs from git's HEAD. The outputs of
the other cells stay as they were saved, so numbers the prose quotes (slow cells' results among them) do not move.

    python scripts/refresh_outputs.py nbs/02_losses.ipynb --changed
    python scripts/refresh_outputs.py nbs/02_losses.ipynb --cells 3f2a9c1b 77d0e4aa
    python scripts/refresh_outputs.py nbs/07_ablation.ipynb --changed --flags slow --leave-out 2a98fb63 ...
"""
from __future__ import annotations
import argparse, importlib.util, json, os, subprocess, sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location('bench_chapters', ROOT/'scripts'/'bench_chapters.py')
bench = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(bench)


def _code(source: str) -> str:
    "A cell's source without its `#| hide` line: hiding a cell changes what the docs show, not what it computes."
    return '\n'.join(line for line in source.splitlines() if line.strip().replace(' ', '') != '#|hide')


def changed_cells(path: Path, since: str = 'HEAD') -> set[str]:
    """Ids of the code cells of `path` that are new or whose code differs from its version in git's `since` (a `#| hide`
    added or removed does not count)."""
    relative = path.resolve().relative_to(ROOT)
    shown = subprocess.run(['git', 'show', f'{since}:{relative}'], cwd=ROOT, capture_output=True, text=True)
    before = {}
    if shown.returncode == 0:
        before = {c['id']: _code(''.join(c['source'])) for c in json.loads(shown.stdout)['cells'] if 'id' in c}
    now = nbformat.read(path, as_version=4)
    return {c.id for c in now.cells if c.cell_type == 'code' and before.get(c.id) != _code(c.source)}


def refresh(path: Path, ids: set[str], flags: str = '', leave_out: set[str] = frozenset()) -> list[str]:
    """Run `path` in a fresh kernel, without the cells `leave_out` (whose saved outputs stay), and copy the outputs of
    the cells `ids` into it; returns the ids refreshed."""
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    os.environ.pop('MPLBACKEND', None)
    source = path
    if leave_out:  # a copy without them, in the chapter's folder so that relative paths still hold
        notebook = nbformat.read(path, as_version=4)
        notebook.cells = [c for c in notebook.cells if c.get('id') not in leave_out]
        source = path.with_name(f'.refresh-{path.name}')
        nbformat.write(notebook, source)
    try: executed, seconds, _ = bench.execute_chapter(source, bench.skipped_flags(flags))
    finally:
        if source != path: source.unlink(missing_ok=True)
    errors = bench.error_outputs(executed)
    if errors: raise SystemExit(f'{path.name}: error outputs, nothing written:\n' + '\n'.join(errors))
    ran = {c.id: c for c in executed.cells if c.cell_type == 'code'}
    notebook = nbformat.read(path, as_version=4)
    done = []
    for cell in notebook.cells:
        if cell.cell_type == 'code' and cell.id in ids and cell.id in ran:
            cell.outputs, cell.execution_count = ran[cell.id].outputs, None
            done.append(cell.id)
    nbformat.write(notebook, path)
    print(f'{path.name}: ran in {seconds:.0f} s; outputs refreshed for {len(done)} cell(s)')
    missing = ids - set(done)
    if missing: print(f'not run (left out by a flag, or not code): {sorted(missing)}')
    return done


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('notebook', type=Path)
    parser.add_argument('--cells', nargs='*', default=[], help='ids of the cells whose outputs to refresh')
    parser.add_argument('--changed', action='store_true', help='refresh the cells that are new or changed since HEAD')
    parser.add_argument('--since', default='HEAD', help='with --changed: the git revision to compare with (default HEAD)')
    parser.add_argument('--flags', default='', help='test flags whose cells run too, e.g. "slow"')
    parser.add_argument('--leave-out', nargs='*', default=[],
                        help='ids of cells not to run (e.g. long runs whose saved outputs stay); later cells must not '
                             'need them')
    args = parser.parse_args(argv)
    ids = set(args.cells) | (changed_cells(args.notebook, args.since) if args.changed else set())
    if not ids: raise SystemExit('no cells chosen: pass --cells ID ... or --changed')
    refresh(args.notebook, ids, args.flags, set(args.leave_out))
    subprocess.run(['nbdev_clean', '--fname', str(args.notebook)], cwd=ROOT, check=False)


if __name__ == '__main__':
    sys.exit(main())
