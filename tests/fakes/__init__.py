"""Test doubles for services that cannot run here (Amazon Bedrock's Nova Sonic stream)."""
