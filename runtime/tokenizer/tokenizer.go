// Package tokenizer turns text into token ids and token ids back into bytes.
//
// Every tokenizer format whisperc reads (llama2.c's tokenizer.bin, the
// vocabulary embedded in GGUF files, Hugging Face tokenizer.json) yields a
// Tokenizer. The llama2.c reader lives in llama2c.go; the others build on
// the same SentencePiece-style byte-pair encoding, exported here as BPE.
package tokenizer

// Tokenizer encodes text to token ids and decodes ids to bytes.
//
// Implementations must not panic on any input: Encode accepts any byte
// string (invalid UTF-8 included) and Decode returns nil for an id outside
// the vocabulary.
type Tokenizer interface {
	// Encode returns the token ids of text, preceded by BOS and followed by
	// EOS when asked.
	Encode(text string, bos, eos bool) []int
	// Decode returns the bytes that token id stands for when it follows
	// token prev in generated text (a piece after BOS loses its leading
	// space, the way SentencePiece decodes). The result must not be
	// modified.
	Decode(prev, id int) []byte
	// VocabSize returns the number of tokens.
	VocabSize() int
	// BOS returns the beginning-of-sequence token id.
	BOS() int
	// EOS returns the end-of-sequence token id.
	EOS() int
}

// Printable reports whether piece may be written to the user as is. It
// mirrors llama2.c's safe_printf: an empty piece, and a single byte that is
// neither printable ASCII nor white space (a lone control byte or a stray
// UTF-8 fragment), are dropped; longer pieces always print.
func Printable(piece []byte) bool {
	switch len(piece) {
	case 0:
		return false
	case 1:
		b := piece[0]
		return (b >= 0x20 && b < 0x7f) || b == ' ' || (b >= '\t' && b <= '\r')
	}
	return true
}
