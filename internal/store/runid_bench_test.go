package store

import "testing"

// BenchmarkNewRunID measures one run ID, as every run's creation makes.
func BenchmarkNewRunID(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		_ = NewRunID()
	}
}
