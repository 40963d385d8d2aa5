// Package serve is whisperc's model server: an HTTP server speaking
// OpenAI's API (/v1/models, /v1/completions, /v1/chat/completions, with
// server-sent-event streaming) and Ollama's (/api/generate, /api/chat,
// /api/tags, /api/show, with NDJSON streaming) over one model.
//
// Requests share the model through continuous batching: one scheduler
// goroutine keeps up to MaxBatch sequences in a decode batch and advances
// all of them with one matrix-matrix pass over the weights per token;
// requests join and leave between steps, prompts are prefilled as matrix
// passes in chunks, and a new prompt reuses the keys and values of the
// longest prefix any slot holds (a shared system prompt is computed once).
// The KV cache of MaxBatch full-context sequences is allocated at start and
// never grows, so memory is bounded whatever the requests.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// Config is what the serve stage fixes for a server.
type Config struct {
	// Name is the model name clients ask for (a pipeline's model or
	// finetune name); Name:latest is accepted too.
	Name string
	// Listen is the host:port to listen on.
	Listen string
	// MaxBatch is the most sequences decoded together (and KV slots).
	MaxBatch int
	// MaxQueue is the most requests waiting for a slot; more get 429.
	MaxQueue int
	// MaxTokens caps the tokens one request may generate, and is the
	// default when a request sets none.
	MaxTokens int
	// Timeout bounds one request's whole time in the server.
	Timeout time.Duration
	// Chunk is the most prompt tokens one step prefills (0: 256).
	Chunk int
	// Template is the chat template (nil: plain).
	Template *ChatTemplate
	// Engine carries the planned attention kernel, weight format, context
	// and threads.
	Engine engine.Options
	// Adapters, when not empty, are LoRA adapters (a fine-tune's output)
	// the engine applies on the fly to the weights they name, leaving the
	// base weights as they are.
	Adapters map[string]*engine.Adapter
	// Log receives one structured record per request (nil: discarded).
	Log *slog.Logger
	// Family, Parameters and Quantization describe the model in /api/tags
	// and /api/show.
	Family, Parameters, Quantization string
}

// Server serves one model.
type Server struct {
	cfg     Config
	e       *engine.Engine
	tok     tokenizer.Tokenizer
	sched   *scheduler
	metrics *metrics
	mux     *http.ServeMux
	log     *slog.Logger
	started time.Time

	mu       sync.Mutex
	draining bool
}

// New prepares the model for serving and allocates the KV cache of
// MaxBatch full-context sequences.
func New(ctx context.Context, ws *weights.Set, tok tokenizer.Tokenizer, cfg Config) (*Server, error) {
	if cfg.MaxBatch <= 0 || cfg.MaxQueue < 0 || cfg.MaxTokens <= 0 {
		return nil, fmt.Errorf("serve: max_batch %d, max_queue %d and max_tokens %d must be positive", cfg.MaxBatch, cfg.MaxQueue, cfg.MaxTokens)
	}
	if cfg.Chunk <= 0 {
		cfg.Chunk = 256
	}
	if cfg.Template == nil {
		cfg.Template = templates["plain"]
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if tok.VocabSize() > ws.Config.Vocab {
		return nil, fmt.Errorf("serve: the tokenizer has %d tokens but the model only %d", tok.VocabSize(), ws.Config.Vocab)
	}
	e, err := engine.New(ctx, ws, cfg.Engine)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if len(cfg.Adapters) > 0 {
		if err := e.AttachAdapters(cfg.Adapters); err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
	}
	s := &Server{cfg: cfg, e: e, tok: tok, metrics: newMetrics(), started: time.Now(), log: cfg.Log}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.sched = newScheduler(e, tok, cfg.MaxBatch, cfg.MaxQueue, cfg.Chunk, s.metrics)
	s.routes()
	return s, nil
}

// MemoryBytes returns what the server holds in memory for the model: its
// weights as prepared plus the KV cache of MaxBatch full-context sequences.
// The planner's serve memory predicts this number (see planner/cost).
func (s *Server) MemoryBytes() (weights, kv int64) {
	return s.e.WeightBytes(), int64(s.cfg.MaxBatch) * s.e.KVCacheBytes()
}

// Context returns the positions each sequence may use.
func (s *Server) Context() int { return s.e.Context() }

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Run serves on ln until ctx is cancelled, then stops accepting requests,
// lets the ones in flight finish (up to the request timeout) and returns
// nil. ready, when not nil, is called once the server accepts requests.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	schedCtx, stopSched := context.WithCancel(context.Background())
	defer stopSched()
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		s.sched.run(schedCtx)
	}()
	hs := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return context.Background() }}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.sched.drain()
	shutCtx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout+5*time.Second)
	defer cancel()
	err := hs.Shutdown(shutCtx)
	<-schedDone
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("serve: requests still running after the drain timeout")
	}
	return nil
}

// ListenAndRun listens on the configured address and runs until ctx ends.
// started, when not nil, receives the bound address.
func (s *Server) ListenAndRun(ctx context.Context, started func(addr string)) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if started != nil {
		started(ln.Addr().String())
	}
	return s.Run(ctx, ln)
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// modelOK reports whether name names the served model.
func (s *Server) modelOK(name string) bool {
	return name == s.cfg.Name || name == s.cfg.Name+":latest"
}
