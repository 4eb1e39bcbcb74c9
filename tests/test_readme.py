"""The README stays true: its opening commands, every configuration variable, every command."""

from __future__ import annotations

from pathlib import Path

from webfaq_stream.cli.main import build_parser
from webfaq_stream.settings import Settings, env_name

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands() -> None:
    opening = "\n".join(README.splitlines()[:10])
    assert "make demo" in opening and "make test" in opening


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_setting_is_documented_with_its_variable() -> None:
    missing = [env_name(name) for name in Settings.model_fields if f"`{env_name(name)}`" not in README]
    assert not missing, f"README lacks {missing}"


def test_every_command_is_documented() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    missing = [name for name in commands if f"webfaq-stream {name}" not in README]
    assert not missing, f"README lacks {missing}"


def test_documented_defaults_are_the_real_ones() -> None:
    for name, field in Settings.model_fields.items():
        default = "(unset)" if field.default is None else f"`{field.default}`"
        assert f"| `{env_name(name)}` | {default} |" in README, f"README shows a stale default of {env_name(name)}"
