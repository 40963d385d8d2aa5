#!/usr/bin/env bash
# CI for the VS Code extension: install, compile, grammar tests, an
# end-to-end test against a built whisperc, and packaging to a .vsix.
# Usage: editors/vscode/ci.sh /path/to/whisperc
# Fails when npm is not installed: the checks are never skipped.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v npm >/dev/null 2>&1; then
  echo "editors/vscode/ci.sh: npm is not installed; the VS Code extension checks need Node.js 20 and npm" >&2
  exit 1
fi
bin=${1:-}
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "usage: $0 /path/to/whisperc (got '${bin}')" >&2
  exit 2
fi

echo "-- npm ci"
npm ci --no-audit --no-fund --loglevel=error
echo "-- compile"
npm run --silent compile
echo "-- grammar tests"
npm run --silent test:grammar
echo "-- end-to-end test against $bin"
node test/e2e.js "$bin"
echo "-- package"
npx --no-install vsce package --skip-license -o whisper.vsix
ls -l whisper.vsix
