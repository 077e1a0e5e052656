"""Fala: an event-driven speech pipeline on AWS.

`fala.core` is the runtime code shared by the Lambda bundles, the container images and the local
emulation; it is copied into each artifact at synth time. The rest of the package (CLI, local
emulation) runs on developer machines only.
"""

__version__ = "0.1.0"
