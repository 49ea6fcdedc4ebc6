"""Lint a notebook for install hazards without rewriting it (`nbsetup check`).

`diagnose(notebook, pins, config)` returns `Diagnostic`s (`nbsetup.diagnostics`), one per
hazard, each with a code from `diagnostics.CODES`, a message and a 1-based cell and line; each
rule's details are in its `_nbs00N` function. A trailing comment
`# nbsetup: ignore[NBS001,NBS002]` (bare `# nbsetup: ignore`: every code) on any line of the
flagged statement suppresses its diagnostics (read by `comments.directives`, which also reads
`# nbsetup: skip`). The report layer (`nbsetup.report`) renders them.

Opt-outs (`optouts`) are read as `fix` reads them: an install the user keeps in place is not
one `fix` would hoist (no NBS006) nor one it fails to hoist (no NBS004), and what follows it
stays behind it, as in `fix`. The other rules judge it as any install: it still runs.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from nbsetup import comments, distributions, install_lines, optouts, packages, runtime, verdicts
from nbsetup.diagnostics import ALL_RULES, Config, Diagnostic, split_codes
from nbsetup.distributions import NO_PACKAGES, PackageMap
from nbsetup.imports import Import, find_imports, written_modules
from nbsetup.installs.records import InstallCommand, InstallSite
from nbsetup.rules import captured, moving_refs, renamed, repairs
from nbsetup.rules.fallbacks import find_fallbacks
from nbsetup.rules.finding import Finding
from nbsetup.sources.requirements_txt import Pins
from nbsetup.transform import NO_PINS

#: Modules every Python has.
STDLIB_MODULES = frozenset(sys.stdlib_module_names) | {"__future__"}

_RESTART = "the kernel keeps the version it loaded until restarted"


def diagnose(
    notebook: dict[str, Any],
    pins: Pins = NO_PINS,
    config: Config = ALL_RULES,
    packages: PackageMap = NO_PACKAGES,
) -> tuple[Diagnostic, ...]:
    """The install hazards of a notebook, in cell and line order.

    `packages` maps import names to installed distributions, as
    `importlib.metadata.packages_distributions()` does; the shell passes the runtime
    profile's (`Profile.modules`), or for a local Jupyter `distributions.installed_packages()`.
    Without it only the curated table and guesses map imports to distributions. Whether the
    notebook's kernel is checked at all is the caller's decision (`kernels`).
    """
    found = verdicts.notebook_sites(notebook)
    sources, env_index, others, env_sites = (
        list(found.sources),
        found.env_index,
        found.others,
        found.env_sites,
    )
    sites = found.all
    imports = find_imports(sources)
    local = config.local_modules | written_modules(sources)
    provided: frozenset[str] = frozenset()
    if config.profile is not None:
        provided = config.profile.installed
        if runtime.uses_gpu(notebook):
            provided |= config.profile.gpu_installed
    findings = [
        *_nbs001(sites, imports, packages, sources),
        *_nbs002_nbs003(sites, pins),
        *_nbs004(sites),
        *_nbs005(sites, imports, pins, packages, local, provided),
        *_nbs006(others, env_sites, env_index, sources),
        *_nbs007(sites, runtime.for_notebook(config.preloaded, notebook, sources)),
        *_nbs008(sites, sources),
        *renamed.find(sites),
        *moving_refs.find(sites),
        *captured.find(sites, sources),
        *repairs.find(sites),
    ]
    suppressed = {i: _suppressions(source) for i, source in enumerate(sources) if source}
    kept = (
        Diagnostic(
            finding.code, finding.message, finding.cell + 1, finding.start + 1, finding.package
        )
        for finding in findings
        if config.enabled(finding.code)
        and not _is_suppressed(finding, suppressed.get(finding.cell, {}))
    )
    return tuple(sorted(dict.fromkeys(kept), key=lambda d: (d.cell, d.line, d.code)))


def _suppressions(source: str) -> dict[int, frozenset[str] | None]:
    """0-based line → the codes its `# nbsetup: ignore[...]` comment names (None: all)."""
    found: dict[int, frozenset[str] | None] = {}
    for index, line in enumerate(source.splitlines()):
        directives = comments.directives(line)
        if comments.IGNORE in directives:
            codes = directives[comments.IGNORE]
            found[index] = None if codes is None else split_codes(codes)
    return found


def _is_suppressed(finding: Finding, by_line: Mapping[int, frozenset[str] | None]) -> bool:
    lines = range(finding.start, max(finding.end, finding.start + 1))
    return any(
        line in by_line and (by_line[line] is None or finding.code in (by_line[line] or ()))
        for line in lines
    )


def _describe(command: InstallCommand) -> str:
    """What a command does, for messages: `numpy, pandas`, `-r req.txt`, `pip uninstall x`."""
    words = verdicts.install_words(command)
    if command.action in ("install", "update") and words:
        return ", ".join(words)
    return " ".join([command.manager, command.action, *words])


def _nbs001(
    sites: Sequence[InstallSite],
    imports: Sequence[Import],
    packages: PackageMap,
    sources: Sequence[str | None],
) -> Iterator[Finding]:
    """NBS001: a pip/conda install of a distribution an earlier cell or line has imported.

    The running kernel keeps the version it loaded until it restarts. Imports count when they
    run with their cell (not in function bodies); guarded ones count too, since a successful
    `try: import x` loads the module. Exempt: the fallback idiom, an install in the `except
    ImportError:` handler of the `try` that imports it, which runs only when nothing is loaded.
    """
    fallbacks = {
        cell: find_fallbacks(source)
        for cell, source in enumerate(sources)
        if source and any(item.cell == cell and item.guarded for item in imports)
    }
    first: dict[str, tuple[Import, distributions.Provider]] = {}
    for item in imports:
        if item.runs:
            found = distributions.provider(item.module, packages)
            for name in found.distributions:
                first.setdefault(name, (item, found))
    for site in sites:
        names = (n for c in site.commands for n in distributions.installed_names(c) if n)
        for name in dict.fromkeys(names):
            earliest = first.get(name)
            if earliest is None:
                continue
            item, found = earliest
            if (item.cell, item.line) >= (site.cell, site.start):
                continue
            if item.guarded and any(
                fallback.covers(item.line, site.start) for fallback in fallbacks.get(site.cell, ())
            ):
                continue
            where = "line" if item.cell == site.cell else f"cell {item.cell + 1}, line"
            message = (
                f"{name} is installed after it is imported as `{found.module}` "
                f"({where} {item.line + 1}){_guess(found)}; {_RESTART}"
            )
            yield Finding.at(site, "NBS001", message, name)


def _guess(found: distributions.Provider) -> str:
    """The note for a guessed name, when it is not just the import name (`foo_bar` → `foo-bar`)."""
    same = canonicalize_name(found.module) == found.name
    return " (name guessed from the import)" if found.guessed and not same else ""


def _nbs002_nbs003(sites: Sequence[InstallSite], pins: Pins) -> Iterator[Finding]:
    """NBS002 unpinned and NBS003 conflicting pip installs, by the pin policy (`install_lines`).

    NBS002: no `==`/`===` (`==1.*` is a range) and no requirements line or constraint pins it
    (a VCS URL that follows a branch is NBS010's). NBS003: a specifier the pin does not
    satisfy. Not judged: conda and apt installs (the pin policy keeps them as written), `-r`
    files, local paths, other URLs, and commands with their own `-c` constraints file.
    """
    for site in sites:
        for command in site.commands:
            if command.action != "install" or command.manager not in ("pip", "uv"):
                continue
            for text in () if command.constraint_files else command.requirements:
                yield from _pin_finding(site, command, text, pins)


def _pin_finding(
    site: InstallSite, command: InstallCommand, text: str, pins: Pins
) -> Iterator[Finding]:
    name = packages.pip_name(text)
    if name is None:
        return
    kinds: dict[str, install_lines.PinNote] = {}
    if pins.lookup(name) is not None:
        # Only a pinned package can conflict; ask the pin policy, so `check` agrees with `fix`.
        single = dataclasses.replace(command, requirements=(text,), movable=True, reason=None)
        kinds = {note.kind: note for note in install_lines.resolve([single], pins).notes}
    conflict = kinds.get("conflict")
    if conflict is not None and conflict.origin is not None:
        pinned = ", ".join(repr(result) for result in conflict.result)
        where = f"{conflict.origin}, line {conflict.line}"
        message = f"{name}: the notebook asks for {text!r}, {where} pins {pinned}"
        yield Finding.at(site, "NBS003", message, name)
    elif not kinds and _is_range(text):
        message = (
            f"{name} is installed unpinned ({text!r}): pin it with == here or in the requirements"
        )
        yield Finding.at(site, "NBS002", message, name)


def _is_range(text: str) -> bool:
    """Whether a named requirement allows several versions: not `==1.2`/`===x` (`==1.*` does)."""
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return False  # not judged: pip would reject it anyway
    return not requirement.url and not any(
        spec.operator in ("==", "===") and not spec.version.endswith(".*")
        for spec in requirement.specifier
    )


def _nbs004(sites: Sequence[InstallSite]) -> Iterator[Finding]:
    """NBS004: commands `nbsetup fix` leaves in place, one finding per site and reason.

    Not those the user opted out (`optouts`): they stay by choice, not for want of a way.
    """
    for site in sites:
        for reason, commands in verdicts.left_in_place(site).items():
            if optouts.is_chosen(reason):
                continue
            what = ", ".join(dict.fromkeys(_describe(command) for command in commands))
            yield Finding.at(site, "NBS004", f"`nbsetup fix` cannot hoist {what}: {reason}", what)


def _nbs005(
    sites: Sequence[InstallSite],
    imports: Sequence[Import],
    pins: Pins,
    packages: PackageMap,
    local: frozenset[str],
    provided: frozenset[str],
) -> Iterator[Finding]:
    """NBS005: an imported distribution that nothing installs or requires (missing dependency).

    Reported once per distribution, at its first unguarded import (`try: import x except
    ImportError:` copes without x). Exempt: the standard library, `__future__`, relative
    imports, `distributions.RUNTIME_MODULES`, what the runtime's profile has installed
    (`provided`), modules the notebook writes (`%%writefile`) and `Config.local_modules`.
    Transitive dependencies count as missing: declare what you import.
    Off for a notebook that installs a `-r` file or a local path, whose contents are unknown.
    """
    names = [
        name for site in sites for c in site.commands for name in distributions.installed_names(c)
    ]
    if None in names:
        return
    installed = set(names)
    reported: set[str] = set()
    for item in imports:
        if item.guarded or item.top in STDLIB_MODULES or item.top in local:
            continue
        if distributions.is_runtime(item.module) or canonicalize_name(item.top) in installed:
            # The second: the notebook installs something named as the import, such as
            # `git+https://github.com/openai/whisper.git` for `import whisper`.
            continue
        found = distributions.provider(item.module, packages)
        if found.name in reported or any(
            name in installed or name in provided or _required(pins, name)
            for name in found.distributions
        ):
            continue
        reported.add(found.name)
        source = "the requirements" if pins.files else "a requirements file"
        yield Finding(
            "NBS005",
            f"`{found.module}` is imported, but {found.name}{_guess(found)} is neither "
            f"installed by the notebook nor listed in {source}",
            item.cell,
            item.line,
            item.end,
            found.name,
        )


def _required(pins: Pins, name: str) -> bool:
    """Whether a requirements line (not just a constraint) names the distribution."""
    entry = pins.lookup(name)
    return entry is not None and not entry.constraint


def _nbs006(
    sites: Sequence[InstallSite],
    env_sites: Sequence[InstallSite],
    env_index: int | None,
    sources: Sequence[str | None],
) -> Iterator[Finding]:
    """NBS006: an install `transform.hoist` would move into the environment cell.

    Any movable install outside the environment cell, even in the first code cell: `fix`
    moves those too. As in the transform, an `apt-get update` moves only with an apt install.
    """
    kept = [c for site in env_sites if site.movable for c in site.commands if c.movable]
    first_code = next(
        (i for i, s in enumerate(sources) if s is not None and i != env_index and _runs_code(s)),
        None,
    )
    for site in verdicts.moving_sites(sites, kept):
        if verdicts.is_definition(site):
            continue  # it moves only with the block that reads it, which is reported
        moved = [c for c in site.commands if c.movable]
        what = ", ".join(_describe(c) for c in moved)
        noun = "install of " if all(c.action == "install" for c in moved) else ""
        if env_index is not None:
            where = f"outside the environment cell (cell {env_index + 1})"
        elif first_code is None or site.cell <= first_code:
            where = "outside an environment cell"
        else:
            where = f"after the first code cell (cell {first_code + 1})"
        message = f"{noun}{what} {where}; `nbsetup fix` would hoist it"
        yield Finding.at(site, "NBS006", message, what)


def _runs_code(source: str) -> bool:
    """Whether a code cell holds more than blank and comment lines (a licence cell does not)."""
    return any(line.strip() and not line.lstrip().startswith("#") for line in source.splitlines())


def _nbs007(sites: Sequence[InstallSite], preloaded: Mapping[str, str]) -> Iterator[Finding]:
    """NBS007: an install that replaces a distribution the runtime imported before any cell.

    Even in the environment cell, the first to run, such an install takes effect only after
    a restart: the kernel (or Colab's start-up code) has the old version loaded already.
    """
    for site in sites:
        for command in site.commands:
            if command.action != "install":
                continue
            tokens = install_lines.canonical_options(command.manager, command.options)
            for text in command.requirements:
                pin = runtime.preloaded_pin(command.manager, text, tokens, preloaded)
                if pin is not None:
                    message = (
                        f"{text} replaces {pin.package}: {runtime.REASONS[pin.loader]}; "
                        "restart the runtime after this install"
                    )
                    yield Finding.at(site, "NBS007", message, pin.package)


def _nbs008(sites: Sequence[InstallSite], sources: Sequence[str | None]) -> Iterator[Finding]:
    """NBS008: a cell that only restarts the runtime, with no install in or before it.

    A restart is needed after installs only; with none before it, the cell just throws away
    the kernel's state in the middle of a run (often left over after the installs moved).
    """
    installing = [site for site in sites if any(c.action == "install" for c in site.commands)]
    for restart in runtime.find_restarts(sources):
        if restart.alone and not any(site.cell <= restart.cell for site in installing):
            message = (
                f"this cell restarts the runtime ({restart.idiom}), but no install runs before "
                "it; delete it, or keep it only if the runtime needs a restart for another reason"
            )
            yield Finding("NBS008", message, restart.cell, restart.start, restart.end, None)
