package serve

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// interopDir returns the npm package of third-party clients (interop/ at
// the repository root) when its modules are installed. Without them the
// test skips, unless WHISPERC_CI or WHISPERC_INTEROP=require is set (CI
// runs `npm ci` first), when it fails.
func interopDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../interop")
	if err != nil {
		t.Fatal(err)
	}
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai")); err != nil {
		missing = "interop/node_modules is missing (cd interop && npm ci --omit=optional)"
	}
	if missing != "" {
		if required() {
			t.Fatalf("interop tests are required (WHISPERC_CI or WHISPERC_INTEROP=require) but %s", missing)
		}
		t.Skipf("%s; set WHISPERC_INTEROP=require to make this a failure", missing)
	}
	return dir
}

// TestNodeClients drives the server with the official openai and ollama
// npm clients (interop/serve.test.mjs): streaming and not, chat and
// completion, stop sequences, seeds, typed errors and aborted streams.
func TestNodeClients(t *testing.T) {
	dir := interopDir(t)
	if required() {
		if _, err := os.Stat("../../../shared/models/stories260K.bin"); err != nil {
			t.Fatalf("interop tests are required but the test model is absent: %v", err)
		}
	}
	s, url, _, _ := testServer(t, Config{Name: "tiny", MaxBatch: 4})
	s.sched.pause = 500 * time.Microsecond // aborted streams are still running when the abort lands
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-reporter=spec", "serve.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WHISPERC_URL="+url, "WHISPERC_MODEL=tiny")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test serve.test.mjs: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// required reports whether the interop tests must run (in CI).
func required() bool {
	return os.Getenv("WHISPERC_CI") != "" || os.Getenv("WHISPERC_INTEROP") == "require"
}
