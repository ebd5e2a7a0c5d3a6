"""What a reader of a committed chapter (or of the docs site built from it) sees: no progress bar frozen below 100%, no error
output, and no warning on stderr unless the prose right after it explains it (says "warning")."""
import json, re
from pathlib import Path

import pytest

CHAPTERS = sorted((Path(__file__).resolve().parent.parent/'nbs').glob('[0-9]*.ipynb'))
UNFINISHED = re.compile(r'(^|\s)\d{1,2}%\|')  # "  0%|", " 37%|": a bar short of 100%
WARNING = re.compile(r'[Ww]arn|\[transformers\]')


def output_text(output: dict) -> str:
    if output.get('output_type') == 'stream': return ''.join(output.get('text', ''))
    return ''.join(output.get('data', {}).get('text/plain', ''))


def problems(notebook: Path) -> list:
    cells, found = json.loads(notebook.read_text())['cells'], []
    for i, cell in enumerate(cells):
        explained = i + 1 < len(cells) and cells[i + 1]['cell_type'] == 'markdown' and \
            'warning' in ''.join(cells[i + 1]['source']).lower()
        for output in cell.get('outputs', []):
            text = output_text(output)
            where = f"{notebook.name} cell {cell['id']}"
            if output.get('output_type') == 'error': found.append(f"{where}: error output ({output.get('ename')})")
            elif UNFINISHED.search(text) or 'Loading weights' in text:
                found.append(f"{where}: progress bar saved unfinished: {text.strip()[:80]!r}")
            elif output.get('name') == 'stderr' and WARNING.search(text) and not explained:
                found.append(f"{where}: unexplained warning on stderr: {text.strip()[:80]!r}")
    return found


def test_the_check_finds_what_it_should(tmp_path):
    bad = {'cells': [
        {'cell_type': 'code', 'id': 'a', 'source': [], 'outputs': [
            {'output_type': 'display_data', 'data': {'text/plain': 'distilling:   0%|          | 0/50 [00:00<?, ?it/s]'}}]},
        {'cell_type': 'code', 'id': 'b', 'source': [], 'outputs': [
            {'output_type': 'stream', 'name': 'stderr', 'text': ['UserWarning: something\n']}]},
        {'cell_type': 'code', 'id': 'c', 'source': [], 'outputs': [
            {'output_type': 'stream', 'name': 'stdout', 'text': ['distilling: 100%|██████████| 50/50 [01:02<00:00]\n']},
            {'output_type': 'stream', 'name': 'stderr', 'text': ['FutureWarning: explained below\n']}]},
        {'cell_type': 'markdown', 'id': 'd', 'source': ['The warning above comes from ...']},
    ]}
    path = tmp_path/'01_x.ipynb'; path.write_text(json.dumps(bad))
    found = problems(path)
    assert len(found) == 2 and 'cell a: progress bar' in found[0] and 'cell b: unexplained warning' in found[1], found


@pytest.mark.parametrize('notebook', CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_saved_outputs_are_clean(notebook):
    found = problems(notebook)
    assert not found, '\n'.join(found)
