// Command kvhost is a go-plugin host used by the interop tests: it launches a KV plugin
// (go-plugin's examples/grpc contract) with the options under test and runs put/get commands.
//
// It talks to the plugin through grpc's generic Invoke with hand-encoded protobuf, so it
// depends on nothing but go-plugin and grpc and can load any plugin of that contract.
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

// rawCodec passes pre-encoded protobuf bytes through grpc unchanged.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), b...)
	return nil
}
func (rawCodec) Name() string { return "raw" }

var _ encoding.Codec = rawCodec{}

type kv struct{ conn *grpc.ClientConn }

func (k *kv) invoke(method string, req []byte) ([]byte, error) {
	var resp []byte
	err := k.conn.Invoke(context.Background(), "/proto.KV/"+method, &req, &resp, grpc.ForceCodec(rawCodec{}))
	return resp, err
}

func (k *kv) Put(key string, value []byte) error {
	var req []byte
	req = protowire.AppendTag(req, 1, protowire.BytesType)
	req = protowire.AppendString(req, key)
	req = protowire.AppendTag(req, 2, protowire.BytesType)
	req = protowire.AppendBytes(req, value)
	_, err := k.invoke("Put", req)
	return err
}

func (k *kv) Get(key string) ([]byte, error) {
	var req []byte
	req = protowire.AppendTag(req, 1, protowire.BytesType)
	req = protowire.AppendString(req, key)
	resp, err := k.invoke("Get", req)
	if err != nil {
		return nil, err
	}
	var value []byte
	for len(resp) > 0 {
		num, typ, n := protowire.ConsumeTag(resp)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		resp = resp[n:]
		if num == 1 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(resp)
			if m < 0 {
				return nil, protowire.ParseError(m)
			}
			value, resp = v, resp[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, resp)
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		resp = resp[m:]
	}
	return value, nil
}

type kvPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (kvPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return fmt.Errorf("host only") }
func (kvPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &kv{conn: c}, nil
}

func main() {
	cmdline := flag.String("plugin", "", "plugin command line (run with sh -c)")
	versions := flag.String("versions", "1", "comma-separated app protocol versions the host offers")
	autoMTLS := flag.Bool("automtls", false, "enable go-plugin AutoMTLS")
	mux := flag.Bool("mux", false, "enable gRPC broker multiplexing")
	hold := flag.Duration("hold", 0, "stay alive this long after the commands (for kill tests)")
	reattach := flag.String("reattach", "", "reattach to a running plugin: JSON {Protocol, ProtocolVersion, Pid, Test, Addr{Network, String}}")
	flag.Parse()

	sets := map[int]plugin.PluginSet{}
	for _, v := range strings.Split(*versions, ",") {
		n, err := strconv.Atoi(v)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad -versions:", err)
			os.Exit(2)
		}
		sets[n] = plugin.PluginSet{"kv": kvPlugin{}}
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "kvhost", Level: hclog.Trace, Output: os.Stderr})
	config := &plugin.ClientConfig{
		HandshakeConfig:     plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "BASIC_PLUGIN", MagicCookieValue: "hello"},
		VersionedPlugins:    sets,
		AllowedProtocols:    []plugin.Protocol{plugin.ProtocolGRPC, plugin.ProtocolNetRPC},
		AutoMTLS:            *autoMTLS,
		GRPCBrokerMultiplex: *mux,
		Logger:              logger,
	}
	if *reattach != "" {
		rc, err := parseReattach(*reattach)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad -reattach:", err)
			os.Exit(2)
		}
		config.Reattach = rc
		// go-plugin dispenses from Plugins after a reattach (no handshake picks a set).
		config.Plugins = plugin.PluginSet{"kv": kvPlugin{}}
	} else {
		config.Cmd = exec.Command("sh", "-c", *cmdline)
	}
	client := plugin.NewClient(config)
	defer client.Kill()
	if err := run(client, flag.Args(), *hold); err != nil {
		fmt.Printf("error: %v\n", err)
		client.Kill()
		os.Exit(1)
	}
}

// parseReattach reads the reattach JSON that Terraform-style tooling uses.
func parseReattach(text string) (*plugin.ReattachConfig, error) {
	var raw struct {
		Protocol        string
		ProtocolVersion int
		Pid             int
		Test            bool
		Addr            struct{ Network, String string }
	}
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, err
	}
	var addr net.Addr
	switch raw.Addr.Network {
	case "unix":
		addr = &net.UnixAddr{Name: raw.Addr.String, Net: "unix"}
	case "tcp":
		tcp, err := net.ResolveTCPAddr("tcp", raw.Addr.String)
		if err != nil {
			return nil, err
		}
		addr = tcp
	default:
		return nil, fmt.Errorf("unknown network %q", raw.Addr.Network)
	}
	return &plugin.ReattachConfig{
		Protocol:        plugin.Protocol(raw.Protocol),
		ProtocolVersion: raw.ProtocolVersion,
		Addr:            addr,
		Pid:             raw.Pid,
		Test:            raw.Test,
	}, nil
}

func run(client *plugin.Client, args []string, hold time.Duration) error {
	rpc, err := client.Client()
	if err != nil {
		return err
	}
	raw, err := rpc.Dispense("kv")
	if err != nil {
		return err
	}
	store := raw.(*kv)
	pid := 0
	if rc := client.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	fmt.Printf("negotiated=%d pid=%d\n", client.NegotiatedVersion(), pid)
	for len(args) > 0 {
		switch args[0] {
		case "put":
			if err := store.Put(args[1], []byte(args[2])); err != nil {
				return err
			}
			args = args[3:]
		case "get":
			value, err := store.Get(args[1])
			if err != nil {
				return err
			}
			fmt.Printf("value=%s\n", value)
			args = args[2:]
		case "call":
			// call METHOD HEX: any KV method name with any request bytes; prints the status
			// (for the plugin-side bad-input tests) and goes on.
			req, err := hex.DecodeString(args[2])
			if err != nil {
				return err
			}
			_, err = store.invoke(args[1], req)
			st := status.Convert(err)
			fmt.Printf("call %s: code=%s desc=%q\n", args[1], st.Code(), st.Message())
			args = args[3:]
		case "ping":
			if err := rpc.Ping(); err != nil {
				return err
			}
			fmt.Println("ping=ok")
			args = args[1:]
		default:
			return fmt.Errorf("unknown command %q", args[0])
		}
	}
	os.Stdout.Sync()
	time.Sleep(hold)
	return nil
}
