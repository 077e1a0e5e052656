"""Tests of the real Whisper model through the validation engine: seconds each, not milliseconds;
marked `model` (tests/conftest.py) and run again under other instruction sets by make test-isa."""
