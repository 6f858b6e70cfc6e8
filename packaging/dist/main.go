// Command dist builds mcpwarden's release artifacts into dist/ (`make dist`): the agent's and
// the server's .deb and .rpm for linux amd64 and arm64 (nfpm, from packaging/*.nfpm.yaml), the
// agent's .tar.gz for macOS (launchd plist, install script) and .zip for Windows (PowerShell
// install script, scheduled task), and SHA256SUMS; it prints each with its size and checksum.
// It runs from the repository's root.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb"
	_ "github.com/goreleaser/nfpm/v2/rpm"
)

func main() {
	version := flag.String("version", "dev", "the version, as `git describe` gives it")
	ldflags := flag.String("ldflags", "-s -w", "the linker flags of the binaries (the Makefile's, with -X main.version)")
	out := flag.String("out", "dist", "the `directory` the artifacts are written to (emptied first)")
	flag.Parse()
	if err := run(*version, *ldflags, *out); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
}

// linuxArches are the architectures of the .deb and .rpm; the macOS and Windows archives are
// built for the same ones.
var linuxArches = []string{"amd64", "arm64"}

func run(version, ldflags, out string) error {
	pkgVersion := packageVersion(version)
	mtime := commitTime()
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	build, err := os.MkdirTemp("", "mcpwarden-dist-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(build)
	binary := func(cmd, goos, goarch string) (string, error) {
		name := filepath.Join(build, fmt.Sprintf("%s-%s-%s", cmd, goos, goarch))
		if goos == "windows" {
			name += ".exe"
		}
		c := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", name, "./cmd/"+cmd)
		c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		fmt.Fprintf(os.Stderr, "building %s for %s/%s\n", cmd, goos, goarch)
		return name, c.Run()
	}

	var artifacts []string
	for _, arch := range linuxArches {
		for _, p := range []struct{ cmd, config string }{{"mcpwarden-agent", "packaging/agent.nfpm.yaml"}, {"mcpwarden", "packaging/server.nfpm.yaml"}} {
			bin, err := binary(p.cmd, "linux", arch)
			if err != nil {
				return err
			}
			for _, format := range []string{"deb", "rpm"} {
				name, err := linuxPackage(p.config, format, map[string]string{"VERSION": pkgVersion, "GOARCH": arch, "BIN": bin}, mtime, out)
				if err != nil {
					return fmt.Errorf("%s %s %s: %w", p.cmd, format, arch, err)
				}
				artifacts = append(artifacts, name)
			}
		}
	}
	for _, arch := range linuxArches {
		bin, err := binary("mcpwarden-agent", "darwin", arch)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("mcpwarden-agent_%s_darwin_%s.tar.gz", pkgVersion, arch)
		files := []archiveFile{
			{"mcpwarden-agent", bin, 0o755},
			{"com.mcpwarden.agent.plist", "packaging/darwin/com.mcpwarden.agent.plist", 0o644},
			{"agent.json", "packaging/darwin/agent.json", 0o600},
			{"install.sh", "packaging/darwin/install.sh", 0o755},
			{"uninstall.sh", "packaging/darwin/uninstall.sh", 0o755},
			{"LICENSE", "LICENSE", 0o644},
		}
		if err := writeTarGz(filepath.Join(out, name), strings.TrimSuffix(name, ".tar.gz"), files, mtime); err != nil {
			return err
		}
		artifacts = append(artifacts, name)
	}
	for _, arch := range linuxArches {
		bin, err := binary("mcpwarden-agent", "windows", arch)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("mcpwarden-agent_%s_windows_%s.zip", pkgVersion, arch)
		files := []archiveFile{
			{"mcpwarden-agent.exe", bin, 0o755},
			{"install.ps1", "packaging/windows/install.ps1", 0o644},
			{"uninstall.ps1", "packaging/windows/uninstall.ps1", 0o644},
			{"LICENSE", "LICENSE", 0o644},
		}
		if err := writeZip(filepath.Join(out, name), strings.TrimSuffix(name, ".zip"), files, mtime); err != nil {
			return err
		}
		artifacts = append(artifacts, name)
	}
	return checksums(out, artifacts)
}

// packageVersion turns `git describe` into a version both dpkg and rpm order correctly:
// v0.3.0 is 0.3.0, v0.3.0-4-gabc1234 (4 commits later) 0.3.0+4.gabc1234, v0.3.0-rc.1
// 0.3.0~rc.1, and a commit with no
// release tag before it (abc1234, 9e96857-dirty) 0.0.0+gitabc1234, 0.0.0+git9e96857.dirty.
// rpm allows no hyphen in a version.
func packageVersion(describe string) string {
	v := strings.TrimPrefix(describe, "v")
	if !releaseTag.MatchString(v) {
		return "0.0.0+git" + strings.ReplaceAll(describe, "-", ".")
	}
	tag, rest, found := strings.Cut(v, "-")
	if !found {
		return tag
	}
	// Commits after the tag sort after it (+); a pre-release (-rc.1) sorts before it (~).
	sep := "~"
	if rest[0] >= '0' && rest[0] <= '9' {
		sep = "+"
	}
	return tag + sep + strings.ReplaceAll(rest, "-", ".")
}

var releaseTag = regexp.MustCompile(`^[0-9]+(\.[0-9]+)+($|-)`)

// commitTime dates every file in the artifacts, so that a commit builds the same bytes.
func commitTime() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	if b, err := exec.Command("git", "log", "-1", "--format=%ct").Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Now().UTC().Truncate(time.Second)
}

// linuxPackage builds one .deb or .rpm from an nfpm configuration, with vars expanded in it.
func linuxPackage(config, format string, vars map[string]string, mtime time.Time, out string) (string, error) {
	text, err := os.ReadFile(config)
	if err != nil {
		return "", err
	}
	// nfpm expands variables in some fields only; contents' src needs ${BIN} too.
	mapping := func(name string) string { return vars[name] }
	cfg, err := nfpm.ParseWithEnvMapping(strings.NewReader(os.Expand(string(text), mapping)), mapping)
	if err != nil {
		return "", err
	}
	info, err := cfg.Get(format)
	if err != nil {
		return "", err
	}
	info.MTime = mtime
	info = nfpm.WithDefaults(info)
	if err := nfpm.Validate(info); err != nil {
		return "", err
	}
	packager, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	name := packager.ConventionalFileName(info)
	info.Target = filepath.Join(out, name)
	w, err := os.Create(info.Target)
	if err != nil {
		return "", err
	}
	if err := packager.Package(info, w); err != nil {
		w.Close()
		return "", err
	}
	return name, w.Close()
}

// archiveFile is a file of a .tar.gz or .zip: its name in the archive, where it is read from,
// and its mode.
type archiveFile struct {
	name, src string
	mode      fs.FileMode
}

func writeTarGz(path, top string, files []archiveFile, mtime time.Time) error {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: top + "/", Mode: 0o755, ModTime: mtime, Uname: "root", Gname: "wheel"}); err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f.src)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: top + "/" + f.name, Mode: int64(f.mode), Size: int64(len(b)), ModTime: mtime, Uname: "root", Gname: "wheel"}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func writeZip(path, top string, files []archiveFile, mtime time.Time) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		b, err := os.ReadFile(f.src)
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: top + "/" + f.name, Method: zip.Deflate, Modified: mtime}
		hdr.SetMode(f.mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// checksums writes SHA256SUMS (sha256sum -c reads it) and prints every artifact with its size
// and checksum.
func checksums(out string, names []string) error {
	sort.Strings(names)
	var sums strings.Builder
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ARTIFACT\tSIZE\tBYTES\tSHA256")
	for _, name := range names {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			return err
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		sum := hex.EncodeToString(h.Sum(nil))
		fmt.Fprintf(&sums, "%s  %s\n", sum, name)
		fmt.Fprintf(tw, "%s\t%.1f MB\t%d\t%s\n", filepath.Join(out, name), float64(n)/(1<<20), n, sum)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "SHA256SUMS"), []byte(sums.String()), 0o644); err != nil {
		return err
	}
	fmt.Printf("%d artifacts; checksums in %s (sha256sum -c SHA256SUMS)\n", len(names), filepath.Join(out, "SHA256SUMS"))
	return nil
}
