// Command build-image writes tapview's container image as a tarball
// (`docker load` / `podman load` / `crane push` format) from a static
// linux binary, without a Docker engine and without pulling a base image:
// tapview is one static binary (CGO_ENABLED=0), so the image is one layer
// holding it, a passwd entry for the non-root user it runs as, a writable
// /tmp (the UI spills exchanges to TMPDIR) and, when given, CA certificates.
//
//	go run ./scripts/build-image -binary dist/tapview -image ghcr.io/tapview/tapview -tag v1.2.3 -o dist/image.tar
//
// scripts/build-image.sh builds the binary, runs this, and checks the
// result by running the binary from the image's extracted root file system.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// nonRoot is the uid and gid the image runs as (distroless's "nonroot");
// deploy/sink.yaml asks for the same, deploy/agent-daemonset.yaml runs as
// 0 for NET_RAW.
const nonRoot = 65532

// binPath is where the binary lives in the image; the entrypoint.
const binPath = "/usr/local/bin/tapview"

type options struct {
	binary, caCerts    string
	image, tag         string
	arch, revision     string
	created            time.Time
	alsoLatest         bool
	source, licence    string
	title, description string
}

func main() {
	o := options{
		title:       "tapview",
		description: "Terminal inspector for live network traffic (pcap, Envoy taps, Kubernetes pods)",
		licence:     "Apache-2.0",
	}
	flag.StringVar(&o.binary, "binary", "", "static linux tapview binary to put in the image")
	flag.StringVar(&o.caCerts, "ca-certs", "", "PEM bundle to install as /etc/ssl/certs/ca-certificates.crt (optional)")
	flag.StringVar(&o.image, "image", "ghcr.io/tapview/tapview", "image repository")
	flag.StringVar(&o.tag, "tag", "", "image tag: the release's tag (v1.2.3)")
	flag.BoolVar(&o.alsoLatest, "latest", false, "tag the image :latest too")
	flag.StringVar(&o.arch, "arch", "amd64", "architecture of -binary")
	flag.StringVar(&o.revision, "revision", "", "source commit, for the org.opencontainers.image.revision label")
	flag.StringVar(&o.source, "source", "https://github.com/tapview/tapview", "source repository label")
	created := flag.String("created", "", "creation time, Unix seconds (default $SOURCE_DATE_EPOCH, else 0: same input, same image)")
	out := flag.String("o", "", "output tarball")
	flag.Parse()
	if *created == "" {
		*created = os.Getenv("SOURCE_DATE_EPOCH")
	}
	if *created != "" {
		sec, err := strconv.ParseInt(*created, 10, 64)
		if err != nil {
			fail(fmt.Errorf("-created %q: want Unix seconds", *created))
		}
		o.created = time.Unix(sec, 0).UTC()
	} else {
		o.created = time.Unix(0, 0).UTC()
	}
	if o.binary == "" || o.tag == "" || *out == "" {
		fail(fmt.Errorf("-binary, -tag and -o are required"))
	}
	if err := build(o, *out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "build-image:", err)
	os.Exit(1)
}

func build(o options, out string) error {
	bin, err := os.ReadFile(o.binary)
	if err != nil {
		return err
	}
	var ca []byte
	if o.caCerts != "" {
		if ca, err = os.ReadFile(o.caCerts); err != nil {
			return err
		}
	}
	rootfs, err := rootFS(bin, ca, o.created)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(rootfs)), nil
	})
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = o.arch, "linux"
	cf.Created = v1.Time{Time: o.created}
	cf.Config = v1.Config{
		Entrypoint: []string{binPath},
		User:       fmt.Sprintf("%d:%d", nonRoot, nonRoot),
		WorkingDir: "/",
		Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "TMPDIR=/tmp"},
		Labels: map[string]string{
			"org.opencontainers.image.title":       o.title,
			"org.opencontainers.image.description": o.description,
			"org.opencontainers.image.source":      o.source,
			"org.opencontainers.image.version":     o.tag,
			"org.opencontainers.image.revision":    o.revision,
			"org.opencontainers.image.licenses":    o.licence,
			"org.opencontainers.image.created":     o.created.Format(time.RFC3339),
		},
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	refs := map[name.Reference]v1.Image{}
	tags := []string{o.tag}
	if o.alsoLatest {
		tags = append(tags, "latest")
	}
	for _, t := range tags {
		ref, err := name.NewTag(o.image + ":" + t)
		if err != nil {
			return fmt.Errorf("image name: %w", err)
		}
		refs[ref] = img
	}
	if err := tarball.MultiRefWriteToFile(out, refs); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s:%s %s\n", o.image, o.tag, d)
	return nil
}

// rootFS is the uncompressed layer: directories, the binary, passwd and
// group with the non-root user, and the optional CA bundle. Every entry
// has the same time, so the same binary gives the same layer digest.
func rootFS(bin, ca []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(p string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: mode, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(p string, mode int64, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: mode, Size: int64(len(b)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	for _, d := range []string{"etc", "etc/ssl", "etc/ssl/certs", "usr", "usr/local", "usr/local/bin"} {
		if err := dir(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := dir("tmp", 0o1777); err != nil {
		return nil, err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", nonRoot, nonRoot)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", nonRoot)
	if err := file("etc/passwd", 0o644, []byte(passwd)); err != nil {
		return nil, err
	}
	if err := file("etc/group", 0o644, []byte(group)); err != nil {
		return nil, err
	}
	if len(ca) > 0 {
		if err := file("etc/ssl/certs/ca-certificates.crt", 0o644, ca); err != nil {
			return nil, err
		}
	}
	if err := file(binPath[1:], 0o755, bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
