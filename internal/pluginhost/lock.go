package pluginhost

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// LockFile is the name of the lock file in a project directory.
const LockFile = "herald.lock.json"

// Lock is the content of herald.lock.json: the plugin binaries a project was
// locked to, by provider type.
type Lock struct {
	Plugins map[string]LockedPlugin `json:"plugins"`
}

// LockedPlugin is one plugin binary in a Lock. Only SHA256 is enforced; Path
// and Version say what it was when it was locked.
type LockedPlugin struct {
	// Path is the executable's file name, relative to the plugin directory
	// it was found in, so that a lock can be committed and used on another
	// machine. Locks written before held an absolute path; they still load,
	// since the path is never enforced.
	Path    string `json:"path,omitempty"`
	SHA256  string `json:"sha256"`
	Version string `json:"version"`
}

// LockError reports a plugin binary that herald.lock.json does not allow:
// its sha256 differs from the locked one, or the lock does not list it.
type LockError struct {
	// Binary is the executable's name, herald-provider-<type>.
	Binary string
	Path   string
	// LockFile is the path of the lock file.
	LockFile string
	// Got is the binary's sha256; Want the locked one, empty when the lock
	// does not list the plugin.
	Got, Want string
}

// Error names the binary, its path, the lock file and both hashes.
func (e *LockError) Error() string {
	if e.Want == "" {
		return fmt.Sprintf("plugin %s at %s is not in %s; run `herald plugins lock` to add it", e.Binary, e.Path, e.LockFile)
	}
	return fmt.Sprintf("plugin %s at %s: sha256 %s does not match %s (%s)", e.Binary, e.Path, e.Got, e.LockFile, e.Want)
}

// ReadLock reads dir/herald.lock.json. It returns nil and no error when the
// file does not exist.
func ReadLock(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var l Lock
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if l.Plugins == nil {
		l.Plugins = map[string]LockedPlugin{}
	}
	return &l, nil
}

// WriteLock writes dir/herald.lock.json listing plugins. Providers registered
// in-process (no Path) are left out. The file is replaced atomically.
func WriteLock(dir string, plugins []PluginInfo) error {
	l := Lock{Plugins: map[string]LockedPlugin{}}
	for _, p := range plugins {
		if p.Path == "" {
			continue
		}
		if p.SHA256 == "" {
			return fmt.Errorf("plugin %s at %s has no sha256", p.Type, p.Path)
		}
		l.Plugins[p.Type] = lockedPlugin(p)
	}
	return writeLock(dir, &l)
}

// lockedPlugin is the lock entry of a plugin.
func lockedPlugin(p PluginInfo) LockedPlugin {
	return LockedPlugin{Path: filepath.Base(p.Path), SHA256: p.SHA256, Version: p.Version}
}

// UpdateLock replaces the entry of one plugin in dir/herald.lock.json, as
// `herald plugins install` does, and leaves the others as they are. It
// reports false, and writes nothing, when the project has no lock.
func UpdateLock(dir string, p PluginInfo) (bool, error) {
	l, err := ReadLock(dir)
	if err != nil || l == nil {
		return false, err
	}
	if p.SHA256 == "" {
		return false, fmt.Errorf("plugin %s at %s has no sha256", p.Type, p.Path)
	}
	l.Plugins[p.Type] = lockedPlugin(p)
	return true, writeLock(dir, l)
}

// writeLock writes l to dir/herald.lock.json, replacing it atomically.
func writeLock(dir string, l *Lock) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("project dir: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("project dir %s is not a directory", dir)
	}
	tmp, err := os.CreateTemp(dir, LockFile+".tmp-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, LockFile))
}

// check returns a *LockError unless the lock allows the binary of typ at path
// with sha256 sum.
func (l *Lock) check(lockPath, typ, path, sum string) error {
	want, ok := l.Plugins[typ]
	if !ok {
		return &LockError{Binary: binaryPrefix + typ, Path: path, LockFile: lockPath, Got: sum}
	}
	if want.SHA256 != sum {
		return &LockError{Binary: binaryPrefix + typ, Path: path, LockFile: lockPath, Got: sum, Want: want.SHA256}
	}
	return nil
}

// fileSHA256 returns the hex sha256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
