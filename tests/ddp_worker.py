"""One distillation run of a tiny teacher, for test_distill_ddp.py: plain `python` (one process) or under `torchrun` (several)."""
import argparse, json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch
import torch.distributed as dist

from distill_helpers import load_tokenizer, tiny_teacher, token_sequences
from distil_edu.distill import DistilConfig, Distiller, init_distributed
from distil_edu.student import make_student

parser = argparse.ArgumentParser()
parser.add_argument('--out', required=True, help='JSON file for the losses (written by rank 0)')
parser.add_argument('--output_dir', required=True, help="the run's output_dir")
parser.add_argument('--micro_batch_size', type=int, default=2)
parser.add_argument('--steps', type=int, default=5)
args = parser.parse_args()

torch.set_num_threads(1)
rank, world_size, _ = init_distributed()
tokenizer = load_tokenizer()
teacher = tiny_teacher(len(tokenizer), dropout=0.0)  # no dropout: one process and several must compute the very same numbers
student = make_student(teacher)
sequences = token_sequences(tokenizer)
config = DistilConfig(batch_size=8, micro_batch_size=args.micro_batch_size, max_steps=args.steps, learning_rate=1e-3, smoothing=None,
                      output_dir=args.output_dir, overwrite=True, progress=False, eval_every=2, checkpoint_every=2, valid_sequences=8,
                      device='cpu')
distiller = Distiller(teacher, student, config, sequences[8:], sequences[:8], tokenizer=tokenizer)
distiller.fit()
if rank == 0:
    parameters = torch.cat([p.detach().flatten() for p in distiller.student.parameters()])
    with open(args.out, 'w') as f:
        json.dump({'world_size': world_size, 'accumulation': distiller.accumulation, 'losses': distiller.losses(),
                   'terms': [{k: r[k] for k in ('ce', 'mlm', 'cos')} for r in distiller.history if r['kind'] == 'train'],
                   'parameters': parameters.tolist()}, f)
if dist.is_initialized(): dist.destroy_process_group()
