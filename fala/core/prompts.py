"""The default system prompt of a spoken conversation, one home for every backend: Nova Sonic
(the converse Lambda's SYSTEM_PROMPT, set by infra from `fala:system_prompt`), the GPU voice
service's LLM and `fala talk`. Bilingual, because users are Brazilian-Portuguese first."""

DEFAULT_SYSTEM_PROMPT = (
    "Você é um assistente de voz amigável. Responda em uma ou duas frases curtas, no idioma em "
    "que o usuário falar. You are a friendly voice assistant: answer in one or two short "
    "sentences, in the language the user speaks."
)
