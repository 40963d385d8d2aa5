package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/input"
)

// HFBPE is a Hugging Face tokenizers BPE model read from tokenizer.json, of
// the kind Llama's tokenizer.json uses: a vocabulary, ranked merges, byte
// fallback to "<0xXX>" tokens, added (special) tokens matched literally, and
// SentencePiece-style space handling ("▁") by a Prepend+Replace normalizer
// or a Metaspace pre-tokenizer.
//
// Encode follows the tokenizers library: the text is split around added
// tokens; every other segment is normalised (a "▁" prepended to non-empty
// segments, spaces replaced by "▁"), cut into characters (a character
// missing from the vocabulary becomes its byte tokens), and then the
// adjacent pair with the lowest merge rank is merged until no ranked pair
// remains. Invalid UTF-8 is cut the way llama2.c cuts it: a lead byte with up
// to three following continuation bytes. Decode does what Llama's decoder
// sequence (Replace "▁" by " ", ByteFallback, Fuse, Strip one leading space)
// does, token by token; the file's decoder entry is not read.
type HFBPE struct {
	vocab         map[string]int
	decoded       [][]byte             // what each id decodes to
	merges        map[uint64]mergeRule // by pairKey(left id, right id)
	byteFallback  bool
	bytes         [256]int
	unk           int
	fuseUnk       bool
	added         []addedToken // longest content first
	prepend       prependMode
	split         bool // Metaspace split: one word per "▁"
	bos, eos      int
	stripAfterBOS bool
}

// mergeRule is one ranked merge: the pair's rank and the merged token.
type mergeRule struct {
	rank int
	id   int
}

// pairKey packs two token ids (each below maxHFVocab) into a map key.
func pairKey(l, r int) uint64 { return uint64(l)<<32 | uint64(uint32(r)) }

type addedToken struct {
	ID      int    `json:"id"`
	Content string `json:"content"`
	Special bool   `json:"special"`
}

// hfJSON is the subset of tokenizer.json that HFBPE reads.
type hfJSON struct {
	AddedTokens   []addedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Model         struct {
		Type         string          `json:"type"`
		UnkToken     *string         `json:"unk_token"`
		FuseUnk      bool            `json:"fuse_unk"`
		ByteFallback bool            `json:"byte_fallback"`
		Vocab        map[string]int  `json:"vocab"`
		Merges       json.RawMessage `json:"merges"`
		Continuing   *string         `json:"continuing_subword_prefix"`
		EndOfWord    *string         `json:"end_of_word_suffix"`
	} `json:"model"`
}

// component is one normalizer, pre-tokenizer or decoder entry.
type component struct {
	Type           string                   `json:"type"`
	Normalizers    []component              `json:"normalizers"`
	Pretokenizers  []component              `json:"pretokenizers"`
	Prepend        string                   `json:"prepend"`
	Pattern        struct{ String *string } `json:"pattern"`
	Content        string                   `json:"content"`
	Replacement    string                   `json:"replacement"`
	PrependScheme  string                   `json:"prepend_scheme"`
	AddPrefixSpace *bool                    `json:"add_prefix_space"`
	Split          *bool                    `json:"split"`
}

// prependMode says when a "▁" is prepended to a segment of text.
type prependMode int

const (
	prependNever      prependMode = iota + 1
	prependNormalizer             // Prepend normalizer: every non-empty segment
	prependAlways                 // Metaspace "always": unless it starts with "▁"
	prependFirst                  // Metaspace "first": only the text's first segment
)

// MaxFileBytes bounds what is read of a tokenizer file. The largest real
// ones (tokenizer.json of 256k-token vocabularies) are about 35 MB.
const MaxFileBytes = 256 << 20

// maxHFVocab bounds token ids; a larger id means a corrupt file.
const maxHFVocab = 1 << 23

// ReadHFJSONFile reads a Hugging Face tokenizer.json file.
func ReadHFJSONFile(name string) (*HFBPE, error) {
	data, err := input.ReadFile(name, "tokenizer", MaxFileBytes)
	if err != nil {
		return nil, err
	}
	t, err := ReadHFJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

// ReadHFJSON parses tokenizer.json. It accepts BPE models with merges
// written either as "left right" strings or as [left, right] pairs, and
// reports normalizers, pre-tokenizers and model types it cannot reproduce.
func ReadHFJSON(data []byte) (*HFBPE, error) {
	var h hfJSON
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&h); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	if h.Model.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer.json: model type %q is not supported (BPE)", h.Model.Type)
	}
	if (h.Model.Continuing != nil && *h.Model.Continuing != "") || (h.Model.EndOfWord != nil && *h.Model.EndOfWord != "") {
		return nil, fmt.Errorf("tokenizer.json: continuing_subword_prefix and end_of_word_suffix are not supported")
	}
	t := &HFBPE{vocab: h.Model.Vocab, merges: map[uint64]mergeRule{}, byteFallback: h.Model.ByteFallback, fuseUnk: h.Model.FuseUnk, unk: -1, bos: -1, eos: -1, prepend: prependNever}
	if t.vocab == nil {
		t.vocab = map[string]int{}
	}
	size := 0
	for p, id := range t.vocab {
		if id < 0 || id >= maxHFVocab {
			return nil, fmt.Errorf("tokenizer.json: token %q has id %d, outside 0..%d", p, id, maxHFVocab-1)
		}
		size = max(size, id+1)
	}
	for _, a := range h.AddedTokens {
		if a.ID < 0 || a.ID >= maxHFVocab {
			return nil, fmt.Errorf("tokenizer.json: added token %q has id %d, outside 0..%d", a.Content, a.ID, maxHFVocab-1)
		}
		if a.Content == "" {
			return nil, fmt.Errorf("tokenizer.json: added token %d is empty", a.ID)
		}
		size = max(size, a.ID+1)
	}
	if size == 0 {
		return nil, fmt.Errorf("tokenizer.json: the vocabulary is empty")
	}
	// Ids run from 0 without gaps in real files; bounding the largest id by
	// the number of entries keeps a tiny file from claiming a huge table.
	if size > len(t.vocab)+len(h.AddedTokens) {
		return nil, fmt.Errorf("tokenizer.json: the largest token id is %d but there are only %d tokens", size-1, len(t.vocab)+len(h.AddedTokens))
	}
	t.decoded = make([][]byte, size)
	for i := range t.bytes {
		t.bytes[i] = -1
	}
	for p, id := range t.vocab {
		if b, ok := byteToken(p); ok && len(p) == 6 && t.byteFallback {
			t.decoded[id] = byteStrings[b : int(b)+1 : int(b)+1]
			t.bytes[b] = id
			continue
		}
		t.decoded[id] = []byte(strings.ReplaceAll(p, spaceMarker, " "))
	}
	for _, a := range h.AddedTokens {
		t.decoded[a.ID] = []byte(a.Content)
		t.vocab[a.Content] = a.ID
		t.added = append(t.added, a)
		// llama2.c's exports spell BOS and EOS "\n<s>\n" and "\n</s>\n".
		switch strings.TrimSpace(a.Content) {
		case "<s>", "<|begin_of_text|>":
			if t.bos < 0 {
				t.bos = a.ID
			}
		case "</s>", "<|end_of_text|>":
			if t.eos < 0 {
				t.eos = a.ID
			}
		}
	}
	if err := t.readTemplate(h.PostProcessor); err != nil {
		return nil, err
	}
	slices.SortStableFunc(t.added, func(a, b addedToken) int { return len(b.Content) - len(a.Content) })
	if h.Model.UnkToken != nil {
		id, ok := t.vocab[*h.Model.UnkToken]
		if !ok {
			return nil, fmt.Errorf("tokenizer.json: unk_token %q is not in the vocabulary", *h.Model.UnkToken)
		}
		t.unk = id
	}
	if err := t.readMerges(h.Model.Merges); err != nil {
		return nil, err
	}
	if err := t.readSpaceHandling(h.Normalizer, h.PreTokenizer); err != nil {
		return nil, err
	}
	t.stripAfterBOS = t.prepend != prependNever
	return t, nil
}

// readTemplate takes BOS and EOS from a TemplateProcessing post-processor:
// a special token before the sequence is BOS, one after it EOS.
func (t *HFBPE) readTemplate(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var pp struct {
		Type   string `json:"type"`
		Single []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
			Sequence *struct{} `json:"Sequence"`
		} `json:"single"`
		SpecialTokens map[string]struct {
			IDs []int `json:"ids"`
		} `json:"special_tokens"`
	}
	if err := json.Unmarshal(raw, &pp); err != nil {
		return fmt.Errorf("tokenizer.json: post_processor: %w", err)
	}
	if pp.Type != "TemplateProcessing" {
		return nil
	}
	seenSeq := false
	for _, item := range pp.Single {
		if item.Sequence != nil {
			seenSeq = true
			continue
		}
		if item.SpecialToken == nil {
			continue
		}
		st, ok := pp.SpecialTokens[item.SpecialToken.ID]
		if !ok || len(st.IDs) != 1 || st.IDs[0] < 0 || st.IDs[0] >= len(t.decoded) {
			return fmt.Errorf("tokenizer.json: post_processor special token %q has no single id in the vocabulary", item.SpecialToken.ID)
		}
		if seenSeq {
			t.eos = st.IDs[0]
		} else {
			t.bos = st.IDs[0]
		}
	}
	return nil
}

func (t *HFBPE) readMerges(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("tokenizer.json: merges: %w", err)
	}
	for i, m := range list {
		var l, r string
		var s string
		if err := json.Unmarshal(m, &s); err == nil {
			var ok bool
			if l, r, ok = strings.Cut(s, " "); !ok {
				return fmt.Errorf("tokenizer.json: merge %d %q is not two tokens separated by a space", i, s)
			}
		} else {
			var pair []string
			if err := json.Unmarshal(m, &pair); err != nil || len(pair) != 2 {
				return fmt.Errorf("tokenizer.json: merge %d is neither \"left right\" nor [left, right]", i)
			}
			l, r = pair[0], pair[1]
		}
		id, ok := t.vocab[l+r]
		if !ok {
			return fmt.Errorf("tokenizer.json: merge %d (%q, %q) yields %q, which is not in the vocabulary", i, l, r, l+r)
		}
		li, lok := t.vocab[l]
		ri, rok := t.vocab[r]
		if !lok || !rok {
			continue // can never apply
		}
		if _, dup := t.merges[pairKey(li, ri)]; !dup {
			t.merges[pairKey(li, ri)] = mergeRule{i, id}
		}
	}
	return nil
}

func parseComponent(raw json.RawMessage) (*component, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// readSpaceHandling accepts the normalizers and pre-tokenizers Llama-style
// tokenizers use and reports any other.
func (t *HFBPE) readSpaceHandling(normRaw, preRaw json.RawMessage) error {
	norm, err := parseComponent(normRaw)
	if err != nil {
		return fmt.Errorf("tokenizer.json: normalizer: %w", err)
	}
	replaced := false
	var walkNorm func(c component) error
	walkNorm = func(c component) error {
		switch c.Type {
		case "Sequence":
			for _, n := range c.Normalizers {
				if err := walkNorm(n); err != nil {
					return err
				}
			}
		case "Prepend":
			if c.Prepend != spaceMarker {
				return fmt.Errorf("tokenizer.json: Prepend normalizer with %q is not supported (only %q)", c.Prepend, spaceMarker)
			}
			t.prepend = prependNormalizer
		case "Replace":
			if c.Pattern.String == nil || *c.Pattern.String != " " || c.Content != spaceMarker {
				return fmt.Errorf("tokenizer.json: only the Replace normalizer of \" \" by %q is supported", spaceMarker)
			}
			replaced = true
		default:
			return fmt.Errorf("tokenizer.json: normalizer %q is not supported", c.Type)
		}
		return nil
	}
	if norm != nil {
		if err := walkNorm(*norm); err != nil {
			return err
		}
	}
	pre, err := parseComponent(preRaw)
	if err != nil {
		return fmt.Errorf("tokenizer.json: pre_tokenizer: %w", err)
	}
	if pre != nil {
		if pre.Type == "Sequence" && len(pre.Pretokenizers) == 1 {
			pre = &pre.Pretokenizers[0]
		}
		if pre.Type != "Metaspace" || (pre.Replacement != "" && pre.Replacement != spaceMarker) {
			return fmt.Errorf("tokenizer.json: pre_tokenizer %q is not supported (Metaspace with %q)", pre.Type, spaceMarker)
		}
		replaced = true
		switch pre.PrependScheme {
		case "":
			if pre.AddPrefixSpace == nil || *pre.AddPrefixSpace {
				t.prepend = prependAlways
			}
		case "always":
			t.prepend = prependAlways
		case "first":
			t.prepend = prependFirst
		case "never":
		default:
			return fmt.Errorf("tokenizer.json: Metaspace prepend_scheme %q is not supported", pre.PrependScheme)
		}
		t.split = pre.Split == nil || *pre.Split
	}
	if !replaced {
		return fmt.Errorf("tokenizer.json: neither a Replace normalizer nor a Metaspace pre-tokenizer maps spaces to %q; only SentencePiece-style tokenizers are supported", spaceMarker)
	}
	return nil
}

// VocabSize returns one more than the largest token id.
func (t *HFBPE) VocabSize() int { return len(t.decoded) }

// BOS returns the id of "<s>" (or "<|begin_of_text|>"), -1 if absent.
func (t *HFBPE) BOS() int { return t.bos }

// EOS returns the id of "</s>" (or "<|end_of_text|>"), -1 if absent.
func (t *HFBPE) EOS() int { return t.eos }

// Decode returns the bytes of id: "▁" as a space, byte tokens as their
// byte, and, after BOS, without the leading space the encoder prepended.
func (t *HFBPE) Decode(prev, id int) []byte {
	if id < 0 || id >= len(t.decoded) {
		return nil
	}
	p := t.decoded[id]
	if t.stripAfterBOS && prev == t.bos && prev >= 0 && len(p) > 0 && p[0] == ' ' {
		p = p[1:]
	}
	return p
}

// Encode returns the ids of text; see HFBPE.
func (t *HFBPE) Encode(text string, bos, eos bool) []int {
	var ids []int
	if bos && t.bos >= 0 {
		ids = append(ids, t.bos)
	}
	for first := true; text != ""; first = false {
		at, tok := t.nextAdded(text)
		if at > 0 {
			ids = t.encodeSegment(ids, text[:at], first)
		}
		if tok == nil {
			break
		}
		ids = append(ids, tok.ID)
		text = text[at+len(tok.Content):]
	}
	if eos && t.eos >= 0 {
		ids = append(ids, t.eos)
	}
	return ids
}

// nextAdded finds the first added token in text (the longest at that
// position). It returns len(text) and nil when there is none.
func (t *HFBPE) nextAdded(text string) (int, *addedToken) {
	best, bestTok := len(text), (*addedToken)(nil)
	for i := range t.added {
		a := &t.added[i]
		if j := strings.Index(text[:min(len(text), best+len(a.Content))], a.Content); j >= 0 && j < best {
			best, bestTok = j, a
		}
	}
	return best, bestTok
}

func (t *HFBPE) encodeSegment(ids []int, seg string, first bool) []int {
	s := strings.ReplaceAll(seg, " ", spaceMarker)
	if s != "" {
		switch {
		case t.prepend == prependNormalizer:
			s = spaceMarker + s
		case t.prepend == prependAlways || (t.prepend == prependFirst && first):
			if !strings.HasPrefix(s, spaceMarker) {
				s = spaceMarker + s
			}
		}
	}
	if !t.split {
		return t.encodeWord(ids, s)
	}
	// Metaspace split: a new word starts at every "▁" but the first byte.
	start := 0
	for i := 1; i < len(s); i++ {
		if strings.HasPrefix(s[i:], spaceMarker) {
			ids = t.encodeWord(ids, s[start:i])
			start = i
		}
	}
	return t.encodeWord(ids, s[start:])
}

// encodeWord runs BPE over one word: characters (or their byte tokens, or
// unk) as the first symbols, then merges of the lowest-ranked adjacent pair
// until none applies. Pairs are ranked by token ids, as the tokenizers
// library does, and each pair's rank is recomputed only next to a merge.
func (t *HFBPE) encodeWord(ids []int, w string) []int {
	start := len(ids)
	for i := 0; i < len(w); {
		j := i + 1
		for j < len(w) && w[j]&0xC0 == 0x80 && j-i < 4 {
			j++
		}
		c := w[i:j]
		i = j
		if id, ok := t.vocab[c]; ok {
			ids = append(ids, id)
			continue
		}
		if t.byteFallback {
			all := true
			for k := 0; k < len(c); k++ {
				all = all && t.bytes[c[k]] >= 0
			}
			if all {
				for k := 0; k < len(c); k++ {
					ids = append(ids, t.bytes[c[k]])
				}
				continue
			}
		}
		if t.unk < 0 || (t.fuseUnk && len(ids) > start && ids[len(ids)-1] == t.unk) {
			continue
		}
		ids = append(ids, t.unk)
	}
	syms := ids[start:]
	if len(syms) < 2 {
		return ids
	}
	const none = -1
	rank := make([]int, len(syms)-1) // rank of the pair (syms[i], syms[i+1])
	pair := func(i int) int {
		if m, ok := t.merges[pairKey(syms[i], syms[i+1])]; ok {
			return m.rank
		}
		return none
	}
	for i := range rank {
		rank[i] = pair(i)
	}
	for {
		best := none
		for i, r := range rank {
			if r != none && (best == none || r < rank[best]) {
				best = i
			}
		}
		if best == none {
			break
		}
		syms[best] = t.merges[pairKey(syms[best], syms[best+1])].id
		syms = append(syms[:best+1], syms[best+2:]...)
		rank = append(rank[:best], rank[best+1:]...)
		if best < len(rank) {
			rank[best] = pair(best)
		}
		if best > 0 {
			rank[best-1] = pair(best - 1)
		}
	}
	return ids[:start+len(syms)]
}

// HFTokenizerJSON renders a SentencePiece vocabulary as a Llama-style
// tokenizer.json: the pieces (spaces as "▁"), merges derived from the
// scores the way transformers' SentencePieceExtractor derives them (every
// split of a piece into two pieces, ranked by the merged piece's score,
// best first, then by the ids of the halves), byte fallback, and <unk>,
// <s>, </s> as special added tokens.
func HFTokenizerJSON(t *BPE) ([]byte, error) {
	vocab := map[string]int{}
	names := make([]string, t.VocabSize())
	for id := range names {
		n := strings.ReplaceAll(string(t.piece(id)), " ", spaceMarker)
		names[id] = n
		if _, dup := vocab[n]; !dup {
			vocab[n] = id
		}
	}
	type merge struct {
		l, r   string
		score  float32
		li, ri int
	}
	var merges []merge
	for id, p := range names {
		if vocab[p] != id {
			continue
		}
		for k := 1; k < len(p); k++ {
			l, r := p[:k], p[k:]
			li, lok := vocab[l]
			ri, rok := vocab[r]
			if lok && rok {
				merges = append(merges, merge{l, r, t.scores[id], li, ri})
			}
		}
	}
	slices.SortStableFunc(merges, func(a, b merge) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		case a.li != b.li:
			return a.li - b.li
		}
		return a.ri - b.ri
	})
	ms := make([][2]string, len(merges))
	for i, m := range merges {
		ms[i] = [2]string{m.l, m.r}
	}
	var added []map[string]any
	for _, id := range []int{t.unk, t.bos, t.eos} {
		added = append(added, map[string]any{"id": id, "content": names[id], "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})
	}
	doc := map[string]any{
		"version": "1.0",
		"post_processor": map[string]any{
			"type": "TemplateProcessing",
			"single": []any{
				map[string]any{"SpecialToken": map[string]any{"id": names[t.bos], "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
			},
			"special_tokens": map[string]any{names[t.bos]: map[string]any{"id": names[t.bos], "ids": []int{t.bos}, "tokens": []string{names[t.bos]}}},
		},
		"added_tokens": added,
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": spaceMarker},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": spaceMarker},
		}},
		"pre_tokenizer": nil,
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": spaceMarker}, "content": " "},
			map[string]any{"type": "ByteFallback"},
			map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0},
		}},
		"model": map[string]any{
			"type": "BPE", "unk_token": names[t.unk], "fuse_unk": true, "byte_fallback": true,
			"vocab": vocab, "merges": ms,
		},
	}
	return json.Marshal(doc)
}
