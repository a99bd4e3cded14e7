package main

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// launch times a fresh plugin from NewClient to its first call done; killing it is not timed.
func (h *host) launch() (reply, error) {
	start := time.Now()
	l, err := h.load()
	if err != nil {
		return nil, err
	}
	defer l.client.Kill()
	if err := firstCall(l.impl); err != nil {
		return nil, err
	}
	return reply{"first_call_ns": time.Since(start).Nanoseconds()}, nil
}

// scale launches n plugins, calls each once, then kills each: what a host that manages many
// plugins pays, and its resident memory per live plugin client. With concurrent, each phase
// runs all n at once on goroutines; otherwise one after another.
func (h *host) scale(n int, concurrent bool) (reply, error) {
	rssBefore := rssBytes()
	start := time.Now()
	plugins := make([]*loaded, n)
	defer func() {
		for _, l := range plugins {
			if l != nil {
				l.client.Kill()
			}
		}
	}()
	if err := each(n, concurrent, func(i int) (err error) {
		plugins[i], err = h.load()
		return err
	}); err != nil {
		return nil, err
	}
	started := time.Now()
	if err := each(n, concurrent, func(i int) error { return firstCall(plugins[i].impl) }); err != nil {
		return nil, err
	}
	called := time.Now()
	rssLoaded := rssBytes()
	_ = each(n, concurrent, func(i int) error { plugins[i].client.Kill(); plugins[i] = nil; return nil })
	end := time.Now()
	return reply{
		"wall_ns":    end.Sub(start).Nanoseconds(),
		"start_ns":   started.Sub(start).Nanoseconds(),
		"call_ns":    called.Sub(started).Nanoseconds(),
		"kill_ns":    end.Sub(called).Nanoseconds(),
		"rss_before": rssBefore,
		"rss_loaded": rssLoaded,
	}, nil
}

// each runs fn(0..n-1), one after another or all at once, and returns the first error.
func each(n int, concurrent bool, fn func(int) error) error {
	if !concurrent {
		for i := range n {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = fn(i) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// rssBytes reads VmRSS of this process (Linux), the same figure the Python driver reads.
func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return -1
			}
			return kb * 1024
		}
	}
	return -1
}
