"""The code paths a GPU takes, run on the CPU: bf16 (the teacher in bf16, the student's forward under bf16 autocast) and
`torch.compile` of the student's step. CI has no GPU, so without these tests the first GPU run would be the first run of
that code. Each is compared with the float32, eager run of the same steps."""
import pytest
import torch

from distill_helpers import load_tokenizer, tiny_teacher, token_sequences
from distil_edu.distill import DistilConfig, Distiller
from distil_edu.student import make_student

TOKENIZER = load_tokenizer()
SEQUENCES = token_sequences(TOKENIZER)


def run(output_dir, **settings):
    "Four steps of the tiny teacher (no dropout) into its student; the per-step terms and the validation records."
    teacher = tiny_teacher(len(TOKENIZER))
    config = DistilConfig(batch_size=8, micro_batch_size=4, max_steps=4, learning_rate=1e-3, smoothing=None, progress=False,
                          eval_every=2, checkpoint_every=4, valid_sequences=8, output_dir=str(output_dir), device='cpu', **settings)
    d = Distiller(teacher, make_student(teacher), config, SEQUENCES[8:], SEQUENCES[:8], tokenizer=TOKENIZER)
    d.fit()
    return d


@pytest.fixture(scope='module')
def eager(tmp_path_factory):
    return run(tmp_path_factory.mktemp('eager')/'run')


def terms(d): return torch.tensor([[r[k] for k in ('loss', 'ce', 'mlm', 'cos')] for r in d.history if r['kind'] == 'train'])


def test_bf16_on_cpu_follows_float32(tmp_path, eager):
    bf16 = run(tmp_path/'bf16', precision='bf16')
    assert next(bf16.teacher.parameters()).dtype == torch.bfloat16  # the teacher is stored in bf16, as on a GPU
    assert next(bf16.student.parameters()).dtype == torch.float32  # the student's weights and AdamW stay in float32
    # bf16 keeps 8 bits of mantissa (about 2 decimal digits) in the student's matrix products: within 1%, or 1e-3 for the
    # near-zero soft-target and cosine terms of this tiny random teacher
    assert torch.allclose(terms(bf16), terms(eager), rtol=0.01, atol=1e-3), (terms(bf16), terms(eager))
    assert (terms(bf16) != terms(eager)).any()  # and it really ran in bf16


def test_compiled_step_on_cpu_matches_eager(tmp_path, eager):
    pytest.importorskip('torch._inductor')
    compiled = run(tmp_path/'compiled', compile=True)
    assert compiled.model is not compiled.student and hasattr(compiled.model, '_orig_mod')  # torch.compile wrapped the step
    assert torch.allclose(terms(compiled), terms(eager), rtol=1e-4, atol=1e-5), (terms(compiled), terms(eager))
    for a, b in zip(compiled.student.parameters(), eager.student.parameters()): assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


def test_precision_setting_is_checked():
    with pytest.raises(ValueError, match="precision must be 'fp32', 'bf16' or None"): DistilConfig(precision='fp8')
