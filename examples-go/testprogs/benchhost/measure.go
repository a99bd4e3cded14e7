package main

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/goplugin-py/goplugin/examples-go/gen/kv"
	"github.com/goplugin-py/goplugin/examples-go/gen/streaming"
)

// unary times n calls one after another: KV.Get of the stored key, or the greeter's Greet.
func (h *host) unary(n int) (reply, error) {
	lat := make([]int64, 0, n)
	ctx := context.Background()
	req := &kv.GetRequest{Key: benchKey}
	for range n {
		start := time.Now()
		switch {
		case h.kv != nil:
			if _, err := h.kv.Get(ctx, req); err != nil {
				return nil, err
			}
		case h.greeter != nil:
			h.greeter.Greet()
		default:
			return nil, fmt.Errorf("unary needs the kv or greeter contract")
		}
		lat = append(lat, time.Since(start).Nanoseconds())
	}
	return reply{"lat_ns": lat}, nil
}

// echo times n Streamer.Echo calls carrying a size-byte blob each way.
func (h *host) echo(size, n int) (reply, error) {
	if h.streamer == nil {
		return nil, fmt.Errorf("echo needs the streaming contract")
	}
	ev := &streaming.Event{Seq: 1, Body: &streaming.Event_Blob{Blob: make([]byte, size)}}
	lat := make([]int64, 0, n)
	ctx := context.Background()
	for range n {
		start := time.Now()
		out, err := h.streamer.Echo(ctx, ev)
		if err != nil {
			return nil, err
		}
		if len(out.GetBlob()) != size {
			return nil, fmt.Errorf("echo returned %d bytes, sent %d", len(out.GetBlob()), size)
		}
		lat = append(lat, time.Since(start).Nanoseconds())
	}
	return reply{"lat_ns": lat}, nil
}

// bidi sends n events of a size-byte blob on one Exchange stream and reads the n echoes.
func (h *host) bidi(n, size int) (reply, error) {
	if h.streamer == nil {
		return nil, fmt.Errorf("bidi needs the streaming contract")
	}
	ev := &streaming.Event{Seq: 1, Body: &streaming.Event_Blob{Blob: make([]byte, size)}}
	events := iter.Seq[*streaming.Event](func(yield func(*streaming.Event) bool) {
		for range n {
			if !yield(ev) {
				return
			}
		}
	})
	start := time.Now()
	got := 0
	for _, err := range h.streamer.Exchange(context.Background(), events) {
		if err != nil {
			return nil, err
		}
		got++
	}
	elapsed := time.Since(start).Nanoseconds()
	if got != n {
		return nil, fmt.Errorf("exchange echoed %d of %d events", got, n)
	}
	return reply{"elapsed_ns": elapsed, "count": got}, nil
}

// conc makes n KV.Get calls from c goroutines, each one call at a time: c calls in flight.
func (h *host) conc(c, n int) (reply, error) {
	if h.kv == nil || c < 1 {
		return nil, fmt.Errorf("conc needs the kv contract and c >= 1")
	}
	lat := make([]int64, n)
	errs := make([]error, c)
	var next sync.Mutex
	issued := 0
	take := func() (int, bool) {
		next.Lock()
		defer next.Unlock()
		if issued == n {
			return 0, false
		}
		issued++
		return issued - 1, true
	}
	ctx := context.Background()
	req := &kv.GetRequest{Key: benchKey}
	var wg sync.WaitGroup
	start := time.Now()
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, ok := take(); ok; i, ok = take() {
				t := time.Now()
				if _, err := h.kv.Get(ctx, req); err != nil {
					errs[w] = err
					return
				}
				lat[i] = time.Since(t).Nanoseconds()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Nanoseconds()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return reply{"elapsed_ns": elapsed, "lat_ns": lat}, nil
}

// gen reads one Generate stream of n events of a size-byte blob (server streaming).
func (h *host) gen(n, size int) (reply, error) {
	if h.streamer == nil {
		return nil, fmt.Errorf("gen needs the streaming contract")
	}
	req := &streaming.GenerateRequest{Count: uint64(n), BlobSize: uint32(size)}
	start := time.Now()
	got := 0
	for _, err := range h.streamer.Generate(context.Background(), req) {
		if err != nil {
			return nil, err
		}
		got++
	}
	elapsed := time.Since(start).Nanoseconds()
	if got != n {
		return nil, fmt.Errorf("generate sent %d of %d events", got, n)
	}
	return reply{"elapsed_ns": elapsed, "count": got}, nil
}
