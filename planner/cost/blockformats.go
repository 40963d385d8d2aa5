package cost

import (
	"maps"
	"slices"
	"strings"

	"github.com/modelwhisperer/whisperc/planner/arch"
)

// BlockFormats are the stored formats of one transformer block's linear
// layers, as a CPU step measurement builds them: Default for every
// module, except those Modules names (by arch.Module name: q_proj,
// down_proj, ...). A GGUF Q4_K_M file, for example, stores a block in
// q4_K with v_proj and down_proj in q6_K in some layers.
type BlockFormats struct {
	Default DType
	Modules map[string]DType
	// Stored reports that the weights in GGML block formats are read as
	// the model's GGUF file stores them (mapped), not quantised at load.
	Stored bool
}

// Uniform returns the formats of a block stored wholly as f.
func Uniform(f DType) BlockFormats { return BlockFormats{Default: f} }

// Of returns the format of module m.
func (b BlockFormats) Of(m string) DType {
	if f, ok := b.Modules[m]; ok {
		return f
	}
	return b.Default
}

// NewBlockFormats returns the block whose modules are stored as formats
// says, with the most common format (the first in module order among
// equals) as its Default.
func NewBlockFormats(formats map[string]DType, order []string) BlockFormats {
	count := map[DType]int{}
	var b BlockFormats
	for _, m := range order {
		f, ok := formats[m]
		if !ok {
			continue
		}
		count[f]++
		if b.Default == DTypeInvalid || count[f] > count[b.Default] {
			b.Default = f
		}
	}
	for _, m := range order {
		if f, ok := formats[m]; ok && f != b.Default {
			if b.Modules == nil {
				b.Modules = map[string]DType{}
			}
			b.Modules[m] = f
		}
	}
	return b
}

// Formats returns the distinct formats of the block, Default first.
func (b BlockFormats) Formats() []DType {
	fs := []DType{b.Default}
	for _, m := range slices.Sorted(maps.Keys(b.Modules)) {
		if f := b.Modules[m]; !slices.Contains(fs, f) {
			fs = append(fs, f)
		}
	}
	return fs
}

// Uniform reports whether every module is stored in Default.
func (b BlockFormats) Uniform() bool { return len(b.Modules) == 0 }

// String names the block's formats: "q8_0" when uniform, else Default
// and the exceptions in module-name order, as "q4_K, down_proj q6_K,
// v_proj q6_K", and " as stored" when Stored. Equal blocks have equal
// strings.
func (b BlockFormats) String() string {
	var s strings.Builder
	s.WriteString(b.Default.String())
	for _, m := range slices.Sorted(maps.Keys(b.Modules)) {
		s.WriteString(", " + m + " " + b.Modules[m].String())
	}
	if b.Stored {
		s.WriteString(" as stored")
	}
	return s.String()
}

// Bytes returns the stored bytes of one block of c's linear layers in
// these formats (nf4 and fp4 in 64-weight blocks with double
// quantisation, as a quantize block's default).
func (b BlockFormats) Bytes(c arch.Config) float64 {
	var n float64
	for _, m := range c.Modules() {
		if m.Kind == arch.Linear && m.PerLayer {
			n += float64(m.Size) * Quant{Type: b.Of(m.Name), BlockSize: 64, Double: true}.BitsPerWeight() / 8
		}
	}
	return n
}
