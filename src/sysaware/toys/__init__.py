"""The seed talks' toy problems, with closed forms where they have them."""
