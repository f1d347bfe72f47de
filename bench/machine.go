package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/igdirect/bridge/internal/devstack"
)

// Machine describes where the numbers were measured.
type Machine struct {
	Date        string  `json:"date"`
	CPUs        int     `json:"cpus"`
	CPUModel    string  `json:"cpu_model"`
	MemoryGiB   float64 `json:"memory_gib"`
	Kernel      string  `json:"kernel"`
	GoVersion   string  `json:"go_version"`
	TemporalCLI string  `json:"temporal_cli"`
	PostgreSQL  string  `json:"postgresql"`
	Product     string  `json:"product"`
	LoadStart   string  `json:"loadavg_start"`
	LoadEnd     string  `json:"loadavg_end"`
}

func machine(cfg *config) Machine {
	m := Machine{Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), CPUs: runtime.NumCPU(), GoVersion: runtime.Version(),
		LoadStart: loadavg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(rest)
				if len(f) > 0 {
					kb, _ := strconv.ParseFloat(f[0], 64)
					m.MemoryGiB = kb / (1 << 20)
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cfg.temporalCLI, "--version").Output(); err == nil {
		m.TemporalCLI = strings.TrimSpace(string(out))
	}
	if out, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty").Output(); err == nil {
		m.Product = "git " + strings.TrimSpace(string(out))
	}
	if db, err := sqlx.Open("postgres", cfg.adminDSN); err == nil && cfg.adminDSN != "" {
		var v string
		if db.GetContext(ctx, &v, "SHOW server_version") == nil {
			m.PostgreSQL = v
		}
		db.Close()
	} else if bin, err := devstack.PostgresBinDir(); err == nil {
		// The stacks run their own servers from these binaries.
		if out, err := exec.CommandContext(ctx, filepath.Join(bin, "postgres"), "--version").Output(); err == nil {
			m.PostgreSQL = strings.TrimSpace(string(out))
		}
	}
	return m
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
