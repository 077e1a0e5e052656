"""Amazon Nova Sonic (speech-to-speech over Bedrock's bidirectional stream).

Import layout: `protocol`, `audio`, `pricing`, `settings` and `errors` need only the standard
library, numpy and pydantic; `session` imports the Bedrock SDK (aws-sdk-bedrock-runtime + CRT)
lazily, inside the client factory, so `import fala.core` never needs it.
"""
