// Command hostcheck is the Go host of tests/interop/test_contracts.py: it loads a KV or
// Streamer plugin through the generated glue only, runs every scenario of the contract and
// prints one JSON object of observations. The Python drivers in tests/interop/_contracts.py
// run the same scenarios, and the test asserts on both alike.
//
//	hostcheck kv CMD...
//	hostcheck streaming VECTORS.json CMD...
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/goplugin-py/goplugin/examples-go/gen/common"
	"github.com/goplugin-py/goplugin/examples-go/gen/kv"
	"github.com/goplugin-py/goplugin/examples-go/gen/streaming"
)

const (
	many = 10000
	big  = 16 << 20
)

type result = map[string]any

// codeNames spell a status code the way Python's grpc.StatusCode names it.
var codeNames = []string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
}

func failure(err error) result {
	s := status.Convert(err)
	return result{"code": codeNames[s.Code()], "details": s.Message()}
}

func pattern(seq uint64, size int) []byte {
	var word [8]byte
	binary.BigEndian.PutUint64(word[:], seq)
	return bytes.Repeat(word[:], size/8+1)[:size]
}

// observe summarises a stream of events the way the Python drivers do.
func observe(events iter.Seq2[*streaming.Event, error]) (result, error) {
	h := sha256.New()
	var count, blobBytes, first, last uint64
	inOrder := true
	for ev, err := range events {
		if err != nil {
			return nil, err
		}
		if count == 0 {
			first = ev.Seq
		} else if ev.Seq != last+1 {
			inOrder = false
		}
		count++
		last = ev.Seq
		blobBytes += uint64(len(ev.GetBlob()))
		h.Write(binary.BigEndian.AppendUint64(nil, ev.Seq))
		h.Write(ev.GetBlob())
	}
	return result{
		"count": count, "first": first, "last": last, "in_order": inOrder,
		"blob_bytes": blobBytes, "digest": hex.EncodeToString(h.Sum(nil)),
	}, nil
}

func events(n, size int) iter.Seq[*streaming.Event] {
	return func(yield func(*streaming.Event) bool) {
		for i := range n {
			seq := uint64(i)
			ev := &streaming.Event{
				Seq: seq, Severity: common.Severity(i % 5), Body: &streaming.Event_Blob{Blob: pattern(seq, size)},
			}
			if !yield(ev) {
				return
			}
		}
	}
}

func summary(s *streaming.Summary) result {
	return result{
		"count": s.Count, "blob_bytes": s.BlobBytes, "last": s.LastSeq, "in_order": s.InOrder,
		"digest": hex.EncodeToString(s.Digest), "by_severity": s.BySeverity,
	}
}

func runKV(ctx context.Context, store kv.KV) (result, error) {
	out := result{}
	if _, err := store.Put(ctx, &kv.PutRequest{Key: "hello", Value: []byte("world")}); err != nil {
		return nil, err
	}
	got, err := store.Get(ctx, &kv.GetRequest{Key: "hello"})
	if err != nil {
		return nil, err
	}
	out["put_get"] = result{"value": string(got.Value)}

	value := pattern(1, big)
	if _, err := store.Put(ctx, &kv.PutRequest{Key: "big", Value: value}); err != nil {
		return nil, err
	}
	if got, err = store.Get(ctx, &kv.GetRequest{Key: "big"}); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(got.Value)
	out["big"] = result{"size": len(got.Value), "sha256": hex.EncodeToString(sum[:])}

	_, err = store.Get(ctx, &kv.GetRequest{Key: "missing"})
	out["missing"] = failure(err)
	return out, nil
}

// waitStats polls until pred holds (bounded), returning the last stats seen.
func waitStats(ctx context.Context, s streaming.Streamer, pred func(*streaming.WaitStats) bool) (*streaming.WaitStats, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		stats, err := s.GetWaitStats(ctx, &emptypb.Empty{})
		if err != nil || pred(stats) || time.Now().After(deadline) {
			return stats, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runStreaming(ctx context.Context, s streaming.Streamer, vectorsPath string) (result, error) {
	out := result{}
	var file struct {
		Cases []struct {
			Name string          `json:"name"`
			Type string          `json:"type"`
			JSON json.RawMessage `json:"json"`
		} `json:"cases"`
	}
	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, err
	}
	echoed := result{}
	for _, c := range file.Cases {
		if c.Type != "streaming.Event" {
			continue
		}
		ev := &streaming.Event{}
		if err := protojson.Unmarshal(c.JSON, ev); err != nil {
			return nil, err
		}
		if ev.Body == nil {
			continue // Echo rejects events without a body
		}
		back, err := s.Echo(ctx, ev)
		if err != nil {
			return nil, fmt.Errorf("echo %s: %w", c.Name, err)
		}
		enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(back)
		if err != nil {
			return nil, err
		}
		echoed[c.Name] = result{"equal": proto.Equal(ev, back), "hex": hex.EncodeToString(enc)}
	}
	out["echo_vectors"] = echoed

	_, err = s.Echo(ctx, &streaming.Event{Seq: 1})
	out["echo_invalid"] = failure(err)

	first := uint64(5)
	if out["generate"], err = observe(s.Generate(ctx, &streaming.GenerateRequest{Count: many, BlobSize: 64, FirstSeq: &first})); err != nil {
		return nil, err
	}
	sum, err := s.Collect(ctx, events(many, 64))
	if err != nil {
		return nil, err
	}
	out["collect"] = summary(sum)
	if out["exchange"], err = observe(s.Exchange(ctx, events(many, 64))); err != nil {
		return nil, err
	}

	bigEvent, err := s.Echo(ctx, &streaming.Event{Seq: 7, Body: &streaming.Event_Blob{Blob: pattern(7, big)}})
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(bigEvent.GetBlob())
	out["big_echo"] = result{"seq": bigEvent.Seq, "size": len(bigEvent.GetBlob()), "sha256": hex.EncodeToString(digest[:])}
	if out["big_generate"], err = observe(s.Generate(ctx, &streaming.GenerateRequest{Count: 2, BlobSize: big})); err != nil {
		return nil, err
	}
	if sum, err = s.Collect(ctx, events(2, big)); err != nil {
		return nil, err
	}
	out["big_collect"] = summary(sum)
	if out["big_exchange"], err = observe(s.Exchange(ctx, events(2, big))); err != nil {
		return nil, err
	}

	// A deadline reaches the plugin: its Wait sees the call end early.
	before, err := s.GetWaitStats(ctx, &emptypb.Empty{})
	if err != nil {
		return nil, err
	}
	long := &streaming.WaitRequest{Duration: durationpb.New(time.Minute)}
	short, cancelShort := context.WithTimeout(ctx, time.Second)
	_, err = s.Wait(short, long)
	cancelShort()
	deadline := failure(err)
	stats, err := waitStats(ctx, s, func(w *streaming.WaitStats) bool { return w.Cancelled > before.Cancelled })
	if err != nil {
		return nil, err
	}
	deadline["plugin_saw_end"] = stats.Cancelled == before.Cancelled+1
	out["deadline"] = deadline

	// So does cancellation: cancel a call the plugin is known to be running.
	callCtx, cancelCall := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := s.Wait(callCtx, long)
		done <- err
	}()
	stats, err = waitStats(ctx, s, func(w *streaming.WaitStats) bool { return w.Waiting == 1 })
	if err != nil {
		cancelCall()
		return nil, err
	}
	started := stats.Waiting == 1
	cancelCall()
	cancelled := failure(<-done)
	stats, err = waitStats(ctx, s, func(w *streaming.WaitStats) bool { return w.Cancelled > before.Cancelled+1 })
	if err != nil {
		return nil, err
	}
	cancelled["started"] = started
	cancelled["plugin_saw_end"] = stats.Cancelled == before.Cancelled+2 && stats.Waiting == 0
	out["cancel"] = cancelled

	// Leaving a response stream early ends the call and the plugin carries on.
	received := 0
	for _, err := range s.Generate(ctx, &streaming.GenerateRequest{Count: 1 << 40, BlobSize: 16}) {
		if err != nil {
			return nil, err
		}
		if received++; received == 100 {
			break
		}
	}
	_, err = s.Echo(ctx, &streaming.Event{Seq: 1, Body: &streaming.Event_Text{Text: "still there"}})
	out["stream_break"] = result{"received": received, "echo_after": err == nil}
	return out, nil
}

func run(args []string) (result, error) {
	if len(args) < 2 || (args[0] == "streaming" && len(args) < 3) {
		return nil, errors.New("usage: hostcheck kv CMD... | hostcheck streaming VECTORS CMD...")
	}
	contract := args[0]
	var handshake plugin.HandshakeConfig
	var plugins plugin.PluginSet
	cmd := args[1:]
	if contract == "kv" {
		handshake = plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "BASIC_PLUGIN", MagicCookieValue: "hello"}
		plugins = plugin.PluginSet{"kv": &kv.KVPlugin{}}
	} else {
		handshake = plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "STREAMING_PLUGIN", MagicCookieValue: "events"}
		plugins = plugin.PluginSet{"streamer": &streaming.StreamerPlugin{}}
		cmd = args[2:]
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake,
		Plugins:          plugins,
		Cmd:              exec.Command(cmd[0], cmd[1:]...),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Level: hclog.Warn, Output: os.Stderr}),
	})
	defer client.Kill()
	rpc, err := client.Client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if contract == "kv" {
		store, err := kv.DispenseKV(rpc, "kv")
		if err != nil {
			return nil, err
		}
		return runKV(ctx, store)
	}
	streamer, err := streaming.DispenseStreamer(rpc, "streamer")
	if err != nil {
		return nil, err
	}
	return runStreaming(ctx, streamer, args[1])
}

func main() {
	out, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostcheck:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}
