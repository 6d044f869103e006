#!/usr/bin/python3
"""PyTorch peer of the `train-step` benchmark for the Llama, BERT and T5 families: times training steps on random tokens.

One step = forward, cross-entropy loss, backward, gradient clipping to norm 1.0, AdamW update (weight decay 0.1 on the
2-D weights, lr 3e-4, betas 0.9/0.95), float32, exactly as bench/peers/torch_train_step.py does it for GPT-2. The model
is the reference of tests/reference (the same modules the correctness fixtures come from): --family llama is
llama_torch.py (Hugging Face LlamaForCausalLM's math: untied lm_head, vocabulary not padded, grouped-query attention
when --kv-heads < --heads); --family bert is bert_torch.py (BertForMaskedLM's math), whose loss here covers every
position, as the C# side's does (the masked objective's compute is the same; only the loss's positions differ);
--family t5 is t5_torch.py (T5ForConditionalGeneration's math: relu MLP, head tied to the shared embedding and scaled),
--seq input tokens into the encoder and --target-seq target tokens through the decoder (tokens/s counts the inputs).
Prints one JSON line: {"tokens_per_s", "ms_per_step", "params", "steps", "threads", "loss_first", "loss_last"}.
Run with Debian's /usr/bin/python3 (python3-torch 1.13), e.g.
  OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/peers/torch_hf_train_step.py --vocab 4096 \
      --context 128 --layers 4 --heads 4 --kv-heads 2 --width 128 --intermediate 344 --batch 8 --seq 128 --family llama
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "reference"))
import bert_torch  # noqa: E402  (the reference models, shared with the fixture generators)
import llama_torch  # noqa: E402
import t5_torch  # noqa: E402
from train_step_timing import time_train_steps  # noqa: E402  (bench/peers/train_step_timing.py)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=["llama", "bert", "t5"], default="llama")
    parser.add_argument("--vocab", type=int, required=True, help="vocab_size (not padded)")
    parser.add_argument("--context", type=int, required=True, help="max_position_embeddings")
    parser.add_argument("--layers", type=int, required=True, help="num_hidden_layers")
    parser.add_argument("--heads", type=int, required=True, help="num_attention_heads")
    parser.add_argument("--kv-heads", type=int, default=None, help="num_key_value_heads (default: --heads, plain MHA)")
    parser.add_argument("--width", type=int, required=True, help="hidden_size")
    parser.add_argument("--intermediate", type=int, required=True, help="intermediate_size of the MLP")
    parser.add_argument("--rope-theta", type=float, default=10000.0)
    parser.add_argument("--rms-norm-eps", type=float, default=1e-6, help="llama's RMSNorm epsilon")
    parser.add_argument("--layer-norm-eps", type=float, default=1e-12, help="bert's LayerNorm epsilon")
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--seq", type=int, required=True, help="tokens per sequence in a step")
    parser.add_argument("--target-seq", type=int, default=None, help="t5: target tokens per sequence")
    parser.add_argument("--decoder-layers", type=int, default=None, help="t5: num_decoder_layers (default: --layers)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(20230828)
    if args.family == "llama":
        config = llama_torch.LlamaConfig(vocab_size=args.vocab, hidden_size=args.width, intermediate_size=args.intermediate,
                                         num_hidden_layers=args.layers, num_attention_heads=args.heads,
                                         num_key_value_heads=args.kv_heads or args.heads,
                                         max_position_embeddings=args.context, rms_norm_eps=args.rms_norm_eps,
                                         rope_theta=args.rope_theta)
        model = llama_torch.LlamaForCausalLM(config)
    elif args.family == "t5":
        config = t5_torch.T5Config(vocab_size=args.vocab, d_model=args.width, d_kv=args.width // args.heads, d_ff=args.intermediate,
                                   num_layers=args.layers, num_decoder_layers=args.decoder_layers or args.layers,
                                   num_heads=args.heads, feed_forward_proj="relu", tie_word_embeddings=True)
        model = t5_torch.T5ForConditionalGeneration(config)
    else:
        config = bert_torch.BertConfig(vocab_size=args.vocab, hidden_size=args.width, num_hidden_layers=args.layers,
                                       num_attention_heads=args.heads, intermediate_size=args.intermediate,
                                       max_position_embeddings=args.context, layer_norm_eps=args.layer_norm_eps)
        model = bert_torch.BertForMaskedLM(config)
    model.init_weights(20230828)
    model.train()
    time_train_steps(model, args.vocab, args.batch, args.seq, args.steps, args.warmup, args.target_seq if args.family == "t5" else None)


if __name__ == "__main__":
    main()
