package runtime

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/compiler"
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
	prog, ds := compiler.Check(path, compiler.Options{})
	if ds.HasErrors() {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	plan, ds := planner.Build(prog, machine(8<<30), planner.Options{})
	if ds.HasErrors() {
		t.Fatal(diag.Text(prog.Files, ds))
	}
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
