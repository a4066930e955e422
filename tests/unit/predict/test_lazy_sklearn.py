"""scikit-learn is imported only when a model is trained: not by the daemon's modules, not by an offline plan.

Each check runs in a fresh interpreter (this test process has imported scikit-learn long ago). Training in a
process that had not imported it yet still works, and still runs OpenMP on ``learner.THREADS`` threads
(threadpoolctl limits only the OpenMP libraries loaded when the limit is entered).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

CONFIG = """
backend = "sim"
interval_s = 60.0
[sim]
hosts = 4
vms = 40
speed = 100.0
[paths]
maintenance_file = "maintenance"
journal = "journal.sqlite"
pid_file = "balancerd.pid"
status_file = "status.json"
"""


def _run(code: str, cwd: Path) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it prints one JSON document as its last line."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, cwd=cwd, check=False)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.splitlines()[-1])
    return result


def test_daemon_modules_do_not_import_sklearn(tmp_path: Path) -> None:
    result = _run("""
        import json, sys
        import balancerd.cli, balancerd.service.cycle, balancerd.service.daemon, balancerd.service.oneshot
        import balancerd.predict.training, balancerd.predict.inference
        print(json.dumps({"sklearn": "sklearn" in sys.modules}))
    """, tmp_path)
    assert result == {"sklearn": False}


def test_offline_plan_does_not_import_sklearn_nor_daemon_only_modules(tmp_path: Path) -> None:
    (tmp_path / "balancerd.toml").write_text(CONFIG)
    result = _run("""
        import contextlib, io, json, sys
        from balancerd import cli
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli.main(["plan", "--config", "balancerd.toml", "--json"])
        # scipy.sparse and scipy.optimize do load: the plan's lower bound solves a linear programme (HiGHS); so does
        # pandas when the plan is improved (OR-Tools' CP-SAT imports it)
        heavy = ("sklearn", "scipy.stats", "matplotlib", "apscheduler", "prometheus_client")
        print(json.dumps({"code": code, "offline": json.loads(out.getvalue())["offline"],
                          "loaded": [m for m in heavy if m in sys.modules]}))
    """, tmp_path)
    assert result == {"code": 0, "offline": True, "loaded": []}


def test_training_imports_sklearn_then_and_limits_its_openmp(tmp_path: Path) -> None:
    result = _run("""
        import json, sys
        import numpy as np
        from threadpoolctl import threadpool_info
        from balancerd.predict import learner
        from balancerd.predict.dataset import Rows
        before = "sklearn" in sys.modules
        seen = []
        fit = learner._fit
        def spy(*args):
            seen.extend(i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp")
            return fit(*args)
        learner._fit = spy
        rng = np.random.default_rng(0)
        x = rng.normal(size=(600, 3))
        last = rng.uniform(0, 50, 600)
        rows = Rows(x, last, last + x[:, 0], np.arange(600.0))
        model = learner.fit(rows, 0.9)
        point, upper = learner.predict(model, x[:5], last[:5])
        print(json.dumps({"before": before, "after": "sklearn" in sys.modules, "openmp_threads": seen,
                          "upper_at_least_point": bool((upper >= point).all())}))
    """, tmp_path)
    assert result["before"] is False and result["after"] is True
    assert result["upper_at_least_point"] is True
    threads = result["openmp_threads"]
    assert isinstance(threads, list) and threads and set(threads) == {1}
