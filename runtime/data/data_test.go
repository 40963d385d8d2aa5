package data

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
)

// bytesTok is a tokenizer with one token per byte (ids 3..258), BOS 1 and
// EOS 2: what it encodes is easy to read back in tests.
type bytesTok struct{}

func (bytesTok) Encode(text string, bos, eos bool) []int {
	var ids []int
	if bos {
		ids = append(ids, 1)
	}
	for _, b := range []byte(text) {
		ids = append(ids, int(b)+3)
	}
	if eos {
		ids = append(ids, 2)
	}
	return ids
}
func (bytesTok) BOS() int       { return 1 }
func (bytesTok) EOS() int       { return 2 }
func (bytesTok) VocabSize() int { return 259 }

// text returns the bytes of the targets that carry loss.
func lossText(s Sequence) string {
	var b strings.Builder
	for i, w := range s.Weights {
		if w != 0 && s.Targets[i] >= 3 {
			b.WriteByte(byte(s.Targets[i] - 3))
		}
	}
	return b.String()
}

func TestTextDocumentsAndTruncation(t *testing.T) {
	src := "one two\nthree\n\n\nfour\n"
	recs, _, _, err := Read(strings.NewReader(src), "a.txt", Options{Format: FormatText})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Where != "a.txt:1" || recs[1].Where != "a.txt:5" || recs[0].Segments[0].Text != "one two\nthree" {
		t.Fatalf("records = %+v", recs)
	}
	s, err := Build(recs, bytesTok{}, Options{SeqLen: 8, Truncate: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Train) != 2 || s.Truncated != 1 {
		t.Fatalf("train %d, truncated %d", len(s.Train), s.Truncated)
	}
	// "one two\nthree" is cut to BOS + 8 bytes: targets are 8 bytes.
	if got := lossText(s.Train[0]); got != "one two\n" {
		t.Errorf("first sequence's targets = %q", got)
	}
	// "four" + EOS: 5 targets, the rest padding without loss.
	if s.Train[1].Tokens() != 5 || lossText(s.Train[1]) != "four" || s.Train[1].Targets[4] != 2 {
		t.Errorf("second sequence = %+v", s.Train[1])
	}
	if s.Train[0].Inputs[0] != 1 {
		t.Errorf("sequences start with BOS, got %d", s.Train[0].Inputs[0])
	}
}

// An example longer than a sequence is a bad record unless truncation or
// packing was asked for: an error naming its file, line and lengths, or
// skipped, counted and described with on_bad_record = skip.
func TestLongRecordIsBad(t *testing.T) {
	// Line 1 fits (BOS + 7 bytes + EOS = 9 = SeqLen+1); line 3 is one token
	// too long; line 4 is far too long.
	src := "{\"text\": \"1234567\"}\n\n{\"text\": \"12345678\"}\n{\"text\": \"0123456789abcdef\"}\n{\"text\": \"ok\"}\n"
	read := func(o Options) []Record {
		recs, _, _, err := Read(strings.NewReader(src), "d.jsonl", Options{Format: FormatJSONL, Field: "text", SkipBad: o.SkipBad})
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	o := Options{SeqLen: 8}
	_, err := Build(read(o), bytesTok{}, o)
	want := "d.jsonl:3: the example is 10 tokens long (BOS and EOS included); a sequence of seq_len = 8 holds at most 9"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	o.SkipBad = true
	s, err := Build(read(o), bytesTok{}, o)
	if err != nil {
		t.Fatal(err)
	}
	if s.Skipped != 2 || s.LongSkipped != 2 || s.Truncated != 0 || len(s.Train) != 2 || len(s.Problems) != 2 ||
		!strings.HasPrefix(s.Problems[0], "d.jsonl:3: ") || !strings.HasPrefix(s.Problems[1], "d.jsonl:4: the example is 18 tokens") {
		t.Fatalf("skip: %d skipped (%d long), %d truncated, %d train, problems %q", s.Skipped, s.LongSkipped, s.Truncated, len(s.Train), s.Problems)
	}
	for _, q := range s.Train {
		if got := lossText(q); got != "1234567" && got != "ok" {
			t.Errorf("kept %q", got)
		}
	}
	// Asked for: truncation keeps all four, cut; packing splits them across
	// sequences so that every token is a target once.
	s, err = Build(read(Options{}), bytesTok{}, Options{SeqLen: 8, Truncate: true})
	if err != nil || len(s.Train) != 4 || s.Truncated != 2 || s.Skipped != 0 {
		t.Fatalf("truncate: %v, %+v", err, s)
	}
	s, err = Build(read(Options{}), bytesTok{}, Options{SeqLen: 8, Pack: true})
	if err != nil || s.Truncated != 0 || s.Skipped != 0 {
		t.Fatalf("pack: %v, %+v", err, s)
	}
	n := 0
	for _, q := range s.Train {
		n += q.Tokens()
	}
	if n != 9+10+18+4-4 {
		t.Errorf("packing kept %d targets, want every token but each example's BOS", n)
	}
	// Nothing that fits: the run has nothing to train on, said either way.
	if _, err := Build(read(o)[1:3], bytesTok{}, o); err == nil || !strings.Contains(err.Error(), "no usable example (2 skipped)") {
		t.Errorf("all long and skipped: %v", err)
	}
}

func TestJSONLShapes(t *testing.T) {
	src := `{"text": "plain"}
{"instruction": "Add", "input": "1 and 2", "output": "3"}
{"text": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Ciao"}]}
`
	recs, _, _, err := Read(strings.NewReader(src), "d.jsonl", Options{Format: FormatJSONL, Field: "text"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Build(recs, bytesTok{}, Options{SeqLen: 200})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"plain", "3", "HelloCiao"}
	for i, w := range want {
		if got := lossText(s.Train[i]); got != w {
			t.Errorf("record %d: loss on %q, want %q", i, got, w)
		}
	}
	// The instruction record's prompt is rendered with the template.
	var in strings.Builder
	for _, id := range s.Train[1].Inputs {
		if id >= 3 {
			in.WriteByte(byte(id - 3))
		}
	}
	if !strings.HasPrefix(in.String(), "### Instruction:\nAdd\n\n### Input:\n1 and 2\n\n### Response:\n3") {
		t.Errorf("instruction rendered as %q", in.String())
	}
	// Answers end with EOS, which carries loss.
	for i, seq := range s.Train {
		n := seq.Tokens()
		last := -1
		for j, w := range seq.Weights {
			if w != 0 {
				last = j
			}
		}
		if n == 0 || seq.Targets[last] != 2 {
			t.Errorf("record %d does not end its loss with EOS", i)
		}
	}
}

func TestBadRecordsNameFileAndLine(t *testing.T) {
	cases := []struct{ src, want string }{
		{"{\"text\": \"ok\"}\n{oops\n", "d.jsonl:2: invalid JSON"},
		{"{\"text\": \"ok\"}\n\n{\"body\": \"x\"}\n", `d.jsonl:3: no field "text"`},
		{"{\"text\": \"  \"}\n", `d.jsonl:1: field "text" is empty`},
		{"{\"text\": 3}\n", `d.jsonl:1: field "text" is neither a string nor a list`},
		{"{\"instruction\": \"x\"}\n", `d.jsonl:1: instruction record has no "output"`},
		{"{\"text\": [{\"role\": \"bot\", \"content\": \"x\"}]}\n", `d.jsonl:1: text[0] has role "bot"`},
		{"{\"text\": [{\"role\": \"user\", \"content\": \"x\"}]}\n", `d.jsonl:1: text has no assistant message`},
		{"[1, 2]\n", "d.jsonl:1: invalid JSON"},
	}
	for _, c := range cases {
		_, _, _, err := Read(strings.NewReader(c.src), "d.jsonl", Options{Format: FormatJSONL, Field: "text"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.src, err, c.want)
		}
		recs, skipped, problems, err := Read(strings.NewReader(c.src), "d.jsonl", Options{Format: FormatJSONL, Field: "text", SkipBad: true})
		if err != nil || skipped != 1 || len(problems) != 1 || !strings.Contains(problems[0], c.want) {
			t.Errorf("%q with SkipBad: %d records, %d skipped %v, err %v", c.src, len(recs), skipped, problems, err)
		}
	}
}

func TestOverlongLineIsAnError(t *testing.T) {
	src := "{\"text\": \"" + strings.Repeat("a", MaxLine) + "\"}\n"
	_, _, _, err := Read(strings.NewReader(src), "big.jsonl", Options{Format: FormatJSONL})
	if err == nil || !strings.Contains(err.Error(), "big.jsonl:1: line longer than") {
		t.Fatalf("error %v", err)
	}
}

func TestNothingToTrainOnIsAnError(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(p, []byte("{oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p, bytesTok{}, Options{Format: FormatJSONL, SeqLen: 4, SkipBad: true}); err == nil || !strings.Contains(err.Error(), "no usable record (1 skipped)") {
		t.Fatalf("error %v", err)
	}
	recs := []Record{{Segments: []Segment{{Text: "a", Loss: true}}}, {Segments: []Segment{{Text: "b", Loss: true}}}}
	if _, err := Build(recs, bytesTok{}, Options{SeqLen: 4, EvalExamples: 2}); err == nil {
		t.Fatal("an evaluation split of every example must be refused")
	}
}

func TestPackingCoversEveryTokenOnce(t *testing.T) {
	var recs []Record
	for _, w := range []string{"alpha", "be", "gamma delta"} {
		recs = append(recs, Record{Segments: []Segment{{Text: w, Loss: true}}})
	}
	s, err := Build(recs, bytesTok{}, Options{SeqLen: 4, Pack: true})
	if err != nil {
		t.Fatal(err)
	}
	// Stream: B alpha E B be E B gamma delta E = 25 tokens, 24 targets
	// in 6 sequences of 4; every target but the 2 later BOS tokens (the
	// start of an unrelated example is not predictable) carries loss.
	var got []int32
	total := 0
	for _, seq := range s.Train {
		got = append(got, seq.Targets...)
		total += seq.Tokens()
	}
	want := bytesTok{}.Encode("alpha", true, true)
	want = append(want, bytesTok{}.Encode("be", true, true)...)
	want = append(want, bytesTok{}.Encode("gamma delta", true, true)...)
	if len(s.Train) != 6 || total != len(want)-3 {
		t.Fatalf("%d sequences with %d loss tokens, want 6 and %d", len(s.Train), total, len(want)-3)
	}
	for i := range len(want) - 1 {
		if int(got[i]) != want[i+1] {
			t.Fatalf("target %d = %d, want %d", i, got[i], want[i+1])
		}
	}
}

func TestShuffleAndSplitAreSeeded(t *testing.T) {
	var recs []Record
	for i := range 40 {
		recs = append(recs, Record{Segments: []Segment{{Text: strings.Repeat(string(rune('a'+i%26)), 1+i%5), Loss: true}}})
	}
	o := Options{SeqLen: 8, Shuffle: true, Seed: 7, EvalPercent: 10}
	a, err := Build(recs, bytesTok{}, o)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Build(recs, bytesTok{}, o)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave different sets")
	}
	if len(a.Eval) != 4 || len(a.Train) != 36 {
		t.Fatalf("eval %d, train %d; want 4 and 36", len(a.Eval), len(a.Train))
	}
	o.Seed = 8
	c, _ := Build(recs, bytesTok{}, o)
	if reflect.DeepEqual(a.Eval, c.Eval) {
		t.Error("another seed held out the same examples")
	}
	if p, q := Order(36, 7, 0, true), Order(36, 7, 1, true); reflect.DeepEqual(p, q) {
		t.Error("two epochs visit in the same order")
	}
	if p := Order(3, 7, 0, false); !reflect.DeepEqual(p, []int{0, 1, 2}) {
		t.Errorf("unshuffled order %v", p)
	}
}

// TestShippedStories loads the example data with the real tokenizer.
func TestShippedStories(t *testing.T) {
	tok, err := tokenizer.ReadLlama2CFile(testmodels.Path(t, "tok512.bin"), 512)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join("..", "..", "examples", "data", "stories.jsonl")
	s, err := Load(p, tok, Options{Format: FormatJSONL, Field: "text", SeqLen: 128, Truncate: true, EvalPercent: 5, Shuffle: true, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	if s.Skipped != 0 || len(s.Eval) == 0 || len(s.Train) < 50 {
		t.Fatalf("records %d, skipped %d, train %d, eval %d", s.Records, s.Skipped, len(s.Train), len(s.Eval))
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte("{\"text\": \"hello\"}\n{\"instruction\": \"a\", \"output\": \"b\"}\n"), true)
	f.Add([]byte("{\"text\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}]}\n"), true)
	f.Add([]byte("doc one\n\ndoc two\n"), false)
	if b, err := os.ReadFile(filepath.Join("..", "..", "examples", "data", "stories.jsonl")); err == nil {
		f.Add(b[:min(len(b), 2000)], true)
	}
	f.Fuzz(func(t *testing.T, src []byte, jsonl bool) {
		o := Options{Format: FormatText, SeqLen: 8, Pack: len(src)%2 == 0, EvalExamples: 1, Shuffle: true, SkipBad: len(src)%3 == 0}
		if jsonl {
			o.Format = FormatJSONL
		}
		recs, skipped, _, err := Read(bytes.NewReader(src), "f", o)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		if skipped > 0 && !o.SkipBad {
			t.Fatal("skipped without SkipBad")
		}
		s, err := Build(recs, bytesTok{}, o)
		if err != nil {
			return
		}
		for _, seq := range append(s.Train, s.Eval...) {
			if len(seq.Inputs) != 8 || len(seq.Targets) != 8 || len(seq.Weights) != 8 || seq.Tokens() == 0 {
				t.Fatalf("bad sequence %+v", seq)
			}
		}
	})
}
