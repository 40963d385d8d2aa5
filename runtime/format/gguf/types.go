package gguf

import (
	gguf "github.com/gpustack/gguf-parser-go"

	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// ggmlTypes maps the GGML tensor types whisperc reads to dtypes.
var ggmlTypes = map[gguf.GGMLType]weights.DType{
	gguf.GGMLTypeF32:  weights.F32,
	gguf.GGMLTypeF16:  weights.F16,
	gguf.GGMLTypeBF16: weights.BF16,
	gguf.GGMLTypeQ8_0: weights.Q8_0,
	gguf.GGMLTypeQ4_0: weights.Q4_0,
	gguf.GGMLTypeQ4_K: weights.Q4_K,
	gguf.GGMLTypeQ6_K: weights.Q6_K,
	gguf.GGMLTypeQ4_1: weights.Q4_1,
	gguf.GGMLTypeQ5_0: weights.Q5_0,
	gguf.GGMLTypeQ5_1: weights.Q5_1,
	gguf.GGMLTypeQ5_K: weights.Q5_K,
}

// ggmlType returns the GGML type id of a dtype.
func ggmlType(d weights.DType) (gguf.GGMLType, bool) {
	for g, w := range ggmlTypes {
		if w == d {
			return g, true
		}
	}
	return 0, false
}

// Token types of "tokenizer.ggml.token_type", as llama.cpp defines them.
const (
	TokenNormal      = 1
	TokenUnknown     = 2
	TokenControl     = 3
	TokenUserDefined = 4
	TokenUnused      = 5
	TokenByte        = 6
)

// Vocab is the tokenizer embedded in a GGUF file ("tokenizer.ggml.*").
type Vocab struct {
	// Model is "llama" for SentencePiece vocabularies (scores) or "gpt2"
	// for byte-level BPE (merges).
	Model  string
	Tokens []string
	Scores []float32 // empty when the file has none
	Types  []int32   // empty when the file has none
	Merges []string  // "left right", for gpt2 vocabularies
	// Special token ids, -1 when the file names none.
	BOS, EOS, UNK, PAD int
	// AddBOS reports "tokenizer.ggml.add_bos_token" (true when absent).
	AddBOS bool
	// ChatTemplate is "tokenizer.chat_template" (Jinja source), or "".
	ChatTemplate string
}
