package llama2c

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// Write writes s as a llama2.c checkpoint: version 0 is the legacy format
// (with the rotary tables llama2.c's legacy export includes), version 1 the
// versioned float32 export. Tensors of any dtype are converted to float32.
func Write(w io.Writer, s *weights.Set, version int) error {
	c := s.Config
	if c.HeadDim != 0 && c.HeadDim*c.Heads != c.Dim {
		return fmt.Errorf("llama2c: head size %d times %d heads is not dim %d; the format cannot express it", c.HeadDim, c.Heads, c.Dim)
	}
	bw := bufio.NewWriter(w)
	le := binary.LittleEndian
	hdr := []int32{int32(c.Dim), int32(c.HiddenDim), int32(c.Layers), int32(c.Heads), int32(c.KVHeads), int32(c.Vocab), int32(c.MaxSeq)}
	var specs []tensorSpec
	switch version {
	case 0:
		if !c.Tied {
			hdr[5] = -hdr[5]
		}
		if err := binary.Write(bw, le, hdr); err != nil {
			return err
		}
		specs = legacyOrder(c)
	case 1:
		head := make([]byte, 256)
		le.PutUint32(head, arch.Llama2cMagic)
		le.PutUint32(head[4:], 1)
		for i, v := range hdr {
			le.PutUint32(head[8+4*i:], uint32(v))
		}
		if c.Tied {
			head[36] = 1
		}
		if _, err := bw.Write(head); err != nil {
			return err
		}
		specs = append(versionedNorms(c), versionedMatrices(c)...)
	default:
		return fmt.Errorf("llama2c: cannot write version %d (want 0 or 1)", version)
	}
	rope := 0
	for _, spec := range specs {
		var vals []float32
		if spec.name == "" {
			vals = ropeTable(c, rope == 1)
			rope++
		} else {
			t, err := s.Get(spec.name)
			if err != nil {
				return err
			}
			if !slices.Equal(t.Shape, spec.shape) {
				return fmt.Errorf("llama2c: tensor %q has shape %v, want %v", spec.name, t.Shape, spec.shape)
			}
			if t.DType == weights.F32 {
				if _, err := bw.Write(t.Data); err != nil {
					return err
				}
				continue
			}
			if vals, err = quant.Dequantize(t); err != nil {
				return err
			}
		}
		var b [4]byte
		for _, v := range vals {
			le.PutUint32(b[:], math.Float32bits(v))
			if _, err := bw.Write(b[:]); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

// ropeTable returns llama2.c's legacy freq_cis_real (or _imag) table:
// cos (sin) of pos * theta^(-2i/head_size).
func ropeTable(c arch.Config, imag bool) []float32 {
	hs := c.HeadSize()
	theta := c.RopeTheta
	if theta == 0 {
		theta = 10000
	}
	out := make([]float32, 0, c.MaxSeq*hs/2)
	for p := 0; p < c.MaxSeq; p++ {
		for i := 0; i < hs/2; i++ {
			f := float32(1 / math.Pow(theta, float64(2*i)/float64(hs)))
			a := float64(float32(p) * f)
			if imag {
				out = append(out, float32(math.Sin(a)))
			} else {
				out = append(out, float32(math.Cos(a)))
			}
		}
	}
	return out
}
