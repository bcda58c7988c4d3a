"""Model files (save_model / load_model with validation) and the ``rmc`` command line.

The command runs as ``python3 -m rmc`` in a subprocess, exactly as the installed console
script runs ``rmc.cli:main``.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import rmc
from posteriordb import folder

EIGHT = "eight_schools-eight_schools_noncentered"


def eight_schools():
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 5))
    tau = b.param("tau", prior=rmc.HalfCauchy(5))
    theta_trans = b.param("theta_trans", shape="J", prior=rmc.Normal(0, 1))
    theta = b.deterministic("theta", mu + tau * theta_trans)
    b.observe("y", rmc.Normal(theta, "sigma"))
    return b.build()


def run_cli(*args, cwd=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(rmc.__file__))
    return subprocess.run([sys.executable, "-m", "rmc"] + [str(a) for a in args], env=env,
                          capture_output=True, text=True, timeout=600, cwd=cwd)


# ------------------------------------------------------------------ model files


def test_model_file_round_trip(tmp_path):
    model = eight_schools()
    path = rmc.save_model(model, tmp_path / "m.json")
    again = rmc.load_model(path)
    assert again.records == model.records
    data = {"J": 8, "y": [28, 8, -3, 7, -1, 1, 18, 12], "sigma": [15, 10, 16, 11, 9, 11, 10, 18]}
    a = rmc.sample(model, data, chains=2, draws=50, warmup=50, seed=3, progress=False)
    b = rmc.sample(again, data, chains=2, draws=50, warmup=50, seed=3, progress=False)
    assert np.array_equal(a.values, b.values)
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["format"] == "rmc-model" and doc["version"] == 2


def _broken(tmp_path, edit):
    doc = json.loads(eight_schools().to_json())
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(format="other"), "not an rmc model file"),
    (lambda d: d.update(version=99), "version 99 is not supported"),
    (lambda d: d.update(records=[]), "non-empty list"),
    (lambda d: d["records"].append({"op": "frobnicate"}), r"\(frobnicate\): unknown kind"),
    (lambda d: d["records"].append({"op": "op2", "fn": "add", "inputs": [0]}),
     r"\(op2\): takes 2 input\(s\), got 1"),
    (lambda d: d["records"].append({"op": "op1", "fn": "exp", "inputs": [999]}),
     "input 999 is not an earlier record"),
    (lambda d: d["records"].append({"op": "op1", "inputs": [0]}), r"missing \"fn\""),
    (lambda d: d["records"].append({"op": "tilde", "dist": "normel", "inputs": [0]}),
     r"\"dist\" must be one of"),
    (lambda d: d["records"].append({"op": "param", "name": "z", "shape": [0],
                                    "lower": None, "upper": None}), r"\"shape\" must be"),
    (lambda d: d["records"].append({"op": "param", "name": "mu", "shape": [],
                                    "lower": None, "upper": None}), "does not build"),
])
def test_model_file_errors_name_the_culprit(tmp_path, edit, message):
    path = _broken(tmp_path, edit)
    with pytest.raises(rmc.ModelFileError, match=message) as err:
        rmc.load_model(path)
    assert str(path) in str(err.value)
    assert isinstance(err.value, ValueError)


def test_model_file_not_json(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{not json")
    with pytest.raises(rmc.ModelFileError, match="not valid JSON"):
        rmc.load_model(path)


# ------------------------------------------------------------------ the command line


@pytest.mark.parametrize("command", [[], ["sample"], ["summary"], ["devices"]])
def test_help(command):
    out = run_cli(*command, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: rmc")


def test_version():
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == "rmc " + rmc.version()


def test_sample_and_summary_on_posteriordb_data(tmp_path):
    data = os.path.join(folder(), EIGHT + ".data.json")
    if not os.path.exists(data):
        pytest.skip("posteriordb file %s is missing" % data)
    model = rmc.save_model(eight_schools(), tmp_path / "eight_schools.json")
    out_dir = tmp_path / "out"
    run = run_cli("sample", "--model", model, "--data", data, "--chains", 3, "--draws", 300,
                  "--warmup", 300, "--seed", 7, "--target-accept", 0.9, "--output", out_dir,
                  "--save", tmp_path / "fit.npz")
    assert run.returncode == 0, run.stderr
    files = sorted(os.listdir(out_dir))
    assert files == ["output_1.csv", "output_2.csv", "output_3.csv"]
    assert "wrote %s" % (out_dir / "output_1.csv") in run.stderr
    assert "100%" in run.stderr                      # the progress bar's last line
    table = run.stdout.splitlines()
    assert table[0].split()[:3] == ["name", "mean", "sd"]
    assert any(line.startswith("theta[8]") for line in table)
    assert "3 chains x 300 draws" in run.stdout
    with open(out_dir / "output_1.csv") as f:
        assert "# model = eight_schools" in f.read()

    # The summary command reads the same files: the same table, figure for figure.
    again = run_cli("summary", str(out_dir / "*.csv"))
    assert again.returncode == 0, again.stderr
    assert again.stdout == run.stdout
    # And the saved fit is that fit.
    fit = rmc.load(tmp_path / "fit.npz")
    assert str(fit) + "\n" == run.stdout


def test_errors_exit_nonzero_with_a_message(tmp_path):
    missing = run_cli("sample", "--model", tmp_path / "nope.json", "--output", tmp_path)
    assert missing.returncode == 1
    assert "rmc sample: error:" in missing.stderr and "nope.json" in missing.stderr
    bad = _broken(tmp_path, lambda d: d.update(version=99))
    out = run_cli("sample", "--model", bad, "--output", tmp_path)
    assert out.returncode == 1 and "version 99 is not supported" in out.stderr
    usage = run_cli("sample")      # --model is required
    assert usage.returncode == 2 and "--model" in usage.stderr
    empty = run_cli("summary", tmp_path / "none_*.csv")
    assert empty.returncode == 1 and "no CSV files" in empty.stderr


def test_devices():
    out = run_cli("devices")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
    listed = run_cli("devices", "--json")
    assert listed.returncode == 0
    assert isinstance(json.loads(listed.stdout), list)
