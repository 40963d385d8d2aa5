package lsp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

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
		return next(ctx, req)
	}
}

// stdio joins a reader and a writer into the io.ReadWriteCloser a jsonrpc2
// stream needs. Close closes whichever of them can be closed.
type stdio struct {
	io.Reader
	io.Writer
}

func (s stdio) Close() error {
	var errs []error
	if c, ok := s.Reader.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	if c, ok := s.Writer.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
