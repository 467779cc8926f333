"""See through a parsed Script to every command that would really run: the `Invocation`s.

Wrappers (`sudo env nice …`), shells given code (`bash -c`, `eval`, heredocs and here-strings, `echo … | sh`),
substitutions, `find -exec`, `xargs`, `parallel`, `ssh host CMD`, inline interpreter code and functions are
all opened up. `cd` and assignments earlier on the line are followed, so relative paths and `$VAR`s are
resolved the way bash would resolve them. Pure: everything it knows comes from its arguments.

The package: `model` (the values), `walker` (the walk over the syntax), `handlers` (per-command behaviour),
`code` (inline interpreter code), `text` (statically known output and decoders), `argv` (option grammars,
paths).
"""

from vgshell.unwrap.argv import resolve
from vgshell.unwrap.model import Files, FileText, Invocation
from vgshell.unwrap.walker import Flattened, flatten

__all__ = ["FileText", "Files", "Flattened", "Invocation", "flatten", "resolve"]
