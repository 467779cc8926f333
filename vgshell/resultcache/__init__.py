"""The result cache (SPEC §8): a sandboxed command whose inputs are unchanged replays its recorded result.

`key` (what a result depends on), `store` (the entries and their content under the state dir), `strategy`
(what may be cached and for how long), `replay` (writing a recorded result back), `report` (`vg cache`).
"""
