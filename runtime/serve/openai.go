package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// This file speaks OpenAI's API: /v1/models, /v1/completions and
// /v1/chat/completions, streamed as server-sent events of chunk objects
// ending with "data: [DONE]".

func (s *Server) oaError(w http.ResponseWriter, e *apiError) {
	if e.retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retry))
	}
	body := map[string]any{"message": e.msg, "type": e.kind, "param": nil, "code": nil}
	if e.param != "" {
		body["param"] = e.param
	}
	if e.code != "" {
		body["code"] = e.code
	}
	writeJSON(w, e.status, map[string]any{"error": body})
}

type oaModelObj struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *Server) oaModelObject() oaModelObj {
	return oaModelObj{ID: s.cfg.Name, Object: "model", Created: s.started.Unix(), OwnedBy: "whisperc"}
}

func (s *Server) oaModels(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []oaModelObj{s.oaModelObject()}})
}

func (s *Server) oaModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !s.modelOK(id) {
		s.oaError(w, s.unknownModel(id))
		return
	}
	writeJSON(w, http.StatusOK, s.oaModelObject())
}

func (s *Server) unknownModel(name string) *apiError {
	if name == "" {
		return badRequest("model", "the request names no model; this server serves %q", s.cfg.Name)
	}
	return &apiError{status: http.StatusNotFound, kind: "invalid_request_error", param: "model", code: "model_not_found",
		msg: fmt.Sprintf("the model %q does not exist; this server serves %q", name, s.cfg.Name)}
}

// stringList accepts a JSON string or an array of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("must be a string or an array of strings")
	}
	*l = many
	return nil
}

type oaStreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// oaCommon are the fields both OpenAI endpoints take.
type oaCommon struct {
	Model               string           `json:"model"`
	MaxTokens           *int             `json:"max_tokens"`
	MaxCompletionTokens *int             `json:"max_completion_tokens"`
	Temperature         *float64         `json:"temperature"`
	TopP                *float64         `json:"top_p"`
	Seed                *int64           `json:"seed"`
	Stop                *stringList      `json:"stop"`
	Stream              bool             `json:"stream"`
	StreamOptions       *oaStreamOptions `json:"stream_options"`
	N                   *int             `json:"n"`
	Logprobs            json.RawMessage  `json:"logprobs"`
}

func (c *oaCommon) params(prompt string) (genParams, *apiError) {
	p := genParams{prompt: prompt, maxTokens: c.MaxTokens, temperature: c.Temperature, topP: c.TopP, seed: c.Seed}
	if c.MaxCompletionTokens != nil {
		p.maxTokens = c.MaxCompletionTokens
	}
	if c.Stop != nil {
		p.stops = *c.Stop
	}
	if c.N != nil && *c.N != 1 {
		return p, badRequest("n", "n = %d is not supported; this server returns one choice per request", *c.N)
	}
	if len(c.Logprobs) > 0 && string(c.Logprobs) != "null" && string(c.Logprobs) != "false" {
		return p, badRequest("logprobs", "logprobs are not supported by this server")
	}
	return p, nil
}

type oaUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
	// PromptDetails counts the prompt tokens whose keys and values came
	// from the prefix cache, as OpenAI reports cached prompt tokens.
	PromptDetails oaPromptDetails `json:"prompt_tokens_details"`
}

type oaPromptDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// usage returns the usage of a finished request st that generated gen
// tokens.
func usage(st *started, gen int) *oaUsage {
	_, _, cached, _ := st.j.result()
	return &oaUsage{PromptTokens: st.prompt, CompletionTokens: gen, TotalTokens: st.prompt + gen, PromptDetails: oaPromptDetails{CachedTokens: cached}}
}

// oaFinish maps a finish reason to OpenAI's (a cancelled request has no
// reader, so its reason never reaches one).
func oaFinish(f string) string {
	if f == finishLength {
		return "length"
	}
	return "stop"
}

func (s *Server) oaCompletions(w http.ResponseWriter, r *http.Request) {
	var req struct {
		oaCommon
		Prompt *stringList `json:"prompt"`
		Echo   bool        `json:"echo"`
		Suffix *string     `json:"suffix"`
	}
	if e := decodeBody(r, &req); e != nil {
		s.oaError(w, e)
		return
	}
	if !s.modelOK(req.Model) {
		s.oaError(w, s.unknownModel(req.Model))
		return
	}
	if req.Prompt == nil || len(*req.Prompt) != 1 {
		s.oaError(w, badRequest("prompt", "prompt must be one string (arrays of several prompts are not supported)"))
		return
	}
	if req.Echo || req.Suffix != nil {
		s.oaError(w, badRequest("echo", "echo and suffix are not supported by this server"))
		return
	}
	p, e := req.params((*req.Prompt)[0])
	if e != nil {
		s.oaError(w, e)
		return
	}
	st, e := s.start(r, p, 1)
	if e != nil {
		s.oaError(w, e)
		return
	}
	defer st.cancel()
	id, created := newID("cmpl-"), time.Now().Unix()
	choice := func(text string, finish *string) map[string]any {
		return map[string]any{"text": text, "index": 0, "logprobs": nil, "finish_reason": finish}
	}
	if !req.Stream {
		all := s.collect(st)
		finish, gen, err := st.finishLog(r, req.Model, false)
		if err != nil {
			s.failed(w, err, s.oaError)
			return
		}
		f := oaFinish(finish)
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "text_completion", "created": created, "model": s.cfg.Name,
			"choices": []any{choice(string(all), &f)}, "usage": usage(st, gen)})
		return
	}
	sse := startSSE(w)
	for {
		text, done := s.next(st)
		if len(text) > 0 {
			sse.send(map[string]any{"id": id, "object": "text_completion", "created": created, "model": s.cfg.Name,
				"choices": []any{choice(string(text), nil)}})
		}
		if done {
			break
		}
	}
	finish, gen, err := st.finishLog(r, req.Model, true)
	if err != nil {
		sse.fail(s, err)
		return
	}
	f := oaFinish(finish)
	sse.send(map[string]any{"id": id, "object": "text_completion", "created": created, "model": s.cfg.Name,
		"choices": []any{choice("", &f)}})
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		sse.send(map[string]any{"id": id, "object": "text_completion", "created": created, "model": s.cfg.Name,
			"choices": []any{}, "usage": usage(st, gen)})
	}
	sse.done()
}

// chatContent accepts a message's content as a string or as an array of
// text parts.
type chatContent string

func (c *chatContent) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*c = chatContent(one)
		return nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return fmt.Errorf("must be a string or an array of content parts")
	}
	var s string
	for _, p := range parts {
		if p.Type != "text" {
			return fmt.Errorf("content parts of type %q are not supported; only text", p.Type)
		}
		s += p.Text
	}
	*c = chatContent(s)
	return nil
}

// checkMessages validates a conversation's roles.
func checkMessages(msgs []Message) *apiError {
	if len(msgs) == 0 {
		return badRequest("messages", "messages must hold at least one message")
	}
	for i, m := range msgs {
		switch m.Role {
		case "system", "user", "assistant", "developer":
		default:
			return badRequest(fmt.Sprintf("messages[%d].role", i), "message %d has role %q; use system, user or assistant", i, m.Role)
		}
	}
	return nil
}

func (s *Server) oaChat(w http.ResponseWriter, r *http.Request) {
	var req struct {
		oaCommon
		Messages []struct {
			Role    string      `json:"role"`
			Content chatContent `json:"content"`
		} `json:"messages"`
		Tools json.RawMessage `json:"tools"`
	}
	if e := decodeBody(r, &req); e != nil {
		s.oaError(w, e)
		return
	}
	if !s.modelOK(req.Model) {
		s.oaError(w, s.unknownModel(req.Model))
		return
	}
	if len(req.Tools) > 0 && string(req.Tools) != "null" && string(req.Tools) != "[]" {
		s.oaError(w, badRequest("tools", "tools are not supported by this server"))
		return
	}
	msgs := make([]Message, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = Message{Role: m.Role, Content: string(m.Content)}
		if m.Role == "developer" {
			msgs[i].Role = "system"
		}
	}
	if e := checkMessages(msgs); e != nil {
		s.oaError(w, e)
		return
	}
	p, e := req.params(s.cfg.Template.Render(msgs))
	if e != nil {
		s.oaError(w, e)
		return
	}
	st, e := s.start(r, p, 1)
	if e != nil {
		s.oaError(w, e)
		return
	}
	defer st.cancel()
	id, created := newID("chatcmpl-"), time.Now().Unix()
	if !req.Stream {
		all := s.collect(st)
		finish, gen, err := st.finishLog(r, req.Model, false)
		if err != nil {
			s.failed(w, err, s.oaError)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "chat.completion", "created": created, "model": s.cfg.Name,
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": string(all)},
				"logprobs": nil, "finish_reason": oaFinish(finish)}},
			"usage": usage(st, gen)})
		return
	}
	sse := startSSE(w)
	chunk := func(delta map[string]any, finish *string) map[string]any {
		return map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": s.cfg.Name,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}}}
	}
	sse.send(chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	for {
		text, done := s.next(st)
		if len(text) > 0 {
			sse.send(chunk(map[string]any{"content": string(text)}, nil))
		}
		if done {
			break
		}
	}
	finish, gen, err := st.finishLog(r, req.Model, true)
	if err != nil {
		sse.fail(s, err)
		return
	}
	f := oaFinish(finish)
	sse.send(chunk(map[string]any{}, &f))
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		sse.send(map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": s.cfg.Name,
			"choices": []any{}, "usage": usage(st, gen)})
	}
	sse.done()
}

// sseWriter writes server-sent events.
type sseWriter struct {
	w   http.ResponseWriter
	err error
}

func startSSE(w http.ResponseWriter) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	flush(w)
	return &sseWriter{w: w}
}

func (s *sseWriter) send(v any) {
	if s.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.err = err
		return
	}
	if _, s.err = fmt.Fprintf(s.w, "data: %s\n\n", b); s.err == nil {
		flush(s.w)
	}
}

// fail ends a stream whose generation failed with an error event, as
// OpenAI's streams report errors.
func (s *sseWriter) fail(srv *Server, err error) {
	e := srv.errorOf(err)
	if e == nil {
		return // the client is gone
	}
	s.send(map[string]any{"error": map[string]any{"message": e.msg, "type": e.kind, "code": e.code}})
}

func (s *sseWriter) done() {
	if s.err == nil {
		fmt.Fprint(s.w, "data: [DONE]\n\n")
		flush(s.w)
	}
}
