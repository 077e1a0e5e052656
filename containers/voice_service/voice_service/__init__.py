"""Fala's GPU voice service: Whisper → LLM → TTS over HTTP/WebSocket, and the pipeline's job worker.

Heavy engines (faster-whisper, Piper, XTTS/torch) are imported only where a backend is built, so
the API, the worker and their tests import this package cheaply.
"""
