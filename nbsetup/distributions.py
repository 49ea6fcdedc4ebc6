"""Which distribution provides an import, and which distributions an install command installs.

`import sklearn` is provided by scikit-learn, `import cv2` by opencv-python (or one of its
variants), `import google.genai` by google-genai. The lookup is a pure function of the import
name and a map of what is installed (`importlib.metadata.packages_distributions()` shape);
`installed_packages()` reads that map once, for the shell to pass in.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from packaging.utils import canonicalize_name

from nbsetup import packages
from nbsetup.installs.records import InstallCommand

#: Top-level import name → the distributions that provide it (`packages_distributions` shape).
PackageMap = Mapping[str, Sequence[str]]
NO_PACKAGES: PackageMap = MappingProxyType({})

#: Import names whose distribution is named otherwise (canonical names, most common first).
#: A dotted key names a sub-package of a namespace shared by several distributions.
CURATED: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "Bio": ("biopython",),
        "Crypto": ("pycryptodome", "pycrypto"),
        "Levenshtein": ("levenshtein", "python-levenshtein"),
        "MeCab": ("mecab-python3",),
        "MySQLdb": ("mysqlclient",),
        "OpenSSL": ("pyopenssl",),
        "PIL": ("pillow", "pillow-simd"),
        "absl": ("absl-py",),
        "attr": ("attrs",),
        "awq": ("autoawq",),
        "bs4": ("beautifulsoup4",),
        "bson": ("pymongo",),
        "cairo": ("pycairo",),
        "camel": ("camel-ai",),
        "cv2": (
            "opencv-python",
            "opencv-python-headless",
            "opencv-contrib-python",
            "opencv-contrib-python-headless",
        ),
        "dateutil": ("python-dateutil",),
        "dns": ("dnspython",),
        "docx": ("python-docx",),
        "dotenv": ("python-dotenv",),
        "faiss": ("faiss-cpu", "faiss-gpu"),
        "ffmpeg": ("ffmpeg-python",),
        "fitz": ("pymupdf",),
        "fluidsynth": ("pyfluidsynth",),
        "gi": ("pygobject",),
        "git": ("gitpython",),
        "google.protobuf": ("protobuf",),
        "grpc": ("grpcio",),
        "haystack": ("haystack-ai", "farm-haystack"),
        "hydra": ("hydra-core",),
        "jose": ("python-jose",),
        "jwt": ("pyjwt",),
        "llama_index": ("llama-index",),
        # The core of the namespace is one distribution: `llama_index.core.tools` is in it.
        "llama_index.core": ("llama-index-core",),
        "magic": ("python-magic",),
        "megatron": ("megatron-core",),
        "mpl_toolkits": ("matplotlib",),
        "multipart": ("python-multipart",),
        "nemo": ("nemo-toolkit",),
        "official": ("tf-models-official",),
        "phoenix": ("arize-phoenix",),
        "pinecone": ("pinecone", "pinecone-client"),
        "pkg_resources": ("setuptools",),
        "pptx": ("python-pptx",),
        "psycopg2": ("psycopg2", "psycopg2-binary"),
        "ruamel": ("ruamel-yaml",),
        "serial": ("pyserial",),
        "skimage": ("scikit-image",),
        "sklearn": ("scikit-learn",),
        "slugify": ("python-slugify",),
        "socks": ("pysocks",),
        "speech_recognition": ("speechrecognition",),
        "umap": ("umap-learn",),
        "usb": ("pyusb",),
        "websocket": ("websocket-client",),
        "whisper": ("openai-whisper",),
        "yaml": ("pyyaml",),
        "zmq": ("pyzmq",),
    }
)

#: Namespace packages whose parts ship separately, named by their dotted path with hyphens,
#: with how many path components such a name has: `google.cloud.storage` is
#: google-cloud-storage, `llama_index.llms.openai` is llama-index-llms-openai.
NAMESPACES: Mapping[str, int] = MappingProxyType(
    {"azure": 3, "google": 2, "google.cloud": 3, "llama_index": 3, "openinference": 3}
)

#: Modules the notebook's runtime provides without an install: the kernel's IPython, Colab's
#: and Kaggle's own helpers.
RUNTIME_MODULES = frozenset({"IPython", "ipykernel", "google.colab", "kaggle_secrets"})

_CONDA_NAME = re.compile(r"[\s=<>!~\[]")


@dataclass(frozen=True)
class Provider:
    """The distributions that may provide an import, and how they were found.

    `provider("sklearn.model_selection")` is
    `Provider(module="sklearn", distributions=("scikit-learn",), source="curated")`.
    """

    #: The import name the answer is for: the top-level module, or a namespace sub-package.
    module: str
    #: Canonical (PEP 503) names, most likely first; any of them satisfies the import.
    distributions: tuple[str, ...]
    #: `installed` (from `packages`), `curated` (from `CURATED`) or `guessed`.
    source: str

    @property
    def name(self) -> str:
        """The most likely distribution."""
        return self.distributions[0]

    @property
    def guessed(self) -> bool:
        """Whether the name was only inferred from the import name."""
        return self.source == "guessed"


def provider(module: str, packages: PackageMap = NO_PACKAGES) -> Provider:
    """The distributions that provide `module` (a dotted import name).

    A sub-package of a namespace shared by several distributions (`google.protobuf`,
    `google.genai`) gets its curated entry, else its hyphenated path (a guess, confirmed when
    `packages` lists it). Any other module gets what `packages` says provides its top-level
    name, then the curated table's entry (both count: `cv2` may come from any OpenCV variant);
    failing both, the top-level name itself, PEP 503-normalised (`foo_bar` → `foo-bar`, a
    guess).
    """
    parts = module.split(".")
    # `from azure.identity import DefaultAzureCredential` names a class, not a module: a
    # capitalised name after the top level ends the module path.
    modules = next((i for i, part in enumerate(parts[1:], 1) if not part.islower()), len(parts))
    parts = parts[:modules]
    top = parts[0]
    curated = _longest_prefix(parts, CURATED)
    namespace = _longest_prefix(parts[:-1], NAMESPACES)
    if namespace is not None:
        if curated is not None and curated.count(".") > namespace.count("."):
            return Provider(curated, CURATED[curated], "curated")
        size = min(NAMESPACES[namespace], len(parts))
        lengths = range(size, namespace.count(".") + 1, -1)
        guesses: list[str] = [canonicalize_name("-".join(parts[:length])) for length in lengths]
        guesses += CURATED.get(curated or "", ())
        present = {canonicalize_name(name) for name in packages.get(top, ())}
        confirmed = [name for name in guesses if name in present]
        if confirmed:
            return Provider(".".join(parts[:size]), tuple(confirmed), "installed")
        return Provider(".".join(parts[:size]), tuple(dict.fromkeys(guesses)), "guessed")
    installed = [canonicalize_name(name) for name in packages.get(top, ())]
    known = tuple(dict.fromkeys([*installed, *CURATED.get(curated or "", ())]))
    if known:
        return Provider(curated or top, known, "installed" if installed else "curated")
    return Provider(top, (canonicalize_name(top),), "guessed")


def is_runtime(module: str) -> bool:
    """Whether the notebook runtime provides `module` (or the package it is part of)."""
    parts = module.split(".")
    return any(".".join(parts[:length]) in RUNTIME_MODULES for length in range(1, len(parts) + 1))


def _longest_prefix(parts: Sequence[str], table: Mapping[str, object]) -> str | None:
    for length in range(len(parts), 0, -1):
        key = ".".join(parts[:length])
        if key in table:
            return key
    return None


@functools.cache
def installed_packages() -> PackageMap:
    """What this Python environment has installed, read once: import name → distributions."""
    # Imported here: it costs more start-up time than `nbsetup fix` takes on a small notebook,
    # and only `nbsetup check` needs it.
    import importlib.metadata

    return MappingProxyType(
        {name: tuple(dists) for name, dists in importlib.metadata.packages_distributions().items()}
    )


def installed_names(command: InstallCommand) -> tuple[str | None, ...]:
    """The canonical distribution name of each thing a pip/uv/conda command installs.

    None stands for something whose name cannot be known without reading files or the network:
    a `-r` file or a local path (editable or not). apt packages are not Python distributions: `()`.
    `!pip install "numpy<2" ./pkg -r req.txt` → `("numpy", None, None)`.
    """
    if command.action != "install" or command.manager == "apt":
        return ()
    unknown = (None,) * len(command.requirement_files)
    if command.manager == "conda":
        return (*(packages.conda_name(text) for text in command.requirements), *unknown)
    editable = tuple(
        packages.pip_name(value or "")
        for flag, value in command.options
        if flag in ("-e", "--editable")
    )
    return (*(packages.pip_name(text) for text in command.requirements), *editable, *unknown)
