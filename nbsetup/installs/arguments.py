"""One command's words → InstallCommand: pip, uv, conda and apt subcommands and options."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from nbsetup import packages
from nbsetup.installs.records import Action, InstallCommand, Manager, Option

_PYTHON = re.compile(r"(\S*/)?python(3(\.\d+)?)?")
_PIP = re.compile(r"pip(3(\.\d+)?)?")
_ENV_ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=")
SYS_EXECUTABLE = "{sys.executable}"


@dataclass(frozen=True)
class Word:
    """One shell word: its text after unquoting, where it is, and why it is not a constant."""

    text: str
    start: int
    end: int
    #: Set when the word is only known at run time (`$VAR`, `{var}`, `$(cmd)`).
    reason: str | None = None


_PIP_VALUE_OPTIONS = frozenset(
    {
        # general options
        "--log", "--log-file", "--local-log", "--proxy", "--retries", "--timeout",
        "--exists-action", "--trusted-host", "--cert", "--client-cert", "--cache-dir",
        "--use-feature", "--use-deprecated", "--keyring-provider", "--python",
        # install / download / uninstall options
        "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-t", "--target",
        "--platform", "--python-version", "--implementation", "--abi", "--root", "--prefix",
        "--src", "--upgrade-strategy", "-i", "--index-url", "--extra-index-url", "-f",
        "--find-links", "--no-binary", "--only-binary", "-C", "--config-settings",
        "--global-option", "--install-option", "--progress-bar", "--report",
        "--root-user-action", "--group", "-d", "--dest",
    }
)  # fmt: skip
_PIP_FLAGS = frozenset(
    {
        "-h", "--help", "--debug", "--isolated", "--require-virtualenv", "--python-version",
        "-v", "--verbose", "-q", "--quiet", "--no-input", "--no-color", "--no-cache-dir",
        "--disable-pip-version-check", "--no-python-version-warning", "--dry-run", "--user",
        "-U", "--upgrade", "--force-reinstall", "-I", "--ignore-installed",
        "--ignore-requires-python", "--no-deps", "--pre", "--no-build-isolation",
        "--use-pep517", "--no-use-pep517", "--check-build-dependencies",
        "--break-system-packages", "--compile", "--no-compile", "--no-warn-script-location",
        "--no-warn-conflicts", "--prefer-binary", "--require-hashes", "--no-clean",
        "--no-index", "-y", "--yes",
    }
)  # fmt: skip
_UV_VALUE_OPTIONS = _PIP_VALUE_OPTIONS | frozenset(
    {
        "-p", "-P", "--upgrade-package", "--reinstall-package", "--prerelease",
        "--index-strategy", "--torch-backend", "--link-mode", "--resolution", "--extra",
        "--overrides", "--index", "--default-index", "--exclude-newer", "--python-platform",
        "--no-build-package", "--no-binary-package", "--only-binary-package",
        "--config-setting", "--color", "--directory", "--project", "--config-file",
        "--allow-insecure-host", "--build-constraints", "-b",
    }
)  # fmt: skip
_UV_FLAGS = _PIP_FLAGS | frozenset(
    {
        "--system", "--reinstall", "--no-cache", "-n", "--compile-bytecode", "--strict",
        "--all-extras", "--native-tls", "--offline", "--no-progress", "--no-sources",
        "--exact", "--no-build", "--no-config", "--refresh", "--verify-hashes",
        "--no-verify-hashes", "--no-build-isolation",
    }
)  # fmt: skip
_CONDA_VALUE_OPTIONS = frozenset(
    {
        "-c", "--channel", "-n", "--name", "-p", "--prefix", "--file", "--solver",
        "--repodata-fn", "--experimental-solver", "--subdir", "--platform", "-r",
        "--root-prefix",
    }
)  # fmt: skip
_CONDA_FLAGS = frozenset(
    {
        "-y", "--yes", "-q", "--quiet", "-v", "--verbose", "--no-deps", "--only-deps",
        "--force-reinstall", "--update-deps", "--freeze-installed", "--no-update-deps",
        "-S", "--satisfied-skip-solve", "--strict-channel-priority", "--override-channels",
        "--copy", "--no-pin", "--insecure", "--offline", "--json", "-d", "--dry-run",
        "--update-all", "--all", "--clobber", "--use-local", "--no-channel-priority",
        "--show-channel-urls", "--download-only",
    }
)  # fmt: skip
_APT_VALUE_OPTIONS = frozenset({"-o", "--option", "-t", "--target-release", "-c", "--config-file"})
_APT_FLAGS = frozenset(
    {
        "-y", "--yes", "--assume-yes", "-q", "--quiet", "--no-install-recommends",
        "--install-recommends", "--no-install-suggests", "--reinstall", "--fix-missing",
        "-m", "-f", "--fix-broken", "--allow-downgrades", "--allow-unauthenticated",
        "--allow-change-held-packages", "--allow-remove-essential", "--force-yes",
        "--only-upgrade", "--no-upgrade", "-V", "--purge", "--auto-remove", "--autoremove",
        "--ignore-missing", "-s", "--simulate", "--dry-run", "--no-download",
    }
)  # fmt: skip

_PIP_ACTIONS: dict[str, Action] = {
    "install": "install",
    "uninstall": "uninstall",
    "download": "download",
}
_CONDA_ACTIONS: dict[str, Action] = {
    "install": "install",
    "remove": "uninstall",
    "uninstall": "uninstall",
}
_APT_ACTIONS: dict[str, Action] = {
    "install": "install",
    "update": "update",
    "remove": "uninstall",
    "purge": "uninstall",
    "autoremove": "uninstall",
    "download": "download",
}
_ACTION_REASONS = {"uninstall": "uninstalls packages", "download": "downloads packages"}
_TARGET_OPTIONS = frozenset({"-t", "--target", "--prefix", "--root"})
_OTHER_PYTHON_OPTIONS = frozenset({"--python", "-p"})
_OTHER_ENV_OPTIONS = frozenset({"-n", "--name", "-p", "--prefix", "-r", "--root-prefix"})


@dataclass(frozen=True)
class _Grammar:
    manager: Manager
    actions: dict[str, Action]
    value_options: frozenset[str]
    flags: frozenset[str]
    #: apt takes options after the subcommand too; all take them before the packages.
    requirement_option: str
    constraint_option: str | None
    other_place: frozenset[str]
    other_place_reason: str


_GRAMMARS = {
    "pip": _Grammar(
        "pip",
        _PIP_ACTIONS,
        _PIP_VALUE_OPTIONS,
        _PIP_FLAGS,
        "--requirement",
        "--constraint",
        _OTHER_PYTHON_OPTIONS,
        "installs into another python",
    ),
    "uv": _Grammar(
        "uv",
        _PIP_ACTIONS,
        _UV_VALUE_OPTIONS,
        _UV_FLAGS,
        "--requirement",
        "--constraint",
        _OTHER_PYTHON_OPTIONS,
        "installs into another python",
    ),
    "conda": _Grammar(
        "conda",
        _CONDA_ACTIONS,
        _CONDA_VALUE_OPTIONS,
        _CONDA_FLAGS,
        "--file",
        None,
        _OTHER_ENV_OPTIONS,
        "installs into another environment",
    ),
    "apt": _Grammar(
        "apt",
        _APT_ACTIONS,
        _APT_VALUE_OPTIONS,
        _APT_FLAGS,
        "",
        None,
        frozenset(),
        "",
    ),
}
_LONG_NAMES = {"-r": "--requirement", "-c": "--constraint", "-e": "--editable"}


def _options(words: Sequence[Word], grammar: _Grammar) -> list[tuple[str, str | None, int]]:
    """Expand `-qU`, `--flag=value` and `-r file` into (flag, value, index) triples.

    Requirements come back as `("", text, index)` so their order among options is kept;
    `index` is the requirement's position in `words` (-1 for options).
    """
    out: list[tuple[str, str | None, int]] = []
    index = 0
    while index < len(words):
        word = words[index]
        text = word.text
        index += 1
        if text.startswith("--") and len(text) > 2:
            flag, equals, value = text.partition("=")
            if equals:
                out.append((flag, value, -1))
            elif flag in grammar.value_options and index < len(words):
                out.append((flag, words[index].text, -1))
                index += 1
            else:
                out.append((flag, None, -1))
        elif text.startswith("-") and len(text) > 1:
            letters = text[1:]
            for position, letter in enumerate(letters):
                flag = "-" + letter
                if flag in grammar.value_options:
                    rest = letters[position + 1 :]
                    if rest:
                        out.append((flag, rest.removeprefix("="), -1))
                    elif index < len(words):
                        out.append((flag, words[index].text, -1))
                        index += 1
                    else:
                        out.append((flag, None, -1))
                    break
                out.append((flag, None, -1))
        else:
            out.append(("", text, index - 1))
    return out


def _parse_arguments(
    grammar: _Grammar, words: Sequence[Word], sudo: bool
) -> InstallCommand | None:
    """`install -q x -r r.txt` → InstallCommand; None for subcommands that install nothing."""
    action: Action | None = None
    action_word = 0
    before: list[Word] = []
    rest: Sequence[Word] = ()
    index = 0
    while index < len(words):
        word = words[index]
        if not word.text.startswith("-"):
            action = grammar.actions.get(word.text)
            rest = words[index + 1 :]
            action_word = index
            break
        # Options before the subcommand (`pip -q install x`, `apt-get -o X=1 install y`).
        takes_value = word.text in grammar.value_options
        before.extend(words[index : index + 2 if takes_value else index + 1])
        index += 2 if takes_value else 1
    if action is None:
        return None
    requirements: list[str] = []
    options: list[Option] = []
    requirement_files: list[str] = []
    constraint_files: list[str] = []
    reasons: list[str] = [word.reason for word in words if word.reason]
    # Positions in `words` of the options and arguments `_options` reads, in its order.
    positions = [*range(len(before)), *range(action_word + 1, len(words))]
    requirement_words: list[int] = []
    for flag, value, at in _options([*before, *rest], grammar):
        long_flag = _LONG_NAMES.get(flag, flag)
        if not flag:
            requirements.append(value or "")
            requirement_words.append(positions[at])
            if grammar.manager == "apt":
                local = (value or "").startswith((".", "/", "~")) or (value or "").endswith(".deb")
            else:
                local = packages.is_local_path(value or "")
            if local:
                reasons.append("installs a local path")
        elif long_flag == grammar.requirement_option:
            requirement_files.append(value or "")
        elif grammar.constraint_option and long_flag == grammar.constraint_option:
            constraint_files.append(value or "")
        else:
            options.append((flag, value))
            if grammar.manager in ("pip", "uv") and long_flag == "--editable":
                reasons.append("editable install")
            elif grammar.manager in ("pip", "uv") and flag in _TARGET_OPTIONS:
                reasons.append("installs into a target directory")
            elif flag in grammar.other_place:
                reasons.append(grammar.other_place_reason)
            elif flag not in grammar.flags and flag not in grammar.value_options:
                reasons.append(f"unrecognised option {flag}")
    if action in _ACTION_REASONS:
        reasons.insert(0, _ACTION_REASONS[action])
    elif action == "install" and not requirements and not requirement_files:
        reasons.append("installs nothing")
    reason = reasons[0] if reasons else None
    return InstallCommand(
        manager=grammar.manager,
        action=action,
        requirements=tuple(requirements),
        options=tuple(options),
        requirement_files=tuple(requirement_files),
        constraint_files=tuple(constraint_files),
        sudo=sudo,
        movable=reason is None,
        reason=reason,
        requirement_words=tuple(requirement_words),
        action_word=action_word,
    )


def _program(words: Sequence[Word]) -> tuple[str, str, int] | None:
    """(manager, spelling, index of the first argument) when `words` start an install tool."""
    first = words[0].text if words else ""
    second = words[1].text if len(words) > 1 else ""
    third = words[2].text if len(words) > 2 else ""
    if _PIP.fullmatch(first):
        return "pip", first, 1
    if first == "uv" and second == "pip":
        return "uv", "uv pip", 2
    if first in ("conda", "mamba", "micromamba"):
        return "conda", first, 1
    if first in ("apt", "apt-get"):
        return "apt", first, 1
    if second == "-m" and third == "pip" and (_PYTHON.fullmatch(first) or first == SYS_EXECUTABLE):
        return "pip", f"{first} -m pip", 3
    return None


def parse_command(words: Sequence[Word]) -> tuple[InstallCommand, str] | None:
    """Recognise one simple command (`sudo apt-get install -y x`) as an install.

    Returns the command and how its program was spelled, or None when it installs nothing
    (`pip list`, `npm install`, `uv python install`, `python setup.py install`).
    """
    index = 0
    sudo = False
    environment = False
    while index < len(words) and _ENV_ASSIGNMENT.match(words[index].text):
        environment = True
        index += 1
    first = index
    if index < len(words) and words[index].text == "sudo":
        sudo = True
        index += 1
        while index < len(words) and words[index].text.startswith("-"):
            index += 2 if words[index].text in ("-u", "-g") else 1
    found = _program(words[index:])
    if found is None:
        return None
    manager, spelling, skip = found
    arguments = words[index + skip :]
    command = _parse_arguments(_GRAMMARS[manager], arguments, sudo)
    if command is None:
        return None
    reason = command.reason
    program_word = words[index]
    if program_word.reason:
        reason = program_word.reason
    elif "/" in program_word.text and manager == "pip":
        reason = "installs into another python"
    elif environment:
        reason = "sets environment variables"
    if reason != command.reason:
        command = replace(command, movable=reason is None, reason=reason)
    # Words from `sudo` or the program on: the environment cell may render them (`Written`).
    shift = index + skip - first
    command = replace(
        command,
        words=tuple(word.text for word in words[first:]),
        word_spans=tuple((word.start, word.end) for word in words[first:]),
        requirement_words=tuple(at + shift for at in command.requirement_words),
        action_word=command.action_word + shift,
    )
    return command, ("sudo " if sudo else "") + spelling
