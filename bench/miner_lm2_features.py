"""Design data (a screen, not a rule): the language-model rows of bench/miner_lm_features.py from another GGUF model
loaded from a path, with the zero-shot answer.

    nice -n 10 python bench/miner_lm2_features.py --gguf /path/model.gguf --layers 12,16,20 --out /x/rows.pkl
    python bench/miner_lm2_features.py --gguf ... --check 4       # the span, the template, padding
    python bench/miner_lm2_features.py --gguf ... --authors even  # only authors whose sha1(name) is even

The same turns (`miner_lm_features.turns_of`), the same prompt built piece by piece in the model's own chat template
(`miner_lm_features.build`, `template_pieces`). The whole model runs (output_hidden_states): for each layer L of
`--layers` the mean of hidden_states[L] over the turn's tokens is kept ("H<L>"; "H" is the first layer listed), and
the language-model head is applied at the last input position only, giving the zero-shot log-odds
`zs` = logsumexp(yes variants) - logsumexp(no variants) over "yes", "Yes", " yes", " Yes" against "no", "No", " no",
" No" (the answer follows the assistant header, so the variant without a space is the likely one), and `zs_sp` =
" yes" against " no" alone.

The pickle {(author, session_id, msg_id): {"H": float32[d], "H<L>": ..., "zs": float, "zs_sp": float}} is extended
in place (only missing keys; atomic rewrites every `--every` batches). It sits outside the repository: it holds
rows of the pointers' text. Nothing here is a dependency of the project: the GGUF comes from a path.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _common import offline_one_thread  # noqa: E402

offline_one_thread()

import miner_lm_features as base  # noqa: E402

GEMMA_TEMPLATE = ("{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' "
                  "else m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}"
                  "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")
YES = ("yes", "Yes", " yes", " Yes")
NO = ("no", "No", " no", " No")


def load(gguf: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if not tok.chat_template:  # a base model's GGUF (gemma-3-270m) carries none: Gemma's own turn markup
        tok.chat_template = GEMMA_TEMPLATE
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    model.eval()
    return tok, model


def single_ids(tok, words) -> list[int]:
    """The ids of those words that are one token each."""
    out = []
    for w in words:
        ids = tok.encode(w, add_special_tokens=False)
        if len(ids) == 1:
            out.append(ids[0])
    return sorted(set(out))


def forward(model, batch, pad, layers, yes, no):
    """Per input: ({layer: mean of hidden_states[layer] over the turn span}, zs, zs_sp)."""
    import torch

    x, mask = base.padded(batch, pad)
    with torch.inference_mode():
        out = model.model(input_ids=x, attention_mask=mask, output_hidden_states=True)
        hs = out.hidden_states
        last = torch.stack([out.last_hidden_state[i, len(ids) - 1] for i, (ids, _, _) in enumerate(batch)])
        logits = model.lm_head(last).float()
        if c := getattr(model.config, "final_logit_softcapping", None):  # gemma: monotone, but log-odds change
            logits = torch.tanh(logits / c) * c
        logp = torch.log_softmax(logits, dim=-1)
    res = []
    for i, (_, s, e) in enumerate(batch):
        rows = {L: hs[L][i, s:e].mean(dim=0).numpy().astype("float32") for L in layers}
        zs = float(torch.logsumexp(logp[i, yes[0]], 0) - torch.logsumexp(logp[i, no[0]], 0))
        zs_sp = float(logp[i, yes[1]] - logp[i, no[1]])
        res.append((rows, zs, zs_sp))
    return res


def check(tok, model, examples, n, layers, yes, no, pad) -> None:
    import torch

    pieces = base.template_pieces(tok)
    print("template pieces:", repr(pieces[0][:200]), "|", repr(pieces[1]))
    picks = examples[:: max(1, len(examples) // n)][:n]
    built = []
    for e in picks:
        ids, s, t = base.build(tok, e.turn.prev_assistant or "", e.turn.text, pieces)
        turn_head = tok.decode(tok.encode((e.turn.text or "").strip() or base.EMPTY,
                                          add_special_tokens=False)[:base.TURN_TOKENS])
        assert tok.decode(ids[s:t]) == turn_head
        content = tok.decode(ids[len(tok.encode(pieces[0], add_special_tokens=False)):
                                 len(ids) - len(tok.encode(pieces[1], add_special_tokens=False))])
        ref = tok.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                      add_generation_prompt=True)
        print(f"{len(ids)} tokens, span {s}..{t}; the pieces decode to the template's text: {ref == tok.decode(ids)}")
        built.append((ids, s, t))
    alone = [forward(model, [b], pad, layers, yes, no)[0] for b in built]
    together = forward(model, built, pad, layers, yes, no)
    for (ra, za, _), (rb, zb, _) in zip(alone, together, strict=True):
        d = max(float(abs(ra[L] - rb[L]).max()) for L in layers)
        print(f"  padded batch vs alone: max |row diff| {d:.2e} (scale {float(abs(ra[layers[0]]).max()):.1f}), "
              f"zs {za:+.3f} vs {zb:+.3f}")
    ids = torch.tensor([built[0][0]])
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0, -1]
    top = torch.topk(logits, 5).indices.tolist()
    print("  full model's top next tokens:", [tok.decode([t]) for t in top])


def main() -> None:
    from miner.classify.dataset import POINTERS_TEXT

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--layers", default="16")
    ap.add_argument("--labels", default=str(ROOT / "data" / "labels"))
    ap.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"))
    ap.add_argument("--pointers-text", default=str(POINTERS_TEXT))
    ap.add_argument("--out", required=True)
    ap.add_argument("--authors", default="all", help="all, or even: authors whose sha1(name) is even")
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--check", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    layers = [int(x) for x in args.layers.split(",")]

    t0 = time.time()
    examples = base.turns_of(Path(args.labels), Path(args.corpora), Path(args.pointers_text))
    if args.authors == "even":
        examples = [e for e in examples if int(hashlib.sha1(e.author.encode()).hexdigest(), 16) % 2 == 0]
    out = Path(args.out)
    rows = pickle.loads(out.read_bytes()) if out.exists() else {}
    todo = [e for e in examples if base.key(e) not in rows]
    print(f"{len(examples)} turns, {len({e.author for e in examples})} authors; {len(todo)} to read "
          f"({time.time() - t0:.0f} s)", flush=True)
    t1, c1 = time.time(), time.process_time()
    tok, model = load(Path(args.gguf))
    yes = (single_ids(tok, YES), single_ids(tok, (" yes",)))
    no = (single_ids(tok, NO), single_ids(tok, (" no",)))
    print(f"model loaded: {time.time() - t1:.0f} s wall, {time.process_time() - c1:.0f} s CPU; "
          f"{model.config.num_hidden_layers} layers, d {model.config.hidden_size}; yes ids {yes}, no ids {no}",
          flush=True)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    if args.check:
        check(tok, model, examples, args.check, layers, yes, no, pad)
        return
    if args.limit:
        todo = todo[:args.limit]
    pieces = base.template_pieces(tok)
    built = [(e, *base.build(tok, e.turn.prev_assistant or "", e.turn.text, pieces)) for e in todo]
    built.sort(key=lambda b: len(b[1]))
    tokens = sum(len(b[1]) for b in built)
    print(f"{tokens} tokens, {tokens / max(1, len(built)):.0f} a turn", flush=True)
    def read(inputs):  # every listed layer's row, the first also as "H", and the zero-shot answers
        return [{"H": hs[layers[0]], "zs": zs, "zs_sp": zs_sp, **{f"H{L}": hs[L] for L in layers}}
                for hs, zs, zs_sp in forward(model, inputs, pad, layers, yes, no)]

    base.fill(rows, built, out, args.every, t0, read)


if __name__ == "__main__":
    main()
