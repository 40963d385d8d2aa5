package tokenizer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/modelwhisperer/whisperc/lang/input"
)

// Llama2C token ids fixed by llama2.c's tokenizer.bin convention (the
// Llama SentencePiece layout): <unk>=0, <s>=1, </s>=2.
const (
	llama2cUnk = 0
	llama2cBOS = 1
	llama2cEOS = 2
)

// maxLlama2CPiece bounds one piece's length; llama2.c's exported
// vocabularies stay far below it (the 32k Llama vocabulary's longest piece
// is 27 bytes), so a larger length means a corrupt file.
const maxLlama2CPiece = 1 << 16

// ReadLlama2CFile reads a llama2.c tokenizer.bin file. See ReadLlama2C.
func ReadLlama2CFile(name string, vocabSize int) (*BPE, error) {
	data, err := input.ReadFile(name, "tokenizer", MaxFileBytes)
	if err != nil {
		return nil, err
	}
	t, err := ReadLlama2C(data, vocabSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

// ReadLlama2C parses llama2.c's tokenizer.bin: a little-endian int32
// max_token_length, then per token a float32 score, an int32 byte length
// and the piece's bytes. The file does not record how many tokens it holds
// (llama2.c takes the count from the model); vocabSize is that count, and
// when it is zero or negative every entry up to the end of data is read.
// A piece is cut at its first NUL byte, as llama2.c's C strings are.
func ReadLlama2C(data []byte, vocabSize int) (*BPE, error) {
	if len(data) < 4 {
		return nil, fmt.Errorf("llama2.c tokenizer: %d bytes is too short for the header", len(data))
	}
	maxLen := int32(binary.LittleEndian.Uint32(data))
	if maxLen <= 0 || maxLen > maxLlama2CPiece {
		return nil, fmt.Errorf("llama2.c tokenizer: max_token_length %d at byte 0 is out of range (1..%d)", maxLen, maxLlama2CPiece)
	}
	off := 4
	// Each entry takes at least 8 bytes, which bounds what data can hold.
	capHint := (len(data) - off) / 8
	if vocabSize > 0 && vocabSize < capHint {
		capHint = vocabSize
	}
	pieces := make([]string, 0, capHint)
	scores := make([]float32, 0, capHint)
	for vocabSize <= 0 || len(pieces) < vocabSize {
		if vocabSize <= 0 && off == len(data) {
			break
		}
		if len(data)-off < 8 {
			return nil, fmt.Errorf("llama2.c tokenizer: token %d at byte %d: %w", len(pieces), off, io.ErrUnexpectedEOF)
		}
		score := math.Float32frombits(binary.LittleEndian.Uint32(data[off:]))
		n := int32(binary.LittleEndian.Uint32(data[off+4:]))
		if n < 0 || n > maxLen {
			return nil, fmt.Errorf("llama2.c tokenizer: token %d at byte %d has length %d, outside 0..%d (max_token_length)", len(pieces), off, n, maxLen)
		}
		off += 8
		if len(data)-off < int(n) {
			return nil, fmt.Errorf("llama2.c tokenizer: token %d at byte %d: %w", len(pieces), off, io.ErrUnexpectedEOF)
		}
		p := data[off : off+int(n)]
		if i := bytes.IndexByte(p, 0); i >= 0 {
			p = p[:i]
		}
		off += int(n)
		pieces = append(pieces, string(p))
		scores = append(scores, score)
	}
	if len(pieces) <= llama2cEOS {
		return nil, fmt.Errorf("llama2.c tokenizer: %d tokens is too few; <unk>, <s> and </s> must be ids 0, 1 and 2", len(pieces))
	}
	return NewBPE(pieces, scores, llama2cBOS, llama2cEOS, llama2cUnk)
}
