package main

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/igdirect/bridge/internal/devstack"
)

// ProcFigures are the resources one process (or group of processes) used during a phase.
type ProcFigures struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	PeakRSSMB  float64 `json:"peak_rss_mb,omitempty"`
	EndRSSMB   float64 `json:"end_rss_mb,omitempty"`
}

// procMon measures CPU time and peak RSS of named processes between its start and stop.
// The peak is VmHWM after resetting it at the start (clear_refs), or, where that is
// refused, the largest VmRSS seen by sampling every 200 ms. Groups (PostgreSQL: the
// postmaster and its backends) report CPU only.
type procMon struct {
	pids   map[string]int
	groups map[string]func() []int
	start  map[string]devstack.Usage
	gstart map[string]map[int]time.Duration
	peak   map[string]int64
	resets map[string]bool
	mu     sync.Mutex
	done   chan struct{}
	wg     sync.WaitGroup
	t0     time.Time
	busy0  float64
}

// machineName is the pseudo-process of the whole machine's busy CPU time (/proc/stat), and
// othersName what is left of it after every process of the benchmark: other people's work
// on a shared machine.
const (
	machineName = "machine"
	othersName  = "others"
)

// machineBusy is the CPU time all CPUs spent busy since boot (/proc/stat), in seconds.
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	busy := 0.0
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already in user
			break
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / 100
}

func newProcMon(pids map[string]int, groups map[string]func() []int) *procMon {
	m := &procMon{pids: map[string]int{}, groups: groups, start: map[string]devstack.Usage{},
		gstart: map[string]map[int]time.Duration{}, peak: map[string]int64{}, resets: map[string]bool{},
		done: make(chan struct{})}
	for name, pid := range pids {
		if pid <= 0 {
			continue
		}
		m.pids[name] = pid
		m.resets[name] = devstack.ResetPeak(pid) == nil
		if u, err := devstack.ReadUsage(pid); err == nil {
			m.start[name] = u
			m.peak[name] = u.RSS
		}
	}
	for name, list := range groups {
		m.gstart[name] = cpuByPID(list())
	}
	m.t0, m.busy0 = time.Now(), machineBusy()
	m.wg.Add(1)
	go m.sample()
	return m
}

func cpuByPID(pids []int) map[int]time.Duration {
	out := map[int]time.Duration{}
	for _, pid := range pids {
		if u, err := devstack.ReadUsage(pid); err == nil {
			out[pid] = u.CPU
		}
	}
	return out
}

func (m *procMon) sample() {
	defer m.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
		}
		m.mu.Lock()
		for name, pid := range m.pids {
			if u, err := devstack.ReadUsage(pid); err == nil && u.RSS > m.peak[name] {
				m.peak[name] = u.RSS
			}
		}
		m.mu.Unlock()
	}
}

// stop ends the measurement and returns the figures per process name.
func (m *procMon) stop() map[string]ProcFigures {
	close(m.done)
	m.wg.Wait()
	out := map[string]ProcFigures{}
	for name, pid := range m.pids {
		u, err := devstack.ReadUsage(pid)
		if err != nil {
			continue
		}
		peak := max(m.peak[name], u.RSS)
		if m.resets[name] {
			peak = max(peak, u.HWM)
		}
		out[name] = ProcFigures{
			CPUSeconds: (u.CPU - m.start[name].CPU).Seconds(),
			PeakRSSMB:  float64(peak) / (1 << 20),
			EndRSSMB:   float64(u.RSS) / (1 << 20),
		}
	}
	for name, list := range m.groups {
		var sum time.Duration
		for pid, cpu := range cpuByPID(list()) {
			sum += cpu - m.gstart[name][pid] // a backend started meanwhile counts from 0
		}
		out[name] = ProcFigures{CPUSeconds: sum.Seconds()}
	}
	if m.busy0 > 0 {
		busy := machineBusy() - m.busy0
		ours := 0.0
		for _, f := range out {
			ours += f.CPUSeconds
		}
		out[machineName] = ProcFigures{CPUSeconds: busy}
		out[othersName] = ProcFigures{CPUSeconds: max(0, busy-ours)}
		out["wall"] = ProcFigures{CPUSeconds: time.Since(m.t0).Seconds()}
	}
	return out
}

// postgresPIDs finds the postmaster listening on port and its children (backends and
// auxiliary processes). Backends that exited during a phase are not counted.
func postgresPIDs(port string) func() []int {
	return func() []int {
		pm := devstack.FindProcess("-p", port)
		if pm == 0 {
			return nil
		}
		return append([]int{pm}, devstack.Children(pm)...)
	}
}

// rssMB is a process's current RSS in MB (0 when unreadable).
func rssMB(pid int) float64 {
	u, err := devstack.ReadUsage(pid)
	if err != nil {
		return 0
	}
	return float64(u.RSS) / (1 << 20)
}
