// The compiled restore peer for `npm run bench -- restore`: one Go process that does at
// boot what nixseal-agent restore does, the way sops-nix's installer does it (one binary,
// filippo.io/age, no process per secret). Benchmark baseline code only; not part of
// nixseal. Built from Debian's golang-go and golang-filippo-age-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode CGO_ENABLED=0 go build -o restore-peer main.go
//
// usage: restore-peer HOST_KEY BUNDLE_DIR RUN_DIR
//
// Reads BUNDLE_DIR/manifest.json, and for each secret in order: reads its .age file,
// checks its sha256, decrypts it whole with the host key, writes it O_EXCL|O_NOFOLLOW into
// RUN_DIR/<generation>/, fchmod, fchown; then swaps RUN_DIR/current to the new directory
// (temp symlink + rename) and removes the directory it replaced. One thread, like the
// installer.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"filippo.io/age"
	"filippo.io/age/agessh"
)

type secret struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	Sha256 string `json:"sha256"`
	Owner  string `json:"owner"`
	Group  string `json:"group"`
	Mode   string `json:"mode"`
}

type manifest struct {
	Secrets []secret `json:"secrets"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "restore-peer: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 4 {
		fail("usage: restore-peer HOST_KEY BUNDLE_DIR RUN_DIR")
	}
	keyPath, bundleDir, runDir := os.Args[1], os.Args[2], os.Args[3]
	pem, err := os.ReadFile(keyPath)
	if err != nil {
		fail("%v", err)
	}
	identity, err := agessh.ParseIdentity(pem)
	if err != nil {
		fail("host key: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(bundleDir, "manifest.json"))
	if err != nil {
		fail("%v", err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		fail("manifest: %v", err)
	}

	// a new generation directory next to the live one
	old, _ := os.Readlink(filepath.Join(runDir, "current"))
	gen := 1
	for ; ; gen++ {
		if strconv.Itoa(gen) != old {
			break
		}
	}
	dir := filepath.Join(runDir, strconv.Itoa(gen))
	os.RemoveAll(dir)
	if err := os.Mkdir(dir, 0o700); err != nil {
		fail("%v", err)
	}

	uids := map[string]int{}
	gids := map[string]int{}
	failed := 0
	for _, s := range m.Secrets {
		if err := restoreOne(s, bundleDir, dir, identity, uids, gids); err != nil {
			fmt.Fprintf(os.Stderr, "restore-peer: secret %s: %v\n", s.Name, err)
			failed++
		}
	}
	if err := os.Chmod(dir, 0o751); err != nil {
		fail("%v", err)
	}

	tmp := filepath.Join(runDir, ".current.tmp")
	os.Remove(tmp)
	if err := os.Symlink(strconv.Itoa(gen), tmp); err != nil {
		fail("%v", err)
	}
	if err := os.Rename(tmp, filepath.Join(runDir, "current")); err != nil {
		fail("%v", err)
	}
	if old != "" && old != strconv.Itoa(gen) {
		os.RemoveAll(filepath.Join(runDir, old))
	}
	if failed > 0 {
		os.Exit(1)
	}
}

func restoreOne(s secret, bundleDir, dir string, identity age.Identity, uids, gids map[string]int) error {
	uid, err := lookup(uids, s.Owner, func(n string) (string, error) {
		u, err := user.Lookup(n)
		if err != nil {
			return "", err
		}
		return u.Uid, nil
	})
	if err != nil {
		return err
	}
	gid, err := lookup(gids, s.Group, func(n string) (string, error) {
		g, err := user.LookupGroup(n)
		if err != nil {
			return "", err
		}
		return g.Gid, nil
	})
	if err != nil {
		return err
	}
	mode, err := strconv.ParseUint(s.Mode, 8, 32)
	if err != nil {
		return err
	}
	blob, err := os.ReadFile(filepath.Join(bundleDir, s.File))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(blob)
	if hex.EncodeToString(sum[:]) != s.Sha256 {
		return fmt.Errorf("checksum mismatch")
	}
	r, err := age.Decrypt(bytes.NewReader(blob), identity)
	if err != nil {
		return err
	}
	plaintext, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, s.Name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(plaintext); err != nil {
		return err
	}
	if err := f.Chmod(os.FileMode(mode)); err != nil {
		return err
	}
	return f.Chown(uid, gid)
}

func lookup(cache map[string]int, name string, find func(string) (string, error)) (int, error) {
	if id, ok := cache[name]; ok {
		return id, nil
	}
	idText := name
	if _, err := strconv.Atoi(name); err != nil {
		if idText, err = find(name); err != nil {
			return 0, err
		}
	}
	id, err := strconv.Atoi(idText)
	if err != nil {
		return 0, err
	}
	cache[name] = id
	return id, nil
}
