"""net/rpc plugins: yamux, gob and Go's net/rpc, as sans-IO cores with thin IO around them."""
