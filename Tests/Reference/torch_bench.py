"""PyTorch eager twin of `olab bench`'s Pre-LN + AdamW arm, for a side-by-side speed reference.

Builds the model OutlierLab trains (Sources/OLModel): byte vocabulary V = 256 (257 with the regime
model's BOS token), learned position
embedding, Pre-LN blocks (LayerNorm with gain and bias, eps 1e-5; fused QKV and output projection
without biases; causal softmax attention scaled by 1/sqrt(d_h); MLP d -> 4d -> d with ReLU, no
biases), final LayerNorm, LM head tied to the token embedding, weights N(0, 0.02^2). One training
step is what the bench times: forward, mean cross-entropy, backward, global-norm clipping to 1.0,
torch.optim.AdamW (lr 1e-3, betas (0.9, 0.95), eps 1e-8, weight decay 0.01 on matrices and
embeddings only), on random byte batches of B = 16.

    python3 Tests/Reference/torch_bench.py --model bench --threads 2

prints ms/step (median of the repetitions) and tokens/s; compare with
`olab bench --arm preLN+adamw --model bench --threads 2`.
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SIZES = {"bench": (256, 4, 4, 128), "audit": (64, 4, 4, 64), "regime": (64, 4, 4, 64)}  # (d, L, H, T), as BenchmarkModel
VOCABS = {"bench": 256, "audit": 256, "regime": 257}  # the regime model has a BOS token
BATCH = 16


class Block(nn.Module):
    """x <- x + Attn(LN(x)); x <- x + MLP(LN(x))."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d, eps=1e-5)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.proj = nn.Linear(d, d, bias=False)
        self.ln2 = nn.LayerNorm(d, eps=1e-5)
        self.fc = nn.Linear(d, 4 * d, bias=False)
        self.mlp_proj = nn.Linear(4 * d, d, bias=False)

    def attention(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))

    def forward(self, x):
        x = x + self.attention(self.ln1(x))
        return x + self.mlp_proj(F.relu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, d, layers, heads, seq, vocab):
        super().__init__()
        self.vocab = vocab
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(seq, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.lnf = nn.LayerNorm(d, eps=1e-5)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, tokens, targets):
        T = tokens.shape[1]
        x = self.wte(tokens) + self.wpe(torch.arange(T, device=tokens.device))
        for block in self.blocks:
            x = block(x)
        logits = self.lnf(x) @ self.wte.weight.t()  # tied head
        return F.cross_entropy(logits.view(-1, self.vocab), targets.view(-1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(SIZES), default="bench")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (match olab bench --threads)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="steps per repetition")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    d, layers, heads, seq = SIZES[args.model]
    vocab = VOCABS[args.model]
    model = GPT(d, layers, heads, seq, vocab)
    decayed = [p for p in model.parameters() if p.dim() == 2]
    plain = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decayed, "weight_decay": 0.01}, {"params": plain, "weight_decay": 0.0}],
                                  lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    generator = torch.Generator().manual_seed(args.seed)

    def step():
        tokens = torch.randint(0, vocab, (BATCH, seq), generator=generator)
        targets = torch.randint(0, vocab, (BATCH, seq), generator=generator)
        loss = model(tokens, targets)
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    for _ in range(args.warmup):
        step()
    samples = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        samples.append((time.perf_counter() - start) * 1000 / args.steps)
    ms = statistics.median(samples)
    print(f"torch {torch.__version__} eager, {args.threads} thread(s), model {args.model} "
          f"(d={d} L={layers} H={heads} T={seq} B={BATCH}), preLN+adamw")
    print(f"step ms {ms:.1f} (min {min(samples):.1f}, max {max(samples):.1f}), tokens/s {BATCH * seq / (ms / 1000):.0f}")


if __name__ == "__main__":
    main()
