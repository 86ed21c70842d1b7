package pluginhost

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// MaxInstallSize bounds what Install downloads or reads: far more than any
// plugin binary, little enough that a wrong URL cannot fill the disk.
const MaxInstallSize = 512 << 20

// InstallOptions says what Install installs and where.
type InstallOptions struct {
	// Source is a file path or an http(s) URL of a plugin executable named
	// herald-provider-<type>, or of a .tar.gz archive holding exactly one.
	Source string
	// SHA256, when set, is the hex sha256 the source must have: that of
	// the file downloaded (the archive or the executable) or that of the
	// executable it holds.
	SHA256 string
	// Dir is the plugin directory installed into; it is created if needed.
	Dir string
	// Logger receives the plugin's logs while it is described.
	Logger hclog.Logger
	// Client fetches URLs; nil means http.DefaultClient.
	Client *http.Client
}

// Install fetches a plugin executable, checks its sha256, launches and
// describes it, and only then moves it into opts.Dir, replacing a plugin of
// the same type: a download that fails or a binary that is not a working
// plugin never lands in the plugin directory. It returns the installed
// plugin, with its final path, sha256 and version.
func Install(ctx context.Context, opts InstallOptions) (PluginInfo, error) {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return PluginInfo{}, fmt.Errorf("plugin dir: %w", err)
	}
	staging, err := os.MkdirTemp(opts.Dir, ".install-*")
	if err != nil {
		return PluginInfo{}, err
	}
	defer func() { _ = os.RemoveAll(staging) }()

	artifact := filepath.Join(staging, "download")
	name, artifactSum, err := fetch(ctx, opts, artifact)
	if err != nil {
		return PluginInfo{}, err
	}
	binary, err := unpack(artifact, name, staging)
	if err != nil {
		return PluginInfo{}, fmt.Errorf("%s: %w", opts.Source, err)
	}
	typ := strings.TrimPrefix(filepath.Base(binary), binaryPrefix)
	sum, err := fileSHA256(binary)
	if err != nil {
		return PluginInfo{}, err
	}
	if want := strings.ToLower(strings.TrimSpace(opts.SHA256)); want != "" && want != artifactSum && want != sum {
		got := artifactSum
		if sum != artifactSum {
			got += " (executable " + sum + ")"
		}
		return PluginInfo{}, fmt.Errorf("%s: sha256 %s does not match --sha256 %s", opts.Source, got, want)
	}
	if err := os.Chmod(binary, 0o755); err != nil {
		return PluginInfo{}, err
	}

	// Describe the plugin where it is staged, before it replaces anything.
	h := New(Options{Paths: []string{staging}, Logger: opts.Logger})
	h.reattachEnv = "" // the staged binary, never a plugin running in debug mode
	infos, _ := h.Discover(ctx)
	h.Close()
	var info PluginInfo
	for _, i := range infos {
		if i.Type == typ {
			info = i
		}
	}
	if info.Type == "" {
		return PluginInfo{}, fmt.Errorf("%s: %s is not an executable plugin", opts.Source, filepath.Base(binary))
	}
	if info.Err != nil {
		return PluginInfo{}, fmt.Errorf("%s is not a working plugin: %w", opts.Source, info.Err)
	}
	final := filepath.Join(opts.Dir, filepath.Base(binary))
	if err := os.Rename(binary, final); err != nil {
		return PluginInfo{}, err
	}
	info.Path, info.SHA256 = final, sum
	return info, nil
}

// fetch copies the source to dst and returns the source's file name and
// the sha256 of what was copied.
func fetch(ctx context.Context, opts InstallOptions, dst string) (name, sum string, err error) {
	var r io.ReadCloser
	if u, perr := url.Parse(opts.Source); perr == nil && (u.Scheme == "http" || u.Scheme == "https") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, opts.Source, nil)
		if err != nil {
			return "", "", err
		}
		client := opts.Client
		if client == nil {
			client = http.DefaultClient
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", "", fmt.Errorf("download: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			_ = resp.Body.Close()
			return "", "", fmt.Errorf("download %s: %s", opts.Source, resp.Status)
		}
		r, name = resp.Body, path.Base(u.Path)
	} else {
		f, err := os.Open(opts.Source)
		if err != nil {
			return "", "", err
		}
		r, name = f, filepath.Base(opts.Source)
	}
	defer r.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return "", "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(r, MaxInstallSize+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", opts.Source, err)
	}
	if n > MaxInstallSize {
		return "", "", fmt.Errorf("%s is larger than %d MiB", opts.Source, MaxInstallSize>>20)
	}
	return name, hex.EncodeToString(h.Sum(nil)), nil
}

// unpack returns the plugin executable in dir: the artifact itself, renamed
// to name, or the one herald-provider-* file of a gzipped tar archive.
func unpack(artifact, name, dir string) (string, error) {
	f, err := os.Open(artifact)
	if err != nil {
		return "", err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, _ := br.Peek(2)
	if len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		if !isPluginName(name) {
			return "", fmt.Errorf("the file name %q is not herald-provider-<type>", name)
		}
		dst := filepath.Join(dir, name)
		return dst, os.Rename(artifact, dst)
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return "", err
	}
	tr := tar.NewReader(zr)
	var found string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("reading archive: %w", err)
		}
		base := path.Base(hdr.Name)
		if hdr.Typeflag != tar.TypeReg || !isPluginName(base) {
			continue
		}
		if found != "" {
			return "", fmt.Errorf("the archive holds more than one plugin: %s and %s", filepath.Base(found), base)
		}
		found = filepath.Join(dir, base)
		if err := extract(tr, found); err != nil {
			return "", err
		}
	}
	if found == "" {
		return "", errors.New("the archive holds no herald-provider-<type> file")
	}
	return found, nil
}

func extract(r io.Reader, dst string) error {
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o700)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, io.LimitReader(r, MaxInstallSize+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > MaxInstallSize {
		err = fmt.Errorf("%s in the archive is larger than %d MiB", filepath.Base(dst), MaxInstallSize>>20)
	}
	return err
}

func isPluginName(name string) bool {
	typ, ok := strings.CutPrefix(name, binaryPrefix)
	return ok && validType.MatchString(typ)
}

// UserDir is the per-user plugin directory, the last of DefaultPaths, where
// `herald plugins install` puts plugins.
func UserDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "share", "herald", "plugins"), nil
}

// Find returns the executable the host would launch for typ: the first
// herald-provider-<typ> in its search directories.
func (h *Host) Find(typ string) (string, error) { return h.find(typ) }
