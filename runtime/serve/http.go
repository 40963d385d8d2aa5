package serve

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/modelwhisperer/whisperc/runtime/sample"
)

// maxBody bounds a request body.
const maxBody = 8 << 20

// maxStops bounds the stop sequences of one request, and maxStopLen each.
const (
	maxStops   = 16
	maxStopLen = 256
)

func (s *Server) routes() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /ready", s.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /v1/models", s.instrument("/v1/models", s.oaModels))
	mux.HandleFunc("GET /v1/models/{id...}", s.instrument("/v1/models", s.oaModel))
	mux.HandleFunc("POST /v1/completions", s.instrument("/v1/completions", s.oaCompletions))
	mux.HandleFunc("POST /v1/chat/completions", s.instrument("/v1/chat/completions", s.oaChat))
	mux.HandleFunc("POST /api/generate", s.instrument("/api/generate", s.olGenerate))
	mux.HandleFunc("POST /api/chat", s.instrument("/api/chat", s.olChat))
	mux.HandleFunc("GET /api/tags", s.instrument("/api/tags", s.olTags))
	mux.HandleFunc("POST /api/show", s.instrument("/api/show", s.olShow))
	mux.HandleFunc("GET /api/version", s.instrument("/api/version", s.olVersion))
	mux.HandleFunc("GET /api/ps", s.instrument("/api/ps", s.olPs))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "whisperc is running\n") })
	s.mux = mux
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ready answers 200 while the server takes requests and 503 while it
// drains.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.isDraining() {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// reqLog collects what a handler learns about a request for its log
// record.
type reqLog struct {
	model                string
	stream               bool
	prompt, completion   int
	cached               int
	finish               string
	ttft                 time.Duration
	clientGone, timedOut bool
}

type ctxKey struct{}

func logOf(ctx context.Context) *reqLog {
	if l, ok := ctx.Value(ctxKey{}).(*reqLog); ok {
		return l
	}
	return &reqLog{}
}

// instrument wraps a handler with the request's metrics and its log record.
func (s *Server) instrument(endpoint string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		rl := &reqLog{}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, rl))
		r.Body = http.MaxBytesReader(sw, r.Body, maxBody)
		h(sw, r)
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		d := time.Since(start)
		s.metrics.requests.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
		s.metrics.latency.WithLabelValues(endpoint).Observe(d.Seconds())
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", code, "duration_ms", float64(d.Microseconds()) / 1000,
			"remote", r.RemoteAddr}
		if rl.model != "" {
			attrs = append(attrs, "model", rl.model, "stream", rl.stream, "prompt_tokens", rl.prompt, "completion_tokens", rl.completion,
				"cached_tokens", rl.cached, "finish", rl.finish, "ttft_ms", float64(rl.ttft.Microseconds())/1000)
		}
		if rl.clientGone {
			attrs = append(attrs, "client_gone", true)
		}
		if rl.timedOut {
			attrs = append(attrs, "timed_out", true)
		}
		s.log.Info("request", attrs...)
	}
}

// apiError is a request problem, reported in each protocol's error shape.
type apiError struct {
	status int
	kind   string // OpenAI's error type
	param  string
	code   string
	msg    string
	retry  int // seconds for Retry-After, when set
}

func (e *apiError) Error() string { return e.msg }

func badRequest(param, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, kind: "invalid_request_error", param: param, msg: fmt.Sprintf(format, args...)}
}

// decodeBody reads a JSON request body into v.
func decodeBody(r *http.Request, v any) *apiError {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{status: http.StatusRequestEntityTooLarge, kind: "invalid_request_error",
				msg: fmt.Sprintf("the request body exceeds %d bytes", mbe.Limit)}
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return badRequest("", "the request body is not valid JSON: %v (at byte %d)", err, se.Offset)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return badRequest(te.Field, "field %q must be %s, not a JSON %s (at byte %d)", te.Field, te.Type, te.Value, te.Offset)
		}
		if errors.Is(err, io.EOF) {
			return badRequest("", "the request body is empty; send a JSON object")
		}
		return badRequest("", "the request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return badRequest("", "the request body holds more than one JSON value")
	}
	return nil
}

// genParams are one generation's settings, from either protocol.
type genParams struct {
	prompt      string
	maxTokens   *int
	temperature *float64
	topP        *float64
	topK        int
	seed        *int64
	stops       []string
}

// started is a queued generation and its request context.
type started struct {
	j      *job
	ctx    context.Context
	cancel context.CancelFunc
	prompt int
}

// start validates p, encodes the prompt and queues the job.
func (s *Server) start(r *http.Request, p genParams, defTemp float64) (*started, *apiError) {
	temp := defTemp
	if p.temperature != nil {
		temp = *p.temperature
	}
	if math.IsNaN(temp) || temp < 0 || temp > 2 {
		return nil, badRequest("temperature", "temperature %v must be between 0 and 2", temp)
	}
	topP := 1.0
	if p.topP != nil {
		topP = *p.topP
	}
	if math.IsNaN(topP) || topP <= 0 || topP > 1 {
		return nil, badRequest("top_p", "top_p %v must be greater than 0 and at most 1", topP)
	}
	if p.topK < 0 {
		return nil, badRequest("top_k", "top_k %d must not be negative", p.topK)
	}
	if len(p.stops) > maxStops {
		return nil, badRequest("stop", "%d stop sequences are more than the %d allowed", len(p.stops), maxStops)
	}
	var stops []string
	for _, st := range p.stops {
		if len(st) > maxStopLen {
			return nil, badRequest("stop", "a stop sequence of %d bytes is longer than the %d allowed", len(st), maxStopLen)
		}
		if st != "" {
			stops = append(stops, st)
		}
	}
	if t := s.cfg.Template; t != nil && t.Stop != "" {
		stops = append(stops, t.Stop)
	}
	maxTokens := s.cfg.MaxTokens
	if p.maxTokens != nil {
		if *p.maxTokens <= 0 {
			return nil, badRequest("max_tokens", "max_tokens %d must be at least 1", *p.maxTokens)
		}
		if *p.maxTokens > s.cfg.MaxTokens {
			return nil, badRequest("max_tokens", "max_tokens %d exceeds this server's limit of %d (the serve block's max_tokens)", *p.maxTokens, s.cfg.MaxTokens)
		}
		maxTokens = *p.maxTokens
	}
	var seed uint64
	if p.seed != nil {
		seed = uint64(*p.seed)
	} else {
		var b [8]byte
		rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	smp, err := sample.New(sample.Params{Temperature: temp, TopP: topP, TopK: p.topK, Seed: seed})
	if err != nil {
		return nil, badRequest("", "%v", err)
	}
	ids := s.tok.Encode(p.prompt, true, false)
	if len(ids) >= s.e.Context() {
		return nil, badRequest("prompt", "the prompt has %d tokens; this model's context holds %d, and at least one must remain for the reply", len(ids), s.e.Context())
	}
	s.metrics.promptToks.Add(float64(len(ids)))
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	j := &job{ctx: ctx, prompt: ids, maxTokens: maxTokens, stops: stops, smp: smp}
	if err := s.sched.submit(j); err != nil {
		cancel()
		if errors.Is(err, errDraining) {
			return nil, &apiError{status: http.StatusServiceUnavailable, kind: "server_error", code: "shutting_down", msg: err.Error(), retry: 5}
		}
		return nil, &apiError{status: http.StatusTooManyRequests, kind: "rate_limit_exceeded", code: "queue_full",
			msg: fmt.Sprintf("%v (%d requests wait for %d batch slots); retry later", err, s.cfg.MaxQueue, s.cfg.MaxBatch), retry: 1}
	}
	rl := logOf(r.Context())
	rl.prompt = len(ids)
	return &started{j: j, ctx: ctx, cancel: cancel, prompt: len(ids)}, nil
}

// collect waits for the whole generation of a non-streaming request and
// returns its text.
func (s *Server) collect(st *started) []byte {
	var all []byte
	for {
		text, done := s.next(st)
		all = append(all, text...)
		if done {
			return all
		}
	}
}

// next waits for text or the end of st's job. It returns the new text and
// whether the job is done; when the request's context ends first it waits
// for the scheduler to drop the job (at most one step).
func (s *Server) next(st *started) ([]byte, bool) {
	for {
		text, done := st.j.take()
		if len(text) > 0 || done {
			return text, done
		}
		select {
		case <-st.j.notify:
		case <-st.ctx.Done():
			// A queued job leaves the queue now; an active one leaves at
			// the scheduler's next step.
			s.sched.cancelQueued(st.j)
			<-st.j.notify
		}
	}
}

// finishLog records the outcome of st in the request's log record.
func (st *started) finishLog(r *http.Request, model string, stream bool) (finish string, gen int, err error) {
	finish, gen, cached, err := st.j.result()
	rl := logOf(r.Context())
	rl.model, rl.stream, rl.completion, rl.cached, rl.finish = model, stream, gen, cached, finish
	st.j.mu.Lock()
	rl.ttft = st.j.ttft
	st.j.mu.Unlock()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			rl.timedOut = true
		} else if errors.Is(err, context.Canceled) {
			rl.clientGone = true
		}
	}
	return finish, gen, err
}

// timeoutError is the error for a request that ran out of time.
func (s *Server) timeoutError() *apiError {
	return &apiError{status: http.StatusGatewayTimeout, kind: "timeout", code: "timeout",
		msg: fmt.Sprintf("the request did not finish within the server's timeout of %s", s.cfg.Timeout)}
}

// errorOf maps a failed job's error to the error to report, or nil when
// the client is gone and nobody reads it.
func (s *Server) errorOf(err error) *apiError {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return s.timeoutError()
	case errors.Is(err, context.Canceled):
		return nil
	}
	return &apiError{status: http.StatusInternalServerError, kind: "server_error", msg: err.Error()}
}

// failed reports a failed job with write, or records 499 (nginx's "client
// closed request") when the client is gone.
func (s *Server) failed(w http.ResponseWriter, err error, write func(http.ResponseWriter, *apiError)) {
	if e := s.errorOf(err); e != nil {
		write(w, e)
		return
	}
	w.WriteHeader(499)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}
