"""make run's script (scripts/run.sh) end to end: it starts a private
redis-server and tallyd in a state directory, serves HTTP, keeps a second
run off the same state directory, and stops Redis when tallyd stops."""
import os
import signal
import subprocess
import urllib.request

from conftest import free_port, wait_until

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


def start_run(state_dir, listen):
    """Starts scripts/run.sh in a process group of its own, as a terminal
    would, so that a signal can reach tallyd and Redis too."""
    env = dict(os.environ, TALLY_STATE_DIR=str(state_dir), TALLY_LISTEN=listen)
    env.pop("TALLY_REDIS", None)
    return subprocess.Popen(["sh", "scripts/run.sh"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def healthy(base):
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def redis_running(state_dir):
    result = subprocess.run(["redis-cli", "-s", str(state_dir / "redis.sock"), "ping"],
                            capture_output=True, text=True, timeout=10)
    return result.stdout.strip() == "PONG"


def test_run_script_one_per_state_dir(tmp_path):
    state = tmp_path / "state"
    listen = f"127.0.0.1:{free_port()}"
    first = start_run(state, listen)
    second = None
    try:
        wait_until(lambda: healthy("http://" + listen), "make run to serve", 30)
        assert redis_running(state)

        second = start_run(state, f"127.0.0.1:{free_port()}")
        output, _ = second.communicate(timeout=30)
        assert second.returncode == 1
        assert f"another make run uses {state}" in output
        assert redis_running(state)
        assert healthy("http://" + listen)
    finally:
        for run in (second, first):
            if run is not None and run.poll() is None:
                os.killpg(run.pid, signal.SIGINT)
        output, _ = first.communicate(timeout=30)

    assert "started a private redis-server" in output
    assert "tallyd.exit" in output
    assert not redis_running(state)
