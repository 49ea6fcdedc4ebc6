"""One reading of package identity: which package an install argument names, and what it is.

The transform's pin policy, `check`, the safety net, the preloaded-package check and the pin
file readers all ask these questions; they get their answers here, so that a package keeps
one name everywhere:

- `package_key("pip", "Scikit_Learn>=1")` → `("pip", "scikit-learn")`, also for
  `name @ URL`; a bare URL or text pip would reject is its own key; `uv` installs are pip's;
  conda and apt have their own name rules (`conda_name`, `apt_name`).
- `pip_name` also guesses a name from a URL (`#egg=`, an archive's file name, a VCS
  repository), for `check`'s import-to-install matching.
- `is_url`, `is_vcs`, `vcs_revision`, `is_local_path`: what kind of location an argument is.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from nbsetup import matchspec

#: VCS URL prefixes pip knows (`git+https://...`), and the bare `git://` scheme.
VCS_SCHEMES = ("git+", "hg+", "svn+", "bzr+", "git://")
#: File endings of archives pip, conda or apt install from a path.
ARCHIVE_SUFFIXES = (
    ".whl",
    ".zip",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tar.xz",
    ".tar",
    ".conda",
    ".deb",
    ".egg",
)

_URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_EGG = re.compile(r"[#&]egg=([A-Za-z0-9_.-]+)")
_ARCHIVE_NAME = re.compile(r"([A-Za-z0-9_.]+?)-\d[^/]*\.(?:whl|tar\.gz|tgz|zip|tar\.bz2)$")
_APT_NAME_END = re.compile(r"[=:/]")


def is_url(text: str) -> bool:
    """`https://...`, `git+ssh://...`, `file:///...`: a scheme and `://`."""
    return _URL.match(text) is not None


def is_vcs(text: str) -> bool:
    """Whether a requirement installs from a version-control URL (`git+https://...`)."""
    location = text.split(" @ ", 1)[-1].strip()
    return location.startswith(VCS_SCHEMES)


def vcs_revision(text: str) -> str | None:
    """The revision a VCS requirement names (`...repo.git@v1.2#egg=x` → `v1.2`), else None."""
    location = text.split(" @ ", 1)[-1].strip().split("+", 1)[-1]
    path = urlsplit(location).path
    return path.rsplit("@", 1)[1] if "@" in path else None


def is_local_path(text: str) -> bool:
    """True for `.`, `./pkg`, `/abs/x.whl`, `dist/*.whl`, `pkg.zip`, `file:` URLs: on this disk."""
    if text.startswith(("file:", ".", "/", "~")):
        return True
    if "://" in text or " @ " in text or "@" in text.split("/")[0]:
        return False
    return "/" in text or "\\" in text or text.lower().endswith(ARCHIVE_SUFFIXES)


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> Requirement | None:
    # The same requirement strings recur across a collection's notebooks (numpy, torch, ...);
    # parse each once. Callers only read the result.
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def named(text: str) -> str | None:
    """The canonical name of a requirement that parses (`numpy[x]>=1` → `numpy`), else None."""
    requirement = _parsed(text)
    return None if requirement is None else canonicalize_name(requirement.name)


def asks_for_versions(text: str) -> bool:
    """Whether a pip requirement narrows what may be installed: a specifier or a URL."""
    requirement = _parsed(text)
    return requirement is not None and bool(requirement.specifier or requirement.url)


def pip_name(text: str) -> str | None:
    """The canonical project name of a pip requirement argument, None when it cannot be known.

    `numpy[extra]>=1` → `numpy`; `name @ https://...` → `name`; a URL's `#egg=` fragment or
    archive file name; a VCS URL's repository name (`git+https://host/org/repo.git@v1` →
    `repo`, a guess); None for a local path, another URL, or text pip would reject.
    """
    if is_local_path(text):
        return None
    name = named(text)
    if name is not None:
        return name
    if not is_url(text) and not text.startswith(VCS_SCHEMES):
        return None
    egg = _EGG.search(text)
    if egg:
        return canonicalize_name(egg.group(1))
    vcs = text.startswith(VCS_SCHEMES)
    path = urlsplit(text.split("+", 1)[-1] if vcs else text).path
    archive = _ARCHIVE_NAME.search(path)
    if archive:
        return canonicalize_name(archive.group(1))
    if not vcs:
        return None
    last = path.rstrip("/").rsplit("/", 1)[-1].split("@", 1)[0].removesuffix(".git")
    return canonicalize_name(last) if last else None


def conda_name(text: str) -> str | None:
    """A conda match spec's package name, canonical: `conda-forge::Py_Spy>=1` → `py-spy`."""
    name = matchspec.parse(text).name
    return canonicalize_name(name) if name else None


def apt_name(text: str) -> str:
    """A Debian package argument's name: `ffmpeg=7:5.1`, `libx/stable` → `ffmpeg`, `libx`."""
    return _APT_NAME_END.split(text, maxsplit=1)[0].lower()


def package_key(manager: str, text: str) -> tuple[str, str]:
    """Which package an install argument installs, by manager and name.

    pip (and uv): the canonical name of a requirement, `name @ URL` included (a pin may turn
    `torch` into `torch @ https://...`); a bare URL or text that does not parse is its own
    key. conda: the match spec's name. apt: the package name.
    """
    if manager in ("pip", "uv"):
        requirement = _parsed(text)
        if requirement is None:
            return ("pip", text)
        return ("pip", canonicalize_name(requirement.name))
    if manager == "conda":
        return (manager, matchspec.parse(text).name)
    return (manager, apt_name(text))
