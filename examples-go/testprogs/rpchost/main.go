// Command rpchost is a go-plugin net/rpc host for the tests: it launches the command given as
// arguments and uses the contracts of go-plugin's own net/rpc examples (basic's greeter,
// grpc's KV) plus a MuxBroker callback, so a Python plugin is checked against real Go code.
//
// Flags: -mtls turns AutoMTLS on (TLS under yamux, as Terraform-style hosts run plugins).
// Output on success (stdout): "ping ok", "greet <reply>", "get <value>", "sum <n>",
// "stdout <what the plugin printed>", "ok". The host's log goes to stderr.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net/rpc"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	basic "github.com/hashicorp/go-plugin/examples/basic/shared"
	kv "github.com/hashicorp/go-plugin/examples/grpc/shared"
)

// SumArgs asks the plugin's Plugin.Sum to add A and B by calling Plugin.Add on the host's
// broker id Helper: the plugin dials back through the MuxBroker.
type SumArgs struct {
	Helper uint32
	A, B   int64
}

// Adder is served by the host on a brokered stream.
type Adder struct{}

func (Adder) Add(args []int64, reply *int64) error {
	for _, v := range args {
		*reply += v
	}
	return nil
}

type calc struct {
	broker *plugin.MuxBroker
	client *rpc.Client
}

type calcPlugin struct{}

func (calcPlugin) Server(*plugin.MuxBroker) (interface{}, error) {
	return nil, fmt.Errorf("rpchost is a host only")
}

func (calcPlugin) Client(b *plugin.MuxBroker, c *rpc.Client) (interface{}, error) {
	return &calc{broker: b, client: c}, nil
}

// lockedBuffer collects what the plugin prints (SyncStdout is written by another goroutine).
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "rpchost: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	mtls := flag.Bool("mtls", false, "AutoMTLS")
	flag.Parse()
	if flag.NArg() < 1 {
		fail("usage: rpchost [-mtls] plugin-command [args...]")
	}
	stdout := &lockedBuffer{}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: kv.Handshake,
		Plugins: map[string]plugin.Plugin{
			"greeter": &basic.GreeterPlugin{},
			"kv":      &kv.KVPlugin{},
			"calc":    calcPlugin{},
		},
		Cmd:        exec.Command(flag.Arg(0), flag.Args()[1:]...),
		AutoMTLS:   *mtls,
		SyncStdout: stdout,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "rpchost", Output: os.Stderr, Level: hclog.Debug,
		}),
	})
	defer client.Kill()

	rpcClient, err := client.Client()
	if err != nil {
		fail("starting the plugin: %v", err)
	}
	if err := rpcClient.Ping(); err != nil {
		fail("ping: %v", err)
	}
	fmt.Println("ping ok")

	raw, err := rpcClient.Dispense("greeter")
	if err != nil {
		fail("dispense greeter: %v", err)
	}
	fmt.Printf("greet %s\n", raw.(basic.Greeter).Greet())

	raw, err = rpcClient.Dispense("kv")
	if err != nil {
		fail("dispense kv: %v", err)
	}
	store := raw.(kv.KV)
	if err := store.Put("greeting", []byte("hello from a Go host")); err != nil {
		fail("put: %v", err)
	}
	value, err := store.Get("greeting")
	if err != nil {
		fail("get: %v", err)
	}
	fmt.Printf("get %s\n", strings.SplitN(string(value), "\n", 2)[0])

	raw, err = rpcClient.Dispense("calc")
	if err != nil {
		fail("dispense calc: %v", err)
	}
	c := raw.(*calc)
	id := c.broker.NextId()
	go c.broker.AcceptAndServe(id, Adder{})
	var sum int64
	if err := c.client.Call("Plugin.Sum", SumArgs{Helper: id, A: 40, B: 2}, &sum); err != nil {
		fail("sum: %v", err)
	}
	fmt.Printf("sum %d\n", sum)

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "\n") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("stdout %s", stdout.String())
	client.Kill()
	fmt.Println("ok")
}
