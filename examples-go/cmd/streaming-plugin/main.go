// Command streaming-plugin serves proto/streaming/streaming.proto as a go-plugin plugin: the
// four kinds of call are plain Go methods, streams are iterators, and ctx carries the host's
// deadline and cancellation. Everything go-plugin needs comes from the generated package.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"iter"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/goplugin-py/goplugin/examples-go/gen/streaming"
)

// pattern is the contract's blob: seq as 8 big-endian bytes, repeated to size.
func pattern(seq uint64, size uint32) []byte {
	var word [8]byte
	binary.BigEndian.PutUint64(word[:], seq)
	return bytes.Repeat(word[:], int(size)/8+1)[:size]
}

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
			seq := req.GetFirstSeq() + i
			blob := &streaming.Event_Blob{Blob: pattern(seq, req.BlobSize)}
			if !yield(&streaming.Event{Seq: seq, Body: blob}, nil) {
				return
			}
		}
	}
}

func (s *streamer) Collect(ctx context.Context, events iter.Seq[*streaming.Event]) (*streaming.Summary, error) {
	sum := &streaming.Summary{InOrder: true, BySeverity: map[string]uint64{}}
	digest := sha256.New()
	for ev := range events {
		if sum.Count > 0 && ev.Seq != sum.LastSeq+1 {
			sum.InOrder = false
		}
		sum.Count++
		sum.LastSeq = ev.Seq
		sum.BlobBytes += uint64(len(ev.GetBlob()))
		sum.BySeverity[ev.Severity.String()]++
		digest.Write(binary.BigEndian.AppendUint64(nil, ev.Seq))
		digest.Write(ev.GetBlob())
	}
	sum.Digest = digest.Sum(nil)
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
	case <-ctx.Done(): // the host cancelled, or its deadline passed
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
	return &streaming.WaitStats{
		Waiting: uint32(s.waiting), Cancelled: s.cancelled, Completed: s.completed,
	}, nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion: 1, MagicCookieKey: "STREAMING_PLUGIN", MagicCookieValue: "events",
		},
		Plugins:    plugin.PluginSet{"streamer": &streaming.StreamerPlugin{Impl: &streamer{}}},
		GRPCServer: streaming.GRPCServer, // 16 MiB events need more than grpc-go's 4 MiB
	})
}
