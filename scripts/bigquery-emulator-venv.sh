#!/bin/sh
# Build (once) the BigQuery emulator's own virtualenv and print its directory.
# local-bigquery 0.3.2 needs Python 3.13 and pins that clash with the app's, so it gets
# a venv of its own under .cache/ (or $BIGQUERY_EMULATOR_CACHE), keyed by the
# requirements file's hash: a changed pin builds a new one.
set -eu
cd "$(dirname "$0")/.."
req=tests/emulators/requirements-bigquery-emulator.txt
key=$(sha256sum "$req" | cut -c1-12)
root=${BIGQUERY_EMULATOR_CACHE:-.cache/bigquery-emulator}
venv="$root/venv-$key"

if [ -x "$venv/bin/local-bigquery" ] && [ -e "$venv/.installed" ]; then
    cd "$venv" && pwd
    exit 0
fi

# pyenv's python3.13 shim runs only when a 3.13 version is selected.
pyenv_313=$(ls "${PYENV_ROOT:-$HOME/.pyenv}/versions" 2>/dev/null | grep '^3\.13' | sort -V | tail -1 || true)
[ -n "$pyenv_313" ] && export PYENV_VERSION="$pyenv_313"
py=""
for c in "${PYTHON313:-}" python3.13 /usr/bin/python3.13 /usr/local/bin/python3.13; do
    [ -n "$c" ] || continue
    if "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; then
        py=$c
        break
    fi
done
[ -n "$py" ] || { echo "bigquery-emulator-venv: needs Python 3.13 (set PYTHON313=/path/to/python3.13)" >&2; exit 1; }
echo "bigquery-emulator-venv: building $venv with $py" >&2
rm -rf "$venv"
mkdir -p "$root"
"$py" -m venv "$venv" >&2
"$venv/bin/pip" install --disable-pip-version-check -q -r "$req" >&2
touch "$venv/.installed"
cd "$venv" && pwd
