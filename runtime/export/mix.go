package export

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// mixQ4_K_M returns ws with the tensor types of llama.cpp's Q4_K_M files:
// Q4_K for matrices, Q6_K for the classifier (the token embedding when
// tied) and for the value and down
// projections of the layers that get more bits (the first and last eighth
// and every third one between), vectors in F32. Matrices whose rows are not
// a whole number of 256-value super-blocks use the legacy type llama.cpp
// falls back to: Q5_0 for Q4_K, Q8_0 for Q6_K (F16 when not even 32).
func mixQ4_K_M(ws *weights.Set) (*weights.Set, error) {
	out := &weights.Set{Config: ws.Config, Tensors: make(map[string]*weights.Tensor, len(ws.Tensors)), Source: ws.Source}
	for name, t := range ws.Tensors {
		c, err := quant.Convert(t, q4KMType(name, t.Shape, ws.Config.Layers, ws.Tensors["output.weight"] == nil))
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		out.Tensors[name] = c
	}
	return out, nil
}

// q4KMType is the type tensor name of the given shape gets in a Q4_K_M file
// of a model with n layers; with tied set (no separate classifier) the
// token embedding is the classifier and is treated as one.
func q4KMType(name string, shape []int, n int, tied bool) weights.DType {
	if len(shape) != 2 {
		return weights.F32
	}
	to := weights.Q4_K
	if name == "output.weight" || tied && name == "tok_embeddings.weight" {
		to = weights.Q6_K
	} else if l, ok := layerOf(name); ok && (strings.HasSuffix(name, ".attention.wv.weight") || strings.HasSuffix(name, ".feed_forward.w2.weight")) && moreBits(l, n) {
		to = weights.Q6_K
	}
	switch cols := shape[1]; {
	case cols%256 == 0:
		return to
	case cols%32 != 0:
		return weights.F16
	case to == weights.Q6_K:
		return weights.Q8_0
	default:
		return weights.Q5_0
	}
}

// moreBits reports whether layer i of n is one that Q4_K_M gives Q6_K
// value and down projections: the first and last eighth of the layers, and
// every third layer in between.
func moreBits(i, n int) bool {
	return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2
}

// layerOf returns N of a tensor named "layers.N. ...".
func layerOf(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "layers.")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, false
	}
	l, err := strconv.Atoi(num)
	return l, err == nil
}
