"""The OpenAI-compatible routes as OpenAI's own Python SDK sees them (a real client nobody here
wrote), against the live service: answers parse, and refusals reach the SDK's exceptions with
their status, code, type and message."""

from __future__ import annotations

import openai
import pytest
from voice_testkit import AUDIO, TOKEN


@pytest.fixture
def client(live) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live.url}/v1", api_key=TOKEN, max_retries=0, timeout=120)


def test_transcription_through_the_sdk(client):
    with (AUDIO / "checkin_9_45_en_piper.wav").open("rb") as audio:
        heard = client.audio.transcriptions.create(model="whisper-1", file=audio, language="en")
    assert "9" in heard.text or "nine" in heard.text.lower()


def test_speech_through_the_sdk(client):
    speech = client.audio.speech.create(
        model="tts-1", voice="alloy", input="Testing one two three.", response_format="wav"
    )
    assert speech.content[:4] == b"RIFF" and len(speech.content) > 16_000


def test_a_refused_upload_reaches_the_sdk_with_its_code_and_message(client):
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        client.audio.transcriptions.create(
            model="whisper-1", file=("notes.wav", b"not audio at all", "audio/wav")
        )
    error = refused.value
    assert error.status_code == 422
    assert error.code == "invalid_audio" and error.type == "invalid_request_error"
    assert error.body["message"] in str(error) and "audio" in error.body["message"].lower()


def test_a_bad_request_names_what_to_change(client):
    with pytest.raises(openai.BadRequestError) as refused:
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.", speed=9.0)
    assert refused.value.code == "invalid_request" and "speed" in refused.value.body["message"]


def test_a_wrong_token_is_refused_with_the_reason(live):
    stranger = openai.OpenAI(base_url=f"{live.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        stranger.audio.speech.create(model="tts-1", voice="alloy", input="Hi.")
    assert refused.value.type == "permission_error" and refused.value.code == "forbidden"
    assert "token is not valid" in str(refused.value)


def test_verbose_json_has_segments_and_words_when_asked(client):
    with (AUDIO / "checkin_9_45_en_piper.wav").open("rb") as audio:
        heard = client.audio.transcriptions.create(
            model="whisper-1",
            file=audio,
            language="en",
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
        )
    assert heard.language == "en" and heard.duration > 1.0
    assert heard.segments and heard.segments[0].start >= 0.0
    assert heard.segments[-1].end <= heard.duration + 0.5
    words = [w.word.lower().strip(",.") for w in heard.words]
    assert "check" in words
    assert all(w.start <= w.end for w in heard.words)
    assert [w.start for w in heard.words] == sorted(w.start for w in heard.words)


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitles(client, fmt):
    with (AUDIO / "checkin_9_45_en_piper.wav").open("rb") as audio:
        cues = client.audio.transcriptions.create(
            model="whisper-1", file=audio, language="en", response_format=fmt
        )
    text = cues if isinstance(cues, str) else cues.text
    separator = "," if fmt == "srt" else "."
    assert text.startswith("1\n00:00:00" if fmt == "srt" else "WEBVTT\n\n00:00:00")
    assert " --> 00:00:0" in text and separator in text.split(" --> ")[1][:12]


@pytest.mark.parametrize(
    ("clip", "language", "says"),
    [("entrada_13_40_pt.wav", "pt", "entrada"), ("checkin_9_45_en_piper.wav", "en", "check")],
)
def test_without_a_language_it_is_detected_among_the_served_ones(client, clip, language, says):
    """Whisper base alone hears this espeak-ng Portuguese as English ("In Trata, Traly,
    Quarrington"): unsure detection falls back to the first of STT_LANGUAGES, Portuguese."""
    with (AUDIO / clip).open("rb") as audio:
        heard = client.audio.transcriptions.create(
            model="whisper-1", file=audio, response_format="verbose_json"
        )
    assert heard.language == language
    assert says in heard.text.lower()


def test_models_list_and_an_unknown_model_is_refused_by_name(client):
    served = [m.id for m in client.models.list()]
    assert "whisper-1" in served and "tts-1" in served
    clip = AUDIO / "checkin_9_45_en_piper.wav"
    with clip.open("rb") as audio, pytest.raises(openai.BadRequestError) as refused:
        client.audio.transcriptions.create(model="whisper-large-v9", file=audio)
    assert "whisper-large-v9" in refused.value.body["message"]
