package main

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
)

// Stats is GET /v1/stats: what an operator (or the load tool) checks for
// leaks and lost events.
type Stats struct {
	Calls          int                      `json:"calls"`
	Events         map[app.EventName]uint64 `json:"events"`
	ARI            ari.Stats                `json:"ari"`
	ARIConnected   bool                     `json:"ari_connected"`
	Goroutines     int                      `json:"goroutines"`
	HeapAllocBytes uint64                   `json:"heap_alloc_bytes"`
	HeapObjects    uint64                   `json:"heap_objects"`
	RSSBytes       uint64                   `json:"rss_bytes"`
	MaxRSSBytes    uint64                   `json:"max_rss_bytes"`
}

func processStats(a *app.App, c *ari.Client) Stats {
	return processStatsOf(a.Calls(), a.EventCounts(), c.Stats(), c.Connected())
}

// processStatsOf is Stats of these figures and the process's.
func processStatsOf(calls []app.CallInfo, events map[app.EventName]uint64, ariStats ari.Stats, connected bool) Stats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, hwm := procRSS()
	return Stats{
		Calls:          len(calls),
		Events:         events,
		ARI:            ariStats,
		ARIConnected:   connected,
		Goroutines:     runtime.NumGoroutine(),
		HeapAllocBytes: ms.HeapAlloc,
		HeapObjects:    ms.HeapObjects,
		RSSBytes:       rss,
		MaxRSSBytes:    hwm,
	}
}

// procRSS reads VmRSS and VmHWM (peak) from /proc/self/status (Linux);
// zeros elsewhere.
func procRSS() (rss, peak uint64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseUint(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n * 1024
		case "VmHWM":
			peak = n * 1024
		}
	}
	return rss, peak
}
