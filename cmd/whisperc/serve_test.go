package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
)

// TestHelperWhisperc is not a test: TestServeSIGTERM runs the test binary
// as whisperc through it, so that the real signal handling runs in a
// process of its own.
func TestHelperWhisperc(t *testing.T) {
	args := os.Getenv("WHISPERC_HELPER_ARGS")
	if args == "" {
		t.Skip("helper process for TestServeSIGTERM")
	}
	os.Exit(mainCode(strings.Split(args, "\n")))
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeSIGTERM runs an export-then-serve pipeline with `whisperc run`
// in its own process, completes a request through it, sends SIGTERM while a second
// request streams, and checks that the request finishes, the process exits
// 0 and the request log is structured JSON.
func TestServeSIGTERM(t *testing.T) {
	models := testmodels.Dir(t)
	dir := t.TempDir()
	src := `model tiny {
  source    = "llama2c:` + filepath.Join(models, "stories260K.bin") + `"
  tokenizer = "` + filepath.Join(models, "tok512.bin") + `"
}

export gguf {
  model    = tiny
  format   = gguf
  quantize = f16
  path     = "` + filepath.Join(dir, "export", "tiny.gguf") + `"
}

serve api {
  model     = tiny
  port      = 1
  max_batch = 2
}
`
	// Port 1 is replaced below by a free one: the file must check first.
	ln, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	src = strings.Replace(src, "port      = 1", "port      = "+ln, 1)
	file := filepath.Join(dir, "serve.whisper")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWhisperc$")
	cmd.Env = append(os.Environ(), "WHISPERC_HELPER_ARGS=run\n"+file)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	base := "http://127.0.0.1:" + ln
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not become ready:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Post(base+"/v1/completions", "application/json",
		strings.NewReader(`{"model":"tiny","prompt":"","max_tokens":12,"temperature":0}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Once upon a time, there was a little girl") {
		t.Fatalf("completion: %d %s", resp.StatusCode, body)
	}
	// A streaming request in flight when SIGTERM arrives still completes.
	resp, err = http.Post(base+"/v1/completions", "application/json",
		strings.NewReader(`{"model":"tiny","prompt":"","max_tokens":400,"temperature":0,"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() {
		t.Fatal("no first event")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sawDone := false
	for sc.Scan() {
		if sc.Text() == "data: [DONE]" {
			sawDone = true
		}
	}
	resp.Body.Close()
	if !sawDone {
		t.Errorf("the stream in flight at SIGTERM did not finish")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("whisperc run exited with %v after SIGTERM; want 0\n%s", err, stderr.String())
	}
	logs := stderr.String()
	if !regexp.MustCompile(`serving tiny on http://127\.0\.0\.1:\d+`).MatchString(logs) || !strings.Contains(logs, "stopped after draining") {
		t.Errorf("stderr lacks the start and stop lines:\n%s", logs)
	}
	records := 0
	for _, line := range strings.Split(logs, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line %q is not JSON: %v", line, err)
			continue
		}
		if rec["msg"] == "request" && rec["path"] == "/v1/completions" && rec["model"] == "tiny" && rec["status"] == float64(200) {
			records++
		}
	}
	if records != 2 {
		t.Errorf("%d structured records of the two completions:\n%s", records, logs)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}
