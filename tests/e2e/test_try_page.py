"""`fala serve`'s try-it page in a real browser: Debian's Chromium, headless, its microphone fed
from a WAV file. Recorded (or picked) audio goes to the same JSON API; the verdict is read off
the page and off a screenshot."""

from __future__ import annotations

import io
import re
import shutil

import numpy as np
import pytest

from .conftest import AUDIO

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect
if CHROMIUM is None:
    pytest.skip("needs Debian's chromium (apt-get install chromium)", allow_module_level=True)

VALIDATED_GREEN = (0x1E, 0x7A, 0x3A)  # .validated in try.html
REJECTED_RED = (0xB3, 0x26, 0x1E)


@pytest.fixture(scope="module")
def browser_with_microphone():
    """Chromium whose fake microphone says the bundled clip once (then silence)."""
    clip = AUDIO / "entrada_13_40_pt.wav"
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={clip}%noloop",
                "--no-sandbox",  # CI runs as root
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser_with_microphone, url_server):
    context = browser_with_microphone.new_context(permissions=["microphone"])
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{url_server.server_port}/")
    yield page
    context.close()


def pixels_of(png: bytes) -> np.ndarray:
    """RGB pixels of a PNG screenshot (decoded by FFmpeg, through PyAV)."""
    import av

    with av.open(io.BytesIO(png), format="png_pipe") as image:
        frame = next(image.decode(video=0))
        return frame.to_ndarray(format="rgb24")


def share_of_color(pixels: np.ndarray, rgb: tuple[int, int, int]) -> float:
    near = np.abs(pixels.astype(int) - np.array(rgb)).sum(axis=2) < 60
    return float(near.mean())


def test_recording_the_bundled_clip_from_the_microphone_validates_it(page, tmp_path):
    page.fill("#phrase", "ENTRADA 13 40")
    page.select_option("#language", "pt-BR")
    page.click("#record")
    page.wait_for_timeout(4000)  # the clip lasts 2.7 s; the fake microphone then sends silence
    page.click("#stop")
    page.wait_for_selector("#submit:not([disabled])")
    page.click("#submit")
    expect(page.locator("#status")).to_have_text("Done.", timeout=120_000)

    assert page.inner_text("#verdict") == "Validated"
    # what was heard is shown (its spelling varies by CPU: "Entrada. Três e igual inter." here,
    # "Enclata, o Sresi, o Amenta." as a generic x86-64 computes it)
    assert page.inner_text("#heard").strip() not in ("", "(nothing)")
    assert float(page.inner_text("#confidence")) >= 0.9
    shot = page.screenshot(path=str(tmp_path / "validated.png"), full_page=True)
    verdict = pixels_of(page.locator("#verdict").screenshot())
    assert share_of_color(verdict, VALIDATED_GREEN) > 0.02  # the verdict is drawn green
    assert share_of_color(verdict, REJECTED_RED) == 0.0
    assert pixels_of(shot).shape[1] >= 600


def test_a_picked_file_saying_another_word_is_rejected_and_the_word_is_shown(page):
    page.fill("#phrase", "ENTRADA 13 40")
    page.set_input_files("#file", str(AUDIO / "saida_13_40_pt.wav"))
    page.click("#submit")
    expect(page.locator("#status")).to_have_text("Done.", timeout=120_000)

    assert page.inner_text("#verdict") in ("Not validated", "Uncertain (not validated)")
    # the words heard in place of the phrase's, marked (Whisper's spelling of "Saída" varies by CPU)
    assert page.locator("#instead mark").count() >= 1
    verdict = pixels_of(page.locator("#verdict").screenshot())
    assert share_of_color(verdict, VALIDATED_GREEN) == 0.0


def test_a_refused_request_shows_the_servers_message(page):
    page.fill("#phrase", "")  # the form needs a phrase: send one the API refuses instead
    page.fill("#phrase", "!!!")
    page.set_input_files("#file", str(AUDIO / "entrada_13_40_pt.wav"))
    page.click("#submit")
    expect(page.locator("#status")).to_have_text(re.compile("^Refused"), timeout=60_000)

    assert page.inner_text("#verdict") == "Not checked"
    assert "no words to compare" in page.inner_text("#error")
