package lsp

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"
)

// pipeRWC joins the child's stdout (read) and stdin (write).
type pipeRWC struct {
	io.Reader
	io.WriteCloser
}

func (p pipeRWC) Close() error { return p.WriteCloser.Close() }

// TestEndToEndBinary builds the real whisperc, starts `whisperc lsp` and
// speaks JSON-RPC to it over stdio: initialize with utf-16, open a file
// with an error after non-ASCII text, read the diagnostic, hover, shut down
// and exit with status 0.
func TestEndToEndBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whisperc binary; the in-process tests cover the features in -short mode")
	}
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(here))
	bin := filepath.Join(t.TempDir(), "whisperc")
	build := exec.Command("go", "build", "-o", bin, "./cmd/whisperc")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/whisperc: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "lsp", "--stdio")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	client := &testClient{diags: map[uri.URI][]*protocol.PublishDiagnosticsParams{}, wake: make(chan struct{}, 1)}
	conn := jsonrpc2.NewConn(jsonrpc2.NewHeaderStream(pipeRWC{stdout, stdin}), jsonrpc2.WithCodec(codec{}))
	conn.Go(ctx, protocol.ClientHandler(client, jsonrpc2.MethodNotFoundHandler))
	server := protocol.ServerDispatcher(conn)
	s := &session{t: t, ctx: ctx, server: server, client: client, conn: conn, enc: EncodingUTF16}

	params := &protocol.InitializeParams{}
	params.Capabilities.General = &protocol.GeneralClientCapabilities{PositionEncodings: []protocol.PositionEncodingKind{protocol.PositionEncodingKindUTF16}}
	res, err := server.Initialize(ctx, params)
	if err != nil {
		t.Fatalf("initialize: %v (stderr: %s)", err, stderr.String())
	}
	if res.Capabilities.PositionEncoding != protocol.PositionEncodingKindUTF16 {
		t.Errorf("encoding %q", res.Capabilities.PositionEncoding)
	}
	if v, _ := res.ServerInfo.Version.Get(); res.ServerInfo.Name != "whisperc" || v == "" {
		t.Errorf("server info %+v", res.ServerInfo)
	}
	if err := server.Initialized(ctx, &protocol.InitializedParams{}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "main.whisper")
	text := "// 日本 😀\nmodel base {\n  source = \"hf:meta-llama/Llama-2-7b-hf\" /* é😀 */ \n  quantize { method = nf5 }\n}\n"
	if err := os.WriteFile(path, []byte("// the editor's buffer differs from the disk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u := uri.File(path)
	s.open(u, text)
	ds := s.waitDiagnostics(u, 1)
	var found bool
	for _, d := range ds {
		if c, _ := d.Code.(protocol.String); c == "E303" {
			found = true
			if want := s.pos(text, "nf5", 0); d.Range.Start != want {
				t.Errorf("E303 at %+v, want %+v", d.Range.Start, want)
			}
		}
	}
	if !found {
		t.Errorf("no E303 diagnostic: %+v", ds)
	}
	if got := hoverText0(t, s, u, text, "nf5", 1); !strings.Contains(got, "**method**") {
		t.Errorf("hover on the bad value: %q", got)
	}

	if err := server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := server.Exit(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("whisperc lsp exited with %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Error("whisperc lsp did not exit after shutdown and exit")
		_ = cmd.Process.Kill()
	}
	_ = conn.Close()
}
