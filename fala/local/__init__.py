"""Local emulation of the deployed app: the synthesized templates run inside moto, the real
handlers in-process. No AWS account, no Docker (shared/DESIGN.md §3)."""
