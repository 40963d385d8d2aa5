package serve

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzRequests sends arbitrary bodies to every endpoint that reads one:
// the server must answer each with a status below 500 (a 4xx in the
// protocol's error shape for bad input), never panic, and never hang.
func FuzzRequests(f *testing.F) {
	ws, tok := loadStories(f)
	s, err := New(context.Background(), ws, tok, Config{Name: "tiny", MaxBatch: 2, MaxQueue: 4, MaxTokens: 4, Timeout: 5 * time.Second, Engine: engineOpts()})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	go s.sched.run(ctx)
	paths := []string{"/v1/completions", "/v1/chat/completions", "/api/generate", "/api/chat", "/api/show"}
	for i, body := range []string{
		`{"model":"tiny","prompt":"Once","max_tokens":3,"temperature":0}`,
		`{"model":"tiny","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"stream":true,"stop":"x"}`,
		`{"model":"tiny","prompt":"The","options":{"num_predict":2,"stop":["a"],"seed":3}}`,
		`{"model":"tiny:latest","messages":[{"role":"system","content":"s"},{"role":"user","content":"u"}],"stream":false}`,
		`{"name":"tiny"}`,
		`{"model":"tiny","prompt":"x","max_tokens":1e400}`,
		`[1,2,3]`, `{"model":`, "",
	} {
		f.Add(uint8(i), []byte(body))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			s.Handler().ServeHTTP(rec, req)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s %q: no answer in 20 s", path, body)
		}
		if rec.Code >= 500 {
			t.Fatalf("%s %q: status %d: %s", path, body, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && !strings.Contains(rec.Body.String(), `"error"`) {
			t.Fatalf("%s %q: status %d without an error object: %s", path, body, rec.Code, rec.Body.String())
		}
	})
}
