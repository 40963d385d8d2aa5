package track

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/runtime/track/internal/tfpb"
)

// TensorBoard's event files are TFRecord files of Event protobufs:
//
//	uint64 length (little endian)
//	uint32 masked CRC-32C of the length bytes
//	length bytes of data (a serialised Event)
//	uint32 masked CRC-32C of the data
//
// The first Event carries file_version "brain.Event:2". spec/tracking.md
// names the versions.

// tfFileVersion is the file_version of the first record.
const tfFileVersion = "brain.Event:2"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's masked CRC-32C.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// tfRecord frames data as one TFRecord.
func tfRecord(data []byte) []byte {
	out := make([]byte, 12, 16+len(data))
	binary.LittleEndian.PutUint64(out, uint64(len(data)))
	binary.LittleEndian.PutUint32(out[8:], maskedCRC(out[:8]))
	out = append(out, data...)
	return binary.LittleEndian.AppendUint32(out, maskedCRC(data))
}

// tbBackend writes events.out.tfevents.* in the run directory.
type tbBackend struct{ w *recordWriter }

func openTensorBoard(r *Run) (*tbBackend, error) {
	host, _ := os.Hostname()
	now := r.opts.Now()
	name := filepath.Join(r.Dir, fmt.Sprintf("events.out.tfevents.%d.%s.%d.whisperc", now.Unix(), safeName(host), os.Getpid()))
	f, err := r.opts.create(name)
	if err != nil {
		return nil, err
	}
	b := &tbBackend{w: &recordWriter{f: f, name: name}}
	if err := b.event(&tfpb.Event{WallTime: wallTime(now), What: &tfpb.Event_FileVersion{FileVersion: tfFileVersion}}); err != nil {
		return nil, err
	}
	if r.prog.Track.Logs(compiler.LogConfig) {
		if err := b.event(&tfpb.Event{WallTime: wallTime(now), What: &tfpb.Event_Summary{Summary: textSummary("config", configMarkdown(r.m))}}); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (b *tbBackend) event(e *tfpb.Event) error {
	data, err := proto.Marshal(e)
	if err != nil {
		return err
	}
	return b.w.write(tfRecord(data))
}

func (b *tbBackend) metric(p Point) error {
	step := p.Step
	if step < 0 {
		step = 0
	}
	return b.event(&tfpb.Event{WallTime: wallTime(p.Time), Step: step, What: &tfpb.Event_Summary{Summary: &tfpb.Summary{
		Value: []*tfpb.Summary_Value{{
			Tag:      tagOf(p),
			Metadata: &tfpb.SummaryMetadata{PluginData: &tfpb.SummaryMetadata_PluginData{PluginName: "scalars"}},
			Value:    &tfpb.Summary_Value_SimpleValue{SimpleValue: float32(p.Value)},
		}},
	}}})
}

func (b *tbBackend) finish(*Manifest) error { return b.w.close() }

// tagOf is the TensorBoard tag and MLflow key of a metric: the stage's
// declaration name, a slash, the metric ("sft/loss").
func tagOf(p Point) string {
	stage := p.Stage
	if i := strings.IndexByte(stage, '.'); i >= 0 {
		stage = stage[i+1:]
	}
	if stage == "" {
		return p.Name
	}
	return stage + "/" + p.Name
}

func wallTime(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// textSummary is a summary the text plugin shows: a scalar DT_STRING
// tensor holding markdown.
func textSummary(tag, markdown string) *tfpb.Summary {
	return &tfpb.Summary{Value: []*tfpb.Summary_Value{{
		Tag: tag,
		Metadata: &tfpb.SummaryMetadata{
			PluginData: &tfpb.SummaryMetadata_PluginData{PluginName: "text"},
			DataClass:  tfpb.DataClass_DATA_CLASS_TENSOR,
		},
		Value: &tfpb.Summary_Value_Tensor{Tensor: &tfpb.TensorProto{
			Dtype:       tfpb.DataType_DT_STRING,
			TensorShape: &tfpb.TensorShapeProto{},
			StringVal:   [][]byte{[]byte(markdown)},
		}},
	}}}
}

// configMarkdown renders the run's configuration for the text plugin:
// the variables and every source file, as code blocks.
func configMarkdown(m *Manifest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %s of %s (whisperc %s)\n\n", m.ID, m.Pipeline, m.Whisperc)
	keys := make([]string, 0, len(m.Vars))
	for k := range m.Vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "- var.%s = %s\n", k, m.Vars[k])
	}
	for _, s := range m.Sources {
		fmt.Fprintf(&b, "\n%s (sha256 %s)\n\n", s.Path, short(s.SHA256))
		for _, line := range strings.Split(strings.TrimRight(s.Text, "\n"), "\n") {
			b.WriteString("    " + line + "\n")
		}
	}
	return b.String()
}
