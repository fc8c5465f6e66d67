// Package emulator starts and stops the Google Cloud emulators (Pub/Sub, Firestore) for tests
// and local runs, and lays out the same Pub/Sub topology Terraform creates in the cloud.
//
// The gcloud emulators run as a wrapper script with a Java child that outlives a killed wrapper,
// so each emulator is started in its own process group and stopped by signalling the group.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Kind names an emulator.
type Kind string

const (
	PubSub    Kind = "pubsub"
	Firestore Kind = "firestore"
)

// EnvVar is the variable through which Google's client libraries find the emulator.
func (k Kind) EnvVar() string {
	if k == Firestore {
		return "FIRESTORE_EMULATOR_HOST"
	}
	return "PUBSUB_EMULATOR_HOST"
}

// Emulator is one running emulator process group.
type Emulator struct {
	Kind Kind
	Host string // host:port the emulator listens on
	Log  io.Writer
	// Args are extra launch arguments, used by every start, Restart included: a test sets,
	// say, Firestore's --import-data=FILE before Restart to bring an export's documents back.
	Args []string

	cmd  *exec.Cmd
	done chan struct{}
}

// ErrMissing explains how to get the emulators on a machine that lacks them.
var ErrMissing = errors.New("the Google Cloud SDK emulators are not installed: install the gcloud SDK with " +
	"`gcloud components install pubsub-emulator cloud-firestore-emulator` (or the Debian packages " +
	"google-cloud-cli-pubsub-emulator and google-cloud-cli-firestore-emulator) and Java 17+ (openjdk-17-jre-headless), " +
	"or set CLOUDSDK_ROOT_DIR to the SDK's root")

// SDKRoot finds the Cloud SDK installation: $CLOUDSDK_ROOT_DIR, then the usual places, then gcloud itself.
func SDKRoot() (string, error) {
	candidates := []string{os.Getenv("CLOUDSDK_ROOT_DIR"), "/usr/lib/google-cloud-sdk", "/usr/share/google-cloud-sdk", "/opt/google-cloud-sdk"}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, "google-cloud-sdk"))
	}
	for _, c := range candidates {
		if c != "" && isDir(filepath.Join(c, "platform")) {
			return c, nil
		}
	}
	if out, err := exec.Command("gcloud", "info", "--format=value(installation.sdk_root)").Output(); err == nil {
		if root := strings.TrimSpace(string(out)); isDir(filepath.Join(root, "platform")) {
			return root, nil
		}
	}
	return "", ErrMissing
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// command returns the direct launcher of an emulator: faster than `gcloud beta emulators`.
func command(sdk string, k Kind, host, port string) (*exec.Cmd, error) {
	var path string
	var args []string
	switch k {
	case PubSub:
		path = filepath.Join(sdk, "platform", "pubsub-emulator", "bin", "cloud-pubsub-emulator")
		args = []string{"--host=" + host, "--port=" + port}
	case Firestore:
		path = filepath.Join(sdk, "platform", "cloud-firestore-emulator", "cloud_firestore_emulator")
		args = []string{"start", "--host=" + host, "--port=" + port, "--database-mode=firestore-native"}
	default:
		return nil, fmt.Errorf("unknown emulator %q", k)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s emulator not found at %s: %w", k, path, ErrMissing)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return nil, fmt.Errorf("java is not on PATH: %w", ErrMissing)
	}
	return exec.Command(path, args...), nil
}

// Start launches an emulator on addr (host:port; empty picks a free loopback port) and waits
// until it answers. The process runs in its own group so Stop can end the Java child too.
func Start(ctx context.Context, k Kind, addr string, log io.Writer) (*Emulator, error) {
	if addr == "" {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		addr = fmt.Sprintf("127.0.0.1:%d", p)
	}
	e := &Emulator{Kind: k, Host: addr, Log: log}
	if err := e.start(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Emulator) start(ctx context.Context) error {
	sdk, err := SDKRoot()
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(e.Host)
	if err != nil {
		return fmt.Errorf("emulator address %q: %w", e.Host, err)
	}
	cmd, err := command(sdk, e.Kind, host, port)
	if err != nil {
		return err
	}
	cmd.Args = append(cmd.Args, e.Args...)
	if e.Log == nil {
		e.Log = io.Discard
	}
	cmd.Stdout, cmd.Stderr = e.Log, e.Log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s emulator: %w", e.Kind, err)
	}
	e.cmd, e.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(e.done) }()
	if err := e.waitReady(ctx, 60*time.Second); err != nil {
		_ = e.Stop()
		return err
	}
	return nil
}

func (e *Emulator) waitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.Host+"/", nil)
		if resp, err := client.Do(req); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.HasPrefix(strings.TrimSpace(string(body)), "Ok") {
				return nil
			}
		}
		select {
		case <-e.done:
			return fmt.Errorf("%s emulator exited before it was ready (is port %s free?)", e.Kind, e.Host)
		case <-ctx.Done():
			return fmt.Errorf("%s emulator not ready on %s after %s", e.Kind, e.Host, limit)
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// Stop ends the emulator's whole process group and waits for the wrapper to exit.
func (e *Emulator) Stop() error {
	if e.cmd == nil || e.cmd.Process == nil {
		return nil
	}
	pgid := e.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-e.done
	}
	// The Java child may ignore TERM while the wrapper has already gone.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	e.cmd = nil
	return nil
}

// Kill ends the emulator abruptly, as a crash would: for fault-injection tests.
func (e *Emulator) Kill() {
	if e.cmd != nil && e.cmd.Process != nil {
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		<-e.done
		e.cmd = nil
	}
}

// Restart stops the emulator (if running) and starts it again on the same address, empty.
func (e *Emulator) Restart(ctx context.Context) error {
	_ = e.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && portInUse(e.Host) {
		time.Sleep(100 * time.Millisecond)
	}
	return e.start(ctx)
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portInUse(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
