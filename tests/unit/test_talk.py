"""`fala talk`: the --file mode against the strict Nova Sonic fake (real SDK over the CRT
transport), in-process through typer's CliRunner; the live mode's missing-extra message."""

import io
import sys
import wave
from pathlib import Path

from typer.testing import CliRunner

from fala.cli import app
from fala.core.sonic.protocol import OutputEvent
from fala.talk import Player, TranscriptPrinter, _interrupted
from tests.fakes.nova_sonic import running_fake

CLIP = Path(__file__).resolve().parents[1] / "fixtures" / "audio" / "entrada_13_40_pt.ogg"
runner = CliRunner()


def test_talk_from_a_file_prints_the_transcripts_and_writes_the_reply(monkeypatch, tmp_path):
    out = tmp_path / "reply.wav"
    with running_fake(monkeypatch) as fake:
        result = runner.invoke(
            app,
            ["talk", "--file", str(CLIP), "--out", str(out), "--pace", "0", "--voice", "leo"],
        )
    assert result.exit_code == 0, result.output
    assert "Entrada, treze e quarenta." in result.output
    assert "Entendido: entrada às 13h40." in result.output
    assert "treze e quarenta\n" not in result.output.split("sonic")[-1]  # no SPECULATIVE text
    with wave.open(io.BytesIO(out.read_bytes())) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
    assert fake.violations == []
    assert fake.record.first("promptStart")["audioOutputConfiguration"]["voiceId"] == "leo"
    assert fake.record.headers["authorization"].startswith("AWS4-HMAC-SHA256")


def test_talk_reports_a_typed_error_and_exits_1(monkeypatch, tmp_path):
    with running_fake(monkeypatch, failure="end_of_life"):
        result = runner.invoke(
            app, ["talk", "--file", str(CLIP), "--out", str(tmp_path / "r.wav"), "--pace", "0"]
        )
    assert result.exit_code == 1
    assert "SonicModelNotFound" in result.output
    assert not (tmp_path / "r.wav").exists()


def test_live_talk_without_the_audio_extra_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails
    result = runner.invoke(app, ["talk"])
    assert result.exit_code == 2
    assert "pip install 'fala[audio]'" in result.output
    assert "sounddevice==0.5.6" in result.output


def test_barge_in_signals_clear_the_playback_and_speculative_text_is_not_printed():
    player = Player()
    player.add(b"\x01\x02" * 100)
    assert player.pull(4) == b"\x01\x02\x01\x02"
    assert _interrupted(OutputEvent("textOutput", {"content": '{ "interrupted" : true }'}))
    assert _interrupted(OutputEvent("contentEnd", {"stopReason": "INTERRUPTED"}))
    assert not _interrupted(OutputEvent("contentEnd", {"stopReason": "END_TURN"}))
    player.clear()
    assert player.pull(4) == bytes(4)  # silence once cleared

    from rich.console import Console

    console = Console(file=io.StringIO(), width=200)
    printer = TranscriptPrinter(console)
    spec = '{"generationStage":"SPECULATIVE"}'
    printer(OutputEvent("contentStart", {"contentId": "s", "role": "ASSISTANT",
                                         "additionalModelFields": spec}))  # fmt: skip
    printer(OutputEvent("textOutput", {"contentId": "s", "role": "ASSISTANT", "content": "draft"}))
    printer(OutputEvent("contentStart", {"contentId": "u", "role": "USER"}))
    printer(OutputEvent("textOutput", {"contentId": "u", "role": "USER", "content": "oi"}))
    text = console.file.getvalue()
    assert "oi" in text and "draft" not in text
