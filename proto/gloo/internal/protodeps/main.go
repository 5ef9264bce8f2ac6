// Command protodeps writes a FileDescriptorSet holding the Envoy tap
// .proto files (and everything they import) exactly as go-control-plane
// registered them. protoc reads it with --descriptor_set_in, so tapview's
// own .proto files can import envoy/data/tap/v3/wrapper.proto without a
// checkout of data-plane-api and its udpa/validate/xds dependencies, and
// the generated code refers to the very descriptors linked into the binary.
package main

import (
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	_ "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	_ "google.golang.org/protobuf/types/known/timestamppb"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: protodeps OUT.pb")
		os.Exit(2)
	}
	// The files tapview's own protos import.
	roots := []string{"envoy/data/tap/v3/wrapper.proto", "google/protobuf/timestamp.proto"}
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imps := fd.Imports()
		for i := 0; i < imps.Len(); i++ {
			add(imps.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	for _, r := range roots {
		fd, err := protoregistry.GlobalFiles.FindFileByPath(r)
		if err != nil {
			fmt.Fprintf(os.Stderr, "protodeps: %s: %v\n", r, err)
			os.Exit(1)
		}
		add(fd)
	}
	b, err := proto.Marshal(set)
	if err != nil {
		fmt.Fprintf(os.Stderr, "protodeps: marshal: %v\n", err)
		os.Exit(1)
	}
	if err := os.WriteFile(os.Args[1], b, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "protodeps: %v\n", err)
		os.Exit(1)
	}
}
