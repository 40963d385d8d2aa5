package quant

import (
	"encoding/binary"
	"math"
	"os"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// ggmlCase is one matrix of testdata/ggml-blocks.bin: random values, their
// encoding by ggml_quantize_chunk and ggml's own dequantize_row_* of it,
// produced with the libggml-base.so that node-llama-cpp 3.21.1 ships
// (see testdata/README.md).
type ggmlCase struct {
	dtype      weights.DType
	rows, cols int
	src        []float32
	blocks     []byte
	want       []float32
}

var ggmlTypeIDs = map[int32]weights.DType{2: weights.Q4_0, 3: weights.Q4_1, 6: weights.Q5_0, 7: weights.Q5_1, 8: weights.Q8_0, 12: weights.Q4_K, 13: weights.Q5_K, 14: weights.Q6_K}

// readGGMLCases reads testdata/ggml-blocks.bin.
func readGGMLCases(t testing.TB) []ggmlCase {
	data, err := os.ReadFile("testdata/ggml-blocks.bin")
	if err != nil {
		t.Fatal(err)
	}
	if string(data[:8]) != "GGREF001" {
		t.Fatalf("bad magic %q", data[:8])
	}
	data = data[8:]
	floats := func(n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		data = data[4*n:]
		return out
	}
	var cs []ggmlCase
	for len(data) > 0 {
		var h [4]int32
		for i := range h {
			h[i] = int32(binary.LittleEndian.Uint32(data[4*i:]))
		}
		data = data[16:]
		c := ggmlCase{dtype: ggmlTypeIDs[h[0]], rows: int(h[1]), cols: int(h[2])}
		if c.dtype == weights.DTypeInvalid {
			t.Fatalf("unknown ggml type %d", h[0])
		}
		n := c.rows * c.cols
		c.src = floats(n)
		c.blocks = data[:h[3]]
		data = data[h[3]:]
		c.want = floats(n)
		cs = append(cs, c)
	}
	return cs
}

// TestDequantizeMatchesGGML checks every block decoder bit for bit against
// ggml's dequantisers on blocks ggml's quantisers wrote.
func TestDequantizeMatchesGGML(t *testing.T) {
	cs := readGGMLCases(t)
	if len(cs) != len(ggmlTypeIDs) {
		t.Fatalf("%d cases, want %d", len(cs), len(ggmlTypeIDs))
	}
	for _, c := range cs {
		size, err := ByteSize(c.dtype, []int{c.rows, c.cols})
		if err != nil || size != int64(len(c.blocks)) {
			t.Fatalf("%v: ByteSize %d, %v; ggml wrote %d bytes", c.dtype, size, err, len(c.blocks))
		}
		got := make([]float32, len(c.want))
		if err := DequantizeInto(got, c.dtype, c.blocks); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(c.want[i]) {
				t.Fatalf("%v: element %d = %v, ggml %v", c.dtype, i, got[i], c.want[i])
			}
		}
	}
}

// TestQuantizeMatchesGGML checks the Q8_0 and Q4_0 writers byte for byte
// against ggml_quantize_chunk.
func TestQuantizeMatchesGGML(t *testing.T) {
	for _, c := range readGGMLCases(t) {
		var got []byte
		var err error
		switch c.dtype {
		case weights.Q8_0:
			got, err = QuantizeQ8_0(c.src)
		case weights.Q4_0:
			got, err = QuantizeQ4_0(c.src)
		default:
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(c.blocks) {
			t.Errorf("%v: our encoding differs from ggml's", c.dtype)
		}
	}
}
