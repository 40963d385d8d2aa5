#!/usr/bin/env bash
# Headless test of editors/README.md's Neovim snippet: start nvim with the
# snippet as its only configuration, open a .whisper file with an error,
# and check that a client attached to `whisperc lsp`, that it received the
# error as a diagnostic, and that completion items are plain text (Neovim
# before 0.11 does not announce snippet support).
# Usage: editors/neovim/test.sh /path/to/whisperc
# Fails (never skips) when nvim is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../headless.sh"
headless_setup "${1:-}" nvim "neovim"
readme_snippet '^### Neovim 0.7 to 0.10' lua "$work/init.lua" 'whisperc'

# The 0.11 snippet needs a newer Neovim to run; here it is only compiled,
# which catches a syntax error in it.
awk '/^### Neovim 0.11 and later/ {on=1} on && /^```lua$/ {code=1; next} code && /^```$/ {exit} code {print}' \
  "$here/../README.md" >"$work/new.lua"
if ! grep -q 'vim.lsp.config' "$work/new.lua" ||
  ! nvim --headless -u NONE -i NONE -n -c "lua local f, err = loadfile('$work/new.lua'); if not f then io.stdout:write(err .. '\\n'); vim.cmd('cquit 1') end" -c 'qall!' >"$work/out" 2>&1; then
  cat "$work/out"
  echo "editors/neovim/test.sh: the Neovim 0.11 snippet in editors/README.md is missing or does not compile"
  exit 1
fi

cat >"$work/project/main.whisper" <<'WHISPER'
model base {
  source = "hf:meta-llama/Llama-2-7b-hf"
  quantize { method = nf5 }
}
WHISPER

cd "$work/project"
# HOME and XDG dirs point into the scratch directory: no user configuration
# or state is read or written.
if ! HOME="$work" XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data" XDG_STATE_HOME="$work/state" \
  PATH="$work/bin:$PATH" timeout 60 nvim --headless -n -i NONE -u "$work/init.lua" \
  -c "luafile $here/check.lua" main.whisper >"$work/out" 2>&1; then
  cat "$work/out"
  echo "editors/neovim/test.sh: FAILED"
  exit 1
fi
cat "$work/out"
grep -q '^ok: ' "$work/out"
