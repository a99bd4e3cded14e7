// Command streamhost is a go-plugin host for the serving-engine tests: it loads a Streamer
// plugin (handshake STREAMING_PLUGIN=events, plugin "streamer") and drives it the ways a busy
// grpc-go host does, printing one line per command for the tests to read.
//
//	streamhost [-keepalive 10s] -plugin "<plugin command>" COMMAND...
//
//	pid                  print the plugin's pid ("pid=N")
//	collect N SIZE       Collect: N events with SIZE-byte pattern blobs, sent as fast as flow
//	                     control lets; checks the plugin's summary (count, order, digest)
//	generate N SIZE D    Generate: N events with SIZE-byte blobs, read one every D (a slow
//	                     reader: grpc-go's window holds the plugin back); checks order and blobs
//	echo SIZE            Echo one event with a SIZE-byte blob and check it comes back whole
//	gzip SIZE            the same Echo, its request compressed with gzip
//	streams N            N Exchange streams open at once, each echoing 3 events
//	wait DURATION        one Wait call (kept open across keepalive pings)
//	metadata SIZE        Echo with a SIZE-byte binary (-bin) and text header; the plugin's
//	                     echo puts what it saw in the event's labels
//
// The grpc-go client is go-plugin's own connection (its dial options, plus keepalive pings
// when asked), used through the generated grpc client so that every call option is at hand.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/goplugin-py/goplugin/examples-go/gen/streaming"
)

// rawGRPC hands out the connection itself.
type rawGRPC struct{ plugin.NetRPCUnsupportedPlugin }

func (rawGRPC) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return errors.New("host only") }
func (rawGRPC) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return c, nil
}

// pattern is the contract's blob: seq as 8 big-endian bytes, repeated to size.
func pattern(seq uint64, size int) []byte {
	out := make([]byte, size)
	var word [8]byte
	binary.BigEndian.PutUint64(word[:], seq)
	for i := range out {
		out[i] = word[i%8]
	}
	return out
}

func collect(ctx context.Context, c streaming.StreamerClient, n uint64, size int) error {
	stream, err := c.Collect(ctx)
	if err != nil {
		return err
	}
	digest := sha256.New()
	for seq := range n {
		blob := pattern(seq, size)
		var word [8]byte
		binary.BigEndian.PutUint64(word[:], seq)
		digest.Write(word[:])
		digest.Write(blob)
		if err := stream.Send(&streaming.Event{Seq: seq, Body: &streaming.Event_Blob{Blob: blob}}); err != nil {
			break // CloseAndRecv says why
		}
	}
	sum, err := stream.CloseAndRecv()
	if err != nil {
		return err
	}
	ok := sum.Count == n && sum.InOrder && bytes.Equal(sum.Digest, digest.Sum(nil))
	fmt.Printf("collect count=%d in_order=%t blob_bytes=%d digest_ok=%t ok=%t\n",
		sum.Count, sum.InOrder, sum.BlobBytes, bytes.Equal(sum.Digest, digest.Sum(nil)), ok)
	return nil
}

func generate(ctx context.Context, c streaming.StreamerClient, n uint64, size int, delay time.Duration) error {
	stream, err := c.Generate(ctx, &streaming.GenerateRequest{Count: n, BlobSize: uint32(size)})
	if err != nil {
		return err
	}
	var got uint64
	ok := true
	for {
		event, err := stream.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return err
			}
			break
		}
		ok = ok && event.Seq == got && bytes.Equal(event.GetBlob(), pattern(got, size))
		got++
		time.Sleep(delay)
	}
	fmt.Printf("generate count=%d ok=%t\n", got, ok && got == n)
	return nil
}

func echo(ctx context.Context, c streaming.StreamerClient, size int, opts ...grpc.CallOption) (string, error) {
	blob := pattern(7, size)
	got, err := c.Echo(ctx, &streaming.Event{Seq: 7, Body: &streaming.Event_Blob{Blob: blob}}, opts...)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("size=%d ok=%t", len(got.GetBlob()), bytes.Equal(got.GetBlob(), blob)), nil
}

func streams(ctx context.Context, c streaming.StreamerClient, n int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	// Open them all first: every stream is open at once before any of them finishes.
	opened := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			result := "OK"
			defer func() { mu.Lock(); codes[result]++; mu.Unlock() }()
			stream, err := c.Exchange(ctx)
			if err == nil {
				err = stream.Send(&streaming.Event{Seq: uint64(i), Body: &streaming.Event_Text{Text: "first"}})
			}
			if err == nil {
				_, err = stream.Recv()
			}
			<-opened
			for k := 1; k < 3 && err == nil; k++ {
				err = stream.Send(&streaming.Event{Seq: uint64(k), Body: &streaming.Event_Text{Text: "more"}})
				if err == nil {
					_, err = stream.Recv()
				}
			}
			if err == nil {
				err = stream.CloseSend()
			}
			if err == nil {
				_, err = stream.Recv() // io.EOF: the plugin ended the stream cleanly
				if err != nil && err.Error() == "EOF" {
					err = nil
				}
			}
			if err != nil {
				result = status.Code(err).String()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	close(opened)
	wg.Wait()
	fmt.Printf("streams n=%d results=%v\n", n, codes)
}

func run(client *plugin.Client, args []string) error {
	rpc, err := client.Client()
	if err != nil {
		return err
	}
	raw, err := rpc.Dispense("streamer")
	if err != nil {
		return err
	}
	c := streaming.NewStreamerClient(raw.(*grpc.ClientConn))
	ctx := context.Background()
	for len(args) > 0 {
		cmd := args[0]
		arg := func(i int) int {
			v, err := strconv.Atoi(args[i])
			if err != nil {
				fmt.Fprintln(os.Stderr, "bad argument:", args[i])
				os.Exit(2)
			}
			return v
		}
		switch cmd {
		case "pid":
			fmt.Printf("pid=%d\n", client.ReattachConfig().Pid)
			args = args[1:]
		case "collect":
			if err := collect(ctx, c, uint64(arg(1)), arg(2)); err != nil {
				return err
			}
			args = args[3:]
		case "generate":
			d, err := time.ParseDuration(args[3])
			if err != nil {
				return err
			}
			if err := generate(ctx, c, uint64(arg(1)), arg(2), d); err != nil {
				return err
			}
			args = args[4:]
		case "echo", "gzip":
			var opts []grpc.CallOption
			if cmd == "gzip" {
				opts = append(opts, grpc.UseCompressor(gzip.Name))
			}
			line, err := echo(ctx, c, arg(1), opts...)
			if err != nil {
				fmt.Printf("%s code=%s desc=%q\n", cmd, status.Code(err), status.Convert(err).Message())
			} else {
				fmt.Printf("%s %s\n", cmd, line)
			}
			args = args[2:]
		case "streams":
			streams(ctx, c, arg(1))
			args = args[2:]
		case "wait":
			d, err := time.ParseDuration(args[1])
			if err != nil {
				return err
			}
			_, err = c.Wait(ctx, &streaming.WaitRequest{Duration: durationpbOf(d)})
			fmt.Printf("wait code=%s\n", status.Code(err))
			args = args[2:]
		case "metadata":
			size := arg(1)
			bin := pattern(3, size)
			md := metadata.Pairs("x-blob-bin", string(bin), "x-text", "hello")
			var header, trailer metadata.MD
			got, err := c.Echo(metadata.NewOutgoingContext(ctx, md),
				&streaming.Event{Seq: 1, Body: &streaming.Event_Text{Text: "md"}},
				grpc.Header(&header), grpc.Trailer(&trailer))
			if err != nil {
				fmt.Printf("metadata code=%s desc=%q\n", status.Code(err), status.Convert(err).Message())
			} else {
				fmt.Printf("metadata bin_len=%s bin_ok=%t text=%s\n", got.Labels["x-blob-bin-len"],
					got.Labels["x-blob-bin-sha"] == fmt.Sprintf("%x", sha256.Sum256(bin)), got.Labels["x-text"])
			}
			args = args[2:]
		default:
			return fmt.Errorf("unknown command %q", cmd)
		}
	}
	return nil
}

func main() {
	cmdline := flag.String("plugin", "", "plugin command line (run with sh -c)")
	ping := flag.Duration("keepalive", 0, "send keepalive pings this often (grpc-go raises < 10s to 10s)")
	flag.Parse()
	config := &plugin.ClientConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion: 1, MagicCookieKey: "STREAMING_PLUGIN", MagicCookieValue: "events",
		},
		Plugins:          plugin.PluginSet{"streamer": rawGRPC{}},
		Cmd:              exec.Command("sh", "-c", *cmdline),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "streamhost", Level: hclog.Warn, Output: os.Stderr}),
	}
	if *ping > 0 {
		config.GRPCDialOptions = []grpc.DialOption{grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time: *ping, Timeout: 2 * time.Second, PermitWithoutStream: true,
		})}
	}
	client := plugin.NewClient(config)
	defer client.Kill()
	if err := run(client, flag.Args()); err != nil {
		fmt.Printf("error: %v\n", err)
		client.Kill()
		os.Exit(1)
	}
}

func durationpbOf(d time.Duration) *durationpb.Duration { return durationpb.New(d) }
