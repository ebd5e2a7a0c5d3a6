"""Checkpoints of `Distiller`: a stopped and resumed run repeats an uninterrupted one exactly; NaN stops the run and keeps the last good checkpoint."""
import json, os, signal

import pytest
import torch

from distill_helpers import load_tokenizer, tiny_teacher, token_sequences
from distil_edu.checkpoint import load_checkpoint, load_step
from distil_edu.distill import DistilConfig, Distiller
from distil_edu.student import make_student

TOKENIZER = load_tokenizer()
SEQUENCES = token_sequences(TOKENIZER)

def distiller(output_dir, student_seed=0, dropout=0.1, **settings):
    "A Distiller of the tiny teacher (dropout on by default: the random streams must be restored too) into its 2-layer student."
    settings = {**dict(batch_size=8, micro_batch_size=4, max_steps=6, learning_rate=1e-3, smoothing=None, output_dir=str(output_dir),
                       progress=False, eval_every=3, checkpoint_every=2, valid_sequences=8), **settings}
    teacher = tiny_teacher(len(TOKENIZER), dropout=dropout)
    student = make_student(tiny_teacher(len(TOKENIZER), dropout=dropout, seed=student_seed))
    return Distiller(teacher, student, DistilConfig(**settings), SEQUENCES[8:], SEQUENCES[:8], tokenizer=TOKENIZER)

def interrupt_during_step(d, step):
    "Send Ctrl-C (SIGINT) to this process during training step `step` (counted from 1)."
    def hook(module, inputs, output):
        if module.training and d.step == step - 1 and not hook.sent: hook.sent = True; os.kill(os.getpid(), signal.SIGINT)
    hook.sent = False
    return d.student.distilbert.register_forward_hook(hook)

def test_resume_is_exact(tmp_path):
    full = distiller(tmp_path/'full'); full.fit()
    stopped = distiller(tmp_path/'stopped')
    hook = interrupt_during_step(stopped, 3)
    stopped.fit(); hook.remove()
    assert stopped.step == 3 and load_step(tmp_path/'stopped'/'checkpoint') == 3  # Ctrl-C finished the step and wrote a checkpoint
    assert not (tmp_path/'stopped'/'student').exists()  # the final student is written only at the end
    resumed = distiller(tmp_path/'stopped', student_seed=1, resume=True)  # other initial weights: the checkpoint's must win
    assert resumed.step == 3
    resumed.fit()
    assert len(full.losses()) == len(resumed.losses()) == 6
    assert max(abs(a - b) for a, b in zip(full.losses(), resumed.losses())) < 1e-6, (full.losses(), resumed.losses())
    for a, b in zip(full.student.parameters(), resumed.student.parameters()): assert torch.allclose(a, b, atol=1e-6)
    log = [json.loads(line) for line in (tmp_path/'stopped'/'log.jsonl').read_text().splitlines()]
    assert [r['step'] for r in log if r['kind'] == 'train'] == [1, 2, 3, 4, 5, 6]  # the log on disk follows the resume
    assert (tmp_path/'stopped'/'student'/'model.safetensors').exists()

def test_micro_batch_size_may_change_on_resume(tmp_path):
    "A step's update does not depend on how its batch is cut, so a resume may use another micro-batch size (or number of GPUs)."
    full = distiller(tmp_path/'full', dropout=0.0); full.fit()  # without dropout, whose draws depend on the micro-batch shapes
    stopped = distiller(tmp_path/'stopped', dropout=0.0)
    hook = interrupt_during_step(stopped, 2); stopped.fit(); hook.remove()
    resumed = distiller(tmp_path/'stopped', dropout=0.0, resume=True, micro_batch_size=2)
    assert (stopped.accumulation, resumed.accumulation) == (2, 4)
    resumed.fit()
    assert max(abs(a - b) for a, b in zip(full.losses(), resumed.losses())) < 1e-5, (full.losses(), resumed.losses())

def test_nan_stops_and_keeps_last_good_checkpoint(tmp_path):
    d = distiller(tmp_path/'run')
    def poison(module, inputs, output):  # the student's logits turn NaN during step 4
        return output * float('nan') if module.training and d.step == 3 else output
    d.student.vocab_projector.register_forward_hook(poison)
    with pytest.raises(FloatingPointError) as error:
        d.fit()
    message = str(error.value)
    assert 'step 4' in message and 'ce = nan' in message and 'mlm = nan' in message, message
    assert 'last good checkpoint (step 2)' in message, message
    assert d.step == 3
    state = load_checkpoint(tmp_path/'run'/'checkpoint', make_student(tiny_teacher(len(TOKENIZER))))  # weights_only=True inside
    assert state['step'] == 2 and all(torch.isfinite(torch.tensor([r['loss'] for r in state['history'] if r['kind'] == 'train'])))
    log = [json.loads(line) for line in (tmp_path/'run'/'log.jsonl').read_text().splitlines()]
    assert [r['step'] for r in log if r['kind'] == 'train'] == [1, 2, 3]

def test_checkpoint_is_safetensors_and_weights_only(tmp_path):
    d = distiller(tmp_path/'run', max_steps=2); d.fit()
    folder = tmp_path/'run'/'checkpoint'
    assert sorted(p.name for p in folder.iterdir()) == ['config.json', 'manifest.json', 'state.pt', 'student.safetensors']
    state = torch.load(folder/'state.pt', weights_only=True)  # no pickled code: tensors and plain containers only
    assert state['step'] == 2 and set(state) >= {'optimizer', 'scheduler', 'rng', 'history', 'config'}
    assert state['optimizer']['state']  # AdamW's moments are there

def test_no_silent_overwrite_and_no_resume_with_other_settings(tmp_path):
    distiller(tmp_path/'run', max_steps=2).fit()
    with pytest.raises(FileExistsError, match='resume=True'): distiller(tmp_path/'run', max_steps=2)
    with pytest.raises(ValueError, match='learning_rate'): distiller(tmp_path/'run', max_steps=2, resume=True, learning_rate=1e-4)
    with pytest.raises(FileNotFoundError, match='nothing to resume'): distiller(tmp_path/'empty', resume=True)
    assert distiller(tmp_path/'run', max_steps=2, overwrite=True).step == 0
