"""`vgshell`: the shell developers log in to and agents run commands through (SPEC §9).

`main` is the entry point: `-c`, a script, commands on stdin, or the interactive REPL (`repl`, the only
part that imports prompt_toolkit). Every line is judged by the long-lived analyzer (`guard`) before a real
bash runs it (`run` for one line, `session` for the REPL's lasting bash).
"""
