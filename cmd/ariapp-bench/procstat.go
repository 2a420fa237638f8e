package main

import (
	"runtime"
	"syscall"
	"time"

	"github.com/ariapp/ariapp/internal/procstat"
)

// The /proc readers the benchmark uses.
var (
	procCPU     = procstat.CPU
	procRSS     = procstat.RSS
	statFields  = procstat.StatFields
	asteriskPID = procstat.AsteriskPID
)

// selfCPU is this process's user plus system CPU time (getrusage).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// liveHeap collects garbage and returns the bytes of live heap objects
// plus goroutine stacks: what the calls of an in-process App really keep.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC() // the second cycle frees what the first one's finalizers released
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}
