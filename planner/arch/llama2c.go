package arch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Llama2cMagic is the magic number ("ak42" little-endian) that starts
// llama2.c's versioned export formats.
const Llama2cMagic = 0x616b3432

// Llama2cHeader is a parsed llama2.c checkpoint header.
type Llama2cHeader struct {
	// Version is 0 for the legacy header of seven int32s, 1 for the
	// versioned fp32 export and 2 for the Q8_0 export.
	Version int
	// Size is the header's length in bytes: 28 for legacy files, 256 for
	// versioned ones. Weights start there.
	Size int
	// GroupSize is the quantisation group size of version 2 files.
	GroupSize int
	// Config is the architecture. Config.Tied reports a shared classifier.
	Config Config
}

// Llama2cHeaderMax is the number of bytes a llama2.c header occupies at most;
// reading this many bytes (or the whole file, if shorter) is enough for
// ParseLlama2cHeader.
const Llama2cHeaderMax = 256

// Limits on header fields. They are far above any released model and keep
// size arithmetic on absurd headers from overflowing; loaders also check the
// sizes against the file's length.
const (
	maxDim    = 1 << 18
	maxLayers = 1 << 12
	maxVocab  = 1 << 23
	maxSeq    = 1 << 24
)

// FromLlama2c reads a llama2.c checkpoint header from r and returns the
// architecture. It reads at most Llama2cHeaderMax bytes and never the
// weights.
func FromLlama2c(r io.Reader) (Config, error) {
	buf := make([]byte, Llama2cHeaderMax)
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Config{}, err
	}
	h, err := ParseLlama2cHeader(buf[:n])
	if err != nil {
		return Config{}, err
	}
	return h.Config, nil
}

// ParseLlama2cHeader parses the header at the start of b, which holds the
// first bytes of a llama2.c checkpoint (Llama2cHeaderMax suffice). It checks
// that every field is positive, within limits and consistent.
func ParseLlama2cHeader(b []byte) (Llama2cHeader, error) {
	le := binary.LittleEndian
	var h Llama2cHeader
	if len(b) < 4 {
		return h, fmt.Errorf("llama2.c header: file has %d bytes, the header needs 28", len(b))
	}
	off := 0
	if le.Uint32(b) == Llama2cMagic {
		if len(b) < 256 {
			return h, fmt.Errorf("llama2.c header: versioned header needs 256 bytes, file has %d", len(b))
		}
		h.Version = int(int32(le.Uint32(b[4:])))
		if h.Version != 1 && h.Version != 2 {
			return h, fmt.Errorf("llama2.c header: unsupported export version %d (want 1 or 2)", h.Version)
		}
		h.Size = 256
		off = 8
	} else {
		if len(b) < 28 {
			return h, fmt.Errorf("llama2.c header: file has %d bytes, the header needs 28", len(b))
		}
		h.Size = 28
	}
	var f [7]int
	for i := range f {
		f[i] = int(int32(le.Uint32(b[off+4*i:])))
	}
	c := Config{
		Name:      "llama2.c",
		Family:    Llama,
		Dim:       f[0],
		HiddenDim: f[1],
		Layers:    f[2],
		Heads:     f[3],
		KVHeads:   f[4],
		Vocab:     f[5],
		MaxSeq:    f[6],
		RopeTheta: 10000,
		NormEps:   1e-5,
	}
	switch h.Version {
	case 0:
		c.Tied = c.Vocab > 0
		if c.Vocab < 0 {
			c.Vocab = -c.Vocab
		}
	default:
		switch b[36] {
		case 0:
		case 1:
			c.Tied = true
		default:
			return h, fmt.Errorf("llama2.c header: shared-classifier flag is %d, want 0 or 1", b[36])
		}
		if h.Version == 2 {
			h.GroupSize = int(int32(le.Uint32(b[37:])))
		}
	}
	for _, chk := range []struct {
		name string
		v    int
		max  int
	}{
		{"dim", c.Dim, maxDim}, {"hidden_dim", c.HiddenDim, 4 * maxDim}, {"n_layers", c.Layers, maxLayers},
		{"n_heads", c.Heads, c.Dim}, {"n_kv_heads", c.KVHeads, c.Heads}, {"vocab_size", c.Vocab, maxVocab},
		{"seq_len", c.MaxSeq, maxSeq},
	} {
		if chk.v <= 0 || chk.v > chk.max {
			return h, fmt.Errorf("llama2.c header: %s is %d, want 1..%d", chk.name, chk.v, max(chk.max, 1))
		}
	}
	if c.Dim%c.Heads != 0 {
		return h, fmt.Errorf("llama2.c header: dim %d is not a multiple of n_heads %d", c.Dim, c.Heads)
	}
	if c.Heads%c.KVHeads != 0 {
		return h, fmt.Errorf("llama2.c header: n_heads %d is not a multiple of n_kv_heads %d", c.Heads, c.KVHeads)
	}
	if c.HeadSize()%2 != 0 {
		return h, fmt.Errorf("llama2.c header: head size %d is odd, rotary embeddings need pairs", c.HeadSize())
	}
	if h.Version == 2 {
		if h.GroupSize <= 0 || c.Dim%h.GroupSize != 0 {
			return h, fmt.Errorf("llama2.c header: group size %d does not divide dim %d", h.GroupSize, c.Dim)
		}
	}
	h.Config = c
	return h, nil
}
