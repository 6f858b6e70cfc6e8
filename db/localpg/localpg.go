// Package localpg runs a private PostgreSQL cluster from the machine's own PostgreSQL binaries,
// so that `mcpwarden serve` works without a DATABASE_URL and tests get a throwaway database.
// The cluster listens only on a unix socket in its own directory. PostgreSQL refuses to run as
// root, so under root the cluster belongs to an unprivileged user (postgres by default).
package localpg

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lib/pq"
)

// InstallHint tells a person how to get PostgreSQL's server binaries or avoid needing them.
const InstallHint = `PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found.
Install them, or point DATABASE_URL at an existing PostgreSQL:
  Debian/Ubuntu:  sudo apt-get install -y postgresql
  Fedora/RHEL:    sudo dnf install -y postgresql-server
  macOS:          brew install postgresql@16
or set MCPWARDEN_PG_BIN to the directory that holds them.`

// ErrNoBinaries means no PostgreSQL server binaries could be found.
var ErrNoBinaries = errors.New("postgresql server binaries not found")

// Options configure a cluster.
type Options struct {
	// Dir holds the cluster (Dir/pgdata), its socket (Dir/run) and its log (Dir/postgres.log).
	Dir string
	// BinDir is where PostgreSQL's binaries are looked for first (see FindBinaries).
	BinDir string
	// NoFsync trades durability for speed; for throwaway test clusters only.
	NoFsync bool
	// RunAs is the user the cluster runs as when this process is root; default "postgres".
	RunAs string
	// SharedBuffersMB is PostgreSQL's shared_buffers in MB; 0 means PostgreSQL's own default
	// of 128 MB (right for throwaway test clusters). See SharedBuffersFor.
	SharedBuffersMB int
	// FallbackDir is where, under root, the cluster lives instead of Dir when RunAs cannot
	// enter one of Dir's parents (a clone in root's own home, mode 0700): in a directory of
	// its own named after Dir, so each Dir keeps its cluster. Default DefaultFallbackDir.
	FallbackDir string
}

// DefaultFallbackDir holds the clusters that root's processes place outside their Dir.
const DefaultFallbackDir = "/var/lib/mcpwarden-postgres"

// Cluster is a running private PostgreSQL.
type Cluster struct {
	dir       string
	relocated error
	binDir    string
	dataDir   string
	socketDir string
	logFile   string
	noFsync   bool
	buffersMB int
	cred      *syscall.Credential
	uid, gid  int
	// users is this process's lock on Dir/users.lock (see Start); nil for a standby.
	users *os.File
}

const superuser = "mcpwarden"

// FindBinaries returns a directory holding initdb, pg_ctl and postgres: preferred when it is
// not empty, then `pg_config --bindir`, then PATH, then the newest /usr/lib/postgresql/*/bin.
func FindBinaries(preferred string) (string, error) {
	var candidates []string
	if preferred != "" {
		candidates = append(candidates, preferred)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if resolved, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, filepath.Dir(resolved))
		}
		candidates = append(candidates, filepath.Dir(p))
	}
	versioned, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(versioned, func(i, j int) bool { return majorOf(versioned[i]) > majorOf(versioned[j]) })
	candidates = append(candidates, versioned...)
	candidates = append(candidates, "/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin")
	for _, dir := range candidates {
		if hasServerBinaries(dir) {
			return dir, nil
		}
	}
	return "", ErrNoBinaries
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// Start initialises the cluster on first use and starts it, or adopts it when it is running
// already: another process uses it (a second server on the same data directory, `mcpwarden
// seed` beside `mcpwarden serve`), or a previous run was killed before it could stop it. It
// returns once PostgreSQL accepts connections. Every process that started or adopted the
// cluster holds a shared lock on Dir/users.lock until Release, so the last one out stops it;
// starting and stopping take Dir/start.lock, so that nobody adopts a cluster being stopped.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if c, err = prepare(opts); err != nil {
		return nil, err
	}
	unlock, err := c.lockStart()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if c.users, err = os.OpenFile(filepath.Join(c.dir, "users.lock"), os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.users.Close()
		}
	}()
	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.initdb(ctx); err != nil {
			return nil, err
		}
	}
	if running, socketDir := c.runningSocketDir(); running {
		c.socketDir = socketDir
	} else if err := c.StartServer(ctx); err != nil {
		return nil, err
	}
	if err := flock(c.users, syscall.LOCK_SH); err != nil {
		return nil, fmt.Errorf("lock %s: %w", c.users.Name(), err)
	}
	return c, nil
}

// Release lets go of a cluster Start returned: it stops PostgreSQL unless another process still
// uses it, and says whether it did.
func (c *Cluster) Release() (stopped bool, err error) {
	if c.users == nil {
		return true, c.Stop()
	}
	defer c.users.Close()
	unlock, err := c.lockStart()
	if err != nil {
		return false, err
	}
	defer unlock()
	if err := flock(c.users, syscall.LOCK_EX|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("lock %s: %w", c.users.Name(), err)
	}
	return true, c.Stop()
}

// lockStart takes Dir/start.lock, held while the cluster is started or stopped.
func (c *Cluster) lockStart() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(c.dir, "start.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := flock(f, syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// flock takes or converts a lock on f, retrying when a signal interrupts the wait.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// StartStandby makes a streaming standby of primary in opts.Dir, a base backup that follows the
// primary's WAL (pg_basebackup -R), and starts it. It returns once the standby accepts
// (read-only) connections.
func StartStandby(ctx context.Context, primary *Cluster, opts Options) (*Cluster, error) {
	c, err := prepare(opts)
	if err != nil {
		return nil, err
	}
	args := []string{"-D", c.dataDir, "-R", "-X", "stream", "-c", "fast", "-h", primary.socketDir, "-U", superuser}
	if c.noFsync {
		args = append(args, "--no-sync")
	}
	if err := c.run(ctx, "pg_basebackup", args...); err != nil {
		os.RemoveAll(c.dataDir)
		return nil, fmt.Errorf("make a standby of %s: %w", primary.dir, err)
	}
	if err := c.StartServer(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// prepare finds the binaries and makes the cluster's directories (Dir, its socket directory),
// owned by the PostgreSQL user under root.
func prepare(opts Options) (*Cluster, error) {
	binDir, err := FindBinaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		binDir:    binDir,
		noFsync:   opts.NoFsync,
		buffersMB: opts.SharedBuffersMB,
		uid:       -1, gid: -1,
	}
	if os.Geteuid() == 0 {
		if err := c.dropPrivileges(opts.RunAs); err != nil {
			return nil, err
		}
		if err := checkTraversable(dir); err != nil {
			c.relocated = err
			dir = filepath.Join(cmp.Or(opts.FallbackDir, DefaultFallbackDir), relocatedName(dir))
			if err := checkTraversable(dir); err != nil {
				return nil, fmt.Errorf("%w; nor can it be placed in %s: %w", c.relocated, dir, err)
			}
		}
		// Parents made here must let the PostgreSQL user through; the cluster's own
		// directory is its alone.
		if err := os.MkdirAll(filepath.Dir(dir), 0o711); err != nil {
			return nil, fmt.Errorf("create %s: %w", filepath.Dir(dir), err)
		}
	}
	c.dir = dir
	c.dataDir = filepath.Join(dir, "pgdata")
	c.logFile = filepath.Join(dir, "postgres.log")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	// A unix socket path is limited to about 100 bytes; deep directories get a short one in /tmp.
	c.socketDir = filepath.Join(dir, "run")
	if len(c.socketDir) > 80 {
		short, err := os.MkdirTemp("", "mcpw-pg-")
		if err != nil {
			return nil, err
		}
		c.socketDir = short
	}
	if err := os.MkdirAll(c.socketDir, 0o700); err != nil {
		return nil, err
	}
	if c.cred != nil {
		for _, p := range []string{dir, c.socketDir} {
			if err := os.Chown(p, c.uid, c.gid); err != nil {
				return nil, fmt.Errorf("give %s to the PostgreSQL user: %w", p, err)
			}
		}
	}
	return c, nil
}

// dropPrivileges makes the cluster's processes run as an unprivileged user, since PostgreSQL
// refuses to run as root.
func (c *Cluster) dropPrivileges(name string) error {
	if name == "" {
		name = "postgres"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("running as root, the built-in PostgreSQL needs an unprivileged user %q (create it with `useradd --system %s`): %w", name, name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	c.uid, c.gid = uid, gid
	c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return nil
}

// Dir is the directory that holds the cluster: Options.Dir, or its place under FallbackDir
// when Relocated says why not.
func (c *Cluster) Dir() string { return c.dir }

// Relocated says why the cluster is not in Options.Dir, or is nil when it is.
func (c *Cluster) Relocated() error { return c.relocated }

// relocatedName names a relocated cluster's directory after the path it stands for (its last
// 40 characters, readable) and that path's hash (distinct for each path).
func relocatedName(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	readable := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, strings.TrimPrefix(dir, string(filepath.Separator)))
	if len(readable) > 40 {
		readable = readable[len(readable)-40:]
	}
	return readable + "-" + hex.EncodeToString(sum[:6])
}

// checkTraversable says, with a clear message, when the PostgreSQL user could not reach the
// data directory through its existing parents (the missing ones are made passable).
func checkTraversable(dir string) error {
	for p := filepath.Dir(dir); p != "/" && p != "."; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("the PostgreSQL user cannot enter %s (mode %v); choose another MCPWARDEN_DATA_DIR or run `chmod o+x %s`", p, info.Mode().Perm(), p)
		}
	}
	return nil
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	cmd.Dir = "/"
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	out, err := c.command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (c *Cluster) initdb(ctx context.Context) error {
	args := []string{"-D", c.dataDir, "-U", superuser, "--auth=trust", "-E", "UTF8", "--no-locale"}
	if c.noFsync {
		args = append(args, "--no-sync")
	}
	if err := c.run(ctx, "initdb", args...); err != nil {
		os.RemoveAll(c.dataDir)
		return fmt.Errorf("initialise the built-in PostgreSQL: %w", err)
	}
	return nil
}

// runningSocketDir reads postmaster.pid to find a cluster a previous run left running.
func (c *Cluster) runningSocketDir() (bool, string) {
	if err := c.run(context.Background(), "pg_ctl", "status", "-D", c.dataDir); err != nil {
		return false, ""
	}
	data, err := os.ReadFile(filepath.Join(c.dataDir, "postmaster.pid"))
	if err != nil {
		return false, ""
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) < 5 || strings.TrimSpace(lines[4]) == "" {
		return false, ""
	}
	return true, strings.TrimSpace(lines[4])
}

// StartServer starts PostgreSQL on the existing cluster and waits until it accepts connections.
func (c *Cluster) StartServer(ctx context.Context) error {
	settings := []string{
		"-c listen_addresses=''",
		"-k " + c.socketDir,
		"-c unix_socket_permissions=0770",
		"-c max_connections=200",
		fmt.Sprintf("-c shared_buffers=%dMB", cmp.Or(c.buffersMB, 128)),
	}
	if c.noFsync {
		settings = append(settings, "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")
	}
	if err := c.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.dataDir, "-l", c.logFile, "-o", strings.Join(settings, " ")); err != nil {
		return fmt.Errorf("start the built-in PostgreSQL (log: %s): %w", c.logFile, err)
	}
	return nil
}

// Stop shuts PostgreSQL down, aborting open transactions.
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return c.run(ctx, "pg_ctl", "stop", "-w", "-m", "fast", "-D", c.dataDir)
}

// URL returns a connection URL for the named database over the unix socket.
func (c *Cluster) URL(database string) string {
	q := url.Values{}
	q.Set("host", c.socketDir)
	q.Set("user", superuser)
	q.Set("sslmode", "disable")
	return "postgres:///" + url.PathEscape(database) + "?" + q.Encode()
}

// CreateDatabase creates the named database unless it exists.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	conn, err := sql.Open("postgres", c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close()
	var exists bool
	if err := conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("connect to the built-in PostgreSQL: %w", err)
	}
	if exists {
		return nil
	}
	_, err = conn.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name))
	return err
}
