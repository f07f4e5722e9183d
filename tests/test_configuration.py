"""Configuration stays documented and deployable."""

import re
import shutil
import subprocess

import pytest

from tests.emulators.servers import ROOT


def test_every_variable_the_settings_read_is_in_env_example():
    settings = (ROOT / "salesapp/settings.py").read_text()
    names = set(re.findall(r'env(?:_int|_bool)?\("([A-Z0-9_]+)"', settings))
    names |= {"STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS"}  # read by Google's clients
    documented = set(re.findall(r"^# ([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert names - documented == set()


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
@pytest.mark.parametrize("profile", [[], ["--profile", "gcp-emulators"]])
def test_compose_file_is_valid(profile):
    done = subprocess.run(["docker-compose", *profile, "config", "-q"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
