"""`nbsetup check` that knows the runtime (issue 27): profiles, rule fixes, NBS009-NBS011.

The profile tests read the package lists shipped in `nbsetup/profiles/data` and compare them
with a copy of the runtimes' own published lists (`../shared/runtimes`, copied, never edited).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from nbsetup import lint, pipeline, profiles, runtime, transform
from nbsetup.cli import main
from nbsetup.config import ConfigError, ProjectConfig, parse_config
from nbsetup.diagnostics import CODES, Config
from nbsetup.profiles import refresh
from nbsetup.rules import captured, moving_refs, renamed
from nbsetup.rules.fallbacks import Fallback, find_fallbacks
from tests.builders import markdown, notebook, to_bytes

RUNTIMES = Path(__file__).resolve().parent.parent.parent / "shared" / "runtimes"
COLAB_META = {"colab": {"provenance": []}}
KAGGLE_META = {"kaggle": {"accelerator": "none", "isInternetEnabled": True}}


def _found(nb, code_, profile=None, **config):
    rules = Config(select=frozenset({code_}), profile=profile, **config)
    packages = profile.modules if profile is not None else {}
    return [
        (d.cell, d.line, d.package) for d in lint.diagnose(nb, config=rules, packages=packages)
    ]


def _messages(nb, code_):
    rules = Config(select=frozenset({code_}))
    return [d.message for d in lint.diagnose(nb, config=rules)]


@pytest.fixture(scope="module")
def runtime_lists(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not RUNTIMES.is_dir():
        pytest.skip("the shared runtime lists are not there")
    copy = tmp_path_factory.mktemp("runtimes") / "runtimes"
    shutil.copytree(RUNTIMES, copy)
    return copy


# --- profiles -------------------------------------------------------------------------------


def _freeze_names(path: Path) -> set[str]:
    return {entry.name for entry in refresh.parse_freeze(path.read_text(encoding="utf-8"))}


def test_colab_profile_is_colabs_cpu_freeze_and_gpu_freeze(runtime_lists: Path):
    colab = profiles.load("colab")
    cpu = _freeze_names(runtime_lists / "colab" / "pip-freeze.txt")
    gpu = _freeze_names(runtime_lists / "colab" / "pip-freeze.gpu.txt")
    assert colab.installed == cpu
    assert colab.gpu_installed == gpu - cpu
    assert {"numpy", "torch", "tensorflow", "pandas", "google-colab"} <= colab.installed
    assert "cupy-cuda12x" in colab.gpu_installed
    assert not colab.has("cupy-cuda12x")
    assert colab.has("cupy-cuda12x", gpu=True)
    assert any("a72407924822ea377410b69f0a290150bcb5c9c2" in s for s in colab.snapshots)
    assert all("Apache-2.0" in s and "2026-08-19" in s for s in colab.snapshots)


def test_kaggle_profile_adds_kaggles_list_to_colabs(runtime_lists: Path):
    kaggle = profiles.load("kaggle")
    colab = _freeze_names(runtime_lists / "colab" / "pip-freeze.txt")
    extra = _freeze_names(runtime_lists / "kaggle" / "kaggle_requirements.txt")
    assert kaggle.installed == colab | extra
    assert {"kagglehub", "catboost", "segment-anything"} <= kaggle.installed
    assert "catboost" not in profiles.load("colab").installed
    assert any("Kaggle/docker-python@78aaa43f" in s for s in kaggle.snapshots)


def test_jupyter_profile_installs_nothing_and_preloads_the_kernel_stack():
    jupyter = profiles.load("jupyter")
    assert jupyter.installed == frozenset()
    assert jupyter.modules == {}
    assert set(jupyter.preloaded.values()) == {runtime.KERNEL}
    # The preloaded list of the runtime module before profiles became this profile's.
    kernel = {name for name, who in runtime.PRELOADED.items() if who == runtime.KERNEL}
    assert set(jupyter.preloaded) == kernel


def test_profile_preloads_per_runtime():
    assert profiles.load("colab").preloaded["numpy"] == runtime.COLAB_CHOSEN
    assert "numpy" not in profiles.load("kaggle").preloaded
    auto = runtime.preloaded()
    assert auto["numpy"] == runtime.COLAB
    with pytest.raises(ValueError, match="unknown runtime"):
        runtime.preloaded(runtime="binder")


def test_refresh_regenerates_a_shipped_list_byte_for_byte(runtime_lists: Path, tmp_path: Path):
    shipped = (profiles.DATA / "colab.txt").read_text(encoding="utf-8")
    header = shipped.splitlines()[0].removeprefix("# ")
    from nbsetup.profiles.__main__ import main as refresh_main

    out = tmp_path / "colab.txt"
    freeze = runtime_lists / "colab" / "pip-freeze.txt"
    assert (
        refresh_main(["refresh", "colab", str(freeze), "--header", header, "--output", str(out)])
        == 0
    )
    assert out.read_text(encoding="utf-8") == shipped


def test_refresh_here_records_top_level_modules():
    entries = refresh.entries_here(
        {"PyYAML": "6.0", "absl-py": "1.4.0"}, {"yaml": ["PyYAML"], "_yaml": ["PyYAML"]}
    )
    assert [e.line() for e in entries] == ["absl-py 1.4.0", "pyyaml 6.0 yaml"]
    text = refresh.render("test list", entries)
    assert refresh.read(text) == ("test list", entries)


DETECT = [
    pytest.param({}, [], "jupyter", id="plain"),
    pytest.param(COLAB_META, [], "colab", id="colab-metadata"),
    pytest.param({}, ["from google.colab import drive"], "colab", id="colab-import"),
    pytest.param(KAGGLE_META, [], "kaggle", id="kaggle-metadata"),
    pytest.param(
        {}, ["from kaggle_secrets import UserSecretsClient"], "kaggle", id="kaggle-import"
    ),
    pytest.param({**COLAB_META, **KAGGLE_META}, [], "kaggle", id="moved-to-kaggle"),
    pytest.param({}, ["import kaggle"], "jupyter", id="kaggle-cli-is-not-kaggle"),
]


@pytest.mark.parametrize(("metadata", "sources", "expected"), DETECT)
def test_detect_runtime(metadata, sources, expected):
    assert runtime.detect({"metadata": metadata}, sources) == expected


def test_uses_gpu_from_colab_and_kaggle_metadata():
    assert runtime.uses_gpu({"metadata": {"accelerator": "GPU"}})
    assert runtime.uses_gpu({"metadata": {"colab": {"gpuType": "T4"}}})
    assert runtime.uses_gpu({"metadata": {"kaggle": {"accelerator": "nvidiaTeslaT4"}}})
    assert not runtime.uses_gpu({"metadata": KAGGLE_META})


# --- NBS005 with a profile ------------------------------------------------------------------


def test_nbs005_knows_what_colab_has_installed():
    nb = notebook("import numpy\nimport torch\nimport yaml\nimport unsloth", metadata=COLAB_META)
    assert _found(nb, "NBS005", profiles.load("colab")) == [(1, 4, "unsloth")]
    # Without a profile everything is missing, as before.
    assert len(_found(nb, "NBS005")) == 4


def test_nbs005_counts_gpu_packages_only_on_a_gpu_runtime():
    cpu = notebook("import cupy")
    gpu = notebook("import cupy", metadata={"accelerator": "GPU"})
    colab = profiles.load("colab")
    # `import cupy` → cupy (guessed); Colab's GPU image has cupy-cuda12x, which the profile
    # cannot tie to `cupy` without top-level metadata: still reported on CPU and GPU alike.
    assert _found(cpu, "NBS005", colab) == _found(gpu, "NBS005", colab) == [(1, 1, "cupy")]
    nvtx = colab.has("nvtx", gpu=True)
    assert nvtx
    assert _found(notebook("import nvtx", metadata={"accelerator": "GPU"}), "NBS005", colab) == []
    assert _found(notebook("import nvtx"), "NBS005", colab) == [(1, 1, "nvtx")]


def test_nbs005_kaggle_has_catboost_colab_does_not():
    nb = notebook("import catboost")
    assert _found(nb, "NBS005", profiles.load("kaggle")) == []
    assert _found(nb, "NBS005", profiles.load("colab")) == [(1, 1, "catboost")]


RUNTIME_KAGGLE = '[tool.nbsetup]\nruntime = "kaggle"\n'


def _write(tmp_path: Path, nb: dict, pyproject: str | None = None) -> Path:
    (tmp_path / ".git").mkdir(parents=True)
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    path = tmp_path / "nb.ipynb"
    path.write_bytes(to_bytes(nb))
    return path


def _check_codes(path: Path, *args: str) -> list[str]:
    result = CliRunner().invoke(main, ["check", "--format", "json", *args, str(path)])
    assert result.exit_code in (0, 1), result.output
    return [
        d["code"] + ":" + str(d["package"])
        for d in json.loads(result.stdout)["files"][0]["diagnostics"]
    ]


def test_check_runtime_auto_option_and_config(tmp_path: Path):
    path = _write(tmp_path / "plain", notebook("import torch"))
    assert _check_codes(path) == ["NBS005:torch"]  # auto: no metadata, a local Jupyter
    assert _check_codes(path, "--runtime", "colab") == []
    configured = _write(tmp_path / "kaggle", notebook("import torch"), RUNTIME_KAGGLE)
    assert _check_codes(configured) == []
    assert _check_codes(configured, "--runtime", "jupyter") == ["NBS005:torch"]


def test_check_auto_uses_colab_for_a_colab_notebook(tmp_path: Path):
    path = _write(tmp_path, notebook("import torch", metadata=COLAB_META))
    assert _check_codes(path) == []


def test_runtime_setting_is_validated(tmp_path: Path):
    config = parse_config({"tool": {"nbsetup": {"runtime": "colab"}}}, tmp_path / "p.toml")
    assert config.runtime == "colab"
    with pytest.raises(ConfigError, match='runtime: expected "auto" or "colab"'):
        parse_config({"tool": {"nbsetup": {"runtime": "binder"}}}, tmp_path / "p.toml")


def test_fix_warns_about_colab_preloads_on_an_explicit_colab_runtime():
    nb = notebook("import x", "!pip install 'numpy<2'")  # no Colab metadata
    auto = transform.hoist(nb, config=pipeline.hoist_options(ProjectConfig()))
    colab = transform.hoist(nb, config=pipeline.hoist_options(ProjectConfig(runtime="colab")))
    assert not [c for c in auto.changes if c.kind == "preloaded"]
    assert [c.package for c in colab.changes if c.kind == "preloaded"] == ["numpy"]
    jupyter = pipeline.hoist_options(ProjectConfig(runtime="jupyter"))
    on_colab = notebook("import x", "!pip install 'numpy<2'", metadata=COLAB_META)
    assert not [
        c for c in transform.hoist(on_colab, config=jupyter).changes if c.kind == "preloaded"
    ]


def test_fix_accepts_runtime_option(tmp_path: Path):
    path = _write(tmp_path, notebook("import x", "!pip install 'numpy<2'"))
    args = ["fix", "--format", "json", "--runtime", "colab", str(path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    changes = json.loads(result.stdout)["files"][0]["changes"]
    assert [c["package"] for c in changes if c["kind"] == "preloaded"] == ["numpy"]


# --- rule fixes -----------------------------------------------------------------------------

FALLBACK = (
    "try:\n    import xgboost\nexcept ImportError:\n    !pip install xgboost\n    import xgboost"
)


def test_try_import_except_install_is_exempt_from_nbs001():
    assert _found(notebook(FALLBACK), "NBS001") == []
    other_cell = notebook(
        "try:\n    import xgboost\nexcept ModuleNotFoundError:\n    pass",
        "!pip install -U xgboost",
    )
    assert _found(other_cell, "NBS001") == [(2, 1, "xgboost")]
    loaded_first = notebook("import xgboost\n" + FALLBACK)
    assert _found(loaded_first, "NBS001") == [(1, 5, "xgboost")]
    in_else = notebook(
        "try:\n    import xgboost\nexcept ImportError:\n    pass\n"
        "else:\n    !pip install -U xgboost"
    )
    assert _found(in_else, "NBS001") == [(1, 6, "xgboost")]


def test_find_fallbacks_lines():
    assert find_fallbacks(FALLBACK) == (Fallback((0, 2), ((2, 5),)),)
    assert find_fallbacks("try:\n    import x\nexcept KeyError:\n    !pip install x") == ()
    assert find_fallbacks("%%bash\ntry") == ()


def test_nbs006_skips_comment_only_cells_when_naming_the_first_code_cell():
    nb = notebook("# Copyright 2026\n# Licensed under Apache-2.0", "import os", "!pip install x")
    assert _messages(nb, "NBS006") == [
        "install of x after the first code cell (cell 2); `nbsetup fix` would hoist it"
    ]
    first = notebook("# Copyright 2026", markdown("# Title"), "!pip install x\nimport x")
    assert _messages(first, "NBS006") == [
        "install of x outside an environment cell; `nbsetup fix` would hoist it"
    ]


# --- NBS009 renamed names -------------------------------------------------------------------

RENAMED = [
    pytest.param("!pip install sklearn", "sklearn: since 2023-12-01", id="sklearn"),
    pytest.param("%pip install -q tensorflow-gpu", "tensorflow-gpu: its releases", id="tf-gpu"),
    pytest.param(
        "!pip install 'pinecone-client>=3'", "pinecone-client>=3: pinecone-client 6", id="pinecone"
    ),
    pytest.param(
        "!pip install pinecone-client==3.1.0",
        "pinecone-client==3.1.0: pinecone-client is the old name of pinecone",
        id="pinned-old",
    ),
    pytest.param(
        "!pip install tensorflow-gpu==2.10.1",
        "tensorflow-gpu==2.10.1: tensorflow-gpu is the old",
        id="tf-pinned",
    ),
]


@pytest.mark.parametrize(("source", "start"), RENAMED)
def test_nbs009_renamed_names(source, start):
    (message,) = _messages(notebook(source), "NBS009")
    assert message.startswith(start)
    assert message.endswith(" instead")


@pytest.mark.parametrize(
    "source",
    ["!pip install scikit-learn", "!pip install pinecone", "!conda install tensorflow-gpu"],
)
def test_nbs009_silent(source):
    assert _messages(notebook(source), "NBS009") == []


def test_renamed_table_names_its_sources():
    assert all(entry.source and entry.replacement for entry in renamed.RENAMED.values())


# --- NBS010 moving VCS references -----------------------------------------------------------

MOVING = [
    pytest.param(
        "!pip install git+https://github.com/org/tool.git", "without a reference", id="no-ref"
    ),
    pytest.param(
        "!pip install git+https://github.com/org/tool.git@main", "branch 'main'", id="main"
    ),
    pytest.param(
        "!pip install 'tool @ git+https://github.com/org/tool@dev'", "branch 'dev'", id="pep508"
    ),
    pytest.param(
        "!pip install git+https://github.com/org/tool.git@$BRANCH", "sets when it runs", id="var"
    ),
]


@pytest.mark.parametrize(("source", "part"), MOVING)
def test_nbs010_moving_references(source, part):
    (message,) = _messages(notebook(source), "NBS010")
    assert part in message
    assert "pin @<commit> or a tag" in message


@pytest.mark.parametrize(
    "ref", ["v1.2", "1.2.0", "0123abc", "0123456789abcdef0123456789abcdef01234567", "release-2.0"]
)
def test_nbs010_fixed_references(ref):
    assert moving_refs.describe(f"git+https://github.com/org/tool.git@{ref}") is None


# --- NBS011 %%capture -----------------------------------------------------------------------


def test_nbs011_one_finding_per_captured_cell():
    nb = notebook("%%capture\n!pip install a\n!pip install b", "!pip install c")
    assert _messages(nb, "NBS011") == [
        "`%%capture` hides the output of this cell's 2 installs (a, b): if one fails, the cell "
        "still completes silently and the notebook fails later with an ImportError; "
        "`nbsetup fix` moves them out of the captured cell"
    ]
    assert _found(nb, "NBS011") == [(1, 2, "a, b")]


def test_nbs011_silent_with_no_stderr_or_without_capture():
    assert _messages(notebook("%%capture --no-stderr\n!pip install a"), "NBS011") == []
    assert _messages(notebook("%%time\n!pip install a"), "NBS011") == []


def test_nbs011_unmovable_install_keeps_no_fix_promise():
    nb = notebook("%%capture\nif x:\n    !pip install a")
    (message,) = _messages(nb, "NBS011")
    assert "nbsetup fix" not in message
    assert "this cell's install (a)" in message


def test_new_codes_are_registered():
    for code in (renamed.CODE, moving_refs.CODE, captured.CODE):
        assert CODES[code]


def test_nbs005_vcs_install_named_as_the_import_counts():
    nb = notebook("!pip install git+https://github.com/openai/whisper.git", "import whisper")
    assert _found(nb, "NBS005") == []


def test_llama_index_core_submodules_are_llama_index_core():
    nb = notebook("!pip install llama-index-core", "from llama_index.core.tools import Tool")
    assert _found(nb, "NBS005") == []
    colab = profiles.load("colab")
    assert "google-genai" in colab.modules["google"]
    assert "llama-index-core" not in colab.modules.get("llama", ())
