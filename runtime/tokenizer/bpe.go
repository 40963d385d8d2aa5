package tokenizer

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"math"
)

// BPE is a SentencePiece-style byte-pair-encoding vocabulary: pieces with
// merge scores, encoded by greedily merging the adjacent pair whose merged
// piece has the highest score, and with byte-fallback tokens "<0xXX>".
//
// The pieces live in one byte slice with their offsets, and the lookup
// from text to id is an open-addressing table of ids: about 0.7 MB for
// the 32,000-piece Llama vocabulary, where a slice of pieces and a Go map
// of strings took 3.2 MB, which every run held for its whole life.
//
// Its zero value is not usable; build one with NewBPE.
type BPE struct {
	text   []byte   // every piece's bytes, in id order
	offs   []uint32 // piece id spans text[offs[id]:offs[id+1]]
	scores []float32
	index  []int32 // open addressing by maphash of the piece: id+1, or 0 when empty
	seed   maphash.Seed
	bytes  [256]int // id of "<0xXX>" for each byte, or -1
	bos    int
	eos    int
	unk    int
	// dummyPrefix is whether Encode prepends a space token to non-empty
	// text (SentencePiece's add_dummy_prefix).
	dummyPrefix bool
}

// NewBPE builds a vocabulary from pieces and their scores (len(scores) must
// equal len(pieces)) and the ids of the special tokens. When two pieces
// spell the same string the lower id wins.
func NewBPE(pieces []string, scores []float32, bos, eos, unk int) (*BPE, error) {
	if len(pieces) != len(scores) {
		return nil, fmt.Errorf("tokenizer: %d pieces but %d scores", len(pieces), len(scores))
	}
	for _, id := range []int{bos, eos, unk} {
		if id < 0 || id >= len(pieces) {
			return nil, fmt.Errorf("tokenizer: special token id %d is outside the vocabulary of %d", id, len(pieces))
		}
	}
	total := 0
	for _, p := range pieces {
		total += len(p)
	}
	if total > math.MaxUint32 || len(pieces) > math.MaxInt32/2 {
		return nil, fmt.Errorf("tokenizer: %d pieces of %d bytes is beyond any vocabulary", len(pieces), total)
	}
	size := 1
	for size < 2*len(pieces) {
		size <<= 1
	}
	t := &BPE{
		text:        make([]byte, 0, total),
		offs:        make([]uint32, 1, len(pieces)+1),
		scores:      scores,
		index:       make([]int32, size),
		seed:        maphash.MakeSeed(),
		bos:         bos,
		eos:         eos,
		unk:         unk,
		dummyPrefix: true,
	}
	for i := range t.bytes {
		t.bytes[i] = -1
	}
	for i, p := range pieces {
		t.text = append(t.text, p...)
		t.offs = append(t.offs, uint32(len(t.text)))
		// The lower id wins: a later duplicate is not indexed.
		if slot, found := t.slotString(p); !found {
			t.index[slot] = int32(i + 1)
		}
		if b, ok := byteToken(p); ok && t.bytes[b] < 0 {
			t.bytes[b] = i
		}
	}
	return t, nil
}

// slotString returns the index slot that holds piece s (found) or where it
// would go. The table is at most half full, so the probe ends.
func (t *BPE) slotString(s string) (slot int, found bool) {
	mask := len(t.index) - 1
	for i := int(maphash.String(t.seed, s)) & mask; ; i = (i + 1) & mask {
		id := int(t.index[i]) - 1
		if id < 0 || string(t.piece(id)) == s {
			return i, id >= 0
		}
	}
}

// findString returns the id of the piece spelling s.
func (t *BPE) findString(s string) (int, bool) {
	slot, ok := t.slotString(s)
	return int(t.index[slot]) - 1, ok
}

// findBytes returns the id of the piece spelling b (maphash hashes a byte
// slice as it does the string of the same bytes).
func (t *BPE) findBytes(b []byte) (int, bool) {
	mask := len(t.index) - 1
	for i := int(maphash.Bytes(t.seed, b)) & mask; ; i = (i + 1) & mask {
		id := int(t.index[i]) - 1
		if id < 0 {
			return 0, false
		}
		if bytes.Equal(t.piece(id), b) {
			return id, true
		}
	}
}

// piece returns the bytes of id, which must be in the vocabulary, capped
// so that appending to it cannot write into the next piece.
func (t *BPE) piece(id int) []byte {
	a, b := t.offs[id], t.offs[id+1]
	return t.text[a:b:b]
}

// byteToken parses a byte-fallback piece. Like llama2.c (sscanf
// "<0x%02hhX>") it accepts "<0x" followed by one or two hex digits.
func byteToken(p string) (byte, bool) {
	if len(p) < 4 || p[:3] != "<0x" {
		return 0, false
	}
	v, n := 0, 0
	for _, c := range []byte(p[3:]) {
		if n == 2 {
			break
		}
		d, ok := hexDigit(c)
		if !ok {
			break
		}
		v, n = v*16+d, n+1
	}
	if n == 0 {
		return 0, false
	}
	return byte(v), true
}

func hexDigit(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// VocabSize returns the number of pieces.
func (t *BPE) VocabSize() int { return len(t.offs) - 1 }

// BOS returns the beginning-of-sequence id.
func (t *BPE) BOS() int { return t.bos }

// EOS returns the end-of-sequence id.
func (t *BPE) EOS() int { return t.eos }

// Piece returns the raw piece of id, or nil outside the vocabulary.
func (t *BPE) Piece(id int) []byte {
	if id < 0 || id >= t.VocabSize() {
		return nil
	}
	return t.piece(id)
}

// Encode returns the ids of text. It follows llama2.c's encode exactly:
// optional BOS; a dummy-prefix space token before non-empty text; one
// token per UTF-8 code point (at most four bytes), falling back to one
// byte token per byte for code points missing from the vocabulary; then
// repeated merging of the adjacent pair with the best-scoring merged piece
// (the leftmost on ties); optional EOS.
func (t *BPE) Encode(text string, bos, eos bool) []int {
	ids := make([]int, 0, len(text)+3)
	if bos {
		ids = append(ids, t.bos)
	}
	if text != "" && t.dummyPrefix {
		if id, ok := t.findString(" "); ok {
			ids = append(ids, id)
		}
	}
	for i := 0; i < len(text); {
		j := i + 1
		for j < len(text) && text[j]&0xC0 == 0x80 && j-i < 4 {
			j++
		}
		if id, ok := t.findString(text[i:j]); ok {
			ids = append(ids, id)
		} else {
			for k := i; k < j; k++ {
				ids = append(ids, t.byteID(text[k]))
			}
		}
		i = j
	}
	var buf []byte
	for len(ids) > 1 {
		best, bestID, bestIdx := float32(-1e10), -1, -1
		for i := 0; i+1 < len(ids); i++ {
			buf = append(append(buf[:0], t.piece(ids[i])...), t.piece(ids[i+1])...)
			id, ok := t.findBytes(buf)
			if ok && t.scores[id] > best {
				best, bestID, bestIdx = t.scores[id], id, i
			}
		}
		if bestIdx < 0 {
			break
		}
		ids[bestIdx] = bestID
		ids = append(ids[:bestIdx+1], ids[bestIdx+2:]...)
	}
	if eos {
		ids = append(ids, t.eos)
	}
	return ids
}

// byteID returns the byte-fallback token of b: the "<0xXX>" piece, or, as
// in llama2.c, id b+3 when the vocabulary has no such piece, or unk.
func (t *BPE) byteID(b byte) int {
	if id := t.bytes[b]; id >= 0 {
		return id
	}
	if int(b)+3 < t.VocabSize() {
		return int(b) + 3
	}
	return t.unk
}

// Decode returns the bytes of id following prev: after BOS a leading space
// is dropped, and a byte-fallback piece "<0xXX>" stands for its byte.
func (t *BPE) Decode(prev, id int) []byte {
	p := t.Piece(id)
	if p == nil {
		return nil
	}
	if prev == t.bos && len(p) > 0 && p[0] == ' ' {
		p = p[1:]
	}
	if b, ok := byteToken(string(p)); ok {
		i := int(b)
		return byteStrings[i : i+1 : i+1]
	}
	return p
}

// byteStrings holds every byte value once, so that Decode can return a
// one-byte slice without allocating.
var byteStrings = func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()
