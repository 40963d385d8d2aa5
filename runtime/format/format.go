// Package format opens model files of every supported kind behind one
// entry point: llama2.c checkpoints, GGUF files and Hugging Face safetensors
// checkpoints, with their tokenizers (llama2.c tokenizer.bin, the vocabulary
// embedded in GGUF, Hugging Face tokenizer.json). The readers themselves
// live in the subpackages llama2c, gguf and safetensors.
package format

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/input"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/format/safetensors"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// Kind is a model file format. The zero value is invalid.
type Kind int

// The formats Open reads.
const (
	KindInvalid Kind = iota
	Llama2c
	GGUF
	Safetensors
)

// String returns the kind's spec prefix.
func (k Kind) String() string {
	switch k {
	case Llama2c:
		return "llama2c"
	case GGUF:
		return "gguf"
	case Safetensors:
		return "safetensors"
	}
	return "invalid"
}

// ParseSpec splits a model spec "KIND:PATH" into kind and path. Without a
// known prefix the kind is detected from the path: a directory or a
// .safetensors/.json file is a safetensors checkpoint, a file starting with
// "GGUF" is GGUF, and any other file is taken for a llama2.c checkpoint.
func ParseSpec(spec string) (Kind, string, error) {
	if prefix, path, ok := strings.Cut(spec, ":"); ok {
		switch prefix {
		case "llama2c":
			return Llama2c, path, nil
		case "gguf":
			return GGUF, path, nil
		case "safetensors", "hf":
			return Safetensors, path, nil
		}
	}
	if spec == "" {
		return KindInvalid, "", fmt.Errorf("empty model spec; write llama2c:PATH, gguf:PATH or safetensors:DIR")
	}
	st, err := os.Stat(spec)
	if err != nil {
		return KindInvalid, "", fmt.Errorf("model %q: %w (write llama2c:PATH, gguf:PATH or safetensors:DIR)", spec, err)
	}
	if st.IsDir() || strings.HasSuffix(spec, ".safetensors") || strings.HasSuffix(spec, ".json") {
		return Safetensors, spec, nil
	}
	magic, err := input.ReadPrefix(spec, "model", 4)
	if err != nil {
		return KindInvalid, "", err
	}
	if string(magic) == "GGUF" {
		return GGUF, spec, nil
	}
	return Llama2c, spec, nil
}

// internalError turns a panic in a reader into an error naming the file,
// so that a reader bug on some input stops a load instead of the process.
func internalError(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: internal error while reading (a whisperc bug; please report it with the file): %v", what, r)
	}
}

// OpenWeights loads the model named by spec (see ParseSpec).
func OpenWeights(spec string) (s *weights.Set, err error) {
	defer internalError(spec, &err)
	kind, path, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	switch kind {
	case Llama2c:
		return llama2c.Open(path)
	case GGUF:
		return gguf.Open(path)
	default:
		return safetensors.OpenHF(path)
	}
}

// ReadConfig returns the architecture of the model named by spec from its
// header alone (llama2.c header, GGUF metadata, config.json), without
// reading weights.
func ReadConfig(spec string) (c arch.Config, err error) {
	defer internalError(spec, &err)
	kind, path, err := ParseSpec(spec)
	if err != nil {
		return arch.Config{}, err
	}
	switch kind {
	case Llama2c:
		f, _, err := input.Open(path, "model")
		if err != nil {
			return arch.Config{}, err
		}
		defer f.Close()
		c, err := arch.FromLlama2c(f)
		if err != nil {
			return arch.Config{}, fmt.Errorf("%s: %w", path, err)
		}
		return c, nil
	case GGUF:
		return arch.FromGGUF(path)
	default:
		dir := path
		if st, err := os.Stat(path); err == nil && !st.IsDir() {
			dir = filepath.Dir(path)
		}
		p := filepath.Join(dir, safetensors.ConfigName)
		data, err := input.ReadFile(p, "model config", safetensors.MaxConfigBytes)
		if err != nil {
			return arch.Config{}, err
		}
		c, err := arch.FromHFConfig(data)
		if err != nil {
			return arch.Config{}, fmt.Errorf("%s: %w", p, err)
		}
		return c, nil
	}
}

// OpenTokenizer reads a tokenizer file: a GGUF file (its embedded
// vocabulary), a Hugging Face tokenizer.json (any .json file), or otherwise
// a llama2.c tokenizer.bin, which must hold exactly vocab tokens (the file
// does not record its count, so a tokenizer of another model would
// otherwise be cut to the model's size and print garbage).
func OpenTokenizer(path string, vocab int) (tok tokenizer.Tokenizer, err error) {
	defer internalError(path, &err)
	if strings.HasSuffix(path, ".json") {
		return tokenizer.ReadHFJSONFile(path)
	}
	magic, err := input.ReadPrefix(path, "tokenizer", 4)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(magic, binary.LittleEndian.AppendUint32(nil, 0x46554747)) {
		return tokenizer.ReadGGUF(path)
	}
	t, err := tokenizer.ReadLlama2CFile(path, 0)
	if err != nil {
		return nil, err
	}
	if vocab > 0 && t.VocabSize() != vocab {
		return nil, fmt.Errorf("%s holds %d tokens but the model has a vocabulary of %d: it is another model's tokenizer", path, t.VocabSize(), vocab)
	}
	return t, nil
}

// TokenizerOf returns the tokenizer a model carries: the GGUF file itself
// (its embedded vocabulary), tokenizer.json beside a safetensors
// checkpoint, or "" for a llama2.c checkpoint, which carries none.
func TokenizerOf(spec string) string {
	kind, path, err := ParseSpec(spec)
	if err != nil {
		return ""
	}
	switch kind {
	case GGUF:
		return path
	case Safetensors:
		dir := path
		if st, err := os.Stat(path); err == nil && !st.IsDir() {
			dir = filepath.Dir(path)
		}
		return filepath.Join(dir, "tokenizer.json")
	}
	return ""
}

// Open loads the model named by spec and its tokenizer. With an empty
// tokenizerPath the tokenizer comes from the model: the vocabulary embedded
// in a GGUF file, or tokenizer.json beside a safetensors checkpoint;
// llama2.c checkpoints carry none, so one must be named. The tokenizer's
// vocabulary must not exceed the model's. The caller must call the Set's
// Close when it is not nil.
func Open(spec, tokenizerPath string) (*weights.Set, tokenizer.Tokenizer, error) {
	kind, path, err := ParseSpec(spec)
	if err != nil {
		return nil, nil, err
	}
	s, err := OpenWeights(kind.String() + ":" + path)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*weights.Set, tokenizer.Tokenizer, error) {
		if s.Close != nil {
			s.Close()
		}
		return nil, nil, err
	}
	if tokenizerPath == "" {
		if tokenizerPath = TokenizerOf(spec); tokenizerPath == "" {
			return fail(fmt.Errorf("%s: llama2.c checkpoints hold no tokenizer; name a tokenizer.bin", path))
		}
	}
	tok, err := OpenTokenizer(tokenizerPath, s.Config.Vocab)
	if err != nil {
		return fail(err)
	}
	if tok.VocabSize() > s.Config.Vocab {
		return fail(fmt.Errorf("%s: the tokenizer has %d tokens but the model %s only %d embeddings", tokenizerPath, tok.VocabSize(), path, s.Config.Vocab))
	}
	return s, tok, nil
}
