"""Network definitions and the common training loop shared by every method."""
