package arch

// ModuleKind says what a parameter group is, which decides how it is stored:
// bitsandbytes and GGML quantise only linear layers; embeddings and norms
// keep their precision. The zero value is invalid.
type ModuleKind int

// The module kinds.
const (
	KindInvalid ModuleKind = iota
	// Linear is a weight matrix In×Out applied by matrix multiplication.
	Linear
	// Embedding is a lookup table (tokens, positions, token types).
	Embedding
	// Norm is the scale (and, for LayerNorm, shift) of a normalisation.
	Norm
	// Bias is the bias vector of a linear layer, counted apart from its
	// matrix because quantisers leave it in full precision.
	Bias
)

// String returns the kind's name.
func (k ModuleKind) String() string {
	switch k {
	case Linear:
		return "linear"
	case Embedding:
		return "embedding"
	case Norm:
		return "norm"
	case Bias:
		return "bias"
	}
	return "invalid"
}

// Module is one parameter group of an architecture, such as every layer's
// q_proj. Names are whisperc's canonical module names (the LoRA target
// names q_proj … down_proj, embed_tokens, lm_head, norms, and for BERT
// position_embeddings, token_type_embeddings and pooler).
type Module struct {
	Name  string
	Kind  ModuleKind
	In    int   // input features of a linear layer; 0 otherwise
	Out   int   // output features of a linear layer; 0 otherwise
	Size  int64 // parameters of one instance
	Count int   // instances: Layers for per-layer modules, 1 otherwise
	// PerLayer reports whether the module repeats in every block.
	PerLayer bool
}

// Params returns the module's parameters over all instances.
func (m Module) Params() int64 { return m.Size * int64(m.Count) }

// Modules lists the architecture's parameter groups, in model order. The
// counts are exact for the families described in Config: tied classifiers
// are not counted twice, biases appear only where the family has them.
func (c Config) Modules() []Module {
	h, hd := c.Dim, c.HeadSize()
	qOut, kvOut := c.Heads*hd, c.KVHeads*hd
	if c.KVHeads == 0 {
		kvOut = qOut
	}
	L := c.Layers
	lin := func(name string, in, out int) Module {
		return Module{Name: name, Kind: Linear, In: in, Out: out, Size: int64(in) * int64(out), Count: L, PerLayer: true}
	}
	bias := func(name string, n int) Module {
		return Module{Name: name, Kind: Bias, Size: int64(n), Count: L, PerLayer: true}
	}
	norm := func(name string, n int, perLayer bool) Module {
		m := Module{Name: name, Kind: Norm, Size: int64(n), Count: 1, PerLayer: perLayer}
		if c.Family == BERT {
			m.Size *= 2 // LayerNorm has a weight and a bias
		}
		if perLayer {
			m.Count = L
		}
		return m
	}
	emb := func(name string, rows int) Module {
		return Module{Name: name, Kind: Embedding, Size: int64(rows) * int64(h), Count: 1}
	}

	ms := []Module{emb("embed_tokens", c.Vocab)}
	if c.Family == BERT {
		ms = append(ms, emb("position_embeddings", c.MaxSeq), emb("token_type_embeddings", c.TypeVocab),
			norm("embed_norm", h, false))
	}
	ms = append(ms, norm("input_norm", h, true),
		lin("q_proj", h, qOut), lin("k_proj", h, kvOut), lin("v_proj", h, kvOut), lin("o_proj", qOut, h))
	switch {
	case c.HasBias():
		ms = append(ms, bias("q_proj.bias", qOut), bias("k_proj.bias", kvOut), bias("v_proj.bias", kvOut), bias("o_proj.bias", h))
	case c.QKVBias:
		ms = append(ms, bias("q_proj.bias", qOut), bias("k_proj.bias", kvOut), bias("v_proj.bias", kvOut))
	}
	ms = append(ms, norm("post_attention_norm", h, true))
	if c.Gated() {
		ms = append(ms, lin("gate_proj", h, c.HiddenDim))
	}
	ms = append(ms, lin("up_proj", h, c.HiddenDim), lin("down_proj", c.HiddenDim, h))
	if c.HasBias() {
		ms = append(ms, bias("up_proj.bias", c.HiddenDim), bias("down_proj.bias", h))
	}
	if c.Family == BERT {
		if c.Pooler {
			ms = append(ms, Module{Name: "pooler", Kind: Linear, In: h, Out: h, Size: int64(h) * int64(h), Count: 1},
				Module{Name: "pooler.bias", Kind: Bias, Size: int64(h), Count: 1})
		}
		return ms
	}
	ms = append(ms, norm("final_norm", h, false))
	if !c.Tied {
		ms = append(ms, Module{Name: "lm_head", Kind: Linear, In: h, Out: c.Vocab, Size: int64(h) * int64(c.Vocab), Count: 1})
	}
	return ms
}

// Params returns the total parameter count.
func (c Config) Params() int64 {
	var n int64
	for _, m := range c.Modules() {
		n += m.Params()
	}
	return n
}

// NonEmbeddingParams returns the parameters outside the token, position
// and type embeddings and the classifier: the N of the scaling-law and
// FLOP formulas.
func (c Config) NonEmbeddingParams() int64 {
	var n int64
	for _, m := range c.Modules() {
		if m.Kind == Embedding || m.Name == "lm_head" {
			continue
		}
		n += m.Params()
	}
	return n
}

// Module returns the module with the given canonical name.
func (c Config) Module(name string) (Module, bool) {
	for _, m := range c.Modules() {
		if m.Name == name {
			return m, true
		}
	}
	return Module{}, false
}

// LinearNames returns the names of the per-layer linear modules: the
// modules a LoRA target list may name.
func (c Config) LinearNames() []string {
	var names []string
	for _, m := range c.Modules() {
		if m.Kind == Linear && m.PerLayer {
			names = append(names, m.Name)
		}
	}
	return names
}

// Validate returns a sentence describing the first inconsistency of the
// shapes (zero sizes, heads not divisible by kv heads), or "" when the
// configuration is usable.
func (c Config) Validate() string {
	switch {
	case c.Family == FamilyInvalid:
		return "the architecture family is unknown"
	case c.Dim <= 0 || c.HiddenDim <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.Vocab <= 0:
		return "a dimension (hidden size, feed-forward size, layers, heads or vocabulary) is not positive"
	case c.KVHeads <= 0:
		return "the number of key/value heads is not positive"
	case c.Heads%c.KVHeads != 0:
		return "the number of attention heads is not a multiple of the number of key/value heads"
	case c.HeadDim == 0 && c.Dim%c.Heads != 0:
		return "the hidden size is not a multiple of the number of attention heads"
	}
	return ""
}
