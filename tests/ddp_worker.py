"""One rank of a tiny distillation run under `torchrun`, for test_distill_ddp.py; rank 0 writes the results as JSON."""
import argparse, json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch.distributed as dist

from distill_helpers import tiny_run

parser = argparse.ArgumentParser()
parser.add_argument('--out', required=True, help='JSON file for the results (written by rank 0)')
parser.add_argument('--output_dir', required=True, help="the run's output_dir")
parser.add_argument('--micro_batch_size', type=int, default=2)
parser.add_argument('--rank_1_learning_rate', type=float, help='rank 1 alone is started with this learning rate')
args = parser.parse_args()
learning_rate = args.rank_1_learning_rate if args.rank_1_learning_rate and os.environ.get('RANK') == '1' else 1e-3
try: results = tiny_run(args.output_dir, args.micro_batch_size, learning_rate=learning_rate)
except ValueError as error:
    print(f"rank {os.environ.get('RANK')}: ValueError: {error}", flush=True)
    sys.exit(3)
if results:
    with open(args.out, 'w') as f: json.dump(results, f)
if dist.is_initialized(): dist.destroy_process_group()
