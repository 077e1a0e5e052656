"""Whisper's tokenizer must encode text as the model writes it: scoring depends on it."""

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from fala import model_store
from fala.core.whisper_tokenizer import with_all_merges, write_all_merges

# the file as the model package ships it (an installed model folder has it repaired)
SHIPPED = model_store._package_data(model_store.PART1_PACKAGE) / "tokenizer.json"


@pytest.fixture(scope="module")
def shipped() -> Tokenizer:
    return Tokenizer.from_file(str(SHIPPED))


def ids(tokenizer: Tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False).ids


def test_the_shipped_tokenizer_lacks_the_first_merge(shipped):
    # The defect this module exists for, as the model packages ship it: " the" is not one token.
    merges = json.loads(shipped.to_str())["model"]["merges"]
    assert merges[0] in (["Ġ", "a"], "Ġ a")  # the list starts at the second merge
    assert ids(shipped, " the") == [220, 3322]  # " ", "the" — never written by the model


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        (" the", [" the"]),
        (" tarde", [" tarde"]),
        (" três", [" três"]),
        (" Entrada, treze e", [" Ent", "rada", ",", " tre", "ze", " e"]),
    ],
)
def test_words_starting_with_t_are_encoded_as_the_model_writes_them(shipped, text, pieces):
    repaired = with_all_merges(shipped)

    assert [repaired.decode([i]) for i in ids(repaired, text)] == pieces
    assert repaired.decode(ids(repaired, text)) == text


def test_every_whole_token_encodes_to_itself_once_repaired(shipped):
    repaired = with_all_merges(shipped)
    tokens = range(256, repaired.get_vocab_size())
    texts = [repaired.decode([t]) for t in tokens]
    # every token that is whole text (not half of a character's bytes)
    whole = [(t, s) for t, s in zip(tokens, texts, strict=True) if s and "\ufffd" not in s]
    encoded = repaired.encode_batch([s for _, s in whole], add_special_tokens=False)
    wrong = [s for (t, s), e in zip(whole, encoded, strict=True) if e.ids != [t]]
    # only contractions the pre-tokenizer splits ("'S" → "'", "S") may come out as two tokens
    assert all(s.startswith("'") for s in wrong), wrong[:10]
    before = shipped.encode_batch([s for _, s in whole], add_special_tokens=False)
    unreachable_before = sum(e.ids != [t] for (t, _), e in zip(whole, before, strict=True))
    assert unreachable_before > 1000  # every " t…" word


def test_a_complete_tokenizer_is_returned_unchanged(shipped):
    repaired = with_all_merges(shipped)
    assert with_all_merges(repaired) is repaired


def test_the_engine_loads_the_repaired_tokenizer(speech_validator):
    assert ids(speech_validator.model.hf_tokenizer, " tarde") == [27367]


def test_an_installed_model_folder_gets_the_repaired_file_once(tmp_path, shipped):
    (tmp_path / "tokenizer.json").write_bytes(SHIPPED.read_bytes())
    assert write_all_merges(tmp_path)  # rewritten
    assert not write_all_merges(tmp_path)  # whole now: left as it is
    installed = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    assert with_all_merges(installed) is installed  # loading it skips the repair
    text = " Entrada, treze e quarenta. The thirty-two tardes"
    assert ids(installed, text) == ids(with_all_merges(shipped), text)


def test_the_assembled_dev_model_is_installed_repaired(whisper_model_path):
    installed = Tokenizer.from_file(str(Path(whisper_model_path) / "tokenizer.json"))
    assert ids(installed, " tarde") == [27367]
