package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// restartCollector exposes plugin restart counts that the plugin supervisor
// keeps, read when Prometheus scrapes.
type restartCollector struct {
	desc *prometheus.Desc

	mu   sync.RWMutex
	read func() map[string]int
}

var _ prometheus.Collector = (*restartCollector)(nil)

// set replaces the function the counts are read from.
func (c *restartCollector) set(read func() map[string]int) {
	c.mu.Lock()
	c.read = read
	c.mu.Unlock()
}

// Describe sends the one metric description.
func (c *restartCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect sends a counter per plugin type with the counts read now.
func (c *restartCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	read := c.read
	c.mu.RUnlock()
	if read == nil {
		return
	}
	for plugin, n := range read() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n), plugin)
	}
}
