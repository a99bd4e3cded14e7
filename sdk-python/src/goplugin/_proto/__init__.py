"""Generated code of go-plugin's internal protos (proto/goplugin/internal). Do not edit."""
