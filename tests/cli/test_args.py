"""The argument rules of ``hurtle inspect`` commands (hurtle_cli._args)."""

from __future__ import annotations

import click
import pytest

from hurtle_cli._args import Call, parse_command, parse_words


def test_reference_example() -> None:
    args, kwargs = parse_words(["one", "two", "three", "--four", "--no-five", "--six=6"])
    assert args == ["one", "two", "three"]
    assert kwargs == {"four": True, "five": False, "six": "6"}


def test_value_as_next_word_equals_value_after_equals() -> None:
    assert parse_words(["--six", "6"]) == parse_words(["--six=6"]) == ([], {"six": "6"})


def test_dashes_become_underscores_in_every_form() -> None:
    _, kwargs = parse_words(["--with-dash", "--key-dash=v", "--no-dry-run", "--a-b", "x"])
    assert kwargs == {"with_dash": True, "key_dash": "v", "dry_run": False, "a_b": "x"}


def test_flag_before_an_option_stays_true_and_positionals_keep_order() -> None:
    args, kwargs = parse_words(["a", "--flag", "--other", "v", "b", "c"])
    assert args == ["a", "b", "c"]
    assert kwargs == {"flag": True, "other": "v"}


def test_negative_numbers_are_values_and_positionals() -> None:
    assert parse_words(["-5", "--offset", "-6", "--ratio=-0.5"]) == (
        ["-5"],
        {"offset": "-6", "ratio": "-0.5"},
    )


def test_equals_inside_a_value_is_kept() -> None:
    assert parse_words(["--eq=a=b", "--empty="]) == ([], {"eq": "a=b", "empty": ""})


def test_double_dash_makes_the_rest_positional() -> None:
    assert parse_words(["--x", "--", "--not-an-option", "-y"]) == (
        ["--not-an-option", "-y"],
        {"x": True},
    )


def test_no_prefix_alone_is_a_plain_key() -> None:
    assert parse_words(["--no-"]) == ([], {"no_": True})


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["-x"], "single-dash options are not passed to commands; write --x"),
        (["--a", "1", "--a=2"], "option --a given twice"),
        (["--four", "--no-four"], "option --no-four given twice"),
        (["--args=1"], "'args' is reserved"),
        (["--=v"], "not a valid option name"),
        (["--9lives"], "not a valid option name"),
        (["--a.b"], "not a valid option name"),
    ],
)
def test_refused_words(words: list[str], message: str) -> None:
    with pytest.raises(click.UsageError, match=message.replace("(", r"\(")):
        parse_words(words)


def test_known_flags_never_take_a_value() -> None:
    assert parse_words(["--wait", "3"], frozenset({"wait"})) == (["3"], {"wait": True})


def test_no_words_is_info() -> None:
    assert parse_command([]) == Call("info", "GET", "/")
    assert parse_command(["info"]) == Call("info", "GET", "/")


def test_custom_command_body() -> None:
    call = parse_command(["do-it", "one", "--four", "--no-five", "--six", "6"])
    assert call == Call(
        "do_it",
        "POST",
        "/do_it",
        {"args": ["one"], "four": True, "five": False, "six": "6"},
    )
    assert parse_command(["ping"]).body == {}


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["reload"], Call("reload", "POST", "/reload", {})),
        (
            ["reload", "--zero-downtime", "--wait"],
            Call("reload", "POST", "/reload", {"zero_downtime": True, "wait": True}, wait=True),
        ),
        (["reload", "--no-zero-downtime"], Call("reload", "POST", "/reload", {})),
        (["scale", "3"], Call("scale", "POST", "/scale", {"replicas": 3})),
        (
            ["scale", "--wait", "3"],
            Call("scale", "POST", "/scale", {"replicas": 3, "wait": True}, wait=True),
        ),
        (["shutdown"], Call("shutdown", "POST", "/shutdown")),
        (["stats"], Call("stats", "POST", "/stats")),
        (["stats", "--watch"], Call("stats", "POST", "/stats", watch=True)),
        (
            ["restart", "A", "B", "--zero-downtime"],
            Call("restart", "POST", "/restart", {"names": ["A", "B"], "zero_downtime": True}),
        ),
    ],
)
def test_builtin_commands_parse_into_their_http_calls(words: list[str], expected: Call) -> None:
    assert parse_command(words) == expected


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["scale"], "scale needs exactly one number"),
        (["scale", "1", "2"], "scale needs exactly one number"),
        (["scale", "three"], "'three' is not a whole number"),
        (["reload", "now"], "reload takes no arguments, got now"),
        (["reload", "--zero-downtme"], "reload has no option --zero-downtme"),
        (["reload", "--wait=yes"], "--wait takes no value"),
        (["shutdown", "--force"], "shutdown has no option --force"),
        (["stats", "x"], "stats takes no arguments"),
        (["info", "x"], "info takes no arguments"),
        (["restart"], "restart needs process names"),
        (["_private"], "is not a command name"),
        (["a/b"], "is not a command name"),
    ],
)
def test_builtin_usage_errors(words: list[str], message: str) -> None:
    with pytest.raises(click.UsageError, match=message):
        parse_command(words)
