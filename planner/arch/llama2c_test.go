package arch

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
)

func TestFromLlama2cStories260K(t *testing.T) {
	p := testmodels.Path(t, "stories260K.bin")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := FromLlama2c(f)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Name: "llama2.c", Family: Llama, Dim: 64, HiddenDim: 172, Layers: 5, Heads: 8, KVHeads: 4, Vocab: 512, MaxSeq: 512, RopeTheta: 10000, NormEps: 1e-5, Tied: true}
	if c != want {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	if pos, _ := f.Seek(0, 1); pos > Llama2cHeaderMax {
		t.Errorf("read %d bytes, more than the header", pos)
	}
}

func header(vals ...int32) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, vals)
	return b.Bytes()
}

func TestParseLlama2cHeader(t *testing.T) {
	c, err := FromLlama2c(bytes.NewReader(header(288, 768, 6, 6, 6, -32000, 256)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Tied || c.Vocab != 32000 || c.HeadSize() != 48 {
		t.Errorf("negative vocab: %+v", c)
	}
	v1 := make([]byte, 256)
	copy(v1, header(Llama2cMagic, 1, 64, 172, 5, 8, 4, 512, 512))
	v1[36] = 1
	h, err := ParseLlama2cHeader(v1)
	if err != nil || h.Version != 1 || h.Size != 256 || !h.Config.Tied {
		t.Errorf("v1: %+v, %v", h, err)
	}
	for _, c := range []struct {
		b    []byte
		want string
	}{
		{header(1<<30, 768, 6, 6, 6, 32000, 256), "dim is 1073741824"},
		{header(288, 768, 6, 6, 6, 32000), "needs 28"},
		{header(288, 768, 6, 6, 12, 32000, 256), "n_kv_heads is 12"},
		{header(288, 768, 6, 5, 5, 32000, 256), "not a multiple"},
		{header(Llama2cMagic, 1, 64), "needs 256"},
		{header(12, 8, 1, 4, 4, 10, 10), "head size 3 is odd"},
	} {
		if _, err := ParseLlama2cHeader(c.b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.b, err, c.want)
		}
	}
}
