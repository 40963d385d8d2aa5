package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

func loadStories(t testing.TB) (*weights.Set, tokenizer.Tokenizer) {
	t.Helper()
	ws, err := llama2c.Open(testmodels.Path(t, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ws.Close != nil {
			ws.Close()
		}
	})
	tok, err := tokenizer.ReadLlama2CFile(testmodels.Path(t, "tok512.bin"), ws.Config.Vocab)
	if err != nil {
		t.Fatal(err)
	}
	return ws, tok
}

func engineOpts() engine.Options {
	return engine.Options{Attention: engine.AttentionEager, KVCache: true, Compile: engine.CompileReduceOverhead, Quantize: engine.QuantizeNone, Threads: 2}
}

// testServer starts a server for stories260K on a loopback port.
func testServer(t testing.TB, cfg Config) (*Server, string, context.CancelFunc, chan error) {
	t.Helper()
	ws, tok := loadStories(t)
	if cfg.Name == "" {
		cfg.Name = "stories"
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 4
	}
	if cfg.MaxQueue == 0 {
		cfg.MaxQueue = 16
	}
	if cfg.MaxTokens == 0 {
		cfg.MaxTokens = 511
	}
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
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the server did not stop")
		}
	})
	return s, "http://" + ln.Addr().String(), cancel, done
}

func post(t testing.TB, url, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestCompletionMatchesLlama2c checks that greedy decoding from BOS through
// the OpenAI completions endpoint prints llama2.c's story byte for byte
// (the engine's golden file: 200 tokens after BOS).
func TestCompletionMatchesLlama2c(t *testing.T) {
	_, url, _, _ := testServer(t, Config{})
	golden, err := os.ReadFile("../engine/testdata/stories260K.golden")
	if err != nil {
		t.Fatal(err)
	}
	resp, body := post(t, url+"/v1/completions", `{"model":"stories","prompt":"","max_tokens":200,"temperature":0}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got struct {
		Object  string
		Choices []struct {
			Text         string
			FinishReason string `json:"finish_reason"`
		}
		Usage oaUsage
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Object != "text_completion" || len(got.Choices) != 1 {
		t.Fatalf("unexpected response %s", body)
	}
	if got.Choices[0].Text+"\n" != string(golden) {
		t.Errorf("text differs from llama2.c's:\n got %q\nwant %q", got.Choices[0].Text, golden)
	}
	if got.Usage.PromptTokens != 1 || got.Usage.CompletionTokens != 200 || got.Usage.TotalTokens != 201 || got.Choices[0].FinishReason != "length" {
		t.Errorf("usage %+v, finish %q; want 1 + 200 = 201 tokens, length", got.Usage, got.Choices[0].FinishReason)
	}
}

type completion struct {
	text   string
	finish string
	usage  oaUsage
}

// uncached returns c without the count of cached prompt tokens, which
// depends on what earlier requests left in the prefix cache.
func uncached(c completion) completion {
	c.usage.PromptDetails = oaPromptDetails{}
	return c
}

// counts returns u without the count of cached prompt tokens.
func (u oaUsage) counts() oaUsage {
	u.PromptDetails = oaPromptDetails{}
	return u
}

func complete(t testing.TB, url, prompt string, maxTokens int) completion {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"model": "stories", "prompt": prompt, "max_tokens": maxTokens, "temperature": 0})
	resp, body := post(t, url+"/v1/completions", string(b))
	if resp.StatusCode != 200 {
		t.Errorf("status %d: %s", resp.StatusCode, body)
		return completion{}
	}
	var got struct {
		Choices []struct {
			Text         string
			FinishReason string `json:"finish_reason"`
		}
		Usage oaUsage
	}
	if err := json.Unmarshal(body, &got); err != nil || len(got.Choices) != 1 {
		t.Errorf("bad response %s: %v", body, err)
		return completion{}
	}
	return completion{got.Choices[0].Text, got.Choices[0].FinishReason, got.Usage}
}

// TestConcurrentRequestsMatchSequential checks continuous batching: eight
// requests sent at once to a server with four slots (so they join and
// leave the batch at different steps, and prompts are prefilled beside
// decoding sequences) each get the text they get alone.
func TestConcurrentRequestsMatchSequential(t *testing.T) {
	s, url, _, _ := testServer(t, Config{MaxBatch: 4})
	prompts := []string{"Once upon a time", "The cat", "Lily and Ben went to the park", "One day", "Tom had a red ball",
		"The sun was shining and the birds", "A little dog", "Sue wanted to"}
	lengths := []int{40, 25, 60, 33, 47, 20, 55, 30}
	alone := make([]completion, len(prompts))
	for i, p := range prompts {
		alone[i] = complete(t, url, p, lengths[i])
	}
	var wg sync.WaitGroup
	together := make([]completion, len(prompts))
	for i, p := range prompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			together[i] = complete(t, url, p, lengths[i])
		}()
	}
	wg.Wait()
	for i := range prompts {
		if uncached(alone[i]) != uncached(together[i]) {
			t.Errorf("prompt %q: alone %+v, batched %+v", prompts[i], alone[i], together[i])
		}
	}
	// Batching happened: some pass advanced more than one sequence.
	var mb bytes.Buffer
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(&mb, resp.Body)
	resp.Body.Close()
	if !strings.Contains(mb.String(), "whisperc_serve_batch_size_bucket") {
		t.Fatalf("metrics lack the batch size:\n%s", mb.String())
	}
	if one := metricValue(mb.String(), `whisperc_serve_batch_size_bucket{le="1"}`); one >= metricValue(mb.String(), "whisperc_serve_batch_size_count") {
		t.Errorf("every pass advanced one sequence; batching did not happen")
	}
	_ = s
}

// metricValue returns the value of the first exposition line starting with
// name.
func metricValue(text, name string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			var v float64
			fmt.Sscan(rest, &v)
			return v
		}
	}
	return math.NaN()
}

// TestPrefixCache checks that a second prompt sharing a prefix with an
// earlier one reuses its cached keys and values and still gives the same
// text as a server with nothing cached.
func TestPrefixCache(t *testing.T) {
	s, url, _, _ := testServer(t, Config{MaxBatch: 2})
	system := "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
	a := complete(t, url, system+" One day", 20)
	b := complete(t, url, system+" Her mom", 20)
	if a.usage.PromptTokens == 0 || b.usage.PromptTokens == 0 {
		t.Fatal("no usage")
	}
	hits := metricFrom(t, url, "whisperc_serve_prefix_cache_tokens_total")
	prefix := len(s.tok.Encode(system, true, false))
	if hits < float64(prefix-2) {
		t.Errorf("prefix cache reused %v tokens, want at least %d of the shared prefix", hits, prefix-2)
	}
	if got := b.usage.PromptDetails.CachedTokens; got < prefix-2 || got >= b.usage.PromptTokens {
		t.Errorf("usage reports %d cached prompt tokens of %d, want at least %d", got, b.usage.PromptTokens, prefix-2)
	}
	_, fresh, _, _ := testServer(t, Config{MaxBatch: 2})
	c := complete(t, fresh, system+" Her mom", 20)
	if c.usage.PromptDetails.CachedTokens != 0 {
		t.Errorf("a fresh server reports %d cached prompt tokens", c.usage.PromptDetails.CachedTokens)
	}
	c.usage.PromptDetails = b.usage.PromptDetails
	if c != b {
		t.Errorf("with the prefix cached %+v, without %+v", b, c)
	}
}

func metricFrom(t testing.TB, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return metricValue(string(b), name)
}

// TestStreamingSSE checks OpenAI's streaming shape: data lines of chunk
// objects whose texts add up to the non-streamed text, a final chunk with
// the finish reason, the usage chunk when asked, then [DONE].
func TestStreamingSSE(t *testing.T) {
	_, url, _, _ := testServer(t, Config{})
	want := complete(t, url, "Once upon a time", 30)
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(
		`{"model":"stories","prompt":"Once upon a time","max_tokens":30,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	var text strings.Builder
	var finish string
	var usage *oaUsage
	sawDone := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("line %q is not an SSE data line", line)
		}
		if data == "[DONE]" {
			sawDone = true
			continue
		}
		var ch struct {
			Object  string
			Choices []struct {
				Text         string
				FinishReason *string `json:"finish_reason"`
			}
			Usage *oaUsage
		}
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			t.Fatal(err)
		}
		if ch.Object != "text_completion" {
			t.Errorf("chunk object %q", ch.Object)
		}
		for _, c := range ch.Choices {
			text.WriteString(c.Text)
			if c.FinishReason != nil {
				finish = *c.FinishReason
			}
		}
		if ch.Usage != nil {
			usage = ch.Usage
		}
	}
	if !sawDone || text.String() != want.text || finish != want.finish || usage == nil || usage.counts() != want.usage.counts() {
		t.Errorf("streamed %q (finish %q, usage %+v, done %v); want %q (%q, %+v)", text.String(), finish, usage, sawDone, want.text, want.finish, want.usage)
	}
}

// TestChatAndOllama checks the chat endpoints and Ollama's NDJSON stream:
// with the plain template a one-message chat is its content, so both
// protocols' chat, and Ollama's generate, give the completion's text.
func TestChatAndOllama(t *testing.T) {
	_, url, _, _ := testServer(t, Config{})
	want := complete(t, url, "The cat", 25)
	resp, body := post(t, url+"/v1/chat/completions", `{"model":"stories","messages":[{"role":"user","content":"The cat"}],"max_tokens":25,"temperature":0}`)
	var chat struct {
		Object  string
		Choices []struct {
			Message      Message
			FinishReason string `json:"finish_reason"`
		}
		Usage oaUsage
	}
	if err := json.Unmarshal(body, &chat); err != nil || resp.StatusCode != 200 || len(chat.Choices) != 1 {
		t.Fatalf("chat: %d %s (%v)", resp.StatusCode, body, err)
	}
	if chat.Object != "chat.completion" || chat.Choices[0].Message.Role != "assistant" || chat.Choices[0].Message.Content != want.text || chat.Usage.counts() != want.usage.counts() {
		t.Errorf("chat %s; want text %q usage %+v", body, want.text, want.usage)
	}
	for _, ep := range []struct{ path, body, field string }{
		{"/api/generate", `{"model":"stories","prompt":"The cat","options":{"temperature":0,"num_predict":25}}`, "response"},
		{"/api/chat", `{"model":"stories:latest","messages":[{"role":"user","content":"The cat"}],"options":{"temperature":0,"num_predict":25}}`, "message"},
	} {
		resp, body := post(t, url+ep.path, ep.body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("%s: %d %q %s", ep.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		var text strings.Builder
		lines := strings.Split(strings.TrimSpace(string(body)), "\n")
		for i, line := range lines {
			var obj map[string]any
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				t.Fatalf("%s line %d: %v", ep.path, i, err)
			}
			switch v := obj[ep.field].(type) {
			case string:
				text.WriteString(v)
			case map[string]any:
				text.WriteString(v["content"].(string))
			}
			last := i == len(lines)-1
			if obj["done"] != last {
				t.Errorf("%s line %d: done = %v", ep.path, i, obj["done"])
			}
			if last && (obj["done_reason"] != "length" || obj["eval_count"] != float64(25) || obj["prompt_eval_count"] != float64(want.usage.PromptTokens)) {
				t.Errorf("%s final object %s", ep.path, line)
			}
		}
		if text.String() != want.text {
			t.Errorf("%s: %q, want %q", ep.path, text.String(), want.text)
		}
	}
}

// TestStopSequence checks that generation ends at a stop sequence, which
// is not part of the text.
func TestStopSequence(t *testing.T) {
	_, url, _, _ := testServer(t, Config{})
	full := complete(t, url, "", 60)
	i := strings.Index(full.text, " girl")
	if i < 0 {
		t.Fatalf("test premise: %q lacks \" girl\"", full.text)
	}
	resp, body := post(t, url+"/v1/completions", `{"model":"stories","prompt":"","max_tokens":60,"temperature":0,"stop":[" girl","zzz"]}`)
	var got struct {
		Choices []struct {
			Text         string
			FinishReason string `json:"finish_reason"`
		}
	}
	if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode, string(body))
	}
	if got.Choices[0].Text != full.text[:i] || got.Choices[0].FinishReason != "stop" {
		t.Errorf("stopped text %q (%s), want %q", got.Choices[0].Text, got.Choices[0].FinishReason, full.text[:i])
	}
}

// TestErrors checks bad requests get each protocol's error shape and a
// 4xx status.
func TestErrors(t *testing.T) {
	_, url, _, _ := testServer(t, Config{MaxTokens: 100})
	long := strings.Repeat("Once upon a time there was a girl. ", 200)
	for _, c := range []struct {
		path, body string
		status     int
		want       string
	}{
		{"/v1/completions", `{"model":"stories","prompt":`, 400, "not valid JSON"},
		{"/v1/completions", `{"model":"gpt-4","prompt":"hi"}`, 404, `"code":"model_not_found"`},
		{"/v1/completions", `{"model":"stories","prompt":"hi","temperature":-1}`, 400, `"param":"temperature"`},
		{"/v1/completions", `{"model":"stories","prompt":"hi","max_tokens":1000}`, 400, "exceeds this server's limit of 100"},
		{"/v1/completions", `{"model":"stories","prompt":"hi","max_tokens":"ten"}`, 400, `"type":"invalid_request_error"`},
		{"/v1/completions", `{"model":"stories","prompt":` + fmt.Sprintf("%q", long) + `}`, 400, "context holds 512"},
		{"/v1/chat/completions", `{"model":"stories","messages":[]}`, 400, "at least one message"},
		{"/v1/chat/completions", `{"model":"stories","messages":[{"role":"wizard","content":"x"}]}`, 400, `role \"wizard\"`},
		{"/api/generate", `{"model":"nope","prompt":"hi"}`, 404, `{"error":"the model \"nope\" does not exist`},
		{"/api/chat", `{"model":"stories","messages":[{"role":"user","content":"x"}],"options":{"top_p":7}}`, 400, `{"error":"top_p 7`},
		{"/api/show", `{"model":"nope"}`, 404, `{"error":`},
	} {
		resp, body := post(t, url+c.path, c.body)
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.want) {
			t.Errorf("%s %s: %d %s; want %d with %q", c.path, c.body[:min(len(c.body), 60)], resp.StatusCode, body, c.status, c.want)
		}
	}
}

// TestQueueFullAndCancellation checks that requests beyond max_batch +
// max_queue get 429 with Retry-After, and that a client that goes away
// frees its slot at once for the next request.
func TestQueueFullAndCancellation(t *testing.T) {
	s, url, _, _ := testServer(t, Config{MaxBatch: 1, MaxQueue: 1})
	// The first stream takes no step until the test has seen the queue
	// full and both clients gone: with free steps it reaches EOS after
	// about 200, which a loaded machine took before the test looked
	// (its queue was never seen full, or a third request was admitted).
	// After that, the pause leaves each step time to see a closed
	// connection.
	gate := make(chan struct{})
	s.sched.gate = gate
	s.sched.pause = 20 * time.Millisecond
	// Two long streams occupy the slot and the queue.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var bodies []io.ReadCloser
	for range 2 {
		req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/completions", strings.NewReader(
			`{"model":"stories","prompt":"","max_tokens":511,"temperature":0,"stream":true}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: status %d, want 200", len(bodies)+1, resp.StatusCode)
		}
		bodies = append(bodies, resp.Body)
	}
	// The first is active (it streams), the second waits in the queue.
	waitFor(t, func() bool { return metricFrom(t, url, "whisperc_serve_queue_depth") == 1 })
	resp, body := post(t, url+"/v1/completions", `{"model":"stories","prompt":"x","max_tokens":5}`)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "queue is full") {
		t.Errorf("third request: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, body = post(t, url+"/api/generate", `{"model":"stories","prompt":"x"}`)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `{"error":`) {
		t.Errorf("third Ollama request: %d %s", resp.StatusCode, body)
	}
	// Both clients go away: the slot and the queue empty at once.
	cancel()
	for _, b := range bodies {
		b.Close()
	}
	close(gate)
	waitFor(t, func() bool {
		return metricFrom(t, url, "whisperc_serve_queue_depth") == 0 && metricFrom(t, url, "whisperc_serve_active_sequences") == 0
	})
	if c := metricFrom(t, url, `whisperc_serve_finished_total{reason="cancelled"}`); c != 2 {
		t.Errorf("%v cancelled generations, want 2; stop %v, length %v, error %v", c, metricFrom(t, url, `whisperc_serve_finished_total{reason="stop"}`), metricFrom(t, url, `whisperc_serve_finished_total{reason="length"}`), metricFrom(t, url, `whisperc_serve_finished_total{reason="error"}`))
	}
	if c := complete(t, url, "The cat", 5); c.usage.CompletionTokens != 5 {
		t.Errorf("after cancellation: %+v", c)
	}
	_ = s
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDrain checks graceful shutdown: a request in flight when the server
// is told to stop completes, new requests are refused, and Run returns nil.
//
// The request takes no step until the server has been told to stop: with
// free steps stories260K's 300 tokens take a few tens of milliseconds, and
// in a clean clone's CI run (every package's tests at once) the request
// ended before the test's poll saw it active, and the test timed out.
func TestDrain(t *testing.T) {
	s, url, stop, done := testServer(t, Config{})
	gate := make(chan struct{})
	s.sched.gate = gate
	res := make(chan completion, 1)
	go func() { res <- complete(t, url, "", 300) }()
	waitFor(t, func() bool { return metricFrom(t, url, "whisperc_serve_active_sequences") == 1 })
	stop()
	close(gate)
	c := <-res
	if c.usage.CompletionTokens == 0 {
		t.Errorf("the request in flight did not complete: %+v", c)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
		done <- nil
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}
}

// TestTimeout checks the per-request timeout.
func TestTimeout(t *testing.T) {
	_, url, _, _ := testServer(t, Config{Timeout: 30 * time.Millisecond, MaxBatch: 1})
	resp, body := post(t, url+"/v1/completions", `{"model":"stories","prompt":"","max_tokens":511,"temperature":1,"seed":1}`)
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "timeout") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}

// TestModelsAndHealth checks the listing endpoints.
func TestModelsAndHealth(t *testing.T) {
	s, url, _, _ := testServer(t, Config{})
	for _, c := range []struct{ path, want string }{
		{"/health", `"ok"`},
		{"/ready", `"ready"`},
		{"/v1/models", `"id":"stories"`},
		{"/v1/models/stories", `"object":"model"`},
		{"/api/tags", `"name":"stories:latest"`},
	} {
		resp, err := http.Get(url + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: %d %s", c.path, resp.StatusCode, b)
		}
	}
	resp, body := post(t, url+"/api/show", `{"model":"stories"}`)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"llama.block_count":5`) {
		t.Errorf("/api/show: %d %s", resp.StatusCode, body)
	}
	w, kv := s.MemoryBytes()
	// 5 layers × 2 × 4 KV heads × 8 × 4 bytes × 512 positions × 4 slots.
	if kv != 5*2*32*4*512*4 || w <= 0 {
		t.Errorf("memory: weights %d, KV %d", w, kv)
	}
}

// TestSubmitCountsFreeSlots checks that a request a free slot will take
// does not count against max_queue, whether or not the scheduler's loop
// has woken yet to admit it: here the loop never runs.
func TestSubmitCountsFreeSlots(t *testing.T) {
	srv, _, _, _ := testServer(t, Config{MaxBatch: 2, MaxQueue: 1})
	s := newScheduler(srv.e, srv.tok, 2, 1, 16, newMetrics())
	newJob := func() *job { return &job{ctx: context.Background(), prompt: []int{1}} }
	for i := range 3 {
		if err := s.submit(newJob()); err != nil {
			t.Fatalf("request %d of 3 (2 slots, 1 queue place): %v", i+1, err)
		}
	}
	if err := s.submit(newJob()); !errors.Is(err, errQueueFull) {
		t.Errorf("request 4: %v, want %v", err, errQueueFull)
	}
	// With both slots busy only the queue's one place is left.
	s.queue, s.busy = nil, 2
	if err := s.submit(newJob()); err != nil {
		t.Errorf("first request with both slots busy: %v", err)
	}
	if err := s.submit(newJob()); !errors.Is(err, errQueueFull) {
		t.Errorf("second request with both slots busy: %v, want %v", err, errQueueFull)
	}
}
