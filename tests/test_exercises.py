"""The exercises (the core chapters' and any other chapter's): every check accepts its reference solution and rejects each plausible wrong answer it lists, and an
answer not yet written is never "right"; every core chapter ends with 3 to 5 exercises; every `check('id', ...)` of a
chapter names a registered exercise, and every registered exercise is asked in a chapter."""
import json, re
from pathlib import Path

import pytest
import yaml

from distil_edu.exercises import EXERCISES, check, reference_problems

NBS = Path(__file__).resolve().parent.parent/'nbs'
HEADING = re.compile(r'^\*\*Exercise (\d\d)\.(\d+) \((predict|code)\)\.\*\*', re.M)


def core_chapters() -> list:
    "The notebooks of the sidebar's core section, in reading order."
    contents = yaml.safe_load((NBS/'sidebar.yml').read_text())['website']['sidebar']['contents']
    core = [item for item in contents if isinstance(item, dict) and 'core' in str(item.get('section', '')).lower()]
    assert len(core) == 1, 'the sidebar has one core section'
    return [NBS/name for name in core[0]['contents']]


def exercises_of(notebook: Path) -> list:
    "(id, kind, cell source) of each exercise heading of a chapter, in order."
    found = []
    for cell in json.loads(notebook.read_text())['cells']:
        if cell['cell_type'] != 'markdown': continue
        source = ''.join(cell['source'])
        found += [(f'{m.group(1)}.{m.group(2)}', m.group(3), source) for m in HEADING.finditer(source)]
    return found


def test_reference_solutions_pass_and_wrong_answers_fail():
    assert EXERCISES, 'no exercise registered'
    assert reference_problems() == []


@pytest.mark.parametrize('exercise_id', sorted(EXERCISES))
def test_an_unwritten_answer_is_not_right(exercise_id):
    def stub(*args, **kwargs): raise NotImplementedError
    for answer in (stub, None):
        verdict = check(exercise_id, answer)
        assert not verdict and verdict.message == 'no answer yet.' and verdict.hint


def test_core_chapters_end_with_three_to_five_exercises():
    for notebook in core_chapters():
        found = exercises_of(notebook)
        assert 3 <= len(found) <= 5, f'{notebook.name}: {len(found)} exercises'
        number = notebook.name[:2]
        assert all(i.startswith(number + '.') for i, _, _ in found), (notebook.name, [i for i, _, _ in found])
        for exercise_id, kind, source in found:
            if kind == 'predict': assert '<details>' in source and '</details>' in source, (notebook.name, exercise_id)


def test_checks_in_chapters_match_the_registry():
    asked = set()
    for notebook in sorted(NBS.glob('*.ipynb')):
        for cell in json.loads(notebook.read_text())['cells']:
            if cell['cell_type'] == 'code':
                asked |= set(re.findall(r"""\bcheck\(['"](\d\d\.\d+)['"]""", ''.join(cell['source'])))
    assert asked - set(EXERCISES) == set(), 'asked in a chapter but not registered'
    assert set(EXERCISES) - asked == set(), 'registered but asked in no chapter'
    headed = {i for nb in sorted(NBS.glob('*.ipynb')) for i, kind, _ in exercises_of(nb) if kind == 'code'}
    assert headed == set(EXERCISES), (headed, set(EXERCISES))
