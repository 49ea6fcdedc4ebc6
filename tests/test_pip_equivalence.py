"""Hoisting keeps the environment: the original notebook and `nbsetup fix`'s rewrite, each run
with real pip in a fresh venv against a local index (`pipworld`), end with the same packages at
the same versions and the same module files, or, where the scenario pins, with the pins met
and everything else the same.

Each scenario is a notebook shape found in the corpus (`../shared/corpus`). Those that today's
hoisting breaks are strict xfails naming the rule of issue 23 that fixes them (R1 order, R2
barriers, only unconditional installs move) and what differs, so they flip when the core
follows the rule. `@PYPI@`, `@CU128@` and `@PRIVATE@` in a cell stand for the `file://` URLs of
the local indexes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _pytest.mark import ParameterSet
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from nbsetup import FixResult, fix_bytes
from tests import pipworld

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Scenario:
    id: str
    cells: tuple[str, ...]
    #: Files the notebook's directory holds before it runs (requirements, constraints).
    files: Mapping[str, str] = field(default_factory=dict)
    #: The pin file's text (`requirements.txt` beside the notebook); None: no pins.
    pins: str | None = None
    #: Requirements the image has before the notebook runs (Colab's tensorflow).
    preinstalled: tuple[str, ...] = ()
    #: Hoisting must move something (the shape is one that moves): an unchanged rewrite would
    #: prove nothing.
    moves: bool = False
    #: The original itself stops with an error (a failing `%%bash` cell): the rewrite must too.
    original_fails: bool = False
    #: Why today's hoisting breaks it: `issue 23: <rule>: <what differs>`.
    broken: str | None = None


def scenario(
    id: str,
    *cells: str,
    files: Mapping[str, str] | None = None,
    pins: str | None = None,
    preinstalled: tuple[str, ...] = (),
    moves: bool = False,
    original_fails: bool = False,
    broken: str | None = None,
) -> ParameterSet:
    """One parametrized case; `broken` makes it a strict xfail with that reason."""
    case = Scenario(id, cells, files or {}, pins, preinstalled, moves, original_fails, broken)
    # raises=AssertionError: a broken scenario must fail by the law, not by a crash of the rig.
    marks = (
        [pytest.mark.xfail(raises=AssertionError, strict=True, reason=f"issue 23: {broken}")]
        if broken
        else []
    )
    return pytest.param(case, id=id, marks=marks)


def moving(
    id: str, *cells: str, files: Mapping[str, str] | None = None, pins: str | None = None
) -> ParameterSet:
    """A shape that hoisting moves, and keeps equivalent today."""
    return scenario(id, *cells, files=files, pins=pins, moves=True)


SCENARIOS = [
    # Shapes that hoisting already keeps.
    moving("single_install_moved", "x = 1", "!pip install alpha"),
    moving("pinned_by_requirements", "x = 1", "!pip install alpha", pins="alpha==1.0\n"),
    moving("pin_wins_over_notebook_spec", "x = 1", "!pip install alpha==2.0", pins="alpha==1.0\n"),
    moving(
        "two_independent_installs",
        "import os",
        "!pip install alpha",
        "x = 2",
        "%pip install gamma",
    ),
    moving(
        "pip3_python_m_and_sys_executable",
        "x = 1",
        "!pip3 install alpha",
        "!python -m pip install gamma==1.0",
        "import sys\n!{sys.executable} -m pip install base==2.0",
    ),
    moving(
        "subprocess_call",
        "import subprocess, sys\n"
        "subprocess.check_call([sys.executable, '-m', 'pip', 'install', 'gamma==1.0'])",
    ),
    moving(
        "continuation_and_chain",
        "x = 1",
        "!pip install alpha \\\n    gamma",
        "!pip install base==2.0 && echo done",
    ),
    moving("extra_index_on_the_command", "x = 1", "!pip install torch --extra-index-url @CU128@"),
    moving(
        "requirements_after_cd",
        "x = 1",
        "!pip install gamma",
        "%cd sub",
        "!pip install -r requirements.txt",
        files={"sub/requirements.txt": "alpha==1.0\n"},
    ),
    moving(
        "same_package_twice_last_wins", "x = 1", "!pip install base==1.0", "%pip install base==2.0"
    ),
    # R1: one line per command, in order, with its own options.
    scenario(
        "newer_pin_after_capped_install",
        "x = 1",
        "!pip install capped",
        "!pip install base==3.0",
    ),
    scenario(
        "pin_then_requirements_file",
        "x = 1",
        "!pip install base==1.0",
        "!pip install -r deps.txt",
        files={"deps.txt": "floored\n"},
    ),
    scenario(
        "pins_from_a_freeze_with_an_override",
        "x = 1",
        "!pip install capped",
        "!pip install base==3.0",
        pins="base==3.0\ncapped==2.0\n",
    ),
    scenario(
        "unsloth_kaggle_cu128_torch",
        "%%capture\nimport os\n\n"
        "!pip install alpha\n"
        "!pip install torch torchvision --index-url @CU128@\n"
        "!pip install unsloth",
    ),
    scenario(
        "plain_install_after_no_deps_override",
        "x = 1",
        "!pip install gamma",
        "!pip install --no-deps base==3.0",
        "!pip install capped",
    ),
    scenario(
        "upgrade_after_a_pin",
        "x = 1",
        "!pip install base==1.0",
        "!pip install -U base",
    ),
    scenario(
        "force_reinstall_no_deps_after_resolving_install",
        "x = 1",
        "!pip install capped",
        "!pip install --no-deps --force-reinstall capped==1.0",
    ),
    scenario(
        "constraints_on_one_of_two_installs",
        "x = 1",
        "!pip install -c constraints.txt alpha",
        "!pip install base",
        files={"constraints.txt": "base==1.0\n"},
    ),
    # R2: nothing moves above an install left in place or a change of what pip resolves against.
    moving(
        "reinstall_after_an_uninstall_in_place",
        "x = 1",
        "!pip install capped",
        "!pip uninstall -y base",
        "!pip install base==1.0",
    ),
    scenario(
        "dependency_installed_after_an_uninstall_in_place",
        "x = 1",
        "!pip uninstall -y base",
        "!pip install capped",
        preinstalled=("base==1.0",),
    ),
    scenario(
        "install_after_an_if_block",
        "x = 1",
        "if True:\n    !pip install base==1.0",
        "!pip install base==2.0",
    ),
    scenario(
        "no_deps_override_after_a_var_install",
        "x = 1",
        'spec = "base==1.0"\n!pip install {spec}',
        "!pip install --no-deps base==2.0",
    ),
    scenario(
        "tf_nightly_after_uninstalling_tensorflow",
        "x = 1",
        "!pip uninstall -y tensorflow",
        "!pip install tf-nightly",
        preinstalled=("tensorflow==2.15.0",),
    ),
    scenario(
        "index_url_set_with_env_magic",
        "x = 1",
        "%env PIP_INDEX_URL=@PRIVATE@",
        "!pip install secretpkg",
    ),
    scenario(
        "extra_index_set_in_os_environ",
        'import os\nos.environ["PIP_EXTRA_INDEX_URL"] = "@PRIVATE@"',
        "!pip install privonly",
    ),
    scenario(
        "index_url_set_with_pip_config",
        "x = 1",
        "!pip config set global.index-url @PRIVATE@",
        "!pip install secretpkg",
    ),
    scenario(
        "find_links_after_pip_download",
        "x = 1",
        "!pip download -d wheels --no-deps --index-url @PRIVATE@ secretpkg",
        "!pip install --no-index --find-links wheels secretpkg",
    ),
    # Issue 31: a block that decides only from the starting environment moves whole, in its
    # place among the other moved installs; each condition form is taken both ways.
    moving(
        "block_sys_platform_true",
        "x = 1",
        "!pip install base==1.0",
        'import sys\nif sys.platform == "linux":\n    !pip install capped\nelse:\n    pass',
        "!pip install gamma",
    ),
    moving(
        "block_sys_platform_false",
        "x = 1",
        "!pip install base==1.0",
        'import sys\nif sys.platform == "darwin":\n'
        "    !pip install capped\nelse:\n    !pip install alpha",
        "!pip install gamma",
    ),
    moving(
        "block_find_spec_is_none_true",
        "x = 1",
        'import importlib.util\nif importlib.util.find_spec("alpha") is None:\n'
        "    !pip install alpha==1.0",
        "!pip install alpha",
    ),
    moving(
        "block_find_spec_is_none_false",
        "x = 1",
        'import importlib.util\nif importlib.util.find_spec("json") is None:\n'
        "    !pip install alpha==1.0",
        "!pip install alpha",
    ),
    moving(
        "block_environment_variable_set",
        "x = 1",
        'import os\nif "HOME" in os.environ:\n    %pip install alpha==1.0\n',
        "!pip install gamma",
    ),
    moving(
        "block_environment_variable_unset",
        "x = 1",
        'import os\nif os.environ.get("NBSETUP_NOT_SET"):\n    %pip install alpha==1.0\n',
        "!pip install gamma",
    ),
    moving(
        "block_colab_variable_false_takes_else",
        "import sys\nIN_COLAB = 'google.colab' in sys.modules",
        "x = 1",
        "# Colab has floored\nif IN_COLAB:\n"
        "    !pip install floored\nelse:\n    !pip install base==1.0",
        "!pip install capped",
        "print(IN_COLAB)",
    ),
    moving(
        "block_try_import_error_installs",
        "x = 1",
        "try:\n    import gamma\nexcept ImportError:\n    !pip install gamma==1.0",
        "!pip install gamma",
    ),
    moving(
        "block_try_import_error_imports",
        "x = 1",
        "try:\n    import json\nexcept ImportError:\n    !pip install gamma==1.0",
        "!pip install gamma",
    ),
    scenario(
        "block_reading_a_user_variable_stays",
        "use = True",
        "if use:\n    !pip install base==1.0",
        "!pip install capped",
    ),
    # Only installs that always run move.
    scenario(
        "install_after_false_and",
        "x = 1",
        "!false && pip install gamma",
    ),
    scenario(
        "bash_cell_that_exits_first",
        "x = 1",
        "%%bash\nexit 0\npip install gamma",
    ),
    scenario(
        "bash_cell_with_set_e_and_a_failure",
        "x = 1",
        "%%bash\nset -e\nfalse\npip install gamma",
        original_fails=True,
    ),
    scenario(
        "install_line_inside_a_quoted_string",
        "x = 1",
        '%%bash\necho "next step:\npip install gamma\ndone"',
    ),
]


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> pipworld.World:
    return pipworld.build_world(tmp_path_factory.mktemp("pipworld"))


@dataclass(frozen=True)
class Trial:
    """One scenario run twice: as written, and as `nbsetup fix` rewrote it."""

    fixed: FixResult
    original: pipworld.Outcome
    rewrite: pipworld.Outcome


def _run(world: pipworld.World, case: Scenario, data: bytes, workdir: Path) -> pipworld.Outcome:
    workdir.mkdir(parents=True)
    for name, text in case.files.items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text(text)
    return pipworld.run_notebook(world, data, workdir, case.preinstalled)


def _trial(world: pipworld.World, case: Scenario, root: Path, pool: Executor) -> Trial:
    original = pipworld.notebook(world.expand(cell) for cell in case.cells)
    pins = None
    if case.pins is not None:
        pins = root / "requirements.txt"
        pins.write_text(case.pins)
    fixed = fix_bytes(original, pins=pins)
    rewrite = pool.submit(_run, world, case, fixed.data, root / "rewrite")
    return Trial(fixed, _run(world, case, original, root / "original"), rewrite.result())


@pytest.fixture(scope="session")
def trials(
    request: pytest.FixtureRequest, world: pipworld.World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Mapping[str, Future[Trial]]]:
    """Every selected scenario's trial, started at once: a run mostly waits on subprocesses,
    so four at a time keep two cores busy (the suite takes half the time it takes serially)."""
    params = (getattr(item, "callspec", None) for item in request.session.items)
    cases = [
        spec.params["case"]
        for spec in params
        if spec is not None and isinstance(spec.params.get("case"), Scenario)
    ]
    # Each trial runs its original itself and its rewrite in `runs`: two pools, no deadlock.
    with ThreadPoolExecutor(2) as scenarios, ThreadPoolExecutor(2) as runs:
        futures = {
            case.id: scenarios.submit(_trial, world, case, tmp_path_factory.mktemp(case.id), runs)
            for case in cases
        }
        yield futures
        for future in futures.values():  # a session stopped early (-x) waits for no more
            future.cancel()


def _pinned(pins: str | None) -> dict[str, Requirement]:
    requirements = (Requirement(line) for line in (pins or "").splitlines() if line.strip())
    return {canonicalize_name(requirement.name): requirement for requirement in requirements}


def _without(
    snapshot: pipworld.Snapshot, names: set[str]
) -> tuple[dict[str, str], dict[str, str]]:
    dists = {name: version for name, version in snapshot.dists.items() if name not in names}
    modules = {name.replace("-", "_") for name in names}
    files = {
        path: sha for path, sha in snapshot.files.items() if path.split("/")[0] not in modules
    }
    return dists, files


def _cells(data: bytes) -> str:
    return "\n".join(
        f"--- cell {index}\n{''.join(cell['source'])}"
        for index, cell in enumerate(json.loads(data)["cells"])
    )


@pytest.mark.parametrize("case", SCENARIOS)
def test_rewrite_installs_what_the_original_installs(
    case: Scenario, trials: Mapping[str, Future[Trial]]
) -> None:
    trial = trials[case.id].result()
    before, after = trial.original, trial.rewrite
    context = (
        f"\noriginal: {before.describe()}\nrewrite:  {after.describe()}\n"
        f"rewritten cells:\n{_cells(trial.fixed.data)}"
    )
    for label, run in (("original", before), ("rewrite", after)):
        if run.failed:  # pip's own words say why
            context += f"\n{label}'s output (end):\n{run.log[-1500:]}"
    assert trial.fixed.changed or not case.moves, f"nothing moved{context}"
    assert before.failed == case.original_fails, (
        f"the scenario's notebook does not run as meant{context}"
    )
    verdict = "passed" if before.failed else "failed"
    assert after.failed == before.failed, (
        f"the rewrite {verdict} where the original did not{context}"
    )
    pins = _pinned(case.pins)
    for name, requirement in pins.items():
        if name in before.snapshot.dists:
            version = after.snapshot.dists.get(name)
            assert version is not None, f"{name} is not installed by the rewrite{context}"
            assert requirement.specifier.contains(version, prereleases=True), (
                f"the pin {requirement} is not met: {name} {version}{context}"
            )
    assert _without(after.snapshot, set(pins)) == _without(before.snapshot, set(pins)), (
        f"the rewrite ends with another environment{context}"
    )


@pytest.mark.parametrize(
    "form", ["sys_platform", "find_spec_is_none", "environment_variable", "try_import_error"]
)
def test_block_scenarios_take_each_branch(form: str, trials: Mapping[str, Future[Trial]]) -> None:
    """Each pair of block scenarios runs both ways: the original environments differ."""
    pairs = {
        "sys_platform": ("true", "false"),
        "find_spec_is_none": ("true", "false"),
        "environment_variable": ("set", "unset"),
        "try_import_error": ("installs", "imports"),
    }
    one, other = (trials[f"block_{form}_{end}"].result() for end in pairs[form])
    assert one.original.snapshot.freeze() != other.original.snapshot.freeze()


def test_the_world_models_what_the_scenarios_rely_on(
    world: pipworld.World, tmp_path: Path
) -> None:
    """The index behaves as the scenarios assume: a cap holds, cu128's label is used, a later
    install is resolved against the installed versions, and an uninstall deletes shared files."""
    cells = (
        "!pip install capped",
        "!pip install torch --index-url @CU128@",
        "!pip install unsloth",
        "!pip install tf-nightly",
        "!pip uninstall -y tensorflow",
    )
    outcome = pipworld.run_notebook(
        world,
        pipworld.notebook(world.expand(cell) for cell in cells),
        tmp_path,
        ("tensorflow==2.15.0",),
    )
    assert not outcome.failed, outcome.describe()
    assert outcome.snapshot.freeze() == [
        "base==2.1",
        "capped==2.0",
        "tf-nightly==2.16.0.dev20240101",
        "torch==2.1.0+cu128",
        "unsloth==1.0",
    ]
    assert "tensorflow/__init__.py" not in outcome.snapshot.files
