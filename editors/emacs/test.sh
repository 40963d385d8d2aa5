#!/usr/bin/env bash
# Headless test of editors/README.md's eglot snippet: run batch Emacs with
# the snippet as its only configuration, open a .whisper file with an error
# and check (check.el) that eglot connects to `whisperc lsp`, shows the
# error through Flymake, completes as plain text and hovers.
# Usage: editors/emacs/test.sh /path/to/whisperc
# Fails (never skips) when emacs or eglot is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-}
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "usage: $0 /path/to/whisperc (got '${bin}')" >&2
  exit 2
fi
if ! command -v emacs >/dev/null 2>&1; then
  echo "editors/emacs/test.sh: emacs is not installed (apt-get install -y --no-install-recommends emacs-nox elpa-eglot)" >&2
  exit 1
fi
emacs --version | head -n 1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/project/.git"
ln -s "$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" "$work/bin/whisperc"

# The snippet exactly as the README gives it: the first elisp block after
# the heading "Emacs (eglot)".
awk '/^## Emacs \(eglot\)/ {on=1} on && /^```elisp$/ {code=1; next} code && /^```$/ {exit} code {print}' \
  "$here/../README.md" >"$work/init.el"
if ! grep -q 'eglot-server-programs' "$work/init.el"; then
  echo "editors/emacs/test.sh: no eglot snippet found in editors/README.md" >&2
  exit 1
fi

cat >"$work/project/main.whisper" <<'WHISPER'
model base {
  source = "hf:meta-llama/Llama-2-7b-hf"
  quantize { method = nf5 }
}

dataset chat {
  source = "chat.jsonl"
  format = jsonl
}

finetune sft {
  model = base
  data  = chat
  max_st
}
WHISPER

cd "$work/project"
# HOME points into the scratch directory: no user configuration is read.
# Not -Q: Debian's site-start puts elpa-eglot on the load path.
if ! HOME="$work" PATH="$work/bin:$PATH" timeout 90 emacs --batch -l "$work/init.el" -l "$here/check.el" >"$work/out" 2>&1; then
  cat "$work/out"
  echo "editors/emacs/test.sh: FAILED"
  exit 1
fi
grep -v '^\(Loading\|\[eglot\]\|Flymake\)' "$work/out" || true
grep -q '^ok: ' "$work/out"
