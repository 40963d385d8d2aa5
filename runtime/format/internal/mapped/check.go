package mapped

import (
	"encoding/binary"
	"fmt"
	"math"
)

// CheckFiniteF32 reports the first NaN or infinite value in little-endian
// float32 data as an error naming the tensor and the element's index.
func CheckFiniteF32(name string, data []byte) error {
	for i := 0; i+4 <= len(data); i += 4 {
		if binary.LittleEndian.Uint32(data[i:])&0x7F800000 == 0x7F800000 {
			v := math.Float32frombits(binary.LittleEndian.Uint32(data[i:]))
			return fmt.Errorf("tensor %q holds %v at element %d", name, v, i/4)
		}
	}
	return nil
}
