"""The project behind an overlay: what a sandboxed command wrote, reviewed before it reaches the real tree.

`changeset.py` is the interface (read an upper directory, apply it, show it); `model.py` holds its values,
`applying.py` the careful writes, `display.py` the review text.
"""
