// Command krew-manifest fills the krew plugin manifest template
// (plugins/tapview.yaml) with a release's archive URLs and sha256 sums,
// read from goreleaser's checksums.txt, and checks the result against the
// rules krew applies to manifests before writing it.
//
//	go run ./scripts/krew-manifest -tag v1.2.3 -checksums dist/checksums.txt -o dist/krew/tapview.yaml
//
// -partial leaves out platforms without an archive (for snapshot builds
// of one platform); a release needs all of them.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// platform is one archive krew can install from.
type platform struct {
	OS, Arch    string
	URI, SHA256 string
	Bin         string
}

// release is what the template sees.
type release struct {
	Tag       string
	Platforms []platform
}

// targets are the platforms goreleaser.yaml builds, in manifest order.
func targets() [][2]string {
	return [][2]string{
		{"linux", "amd64"}, {"linux", "arm64"},
		{"darwin", "amd64"}, {"darwin", "arm64"},
		{"windows", "amd64"}, {"windows", "arm64"},
	}
}

// archiveName follows goreleaser.yaml's archive name_template (the version
// without its leading v) and format_overrides (zip on Windows).
func archiveName(version, goos, arch string) string {
	ext := ".tar.gz"
	if goos == "windows" {
		ext = ".zip"
	}
	return fmt.Sprintf("tapview_%s_%s_%s%s", version, goos, arch, ext)
}

// readChecksums parses checksums.txt: "<sha256>  <file name>" per line.
func readChecksums(r io.Reader) (map[string]string, error) {
	sums := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("checksums line %d: want '<sha256> <file>', got %q", n, sc.Text())
		}
		sums[strings.TrimPrefix(f[1], "*")] = f[0]
	}
	return sums, sc.Err()
}

// fill renders the template for tag with the archives listed in sums.
func fill(tmpl []byte, tag, baseURL string, sums map[string]string, partial bool) ([]byte, error) {
	if !strings.HasPrefix(tag, "v") {
		return nil, fmt.Errorf("tag %q: krew wants the version with its leading v (v1.2.3)", tag)
	}
	rel := release{Tag: tag}
	for _, t := range targets() {
		name := archiveName(strings.TrimPrefix(tag, "v"), t[0], t[1])
		sum, ok := sums[name]
		if !ok {
			if partial {
				continue
			}
			return nil, fmt.Errorf("no checksum for %s: is the release complete? (-partial allows missing platforms)", name)
		}
		bin := "kubectl-tapview"
		if t[0] == "windows" {
			bin += ".exe"
		}
		rel.Platforms = append(rel.Platforms, platform{
			OS: t[0], Arch: t[1], SHA256: sum, Bin: bin,
			URI: strings.TrimSuffix(baseURL, "/") + "/" + tag + "/" + name,
		})
	}
	if len(rel.Platforms) == 0 {
		return nil, errors.New("no archive of any platform in the checksums")
	}
	t, err := template.New("manifest").Option("missingkey=error").Parse(string(tmpl))
	if err != nil {
		return nil, fmt.Errorf("manifest template: %w", err)
	}
	var out bytes.Buffer
	if err := t.Execute(&out, rel); err != nil {
		return nil, fmt.Errorf("manifest template: %w", err)
	}
	if err := validate(out.Bytes()); err != nil {
		return nil, fmt.Errorf("the filled manifest would be refused by krew: %w", err)
	}
	return out.Bytes(), nil
}

func main() {
	var (
		tag       = flag.String("tag", "", "release tag, e.g. v1.2.3")
		checksums = flag.String("checksums", "dist/checksums.txt", "goreleaser's checksums file")
		tmplPath  = flag.String("template", "plugins/tapview.yaml", "manifest template")
		baseURL   = flag.String("base-url", "https://github.com/tapview/tapview/releases/download", "where the release's archives are downloaded from; the tag and archive name are appended")
		out       = flag.String("o", "-", "output file, - for stdout")
		partial   = flag.Bool("partial", false, "leave out platforms without an archive (snapshot builds)")
	)
	flag.Parse()
	if err := run(*tag, *checksums, *tmplPath, *baseURL, *out, *partial); err != nil {
		fmt.Fprintln(os.Stderr, "krew-manifest:", err)
		os.Exit(1)
	}
}

func run(tag, checksums, tmplPath, baseURL, out string, partial bool) error {
	tmpl, err := os.ReadFile(tmplPath)
	if err != nil {
		return err
	}
	f, err := os.Open(checksums)
	if err != nil {
		return err
	}
	defer f.Close()
	sums, err := readChecksums(f)
	if err != nil {
		return fmt.Errorf("%s: %w", checksums, err)
	}
	b, err := fill(tmpl, tag, baseURL, sums, partial)
	if err != nil {
		return err
	}
	if out == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
