"""The order `embed_pending` sends texts to the model in: longest first in tokens (batches pad least), not in
characters; the vectors it stores are what `encode` makes of each text, whatever batch it rode in."""

from __future__ import annotations

import numpy as np
from search_support import SMALL_SESSION

from vault.index import embeddings
from vault.index.embeddings import by_tokens, embed_pending, token_lengths
from vault.ingest import ingest


class WordTokenizer:
    """Counts words as tokens (plus the two special ones), cut at `max_length` as a real tokenizer is."""

    def __call__(self, texts, add_special_tokens=True, truncation=True, max_length=None, **_):
        ids = [[0] * (len(t.split()) + 2 * add_special_tokens) for t in texts]
        return {"input_ids": [i[:max_length] if truncation and max_length else i for i in ids]}


class WordModel:
    tokenizer = WordTokenizer()
    max_seq_length = 6

    def get_embedding_dimension(self) -> int:
        return 4


def test_order_is_by_tokens_with_ties_kept_in_their_order():
    todo = [("a", "x" * 40), ("b", "one two three four"), ("c", "1 2 3 4 5 6 7 8 9"), ("d", "short"), ("e", "p q r s")]
    # tokens (cut at 6): a 3, b 6, c 6, d 3, e 6
    assert token_lengths(WordModel(), [t for _, t in todo]) == [3, 6, 6, 3, 6]
    assert [h for h, _ in by_tokens(WordModel(), todo)] == ["b", "c", "e", "a", "d"]


def test_a_model_without_a_tokenizer_is_ordered_by_characters():
    class Bare:
        pass

    todo = [("a", "xxxx"), ("b", "yy"), ("c", "zzz")]
    assert token_lengths(Bare(), ["xxxx", "yy"]) == [4, 2]
    assert [h for h, _ in by_tokens(Bare(), todo)] == ["a", "c", "b"]


def test_embed_pending_sends_batches_longest_in_tokens_first(con, monkeypatch):
    ingest(con, [SMALL_SESSION])
    sent: list[list[str]] = []

    def fake_encode(model, texts, batch_size=embeddings.BATCH_SIZE):
        sent.append(list(texts))
        vecs = np.ones((len(texts), 4), np.float32)
        return vecs / 2

    monkeypatch.setattr(embeddings, "load_model", lambda name: WordModel())
    monkeypatch.setattr(embeddings, "encode", fake_encode)
    monkeypatch.setattr(embeddings, "BATCH_SIZE", 3)
    rep = embed_pending(con, batch_size=3)
    flat = [t for batch in sent for t in batch]
    assert rep.embedded == len(flat) == len(set(flat)) > 3
    assert all(len(b) <= 3 for b in sent)
    words = [min(len(t.split()) + 2, WordModel.max_seq_length) for t in flat]
    assert words == sorted(words, reverse=True)


def test_real_tokenizer_counts_are_what_the_model_reads():
    from vault.index.settings import DEFAULT_MODEL

    model = embeddings.load_model(DEFAULT_MODEL)
    texts = ["did you run the tests", "ls -la /tmp/x.y.z && grep -rn 'foo(bar)' src/", "word " * 400]
    counts = token_lengths(model, texts)
    assert counts[:2] == [len(model.tokenizer(t)["input_ids"]) for t in texts[:2]]
    assert counts[2] == model.max_seq_length
    # The same texts alone and in a batch padded to 256 tokens: the same vector but for float rounding
    # (padding is masked), so the int8 vector stored is the same but for a rare step.
    alone = np.stack([embeddings.encode(model, [t])[0] for t in texts[:2]])
    together = embeddings.encode(model, texts)[:2]
    from vault.index.vectors import quantize

    assert np.abs(alone - together).max() < 1e-5
    assert np.abs(quantize(alone)[0].astype(int) - quantize(together)[0].astype(int)).max() <= 1
