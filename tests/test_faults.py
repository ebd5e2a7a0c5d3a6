"""What a cluster, a full disk and a careless user do to a training run: SIGKILL at chosen points of a checkpoint write and in the
middle of a step, SIGTERM and Ctrl-C, damaged checkpoint files, a full disk, and bad input on the command line.

After every kill the run resumes and must repeat an uninterrupted run's losses, step for step (1e-6). Each fault that cannot be
recovered is one clear error naming the file or the setting."""
import json, os, signal, subprocess, sys, time
from pathlib import Path

import pytest
import torch

from distill_helpers import load_tokenizer, tiny_teacher, write_text_corpus
from fault_worker import SETTINGS, make_distiller
import distil_edu.checkpoint as checkpoint
import distil_edu.distill as distill
from distil_edu.checkpoint import CheckpointError, find_checkpoint, load_step, verify_checkpoint
from distil_edu.train import main, read_config_file

WORKER = Path(__file__).with_name('fault_worker.py')


def run_worker(output_dir, fault, check_code=None):
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'OMP_NUM_THREADS': '1', 'TOKENIZERS_PARALLELISM': 'false'}
    done = subprocess.run([sys.executable, str(WORKER), str(output_dir), fault], env=env, capture_output=True, text=True, timeout=300)
    if check_code is not None:
        assert done.returncode == check_code, f"exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    "The per-step losses of the uninterrupted run."
    d = make_distiller(tmp_path_factory.mktemp('reference')/'run', overwrite=True); d.fit()
    return d.losses()


def resume_and_compare(output_dir, reference):
    "Requeue the run as a job script would (`resume='auto'`: resume if there is a checkpoint, else start) and compare."
    d = make_distiller(output_dir, resume='auto')
    d.fit()
    losses = d.losses()
    assert len(losses) == len(reference) == SETTINGS['max_steps']
    assert max(abs(a - b) for a, b in zip(losses, reference)) < 1e-6, (losses, reference)
    log = [json.loads(line) for line in (Path(output_dir)/'log.jsonl').read_text().splitlines()]
    assert [r['step'] for r in log if r['kind'] == 'train'] == list(range(1, SETTINGS['max_steps'] + 1))
    assert not (Path(output_dir)/'checkpoint.tmp').exists()
    return d


# Checkpoints are written at steps 2, 4 and 6. Per save: `_remove(tmp)`, then (from the second save on) `_remove(old)`;
# `save_model` once; `_write_bytes` for state.pt, config.json, manifest.json; `_rename(path, old)` (from the second save on)
# and `_rename(tmp, path)`; `_fsync` for the weights, the folder and its parent.
KILL_POINTS = ['kill-before:save_model:2', 'kill-after:save_model:2', 'truncate:4', 'kill-after:_write_bytes:6',
               'kill-after:_remove:3', 'kill-after:_rename:2', 'kill-after:_rename:3', 'kill-after:_fsync:6', 'kill-after:_remove:5',
               'kill-in-step:2', 'kill-in-step:5']


@pytest.mark.parametrize('fault', KILL_POINTS)
def test_sigkill_then_resume_is_exact(tmp_path, reference, fault):
    done = run_worker(tmp_path/'run', fault)
    assert done.returncode == -signal.SIGKILL, f"the fault did not fire: exit {done.returncode}\n{done.stderr[-2000:]}"
    if fault != 'kill-in-step:2':  # killed before the first checkpoint: requeueing starts again
        assert find_checkpoint(tmp_path/'run'/'checkpoint', say=lambda message: None)[1] in (2, 4, 6)  # something valid survived
    resume_and_compare(tmp_path/'run', reference)


@pytest.mark.parametrize('fault, code, message', [('sigterm-in-step:3', 143, 'SIGTERM: stopping after this step'),
                                                  ('sigint-in-step:3', 130, 'Ctrl-C: stopping after this step')])
def test_sigterm_and_ctrl_c_write_a_checkpoint_and_exit_non_zero(tmp_path, reference, fault, code, message):
    done = run_worker(tmp_path/'run', fault, check_code=code)
    assert message in done.stderr and 'step=3' in done.stdout
    assert load_step(tmp_path/'run'/'checkpoint') == 3  # the step finished and was saved, though checkpoint_every is 2
    assert not (tmp_path/'run'/'student').exists()  # the final student only at the end
    resume_and_compare(tmp_path/'run', reference)


def test_sigterm_from_outside(tmp_path):
    "What `timeout`, SLURM or Kubernetes do: SIGTERM at a moment the run does not choose."
    reference = make_distiller(tmp_path/'reference', overwrite=True, max_steps=30); reference.fit()
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'OMP_NUM_THREADS': '1'}
    worker = subprocess.Popen([sys.executable, str(WORKER), str(tmp_path/'run'), 'slow'], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path/'run'/'checkpoint'/'manifest.json').exists() and time.monotonic() < deadline: time.sleep(0.05)
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 143, (out, err)
    stopped_at = load_step(tmp_path/'run'/'checkpoint')
    assert 2 <= stopped_at < 30 and f'step={stopped_at}' in out
    resumed = make_distiller(tmp_path/'run', resume=True, max_steps=30); resumed.fit()
    assert max(abs(a - b) for a, b in zip(reference.losses(), resumed.losses())) < 1e-6


def test_resume_auto_starts_or_resumes(tmp_path, reference, capsys):
    fresh = make_distiller(tmp_path/'run', resume='auto')  # nothing there: starts
    assert fresh.step == 0
    run_worker(tmp_path/'run', 'sigterm-in-step:3', check_code=143)
    again = make_distiller(tmp_path/'run', resume='auto')
    assert again.step == 3 and 'Resuming at step 3 of 6' in capsys.readouterr().out
    again.fit()
    assert max(abs(a - b) for a, b in zip(again.losses(), reference)) < 1e-6


# damaged checkpoints

def flip(path, offset=-64, count=64):
    data = bytearray(path.read_bytes()); data[offset:offset + count or None] = bytes(b ^ 0xFF for b in data[offset:offset + count or None])
    path.write_bytes(bytes(data))


DAMAGES = {'flipped': flip, 'truncated': lambda p: p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2]),
           'empty': lambda p: p.write_bytes(b''), 'missing': lambda p: p.unlink()}
EXPECTED = {'flipped': 'is corrupted: its SHA-256 differs', 'truncated': 'is truncated or changed', 'empty': 'is truncated or changed',
            'missing': 'is missing'}


@pytest.fixture(scope='module')
def two_checkpoints(tmp_path_factory):
    "A run stopped after step 4: `checkpoint` holds step 4 and `checkpoint.old` step 2."
    folder = tmp_path_factory.mktemp('two')/'run'
    d = make_distiller(folder, overwrite=True, max_steps=4); d.fit()
    assert [verify_checkpoint(folder/name)['step'] for name in ('checkpoint', 'checkpoint.old')] == [4, 2]
    return folder


def copy_run(source, target):
    import shutil
    shutil.copytree(source, target)
    return target


@pytest.mark.parametrize('damage', DAMAGES)
@pytest.mark.parametrize('name', ['student.safetensors', 'state.pt', 'config.json', 'manifest.json'])
def test_damaged_checkpoint_is_an_error_naming_the_file(tmp_path, two_checkpoints, name, damage):
    run = copy_run(two_checkpoints, tmp_path/'run')
    for folder in ('checkpoint', 'checkpoint.old'): DAMAGES[damage](run/folder/name)
    with pytest.raises(CheckpointError) as error: make_distiller(run, resume=True, max_steps=4)
    message = str(error.value)
    expected = EXPECTED[damage] if name != 'manifest.json' else 'is missing' if damage == 'missing' else 'is corrupted'
    for folder in ('checkpoint', 'checkpoint.old'): assert f"{run/folder/name}" in message, message
    assert expected in message and 'no usable checkpoint' in message and 'weights_only' not in message, message


def test_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path, two_checkpoints, capsys):
    run = copy_run(two_checkpoints, tmp_path/'run')
    flip(run/'checkpoint'/'student.safetensors', offset=-6000)  # the 64 bytes that showed a loss of 10,981 when loaded silently
    flip(run/'checkpoint'/'state.pt', offset=200)
    d = make_distiller(run, resume=True, max_steps=4)
    out = capsys.readouterr().out
    assert d.step == 2 and 'student.safetensors is corrupted' in out and f"Using {run/'checkpoint.old'} (step 2) instead" in out
    reference = make_distiller(tmp_path/'reference', overwrite=True, max_steps=4); reference.fit()
    d.fit()
    assert max(abs(a - b) for a, b in zip(reference.losses(), d.losses())) < 1e-6
    # the next save replaced the damaged folder and kept the good one as the previous checkpoint
    assert [verify_checkpoint(run/name)['step'] for name in ('checkpoint', 'checkpoint.old')] == [4, 2]


# a full disk

@pytest.fixture
def small_disk(tmp_path):
    "A 20 MiB tmpfs: room for one checkpoint of the tiny student (about 12 MiB), not for two."
    mount = tmp_path/'disk'; mount.mkdir()
    done = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', str(mount)], capture_output=True, text=True)
    if done.returncode != 0: pytest.skip(f"a small tmpfs cannot be mounted here ({done.stderr.strip()}); needs root")
    yield mount
    subprocess.run(['umount', str(mount)], check=True)


@pytest.mark.parametrize('estimate', [True, False], ids=['checked before writing', 'disk full while writing'])
def test_full_disk_keeps_the_previous_checkpoint(small_disk, monkeypatch, estimate):
    if not estimate: monkeypatch.setattr(checkpoint, '_free_bytes', lambda folder: 1 << 40)  # the estimate passes: the write fails
    d = make_distiller(small_disk/'run', overwrite=True, max_steps=4)
    with pytest.raises(OSError) as error: d.fit()
    assert str(error.value).startswith(f"no space left on device in {small_disk/'run'}"), str(error.value)
    assert 'the previous one is kept' in str(error.value)
    assert load_step(small_disk/'run'/'checkpoint') == 2 and verify_checkpoint(small_disk/'run'/'checkpoint')
    assert not (small_disk/'run'/'checkpoint.tmp').exists()  # no partial folder left behind


# bad input on the command line: one line, exit code 2, the same message as the library's

@pytest.fixture(scope='module')
def cli_files(tmp_path_factory):
    root = tmp_path_factory.mktemp('cli')
    tokenizer = load_tokenizer()
    tiny_teacher(len(tokenizer)).save_pretrained(root/'teacher'); tokenizer.save_pretrained(root/'teacher')
    small = tiny_teacher(len(tokenizer)); small = type(small)(type(small.config)(**{**small.config.to_dict(), 'vocab_size': 1000}))
    small.save_pretrained(root/'small_vocab'); tokenizer.save_pretrained(root/'small_vocab')
    write_text_corpus(root/'corpus', documents=6, sentences=30)
    (root/'empty.txt').write_text('')
    (root/'no_text').mkdir(); (root/'no_text'/'notes.md').write_text('# not a .txt file\n')
    (root/'binary.txt').write_bytes(bytes(range(256)) * 8)
    (root/'bad.yaml').write_text('batch_size: 8\nlearning_rate: [1e-4\n')
    (root/'bad.json').write_text('{"batch_size": 8,}')
    (root/'a_file').write_text('')
    (root/'old_run').mkdir()
    return root


def cli(capsys, root, *args, output='out'):
    with pytest.raises(SystemExit) as done:
        main(['--teacher', str(root/'teacher'), '--corpus', str(root/'corpus'), '--max_length', '32', '--batch_size', '8',
              '--micro_batch_size', '4', '--max_steps', '2', '--valid_sequences', '8', '--progress', 'false', '--output_dir',
              str(root/output), *args])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()  # progress bars of the loading may come first
    assert done.value.code == 2, (done.value.code, err)
    assert lines[-1].startswith('distil_edu_train: error: ') and 'Traceback' not in err, err
    assert sum('error' in line for line in lines) == 1, err
    return lines[-1]


BAD_INPUTS = {  # options -> a part of the message
    'empty corpus file': (['--corpus', '{root}/empty.txt'], 'corpus: {root}/empty.txt is empty: expected text files'),
    'folder without text': (['--corpus', '{root}/no_text'], 'corpus: no .txt files under {root}/no_text'),
    'binary corpus file': (['--corpus', '{root}/binary.txt'], 'binary.txt holds NUL bytes, so it is binary'),
    'max_length above the teacher': (['--max_length', '128'], "max_length=128 is above the model's limit of 64 positions"),
    'vocabulary mismatch': (['--teacher', '{root}/small_vocab'], "the tokenizer has 30,522 tokens and the teacher's vocabulary 1,000"),
    'student_layers out of range': (['--student_layers', '0,9'], 'layers: 9 is out of range; the teacher has layers 0 to 3'),
    'batch not a multiple': (['--batch_size', '10'], 'batch_size=10 must be a multiple of micro_batch_size'),
    'resume without a checkpoint': (['--resume', 'true'], 'nothing to resume'),
    'unwritable output folder': (['--output_dir', '{root}/a_file/run'], 'cannot be written'),
    'missing teacher folder': (['--teacher', '{root}/no/such/teacher'], 'teacher: no such folder: {root}/no/such/teacher'),
    'invalid YAML': (['--config', '{root}/bad.yaml'], 'bad.yaml is not valid YAML (line 3, column 1'),
    'invalid JSON': (['--config', '{root}/bad.json'], 'bad.json is not valid JSON (line 1, column 18'),
    'absurd learning rate': (['--learning_rate', '1e39'], 'learning_rate must be in (0, 1], got 1e+39'),
    'GPU without a GPU': (['--device', 'cuda'], 'torch sees no GPU here'),
}


@pytest.mark.parametrize('case', BAD_INPUTS)
def test_bad_input_is_one_line(capsys, cli_files, case):
    if case == 'GPU without a GPU' and torch.cuda.is_available(): pytest.skip('this machine has a GPU')
    options, expected = BAD_INPUTS[case]
    line = cli(capsys, cli_files, *[o.format(root=cli_files) for o in options])
    assert expected.format(root=cli_files) in line, line


def test_existing_checkpoint_without_resume(capsys, cli_files):
    make_distiller(cli_files/'old_run', overwrite=True, max_steps=2).fit()
    capsys.readouterr()
    line = cli(capsys, cli_files, output='old_run')
    assert 'holds a checkpoint of an earlier run: pass resume=True' in line


def test_nan_stop_is_one_line(capsys, cli_files, monkeypatch):
    real = distill.micro_batch_loss
    def poisoned(*args, **kwargs): return {k: v * float('nan') for k, v in real(*args, **kwargs).items()}
    monkeypatch.setattr(distill, 'micro_batch_loss', poisoned)
    line = cli(capsys, cli_files, output='nan_run')
    assert 'step 1: ce = nan, mlm = nan, cos = nan: not finite. Training stopped before the update' in line


def test_library_raises_the_same_messages(cli_files, capsys):
    from distil_edu.data import load_corpus
    with pytest.raises(ValueError) as error: load_corpus(cli_files/'binary.txt')
    assert f"distil_edu_train: error: {error.value}" == cli(capsys, cli_files, '--corpus', str(cli_files/'binary.txt'))
    with pytest.raises(ValueError) as error: read_config_file(cli_files/'bad.yaml')
    assert f"distil_edu_train: error: {error.value}" == cli(capsys, cli_files, '--config', str(cli_files/'bad.yaml'))
    with pytest.raises(ValueError) as error: make_distiller(cli_files/'x', batch_size=10)
    assert 'batch_size=10 must be a multiple of micro_batch_size × processes = 4 × 1 = 4' in str(error.value)


def test_swapped_teacher_and_student():
    from distil_edu.student import make_student
    tokenizer = load_tokenizer(); teacher = tiny_teacher(len(tokenizer)); student = make_student(teacher)
    with pytest.raises(ValueError, match='were teacher and student passed in swapped order'):
        distill.Distiller(student, teacher, distill.DistilConfig(output_dir='unused', progress=False), [[101, 2000, 102]] * 8,
                          tokenizer=tokenizer)
