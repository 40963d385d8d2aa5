package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Segment is a part of a rendered record; Loss reports whether its tokens
// are targets that carry loss (responses do, prompts do not).
type Segment struct {
	Text string
	Loss bool
}

// Record is one example as read, rendered with its template.
type Record struct {
	// Where is "file:line" of the record's first line.
	Where    string
	Segments []Segment
}

// The templates of instruction and chat records. The prompt part carries
// no loss; the response or assistant turn does, followed by EOS.
const (
	instructionHeader = "### Instruction:\n"
	inputHeader       = "\n\n### Input:\n"
	responseHeader    = "\n\n### Response:\n"
	userHeader        = "### User:\n"
	systemHeader      = "### System:\n"
	assistantHeader   = "### Assistant:\n"
	turnEnd           = "\n\n"
)

// maxProblems bounds how many skipped records are described.
const maxProblems = 10

// RecordError is a bad record: the file and line, and why.
type RecordError struct {
	File string
	Line int
	Why  string
}

func (e *RecordError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Why) }

// ReadFile reads the records of the file at path. With o.SkipBad a bad
// record is skipped, counted and described (the first few) instead of
// failing the read.
func ReadFile(path string, o Options) (recs []Record, skipped int, problems []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return Read(f, path, o)
}

// Read reads records from r; name is the file name used in messages.
func Read(r io.Reader, name string, o Options) (recs []Record, skipped int, problems []string, err error) {
	bad := func(e *RecordError) error {
		if !o.SkipBad {
			return e
		}
		skipped++
		if len(problems) < maxProblems {
			problems = append(problems, e.Error())
		}
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	line := 0
	switch o.Format {
	case FormatJSONL:
		field := o.Field
		if field == "" {
			field = "text"
		}
		for sc.Scan() {
			line++
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			rec, e := parseJSONL(b, field)
			if e != nil {
				if err := bad(&RecordError{File: name, Line: line, Why: e.Error()}); err != nil {
					return nil, skipped, problems, err
				}
				continue
			}
			rec.Where = fmt.Sprintf("%s:%d", name, line)
			recs = append(recs, rec)
		}
	case FormatText:
		var doc strings.Builder
		first := 0
		flush := func() {
			if doc.Len() > 0 {
				recs = append(recs, Record{Where: fmt.Sprintf("%s:%d", name, first), Segments: []Segment{{Text: doc.String(), Loss: true}}})
				doc.Reset()
			}
		}
		for sc.Scan() {
			line++
			text := strings.TrimRight(sc.Text(), "\r")
			if strings.TrimSpace(text) == "" {
				flush()
				continue
			}
			if doc.Len() == 0 {
				first = line
			} else {
				doc.WriteByte('\n')
			}
			doc.WriteString(text)
		}
		flush()
	default:
		return nil, 0, nil, fmt.Errorf("data: %s: format %s cannot be read; use text or jsonl", name, o.Format)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, skipped, problems, &RecordError{File: name, Line: line + 1, Why: fmt.Sprintf("line longer than %d bytes", MaxLine)}
		}
		return nil, skipped, problems, fmt.Errorf("data: %s: %w", name, err)
	}
	return recs, skipped, problems, nil
}

// parseJSONL reads one JSON object and renders it by its shape.
func parseJSONL(b []byte, field string) (Record, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return Record{}, fmt.Errorf("invalid JSON: %v", err)
	}
	if raw, ok := obj[field]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if strings.TrimSpace(s) == "" {
				return Record{}, fmt.Errorf("field %q is empty", field)
			}
			return Record{Segments: []Segment{{Text: s, Loss: true}}}, nil
		}
		var msgs []message
		if err := json.Unmarshal(raw, &msgs); err != nil {
			return Record{}, fmt.Errorf("field %q is neither a string nor a list of {role, content} messages", field)
		}
		return renderChat(msgs, field)
	}
	if _, ok := obj["instruction"]; ok {
		return renderInstruction(obj)
	}
	return Record{}, fmt.Errorf("no field %q (nor instruction/output for instruction data)", field)
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// renderChat renders messages with the chat template; assistant turns
// carry loss.
func renderChat(msgs []message, field string) (Record, error) {
	var r Record
	var prompt strings.Builder
	answered := false
	for i, m := range msgs {
		if strings.TrimSpace(m.Content) == "" {
			return Record{}, fmt.Errorf("%s[%d] has empty content", field, i)
		}
		switch m.Role {
		case "system":
			prompt.WriteString(systemHeader + m.Content + turnEnd)
		case "user":
			prompt.WriteString(userHeader + m.Content + turnEnd)
		case "assistant":
			prompt.WriteString(assistantHeader)
			r.Segments = append(r.Segments, Segment{Text: prompt.String()}, Segment{Text: m.Content, Loss: true})
			prompt.Reset()
			prompt.WriteString(turnEnd)
			answered = true
		default:
			return Record{}, fmt.Errorf("%s[%d] has role %q; want system, user or assistant", field, i, m.Role)
		}
	}
	if !answered {
		return Record{}, fmt.Errorf("%s has no assistant message to learn from", field)
	}
	// Drop the separator after the last answer: the answer ends with EOS.
	return r, nil
}

// renderInstruction renders an instruction/input/output record.
func renderInstruction(obj map[string]json.RawMessage) (Record, error) {
	get := func(k string, required bool) (string, error) {
		raw, ok := obj[k]
		if !ok {
			if required {
				return "", fmt.Errorf("instruction record has no %q", k)
			}
			return "", nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("field %q is not a string", k)
		}
		if required && strings.TrimSpace(s) == "" {
			return "", fmt.Errorf("field %q is empty", k)
		}
		return s, nil
	}
	ins, err := get("instruction", true)
	if err != nil {
		return Record{}, err
	}
	in, err := get("input", false)
	if err != nil {
		return Record{}, err
	}
	out, err := get("output", true)
	if err != nil {
		return Record{}, err
	}
	prompt := instructionHeader + ins
	if strings.TrimSpace(in) != "" {
		prompt += inputHeader + in
	}
	prompt += responseHeader
	return Record{Segments: []Segment{{Text: prompt}, {Text: out, Loss: true}}}, nil
}
