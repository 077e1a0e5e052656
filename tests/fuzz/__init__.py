"""Property-based fuzzing (hypothesis) of every parser of user input."""
