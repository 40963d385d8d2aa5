// Package arch describes model architectures without their weights: the
// shapes the planner needs to count parameters and bytes, read from file
// headers (llama2.c, GGUF, Hugging Face config.json) or built-in presets.
package arch

// Family names the architecture family. The zero value is invalid.
type Family int

// The families whisperc knows.
const (
	FamilyInvalid Family = iota
	// Llama is the decoder-only Llama family (RMSNorm, RoPE, GQA, SwiGLU):
	// Llama 1/2/3, Mistral, Qwen2, TinyLlama, the TinyStories models.
	Llama
	// Gemma is Llama-like with GeGLU, tied embeddings and a scaled embedding.
	Gemma
	// Phi3 is Llama-like with fused qkv and gate_up projections.
	Phi3
	// BERT is the encoder-only BERT family (LayerNorm, GELU, absolute
	// positions), for the planner's published-memory checks.
	BERT
)

// String returns the family's name.
func (f Family) String() string {
	switch f {
	case Llama:
		return "llama"
	case Gemma:
		return "gemma"
	case Phi3:
		return "phi3"
	case BERT:
		return "bert"
	}
	return "invalid"
}

// Config is a model architecture. Dimensions follow llama2.c's names:
// Dim is the hidden size, HiddenDim the feed-forward size.
type Config struct {
	Name      string
	Family    Family
	Dim       int // hidden size (d_model)
	HiddenDim int // feed-forward inner size
	Layers    int
	Heads     int
	KVHeads   int // equal to Heads without grouped-query attention
	HeadDim   int // usually Dim/Heads; Gemma's differs
	Vocab     int
	MaxSeq    int // context length the model was trained for
	RopeTheta float64
	NormEps   float64
	Tied      bool // classifier shares the token-embedding matrix
	TypeVocab int  // BERT token-type vocabulary; 0 elsewhere
	QKVBias   bool // q, k and v projections carry biases (Qwen2)
	Pooler    bool // BERT pooler (dense + tanh over the first token) present
	// Approx, when set, says in a sentence how the shapes approximate a
	// model that the families above do not describe exactly.
	Approx string
}

// HeadSize returns HeadDim, or Dim/Heads when HeadDim is unset.
func (c Config) HeadSize() int {
	if c.HeadDim > 0 {
		return c.HeadDim
	}
	if c.Heads == 0 {
		return 0
	}
	return c.Dim / c.Heads
}

// Bias and pooler flags are additive fields used by the parameter count;
// see params.go.

// HasBias reports whether every linear layer of the family carries a bias
// (BERT); Llama-family models have none, Qwen2 only on q/k/v (QKVBias).
func (c Config) HasBias() bool { return c.Family == BERT }

// Gated reports whether the feed-forward block is gated (SwiGLU or GeGLU:
// gate, up and down projections) rather than BERT's up and down.
func (c Config) Gated() bool { return c.Family != BERT }
