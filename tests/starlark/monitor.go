// SPDX-License-Identifier: LGPL-2.1-or-later

package main

// Incus's QMP monitor (internal/server/instance/drivers/qmp: Monitor.Run,
// RunJSON, ping, IncreaseID; qemuMachineProtocol.runWithFile) seen from the
// scriptlet, over the runner's fd 3. The other end (tests/qemu/lab/
// scriptlet.c) owns the real QMP connection: it takes one JSON command per
// line, without "id", and answers one line with the object QEMU sent back,
// {"return": ...} or {"error": {"class": ..., "desc": ...}}; it closes the
// socket when its own connection fails.
//
// What Incus does around that is done here: ids from a counter, the
// per-command reply timeouts (the scriptlet fails when one passes), and on
// an error reply a query-version ping before the error is returned.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Incus's monitor errors (qmp/errors.go).
var (
	errMonitorDisconnect = errors.New("Monitor is disconnected")
	errMonitorTimeout    = errors.New("Monitor command timed out")
)

// Reply timeouts, as Incus 7's qmp.go: 500 ms unless the command is known
// to be slow (Incus 6.0 has none: see commandTimeout()).
const (
	defaultCommandTimeout = 500 * time.Millisecond
	blockCommandTimeout   = 5 * time.Second
	heavyCommandTimeout   = 30 * time.Second
)

// commandTimeouts is qmp.go's table of slow commands.
var commandTimeouts = map[string]time.Duration{
	"block-commit":              blockCommandTimeout,
	"block-dirty-bitmap-remove": blockCommandTimeout,
	"block-export-add":          blockCommandTimeout,
	"block-job-cancel":          blockCommandTimeout,
	"block_resize":              blockCommandTimeout,
	"block_set_io_throttle":     blockCommandTimeout,
	"blockdev-mirror":           blockCommandTimeout,
	"blockdev-snapshot":         blockCommandTimeout,
	"change-backing-file":       blockCommandTimeout,
	"job-complete":              blockCommandTimeout,
	"job-dismiss":               blockCommandTimeout,
	"query-block-jobs":          blockCommandTimeout,
	"nbd-server-start":          blockCommandTimeout,
	"nbd-server-stop":           blockCommandTimeout,
	"transaction":               blockCommandTimeout,
	"blockdev-add":              heavyCommandTimeout,
	"blockdev-del":              heavyCommandTimeout,
	"cont":                      heavyCommandTimeout,
	"device_add":                heavyCommandTimeout,
	"device_del":                heavyCommandTimeout,
	"netdev_add":                heavyCommandTimeout,
	"netdev_del":                heavyCommandTimeout,
	"object-add":                heavyCommandTimeout,
	"stop":                      heavyCommandTimeout,
	"system_reset":              heavyCommandTimeout,
	"query-migrate":             heavyCommandTimeout,
	"screendump":                10 * time.Second,
}

// incus60Timeout stands for Incus 6.0's wait for a reply, which has no end
// (go-qemu's monitor reads until QEMU answers): a bound for the harness only,
// far above any start.
const incus60Timeout = 120 * time.Second

// commandTimeout is how long Incus waits for the reply to cmd. By default
// Incus 7's per-command timeouts; with COLDPLUG_INCUS_QMP_TIMEOUTS=6.0 in the
// environment, Incus 6.0's (Debian's), which has none.
func commandTimeout(cmd string) time.Duration {
	if os.Getenv("COLDPLUG_INCUS_QMP_TIMEOUTS") == "6.0" {
		return incus60Timeout
	}
	if t, ok := commandTimeouts[cmd]; ok {
		return t
	}
	return defaultCommandTimeout
}

// qmpError is an error reply, printed as Incus prints it: "Class: Desc".
type qmpError struct {
	Class string `json:"class,omitempty"`
	Desc  string `json:"desc,omitempty"`
}

func (e *qmpError) Error() string {
	return fmt.Sprintf("%s: %s", e.Class, e.Desc)
}

// monitor is the scriptlet's view of Incus's monitor.
type monitor struct {
	conn         net.Conn
	in           *bufio.Reader
	cid          uint32
	disconnected bool
}

// newMonitor wraps fd 3, or returns a monitor that fails every call when
// there is no fd 3 (Incus has no monitor at the config stage, and its
// builtins refuse before reaching it).
func newMonitor() *monitor {
	m := &monitor{}
	f := os.NewFile(3, "qmp")
	if f == nil {
		m.disconnected = true
		return m
	}

	conn, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		m.disconnected = true
		return m
	}

	m.conn = conn
	m.in = bufio.NewReaderSize(conn, 64*1024)
	return m
}

// increaseID is qmpIncreaseID: a counter that skips zero. Incus's counter
// also counts the handshake and its own commands, so its values differ.
func (m *monitor) increaseID() uint32 {
	m.cid++
	if m.cid == 0 {
		m.cid++
	}

	return m.cid
}

// run is Monitor.Run: the command with an id and arguments (Incus sends
// "arguments" even when empty, since it always passes a map), the reply
// decoded into @resp.
func (m *monitor) run(cmd string, args interface{}, resp interface{}) error {
	id := m.increaseID()
	request := map[string]interface{}{"execute": cmd, "id": id}
	if args != nil {
		request["arguments"] = args
	}

	return m.runJSON(request, resp, id)
}

// runJSON is Monitor.RunJSON: send, wait, and on failure other than a
// timeout, ping QEMU so that a dead monitor reports itself as such.
func (m *monitor) runJSON(request map[string]interface{}, resp interface{}, id uint32) error {
	if m.disconnected {
		return errMonitorDisconnect
	}

	out, err := m.exchange(request, id)
	if err != nil {
		if errors.Is(err, errMonitorTimeout) {
			return err
		}

		if errPing := m.ping(); errPing != nil {
			return errPing
		}

		return err
	}

	if resp == nil {
		return nil
	}

	err = json.Unmarshal(out, resp)
	if err != nil {
		return fmt.Errorf("Unexpected monitor response: %w (%q)", err, string(out))
	}

	return nil
}

// ping is Monitor.ping: query-version; a failure marks the monitor gone.
func (m *monitor) ping() error {
	if m.disconnected {
		return errMonitorDisconnect
	}

	id := m.increaseID()
	_, err := m.exchange(map[string]interface{}{"execute": "query-version"}, id)
	if err != nil {
		m.disconnect()
		return errMonitorDisconnect
	}

	return nil
}

// disconnect drops the connection for good, as Monitor.Disconnect.
func (m *monitor) disconnect() {
	if m.conn != nil {
		_ = m.conn.Close()
	}

	m.disconnected = true
}

// exchange is runWithFile without a file: one command out, its reply in,
// within the command's timeout. The reply is returned raw, with Incus's id
// put back in (the proxy's own id is not the one Incus would see).
func (m *monitor) exchange(request map[string]interface{}, id uint32) ([]byte, error) {
	cmd, _ := request["execute"].(string)
	if cmd == "" {
		cmd, _ = request["exec-oob"].(string)
	}

	timeout := commandTimeout(cmd)

	line, err := m.roundTrip(request, timeout)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("%w: %q after %s", errMonitorTimeout, cmd, timeout)
		}

		return nil, err
	}

	return decodeReply(line, id)
}

// roundTrip writes the command without its id and reads one reply line.
// A read error is what Incus's reader reports when QEMU goes away.
func (m *monitor) roundTrip(request map[string]interface{}, timeout time.Duration) ([]byte, error) {
	wire := make(map[string]interface{}, len(request))
	for k, v := range request {
		if k != "id" {
			wire[k] = v
		}
	}

	b, err := json.Marshal(wire)
	if err != nil {
		return nil, err
	}

	_ = m.conn.SetDeadline(time.Now().Add(timeout))
	_, err = m.conn.Write(append(b, '\n'))
	if err != nil {
		return nil, err
	}

	line, err := m.in.ReadBytes('\n')
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, err
		}

		return nil, errors.New("Monitor has exited")
	}

	return line, nil
}

// decodeReply turns a reply line into what Incus's reader hands back: the
// error of an error reply, or the raw message (here with @id set).
func decodeReply(line []byte, id uint32) ([]byte, error) {
	var reply map[string]json.RawMessage
	err := json.Unmarshal(line, &reply)
	if err != nil {
		return nil, fmt.Errorf("invalid reply from the QMP proxy: %w (%q)", err, string(line))
	}

	if raw, ok := reply["error"]; ok {
		qe := &qmpError{}
		err = json.Unmarshal(raw, qe)
		if err != nil {
			return nil, fmt.Errorf("invalid error reply from the QMP proxy: %w", err)
		}

		return nil, qe
	}

	reply["id"], _ = json.Marshal(id)
	return json.Marshal(reply)
}
