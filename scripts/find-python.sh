#!/bin/sh
# Print the absolute path of a Python interpreter >= 3.12 (3.13 preferred).
# Every candidate is run, not just found: pyenv shims sit on PATH but fail
# when no matching version is active.
# Honours PYTHON=/path/to/python if set (and still checks its version).

ok() {
    # Prints the real sys.executable of "$1" if it runs and is >= 3.12.
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 || return 1
    "$1" -c 'import sys; print(sys.executable)' 2>/dev/null
}

if [ -n "${PYTHON:-}" ]; then
    if ok "$PYTHON"; then
        exit 0
    fi
    echo "find-python: PYTHON=$PYTHON does not run or is older than 3.12." >&2
    exit 1
fi

for name in python3.13 python3.12 python3.14 python3 python; do
    c=$(command -v "$name" 2>/dev/null) || continue
    ok "$c" && exit 0
done

pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
if [ -d "$pyenv_root/versions" ]; then
    # Newest first; sort -V keeps 3.13.10 above 3.13.9.
    for dir in $(ls -d "$pyenv_root"/versions/3.1[2-9]* 2>/dev/null | sort -rV); do
        for c in "$dir/bin/python3" "$dir/bin/python"; do
            [ -x "$c" ] && ok "$c" && exit 0
        done
    done
fi

for c in /usr/bin/python3.19 /usr/bin/python3.18 /usr/bin/python3.17 /usr/bin/python3.16 \
         /usr/bin/python3.15 /usr/bin/python3.14 /usr/bin/python3.13 /usr/bin/python3.12 \
         /usr/local/bin/python3.19 /usr/local/bin/python3.18 /usr/local/bin/python3.17 \
         /usr/local/bin/python3.16 /usr/local/bin/python3.15 /usr/local/bin/python3.14 \
         /usr/local/bin/python3.13 /usr/local/bin/python3.12; do
    [ -x "$c" ] && ok "$c" && exit 0
done

echo "Need Python >= 3.12; none found on PATH or in pyenv. Install one (e.g. \`pyenv install 3.13\`, or apt-get install python3.13) or set PYTHON=/path/to/python3.13" >&2
exit 1
