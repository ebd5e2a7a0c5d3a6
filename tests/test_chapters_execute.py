"""Every chapter runs top to bottom in a fresh Jupyter kernel, as a learner runs it, without an error output.

`nbdev_test` executes the notebooks too, but inside one Python process; this check starts a real kernel per chapter
(nbclient), so widgets, display and matplotlib go through the path JupyterLab uses. Cells flagged `#| slow` or `#| gpu`
are left out (set CHAPTER_FLAGS="slow" to run those too; GPU cells run by themselves where torch sees a GPU). The
notebooks are never written. The runs are marked `chapters`: select them with `-m chapters`, leave them out with
`-m "not chapters"`.
Run times are printed by `scripts/bench_chapters.py`, not asserted here.
"""
from __future__ import annotations
import importlib.util, os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location('bench_chapters', ROOT/'scripts'/'bench_chapters.py')
bench = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(bench)

def test_directives_and_skipped_cells():
    "The cell filter reads nbdev's directives the way nbdev_test does."
    import nbformat
    code = nbformat.v4.new_code_cell
    skip = {'slow', 'gpu'}
    assert bench.directives('#| slow\n#|eval: false\nx = 1\n#| not a directive') == {'slow': '', 'eval:': 'false'}
    assert not bench.keep_cell(code('#| slow\ntrain()'), skip)
    assert not bench.keep_cell(code('#| gpu\ntrain()'), skip)
    assert bench.keep_cell(code('#| slow\ntrain()'), {'gpu'})
    assert not bench.keep_cell(code('#| eval: false\nbroken()'), skip)
    assert not bench.keep_cell(code('#| hide\nimport nbdev; nbdev.nbdev_export()'), skip)
    assert bench.keep_cell(code('#| export\ndef f(): pass'), skip)
    assert bench.keep_cell(code('x = 1  # slow\n#| slow'), skip)  # a directive only counts at the top of a cell
    assert bench.keep_cell(nbformat.v4.new_markdown_cell('#| slow'), skip)


def test_error_outputs_are_found():
    import nbformat
    cell = nbformat.v4.new_code_cell('1/0')
    cell.outputs = [nbformat.v4.new_output('error', ename='ZeroDivisionError', evalue='division by zero', traceback=[])]
    ok = nbformat.v4.new_code_cell('print(1)')
    ok.outputs = [nbformat.v4.new_output('stream', name='stdout', text='1\n')]
    assert bench.error_outputs(nbformat.v4.new_notebook(cells=[ok, cell])) == ['cell 1: ZeroDivisionError: division by zero']
    logged = nbformat.v4.new_code_cell('run()')
    logged.outputs = [nbformat.v4.new_output('stream', name='stderr', text='Traceback (most recent call last):\n  ...\nKeyError: 3\n')]
    warned = nbformat.v4.new_code_cell('run()')
    warned.outputs = [nbformat.v4.new_output('stream', name='stderr', text='distilling:  40%|####      | 2/5\n')]
    assert bench.error_outputs(nbformat.v4.new_notebook(cells=[logged, warned])) == ['cell 0: stderr: KeyError: 3']


@pytest.mark.chapters
@pytest.mark.parametrize('path', bench.chapters(), ids=lambda p: p.stem)
def test_chapter_runs_in_a_fresh_kernel(path, monkeypatch):
    from nbclient.exceptions import CellExecutionError
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.delenv('MPLBACKEND', raising=False)  # the kernel's own inline backend, as in JupyterLab
    skip = bench.skipped_flags(os.environ.get('CHAPTER_FLAGS', ''))
    try: nb, seconds, dropped = bench.execute_chapter(path, skip)
    except CellExecutionError as e: pytest.fail(f'{path.name} stopped on an error:\n{e}', pytrace=False)
    errors = bench.error_outputs(nb)
    assert not errors, f'{path.name} ran with error outputs:\n' + '\n'.join(errors)
    assert any(c.get('outputs') for c in nb.cells if c.cell_type == 'code'), f'{path.name} produced no output at all'
