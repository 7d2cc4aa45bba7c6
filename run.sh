#!/bin/sh
# Install, build and start vswitchd in the foreground (Ctrl-C stops it; the
# host vNICs and their addresses stay, and the next start resumes them).
#   sudo ./run.sh [vswitchd options, e.g. --log-level debug]
set -eu
cd "$(dirname "$0")"
./scripts/deps.sh run
[ -f build/build.ninja ] || meson setup build -Dbuildtype=release -Dtests=false >/dev/null
ninja -C build >/dev/null
echo "vswitchctl: $PWD/build/src/cli/vswitchctl  (e.g. $PWD/build/src/cli/vswitchctl switch list)"
exec build/src/daemon/vswitchd "$@"
