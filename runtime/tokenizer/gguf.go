package tokenizer

import (
	"fmt"
	"strings"

	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
)

// spaceMarker is SentencePiece's visible space, "▁" (U+2581), which GGUF
// and Hugging Face vocabularies use where llama2.c's tokenizer.bin has a
// plain space.
const spaceMarker = "\u2581"

// ReadGGUF reads the SentencePiece vocabulary embedded in the GGUF file at
// path (tokenizer.ggml.model "llama").
func ReadGGUF(path string) (*BPE, error) {
	v, err := gguf.ReadVocab(path)
	if err != nil {
		return nil, err
	}
	t, err := FromGGUFVocab(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// FromGGUFVocab builds a tokenizer from a GGUF vocabulary. Only
// SentencePiece vocabularies ("llama": tokens with scores) are supported;
// "▁" in pieces becomes a space, as in llama2.c's tokenizer.bin, so that
// encoding and decoding match llama2.c's. Missing special ids default to
// Llama's <unk>=0, <s>=1, </s>=2.
func FromGGUFVocab(v *gguf.Vocab) (*BPE, error) {
	if v.Model != "llama" {
		return nil, fmt.Errorf("tokenizer model %q is not supported; whisperc reads SentencePiece (\"llama\") vocabularies from GGUF files", v.Model)
	}
	if len(v.Scores) != len(v.Tokens) {
		return nil, fmt.Errorf("tokenizer.ggml.scores has %d entries for %d tokens", len(v.Scores), len(v.Tokens))
	}
	pieces := make([]string, len(v.Tokens))
	for i, p := range v.Tokens {
		pieces[i] = strings.ReplaceAll(p, spaceMarker, " ")
	}
	orDefault := func(id, def int) int {
		if id < 0 {
			return def
		}
		return id
	}
	if len(pieces) <= llama2cEOS && (v.BOS < 0 || v.EOS < 0 || v.UNK < 0) {
		return nil, fmt.Errorf("%d tokens is too few for the default special tokens <unk>=0, <s>=1, </s>=2", len(pieces))
	}
	return NewBPE(pieces, v.Scores, orDefault(v.BOS, llama2cBOS), orDefault(v.EOS, llama2cEOS), orDefault(v.UNK, llama2cUnk))
}

// GGUFVocab returns t as a GGUF vocabulary: pieces with "▁" for spaces,
// scores, and token types (unknown, control for BOS/EOS, byte for
// "<0xXX>" pieces, normal otherwise). llama2.c's tokenizer.bin wraps the
// BOS and EOS pieces in newlines ("\n</s>\n"); they are written as
// SentencePiece names them ("</s>"), the text by which llama.cpp
// recognises EOS as an end-of-generation token.
func GGUFVocab(t *BPE) *gguf.Vocab {
	v := &gguf.Vocab{Model: "llama", BOS: t.bos, EOS: t.eos, UNK: t.unk, PAD: -1, AddBOS: true}
	n := t.VocabSize()
	v.Tokens = make([]string, n)
	v.Scores = append([]float32(nil), t.scores...)
	v.Types = make([]int32, n)
	for i := range n {
		p := t.piece(i)
		v.Tokens[i] = strings.ReplaceAll(string(p), " ", spaceMarker)
		_, isByte := byteToken(string(p))
		switch {
		case i == t.unk:
			v.Types[i] = gguf.TokenUnknown
		case i == t.bos || i == t.eos:
			v.Types[i] = gguf.TokenControl
			v.Tokens[i] = strings.Trim(v.Tokens[i], "\n")
		case isByte && len(p) == 6:
			v.Types[i] = gguf.TokenByte
		default:
			v.Types[i] = gguf.TokenNormal
		}
	}
	return v
}
