"""Whisper speech validation: one container image, two handlers.

`whisper_validation.api.handler` answers the Function URL; `whisper_validation.task.handler` is the
state machine's "Validate speech" task. Both use the process-wide validator in `engine`.
"""
