package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
	"github.com/modelwhisperer/whisperc/runtime/serve"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// serve runs the stage's HTTP server until the run's context ends (SIGINT
// or SIGTERM), then drains the requests in flight and returns.
func (x *executor) serve(ctx context.Context, st *planner.Stage) *diag.Diagnostic {
	var s *compiler.Serve
	for _, cand := range x.prog.Serves {
		if cand.Name == st.Decl {
			s = cand
		}
	}
	m, ok := x.models[st.Model]
	if s == nil || !ok || st.Graph == nil {
		return x.errorf(st, "E500", "Internal runtime error", "Stage %s has no serve declaration, loaded model or graph. Plan again.", st.ID)
	}
	// A finetune's output is served as trained: full weights in place of
	// the base's, or LoRA adapters applied on the fly to the base.
	ws := m.ws
	var adapters map[string]*engine.Adapter
	if s.Model.Finetune != nil {
		tr, d := x.tunedOutput(st, s.Model, m)
		if d != nil {
			return d
		}
		if tr.ws != nil {
			ws = tr.ws
		}
		adapters = tr.adapters
	}
	// The graph's KV cache holds max_batch sequences: the server's slots.
	// Each slot is checked as the engine's one-sequence cache.
	if st.Graph.KVCache == nil || st.Graph.KVCache.Batch < 1 {
		return x.errorf(st, "E505", "Setting cannot run here",
			"Serve stage %q has no KV cache; the server keeps one per sequence slot. Set kv_cache = true.", s.Name)
	}
	g := *st.Graph
	kv := *g.KVCache
	slots := kv.Batch
	kv.Batch, kv.Bytes = 1, kv.Bytes/int64(slots)
	g.KVCache = &kv
	opts, err := EngineOptions(&g, m.ws.Config)
	if err != nil {
		return x.errorf(st, "E505", "Setting cannot run here", "%v.", err)
	}
	tmpl, err := x.chatTemplate(s.Model.Base(), s.ChatTemplate)
	if err != nil {
		return x.errorf(st, "E505", "Chat template cannot be used", "%v.", err)
	}
	cfg := serve.Config{
		Name:         s.Model.Decl().Name,
		Listen:       net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		MaxBatch:     slots,
		MaxQueue:     s.MaxQueue,
		MaxTokens:    s.MaxTokens,
		Chunk:        min(kv.Context, planner.ServeChunk), // the prefill chunk the plan costs
		Timeout:      time.Duration(s.Timeout) * time.Second,
		Template:     tmpl,
		Engine:       opts,
		Adapters:     adapters,
		Log:          slog.New(slog.NewJSONHandler(x.s.Stderr, nil)),
		Family:       "llama",
		Parameters:   parameterSize(m.ws),
		Quantization: quantLevel(m.ws, opts),
	}
	x.s.progress("preparing %s for serving (%d slots, quantize %s)", st.Model, cfg.MaxBatch, opts.Quantize)
	srv, err := serve.New(ctx, ws, m.tok, cfg)
	x.s.progressDone()
	if err != nil {
		return x.errorf(st, "E505", "Model cannot run with these settings", "%v. Change the model's settings to ones the runtime supports.", err)
	}
	defer boundHeap(atMostLive(cost.DecodeHeapHeadroom))()
	wb, kvBytes := srv.MemoryBytes()
	x.metric(st, "weight_bytes", float64(wb), "B")
	x.metric(st, "kv_cache_bytes", float64(kvBytes), "B")
	err = srv.ListenAndRun(ctx, func(addr string) {
		fmt.Fprintf(x.s.Stderr, "serving %s on http://%s (OpenAI /v1, Ollama /api; %d slots of %d positions, KV cache %s, weights %s)\n",
			cfg.Name, addr, cfg.MaxBatch, srv.Context(), formatBytes(kvBytes), formatBytes(wb))
	})
	if err != nil {
		return x.errorf(st, "E506", "Server failed", "Stage %s: %v.", st.ID, err)
	}
	fmt.Fprintf(x.s.Stderr, "server %s stopped after draining its requests\n", cfg.Name)
	return nil
}

// chatTemplate resolves a chat_template setting: a named template, or for
// auto the one the model's GGUF metadata carries when whisperc knows it,
// else plain.
func (x *executor) chatTemplate(m *compiler.Model, name string) (*serve.ChatTemplate, error) {
	if name != "auto" && name != "" {
		return serve.LookupTemplate(name)
	}
	if m != nil && m.Source.Scheme == compiler.SchemeGGUF {
		if v, err := gguf.ReadVocab(m.Source.Path); err == nil {
			if t := serve.DetectTemplate(v.ChatTemplate); t != nil {
				return t, nil
			}
		}
	}
	if m != nil && m.Source.Scheme == compiler.SchemeSafetensors {
		if t := serve.DetectTemplate(hfChatTemplate(m.Source.Path)); t != nil {
			return t, nil
		}
	}
	return serve.LookupTemplate("plain")
}

// maxTokenizerConfig bounds the tokenizer_config.json read for its chat
// template (real ones are a few KiB to a few hundred).
const maxTokenizerConfig = 4 << 20

// hfChatTemplate returns the chat_template a Hugging Face checkpoint's
// tokenizer_config.json carries (path is the directory or one of its
// safetensors files), or "" when it has none or cannot be read.
func hfChatTemplate(path string) string {
	dir := path
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		dir = filepath.Dir(path)
	}
	f, err := os.Open(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return ""
	}
	defer f.Close()
	var tc struct {
		ChatTemplate any `json:"chat_template"`
	}
	if err := json.NewDecoder(io.LimitReader(f, maxTokenizerConfig)).Decode(&tc); err != nil {
		return ""
	}
	// A string, or a list of named templates of which "default" is used.
	switch v := tc.ChatTemplate.(type) {
	case string:
		return v
	case []any:
		for _, e := range v {
			if m, ok := e.(map[string]any); ok && m["name"] == "default" {
				s, _ := m["template"].(string)
				return s
			}
		}
	}
	return ""
}

// parameterSize renders a model's parameter count as Ollama does (260K,
// 15M, 7B).
func parameterSize(ws *weights.Set) string {
	var n float64
	for _, t := range ws.Tensors {
		n += float64(t.Elements())
	}
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fB", n/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.0fM", n/1e6)
	}
	return fmt.Sprintf("%.0fK", n/1e3)
}

// quantLevel names the linear layers' format as Ollama does (F32, Q8_0).
func quantLevel(ws *weights.Set, o engine.Options) string {
	if o.Quantize != engine.QuantizeNone {
		return strings.ToUpper(o.Quantize.String())
	}
	if t, ok := ws.Tensors["layers.0.attention.wq.weight"]; ok {
		return strings.ToUpper(t.DType.String())
	}
	return "unknown"
}
