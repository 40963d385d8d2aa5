package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// This file speaks Ollama's API: /api/generate and /api/chat, streamed as
// newline-delimited JSON objects (the default; "stream": false gives one
// object), /api/tags, /api/show, /api/ps and /api/version.

func (s *Server) olError(w http.ResponseWriter, e *apiError) {
	if e.retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retry))
	}
	writeJSON(w, e.status, map[string]string{"error": e.msg})
}

// olOptions are the model options Ollama requests carry.
type olOptions struct {
	NumPredict  *int        `json:"num_predict"`
	Temperature *float64    `json:"temperature"`
	TopP        *float64    `json:"top_p"`
	TopK        *int        `json:"top_k"`
	Seed        *int64      `json:"seed"`
	Stop        *stringList `json:"stop"`
}

func (s *Server) olParams(prompt string, o *olOptions, format json.RawMessage) (genParams, *apiError) {
	p := genParams{prompt: prompt}
	if len(format) > 0 && string(format) != "null" && string(format) != `""` {
		return p, badRequest("format", "structured output (format) is not supported by this server")
	}
	if o == nil {
		return p, nil
	}
	p.temperature, p.topP, p.seed = o.Temperature, o.TopP, o.Seed
	if o.TopK != nil {
		p.topK = *o.TopK
	}
	if o.Stop != nil {
		p.stops = *o.Stop
	}
	if n := o.NumPredict; n != nil {
		switch {
		case *n == -1 || *n == -2: // unlimited, fill the context: up to the server's limit
		case *n <= 0:
			return p, badRequest("num_predict", "num_predict %d must be positive, -1 (unlimited) or -2 (fill the context)", *n)
		default:
			p.maxTokens = n
		}
	}
	return p, nil
}

// olDone is the statistics part of Ollama's final object.
func olDone(obj map[string]any, finish string, prompt, gen int, start time.Time, ttft time.Duration) map[string]any {
	total := time.Since(start)
	obj["done"] = true
	obj["done_reason"] = finish
	obj["total_duration"] = total.Nanoseconds()
	obj["load_duration"] = 0
	obj["prompt_eval_count"] = prompt
	obj["prompt_eval_duration"] = ttft.Nanoseconds()
	obj["eval_count"] = gen
	obj["eval_duration"] = (total - ttft).Nanoseconds()
	return obj
}

// olFinish maps a finish reason to Ollama's done_reason.
func olFinish(f string) string {
	if f == finishLength {
		return "length"
	}
	return "stop"
}

func (s *Server) olGenerate(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req struct {
		Model   string          `json:"model"`
		Prompt  string          `json:"prompt"`
		System  string          `json:"system"`
		Raw     bool            `json:"raw"`
		Stream  *bool           `json:"stream"`
		Format  json.RawMessage `json:"format"`
		Images  []string        `json:"images"`
		Suffix  string          `json:"suffix"`
		Options *olOptions      `json:"options"`
	}
	if e := decodeBody(r, &req); e != nil {
		s.olError(w, e)
		return
	}
	if !s.modelOK(req.Model) {
		s.olError(w, s.unknownModel(req.Model))
		return
	}
	if len(req.Images) > 0 || req.Suffix != "" {
		s.olError(w, badRequest("images", "images and suffix are not supported by this server"))
		return
	}
	base := func() map[string]any {
		return map[string]any{"model": req.Model, "created_at": time.Now().UTC().Format(time.RFC3339Nano)}
	}
	if req.Prompt == "" && req.System == "" {
		// Ollama answers an empty prompt by loading the model.
		obj := base()
		obj["response"], obj["done"], obj["done_reason"] = "", true, "load"
		writeJSON(w, http.StatusOK, obj)
		return
	}
	prompt := req.Prompt
	if !req.Raw {
		var msgs []Message
		if req.System != "" {
			msgs = append(msgs, Message{Role: "system", Content: req.System})
		}
		msgs = append(msgs, Message{Role: "user", Content: req.Prompt})
		prompt = s.cfg.Template.Render(msgs)
	}
	p, e := s.olParams(prompt, req.Options, req.Format)
	if e != nil {
		s.olError(w, e)
		return
	}
	st, e := s.start(r, p, 0.8)
	if e != nil {
		s.olError(w, e)
		return
	}
	defer st.cancel()
	stream := req.Stream == nil || *req.Stream
	s.olRun(w, r, st, stream, req.Model, start, func(text string) map[string]any {
		obj := base()
		obj["response"] = text
		return obj
	})
}

// olRun streams or collects a generation in Ollama's shape; piece makes
// the object for a piece of text (the final object carries the whole text
// when not streaming).
func (s *Server) olRun(w http.ResponseWriter, r *http.Request, st *started, stream bool, model string, start time.Time, piece func(string) map[string]any) {
	if !stream {
		all := s.collect(st)
		finish, gen, err := st.finishLog(r, model, false)
		if err != nil {
			s.failed(w, err, s.olError)
			return
		}
		writeJSON(w, http.StatusOK, olDone(piece(string(all)), olFinish(finish), st.prompt, gen, start, st.j.ttftValue()))
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	var werr error
	send := func(v any) {
		if werr == nil {
			if werr = enc.Encode(v); werr == nil {
				flush(w)
			}
		}
	}
	for {
		text, done := s.next(st)
		if len(text) > 0 {
			obj := piece(string(text))
			obj["done"] = false
			send(obj)
		}
		if done {
			break
		}
	}
	finish, gen, err := st.finishLog(r, model, true)
	if err != nil {
		if e := s.errorOf(err); e != nil {
			send(map[string]string{"error": e.msg})
		}
		return
	}
	send(olDone(piece(""), olFinish(finish), st.prompt, gen, start, st.j.ttftValue()))
}

func (s *Server) olChat(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string   `json:"role"`
			Content string   `json:"content"`
			Images  []string `json:"images"`
		} `json:"messages"`
		Stream  *bool           `json:"stream"`
		Format  json.RawMessage `json:"format"`
		Tools   json.RawMessage `json:"tools"`
		Options *olOptions      `json:"options"`
	}
	if e := decodeBody(r, &req); e != nil {
		s.olError(w, e)
		return
	}
	if !s.modelOK(req.Model) {
		s.olError(w, s.unknownModel(req.Model))
		return
	}
	if len(req.Tools) > 0 && string(req.Tools) != "null" && string(req.Tools) != "[]" {
		s.olError(w, badRequest("tools", "tools are not supported by this server"))
		return
	}
	base := func() map[string]any {
		return map[string]any{"model": req.Model, "created_at": time.Now().UTC().Format(time.RFC3339Nano)}
	}
	if len(req.Messages) == 0 {
		obj := base()
		obj["message"], obj["done"], obj["done_reason"] = map[string]string{"role": "assistant", "content": ""}, true, "load"
		writeJSON(w, http.StatusOK, obj)
		return
	}
	msgs := make([]Message, len(req.Messages))
	for i, m := range req.Messages {
		if len(m.Images) > 0 {
			s.olError(w, badRequest("images", "message %d has images, which this server does not support", i))
			return
		}
		msgs[i] = Message{Role: m.Role, Content: m.Content}
	}
	if e := checkMessages(msgs); e != nil {
		s.olError(w, e)
		return
	}
	p, e := s.olParams(s.cfg.Template.Render(msgs), req.Options, req.Format)
	if e != nil {
		s.olError(w, e)
		return
	}
	st, e := s.start(r, p, 0.8)
	if e != nil {
		s.olError(w, e)
		return
	}
	defer st.cancel()
	stream := req.Stream == nil || *req.Stream
	s.olRun(w, r, st, stream, req.Model, start, func(text string) map[string]any {
		obj := base()
		obj["message"] = map[string]string{"role": "assistant", "content": text}
		return obj
	})
}

// olDetails describes the model as Ollama's tags and show do.
func (s *Server) olDetails() map[string]any {
	fam := s.cfg.Family
	if fam == "" {
		fam = "llama"
	}
	return map[string]any{"parent_model": "", "format": "gguf", "family": fam, "families": []string{fam},
		"parameter_size": s.cfg.Parameters, "quantization_level": s.cfg.Quantization}
}

func (s *Server) olTags(w http.ResponseWriter, r *http.Request) {
	name := s.cfg.Name + ":latest"
	writeJSON(w, http.StatusOK, map[string]any{"models": []any{map[string]any{
		"name": name, "model": name, "modified_at": s.started.UTC().Format(time.RFC3339Nano),
		"size": s.e.WeightBytes(), "digest": "", "details": s.olDetails()}}})
}

func (s *Server) olPs(w http.ResponseWriter, r *http.Request) {
	name := s.cfg.Name + ":latest"
	wb, kv := s.MemoryBytes()
	writeJSON(w, http.StatusOK, map[string]any{"models": []any{map[string]any{
		"name": name, "model": name, "size": wb + kv, "digest": "", "details": s.olDetails(),
		"expires_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339Nano), "size_vram": 0}}})
}

func (s *Server) olVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"version": "whisperc"})
}

func (s *Server) olShow(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string `json:"model"`
		Name  string `json:"name"`
	}
	if e := decodeBody(r, &req); e != nil {
		s.olError(w, e)
		return
	}
	name := req.Model
	if name == "" {
		name = req.Name
	}
	if !s.modelOK(name) {
		s.olError(w, s.unknownModel(name))
		return
	}
	c := s.e.Config()
	t := s.cfg.Template
	params := fmt.Sprintf("num_ctx %d\nnum_predict %d", s.e.Context(), s.cfg.MaxTokens)
	if t.Stop != "" {
		params += fmt.Sprintf("\nstop %q", t.Stop)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"modelfile":  fmt.Sprintf("FROM %s\nTEMPLATE %q\n", s.cfg.Name, t.Ollama),
		"parameters": params,
		"template":   t.Ollama,
		"details":    s.olDetails(),
		"model_info": map[string]any{
			"general.architecture": "llama", "llama.context_length": c.MaxSeq, "llama.embedding_length": c.Dim,
			"llama.block_count": c.Layers, "llama.feed_forward_length": c.HiddenDim, "llama.attention.head_count": c.Heads,
			"llama.attention.head_count_kv": c.KVHeads, "llama.vocab_size": c.Vocab},
		"capabilities": []string{"completion"},
		"modified_at":  s.started.UTC().Format(time.RFC3339Nano),
	})
}
