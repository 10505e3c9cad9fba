"""twm-bench in-process: exit codes and output."""

from benchmarks.cli import main


def test_list__prints_scenarios(capsys) -> None:
    assert main(["list"]) == 0
    assert "hotspot-id" in capsys.readouterr().out


def test_twin__prints_the_kpi_table(capsys) -> None:
    assert main(["twin", "--scenarios", "tiny", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "uniform (uniform/uniform/constant/1.00)" in out and "rollouts/s" in out


def test_twin__unknown_scenario_exits_2_naming_valid_ones(capsys) -> None:
    assert main(["twin", "--scenarios", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown scenario 'nope'" in err and "hotspot-id" in err


def test_twin__rejects_nonpositive_seeds(capsys) -> None:
    assert main(["twin", "--seeds", "0"]) == 2
    assert "--seeds must be >= 1" in capsys.readouterr().err
