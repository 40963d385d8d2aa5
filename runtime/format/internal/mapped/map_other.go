//go:build !unix && !windows

package mapped

import (
	"errors"
	"os"
)

// mapFile cannot map here: Open reads the file instead.
func mapFile(*os.File, int) ([]byte, error) { return nil, errors.ErrUnsupported }

func unmap([]byte) error { return nil }

func release([]byte) {}
