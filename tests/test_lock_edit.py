"""`nbsetup lock`'s pure parts: what to lock (gather) and the minimal pin file edit (edit)."""

from __future__ import annotations

import pytest

from nbsetup.lock import edit, gather
from nbsetup.lock.gather import Place, Request
from nbsetup.sources.requirements_txt import parse_requirements
from tests.builders import notebook


def _pins(text: str):
    return parse_requirements(text, "requirements.txt", lambda path: "")


def _requests(*cells: str, path: str = "a.ipynb", directory: str = "/nb") -> list[Request]:
    return gather.notebook_requests(notebook(*cells), path, directory)


def test_requests_are_the_named_pip_requirements_in_notebook_order():
    found = _requests(
        "!pip install -q seaborn 'numpy<2'",
        "%conda install gdal\n!apt-get install -y ffmpeg",
        "!pip install -e . ./local -r req.txt\n%pip install -i https://x/simple torch",
    )
    assert [(r.name, r.text, r.options, r.place.within) for r in found] == [
        ("seaborn", "seaborn", (), "cell 1, line 1"),
        ("numpy", "numpy<2", (), "cell 1, line 1"),
        ("torch", "torch", ("--index-url", "https://x/simple"), "cell 3, line 2"),
    ]


def test_find_links_paths_are_read_from_the_notebook_directory():
    (found,) = _requests("!pip install -f wheels --no-deps --pre alpha", directory="/p/nbs")
    assert found.options == ("--find-links", "/p/nbs/wheels", "--pre")


def test_installs_inside_blocks_count_as_check_counts_them():
    (found,) = _requests("if True:\n    !pip install alpha")
    assert found.name == "alpha"


def _names(gathered: gather.Gathered) -> tuple[str, ...]:
    return gathered.wanted


@pytest.mark.parametrize(
    ("cells", "pins", "wanted"),
    [
        pytest.param(["!pip install alpha"], "", ("alpha",), id="unpinned"),
        pytest.param(["!pip install alpha==1.0"], "", (), id="pinned-in-the-notebook"),
        pytest.param(["!pip install alpha"], "alpha==1.0\n", (), id="pinned-by-the-file"),
        pytest.param(["!pip install alpha"], "alpha>=1\n", ("alpha",), id="range-in-the-file"),
        pytest.param(["!pip install alpha"], "alpha==1.*\n", ("alpha",), id="wildcard-range"),
        pytest.param(
            ["!pip install alpha==1.0", "!pip install alpha"], "", ("alpha",), id="one-of-two"
        ),
    ],
)
def test_wanted_are_the_packages_some_install_of_which_is_not_exact(cells, pins, wanted):
    assert _names(gather.gather(_requests(*cells), _pins(pins))) == wanted


def test_inline_pins_and_file_ranges_go_to_the_resolver_exact_file_pins_as_constraints():
    requests = _requests("!pip install 'alpha==1.0' base capped", "!pip install alpha")
    gathered = gather.gather(requests, _pins("base>=2  # floor\ncapped[x]==2.0\n"))
    assert gathered.wanted == ("alpha", "base")
    assert [r.text for r in gathered.requests] == ["alpha==1.0", "alpha", "base", "base>=2"]
    assert [(e.text, e.line) for e in gathered.lines] == [("base>=2", 1)]
    assert gathered.constraints == ("capped==2.0",)


def test_conflicting_specs_are_reported_with_both_places_and_left_out():
    requests = _requests("!pip install 'base<2'") + _requests(
        "!pip install 'base>=3' alpha", path="b.ipynb"
    )
    gathered = gather.gather(requests, _pins(""))
    assert gathered.wanted == ("alpha",)
    (conflict,) = gathered.conflicts
    assert conflict.second.place == Place("b.ipynb", 1, 1)
    assert conflict.message == (
        "base: not locked: 'base>=3' here and 'base<2' at a.ipynb, cell 1, line 1 allow no "
        "common version"
    )


def test_upgrade_rewrites_exact_pins_and_does_not_constrain_them():
    requests = _requests("!pip install alpha base")
    pins = _pins("alpha==1.0\nbase==1.0\n")
    assert gather.gather(requests, pins).wanted == ()
    some = gather.gather(requests, pins, frozenset({"alpha"}))
    assert (some.wanted, some.constraints) == (("alpha",), ("base==1.0",))
    every = gather.gather(requests, pins, None)
    assert [e.text for e in every.lines] == ["alpha==1.0", "base==1.0"]


def test_a_hashed_line_is_not_rewritten():
    gathered = gather.gather(_requests("!pip install alpha"), _pins("alpha>=1 --hash=sha256:ab\n"))
    assert gathered.wanted == ()
    ((_request, reason),) = gathered.refused
    assert "has hashes" in reason


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("<2", ">=3", False),
        (">1", "<2", True),
        ("==1.0", "==2.0", False),
        ("==1.*", ">=1.5", True),
        ("~=1.4", "<1.4", False),
        ("", "<0", True),
        ("<1.0", ">0.9", True),
    ],
)
def test_compatible_specifiers(first, second, expected):
    from packaging.specifiers import SpecifierSet

    assert gather.compatible(SpecifierSet(first), SpecifierSet(second)) is expected


# --- edit -------------------------------------------------------------------------------------


def test_pinned_keeps_name_extras_and_markers():
    text = 'Seaborn[stats]>=0.12; python_version >= "3.9"'
    assert edit.pinned(text, "0.13.2") == 'Seaborn[stats]==0.13.2; python_version >= "3.9"'


def test_edit_lines_changes_only_the_requirement_on_its_line():
    before = "# top\nnumpy  >=1.20   # plots\r\npandas\n"
    after = edit.edit_lines(before, [edit.LineEdit(2, "numpy >=1.20", "numpy==1.26.4")])
    assert after == "# top\nnumpy==1.26.4   # plots\r\npandas\n"


def test_edit_lines_refuses_a_requirement_split_over_lines():
    with pytest.raises(edit.EditError, match="line 1: 'numpy >=1' is not written on one line"):
        edit.edit_lines("numpy \\\n>=1\n", [edit.LineEdit(1, "numpy >=1", "numpy==1")])


def _own(text: str) -> dict[int, str]:
    return {e.line: e.name for e in _pins(text).entries if e.line and e.name}


def _add(text: str, *pins: str) -> str:
    return edit.add_pins(text, pins, _own(text))


def test_unsorted_files_get_a_marked_block_at_the_end():
    before = "pandas==2.0\n-r extra.txt\nnumpy==1.0  # the array\n"
    assert _add(before, "zeta==1", "alpha==1") == (
        f"{before}\n{edit.BLOCK_HEADER}\nalpha==1\nzeta==1\n"
    )


def test_the_block_is_reused_and_kept_sorted():
    before = f"pandas==2.0\nnumpy==1.0\n\n{edit.BLOCK_HEADER}\nbeta==1\ngamma==1\n\n# end\n"
    expected = (
        f"pandas==2.0\nnumpy==1.0\n\n{edit.BLOCK_HEADER}\nalpha==1\nbeta==1\ngamma==1\n"
        "zeta==1\n\n# end\n"
    )
    assert _add(before, "zeta==1", "alpha==1") == expected


def test_sorted_files_get_the_pins_in_order_above_the_comments_of_the_next_pin():
    before = "# Project pins\nalpha==1\n# for plots\nmatplotlib==3\nzeta==1 \\\n  --no-binary x\n"
    assert _add(before, "beta==1", "aardvark==1", "zz==1") == (
        "# Project pins\naardvark==1\nalpha==1\nbeta==1\n# for plots\nmatplotlib==3\n"
        "zeta==1 \\\n  --no-binary x\nzz==1\n"
    )


def test_line_endings_and_a_missing_final_newline_are_handled():
    assert _add("b==1\r\na==1", "c==1") == f"b==1\r\na==1\r\n\r\n{edit.BLOCK_HEADER}\r\nc==1\r\n"


def test_a_new_file_is_a_header_and_sorted_pins():
    assert edit.new_file(["b==1", "A==2"]) == f"{edit.NEW_FILE_HEADER}\nA==2\nb==1\n"


def test_a_notebook_spec_the_file_range_excludes_is_a_conflict_naming_the_line():
    gathered = gather.gather(_requests("!pip install 'base>=3'"), _pins("# x\nbase<2\n"))
    (conflict,) = gathered.conflicts
    assert str(conflict.first.place) == "requirements.txt, line 2"
