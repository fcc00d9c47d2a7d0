"""tools/mutants.py: its planted bugs still fit the code they plant into. A mutant whose text no
longer occurs once in its file, or whose tests moved, would report "broken" or "error" instead of
saying whether the tests catch it."""

from pathlib import Path

from tools.mutants import MUTANTS

ROOT = Path(__file__).resolve().parents[1]


def test_every_mutant_fits_its_file_and_names_existing_tests():
    assert len({m.name for m in MUTANTS}) == len(MUTANTS), "mutant names must be unique"
    for m in MUTANTS:
        text = (ROOT / m.file).read_text()
        assert text.count(m.old) == 1, f"{m.name}: its text occurs {text.count(m.old)} times in {m.file}"
        assert m.new != m.old, m.name
        for test in m.tests:
            assert (ROOT / test.split("::")[0]).exists(), f"{m.name}: {test} does not exist"
