// Package data turns a training data file into token sequences for the
// trainer: it reads plain text or JSON Lines (plain text records,
// instruction records and chat records), renders each record with its
// template, tokenises it with the model's own tokenizer, marks which
// target tokens carry loss, packs to the sequence length or (when asked)
// truncates to it, shuffles with the seed and holds out the evaluation
// split.
//
// A bad record (invalid JSON, a missing or empty field, an unknown chat
// role, an example longer than a sequence when neither packing nor
// truncation was asked for) is an error naming the file and line, or,
// with Options.SkipBad, is skipped and counted. Reading never allocates beyond what the file
// justifies: a line longer than MaxLine is an error.
package data

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/modelwhisperer/whisperc/stdlib/training"
)

// Format is how a data file is encoded: the one enum of data formats,
// training.DataFormat. The reader reads FormatText and FormatJSONL and
// refuses the others. The zero value is invalid.
type Format = training.DataFormat

// The formats the reader reads.
const (
	FormatInvalid = training.FormatInvalid
	// FormatText is plain text; documents are separated by blank lines.
	FormatText = training.FormatText
	// FormatJSONL is one JSON object per line. The record's shape decides
	// how it is read: Options.Field holding a string is plain text,
	// holding an array of {role, content} messages is a chat; a record
	// without Field that has "instruction" and "output" is an
	// instruction (Alpaca-style) record.
	FormatJSONL = training.FormatJSONL
)

// Reads reports whether the reader reads format f.
func Reads(f Format) bool { return f == FormatText || f == FormatJSONL }

// MaxLine is the longest line (in bytes) a data file may have.
const MaxLine = 16 << 20

// Tokenizer is what the package needs from the model's tokenizer. Encode
// must be safe for concurrent use.
type Tokenizer interface {
	Encode(text string, bos, eos bool) []int
	BOS() int
	EOS() int
	VocabSize() int
}

// Options say how to read and cut the data.
type Options struct {
	Format Format
	// Field names the JSON field holding the text or the chat messages.
	Field string
	// SeqLen is the number of input positions per sequence; a sequence
	// has SeqLen inputs and SeqLen targets (the inputs shifted by one).
	SeqLen int
	// Pack concatenates examples (each BOS … EOS) into one stream cut
	// into full sequences; otherwise each example is one sequence, padded
	// with masked positions.
	Pack bool
	// Truncate cuts an example longer than SeqLen+1 tokens to its first
	// SeqLen+1 (before packing, when both are set). Without it (and
	// without Pack) such an example is a bad record.
	Truncate bool
	// EvalPercent or EvalExamples (when EvalPercent is 0) hold out
	// examples for evaluation, chosen after the seeded shuffle.
	EvalPercent  float64
	EvalExamples int
	// Shuffle orders the examples by Seed before the split.
	Shuffle bool
	Seed    uint64
	// SkipBad skips bad records and counts them instead of failing.
	SkipBad bool
}

// Sequence is one training sequence: Inputs[i] predicts Targets[i], and
// Weights[i] is 1 when that target carries loss (0 for padding and for
// prompt tokens of instruction and chat records).
type Sequence struct {
	Inputs  []int32
	Targets []int32
	Weights []float32
}

// Tokens returns the number of targets that carry loss.
func (s Sequence) Tokens() int {
	n := 0
	for _, w := range s.Weights {
		if w != 0 {
			n++
		}
	}
	return n
}

// Set is a loaded data set.
type Set struct {
	Train, Eval []Sequence
	// Records counts the records read, Skipped those skipped as bad
	// (LongSkipped of them for being longer than a sequence), Truncated
	// the examples cut to the sequence length (only with Options.Truncate).
	Records, Skipped, LongSkipped, Truncated int
	// Problems describes the first skipped records (file:line: why).
	Problems []string
}

// example is one rendered, tokenised record.
type example struct {
	where  string
	tokens []int
	loss   []bool // loss[i] reports whether tokens[i] is a target with loss
}

// Build tokenises the records and cuts them into sequences.
func Build(recs []Record, tok Tokenizer, o Options) (*Set, error) {
	if o.SeqLen < 1 {
		return nil, fmt.Errorf("data: sequence length %d must be at least 1", o.SeqLen)
	}
	if o.EvalPercent < 0 || o.EvalPercent >= 100 || o.EvalExamples < 0 {
		return nil, fmt.Errorf("data: the evaluation split must be below 100%% and not negative")
	}
	// Tokenising is the slow part (byte-pair merging is quadratic in a
	// record's length): records are rendered on every CPU, each into its
	// own slot, so the result does not depend on the schedule.
	exs := make([]example, len(recs))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(recs)))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(recs); i += workers {
				exs[i] = render(recs[i], tok)
				if exs[i].where == "" {
					exs[i].where = fmt.Sprintf("record %d", i+1)
				}
			}
		}()
	}
	wg.Wait()
	s := &Set{Records: len(recs)}
	// An example longer than a sequence (SeqLen inputs and targets: SeqLen+1
	// tokens, BOS and EOS included) is cut when the user asked for it, split
	// across sequences when packing, and otherwise a bad record: silently
	// training on its start would drop the rest (often the answer) unseen.
	// The check runs in file order, before the shuffle, so the error names
	// the first such record and the split does not depend on it.
	kept := exs[:0]
	for _, ex := range exs {
		if len(ex.tokens) > o.SeqLen+1 {
			switch {
			case o.Truncate:
				s.Truncated++
				ex.tokens, ex.loss = ex.tokens[:o.SeqLen+1], ex.loss[:o.SeqLen+1]
			case o.Pack:
			default:
				e := fmt.Errorf("%s: the example is %d tokens long (BOS and EOS included); a sequence of seq_len = %d holds at most %d: raise seq_len, set truncate = true or packing = true",
					ex.where, len(ex.tokens), o.SeqLen, o.SeqLen+1)
				if !o.SkipBad {
					return nil, e
				}
				s.Skipped++
				s.LongSkipped++
				if len(s.Problems) < maxProblems {
					s.Problems = append(s.Problems, e.Error())
				}
				continue
			}
		}
		kept = append(kept, ex)
	}
	exs = kept
	if len(exs) == 0 {
		return nil, fmt.Errorf("data: no usable example (%d skipped)", s.Skipped)
	}
	if o.Shuffle {
		rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
		rng.Shuffle(len(exs), func(i, j int) { exs[i], exs[j] = exs[j], exs[i] })
	}
	nEval := o.EvalExamples
	if o.EvalPercent > 0 {
		nEval = int(float64(len(exs))*o.EvalPercent/100 + 0.5)
		if nEval == 0 && len(exs) >= 2 {
			nEval = 1
		}
	}
	if nEval >= len(exs) {
		return nil, fmt.Errorf("data: the evaluation split takes %d of %d examples and leaves none to train on", nEval, len(exs))
	}
	s.Eval = cut(exs[:nEval], o)
	s.Train = cut(exs[nEval:], o)
	if len(s.Train) == 0 {
		return nil, fmt.Errorf("data: no training sequence")
	}
	return s, nil
}

// render applies the record's template and tokenises it. The prompt part
// of instruction and chat records carries no loss.
func render(r Record, tok Tokenizer) example {
	ex := example{where: r.Where}
	for i, seg := range r.Segments {
		ids := tok.Encode(seg.Text, i == 0, i == len(r.Segments)-1 && seg.Loss)
		for j, id := range ids {
			ex.tokens = append(ex.tokens, id)
			// The first token of the example (BOS) is never a target.
			ex.loss = append(ex.loss, seg.Loss && !(i == 0 && j == 0))
		}
	}
	return ex
}

// cut turns examples into sequences of s.SeqLen positions.
func cut(exs []example, o Options) []Sequence {
	n := o.SeqLen
	var out []Sequence
	if !o.Pack {
		for _, ex := range exs {
			if len(ex.tokens) < 2 {
				continue
			}
			seq := newSequence(n)
			for i := 0; i+1 < len(ex.tokens); i++ {
				seq.Inputs[i] = int32(ex.tokens[i])
				seq.Targets[i] = int32(ex.tokens[i+1])
				if ex.loss[i+1] {
					seq.Weights[i] = 1
				}
			}
			if seq.Tokens() > 0 {
				out = append(out, seq)
			}
		}
		return out
	}
	var toks []int
	var loss []bool
	for _, ex := range exs {
		toks = append(toks, ex.tokens...)
		loss = append(loss, ex.loss...)
	}
	// Windows of n+1 tokens, each starting where the previous one's last
	// target was, so that every token is a target once; a short tail is
	// padded.
	for start := 0; start+1 < len(toks); start += n {
		end := min(start+n+1, len(toks))
		seq := newSequence(n)
		for i := start; i+1 < end; i++ {
			seq.Inputs[i-start] = int32(toks[i])
			seq.Targets[i-start] = int32(toks[i+1])
			if loss[i+1] {
				seq.Weights[i-start] = 1
			}
		}
		if seq.Tokens() > 0 {
			out = append(out, seq)
		}
	}
	return out
}

func newSequence(n int) Sequence {
	return Sequence{Inputs: make([]int32, n), Targets: make([]int32, n), Weights: make([]float32, n)}
}

// Load reads the file at path and builds the set.
func Load(path string, tok Tokenizer, o Options) (*Set, error) {
	recs, skipped, problems, err := ReadFile(path, o)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("data: %s: no usable record (%d skipped)", path, skipped)
	}
	s, err := Build(recs, tok, o)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	// The reader's problems come first (its records never reached Build).
	s.Skipped += skipped
	s.Problems = append(problems, s.Problems...)[:min(maxProblems, len(problems)+len(s.Problems))]
	s.Records += skipped
	return s, nil
}

// Order returns the order in which epoch visits n training sequences: a
// permutation drawn from the seed and the epoch, or 0..n-1 without
// shuffling.
func Order(n int, seed uint64, epoch int, shuffle bool) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	if shuffle {
		rng := rand.New(rand.NewPCG(seed, uint64(epoch)+1))
		rng.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	}
	return p
}
