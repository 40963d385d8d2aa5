// Package tfpb holds the Go code protoc generates from tfevent.proto: the
// TensorBoard Event and Summary messages whisperc writes.
package tfpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative tfevent.proto
