"""hypothesis: arbitrary text never crashes or hangs the analysis, and a parse failure is never 'low'."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CWD, HOME
from vgshell.config import DEFAULT_CONFIG
from vgshell.policy import Facts, decide
from vgshell.risk.engine import MAX_INPUT, assess
from vgshell.risk.model import Level

SHELLISH = st.sampled_from(["rm", "-rf", "/", "~", "$(", ")", "`", "'", '"', "|", "&&", ";", "<<EOF\n", "\nEOF",
                            "<<<", "bash -c", "eval", "sudo", "$HOME", "${X:-/}", "\\", "*", "{", "}", "(",
                            "[[", "]]", "$((", "))", "case x in", "esac", "\x00", "\n", " ", "#", "!", "&"])
FACTS = Facts(human_present=False, available_runtimes=("bubblewrap",))
DEADLINE = 3.0  # seconds for one command, on the slowest input hypothesis finds


def check(text: str) -> None:
    start = time.perf_counter()
    a = assess(text, CWD, HOME)
    decide(a, DEFAULT_CONFIG, FACTS)
    assert time.perf_counter() - start < DEADLINE
    if a.parse_error:
        assert a.risk >= Level.MEDIUM


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_arbitrary_unicode_text(text: str) -> None:
    check(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(SHELLISH, max_size=60).map("".join))
def test_shell_fragments(text: str) -> None:
    check(text)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_invalid_utf8_bytes_decoded_as_the_cli_does(data: bytes) -> None:
    check(data.decode("utf-8", "surrogateescape"))


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=1, max_value=3000))
def test_deeply_nested_substitutions(depth: int) -> None:
    check("$(" * depth + "rm -rf /" + ")" * depth)
    check("echo " + "`" * depth)


def test_a_megabyte_line_is_refused_quickly() -> None:
    start = time.perf_counter()
    a = assess("a " * 500_000, CWD, HOME)
    assert time.perf_counter() - start < 1
    assert a.risk is Level.CRITICAL and a.findings[0].rule == "parse.too-large"


def test_largest_analysed_input_stays_bounded() -> None:
    for text in ("ls;" * (MAX_INPUT // 3), "rm -rf " + "a " * (MAX_INPUT // 2 - 8) + "/"):
        text = text[:MAX_INPUT]
        start = time.perf_counter()
        assess(text, CWD, HOME)
        assert time.perf_counter() - start < 2 * DEADLINE


def test_nul_bytes_do_not_hide_a_command() -> None:
    assert assess("rm\x00 -rf /", CWD, HOME).risk is Level.CRITICAL
