package lsp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"
)

// codec marshals message payloads with the protocol package's union-aware
// encoder. protocol.NewServer installs the same codec, but it also makes
// every request concurrent, which would let a request overtake the
// didChange before it; Serve wires the connection itself to keep order.
type codec struct{}

// Marshal implements jsonrpc2.Codec.
func (codec) Marshal(v any) ([]byte, error) {
	switch m := v.(type) {
	case jsonrpc2.RawMessage:
		if m == nil {
			return []byte("null"), nil
		}
		return m, nil
	case *jsonrpc2.RawMessage:
		if m == nil || *m == nil {
			return []byte("null"), nil
		}
		return *m, nil
	}
	return protocol.Marshal(v)
}

// Unmarshal implements jsonrpc2.Codec.
func (codec) Unmarshal(data []byte, v any) error {
	if p, ok := v.(*jsonrpc2.RawMessage); ok {
		*p = append(jsonrpc2.RawMessage(nil), data...)
		return nil
	}
	return protocol.Unmarshal(data, v)
}

// ordered returns the handler that runs notifications (document changes,
// configuration) inline on the read loop, in wire order, and releases
// requests to run concurrently, so a request always sees the text of every
// notification sent before it. A panic anywhere below becomes an
// internal-error response and a log line; the connection stays up.
func (s *server) ordered(next jsonrpc2.Handler) jsonrpc2.Handler {
	return func(ctx context.Context, req *jsonrpc2.Request) (result any, err error) {
		if req.IsCall() {
			jsonrpc2.Async(ctx)
		}
		method := req.Method()
		defer func() {
			if r := recover(); r != nil {
				s.logf("internal error in %s: %v\n%s", method, r, debug.Stack())
				result = nil
				err = jsonrpc2.NewError(jsonrpc2.InternalError, fmt.Sprintf("whisperc: internal error in %s: %v (this is a bug; the server keeps running)", method, r))
			}
		}()
		if s.beforeHandle != nil {
			s.beforeHandle(method)
		}
		if !s.initialized() && req.IsCall() && method != protocol.MethodInitialize && method != protocol.MethodShutdown {
			return nil, jsonrpc2.NewError(jsonrpc2.ServerNotInitialized, "whisperc: the server has not been initialized")
		}
		if method != protocol.MethodExit && s.isShutdown() {
			// After shutdown the protocol allows only exit: requests
			// are refused, other notifications dropped.
			if req.IsCall() {
				return nil, jsonrpc2.NewError(jsonrpc2.InvalidRequest, "whisperc: the server is shut down; only exit is accepted")
			}
			return nil, nil
		}
		return next(ctx, req)
	}
}

// stdio joins a reader and a writer into the io.ReadWriteCloser a jsonrpc2
// stream needs. Close closes whichever of them can be closed, and closes
// the closed channel: the connection closes its stream only after it has
// written the responses of the requests in flight.
type stdio struct {
	io.Reader
	io.Writer
	once   sync.Once
	closed chan struct{}
}

func newStdio(in io.Reader, out io.Writer) *stdio {
	return &stdio{Reader: in, Writer: out, closed: make(chan struct{})}
}

func (s *stdio) Close() error {
	s.once.Do(func() { close(s.closed) })
	var errs []error
	if c, ok := s.Reader.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	if c, ok := s.Writer.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// frameStream is the raw-frame side of the jsonrpc2 header stream.
type frameStream interface {
	ReadFrame(ctx context.Context) ([]byte, int64, error)
	WriteFrame(ctx context.Context, data []byte) (int64, error)
}

// tolerantStream skips frames that are not JSON-RPC messages (logging
// them) instead of letting one malformed message end the session: the
// jsonrpc2 connection treats a body it cannot decode as fatal.
type tolerantStream struct {
	jsonrpc2.Stream
	frames frameStream
	logf   func(format string, args ...any)
}

// newTolerantStream wraps a stream that reads raw frames; other streams
// are returned as they are.
func newTolerantStream(s jsonrpc2.Stream, logf func(string, ...any)) jsonrpc2.Stream {
	fs, ok := s.(frameStream)
	if !ok {
		return s
	}
	return &tolerantStream{Stream: s, frames: fs, logf: logf}
}

// ReadFrame returns the next frame that decodes as a JSON-RPC message or a
// batch of them.
func (t *tolerantStream) ReadFrame(ctx context.Context) ([]byte, int64, error) {
	for {
		b, n, err := t.frames.ReadFrame(ctx)
		if err != nil {
			return b, n, err
		}
		trimmed := bytes.TrimLeft(b, " \t\r\n")
		if len(trimmed) > 0 && trimmed[0] == '[' {
			if json.Valid(b) {
				return b, n, nil
			}
		} else if _, derr := jsonrpc2.DecodeMessage(b); derr == nil {
			return b, n, nil
		} else {
			err = derr
		}
		t.logf("skipping a malformed message of %d bytes: %v", len(b), err)
	}
}

// WriteFrame writes an encoded message as one frame.
func (t *tolerantStream) WriteFrame(ctx context.Context, data []byte) (int64, error) {
	return t.frames.WriteFrame(ctx, data)
}
