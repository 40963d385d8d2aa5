package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/runtime/observe"
)

// metricRecorder keeps the metrics it observes.
type metricRecorder struct {
	observe.Nop
	mu sync.Mutex
	m  map[string]float64
}

func (r *metricRecorder) Metric(m observe.Metric) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[m.Stage+" "+m.Name] = m.Value
}

func (r *metricRecorder) get(k string) (float64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.m[k]
	return v, ok
}

// TestServeMemoryMatchesPlan runs a serve stage and checks that what the
// server allocates for the weights and the KV cache of max_batch
// sequences is exactly what the plan predicted, then stops it through the
// run's context (as SIGTERM does) and checks it ends without error.
func TestServeMemoryMatchesPlan(t *testing.T) {
	models := testmodels.Dir(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	src := fmt.Sprintf(`model tiny {
  source    = "llama2c:%s"
  tokenizer = "%s"
}

serve api {
  model     = tiny
  port      = %d
  max_batch = 3
}
`, filepath.Join(models, "stories260K.bin"), filepath.Join(models, "tok512.bin"), port)
	path := filepath.Join(t.TempDir(), "serve.whisper")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, plan := mustPlan(t, path)
	var st *planner.Stage
	for i := range plan.Stages {
		if plan.Stages[i].Kind == planner.StageServe {
			st = &plan.Stages[i]
		}
	}
	planned := map[string]float64{}
	for _, c := range st.Memory.Components {
		planned[c.Name] = float64(c.Bytes)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &metricRecorder{m: map[string]float64{}}
	var errs bytes.Buffer
	done := make(chan diag.Diagnostics, 1)
	go func() {
		done <- Execute(ctx, plan, prog, Streams{Stdout: &bytes.Buffer{}, Stderr: &errs, Observer: rec})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/ready", port))
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, k := range []struct{ metric, component string }{{"weight_bytes", "weights"}, {"kv_cache_bytes", "kv_cache"}} {
		got, ok := rec.get("serve.api " + k.metric)
		if !ok || got != planned[k.component] || got == 0 {
			t.Errorf("the server holds %v bytes of %s; the plan predicted %v", got, k.component, planned[k.component])
		}
	}
	cancel()
	if ds := <-done; len(ds) > 0 {
		t.Errorf("stopping the server: %s", diag.Text(prog.Files, ds))
	}
	if !strings.Contains(errs.String(), "stopped after draining") {
		t.Errorf("stderr: %s", errs.String())
	}
}

// TestServeFinetune serves a LoRA fine-tune's output straight from the
// run that trained it: the server's greedy completion of the prompt
// equals what the generate stage printed from the same fine-tune, and
// differs from the base model's.
func TestServeFinetune(t *testing.T) {
	prog, out := finetuneProgram(t, "", "lora { rank = 4, alpha = 8, targets = all }\n optimizer { name = adamw, lr = 1e-2, warmup = 2 steps }")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	path := filepath.Join(filepath.Dir(out), "ft.whisper")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src = append(src, fmt.Sprintf("serve api {\n  model = sft\n  port  = %d\n  max_batch = 2\n}\n", port)...)
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	prog, plan := mustPlan(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan diag.Diagnostics, 1)
	go func() { done <- Execute(ctx, plan, prog, Streams{Stdout: &stdout, Stderr: &stderr}) }()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/ready", port))
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case ds := <-done:
			t.Fatalf("the run ended before serving: %s\n%s", diag.Text(prog.Files, ds), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not start:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/v1/completions", port), "application/json",
		strings.NewReader(`{"model": "sft", "prompt": "Once upon a time", "max_tokens": 30, "temperature": 0}`))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Choices []struct{ Text string }
	}
	err = json.NewDecoder(resp.Body).Decode(&c)
	resp.Body.Close()
	if err != nil || len(c.Choices) != 1 {
		t.Fatalf("completion: %v %+v", err, c)
	}
	cancel()
	if ds := <-done; len(ds) > 0 {
		t.Fatalf("stopping the server: %s", diag.Text(prog.Files, ds))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 || lines[0] == lines[1] {
		t.Fatalf("generation before and after training should differ:\n%s", stdout.String())
	}
	served := "Once upon a time" + c.Choices[0].Text
	if strings.TrimSpace(served) != strings.TrimSpace(lines[1]) {
		t.Errorf("the server's completion of the fine-tune:\n%q\ngenerate from the fine-tune:\n%q", served, lines[1])
	}
}

// syncBuffer is a bytes.Buffer safe for the run's goroutines and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
