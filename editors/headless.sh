# Shared set-up of the headless editor tests (editors/*/test.sh), sourced
# after `set -euo pipefail`. Each test gives the whisperc binary as its
# argument; the editor must be installed (the tests fail, never skip).

# headless_setup BIN EDITOR HINT: checks the arguments and the editor,
# then makes $work with bin/whisperc (a link to BIN) and project/.git, so
# that the editor finds a project root and the server on its PATH.
headless_setup() {
  local bin=$1 editor=$2 hint=$3
  if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "usage: $0 /path/to/whisperc (got '${bin}')" >&2
    exit 2
  fi
  if ! command -v "$editor" >/dev/null 2>&1; then
    echo "$0: $editor is not installed (apt-get install -y --no-install-recommends $hint)" >&2
    exit 1
  fi
  "$editor" --version | head -n 1
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/bin" "$work/project/.git"
  ln -s "$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" "$work/bin/whisperc"
}

# readme_snippet HEADING LANG OUT MUST: writes the first LANG code block
# after the editors/README.md heading line HEADING (an awk regular
# expression) to OUT, and fails unless it contains MUST: the test runs
# the snippet exactly as the README gives it.
readme_snippet() {
  local heading=$1 lang=$2 out=$3 must=$4
  awk -v h="$heading" -v l="$lang" '$0 ~ h {on=1} on && $0 == "```" l {code=1; next} code && /^```$/ {exit} code {print}' \
    "$(dirname "${BASH_SOURCE[0]}")/README.md" >"$out"
  if ! grep -q "$must" "$out"; then
    echo "$0: no $lang snippet under \"$heading\" in editors/README.md" >&2
    exit 1
  fi
}
