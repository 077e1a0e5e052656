"""One construct per capability of the Fala pipeline."""
