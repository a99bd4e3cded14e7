// Command vectors is the Go side of tests/vectors: it encodes the shared cases with the
// generated Go types and decodes what Python encoded, so the test can compare bytes.
//
//	vectors encode cases.json            -> {"case": "hex"}
//	vectors decode cases.json hexes.json -> {"case": {"equal": bool, "hex": "re-encoded hex"}}
package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/goplugin-py/goplugin/examples-go/gen/kv"
	_ "github.com/goplugin-py/goplugin/examples-go/gen/streaming"
)

type testCase struct {
	Name string          `json:"name"`
	Type string          `json:"type"`
	JSON json.RawMessage `json:"json"`
}

func readJSON(path string, into any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, into)
}

// parse builds the case's message from its protobuf JSON.
func parse(c testCase) (proto.Message, error) {
	typ, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(c.Type))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	msg := typ.New().Interface()
	if err := protojson.Unmarshal(c.JSON, msg); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	return msg, nil
}

func encode(msg proto.Message) (string, error) {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	return hex.EncodeToString(data), err
}

func run(args []string) (any, error) {
	var file struct {
		Cases []testCase `json:"cases"`
	}
	if len(args) < 2 {
		return nil, fmt.Errorf("usage: vectors encode CASES | decode CASES HEXES")
	}
	if err := readJSON(args[1], &file); err != nil {
		return nil, err
	}
	switch {
	case args[0] == "encode":
		out := map[string]string{}
		for _, c := range file.Cases {
			msg, err := parse(c)
			if err != nil {
				return nil, err
			}
			if out[c.Name], err = encode(msg); err != nil {
				return nil, err
			}
		}
		return out, nil
	case args[0] == "decode" && len(args) == 3:
		var hexes map[string]string
		if err := readJSON(args[2], &hexes); err != nil {
			return nil, err
		}
		type result struct {
			Equal bool   `json:"equal"`
			Hex   string `json:"hex"`
		}
		out := map[string]result{}
		for _, c := range file.Cases {
			want, err := parse(c)
			if err != nil {
				return nil, err
			}
			data, err := hex.DecodeString(hexes[c.Name])
			if err != nil {
				return nil, err
			}
			got := want.ProtoReflect().Type().New().Interface()
			if err := proto.Unmarshal(data, got); err != nil {
				return nil, fmt.Errorf("%s: %w", c.Name, err)
			}
			again, err := encode(got)
			if err != nil {
				return nil, err
			}
			out[c.Name] = result{Equal: proto.Equal(want, got), Hex: again}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown command %q", args[0])
}

func main() {
	out, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "vectors:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}
