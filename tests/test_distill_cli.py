"""The command line `python -m distil_edu.train` (also `distil_edu_train`): help, errors as messages, settings from a file and options,
a full tiny run in a fresh process, and a student that works in the fill-mask pipeline."""
import json, os, subprocess, sys

import pytest

from distill_helpers import load_tokenizer, tiny_teacher, write_text_corpus
from distil_edu.train import main

def _cli(args, cwd, check=True):
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'OMP_NUM_THREADS': '1', 'TOKENIZERS_PARALLELISM': 'false', 'DISTIL_EDU_DATA': str(cwd/'data')}
    done = subprocess.run([sys.executable, '-m', 'distil_edu.train', *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check: assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done

def test_help_lists_every_setting(capsys):
    with pytest.raises(SystemExit) as done: main(['--help'])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for option in ('--preset', '--config', '--temperature', '--alpha_ce', '--restrict_ce_to_mask', '--micro_batch_size', '--resume'):
        assert option in out
    assert 'T of the soft-target loss' in out

def test_bad_setting_is_a_message_naming_it(tmp_path, capsys):
    with pytest.raises(SystemExit) as done: main(['--temperature', '0', '--max_steps', '1'])
    assert done.value.code == 2
    assert capsys.readouterr().err == 'distil_edu_train: error: temperature must be in (0, 100], got 0.0\n'
    with pytest.raises(SystemExit) as done: main(['--config', str(tmp_path/'missing.yaml')])
    assert done.value.code == 2 and 'no such file' in capsys.readouterr().err

def test_end_to_end_run_saves_a_fill_mask_student(tmp_path):
    tokenizer = load_tokenizer()
    teacher = tiny_teacher(len(tokenizer))
    teacher.save_pretrained(tmp_path/'teacher'); tokenizer.save_pretrained(tmp_path/'teacher')
    write_text_corpus(tmp_path/'corpus')
    (tmp_path/'run.yaml').write_text('batch_size: 8\nmicro_batch_size: 4\nmax_length: 32\nvalid_sequences: 16\neval_every: 2\n')
    done = _cli(['--config', 'run.yaml', '--teacher', str(tmp_path/'teacher'), '--corpus', str(tmp_path/'corpus'),
                 '--max_steps', '3', '--output_dir', 'out', '--progress', 'false', '--learning_rate', '1e-3'], tmp_path)
    out = done.stdout
    assert 'Settings:' in out and 'max_steps: 3' in out and 'batch_size: 8' in out and 'learning_rate: 0.001' in out  # resolved settings
    assert '| held-out masked-LM accuracy |' in out and 'top-1 agreement with the teacher' in out
    results = json.loads((tmp_path/'out'/'results.json').read_text())
    assert results['steps'] == 3 and results['teacher']['layers'] == 4 and results['student_after']['layers'] == 2
    assert results['student_after']['parameters'] < results['teacher']['parameters']
    log = [json.loads(line) for line in (tmp_path/'out'/'log.jsonl').read_text().splitlines()]
    assert [r['step'] for r in log if r['kind'] == 'train'] == [1, 2, 3]
    assert [r['step'] for r in log if r['kind'] == 'valid'] == [0, 2, 3]
    from transformers import pipeline
    fill = pipeline('fill-mask', model=str(tmp_path/'out'/'student'))
    predictions = fill('the old man and the [MASK] .')
    assert len(predictions) == 5 and all('token_str' in p for p in predictions)
