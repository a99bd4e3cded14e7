package main

import (
	"context"
	"iter"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/goplugin-py/goplugin/examples-go/gen/streaming"
)

// streamer is a plain implementation of the streaming contract: faults that need streams
// (holding many open, resetting them) use it as the well-behaved baseline.
type streamer struct {
	mu                            sync.Mutex
	waiting, cancelled, completed uint64
}

func (s *streamer) Echo(ctx context.Context, ev *streaming.Event) (*streaming.Event, error) {
	if ev.Body == nil {
		return nil, status.Error(codes.InvalidArgument, "event has no body")
	}
	return ev, nil
}

func (s *streamer) Generate(ctx context.Context, req *streaming.GenerateRequest) iter.Seq2[*streaming.Event, error] {
	return func(yield func(*streaming.Event, error) bool) {
		for i := range req.Count {
			if !yield(&streaming.Event{Seq: req.GetFirstSeq() + i, Body: &streaming.Event_Text{Text: "x"}}, nil) {
				return
			}
		}
	}
}

func (s *streamer) Collect(ctx context.Context, events iter.Seq[*streaming.Event]) (*streaming.Summary, error) {
	sum := &streaming.Summary{InOrder: true}
	for ev := range events {
		if sum.Count > 0 && ev.Seq != sum.LastSeq+1 {
			sum.InOrder = false
		}
		sum.Count++
		sum.LastSeq = ev.Seq
	}
	return sum, nil
}

func (s *streamer) Exchange(ctx context.Context, events iter.Seq[*streaming.Event]) iter.Seq2[*streaming.Event, error] {
	return func(yield func(*streaming.Event, error) bool) {
		for ev := range events {
			if !yield(ev, nil) {
				return
			}
		}
	}
}

func (s *streamer) Wait(ctx context.Context, req *streaming.WaitRequest) (*emptypb.Empty, error) {
	s.update(func() { s.waiting++ })
	timer := time.NewTimer(req.Duration.AsDuration())
	defer timer.Stop()
	select {
	case <-timer.C:
		s.update(func() { s.waiting--; s.completed++ })
		return &emptypb.Empty{}, nil
	case <-ctx.Done():
		s.update(func() { s.waiting--; s.cancelled++ })
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

func (s *streamer) update(change func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change()
}

func (s *streamer) GetWaitStats(ctx context.Context, _ *emptypb.Empty) (*streaming.WaitStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &streaming.WaitStats{Waiting: uint32(s.waiting), Cancelled: s.cancelled, Completed: s.completed}, nil
}
