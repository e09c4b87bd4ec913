"""Numeric options of every command (the plugins' too): NaN and infinities refused in one line,
and the help states the same range as the error."""

from __future__ import annotations

import argparse

import pytest

from deepfake_monitor.realtime.argtypes import finite, positive, probability, ranged, sample_fps
from deepfake_monitor.realtime.cli import build_parser, main


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _numeric_options() -> list[tuple[str, argparse.ArgumentParser, argparse.Action]]:
    found = []
    for name, command in _commands(build_parser(plugins=True)).items():
        for action in command._actions:
            assert action.type not in (float,), f"{name} {action.option_strings}: plain float"
            if getattr(action.type, "span", None) and action.option_strings:
                found.append((name, command, action))
    return found


OPTIONS = _numeric_options()


def test_every_command_has_its_numeric_options_checked() -> None:
    names = {(name, a.option_strings[0]) for name, _, a in OPTIONS}
    for expected in (("scan", "--threshold"), ("scan", "--min-face-score"),
                     ("scan", "--sample-fps"), ("watch", "--alert-after"),
                     ("watch", "--duration"), ("bench", "--measure-seconds"),
                     ("app", "--threshold"), ("train", "--lr"), ("extract", "--fps"),
                     ("export", "--tolerance")):
        assert expected in names, expected


@pytest.mark.parametrize(("command", "option"),
                         [(n, a.option_strings[0]) for n, _, a in OPTIONS])
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "1e999", "NaN"])
def test_nan_and_infinities_are_refused_in_one_line_naming_the_help_s_range(
    command: str, option: str, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, parser, action = next(o for o in OPTIONS if o[0] == command
                             and o[2].option_strings[0] == option)
    span = action.type.span  # type: ignore[union-attr]
    with pytest.raises(SystemExit) as info:
        main([command, f"{option}={bad}"])  # "=": argparse reads a lone -inf as an option
    assert info.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert option in lines[0] and bad in lines[0], err
    if action.type is finite:  # a plain float option: any finite number
        assert "is not a finite number" in lines[0], err
        return
    assert f"within {span}" in lines[0], err
    help_text = " ".join(parser.format_help().split())
    assert f"within {span}" in help_text, (option, span)


def test_min_face_score_takes_one_range_in_every_command(
        capsys: pytest.CaptureFixture[str]) -> None:
    spans = {name: a.type.span for name, _, a in OPTIONS  # type: ignore[union-attr]
             if a.option_strings[0] == "--min-face-score"}
    assert {"scan", "watch", "app", "bench", "extract", "synthesize"} <= set(spans), spans
    assert set(spans.values()) == {"[0, 1)"}, spans
    # 0 (keep every detection) is taken where the range says so, 1 refused by all
    args = build_parser(plugins=True).parse_args(["scan", "x.mp4", "--min-face-score", "0"])
    assert args.min_face_score == 0.0
    with pytest.raises(SystemExit):
        main(["scan", "x.mp4", "--min-face-score", "1"])
    assert "--min-face-score: 1 is not a number within [0, 1)" in capsys.readouterr().err


def test_sample_fps_means_a_rate_or_all_and_nothing_else(
    capsys: pytest.CaptureFixture[str]
) -> None:
    assert sample_fps("all") is None and sample_fps("ALL") is None
    assert sample_fps("2.5") == 2.5
    for bad in ("0", "-1", "nan", "inf", "fast"):
        with pytest.raises(argparse.ArgumentTypeError,
                           match=r"is not a number within \(0, inf\) or 'all'"):
            sample_fps(bad)
    help_text = " ".join(_commands(build_parser(plugins=False))["scan"].format_help().split())
    assert "within (0, inf) or 'all'" in help_text


def test_ranges_and_their_names() -> None:
    assert probability.span == "(0, 1)" and probability("0.5") == 0.5
    assert positive.span == "(0, inf)"
    whole = ranged(int, 1, 10)
    assert whole.span == "[1, 10]" and whole("10") == 10
    for bad in ("0", "11", "2.5", "nan"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"within \[1, 10\]"):
            whole(bad)
    with pytest.raises(argparse.ArgumentTypeError, match=r"within \(0, 1\)"):
        probability("1")
