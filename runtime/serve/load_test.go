package serve

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goruntime "runtime"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// model15M returns a Llama with the TinyStories 15M shape (dim 288, 6
// layers, 6 heads, hidden 768, vocabulary 32000, context 256) and random
// weights: the speed of serving does not depend on their values.
func model15M() *weights.Set {
	c := arch.Config{Family: arch.Llama, Name: "random-15M", Dim: 288, HiddenDim: 768, Layers: 6, Heads: 6, KVHeads: 6,
		Vocab: 32000, MaxSeq: 256, NormEps: 1e-5, RopeTheta: 10000, Tied: true}
	rng := rand.New(rand.NewPCG(7, 8))
	ws := &weights.Set{Config: c, Tensors: map[string]*weights.Tensor{}, Source: "random 15M"}
	add := func(name string, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		b := make([]byte, 4*n)
		for i := range n {
			v := float32(rng.NormFloat64() * 0.05)
			if len(shape) == 1 {
				v = 1
			}
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		ws.Tensors[name] = &weights.Tensor{Name: name, Shape: shape, DType: weights.F32, Data: b}
	}
	add("tok_embeddings.weight", c.Vocab, c.Dim)
	add("norm.weight", c.Dim)
	for l := range c.Layers {
		p := fmt.Sprintf("layers.%d.", l)
		add(p+"attention_norm.weight", c.Dim)
		add(p+"ffn_norm.weight", c.Dim)
		for _, s := range []struct {
			n    string
			r, k int
		}{{"attention.wq.weight", c.Dim, c.Dim}, {"attention.wk.weight", c.Dim, c.Dim}, {"attention.wv.weight", c.Dim, c.Dim},
			{"attention.wo.weight", c.Dim, c.Dim}, {"feed_forward.w1.weight", c.HiddenDim, c.Dim},
			{"feed_forward.w2.weight", c.Dim, c.HiddenDim}, {"feed_forward.w3.weight", c.HiddenDim, c.Dim}} {
			add(p+s.n, s.r, s.k)
		}
	}
	return ws
}

func startServer(t *testing.T, ws *weights.Set, tok tokenizer.Tokenizer, cfg Config) string {
	t.Helper()
	cfg.Engine = engineOpts()
	s, err := New(context.Background(), ws, tok, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String()
}

type loadResult struct {
	tokens    int
	latencies []time.Duration
	failed    int
}

// load sends n completion requests from c clients.
func load(url, model string, c, n int, body func(i int) map[string]any) loadResult {
	var mu sync.Mutex
	var r loadResult
	next := 0
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}}
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				b, _ := json.Marshal(body(i))
				t0 := time.Now()
				resp, err := client.Post(url+"/v1/completions", "application/json", strings.NewReader(string(b)))
				var out struct{ Usage oaUsage }
				ok := err == nil && resp.StatusCode == 200
				if err == nil {
					ok = ok && json.NewDecoder(resp.Body).Decode(&out) == nil
					resp.Body.Close()
				}
				d := time.Since(t0)
				mu.Lock()
				if ok {
					r.tokens += out.Usage.CompletionTokens
					r.latencies = append(r.latencies, d)
				} else {
					r.failed++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	client.CloseIdleConnections()
	return r
}

func pct(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func rssKiB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var v int
			fmt.Sscan(rest, &v)
			return v
		}
	}
	return -1
}

// TestLoadBenchmark is the serving benchmark (WHISPERC_SERVE_BENCH=1 runs
// it): aggregate generated tokens/s and latency percentiles at
// concurrency 1, 4, 8 and 16 on a 15M-shaped model, the prefix cache's
// effect on time to first token, and the resident set over 10,000
// requests to stories260K. It fails when a request fails below the
// configured limits.
func TestLoadBenchmark(t *testing.T) {
	if os.Getenv("WHISPERC_SERVE_BENCH") == "" {
		t.Skip("set WHISPERC_SERVE_BENCH=1 to run the serving benchmark")
	}
	tok32, err := tokenizer.ReadLlama2CFile(testmodels.Path(t, "llama2c-tokenizer32k.bin"), 32000)
	if err != nil {
		t.Fatal(err)
	}
	url := startServer(t, model15M(), tok32, Config{Name: "m15", MaxBatch: 16, MaxQueue: 256, MaxTokens: 256})
	const maxTok = 64
	t.Logf("15M-shaped model (random weights), fp32, %d generated tokens per request, max_batch 16", maxTok)
	t.Logf("| concurrency | requests | tokens/s | p50 latency | p99 latency | failed |")
	var base float64
	for _, c := range []int{1, 4, 8, 16} {
		n := max(8, 4*c)
		start := time.Now()
		r := load(url, "m15", c, n, func(i int) map[string]any {
			return map[string]any{"model": "m15", "prompt": fmt.Sprintf("Once upon a time %d", i), "max_tokens": maxTok, "temperature": 1, "seed": i}
		})
		tps := float64(r.tokens) / time.Since(start).Seconds()
		if c == 1 {
			base = tps
		}
		t.Logf("| %d | %d | %.0f (%.1f×) | %d ms | %d ms | %d |", c, n, tps, tps/base, pct(r.latencies, 0.5).Milliseconds(), pct(r.latencies, 0.99).Milliseconds(), r.failed)
		if r.failed > 0 {
			t.Errorf("%d requests failed at concurrency %d", r.failed, c)
		}
	}
	// Prefix cache: a long shared prefix, first cold, then warm.
	prefix := strings.Repeat("The little dog ran to the park and played with a red ball. ", 12)
	ttft := func(prompt string) time.Duration {
		b, _ := json.Marshal(map[string]any{"model": "m15", "prompt": prompt, "max_tokens": 1, "temperature": 0})
		t0 := time.Now()
		resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return time.Since(t0)
	}
	n := len(tok32.Encode(prefix+"Tom", true, false))
	cold := ttft(prefix + "Tom")
	warm := ttft(prefix + "Sue")
	t.Logf("prefix cache: prompt of %d tokens sharing all but the last few; time to first token cold %.1f ms, warm %.1f ms (%.0f%% less)",
		n, ms(cold), ms(warm), 100*(1-warm.Seconds()/cold.Seconds()))

	// RSS over 10,000 requests to stories260K at concurrency 8.
	ws, tok := loadStories(t)
	url2 := startServer(t, ws, tok, Config{Name: "tiny", MaxBatch: 8, MaxQueue: 64, MaxTokens: 64})
	var rss, heap []int
	total := 0
	for round := range 10 {
		r := load(url2, "tiny", 8, 1000, func(i int) map[string]any {
			return map[string]any{"model": "tiny", "prompt": fmt.Sprintf("Lily %d", round*1000+i), "max_tokens": 16, "temperature": 0.8, "seed": i}
		})
		if r.failed > 0 {
			t.Errorf("%d requests failed", r.failed)
		}
		total += len(r.latencies)
		goruntime.GC()
		var ms goruntime.MemStats
		goruntime.ReadMemStats(&ms)
		rss = append(rss, rssKiB())
		heap = append(heap, int(ms.HeapInuse>>10))
	}
	t.Logf("RSS (KiB) after each 1,000 of %d requests (stories260K, concurrency 8, 16 tokens each): %v", total, rss)
	t.Logf("Go heap in use (KiB) after a GC at the same points: %v", heap)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
