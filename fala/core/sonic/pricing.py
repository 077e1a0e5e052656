"""Usage → cost at list prices.

Amazon Nova 2 Sonic on-demand list prices, US East (N. Virginia), USD per 1,000 tokens, kept with
the project's other prices in fala/core/cost.py (from https://aws.amazon.com/bedrock/pricing/,
Amazon Nova section, as read in December 2025). Prices change and differ by region: change them
there (or pass your own `Prices`) rather than trusting this figure for billing. The figure in a
result document is an estimate from the usage event.
"""

from __future__ import annotations

from dataclasses import dataclass

from fala.core import cost as prices
from fala.core.models import Usage

SPEECH_INPUT_PER_1K = prices.NOVA_SONIC_SPEECH_INPUT_PER_1K
SPEECH_OUTPUT_PER_1K = prices.NOVA_SONIC_SPEECH_OUTPUT_PER_1K
TEXT_INPUT_PER_1K = prices.NOVA_SONIC_TEXT_INPUT_PER_1K
TEXT_OUTPUT_PER_1K = prices.NOVA_SONIC_TEXT_OUTPUT_PER_1K


@dataclass(frozen=True)
class Prices:
    speech_input_per_1k: float = SPEECH_INPUT_PER_1K
    speech_output_per_1k: float = SPEECH_OUTPUT_PER_1K
    text_input_per_1k: float = TEXT_INPUT_PER_1K
    text_output_per_1k: float = TEXT_OUTPUT_PER_1K


LIST_PRICES = Prices()


def cost_usd(usage: Usage, prices: Prices = LIST_PRICES) -> float:
    total = (
        usage.input_speech_tokens * prices.speech_input_per_1k
        + usage.input_text_tokens * prices.text_input_per_1k
        + usage.output_speech_tokens * prices.speech_output_per_1k
        + usage.output_text_tokens * prices.text_output_per_1k
    ) / 1000.0
    return round(total, 6)
