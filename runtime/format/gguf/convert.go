package gguf

import (
	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// ConvertSet returns a copy of s whose matrices are re-encoded as dtype
// (F16, BF16, Q8_0, Q4_0 or F32), for writing quantised GGUF files. Like
// llama.cpp's quantiser it keeps norm vectors in F32 and falls back to F32
// for a matrix whose rows are not a whole number of blocks (stories260K's
// feed-forward down projection has rows of 172). The copy's Close is nil.
func ConvertSet(s *weights.Set, dtype weights.DType) (*weights.Set, error) {
	out := &weights.Set{Config: s.Config, Tensors: make(map[string]*weights.Tensor, len(s.Tensors)), Source: s.Source}
	vals, _, _ := quant.BlockSize(dtype)
	for name, t := range s.Tensors {
		to := dtype
		if len(t.Shape) != 2 || vals == 0 || t.Shape[1]%vals != 0 {
			to = weights.F32
		}
		c, err := quant.Convert(t, to)
		if err != nil {
			return nil, err
		}
		out.Tensors[name] = c
	}
	return out, nil
}
