//go:build !unix && !windows

package engine

import "errors"

// mapAnon cannot map here: offHeap keeps its buffers on the heap.
func mapAnon(int) ([]byte, error) { return nil, errors.ErrUnsupported }

func unmapAnon([]byte) error { return nil }

func discard([]byte) {}
