#!/usr/bin/env bash
# Headless test of editors/README.md's eglot snippet: run batch Emacs with
# the snippet as its only configuration, open a .whisper file with an error
# and check (check.el) that eglot connects to `whisperc lsp`, shows the
# error through Flymake, completes as plain text and hovers.
# Usage: editors/emacs/test.sh /path/to/whisperc
# Fails (never skips) when emacs or eglot is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../headless.sh"
headless_setup "${1:-}" emacs "emacs-nox elpa-eglot"
readme_snippet '^## Emacs \\(eglot\\)' elisp "$work/init.el" 'eglot-server-programs'

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
